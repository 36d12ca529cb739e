//! One error type for everything the user can cause or see, and the exit
//! code each one maps to (SPEC §5).

use std::fmt;
use std::path::{Path, PathBuf};

/// What a run ended with, as the process exit code cron acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done, nothing failed.
    Done = 0,
    /// Done, some recipients failed.
    SomeFailed = 1,
    /// Invalid input; nothing was sent.
    Invalid = 2,
    /// Aborted; a re-run resumes.
    Aborted = 3,
}

/// Where in the user's files a problem is.
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub row: Option<u64>,
    pub field: Option<String>,
}

impl Location {
    pub fn line(line: usize, column: Option<usize>) -> Self {
        Location { line: Some(line), column, ..Default::default() }
    }
    pub fn field(field: impl Into<String>) -> Self {
        Location { field: Some(field.into()), ..Default::default() }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            match self.column {
                Some(c) => parts.push(format!("line {line}, column {c}")),
                None => parts.push(format!("line {line}")),
            }
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(field) = &self.field {
            parts.push(format!("`{field}`"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One invalid CSV row, found by preflight.
#[derive(Debug, Clone)]
pub struct RowProblem {
    pub row: u64,
    /// The line of the file the row starts on.
    pub line: Option<u64>,
    pub field: String,
    pub reason: String,
}

impl RowProblem {
    /// The problem of an invalid row's outcome.
    pub fn of(o: &crate::outcome::Outcome) -> Option<RowProblem> {
        let e = o.error.as_ref()?;
        Some(RowProblem {
            row: o.row,
            line: o.line,
            field: e.field.clone().unwrap_or_default(),
            reason: e.message.clone(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input in a file: campaign YAML, CSV, template.
    #[error("{0}")]
    Input(Box<InputError>),

    /// Bad command-line usage not caught by clap.
    #[error("{0}")]
    Usage(String),

    /// Preflight found invalid rows; nothing was sent.
    #[error("{}", preflight_message(.csv, .problems, *.total))]
    Preflight { csv: PathBuf, problems: Vec<RowProblem>, total: usize },

    /// Another run of this campaign holds the lock.
    #[error(
        "campaign `{campaign}` is already running ({holder}); this run did nothing.\n  hint: wait for it to finish, or check that process; a crashed holder releases the lock by itself"
    )]
    Locked { campaign: String, holder: String },

    /// The run stopped early; a re-run resumes.
    #[error("run aborted: {0}\n  hint: fix the cause and run the same command again; it sends only what is still owed")]
    Aborted(String),

    /// The ledger could not be read or written.
    #[error("ledger {}: {what}\n  hint: {fix}", .path.display())]
    Ledger { path: PathBuf, what: String, fix: String },

    /// Anything else from the operating system.
    #[error("{}: {}", .path.display(), io_words(.source))]
    Io { path: PathBuf, source: std::io::Error },

    /// Stdout was closed by its reader (`| head`): the program ends
    /// quietly, with exit 0 (SPEC §5).
    #[error("stdout was closed")]
    StdoutClosed,
}

/// Where and what, and what to do about it.
#[derive(Debug)]
pub struct InputError {
    pub path: PathBuf,
    pub at: Location,
    pub what: String,
    pub fix: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}{}\n  hint: {}", self.path.display(), location_prefix(&self.at), self.what, self.fix)
    }
}

fn location_prefix(at: &Location) -> String {
    let s = at.to_string();
    if s.is_empty() { s } else { format!("{s}: ") }
}

fn preflight_message(csv: &Path, problems: &[RowProblem], total: usize) -> String {
    let mut s = format!(
        "{}: {} invalid row{} found before sending; nothing was sent.\n",
        csv.display(),
        total,
        if total == 1 { "" } else { "s" }
    );
    for p in problems {
        let line = p.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        s.push_str(&format!("  row {}: `{}`: {}{line}\n", p.row, p.field, p.reason));
    }
    if total > problems.len() {
        s.push_str(&format!("  … and {} more\n", total - problems.len()));
    }
    s.push_str("  hint: fix these rows, or pass --skip-invalid to send the rest and record these as skipped/invalid");
    s
}

/// An operating-system error in words, without its `(os error N)` tail.
pub fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "there is no such file".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "it is a folder, not a file".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error ") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

impl Error {
    pub fn input(path: &Path, at: Location, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input(Box::new(InputError { path: path.to_path_buf(), at, what: what.into(), fix: fix.into() }))
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// A failed write to stdout: closed by its reader, or a real error.
    pub fn stdout(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            _ => Error::io(Path::new("<stdout>"), e),
        }
    }

    pub fn ledger(path: &Path, what: impl fmt::Display) -> Self {
        Error::Ledger {
            path: path.to_path_buf(),
            what: what.to_string(),
            fix: "check the path is writable and not on a network filesystem; --state PATH moves the ledger".into(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Input(_) | Error::Usage(_) | Error::Preflight { .. } => ExitCode::Invalid,
            Error::Locked { .. } | Error::Aborted(_) => ExitCode::Aborted,
            Error::Ledger { .. } | Error::Io { .. } => ExitCode::Aborted,
            Error::StdoutClosed => ExitCode::Done,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
