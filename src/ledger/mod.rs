//! The ledger (SPEC §4): an embedded SQLite file recording, per campaign and
//! `once_per` key, what was sent; the runs; inbound messages and delivery
//! statuses from webhooks. WAL with a busy timeout, so a webhook receiver
//! can write while a campaign runs.

mod checkpoint;
pub mod lock;
mod queries;
mod schema;
mod snapshot;
mod states;
mod webhooks;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{Error, Result};

pub use queries::{FailureRecord, RunRecord};
use schema::{MIGRATIONS, SCHEMA, SCHEMA_VERSION, newer};
pub use snapshot::{KeyState, Snapshot};
pub use states::{Delivery, MessageStatus, RunOutcome};
pub use webhooks::{StatusUpdate, refusal_words};
pub use writer::{Commit, Finished, Guard, Hold, STOPPED, Write, Writer};

/// The deliveries that count toward `templates_per_day` since `?1`: template
/// sends accepted or possibly accepted. One predicate for the quota a run
/// starts with and for the check made as each send is recorded.
static TEMPLATE_REACHED: LazyLock<String> =
    LazyLock::new(|| format!("route = 'template' AND sent_at >= ?1 AND {}", *states::REACHED));

/// How long any connection waits for another process's write to finish
/// before a write of its own gives up.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Ledger {
    pub path: PathBuf,
    conn: Connection,
}

