//! One minijinja environment per campaign. Every template (body file,
//! `once_per`, message strings, parameters) is compiled once, before any row
//! is read, and checked against the CSV header so that a misspelt variable is
//! reported by template and name, not as a thousand failed rows.
//!
//! Templates that only substitute columns (`Hi {{ first_name }}`) are
//! rendered by direct concatenation; a unit test holds that path to
//! minijinja's own output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use csv::StringRecord;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::error::FieldError;

/// The CSV header: names by position, and positions by name.
#[derive(Debug)]
pub struct Headers {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Headers {
    /// Build from the header row; a repeated name is an error naming it.
    pub fn new(names: Vec<String>) -> Result<Headers, String> {
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            if index.insert(n.clone(), i).is_some() {
                return Err(n.clone());
            }
        }
        Ok(Headers { names, index })
    }
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// Names every template sees besides the CSV columns.
const BUILTINS: [&str; 3] = ["recipient", "campaign", "row"];

/// A compiled template.
#[derive(Debug)]
enum Compiled {
    /// Only literal text and column/recipient/campaign substitutions.
    Simple(Vec<Seg>),
    /// Anything else, rendered by minijinja under this name.
    Jinja(String),
}

#[derive(Debug)]
enum Seg {
    Lit(String),
    Col(usize),
    Recipient,
    Campaign,
}

/// A handle to one compiled template, with where it came from for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tid(usize);

/// A template error found before any row was read.
#[derive(Debug)]
pub struct CompileError {
    /// Which template: a file, or a field of the campaign file.
    pub origin: String,
    pub line: Option<usize>,
    pub what: String,
}

/// Most minijinja instructions one template may take for one row: far
/// above any sensible template, far below a loop that would pin the CPU.
pub const FUEL: u64 = 1_000_000;

pub struct Renderer {
    env: Environment<'static>,
    /// The first template that ran out of fuel: it fails every row from
    /// then on at once, and the run reports it as a template error.
    exhausted: OnceLock<String>,
    compiled: Vec<Compiled>,
    /// Field each template fills, for per-row errors.
    fields: Vec<String>,
    headers: Arc<Headers>,
    campaign: Arc<str>,
    /// Where `include`d templates are found.
    include_dir: Option<PathBuf>,
}

impl Renderer {
    pub fn new(headers: Arc<Headers>, campaign: &str, include_dir: Option<&Path>) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        if let Some(dir) = include_dir {
            env.set_loader(minijinja::path_loader(dir));
        }
        Renderer {
            env,
            exhausted: OnceLock::new(),
            compiled: Vec::new(),
            fields: Vec::new(),
            headers,
            campaign: campaign.into(),
            include_dir: include_dir.map(Path::to_path_buf),
        }
    }

