//! Reporters: sinks for outcomes. The dry run and the real run each build
//! one reporter from plain options and feed it every outcome in row order;
//! it keeps the exact counts ([`Tally`]) and hands each outcome to its
//! sink: JSON lines ([`jsonl`]), the text preview ([`text`]), the progress
//! bar of a real run ([`progress`]) or the HTML page ([`html`]). The
//! summaries on stderr are in [`summary`], `campaign status` in [`status`].
//!
//! A closed stdout is handled here, once: it ends a preview quietly
//! ([`Error::StdoutClosed`], exit 0); a real run goes on sending and
//! recording, and says once on stderr that its lines stopped.

pub mod html;
pub mod jsonl;
pub mod progress;
pub mod status;
pub mod summary;
pub mod tally;
pub mod text;
pub mod view;

use std::io::Write;

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::outcome::{Outcome, Reason, Status};
pub use tally::Tally;
use tally::count;

/// What the reporter writes on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Jsonl,
    Html,
}

/// A reporter's destination: it is told each outcome in row order, then
/// that every row is in.
pub trait Sink {
    /// One row. `line` is the outcome already serialized as a JSON line,
    /// when the planner wrote it (dry-run JSONL).
    fn row(&mut self, o: &Outcome, line: Option<&[u8]>) -> std::io::Result<()>;
    /// Every row is in; `tally` counts them all.
    fn finish(&mut self, tally: &Tally) -> std::io::Result<()>;
}

/// A sink that shows nothing (`--quiet` text): the counts are still kept.
struct Nothing;

impl Sink for Nothing {
    fn row(&mut self, _: &Outcome, _: Option<&[u8]>) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: &Tally) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stdout, buffered.
fn stdout() -> Box<dyn Write + Send> {
    Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
}

/// What a dry run reports, and how.
#[derive(Debug, Clone)]
pub struct Preview {
    pub campaign: String,
    /// The recipients file, as the user knows it (for "row 1 is line 2 of …").
    pub csv: String,
    pub at: Timestamp,
    pub format: Format,
    pub quiet: bool,
    /// `--limit`: in the HTML page it limits the messages shown, not the counts.
    pub limit: Option<u64>,
    pub skip_invalid: bool,
    /// Whether the template was checked against the business's catalogue,
    /// and against which copy, for people.
    pub catalogue: Option<String>,
}

/// The dry run's reporter.
pub struct PreviewReport {
    sink: Box<dyn Sink + Send>,
    tally: Tally,
}

impl PreviewReport {
    pub fn new(p: &Preview) -> PreviewReport {
        PreviewReport::with(p, stdout())
    }

    /// The same reporter writing to `out`.
    pub fn with(p: &Preview, out: Box<dyn Write + Send>) -> PreviewReport {
        let sink: Box<dyn Sink + Send> = match p.format {
            Format::Jsonl => Box::new(jsonl::Jsonl::new(out)),
            Format::Text if p.quiet => Box::new(Nothing),
            Format::Text => Box::new(text::TextPreview::new(p, out, text::Style::stdout())),
            Format::Html => Box::new(html::Page::new(p, out)),
        };
        PreviewReport { sink, tally: Tally::default() }
    }

    /// One row; a closed stdout is `Error::StdoutClosed`, and the preview should stop.
    pub fn row(&mut self, o: &Outcome, line: Option<&[u8]>) -> Result<()> {
        self.tally.add(o);
        self.sink.row(o, line).map_err(Error::stdout)
    }

    pub fn finish(mut self) -> Result<Tally> {
        self.sink.finish(&self.tally).map_err(Error::stdout)?;
        Ok(self.tally)
    }
}

/// What a real run reports, and how.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub format: Format,
    pub quiet: bool,
    /// Recipients the run expects to send (the progress bar's length).
    pub owed: u64,
}

/// The real run's reporter. Writing is never a reason to stop sending: a
/// closed or failing stdout is noted once on stderr, and the counts go on.
pub struct RunReport {
    sink: Box<dyn Sink + Send>,
    tally: Tally,
    detached: bool,
}

impl RunReport {
    pub fn new(r: &RunOptions) -> RunReport {
        let sink: Box<dyn Sink + Send> = match r.format {
            Format::Jsonl => Box::new(jsonl::Jsonl::live(stdout())),
            Format::Text | Format::Html if r.quiet => Box::new(Nothing),
            // The summary on stderr lists failures; stdout stays quiet.
            Format::Text | Format::Html => Box::new(progress::Progress::new(r.owed)),
        };
        RunReport { sink, tally: Tally::default(), detached: false }
    }

    pub fn row(&mut self, o: &Outcome) {
        self.tally.add(o);
        if !self.detached
            && let Err(e) = self.sink.row(o, None)
        {
            self.detach(&e);
        }
    }

