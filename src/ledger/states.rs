//! The states the ledger records, as types: each message's status, each
//! run's outcome, each message's furthest delivery state. They are stored
//! as the same words as ever, so ledgers written earlier read back as they
//! were; a word this version does not know reads back as an error that
//! says so, never as a guess.

use std::fmt;
use std::sync::LazyLock;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;

use crate::outcome::Status;

/// A message's status in `deliveries.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Recorded before its request left; no answer recorded yet.
    InFlight,
    Sent,
    Failed,
    Skipped,
    Deferred,
    /// The request may or may not have been accepted.
    Unknown,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 6] = [
        MessageStatus::InFlight,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Skipped,
        MessageStatus::Deferred,
        MessageStatus::Unknown,
    ];

    /// Accepted or possibly accepted: what the repeat guard, the caps and
    /// `templates_per_day` count, and who last messaged a customer.
    pub const REACHED: [MessageStatus; 3] = [MessageStatus::Sent, MessageStatus::InFlight, MessageStatus::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::InFlight => "in_flight",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Skipped => "skipped",
            MessageStatus::Deferred => "deferred",
            MessageStatus::Unknown => "unknown",
        }
    }

    pub fn parse(word: &str) -> Option<MessageStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// The status as an SQL literal, for a query that names it: `'sent'`.
    pub fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }

    /// The status an answered (or held) row is recorded with; a row only
    /// planned is never recorded.
    pub fn of(status: Status) -> Option<MessageStatus> {
        Some(match status {
            Status::Planned => return None,
            Status::Sent => MessageStatus::Sent,
            Status::Failed => MessageStatus::Failed,
            Status::Skipped => MessageStatus::Skipped,
            Status::Deferred => MessageStatus::Deferred,
            Status::Unknown => MessageStatus::Unknown,
        })
    }
}

/// `('sent','in_flight')`: the statuses as an SQL list, for `status IN …`.
pub fn sql_list(statuses: &[MessageStatus]) -> String {
    let words: Vec<String> = statuses.iter().map(|s| s.sql()).collect();
    format!("({})", words.join(","))
}

/// `status IN ('sent','in_flight','unknown')`: the one predicate for a
/// message accepted or possibly accepted (`MessageStatus::REACHED`).
pub static REACHED: LazyLock<String> = LazyLock::new(|| format!("status IN {}", sql_list(&MessageStatus::REACHED)));

/// How a run ended, in `runs.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every owed row was answered, none failed.
    Done,
    /// It ran to the end and some rows failed.
    Failed,
    /// It stopped early (exit 3); a re-run resumes.
    Aborted,
}

impl RunOutcome {
    pub const ALL: [RunOutcome; 3] = [RunOutcome::Done, RunOutcome::Failed, RunOutcome::Aborted];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Failed => "failed",
            RunOutcome::Aborted => "aborted",
        }
    }

    pub fn parse(word: &str) -> Option<RunOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == word)
    }
}

/// How far a message got, from webhooks (`statuses.status`), in the order
/// a message moves through them: a later state never gives way to an
/// earlier one. The number is the `rank` stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Sent = 1,
    Delivered = 2,
    Read = 3,
    /// A failure after delivery is not reported by WhatsApp; treated as final.
    #[serde(rename = "delivery_failed")]
    Failed = 4,
}

impl Delivery {
    pub const ALL: [Delivery; 4] = [Delivery::Sent, Delivery::Delivered, Delivery::Read, Delivery::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "delivery_failed",
        }
    }

    pub fn parse(word: &str) -> Option<Delivery> {
        Self::ALL.into_iter().find(|d| d.as_str() == word)
    }

    /// The `rank` column: later states rank higher.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// The state as an SQL literal: `'delivery_failed'`.
    pub fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }
}

/// A word in the ledger this version does not know (a newer version, or a
/// hand edit, wrote it).
#[derive(Debug)]
struct Unrecognised {
    what: &'static str,
    word: String,
}

impl fmt::Display for Unrecognised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "holds a {} `{}` this version of campaign does not know", self.what, self.word)
    }
}

impl std::error::Error for Unrecognised {}

/// Read a word and parse it, or say which word was not understood.
fn read<T>(value: ValueRef<'_>, what: &'static str, parse: fn(&str) -> Option<T>) -> FromSqlResult<T> {
    let word = value.as_str()?;
    parse(word).ok_or_else(|| FromSqlError::other(Unrecognised { what, word: word.to_string() }))
}

