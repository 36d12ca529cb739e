//! The readable preview on stdout: the first messages in full with their
//! route and why, what is not sent now and why, the invalid rows, and a
//! summary whose every breakdown adds up. Colour only on a terminal with
//! NO_COLOR unset.

use std::io::{IsTerminal, Write};

use super::tally::{INVALID_LISTED, Tally, count};
use super::view::{Header, Media, View, media_name};
use super::{Preview, Sink, verdict};
use crate::outcome::{Outcome, Reason, Route, Status};

pub struct Style {
    pub color: bool,
}

fn color_wanted(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Style {
    pub fn stdout() -> Style {
        Style { color: color_wanted(std::io::stdout().is_terminal()) }
    }
    pub fn stderr() -> Style {
        Style { color: color_wanted(std::io::stderr().is_terminal()) }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// One planned message, in full, as a person reads it.
pub fn message_block(o: &Outcome, style: &Style) -> String {
    let route = match o.route {
        Some(Route::Session) => style.green("session"),
        Some(Route::Template) => style.cyan("template"),
        None => String::new(),
    };
    let mut s = format!(
        "{} {}  {}  {}\n",
        style.bold(&format!("row {}", o.row)),
        o.recipient.as_deref().unwrap_or("?"),
        route,
        style.dim(&o.note.to_string())
    );
    if let Some(view) = View::of(o) {
        for line in describe(&view) {
            s.push_str(&format!("  │ {line}\n"));
        }
    }
    s
}

fn media_line(m: &Media) -> String {
    format!("[{}: {}]", media_name(m.kind), m.filename.as_deref().unwrap_or(&m.url))
}

/// A message as lines of text: header, media, body, location, footer,
/// buttons, list; or the template and its parameters.
pub fn describe(v: &View) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(t), Some(f)) = (&v.template, &v.filled) {
        let category = f.category.as_deref().map(|c| format!(" · {c}")).unwrap_or_default();
        out.push(format!("template {} ({}){category}", t.name, t.language));
        out.extend(v.media.as_ref().map(media_line));
        out.extend(f.header.as_ref().map(|h| format!("[{h}]")));
        out.extend(f.body.lines().map(str::to_string));
        out.extend(f.footer.clone());
        if !f.buttons.is_empty() {
            out.push(f.buttons.iter().map(|b| format!("[ {} ]", b.text)).collect::<Vec<_>>().join(" "));
            out.extend(f.buttons.iter().filter_map(|b| Some(format!("  {} → {}", b.text, b.url.as_deref()?))));
        }
        return out;
    }
    if let Some(t) = &v.template {
        out.push(format!("template {} ({})", t.name, t.language));
        for p in &t.parameters {
            let f = p.filename.as_deref().map(|f| format!(" [{f}]")).unwrap_or_default();
            out.push(format!("  {} = {}{f}", p.name, p.value));
        }
        return out;
    }
    match &v.header {
        Some(Header::Text(t)) => out.push(format!("[{t}]")),
        Some(Header::Media(m)) => out.push(media_line(m)),
        None => {}
    }
    out.extend(v.media.as_ref().map(media_line));
    out.extend(v.text.iter().flat_map(|t| t.lines()).map(str::to_string));
    if let Some(l) = &v.location {
        let (name, address) = (l.name.as_deref().unwrap_or(""), l.address.as_deref().unwrap_or(""));
        out.push(format!("📍 {name} {address} ({}, {})", l.latitude, l.longitude));
    }
    out.extend(v.footer.clone());
    if !v.buttons.is_empty() {
        out.push(v.buttons.iter().map(|b| format!("[ {b} ]")).collect::<Vec<_>>().join(" "));
    }
    if let Some(l) = &v.list {
        out.push(format!("[ ☰ {} ]", l.button));
        for s in &l.sections {
            out.extend(s.title.as_ref().map(|t| format!("  {t}")));
            for (text, description) in &s.rows {
                let d = description.as_deref().map(|d| format!(" — {d}")).unwrap_or_default();
                out.push(format!("    • {text}{d}"));
            }
        }
    }
    out
}

/// `(line 12)`: where the row is in the file, when known.
pub fn line_of(o: &Outcome) -> String {
    o.line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// A one-line account of a row that is not sent.
pub fn row_line(o: &Outcome, style: &Style) -> String {
    let status = match o.status {
        Status::Failed | Status::Unknown => style.red(o.status.as_str()),
        Status::Skipped | Status::Deferred => style.yellow(o.status.as_str()),
        _ => o.status.as_str().to_string(),
    };
    let reason = o.reason.map(|r| format!("/{}", r.as_str())).unwrap_or_default();
    let held = matches!(o.status, Status::Deferred | Status::Skipped);
    let until = if held && o.note != crate::outcome::Note::None { format!(" {}", o.note) } else { String::new() };
    let err = o
        .error
        .as_ref()
        .map(|e| {
            let field = e.field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default();
            let code = e.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default();
            format!(" — {field}{code}{}", e.message)
        })
        .unwrap_or_default();
    format!("row {} {} {status}{reason}{until}{}{err}", o.row, o.recipient.as_deref().unwrap_or("-"), line_of(o))
}

/// `row 4: `phone`: not a phone number (line 5)`, as preflight lists them.
pub fn invalid_line(o: &Outcome) -> String {
    let (field, message) = o.error.as_ref().map_or(("", ""), |e| (e.field.as_deref().unwrap_or(""), &e.message));
    format!("row {}: `{field}`: {message}{}", o.row, line_of(o))
}

/// How many planned messages are shown in full, and other rows listed.
const MESSAGES_SHOWN: usize = 3;
const OTHERS_SHOWN: usize = 20;

/// The text preview, written as rows arrive: the first messages at once,
/// the rest of the rows summed up at the end.
pub struct TextPreview {
    out: Box<dyn Write + Send>,
    style: Style,
    title: Option<String>,
    csv: String,
    skip_invalid: bool,
    shown: usize,
    others: Vec<Outcome>,
}

impl TextPreview {
    pub fn new(p: &Preview, out: Box<dyn Write + Send>, style: Style) -> TextPreview {
        TextPreview {
            out,
            style,
            title: Some(format!("{} — dry run as of {}", p.campaign, crate::outcome::short(p.at))),
            csv: p.csv.clone(),
            skip_invalid: p.skip_invalid,
            shown: 0,
            others: Vec::new(),
        }
    }

    /// The title, and how rows are numbered, before the first row.
    fn title(&mut self, first: Option<&Outcome>) -> std::io::Result<()> {
        let Some(t) = self.title.take() else { return Ok(()) };
        writeln!(self.out, "{}", self.style.bold(&t))?;
        if let Some(line) = first.and_then(|o| o.line.map(|l| (o.row, l))) {
            let legend =
                format!("(row {} is line {} of {}: rows count from the first data row)", line.0, line.1, self.csv);
            writeln!(self.out, "{}", self.style.dim(&legend))?;
        }
        writeln!(self.out)
    }

    fn invalid_rows(&mut self, tally: &Tally) -> std::io::Result<()> {
        let n = tally.reason(Reason::Invalid);
        if n == 0 {
            return Ok(());
        }
        let head = if self.skip_invalid {
            format!("{} (recorded as skipped/invalid with --skip-invalid):", count(n, "invalid row"))
        } else {
            format!("{} (a real run stops here, exit 2):", count(n, "invalid row"))
        };
        writeln!(self.out, "{}", self.style.bold(&head))?;
        for o in &tally.invalid {
            writeln!(self.out, "  {}", invalid_line(o))?;
        }
        if n > INVALID_LISTED as u64 {
            writeln!(self.out, "  {}", self.style.dim(&format!("… and {} more", n - INVALID_LISTED as u64)))?;
        }
        writeln!(self.out)
    }

    fn summary(&mut self, tally: &Tally) -> std::io::Result<()> {
        writeln!(self.out, "{}", self.style.bold("Summary"))?;
        writeln!(self.out, "  {:<22}{:>8}", "rows", tally.rows)?;
        for (s, n) in tally.statuses() {
            writeln!(self.out, "  {:<22}{:>8}", s.as_str(), n)?;
            for (k, n) in tally.details(s) {
                writeln!(self.out, "    {:<20}{:>8}", k, n)?;
            }
        }
        writeln!(self.out, "\n{}", verdict(tally, self.skip_invalid).text())
    }
}

impl Sink for TextPreview {
    fn row(&mut self, o: &Outcome, _line: Option<&[u8]>) -> std::io::Result<()> {
        self.title(Some(o))?;
        if o.status == Status::Planned && self.shown < MESSAGES_SHOWN {
            self.shown += 1;
            writeln!(self.out, "{}", message_block(o, &self.style))?;
        } else if o.status != Status::Planned && o.reason != Some(Reason::Invalid) && self.others.len() < OTHERS_SHOWN {
            self.others.push(o.clone());
        }
        Ok(())
    }

    fn finish(&mut self, tally: &Tally) -> std::io::Result<()> {
        self.title(None)?;
        let planned = tally.status(Status::Planned);
        if planned > self.shown as u64 {
            let more = planned - self.shown as u64;
            let line = format!("… and {} (--format jsonl lists every one)", count(more, "more planned message"));
            writeln!(self.out, "{}\n", self.style.dim(&line))?;
        }
        if !self.others.is_empty() {
            writeln!(self.out, "{}", self.style.bold("Not sent now:"))?;
            for o in &self.others {
                writeln!(self.out, "  {}", row_line(o, &self.style))?;
            }
            let rest = tally.rows - planned - tally.reason(Reason::Invalid) - self.others.len() as u64;
            if rest > 0 {
                writeln!(self.out, "  {}", self.style.dim(&format!("… and {rest} more")))?;
            }
            writeln!(self.out)?;
        }
        self.invalid_rows(tally)?;
        self.summary(tally)?;
        self.out.flush()
    }
}
