//! The summaries on stderr: one for a dry run, one for a real run. Each
//! starts with one line of counts whose every breakdown adds up, then says
//! what is left to do and which flag or command does it.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use super::tally::{INVALID_LISTED, Tally, count};
use super::text::{Style, invalid_line, row_line};
use crate::outcome::{Reason, Status};

/// A line on stderr; a closed stderr is not worth a panic.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// What a dry run's summary says.
pub struct PreviewSummary<'a> {
    pub campaign: &'a str,
    pub at: Timestamp,
    pub tally: &'a Tally,
    pub skip_invalid: bool,
    /// The invalid rows are already listed on stdout (the text preview).
    pub listed: bool,
}

/// The dry run's summary: the counts, and every invalid row (row, field,
/// reason, line) unless stdout listed them, with what a real run would do.
pub fn print_preview(s: &PreviewSummary) {
    let style = Style::stderr();
    let t = s.tally;
    note(&format!("{}: dry run as of {} — {}", style.bold(s.campaign), crate::outcome::short(s.at), t.line()));
    repeats(t);
    let invalid = t.reason(Reason::Invalid);
    if invalid == 0 {
        return;
    }
    if s.skip_invalid {
        note(&format!("{}: recorded as skipped/invalid by a real run (--skip-invalid)", count(invalid, "invalid row")));
    } else {
        note(&format!("{}: a real run would stop before sending anything (exit 2).", count(invalid, "invalid row")));
    }
    if !s.listed {
        for o in &t.invalid {
            note(&format!("  {}", invalid_line(o)));
        }
        if invalid > INVALID_LISTED as u64 {
            note(&format!("  … and {} more", invalid - INVALID_LISTED as u64));
        }
    }
    if !s.skip_invalid {
        let them = if invalid == 1 { "it" } else { "them" };
        note(&format!("  hint: fix {them}, or pass --skip-invalid to send the rest"));
    }
}

/// What a real run's summary says.
pub struct RunSummary<'a> {
    pub campaign: &'a str,
    pub file: &'a Path,
    pub tally: &'a Tally,
    /// Recipients owed when the run started (preflight): to send now, or deferred.
    pub owed_before: u64,
    /// Of those, the ones the run settled as skipped while sending.
    pub skipped_while_sending: u64,
    pub requests: u64,
    pub elapsed: Duration,
    /// Why the run stopped early, if it did.
    pub abort: Option<&'a str>,
    pub quiet: bool,
    /// List the first failures (the text format; JSONL carries them on stdout).
    pub list_failures: bool,
    /// The pace the run reached, lower than configured after 429s.
    pub pace: crate::outcome::Pace,
    pub limit: Option<u64>,
}

impl RunSummary<'_> {
    /// Recipients a later run still owes: those owed at the start that this
    /// run did not settle (sent, failed, unknown, or skipped while sending).
    pub fn still_owed(&self) -> u64 {
        let t = self.tally;
        let settled =
            t.status(Status::Sent) + t.status(Status::Failed) + t.status(Status::Unknown) + self.skipped_while_sending;
        self.owed_before.saturating_sub(settled)
    }
}

/// The real run's summary: the counts, time and rate; the first failures;
/// what is still owed and why; what earlier runs left; the abort reason.
pub fn print_run(s: &RunSummary) {
    let style = Style::stderr();
    let t = s.tally;
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.requests as f64 / secs } else { 0.0 };
    note(&format!(
        "{}: {} — {secs:.1} s, {}, {rate:.1}/s",
        style.bold(s.campaign),
        t.line(),
        count(s.requests, "request")
    ));
    if s.list_failures && !s.quiet {
        for o in &t.first_failures {
            note(&format!("  {}", row_line(o, &style)));
        }
        if t.status(Status::Failed) + t.status(Status::Unknown) > t.first_failures.len() as u64 {
            note(&format!("  … `campaign status {} --format csv` lists every failure", s.file.display()));
        }
    }
    let p = s.pace;
    if p.throttled > 0 {
        note(&format!(
            "  Connectly answered 429 (too many requests) {}: the pace was slowed to {:.0}/s at the lowest and was {:.0}/s at the end (configured {:.0}/s)",
            count(p.throttled, "time"),
            p.lowest,
            p.last,
            p.configured
        ));
    }
    if s.limit == Some(0) && s.owed_before > 0 {
        note(&format!("--limit 0: nothing was sent; {} owed", count(s.owed_before, "recipient")));
    }
    repeats(t);
    owed(s);
    if let Some(reason) = s.abort {
        note(&format!("error: run aborted: {reason}"));
    }
}

/// Rows another campaign of the ledger already sent the same message to:
/// which campaign, and the flag that sends them anyway.
fn repeats(t: &Tally) {
    let n = t.reason(Reason::Repeat);
    if let Some(first) = t.first_repeat.as_deref().filter(|_| n > 0) {
        note(&format!(
            "{} skipped as repeats (the same message from another campaign of the ledger within 30 days), e.g. {first}",
            count(n, "recipient")
        ));
        note("  hint: a renamed or copied campaign does not make a message new; --allow-repeat sends them anyway");
    }
}

/// What is still owed after the run, adding up: not attempted plus deferred.
fn owed(s: &RunSummary) {
    let t = s.tally;
    let still = s.still_owed();
    let deferred = t.status(Status::Deferred).min(still);
    let not_attempted = still - deferred;
    if still > 0 {
        let mut parts = Vec::new();
        if not_attempted > 0 {
            parts.push(format!("{not_attempted} not attempted"));
        }
        if deferred > 0 {
            parts.push(format!("{deferred} deferred"));
        }
        note(&format!(
            "{} still owed ({}): run the same command again to send {}",
            count(still, "recipient"),
            parts.join(", "),
            if still == 1 { "it" } else { "them" },
        ));
    } else if t.status(Status::Sent) + t.status(Status::Failed) + t.status(Status::Unknown) == 0
        && t.reason(Reason::PreviouslyFailed) + t.reason(Reason::PreviouslyUnknown) == 0
        && s.abort.is_none()
        && !s.quiet
    {
        note("nothing owed: every recipient is already sent or skipped");
    }
    let earlier = [
        (Reason::PreviouslyFailed, "failed in an earlier run", "--retry-failed"),
        (Reason::PreviouslyUnknown, "left unknown by an earlier run", "--retry-unknown"),
    ];
    for (reason, what, flag) in earlier {
        let n = t.reason(reason);
        if n > 0 && !s.quiet {
            note(&format!(
                "{} {what}: not resent ({flag} resends {})",
                count(n, "recipient"),
                if n == 1 { "it" } else { "them" }
            ));
        }
    }
}
