//! The recipients CSV, read as a stream, and the suppression list.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use csv::StringRecord;

use crate::campaign::Campaign;
use crate::error::{Error, Location, Result};
use crate::phone;
use crate::plan::render::Headers;

/// Positions of the columns the campaign names.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    pub phone: usize,
    pub last_inbound: Option<usize>,
    pub timezone: Option<usize>,
    pub sender: Option<usize>,
}

/// An open recipients file: header read, columns found, rows still to come.
pub struct Source {
    pub reader: csv::Reader<BufReader<File>>,
    pub headers: Arc<Headers>,
    pub columns: Columns,
}

fn open_csv(path: &Path, what: &str) -> Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path).map_err(|e| {
        Error::input(
            path,
            Location::default(),
            format!("cannot open the {what}: {}", crate::error::io_words(&e)),
            "check the path in the campaign file; it is relative to the campaign file's folder",
        )
    })?;
    Ok(csv::ReaderBuilder::new().flexible(false).from_reader(BufReader::with_capacity(256 * 1024, file)))
}

fn read_headers(path: &Path, reader: &mut csv::Reader<BufReader<File>>) -> Result<Headers> {
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if let [only] = names.as_slice()
        && let Some((sep, name)) = [(';', "semicolons"), ('\t', "tabs")].into_iter().find(|(d, _)| only.contains(*d))
    {
        return Err(Error::input(
            path,
            Location::line(1, None),
            format!("the columns are separated by {name}, not commas (header: `{}`)", only.replace('\t', "\\t")),
            format!(
                "save the file as comma-separated CSV (a spreadsheet's \"CSV UTF-8 (comma delimited)\"); the header then reads `{}`",
                only.split(sep).map(str::trim).collect::<Vec<_>>().join(",")
            ),
        ));
    }
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(Error::input(
            path,
            Location::line(1, None),
            "the file has no header row",
            "the first line must name the columns, e.g. phone,first_name",
        ));
    }
    Headers::new(names).map_err(|dup| {
        Error::input(
            path,
            Location::line(1, None).with_field(dup.clone()),
            format!("column `{dup}` appears twice in the header"),
            "rename one of them",
        )
    })
}

impl Source {
    pub fn open(c: &Campaign) -> Result<Source> {
        let path = &c.recipients.csv;
        let mut reader = open_csv(path, "recipients CSV")?;
        let headers = read_headers(path, &mut reader)?;
        let find = |name: &str, key: &str| {
            headers.get(name).ok_or_else(|| {
                Error::input(
                    path,
                    Location::line(1, None).with_field(name),
                    format!("no column `{name}` (from recipients.{key}); the header has: {}", headers.names.join(", ")),
                    format!("rename the column, or set recipients.{key} in {}", c.path.display()),
                )
            })
        };
        let columns = Columns {
            phone: find(&c.recipients.phone_column, "phone_column")?,
            last_inbound: c
                .recipients
                .last_inbound_column
                .as_deref()
                .map(|n| find(n, "last_inbound_column"))
                .transpose()?,
            timezone: c.recipients.timezone_column.as_deref().map(|n| find(n, "timezone_column")).transpose()?,
            sender: c.recipients.sender_column.as_deref().map(|n| find(n, "sender_column")).transpose()?,
        };
        Ok(Source { reader, headers: Arc::new(headers), columns })
    }
}

/// A CSV reading error, located by row and line (and column, when the
/// header is known).
pub fn csv_error(path: &Path, e: csv::Error) -> Error {
    csv_error_in(path, e, None)
}

pub fn csv_error_in(path: &Path, e: csv::Error, headers: Option<&Headers>) -> Error {
    let row_of = |pos: &csv::Position| pos.record().max(1);
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos: Some(pos), expected_len, len } => {
            let counts = format!("this row has {len} fields but the header has {expected_len}");
            let (what, fix) = match open_quote(path, pos.byte(), pos.line()) {
                Some(q) => (format!("{counts}: {}", q.words(pos.line())), q.fix()),
                None => {
                    (counts, "quote fields that contain commas, and give every row as many fields as the header".into())
                }
            };
            Error::input(
                path,
                Location { line: Some(pos.line() as usize), row: Some(row_of(pos)), ..Default::default() },
                what,
                fix,
            )
        }
        csv::ErrorKind::Utf8 { pos: Some(pos), err } => Error::input(
            path,
            Location {
                line: Some(pos.line() as usize),
                row: Some(row_of(pos)),
                field: headers.and_then(|h| h.names.get(err.field()).cloned()),
                ..Default::default()
            },
            format!("field {} is not valid UTF-8", err.field() + 1),
            "save the file as UTF-8",
        ),
        _ => Error::input(path, Location::default(), e.to_string(), "check that the file is a CSV with a header row"),
    }
}