    pub fn finish(mut self) -> Tally {
        if !self.detached
            && let Err(e) = self.sink.finish(&self.tally)
        {
            self.detach(&e);
        }
        self.tally
    }

    fn detach(&mut self, e: &std::io::Error) {
        self.detached = true;
        let why = match e.kind() {
            std::io::ErrorKind::BrokenPipe => "stdout was closed".to_string(),
            _ => format!("cannot write to stdout ({e})"),
        };
        summary::note(&format!(
            "{why}: sending goes on and every outcome is recorded in the ledger (`campaign status` lists them); Ctrl-C stops the run after requests in flight"
        ));
    }
}

/// How a preview ends: what a real run started now would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A real run would stop before sending anything (exit 2).
    Stop,
    /// A real run would send nothing now.
    Wait,
    /// A real run would send.
    Go,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub level: Level,
    pub headline: String,
    pub advice: Option<String>,
}

impl Verdict {
    pub fn text(&self) -> String {
        match &self.advice {
            Some(a) => format!("{}\n  {a}", self.headline),
            None => self.headline.clone(),
        }
    }
}

/// Invalid rows stop a real run before it sends anything.
fn stop(invalid: u64, planned: u64) -> Verdict {
    let (them, rows) = if invalid == 1 { ("it", "row") } else { ("them", "rows") };
    Verdict {
        level: Level::Stop,
        headline: format!("A real run would stop before sending anything (exit 2): {}.", count(invalid, "invalid row")),
        advice: Some(if planned > 0 {
            format!(
                "Fix {them}, or pass --skip-invalid to send the other {} and record the invalid {rows} as skipped/invalid.",
                count(planned, "message"),
            )
        } else {
            format!(
                "Fix {them}, or pass --skip-invalid to record the invalid {rows} as skipped/invalid; no other message would be sent now."
            )
        }),
    }
}

/// What a real run started now would do, in a sentence or two.
pub fn verdict(t: &Tally, skip_invalid: bool) -> Verdict {
    let planned = t.status(Status::Planned);
    let deferred = t.status(Status::Deferred);
    let invalid = t.reason(Reason::Invalid);
    let breakdown = |s: Status| t.details(s).iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
    let them = if deferred == 1 { "it" } else { "them" };
    let later = match t.opens {
        Some(at) => format!("a later run sends {them}, from {} at the earliest", crate::outcome::short(at)),
        None => format!("a later run sends {them}"),
    };
    if invalid > 0 && !skip_invalid {
        return stop(invalid, planned);
    }
    if t.rows == 0 {
        return Verdict { level: Level::Wait, headline: "The recipients file has no data rows.".into(), advice: None };
    }
    if planned == 0 && deferred == t.rows {
        return Verdict {
            level: Level::Wait,
            headline: format!(
                "Nothing would be sent now: {} deferred ({}).",
                if t.rows == 1 { "the only row is".to_string() } else { format!("all {} rows are", t.rows) },
                breakdown(Status::Deferred)
            ),
            advice: Some(format!("{}{}.", later[..1].to_uppercase(), &later[1..])),
        };
    }
    let waiting = (deferred > 0)
        .then(|| format!("{} deferred ({}): {later}.", count(deferred, "row"), breakdown(Status::Deferred)));
    if planned == 0 {
        return Verdict {
            level: Level::Wait,
            headline: format!("Nothing would be sent now: {}.", t.line()),
            advice: waiting,
        };
    }
    Verdict {
        level: Level::Go,
        headline: format!("A real run now would send {} ({}).", count(planned, "message"), breakdown(Status::Planned)),
        advice: waiting,
    }
}

/// What a reason means, for people reading a preview.
pub fn explain(r: Reason) -> &'static str {
    match r {
        Reason::Duplicate => "the same once_per key as an earlier row of the file",
        Reason::AlreadySent => "sent by an earlier run",
        Reason::Suppressed => "on the suppression list, or opted out",
        Reason::NoRoute => "the window is not open and no template is configured",
        Reason::Invalid => "the row cannot be sent as it is",
        Reason::Expired => "past schedule.not_after",
        Reason::QuietHours => "inside quiet hours in the recipient's time zone; a later run sends them",
        Reason::NotBefore => "before schedule.not_before; a later run sends them",
        Reason::PreviouslyFailed => "failed in an earlier run; --retry-failed sends them again",
        Reason::PreviouslyUnknown => "outcome unknown from an earlier run; --retry-unknown sends them again",
        Reason::DailyLimit => "limits.templates_per_day reached; a later run sends them",
        Reason::Repeat => "the same message went to this customer from another campaign within 30 days",
        Reason::FrequencyCap => "limits.per_recipient reached for this customer; a later run sends them",
        Reason::Network => "the request never left (network); a later run sends them",
        Reason::RetryAfter => "Connectly kept asking to wait (429, Retry-After); a later run sends them",
    }
}