    /// Compile `source`, known to the user as `origin` (a file path, or the
    /// campaign file and a field), filling the payload field `field`.
    pub fn compile(&mut self, origin: &str, field: &str, source: &str) -> Result<Tid, CompileError> {
        let id = Tid(self.compiled.len());
        let compiled = match self.simple(source) {
            Some(segs) => Compiled::Simple(segs),
            None => {
                self.env.add_template_owned(origin.to_string(), source.to_string()).map_err(|e| {
                    let what = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
                    let hint = crate::plan::lint::bare_column_hint(source, &self.headers.names);
                    CompileError {
                        origin: origin.to_string(),
                        line: e.line(),
                        what: hint.map_or(what.clone(), |h| format!("{what}: {h}")),
                    }
                })?;
                let tmpl = self.env.get_template(origin).map_err(|e| CompileError {
                    origin: origin.to_string(),
                    line: e.line(),
                    what: e.to_string(),
                })?;
                let mut unknown: Vec<String> = tmpl
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| {
                        self.headers.get(v).is_none()
                            && !BUILTINS.contains(&v.as_str())
                            && self.env.globals().all(|(g, _)| g != v.as_str())
                    })
                    .collect();
                unknown.sort();
                if let Some(v) = unknown.first() {
                    return Err(CompileError {
                        origin: origin.to_string(),
                        line: line_of(source, v),
                        what: format!(
                            "`{v}` is not a CSV column nor one of recipient, campaign, row (columns: {})",
                            self.headers.names.join(", ")
                        ),
                    });
                }
                self.lint(origin, source, &[], 0)?;
                Compiled::Jinja(origin.to_string())
            }
        };
        self.compiled.push(compiled);
        self.fields.push(field.to_string());
        Ok(id)
    }

    /// What is knowable before any row: every filter and test exists, every
    /// literal `row[...]` key is a column, every included template exists
    /// and uses only known variables (or ones the includer names).
    fn lint(&self, origin: &str, source: &str, outer: &[String], depth: usize) -> Result<(), CompileError> {
        let scan = crate::plan::lint::scan(source);
        let fail = |line: usize, what: String| CompileError { origin: origin.to_string(), line: Some(line), what };
        for f in &scan.filters {
            if self.probe(&format!("{{{{ none | {} }}}}", f.name), minijinja::ErrorKind::UnknownFilter) {
                return Err(fail(
                    f.line,
                    format!(
                        "unknown filter `{}` (minijinja's filters: upper, lower, title, capitalize, trim, replace, default, length, join…)",
                        f.name
                    ),
                ));
            }
        }
        for t in &scan.tests {
            if self.probe(&format!("{{{{ none is {} }}}}", t.name), minijinja::ErrorKind::UnknownTest) {
                return Err(fail(
                    t.line,
                    format!(
                        "unknown test `{}` (minijinja's tests: defined, none, number, string, odd, even, startingwith…)",
                        t.name
                    ),
                ));
            }
        }
        for k in &scan.row_keys {
            if self.headers.get(&k.name).is_none() {
                return Err(fail(
                    k.line,
                    format!(
                        "`row[\"{}\"]`: the CSV has no column `{}` (columns: {})",
                        k.name,
                        k.name,
                        self.headers.names.join(", ")
                    ),
                ));
            }
        }
        if depth >= 8 {
            return Ok(());
        }
        let mut names: Vec<String> = outer.to_vec();
        names.extend(scan.names.iter().cloned());
        for (used, shares_context) in
            scan.includes.iter().map(|u| (u, true)).chain(scan.imports.iter().map(|u| (u, false)))
        {
            let t = self.env.get_template(&used.name).map_err(|e| {
                let dir = self.include_dir.as_deref().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let dir = dir.display();
                fail(
                    used.line,
                    format!(
                        "cannot load `{}` (looked beside the body file, in {dir}): {}",
                        used.name,
                        e.detail().unwrap_or(&e.kind().to_string())
                    ),
                )
            })?;
            let path = self
                .include_dir
                .as_deref()
                .map_or_else(|| used.name.clone(), |d| d.join(&used.name).display().to_string());
            if shares_context {
                let mut unknown: Vec<String> = t
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| self.headers.get(v).is_none() && !BUILTINS.contains(&v.as_str()) && !names.contains(v))
                    .filter(|v| self.env.globals().all(|(g, _)| g != v.as_str()))
                    .collect();
                unknown.sort();
                if let Some(v) = unknown.first() {
                    return Err(CompileError {
                        origin: path,
                        line: line_of(t.source(), v),
                        what: format!(
                            "`{v}` is not a CSV column nor one of recipient, campaign, row (columns: {})",
                            self.headers.names.join(", ")
                        ),
                    });
                }
            }
            let source = t.source().to_string();
            self.lint(&path, &source, &names, depth + 1)?;
        }
        Ok(())
    }

    /// Whether rendering `probe` fails with error `kind`.
    fn probe(&self, probe: &str, kind: minijinja::ErrorKind) -> bool {
        self.env.render_str(probe, ()).is_err_and(|e| e.kind() == kind)
    }

    /// Recognise a template that is literal text and `{{ name }}`s only.
    fn simple(&self, source: &str) -> Option<Vec<Seg>> {
        // minijinja drops one trailing newline unless told to keep it.
        let source = source.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(source);
        let plain = |lit: &str| !(lit.contains("{%") || lit.contains("{#") || lit.contains("}}") || lit.contains('\r'));
        let mut segs = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            let lit = &rest[..open];
            if !plain(lit) {
                return None;
            }
            if !lit.is_empty() {
                segs.push(Seg::Lit(lit.to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}")?;
            let name = after[..close].trim_matches(|c| c == ' ');
            let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident {
                return None;
            }
            segs.push(match name {
                "recipient" => Seg::Recipient,
                "campaign" => Seg::Campaign,
                "row" | "true" | "false" | "none" | "True" | "False" | "None" | "loop" | "self" => {
                    return None;
                }
                _ if self.env.globals().any(|(g, _)| g == name) => return None,
                _ => Seg::Col(self.headers.get(name)?),
            });
            rest = &after[close + 2..];
        }
        if !plain(rest) {
            return None;
        }
        if !rest.is_empty() {
            segs.push(Seg::Lit(rest.to_string()));
        }
        Some(segs)
    }

    /// The templates minijinja holds, sorted by name: those compiled up
    /// front, and those loaded by `include`/`import` while rows rendered.
    pub fn sources(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            self.env.templates().map(|(name, t)| (name.to_string(), t.source().to_string())).collect();
        all.sort();
        all
    }

    /// Render one template for one row.
    pub fn render(&self, id: Tid, row: &RowContext<'_>) -> Result<String, FieldError> {
        match &self.compiled[id.0] {
            Compiled::Simple(segs) => {
                // Sized once: no reallocation as the pieces are appended.
                let len = |seg: &Seg| match seg {
                    Seg::Lit(s) => s.len(),
                    Seg::Col(i) => row.record.get(*i).map_or(0, str::len),
                    Seg::Recipient => row.recipient.map_or(0, str::len),
                    Seg::Campaign => self.campaign.len(),
                };
                let mut out = String::with_capacity(segs.iter().map(len).sum());
                for seg in segs {
                    match seg {
                        Seg::Lit(s) => out.push_str(s),
                        Seg::Col(i) => out.push_str(row.record.get(*i).unwrap_or("")),
                        Seg::Recipient => out.push_str(row.recipient_str()?),
                        Seg::Campaign => out.push_str(&self.campaign),
                    }
                }
                Ok(out)
            }
            Compiled::Jinja(name) => {
                if let Some(t) = self.exhausted.get() {
                    return Err(FieldError::new(self.fields[id.0].clone(), out_of_fuel(t)));
                }
                let ctx = row.value(self);
                let tmpl = self.env.get_template(name).map_err(|e| self.error(id, &e))?;
                tmpl.render(ctx).map_err(|e| {
                    if e.kind() == minijinja::ErrorKind::OutOfFuel {
                        let t = self.exhausted.get_or_init(|| e.name().unwrap_or(name).to_string());
                        return FieldError::new(self.fields[id.0].clone(), out_of_fuel(t));
                    }
                    self.error(id, &e)
                })
            }
        }
    }

    /// The template that ran out of fuel on some row, if one did.
    pub fn exhausted(&self) -> Option<&str> {
        self.exhausted.get().map(String::as_str)
    }

    fn error(&self, id: Tid, e: &minijinja::Error) -> FieldError {
        let mut reason = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        if let (Some(name), Some(line)) = (e.name(), e.line()) {
            reason.push_str(&format!(" (template {name}, line {line})"));
        }
        if let Some(src) = std::error::Error::source(e) {
            reason.push_str(&format!(": {src}"));
        }
        FieldError::new(self.fields[id.0].clone(), reason)
    }
}

