//! Writes go through one thread that commits in groups: every operation
//! waiting when a commit starts joins it, and nobody is told "done" before
//! the commit that holds their write. A request leaves only after its
//! `in_flight` record is committed.

use std::sync::mpsc;
use std::thread;

use jiff::Timestamp;
use rusqlite::params;

use super::Ledger;
use crate::error::Result;
use crate::outcome::{Outcome, Route, RowError};

impl Ledger {
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
