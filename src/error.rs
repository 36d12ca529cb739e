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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// A field of the user's input at fault: where (file line, CSV row, column
/// or payload field), what is wrong, and what to do about it. Every check
/// that names a field says it in this one shape; the caller that knows the
/// file turns it into an [`Error`], a row's outcome, or a preflight line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldError {
    pub at: Location,
    pub what: String,
    /// What to do; empty where one piece of advice covers many (a
    /// preflight's rows, a row's outcome).
    pub fix: String,
}

impl FieldError {
    /// `field` is wrong: `what`.
    pub fn new(field: impl Into<String>, what: impl Into<String>) -> Self {
        FieldError { at: Location::field(field), what: what.into(), fix: String::new() }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    /// The field's name, or "" when the problem is with the whole.
    pub fn field(&self) -> &str {
        self.at.field.as_deref().unwrap_or("")
    }

    /// The same problem, its field named from further out: `session.message.` + `text`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.at.field = Some(format!("{prefix}{}", self.field()));
        self
    }

    /// The same problem, in CSV row `row` (which starts on `line` of the file).
    pub fn in_row(mut self, row: u64, line: Option<u64>) -> Self {
        self.at.row = Some(row);
        self.at.line = line.and_then(|l| usize::try_from(l).ok());
        self
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
    Preflight { csv: PathBuf, problems: Vec<FieldError>, total: usize },

    /// Another run of this campaign holds the lock.
    #[error(
        "campaign `{campaign}` is already running ({holder}); this run did nothing.\n  hint: wait for it to finish, or check that process; a crashed holder releases the lock by itself"
    )]
    Locked { campaign: String, holder: String },

    /// The run stopped early; a re-run resumes.
    #[error("run aborted: {0}\n  hint: fix the cause and run the same command again; it sends only what is still owed")]
    Aborted(String),

    /// A command other than a run could not finish; the hint says how to
    /// try again.
    #[error("{what}\n  hint: {hint}")]
    Stopped { what: String, hint: String },

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

/// A problem in one of the user's files: the file, and the field error in it.
#[derive(Debug)]
pub struct InputError {
    pub path: PathBuf,
    pub error: FieldError,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.error;
        write!(f, "{}: {}{}\n  hint: {}", self.path.display(), location_prefix(&e.at), e.what, e.fix)
    }
}

fn location_prefix(at: &Location) -> String {
    let s = at.to_string();
    if s.is_empty() { s } else { format!("{s}: ") }
}

fn preflight_message(csv: &Path, problems: &[FieldError], total: usize) -> String {
    let mut s = format!(
        "{}: {} invalid row{} found before sending; nothing was sent.\n",
        csv.display(),
        total,
        if total == 1 { "" } else { "s" }
    );
    for p in problems {
        let line = p.at.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        s.push_str(&format!("  row {}: `{}`: {}{line}\n", p.at.row.unwrap_or(0), p.field(), p.what));
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
        Error::in_file(path, FieldError { at, what: what.into(), fix: fix.into() })
    }

    /// A field error found in the file at `path`.
    pub fn in_file(path: &Path, error: FieldError) -> Self {
        Error::Input(Box::new(InputError { path: path.to_path_buf(), error }))
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
            Error::Locked { .. } | Error::Aborted(_) | Error::Stopped { .. } => ExitCode::Aborted,
            Error::Ledger { .. } | Error::Io { .. } => ExitCode::Aborted,
            Error::StdoutClosed => ExitCode::Done,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preflight_lists_each_rows_field_error_with_its_line() {
        let problems = vec![
            FieldError::new("phone", "`12`: too short").in_row(3, Some(4)),
            FieldError::new("body_1", "renders empty").under("template.parameters.").in_row(7, None),
        ];
        let e = Error::Preflight { csv: PathBuf::from("people.csv"), problems, total: 3 };
        assert_eq!(
            e.to_string(),
            "people.csv: 3 invalid rows found before sending; nothing was sent.\n  row 3: `phone`: `12`: too short (line 4)\n  row 7: `template.parameters.body_1`: renders empty\n  … and 1 more\n  hint: fix these rows, or pass --skip-invalid to send the rest and record these as skipped/invalid"
        );
    }

    #[test]
    fn an_input_error_names_file_place_field_and_advice() {
        let at = Location { line: Some(5), ..Location::field("rate.burst") };
        let e = Error::input(Path::new("c.yaml"), at, "rate.burst is 0", "write a whole number");
        assert_eq!(e.to_string(), "c.yaml: line 5, `rate.burst`: rate.burst is 0\n  hint: write a whole number");
    }
}