fn out_of_fuel(template: &str) -> String {
    format!("template {template} takes more than {FUEL} steps to render one row (a loop far too large?)")
}

/// The first line of `source` mentioning `word`, 1-based.
fn line_of(source: &str, word: &str) -> Option<usize> {
    source.lines().position(|l| l.contains(word)).map(|i| i + 1)
}

/// One row as templates see it. The minijinja value is built only when a
/// template needs it, once per row.
pub struct RowContext<'a> {
    pub record: &'a StringRecord,
    pub recipient: Option<&'a str>,
    value: OnceLock<Value>,
}

impl<'a> RowContext<'a> {
    pub fn new(record: &'a StringRecord, recipient: Option<&'a str>) -> Self {
        RowContext { record, recipient, value: OnceLock::new() }
    }

    fn recipient_str(&self) -> Result<&str, FieldError> {
        self.recipient.ok_or_else(|| FieldError::new("recipient", "no valid phone number for `recipient`"))
    }

    fn value(&self, r: &Renderer) -> Value {
        self.value
            .get_or_init(|| {
                Value::from_object(RowObject {
                    headers: r.headers.clone(),
                    record: self.record.clone(),
                    recipient: self.recipient.map(str::to_string),
                    campaign: r.campaign.clone(),
                })
            })
            .clone()
    }
}