impl Ledger {
    /// Open (creating it and its folder) for writing.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::ledger(path, format!("cannot create its folder: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| sqlite_error(path, &e))?;
        let l = Ledger { path: path.to_path_buf(), conn };
        l.setup()?;
        Ok(l)
    }

    /// Open an existing ledger without writing to it; `None` when there is none.
    pub fn open_read_only(path: &Path) -> Result<Option<Ledger>> {
        if !path.exists() {
            return Ok(None);
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| sqlite_error(path, &e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sqlite_error(path, &e))?;
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| sqlite_error(path, &e))?;
        if version > SCHEMA_VERSION {
            return Err(newer(path, version));
        }
        if version == 0 {
            return Ok(None);
        }
        if version < SCHEMA_VERSION {
            return Self::migrated_copy(path, &conn).map(Some);
        }
        Ok(Some(Ledger { path: path.to_path_buf(), conn }))
    }

    /// A ledger written by an earlier version, read through a copy in memory
    /// brought up to date: reading never changes the file (the next real run
    /// migrates it).
    fn migrated_copy(path: &Path, file: &Connection) -> Result<Ledger> {
        let e = |e: rusqlite::Error| sqlite_error(path, &e);
        let mut conn = Connection::open_in_memory().map_err(e)?;
        rusqlite::backup::Backup::new(file, &mut conn)
            .and_then(|b| b.run_to_completion(1024, std::time::Duration::ZERO, None))
            .map_err(e)?;
        let l = Ledger { path: path.to_path_buf(), conn };
        l.setup()?;
        Ok(l)
    }

    fn setup(&self) -> Result<()> {
        let e = |e: rusqlite::Error| sqlite_error(&self.path, &e);
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
        self.wal().map_err(e)?;
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(e)?;
        if version > SCHEMA_VERSION {
            return Err(newer(&self.path, version));
        }
        // Each step re-reads the version inside its write transaction, so two
        // processes opening a new ledger at once apply it exactly once.
        let steps = std::iter::once(SCHEMA).chain(MIGRATIONS.iter().copied());
        for (to, step) in (1..).zip(steps).skip(version.max(0) as usize) {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(e)?;
            let now: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(e)?;
            let done = if now < to {
                self.conn.execute_batch(&format!("{step}; PRAGMA user_version = {to};"))
            } else {
                Ok(())
            };
            match done.and_then(|()| self.conn.execute_batch("COMMIT")) {
                Ok(()) => {}
                Err(err) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e(err));
                }
            }
        }
        Ok(())
    }

    /// Switch to WAL. Switching a new file needs it alone for an instant,
    /// and SQLite answers "busy" at once, without waiting, when another
    /// process is opening it too (two campaigns started together): try again
    /// for as long as the busy timeout.
    fn wal(&self) -> rusqlite::Result<()> {
        let pause = std::time::Duration::from_millis(10);
        let mut waited = std::time::Duration::ZERO;
        loop {
            match self.conn.pragma_update(None, "journal_mode", "WAL") {
                Err(err)
                    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && waited < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(pause);
                    waited += pause;
                }
                done => return done,
            }
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |e| sqlite_error(&self.path, &e)
    }

    /// Keys a crashed run left `in_flight` become `unknown`. Only called with
    /// the campaign's lock held, so no live run owns them.
    pub fn settle_in_flight(&self, campaign: &str, now: Timestamp) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE deliveries SET status = ?3, updated_at = ?2,
                   error_message = coalesce(error_message, 'interrupted while the request was in flight; the message may or may not have been sent')
                 WHERE campaign = ?1 AND status = ?4",
                params![campaign, now.as_second(), MessageStatus::Unknown, MessageStatus::InFlight],
            )
            .map_err(self.err())
    }

    /// Distinct customers reached by template (accepted or possibly
    /// accepted) since `since`, over every campaign: WhatsApp's messaging limit.
    pub fn template_customers_since(&self, since: Timestamp) -> Result<u64> {
        self.conn
            .query_row(
                &format!("SELECT count(DISTINCT recipient) FROM deliveries WHERE {}", *TEMPLATE_REACHED),
                [since.as_second()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Record a run's start; returns its id and whether the files changed
    /// since the previous run of this campaign.
    /// `changed` names the parts that differ, e.g. "recipients CSV".
    pub fn begin_run(
        &self,
        campaign: &str,
        fingerprint: &str,
        now: Timestamp,
        host: &str,
    ) -> Result<(i64, Option<String>)> {
        let previous: Option<String> = self
            .conn
            .query_row("SELECT fingerprint FROM runs WHERE campaign = ?1 ORDER BY id DESC LIMIT 1", [campaign], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?
            .flatten();
        let changed = previous.and_then(|p| changed_parts(&p, fingerprint));
        self.conn
            .execute(
                "INSERT INTO runs(campaign, started_at, pid, host, fingerprint, files_changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![campaign, now.as_second(), std::process::id(), host, fingerprint, changed.is_some()],
            )
            .map_err(self.err())?;
        Ok((self.conn.last_insert_rowid(), changed))
    }

    /// Record a run's end; `stop` says why it stopped early, if it did.
    pub fn end_run(
        &self,
        run: i64,
        outcome: RunOutcome,
        counts: &serde_json::Value,
        stop: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?2, outcome = ?3, counts = ?4, stop_reason = ?5 WHERE id = ?1",
                params![run, now.as_second(), outcome, counts.to_string(), stop],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Group the writes that follow into one transaction (imports).
    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(self.err())
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(self.err())
    }
}

/// A database error in the user's words, with what to do about it.
pub(crate) fn sqlite_error(path: &Path, e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{
        CannotOpen, DatabaseBusy, DatabaseCorrupt, DatabaseLocked, DiskFull, NotADatabase, ReadOnly,
    };
    if let Some(what) = states::unrecognised(e) {
        let fix = "a newer version of campaign wrote it, or it was edited by hand: upgrade campaign, and never edit the ledger by hand";
        return Error::Ledger { path: path.to_path_buf(), what, fix: fix.into() };
    }
    let (what, fix) = match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => (
            format!("is locked by another process (waited {} s)", BUSY_TIMEOUT.as_secs()),
            "another program is writing to it (an `inbound import`, a sqlite3 shell?); let it finish or stop it, then run the same command again",
        ),
        Some(NotADatabase | DatabaseCorrupt) => (
            "is not a campaign ledger, or is damaged".to_string(),
            "check --state / `state:` names the right file; if it is the ledger, move it aside (never overwrite or delete it: it is the record of what was sent) and keep it for inspection",
        ),
        Some(DiskFull) => {
            ("cannot be written: the disk is full".to_string(), "free some space, then run the same command again")
        }
        Some(ReadOnly | CannotOpen) => {
            (e.to_string(), "check the path is writable and not on a network filesystem; --state PATH moves the ledger")
        }
        _ => {
            (e.to_string(), "check the path is writable and not on a network filesystem; --state PATH moves the ledger")
        }
    };
    Error::Ledger { path: path.to_path_buf(), what, fix: fix.into() }
}

/// Names of the fingerprint parts (`name=hash;…`) that differ.
fn changed_parts(old: &str, new: &str) -> Option<String> {
    let parse = |s: &str| -> HashMap<String, String> {
        s.split(';').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let (old, new_map) = (parse(old), parse(new));
    let mut names: Vec<&str> = new
        .split(';')
        .filter_map(|p| p.split_once('=').map(|(k, _)| k))
        .filter(|k| old.get(*k) != new_map.get(*k))
        .collect();
    names.extend(old.keys().filter(|k| !new_map.contains_key(*k)).map(String::as_str));
    match names.len() {
        0 => None,
        1 => Some(names[0].to_string()),
        _ => {
            let last = names.pop().unwrap_or_default();
            Some(format!("{} and {last}", names.join(", ")))
        }
    }
}
