//! A light reading of a template's source, before any row: the filters and
//! tests it applies, the `row[...]` keys it reads, the templates it
//! includes. Enough to report a misspelling once, at compile time, instead
//! of once per row. Strings and comments are skipped; nothing is evaluated.

/// One thing a template uses, and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    pub name: String,
    pub line: usize,
}

/// What a template's expressions and statements use.
#[derive(Debug, Default)]
pub struct Scan {
    pub filters: Vec<Used>,
    pub tests: Vec<Used>,
    /// `row["key"]`, `row['key']` and `row.key` with a literal key.
    pub row_keys: Vec<Used>,
    /// `{% include "x" %}` and `{% extends "x" %}`: they see the row's variables.
    pub includes: Vec<Used>,
    /// `{% import "x" %}` and `{% from "x" import … %}`.
    pub imports: Vec<Used>,
    /// Every name the template mentions.
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Read `source`'s `{{ … }}` and `{% … %}` blocks.
pub fn scan(source: &str) -> Scan {
    let mut out = Scan::default();
    for (start, toks) in blocks(source) {
        let line = |at: usize| source[..at].matches('\n').count() + 1;
        let at = |i: usize, toks: &[(usize, Tok)]| line(toks.get(i).map_or(start, |t| t.0));
        let tok = |i: usize| toks.get(i).map(|t| &t.1);
        for i in 0..toks.len() {
            let next_ident = |j: usize| match tok(j) {
                Some(Tok::Ident(n)) => Some(n.clone()),
                _ => None,
            };
            match &toks[i].1 {
                Tok::Punct('|') => {
                    if let Some(n) = next_ident(i + 1) {
                        out.filters.push(Used { name: n, line: at(i + 1, &toks) });
                    }
                }
                Tok::Ident(kw) if kw == "filter" && i == 0 => {
                    if let Some(n) = next_ident(1) {
                        out.filters.push(Used { name: n, line: at(1, &toks) });
                    }
                }
                Tok::Ident(kw) if kw == "is" => {
                    let j = if next_ident(i + 1).as_deref() == Some("not") { i + 2 } else { i + 1 };
                    if let Some(n) = next_ident(j) {
                        out.tests.push(Used { name: n, line: at(j, &toks) });
                    }
                }
                Tok::Ident(kw) if kw == "row" && !matches!(i.checked_sub(1).and_then(tok), Some(Tok::Punct('.'))) => {
                    match (tok(i + 1), tok(i + 2), tok(i + 3)) {
                        (Some(Tok::Punct('[')), Some(Tok::Str(k)), Some(Tok::Punct(']'))) => {
                            out.row_keys.push(Used { name: k.clone(), line: at(i, &toks) });
                        }
                        (Some(Tok::Punct('.')), Some(Tok::Ident(k)), next) if next != Some(&Tok::Punct('(')) => {
                            out.row_keys.push(Used { name: k.clone(), line: at(i, &toks) });
                        }
                        _ => {}
                    }
                }
                Tok::Ident(kw) if i == 0 && matches!(kw.as_str(), "include" | "extends" | "import" | "from") => {
                    let optional = toks.iter().any(|t| t.1 == Tok::Ident("ignore".into()));
                    if let (Some(Tok::Str(name)), false) = (tok(1), optional) {
                        let used = Used { name: name.clone(), line: at(1, &toks) };
                        if matches!(kw.as_str(), "include" | "extends") {
                            out.includes.push(used);
                        } else {
                            out.imports.push(used);
                        }
                    }
                }
                _ => {}
            }
            if let Tok::Ident(n) = &toks[i].1 {
                out.names.push(n.clone());
            }
        }
    }
    out
}

/// The tokens of each block, with the byte offset each starts at.
fn blocks(source: &str) -> Vec<(usize, Vec<(usize, Tok)>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = source[i..].find('{').map(|o| o + i) {
        let rest = &source[open..];
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            "%}"
        } else if rest.starts_with("{#") {
            i = source[open..].find("#}").map_or(source.len(), |c| open + c + 2);
            continue;
        } else {
            i = open + 1;
            continue;
        };
        let (mut toks, end) = tokens(source, open + 2, close);
        // Whitespace control (`{%-`, `{{+`) is not part of the statement.
        if matches!(toks.first(), Some((_, Tok::Punct('-' | '+')))) {
            toks.remove(0);
        }
        i = end;
        // `{% raw %}…{% endraw %}` is text, whatever it looks like.
        if toks.first().is_some_and(|t| t.1 == Tok::Ident("raw".into())) {
            i = source[end..].find("endraw").map_or(source.len(), |e| end + e);
            continue;
        }
        out.push((open, toks));
    }
    out
}