#[derive(Debug)]
struct RowObject {
    headers: Arc<Headers>,
    record: StringRecord,
    recipient: Option<String>,
    campaign: Arc<str>,
}

impl RowObject {
    fn column(&self, name: &str) -> Option<Value> {
        self.headers.get(name).map(|i| Value::from(self.record.get(i).unwrap_or("")))
    }
}

impl Object for RowObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "recipient" => self.recipient.as_deref().map(Value::from),
            "campaign" => Some(Value::from(&*self.campaign)),
            "row" => Some(Value::from_object(RowMap(self.clone()))),
            name => self.column(name),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.headers.names.iter().map(|n| Value::from(n.as_str())).collect();
        keys.extend(BUILTINS.iter().map(|b| Value::from(*b)));
        Enumerator::Values(keys)
    }
}

/// `row["any header"]`: the columns by name, even those that are not identifiers.
#[derive(Debug)]
struct RowMap(Arc<RowObject>);

impl Object for RowMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.column(key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.headers.names.iter().map(|n| Value::from(n.as_str())).collect())
    }
}

/// Where templates included from a body file are looked up.
pub fn include_dir(body: Option<&PathBuf>) -> Option<PathBuf> {
    body.and_then(|b| b.parent()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> Renderer {
        let h = Headers::new(vec!["phone".into(), "first_name".into(), "sku".into(), "full name".into()]).unwrap();
        Renderer::new(Arc::new(h), "spring-sale", None)
    }

    fn record() -> StringRecord {
        StringRecord::from(vec!["+16044441111", "Ana", "A-1", "Ana Lima"])
    }

    /// The fast path must render exactly what minijinja renders.
    #[test]
    fn fast_path_matches_minijinja() {
        let sources = [
            "Hi {{ first_name }}!",
            "{{first_name}}",
            "https://cdn.example.com/{{ sku }}.jpg",
            "{{ recipient }} in {{ campaign }}",
            "Hello {{ first_name }}\n",
            "Hello\r\n",
            "plain text",
            "",
            "line one\nline two\n\n",
        ];
        let rec = record();
        for src in sources {
            let mut r = renderer();
            let fast = r.compile("fast", "f", src).unwrap();
            assert!(matches!(r.compiled[fast.0], Compiled::Simple(_)), "{src:?} should take the fast path");
            let ctx = RowContext::new(&rec, Some("+16044441111"));
            let got = r.render(fast, &ctx).unwrap();
            let mut env = Environment::new();
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            let want = env
                .render_str(src, minijinja::context! { first_name => "Ana", sku => "A-1", recipient => "+16044441111", campaign => "spring-sale" })
                .unwrap();
            assert_eq!(got, want, "source {src:?}");
        }
    }

    #[test]
    fn everything_else_goes_through_minijinja() {
        let mut r = renderer();
        let rec = record();
        let ctx = RowContext::new(&rec, Some("+16044441111"));
        for (src, want) in [
            ("{{ first_name | upper }}", "ANA"),
            ("{{ row[\"full name\"] }}", "Ana Lima"),
            ("{% if sku %}yes{% endif %}", "yes"),
            ("{{- first_name -}}", "Ana"),
            ("<{{ first_name }}>&", "<Ana>&"),
        ] {
            let id = r.compile(src, "f", src).unwrap();
            assert!(matches!(r.compiled[id.0], Compiled::Jinja(_)) || src.starts_with('<'));
            assert_eq!(r.render(id, &ctx).unwrap(), want);
        }
    }

    #[test]
    fn included_templates_are_listed_once_loaded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sig.j2"), "-- {{ first_name }}").unwrap();
        let h = Headers::new(vec!["phone".into(), "first_name".into()]).unwrap();
        let mut r = Renderer::new(Arc::new(h), "c", Some(dir.path()));
        let id = r.compile("body.j2", "text", "Hi {% include \"sig.j2\" %}").unwrap();
        let rec = StringRecord::from(vec!["+16044441111", "Ana"]);
        assert_eq!(r.render(id, &RowContext::new(&rec, None)).unwrap(), "Hi -- Ana");
        let names: Vec<String> = r.sources().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["body.j2", "sig.j2"]);
    }

    #[test]
    fn unknown_variables_are_caught_before_any_row() {
        let mut r = renderer();
        let e = r.compile("body.txt.j2", "text", "Hi\n{{ frist_name | title }}").unwrap_err();
        assert!(e.what.contains("`frist_name`"), "{}", e.what);
        assert_eq!(e.line, Some(2));
        let e = r.compile("body.txt.j2", "text", "Hi {% if %}").unwrap_err();
        assert!(e.line.is_some());
    }

    #[test]
    fn misspellings_are_caught_once_before_any_row() {
        let mut r = renderer();
        let e = r.compile("b.j2", "text", "Hi\n{{ first_name | titlecase }}").unwrap_err();
        assert_eq!((e.line, e.what.contains("unknown filter `titlecase`")), (Some(2), true), "{}", e.what);
        let e = r.compile("b.j2", "text", "{{ row[\"first nam\"] }}").unwrap_err();
        assert!(e.what.contains("no column `first nam`") && e.what.contains("full name"), "{}", e.what);
        let e = r.compile("b.j2", "text", "{{ row.nickname }}").unwrap_err();
        assert!(e.what.contains("no column `nickname`"), "{}", e.what);
        let e = r.compile("b.j2", "text", "{% if sku is blank %}{% endif %}").unwrap_err();
        assert!(e.what.contains("unknown test `blank`"), "{}", e.what);
        let e = r.compile("b.j2", "text", "{{ full name }}").unwrap_err();
        assert!(e.what.contains("row[\"full name\"]"), "{}", e.what);
        r.compile("ok.j2", "text", "{{ row[\"full name\"] | upper }}{% if sku is defined %}{% endif %}").unwrap();
    }

    #[test]
    fn included_templates_are_checked_before_any_row() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sig.j2"), "-- {{ nme }}").unwrap();
        std::fs::write(dir.path().join("set.j2"), "{{ greeting }} {{ first_name }}").unwrap();
        let h = Headers::new(vec!["phone".into(), "first_name".into()]).unwrap();
        let mut r = Renderer::new(Arc::new(h), "c", Some(dir.path()));
        let e = r.compile("body.j2", "text", "Hi {% include \"sig.j2\" %}").unwrap_err();
        assert!(e.origin.ends_with("sig.j2") && e.what.contains("`nme`"), "{e:?}");
        let e = r.compile("body2.j2", "text", "Hi {% include \"nope.j2\" %}").unwrap_err();
        assert!(e.what.contains("cannot load `nope.j2`"), "{e:?}");
        // A variable the including template sets is known to the included one.
        r.compile("body3.j2", "text", "{% set greeting = 'Hey' %}{% include \"set.j2\" %}").unwrap();
    }

    #[test]
    fn undefined_attributes_fail_the_row() {
        let mut r = renderer();
        // A key only known per row (here, the value of a column).
        let id = r.compile("t", "body_1", "{{ row[first_name] }}").unwrap();
        let rec = record();
        let err = r.render(id, &RowContext::new(&rec, None)).unwrap_err();
        assert_eq!(err.field(), "body_1");
        assert!(err.what.contains("undefined"), "{}", err.what);
    }
}