/// Whether a read failed on a word this version does not know; its words.
pub(super) fn unrecognised(e: &rusqlite::Error) -> Option<String> {
    match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, err) => {
            err.downcast_ref::<Unrecognised>().map(|u| u.to_string())
        }
        _ => None,
    }
}

macro_rules! stored_as_text {
    ($t:ty, $what:literal) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                read(value, $what, <$t>::parse)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_as_text!(MessageStatus, "message status");
stored_as_text!(RunOutcome, "run outcome");
stored_as_text!(Delivery, "delivery state");

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// Written through SQL and read back: the stored word, and the value.
    fn round_trip<T: ToSql + FromSql>(value: T) -> (String, T) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(v TEXT)").unwrap();
        conn.execute("INSERT INTO t(v) VALUES (?1)", [&value]).unwrap();
        let word: String = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        let back: T = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        (word, back)
    }

    #[test]
    fn message_statuses_are_stored_as_the_words_earlier_ledgers_hold() {
        let words = ["in_flight", "sent", "failed", "skipped", "deferred", "unknown"];
        for (s, word) in MessageStatus::ALL.into_iter().zip(words) {
            assert_eq!(round_trip(s), (word.to_string(), s));
            assert_eq!(serde_json::to_value(s).unwrap(), word);
        }
    }

    #[test]
    fn run_outcomes_are_stored_as_the_words_earlier_ledgers_hold() {
        for (o, word) in RunOutcome::ALL.into_iter().zip(["done", "failed", "aborted"]) {
            assert_eq!(round_trip(o), (word.to_string(), o));
            assert_eq!(serde_json::to_value(o).unwrap(), word);
        }
    }

    #[test]
    fn delivery_states_keep_their_words_and_ranks() {
        let stored = [("sent", 1), ("delivered", 2), ("read", 3), ("delivery_failed", 4)];
        for (d, (word, rank)) in Delivery::ALL.into_iter().zip(stored) {
            assert_eq!(round_trip(d), (word.to_string(), d));
            assert_eq!(d.rank(), rank);
            assert_eq!(Delivery::parse(word), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), word);
        }
    }

    #[test]
    fn delivery_states_are_ordered_as_a_message_moves_through_them() {
        assert!(Delivery::Sent < Delivery::Delivered);
        assert!(Delivery::Delivered < Delivery::Read);
        assert!(Delivery::Read < Delivery::Failed);
        let mut shuffled = [Delivery::Read, Delivery::Failed, Delivery::Sent, Delivery::Delivered];
        shuffled.sort();
        assert_eq!(shuffled, Delivery::ALL);
        assert_eq!(Delivery::parse("queued"), None);
    }

    #[test]
    fn an_unknown_stored_word_reads_back_as_an_error_in_words() {
        let conn = Connection::open_in_memory().unwrap();
        let e = conn.query_row("SELECT 'bounced'", [], |r| r.get::<_, MessageStatus>(0)).unwrap_err();
        assert_eq!(
            unrecognised(&e).as_deref(),
            Some("holds a message status `bounced` this version of campaign does not know")
        );
        let e = conn.query_row("SELECT 'paused'", [], |r| r.get::<_, RunOutcome>(0)).unwrap_err();
        assert_eq!(
            unrecognised(&e).as_deref(),
            Some("holds a run outcome `paused` this version of campaign does not know")
        );
        let e = conn.query_row("SELECT 'queued'", [], |r| r.get::<_, Delivery>(0)).unwrap_err();
        assert_eq!(
            unrecognised(&e).as_deref(),
            Some("holds a delivery state `queued` this version of campaign does not know")
        );
    }

    #[test]
    fn the_reached_predicate_names_sent_in_flight_and_unknown() {
        assert_eq!(*REACHED, "status IN ('sent','in_flight','unknown')");
        assert_eq!(sql_list(&[MessageStatus::Skipped, MessageStatus::Deferred]), "('skipped','deferred')");
    }

    #[test]
    fn each_outcome_status_but_planned_is_recorded_as_its_own_word() {
        for s in [Status::Sent, Status::Failed, Status::Skipped, Status::Deferred, Status::Unknown] {
            assert_eq!(MessageStatus::of(s).map(MessageStatus::as_str), Some(s.as_str()));
        }
        assert_eq!(MessageStatus::of(Status::Planned), None);
    }
}