/// A quote that was probably never closed, in a row whose field count is
/// off: the line it opens on, whether it runs past that line (a quoted
/// field swallowing the lines after it) or stands inside a field, and the
/// last line the row reaches.
#[derive(Debug, PartialEq)]
struct OpenQuote {
    line: u64,
    inside_field: bool,
    row_ends: u64,
}

impl OpenQuote {
    fn words(&self, row_line: u64) -> String {
        let runs_on = if self.row_ends > row_line {
            format!(", so the row runs on to line {}", self.row_ends)
        } else {
            String::new()
        };
        let where_ = if self.inside_field { " inside a field" } else { "" };
        format!("a quote (\") opened{where_} on line {} is probably not closed{runs_on}", self.line)
    }

    fn fix(&self) -> String {
        format!(
            "close the quote on line {}: a field with commas or line breaks is written whole between quotes (\"Smith, Ana\"), and a quote inside it is doubled (\"\")",
            self.line
        )
    }
}

/// The quote left open in the row that starts at byte `start` (line
/// `line`) of the file, if there is one.
fn open_quote(path: &Path, start: u64, line: u64) -> Option<OpenQuote> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    scan_quotes(BufReader::new(file).bytes().map_while(std::result::Result::ok), line)
}

/// Read one CSV row as the reader does and find where a quote went wrong:
/// a quoted field that runs past its line (or to the end of the file) is
/// the likeliest, else a quote in the middle of a field.
fn scan_quotes(bytes: impl Iterator<Item = u8>, mut line: u64) -> Option<OpenQuote> {
    let (mut field_start, mut quoted, mut pending) = (true, None::<u64>, false);
    let (mut spanning, mut inside, mut row_ends) = (None, None, line);
    for b in bytes {
        if std::mem::take(&mut pending) {
            if b == b'"' {
                continue; // a doubled quote inside a quoted field
            }
            quoted = None;
        }
        if b != b'\n' {
            row_ends = line;
        }
        if let Some(opened) = quoted {
            match b {
                b'"' => pending = true,
                b'\n' => {
                    line += 1;
                    spanning.get_or_insert(opened);
                }
                _ => {}
            }
            continue;
        }
        match b {
            b'"' if field_start => quoted = Some(line),
            b'"' => _ = inside.get_or_insert(line),
            b',' => {
                field_start = true;
                continue;
            }
            b'\n' | b'\r' => break,
            _ => {}
        }
        field_start = false;
    }
    let quoted = quoted.filter(|_| !pending);
    let (line, inside_field) = match spanning.or(quoted) {
        Some(l) => (l, false),
        None => (inside?, true),
    };
    Some(OpenQuote { line, inside_field, row_ends })
}

/// Numbers never to message, normalized like recipients: a CSV whose
/// phone column lists them, or a plain list of numbers, one a line, with
/// no header.
pub fn load_suppressions(c: &Campaign) -> Result<HashSet<String>> {
    let Some(path) = &c.recipients.suppress else {
        return Ok(HashSet::new());
    };
    let mut reader = open_csv(path, "suppression list")?;
    let headers = read_headers(path, &mut reader)?;
    let mut set = HashSet::new();
    let plain_list = headers.names.len() == 1 && looks_like_number(&headers.names[0]);
    if plain_list {
        // The first line is a number, not a header.
        set.insert(suppressed(c, path, &headers.names[0], 1, None)?);
    }
    let col = if plain_list { 0 } else { suppression_column(c, path, &headers)? };
    let field = (!plain_list).then(|| headers.names[col].clone());
    let mut rec = StringRecord::new();
    while reader.read_record(&mut rec).map_err(|e| csv_error_in(path, e, Some(&headers)))? {
        let raw = rec.get(col).unwrap_or("");
        if raw.trim().is_empty() {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line()) as usize;
        set.insert(suppressed(c, path, raw, line, field.as_deref())?);
    }
    Ok(set)
}

