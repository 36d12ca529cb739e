//! Why a real run stopped early (exit 3), and what to tell the user. The
//! summary prints it once.

use std::fmt;

use crate::wire::client::Abort;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The API refused the whole run (key, business, redirect, limits).
    Api(Abort),
    /// The API at `host` could not be reached: by no request of the run,
    /// or (`midway`) by this many rows in a row after it had answered.
    Unreachable { host: String, last: String, midway: Option<u32> },
    /// `retry.abort_after` failures in a row.
    FailureStreak { count: u32, last: String },
    /// SIGINT or SIGTERM.
    Signal(&'static str),
    /// The ledger could not be written.
    Ledger(String),
    /// The pacing thread could not run.
    Pacer,
    /// Reading the recipients again failed during the run.
    Rows(String),
}

impl Stop {
    /// What the summary says, knowing how many answers the ledger could not
    /// record: a signal's stop then does not claim they all were.
    pub fn told(&self, unrecorded: usize) -> String {
        match self {
            Stop::Signal(name) if unrecorded > 0 => format!(
                "interrupted by {name}; requests in flight finished, but the ledger could not record every answer (listed below)"
            ),
            stop => stop.to_string(),
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const RESUME: &str = "run the same command again; it sends only what is still owed";
        match self {
            Stop::Api(a) => write!(f, "{a}\n  then {RESUME}"),
            Stop::Unreachable { host, last, midway: None } => write!(
                f,
                "the Connectly API at {host} could not be reached; nothing was sent and every recipient is still owed ({last})\n  hint: check the network and CONNECTLY_BASE_URL, then {RESUME}"
            ),
            Stop::Unreachable { host, last, midway: Some(rows) } => write!(
                f,
                "the Connectly API at {host} could no longer be reached: {rows} recipients in a row got no request through after their retries ({last}); the run stopped, what was sent is recorded, and every recipient not sent is still owed\n  hint: check the network and CONNECTLY_BASE_URL, then {RESUME}"
            ),
            Stop::FailureStreak { count, last } => write!(
                f,
                "{count} failures in a row (retry.abort_after); the last: {last}\n  hint: fix the cause (`campaign status FILE --format csv` lists the failures), then {RESUME}"
            ),
            Stop::Signal(name) => {
                write!(f, "interrupted by {name}; requests in flight finished and were recorded\n  hint: {RESUME}")
            }
            Stop::Ledger(e) => write!(
                f,
                "the ledger could not be written: {e}\n  hint: every request that went out is recorded up to here; free the disk or stop the other process holding the ledger, then {RESUME}"
            ),
            Stop::Pacer => write!(f, "the pacing thread could not run, and nothing is sent unpaced\n  hint: {RESUME}"),
            Stop::Rows(e) => write!(
                f,
                "reading the recipients again failed (did the file change during the run?): {e}\n  hint: {RESUME}"
            ),
        }
    }
}
