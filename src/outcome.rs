//! What happened to each row: the event every stage emits and every
//! reporter consumes. Serialized as-is for `--format jsonl` (SPEC §5).

use crate::json::Json;
use serde::Serialize;

use jiff::Timestamp;

use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Planned,
    Sent,
    Failed,
    Skipped,
    Deferred,
    /// The request may or may not have been accepted (interrupted mid-flight).
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Deferred => "deferred",
            Status::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Duplicate,
    AlreadySent,
    Suppressed,
    NoRoute,
    Invalid,
    Expired,
    QuietHours,
    NotBefore,
    /// Failed in an earlier run; resent only with `--retry-failed`.
    PreviouslyFailed,
    /// Outcome unknown from an earlier run; resent only with `--retry-unknown`.
    PreviouslyUnknown,
    /// `limits.templates_per_day` reached; a later run sends it.
    DailyLimit,
    /// The same message went to this customer from another campaign of the
    /// ledger within 30 days; sent only with `--allow-repeat`.
    Repeat,
    /// `limits.per_recipient` reached for this customer; a later run sends it.
    FrequencyCap,
    /// The request never left (connection refused, DNS, TLS) after every
    /// attempt; a later run sends it.
    Network,
    /// The API asked to wait longer than `retry.max_backoff`; a later run sends it.
    RetryAfter,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Duplicate => "duplicate",
            Reason::AlreadySent => "already_sent",
            Reason::Suppressed => "suppressed",
            Reason::NoRoute => "no_route",
            Reason::Invalid => "invalid",
            Reason::Expired => "expired",
            Reason::QuietHours => "quiet_hours",
            Reason::NotBefore => "not_before",
            Reason::PreviouslyFailed => "previously_failed",
            Reason::PreviouslyUnknown => "previously_unknown",
            Reason::DailyLimit => "daily_limit",
            Reason::Repeat => "repeat",
            Reason::FrequencyCap => "frequency_cap",
            Reason::Network => "network",
            Reason::RetryAfter => "retry_after",
        }
    }

    /// The status a row held for this reason has: deferred ones are sent by
    /// a later run, skipped ones are not (without a flag).
    pub fn status(self) -> Status {
        match self {
            Reason::QuietHours
            | Reason::NotBefore
            | Reason::DailyLimit
            | Reason::FrequencyCap
            | Reason::Network
            | Reason::RetryAfter => Status::Deferred,
            _ => Status::Skipped,
        }
    }
}

/// An error attached to a row: an API answer, or why the row is invalid.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    pub http: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    /// For invalid rows: the column or payload field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl RowError {
    /// An invalid row: the field at fault and what is wrong with it.
    pub fn invalid(e: FieldError) -> Self {
        RowError { http: None, code: None, field: e.at.field, message: e.what }
    }
}

/// The exact request a row is (or would be) sent as.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub path: &'static str,
    pub body: Json,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub row: u64,
    /// The line of the CSV file the row starts on (the header is line 1);
    /// it differs from `row + 1` after a cell that spans lines.
    #[serde(skip)]
    pub line: Option<u64>,
    pub recipient: Option<String>,
    pub key: Option<String>,
    pub route: Option<Route>,
    pub status: Status,
    pub reason: Option<Reason>,
    /// The business number the message goes (or went) from, when known.
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    pub message_id: Option<String>,
    pub attempts: Option<u32>,
    pub fallback: Option<bool>,
    pub error: Option<RowError>,
    /// Why this route, for people ("window open until …").
    #[serde(skip)]
    pub note: Note,
    /// A template message as the customer reads it, when the catalogue
    /// is known (dry runs): JSONL's `template` field.
    #[serde(rename = "template", skip_serializing_if = "Option::is_none")]
    pub filled: Option<Box<Filled>>,
}