/// A header cell that is a phone number (or what a spreadsheet made of one).
fn looks_like_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    digits >= 6 && !s.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'))
}

fn suppression_column(c: &Campaign, path: &Path, headers: &Headers) -> Result<usize> {
    headers
        .get(&c.recipients.phone_column)
        .or_else(|| headers.get("phone"))
        .or((headers.names.len() == 1).then_some(0))
        .ok_or_else(|| {
            Error::input(
                path,
                Location::line(1, None),
                format!(
                    "no `{}` column in the suppression list (header: {})",
                    c.recipients.phone_column,
                    headers.names.join(", ")
                ),
                "give the list a column named like the recipients' phone column, a single column, or no header at all (one number a line)",
            )
        })
}

/// One opt-out, normalized as recipients are; a number outside the numbering
/// plan is still honoured as written, a line that cannot be read is an error.
fn suppressed(c: &Campaign, path: &Path, raw: &str, line: usize, field: Option<&str>) -> Result<String> {
    let region = c.recipients.default_country.as_ref();
    let strict = phone::recipient(raw, region);
    if let Err(phone::PhoneError::Invalid { .. } | phone::PhoneError::NotForCountry { .. }) = strict
        && let Ok(n) = phone::normalize(raw, region)
    {
        return Ok(n);
    }
    strict.map_err(|e| {
        Error::input(
            path,
            Location { line: Some(line), field: field.map(str::to_string), ..Default::default() },
            format!("`{raw}`: {e}"),
            "fix the number: an opt-out that cannot be read cannot be honoured",
        )
    })
}

/// About how many rows a CSV holds, from its size and its first 64 KiB.
/// Only a capacity hint: wrong guesses cost time, never correctness.
pub fn estimate_rows(path: &Path) -> usize {
    use std::io::Read;
    let Ok(mut f) = File::open(path) else { return 0 };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = vec![0u8; 64 * 1024];
    let n = f.read(&mut head).unwrap_or(0);
    let lines = head[..n].iter().filter(|b| **b == b'\n').count().max(1);
    let rows = (len as usize / n.max(1)).saturating_mul(lines);
    rows.clamp(16, 50_000_000)
}

/// A last-inbound cell: RFC 3339 or Unix seconds; empty means unknown.
pub fn parse_instant(s: &str) -> Result<Option<jiff::Timestamp>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .and_then(|n| jiff::Timestamp::from_second(n).ok())
            .map(Some)
            .ok_or_else(|| format!("`{t}` is not a valid Unix time"));
    }
    t.parse::<jiff::Timestamp>()
        .map(Some)
        .map_err(|_| format!("`{t}` is neither RFC 3339 (2026-11-20T14:02:00Z) nor Unix seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_either_notation() {
        let a = parse_instant("2026-11-20T14:02:00Z").unwrap().unwrap();
        let b = parse_instant("1795183320").unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_instant("  ").unwrap(), None);
        assert!(parse_instant("yesterday").is_err());
    }

    fn quote_in(text: &str) -> Option<OpenQuote> {
        scan_quotes(text.bytes(), 2)
    }

    #[test]
    fn a_quote_left_open_is_found_where_it_opens() {
        let open = |line, row_ends| Some(OpenQuote { line, inside_field: false, row_ends });
        assert_eq!(quote_in("\"+16044441111,Ana,x\n+16044441112,Bo,y\n"), open(2, 3));
        assert_eq!(quote_in("+16044441111,\"Ana,x\n+16044441112,\"Bo\",y\n"), open(2, 3));
        assert_eq!(quote_in("+16044441111,\"Ana,x"), open(2, 2));
        assert_eq!(
            quote_in("+16044441111,Ana \"the best, x\n"),
            Some(OpenQuote { line: 2, inside_field: true, row_ends: 2 })
        );
    }

    #[test]
    fn closed_and_doubled_quotes_are_no_fault() {
        assert_eq!(quote_in("+16044441111,\"Smith, Ana\",x,y\n+1,b\n"), None);
        assert_eq!(quote_in("+16044441111,\"say \"\"hi\"\"\",x\n"), None);
        assert_eq!(quote_in("+16044441111,\"\"\n"), None);
        assert_eq!(quote_in("+16044441111,Ana,extra\n"), None);
    }
}
