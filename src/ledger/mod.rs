//! The ledger (SPEC §4): an embedded SQLite file recording, per campaign and
//! `once_per` key, what was sent; the runs; inbound messages and delivery
//! statuses from webhooks. WAL with a busy timeout, so a webhook receiver
//! can write while a campaign runs.
//!
//! Writes go through one thread that commits in groups: every operation
//! waiting when a commit starts joins it, and nobody is told "done" before
//! the commit that holds their write. A request leaves only after its
//! `in_flight` record is committed.

pub mod lock;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::outcome::Route;
use crate::outcome::key_hash;
use crate::outcome::{Outcome, RowError};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  campaign TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  pid INTEGER,
  host TEXT,
  fingerprint TEXT,
  files_changed INTEGER NOT NULL DEFAULT 0,
  counts TEXT
);
CREATE INDEX IF NOT EXISTS runs_campaign ON runs(campaign, id);
CREATE TABLE IF NOT EXISTS deliveries(
  campaign TEXT NOT NULL,
  key TEXT NOT NULL,
  row INTEGER,
  recipient TEXT,
  route TEXT,
  status TEXT NOT NULL,
  reason TEXT,
  message_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  fallback INTEGER NOT NULL DEFAULT 0,
  error_http INTEGER,
  error_code TEXT,
  error_message TEXT,
  run_id INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER,
  PRIMARY KEY(campaign, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_templates ON deliveries(sent_at) WHERE route = 'template';
CREATE TABLE IF NOT EXISTS inbound(
  phone TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS opt_outs(
  phone TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  campaign TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statuses(
  message_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  rank INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT,
  campaign TEXT,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// What the ledger says about a key, for planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Sent,
    Failed,
    Unknown,
}

/// A read-only view taken when a run starts: key states by hash, inbound
/// times and opt-outs. A dry run with no ledger file uses an empty one.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: HashMap<u128, KeyState>,
    inbound: HashMap<String, Timestamp>,
    opted_out: HashSet<String>,
}

impl Snapshot {
    pub fn key_state(&self, hash: u128) -> Option<KeyState> {
        self.keys.get(&hash).copied()
    }
    pub fn last_inbound(&self, phone: &str) -> Option<Timestamp> {
        self.inbound.get(phone).copied()
    }
    pub fn opted_out(&self, phone: &str) -> bool {
        self.opted_out.contains(phone)
    }
}

pub struct Ledger {
    pub path: PathBuf,
    conn: Connection,
}

/// A run as listed by `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<String>,
    pub files_changed: bool,
    pub counts: Option<serde_json::Value>,
}

/// A failed or unknown recipient as listed by `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailureRecord {
    pub row: Option<i64>,
    pub recipient: Option<String>,
    pub key: String,
    pub route: Option<String>,
    pub status: String,
    pub error_http: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

fn ts(t: i64) -> String {
    Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default()
}

impl Ledger {
    /// Open (creating it and its folder) for writing.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::ledger(path, format!("cannot create its folder: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| Error::ledger(path, e))?;
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
                .map_err(|e| Error::ledger(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| Error::ledger(path, e))?;
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| Error::ledger(path, e))?;
        if version > SCHEMA_VERSION {
            return Err(newer(path, version));
        }
        if version == 0 {
            return Ok(None);
        }
        Ok(Some(Ledger { path: path.to_path_buf(), conn }))
    }

    fn setup(&self) -> Result<()> {
        let e = |e: rusqlite::Error| Error::ledger(&self.path, e);
        self.conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(e)?;
        self.conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(e)?;
        if version > SCHEMA_VERSION {
            return Err(newer(&self.path, version));
        }
        if version < SCHEMA_VERSION {
            // Version 1 is the first schema: create it. Later versions add
            // their migrations here, each in one transaction.
            self.conn
                .execute_batch(&format!("BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                .map_err(e)?;
        }
        Ok(())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |e| Error::ledger(&self.path, e)
    }

    /// Everything planning needs to know, read once.
    pub fn snapshot(&self, campaign: &str) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let mut q = self
            .conn
            .prepare("SELECT key, status FROM deliveries WHERE campaign = ?1 AND status IN ('sent','failed','unknown','in_flight')")
            .map_err(self.err())?;
        let mut rows = q.query([campaign]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let key: String = r.get(0).map_err(self.err())?;
            let status: String = r.get(1).map_err(self.err())?;
            let state = match status.as_str() {
                "sent" => KeyState::Sent,
                "failed" => KeyState::Failed,
                _ => KeyState::Unknown,
            };
            s.keys.insert(key_hash(&key), state);
        }
        let mut q = self.conn.prepare("SELECT phone, last_at FROM inbound").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let at: i64 = r.get(1).map_err(self.err())?;
            if let Ok(t) = Timestamp::from_second(at) {
                s.inbound.insert(phone, t);
            }
        }
        let mut q = self.conn.prepare("SELECT phone FROM opt_outs").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            s.opted_out.insert(r.get(0).map_err(self.err())?);
        }
        Ok(s)
    }

    /// Keys a crashed run left `in_flight` become `unknown`. Only called with
    /// the campaign's lock held, so no live run owns them.
    pub fn settle_in_flight(&self, campaign: &str, now: Timestamp) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE deliveries SET status = 'unknown', updated_at = ?2,
                   error_message = coalesce(error_message, 'interrupted while the request was in flight; the message may or may not have been sent')
                 WHERE campaign = ?1 AND status = 'in_flight'",
                params![campaign, now.as_second()],
            )
            .map_err(self.err())
    }

    /// Template sends (accepted or possibly accepted) since `since`, over every campaign.
    pub fn template_sends_since(&self, since: Timestamp) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM deliveries WHERE route = 'template' AND sent_at >= ?1 AND status IN ('sent','in_flight','unknown')",
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

    pub fn end_run(&self, run: i64, outcome: &str, counts: &serde_json::Value, now: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?2, outcome = ?3, counts = ?4 WHERE id = ?1",
                params![run, now.as_second(), outcome, counts.to_string()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn runs(&self, campaign: &str) -> Result<Vec<RunRecord>> {
        let mut q = self
            .conn
            .prepare("SELECT id, started_at, ended_at, outcome, files_changed, counts FROM runs WHERE campaign = ?1 ORDER BY id")
            .map_err(self.err())?;
        let rows = q
            .query_map([campaign], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: ts(r.get(1)?),
                    ended_at: r.get::<_, Option<i64>>(2)?.map(ts),
                    outcome: r.get(3)?,
                    files_changed: r.get(4)?,
                    counts: r.get::<_, Option<String>>(5)?.and_then(|c| serde_json::from_str(&c).ok()),
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Counts by status and by route (of sent messages).
    pub fn counts(&self, campaign: &str) -> Result<(HashMap<String, u64>, HashMap<String, u64>)> {
        let mut by_status = HashMap::new();
        let mut q = self
            .conn
            .prepare("SELECT status, count(*) FROM deliveries WHERE campaign = ?1 GROUP BY status")
            .map_err(self.err())?;
        for r in q.query_map([campaign], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(self.err())? {
            let (s, n) = r.map_err(self.err())?;
            by_status.insert(s, n as u64);
        }
        let mut by_route = HashMap::new();
        let mut q = self
            .conn
            .prepare("SELECT route, count(*) FROM deliveries WHERE campaign = ?1 AND status = 'sent' GROUP BY route")
            .map_err(self.err())?;
        for r in q
            .query_map([campaign], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?
        {
            let (s, n) = r.map_err(self.err())?;
            by_route.insert(s.unwrap_or_default(), n as u64);
        }
        Ok((by_status, by_route))
    }

    pub fn failures(&self, campaign: &str) -> Result<Vec<FailureRecord>> {
        let mut q = self
            .conn
            .prepare(
                "SELECT row, recipient, key, route, status, error_http, error_code, error_message FROM deliveries
                 WHERE campaign = ?1 AND status IN ('failed','unknown','in_flight') ORDER BY row, key",
            )
            .map_err(self.err())?;
        let rows = q
            .query_map([campaign], |r| {
                Ok(FailureRecord {
                    row: r.get(0)?,
                    recipient: r.get(1)?,
                    key: r.get(2)?,
                    route: r.get(3)?,
                    status: r.get(4)?,
                    error_http: r.get(5)?,
                    error_code: r.get(6)?,
                    error_message: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Furthest delivery state of this campaign's messages, counted.
    pub fn delivery_counts(&self, campaign: &str) -> Result<HashMap<String, u64>> {
        let mut out = HashMap::new();
        let mut q = self
            .conn
            .prepare(
                "SELECT s.status, count(*) FROM statuses s JOIN deliveries d ON d.message_id = s.message_id
                 WHERE d.campaign = ?1 GROUP BY s.status",
            )
            .map_err(self.err())?;
        for r in q.query_map([campaign], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(self.err())? {
            let (s, n) = r.map_err(self.err())?;
            out.insert(s, n as u64);
        }
        Ok(out)
    }

    /// Failed deliveries by error code, for the funnel.
    pub fn delivery_failures(&self, campaign: &str) -> Result<Vec<(String, u64)>> {
        let mut q = self
            .conn
            .prepare(
                "SELECT coalesce(s.error_code, 'unknown'), count(*) FROM statuses s JOIN deliveries d ON d.message_id = s.message_id
                 WHERE d.campaign = ?1 AND s.status = 'delivery_failed' GROUP BY 1 ORDER BY 2 DESC",
            )
            .map_err(self.err())?;
        let rows = q
            .query_map([campaign], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Group the writes that follow into one transaction (imports).
    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(self.err())
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(self.err())
    }

    /// Keep the latest inbound time per customer. Returns whether it moved.
    pub fn record_inbound(&self, phone: &str, at: Timestamp) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO inbound(phone, last_at) VALUES (?1, ?2)
                 ON CONFLICT(phone) DO UPDATE SET last_at = excluded.last_at WHERE excluded.last_at > inbound.last_at",
                params![phone, at.as_second()],
            )
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// Keep each message's furthest delivery state. Returns whether it moved.
    pub fn record_status(&self, s: &StatusUpdate, now: Timestamp) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO statuses(message_id, status, rank, error_code, error_message, campaign, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(message_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
                   error_code = coalesce(excluded.error_code, statuses.error_code),
                   error_message = coalesce(excluded.error_message, statuses.error_message),
                   campaign = coalesce(excluded.campaign, statuses.campaign), updated_at = excluded.updated_at
                 WHERE excluded.rank > statuses.rank",
            )
            .and_then(|mut q| {
                q.execute(params![
                    s.message_id,
                    s.status,
                    status_rank(&s.status),
                    s.error_code,
                    s.error_message,
                    s.campaign,
                    now.as_second()
                ])
            })
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// Start the writer thread; the connection moves into it.
    pub fn into_writer(self) -> Writer {
        let (tx, rx) = mpsc::channel::<Op>();
        let handle = thread::Builder::new().name("ledger".into()).spawn(move || writer_loop(self, rx)).ok();
        Writer { tx, handle }
    }

    fn apply(&self, op: &Write) -> rusqlite::Result<()> {
        match op {
            Write::InFlight { campaign, key, row, recipient, route, run, at } => {
                self.conn.prepare_cached(
                    "INSERT INTO deliveries(campaign, key, row, recipient, route, status, attempts, run_id, created_at, updated_at, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'in_flight', 0, ?6, ?7, ?7, ?7)
                     ON CONFLICT(campaign, key) DO UPDATE SET row = excluded.row, recipient = excluded.recipient,
                       route = excluded.route, status = 'in_flight', reason = NULL, run_id = excluded.run_id,
                       updated_at = excluded.updated_at, sent_at = excluded.sent_at",
                )?.execute(
                    params![campaign, key, *row as i64, recipient, route.as_str(), run, at.as_second()],
                )?;
            }
            Write::Final { campaign, outcome, run, at } => {
                let o = outcome;
                let err: Option<&RowError> = o.error.as_ref();
                self.conn.prepare_cached(
                    "INSERT INTO deliveries(campaign, key, row, recipient, route, status, reason, message_id, attempts, fallback,
                        error_http, error_code, error_message, run_id, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)
                     ON CONFLICT(campaign, key) DO UPDATE SET row = excluded.row, recipient = excluded.recipient,
                       route = excluded.route, status = excluded.status, reason = excluded.reason,
                       message_id = excluded.message_id, attempts = deliveries.attempts + excluded.attempts,
                       fallback = excluded.fallback, error_http = excluded.error_http, error_code = excluded.error_code,
                       error_message = excluded.error_message, run_id = excluded.run_id, updated_at = excluded.updated_at",
                )?.execute(
                    params![
                        campaign,
                        o.key.as_deref().unwrap_or(""),
                        o.row as i64,
                        o.recipient,
                        o.route.map(Route::as_str),
                        o.status.as_str(),
                        o.reason.map(|r| r.as_str()),
                        o.message_id,
                        o.attempts.unwrap_or(0),
                        o.fallback.unwrap_or(false),
                        err.and_then(|e| e.http),
                        err.and_then(|e| e.code.clone()),
                        err.map(|e| e.message.clone()),
                        run,
                        at.as_second()
                    ],
                )?;
            }
            Write::OptOut { phone, campaign, at } => {
                self.conn
                    .prepare_cached("INSERT OR IGNORE INTO opt_outs(phone, at, campaign) VALUES (?1, ?2, ?3)")?
                    .execute(params![phone, at.as_second(), campaign])?;
            }
        }
        Ok(())
    }
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

fn newer(path: &Path, version: i64) -> Error {
    Error::Ledger {
        path: path.to_path_buf(),
        what: format!("was written by a newer campaign (schema {version}; this one knows {SCHEMA_VERSION})"),
        fix: "upgrade campaign; never downgrade with a ledger in use".into(),
    }
}

/// Delivery states in the order a message moves through them.
pub fn status_rank(s: &str) -> i64 {
    match s {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        // A failure after delivery is not reported by WhatsApp; treat it as final.
        "delivery_failed" => 4,
        _ => 0,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub message_id: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub campaign: Option<String>,
}

/// One write to the ledger.
pub enum Write {
    InFlight { campaign: String, key: String, row: u64, recipient: String, route: Route, run: i64, at: Timestamp },
    Final { campaign: String, outcome: Box<Outcome>, run: i64, at: Timestamp },
    OptOut { phone: String, campaign: String, at: Timestamp },
}

enum Op {
    Write(Write, Option<tokio::sync::oneshot::Sender<Result<(), String>>>),
    Stop,
}

/// The handle to the writer thread.
pub struct Writer {
    tx: mpsc::Sender<Op>,
    handle: Option<thread::JoinHandle<Ledger>>,
}

impl Writer {
    /// Write and wait until it is committed.
    pub async fn commit(&self, w: Write) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx.send(Op::Write(w, Some(tx))).map_err(|_| "the ledger writer stopped".to_string())?;
        rx.await.map_err(|_| "the ledger writer stopped".to_string())?
    }

    /// Write without waiting; it commits with the next group.
    pub fn record(&self, w: Write) {
        let _ = self.tx.send(Op::Write(w, None));
    }

    /// Commit what is queued and hand the connection back.
    pub fn finish(mut self) -> Option<Ledger> {
        let _ = self.tx.send(Op::Stop);
        self.handle.take().and_then(|h| h.join().ok())
    }
}

fn writer_loop(ledger: Ledger, rx: mpsc::Receiver<Op>) -> Ledger {
    let mut stop = false;
    while !stop {
        let Ok(first) = rx.recv() else { break };
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut acks = Vec::with_capacity(batch.len());
        let result = (|| -> rusqlite::Result<()> {
            let tx = ledger.conn.unchecked_transaction()?;
            for op in batch {
                match op {
                    Op::Write(w, ack) => {
                        ledger.apply(&w)?;
                        if let Some(a) = ack {
                            acks.push(a);
                        }
                    }
                    Op::Stop => stop = true,
                }
            }
            tx.commit()
        })();
        let answer = result.map_err(|e| format!("ledger {}: {e}", ledger.path.display()));
        for a in acks {
            let _ = a.send(answer.clone());
        }
        if answer.is_err() {
            // Nothing more can be recorded; callers see the error and abort.
            for op in rx.try_iter() {
                if let Op::Write(_, Some(a)) = op {
                    let _ = a.send(answer.clone());
                }
            }
        }
    }
    ledger
}