/// A template with the row's values filled in, from the business's catalogue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Filled {
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION` (or a legacy name).
    pub category: Option<String>,
    /// A text header, filled; media headers are the request's `header_*`.
    pub header: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<FilledButton>,
}

/// A template button: its title and, for a URL button, the URL filled in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FilledButton {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Outcome {
    pub fn new(row: u64) -> Self {
        Outcome {
            row,
            line: None,
            recipient: None,
            key: None,
            route: None,
            status: Status::Planned,
            reason: None,
            sender: None,
            request: None,
            message_id: None,
            attempts: None,
            fallback: None,
            error: None,
            note: Note::None,
            filled: None,
        }
    }

    /// The row's error as a field error in its CSV row, when it has one.
    pub fn field_error(&self) -> Option<FieldError> {
        let e = self.error.as_ref()?;
        Some(FieldError::new(e.field.clone().unwrap_or_default(), e.message.clone()).in_row(self.row, self.line))
    }

    /// One JSON line, newline included: the text serde makes of the
    /// outcome (a test holds the two equal), written field by field, since
    /// a dry run writes a million of them and most of their strings need
    /// no escaping.
    pub fn write_jsonl(&self, out: &mut Vec<u8>) {
        use crate::json::{opt_field, raw_field, str_field};
        use std::io::Write as _;
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{{\"row\":{}", self.row);
        opt_field(out, b",\"recipient\":", self.recipient.as_deref());
        opt_field(out, b",\"key\":", self.key.as_deref());
        opt_field(out, b",\"route\":", self.route.map(Route::as_str));
        str_field(out, b",\"status\":", self.status.as_str());
        opt_field(out, b",\"reason\":", self.reason.map(Reason::as_str));
        opt_field(out, b",\"sender\":", self.sender.as_deref());
        if let Some(r) = &self.request {
            str_field(out, b",\"request\":{\"path\":", r.path);
            raw_field(out, b",\"body\":", r.body.get());
            out.push(b'}');
        }
        opt_field(out, b",\"message_id\":", self.message_id.as_deref());
        match self.attempts {
            Some(n) => drop(write!(out, ",\"attempts\":{n}")),
            None => out.extend_from_slice(b",\"attempts\":null"),
        }
        out.extend_from_slice(match self.fallback {
            Some(true) => b",\"fallback\":true",
            Some(false) => b",\"fallback\":false",
            None => b",\"fallback\":null",
        });
        out.extend_from_slice(b",\"error\":");
        let _ = serde_json::to_writer(&mut *out, &self.error);
        if let Some(f) = &self.filled {
            out.extend_from_slice(b",\"template\":");
            let _ = serde_json::to_writer(&mut *out, f);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// How a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Session,
    Template,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Session => "session",
            Route::Template => "template",
        }
    }
}

/// The customer service window as of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Open; it closes (for WhatsApp) at `closes`.
    Open { closes: Timestamp },
    /// Closed since `closed` (or closing within the margin).
    Closed { closes: Timestamp },
    /// No inbound message known.
    Unknown,
}

/// Why a route was chosen, for people. Kept as data and formatted only
/// when shown: a dry run of a million rows shows a handful.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Note {
    #[default]
    None,
    Window(Window, &'static str),
    Text(String),
    /// Held by the schedule until this instant (`not_before`, quiet hours' end).
    Until(Timestamp),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::None => Ok(()),
            Note::Window(w, suffix) => {
                match w {
                    Window::Open { closes } => write!(f, "window open until {}", short(*closes))?,
                    Window::Closed { closes } => write!(f, "window closed at {}", short(*closes))?,
                    Window::Unknown => f.write_str("no inbound message known")?,
                }
                f.write_str(suffix)
            }
            Note::Text(t) => f.write_str(t),
            Note::Until(t) => write!(f, "until {}", short(*t)),
        }
    }
}

/// `2026-11-20 14:02Z`: minutes are what a person reads.
pub fn short(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%MZ").to_string()
}

/// The ledger's and the sequencer's handle on a `once_per` key.
pub fn key_hash(key: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key.as_bytes())
}

/// The pace the run reached, for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub configured: f64,
    pub lowest: f64,
    pub last: f64,
    pub throttled: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: [Status; 6] =
        [Status::Planned, Status::Sent, Status::Failed, Status::Skipped, Status::Deferred, Status::Unknown];
    const REASONS: [Reason; 15] = [
        Reason::Duplicate,
        Reason::AlreadySent,
        Reason::Suppressed,
        Reason::NoRoute,
        Reason::Invalid,
        Reason::Expired,
        Reason::QuietHours,
        Reason::NotBefore,
        Reason::PreviouslyFailed,
        Reason::PreviouslyUnknown,
        Reason::DailyLimit,
        Reason::Repeat,
        Reason::FrequencyCap,
        Reason::Network,
        Reason::RetryAfter,
    ];

    fn line(o: &Outcome) -> String {
        let mut out = Vec::new();
        o.write_jsonl(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_jsonl_line_is_what_serde_makes_of_the_outcome() {
        let mut outcomes = vec![Outcome::new(1)];
        let mut o = Outcome::new(123_456);
        o.recipient = Some("+16045551234".into());
        o.key = Some("k \"quoted\" \\ back\nline\u{1}\u{7f} é 😀".into());
        o.route = Some(Route::Session);
        o.sender = Some("+14151110001".into());
        o.request = Some(Request {
            path: "/v1/businesses/b/send/messages",
            body: Json::of(&serde_json::json!({"a": "b\"c", "n": [1, 2]})),
        });
        o.message_id = Some("01FRR".into());
        o.attempts = Some(3);
        o.fallback = Some(true);
        o.error = Some(RowError { http: Some(400), code: Some("E".into()), message: "bad \"x\"".into(), field: None });
        o.filled = Some(Box::new(Filled {
            category: Some("MARKETING".into()),
            header: None,
            body: "Hi\tthere".into(),
            footer: Some("f".into()),
            buttons: vec![FilledButton { text: "Go".into(), url: Some("https://x/\"".into()) }],
        }));
        outcomes.push(o.clone());
        o.route = Some(Route::Template);
        o.fallback = Some(false);
        o.error = Some(RowError { http: None, code: None, message: "m".into(), field: Some("phone".into()) });
        outcomes.push(o);
        // Each kind of character that needs escaping, alone in a string.
        for special in ["a\"b", "a\\b", "a\nb", "a\u{1f}b", "plain é"] {
            let mut o = Outcome::new(2);
            o.key = Some(special.into());
            outcomes.push(o);
        }
        for (i, status) in STATUSES.into_iter().enumerate() {
            for reason in REASONS.into_iter().skip(i % 2) {
                let mut o = Outcome::new(7);
                o.status = status;
                o.reason = Some(reason);
                outcomes.push(o);
            }
        }
        for o in &outcomes {
            assert_eq!(line(o), serde_json::to_string(o).unwrap() + "\n");
        }
    }
}