/// Tokens from `from` up to the `close` marker outside strings; returns
/// them and the offset after the marker.
fn tokens(source: &str, from: usize, close: &str) -> (Vec<(usize, Tok)>, usize) {
    let b = source.as_bytes();
    let mut toks = Vec::new();
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        if source[i..].starts_with(close) {
            return (toks, i + close.len());
        }
        if c == b'"' || c == b'\'' {
            let mut s = String::new();
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' && j + 1 < b.len() {
                    j += 1;
                }
                let ch = source[j..].chars().next().unwrap_or(' ');
                s.push(ch);
                j += ch.len_utf8();
            }
            toks.push((i, Tok::Str(s)));
            i = j + 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end =
                source[i..].find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).map_or(b.len(), |e| e + i);
            toks.push((i, Tok::Ident(source[i..end].to_string())));
            i = end;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            let ch = source[i..].chars().next().unwrap_or(' ');
            toks.push((i, Tok::Punct(ch)));
            i += ch.len_utf8();
        }
    }
    (toks, b.len())
}

/// `{{ prénom }}`, `{{ first name }}`: a column whose name is not an
/// identifier, written bare. The hint for the syntax error it causes.
pub fn bare_column_hint(source: &str, columns: &[String]) -> Option<String> {
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let inner = after[..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let ident = inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident && columns.iter().any(|c| c == inner) {
            return Some(format!(
                "the column `{inner}` is written {{{{ row[\"{inner}\"] }}}} (a bare name has only letters a–z, digits and _)"
            ));
        }
        if !ident && inner.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Some(format!("names with accents or other letters are written {{{{ row[\"{inner}\"] }}}}"));
        }
        rest = &after[close + 2..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Used]) -> Vec<(&str, usize)> {
        v.iter().map(|u| (u.name.as_str(), u.line)).collect()
    }

    #[test]
    fn finds_filters_tests_keys_and_includes() {
        let s = scan(
            "Hi {{ first_name | titlecase }}\n{% if x is not odd %}{{ row[\"first nam\"] }}{% endif %}\n{# {{ a | hidden }} #}{% include \"sig.j2\" %}{{ \"a | b\" | upper }}\n{% from \"m.j2\" import x %}{{ row.city }}{{ row.items() }}",
        );
        assert_eq!(names(&s.filters), [("titlecase", 1), ("upper", 3)]);
        assert_eq!(names(&s.tests), [("odd", 2)]);
        assert_eq!(names(&s.row_keys), [("first nam", 2), ("city", 4)]);
        assert_eq!(names(&s.includes), [("sig.j2", 3)]);
        assert_eq!(names(&s.imports), [("m.j2", 4)]);
    }

    #[test]
    fn raw_blocks_and_optional_includes_are_left_alone() {
        let s = scan(
            "{%- raw %}{{ x | bogus }}{% endraw %}{% include \"maybe.j2\" ignore missing %}{{ y | upper }}{%- include \"a.j2\" %}",
        );
        assert_eq!(names(&s.filters), [("upper", 1)]);
        assert_eq!(names(&s.includes), [("a.j2", 1)]);
    }

    #[test]
    fn hints_for_bare_column_names() {
        let cols = vec!["phone".to_string(), "prénom".to_string(), "first name".to_string()];
        assert!(bare_column_hint("Hi {{ prénom }}", &cols).unwrap().contains("row[\"prénom\"]"));
        assert!(bare_column_hint("Hi {{ first name }}", &cols).unwrap().contains("row[\"first name\"]"));
        assert!(bare_column_hint("Hi {{ ciudad_ñ }}", &cols).unwrap().contains("row[\"ciudad_ñ\"]"));
        assert_eq!(bare_column_hint("Hi {{ a + }}", &cols), None);
    }
}
