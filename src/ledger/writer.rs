//! Writes go through one thread that commits in groups: each write says by
//! when it must be committed, the thread commits when the earliest of those
//! comes, every write waiting then joins that commit, and nobody is told
//! "done" before the commit that holds their write. A request leaves only
//! after its `in_flight` record is committed.

use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::checkpoint::Checkpointer;
use super::states::REACHED;
use super::{Ledger, MessageStatus};
use crate::error::Result;
use crate::outcome::{Outcome, Route, RowError};

impl Ledger {
    /// Start the writer thread; the connection moves into it.
    pub fn into_writer(self) -> Writer {
        let queue = Arc::new(Queue::default());
        let q = queue.clone();
        let handle = thread::Builder::new().name("ledger".into()).spawn(move || writer_loop(self, &q)).ok();
        if handle.is_none() {
            queue.lock().closed = true;
        }
        Writer { queue, handle }
    }

    /// Apply one write; an `InFlight` whose guard holds it back is not
    /// written, and the hold is returned.
    fn apply(&self, op: &Write, reached: &mut Option<i64>) -> rusqlite::Result<Option<Hold>> {
        match op {
            Write::InFlight { campaign, key, row, recipient, sender, route, category, run, at, content, guard } => {
                if let Some(g) = guard
                    && let Some(hold) = self.held(g, (campaign, key, recipient), *route, *content, *at, reached)?
                {
                    return Ok(Some(hold));
                }
                self.conn.prepare_cached(
                    "INSERT INTO deliveries(campaign, key, row, recipient, route, status, attempts, run_id, created_at, updated_at, sent_at, content, sender, template_category)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?11, 0, ?6, ?7, ?7, ?7, ?8, ?9, ?10)
                     ON CONFLICT(campaign, key) DO UPDATE SET row = excluded.row, recipient = excluded.recipient,
                       route = excluded.route, status = excluded.status, reason = NULL, run_id = excluded.run_id,
                       updated_at = excluded.updated_at, sent_at = excluded.sent_at, content = excluded.content,
                       sender = excluded.sender, template_category = excluded.template_category",
                )?.execute(
                    params![campaign, key, *row as i64, recipient, route.as_str(), run, at.as_second(), content, sender, category.as_deref(), MessageStatus::InFlight],
                )?;
            }
            Write::Final { campaign, outcome, run, at } => {
                let o = outcome;
                let err: Option<&RowError> = o.error.as_ref();
                self.conn.prepare_cached(
                    "INSERT INTO deliveries(campaign, key, row, recipient, route, status, reason, message_id, attempts, fallback,
                        error_http, error_code, error_message, run_id, created_at, updated_at, sender)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)
                     ON CONFLICT(campaign, key) DO UPDATE SET row = excluded.row, recipient = excluded.recipient,
                       route = excluded.route, status = excluded.status, reason = excluded.reason,
                       message_id = excluded.message_id, attempts = deliveries.attempts + excluded.attempts,
                       fallback = excluded.fallback, error_http = excluded.error_http, error_code = excluded.error_code,
                       error_message = excluded.error_message, run_id = excluded.run_id, updated_at = excluded.updated_at,
                       sender = coalesce(excluded.sender, deliveries.sender)",
                )?.execute(
                    params![
                        campaign,
                        o.key.as_deref().unwrap_or(""),
                        o.row as i64,
                        o.recipient,
                        o.route.map(Route::as_str),
                        // Only answered or held rows come here; a planned
                        // one (none) would fail the column's NOT NULL.
                        MessageStatus::of(o.status),
                        o.reason.map(|r| r.as_str()),
                        o.message_id,
                        o.attempts.unwrap_or(0),
                        o.fallback.unwrap_or(false),
                        err.and_then(|e| e.http),
                        err.and_then(|e| e.code.clone()),
                        err.map(|e| e.message.clone()),
                        run,
                        at.as_second(),
                        o.sender
                    ],
                )?;
            }
            Write::OptOut { phone, campaign, at } => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO opt_outs(phone, at, campaign, active, source) VALUES (?1, ?2, ?3, 1, ?4)
                         ON CONFLICT(phone) DO UPDATE SET at = excluded.at, campaign = excluded.campaign,
                           active = 1, source = excluded.source
                         WHERE excluded.at >= opt_outs.at",
                    )?
                    .execute(params![phone, at.as_second(), campaign, "the API answered: customer opted out"])?;
            }
        }
        Ok(None)
    }

    /// The cross-campaign rules, checked inside the write transaction that
    /// would record the send, so campaigns running at once cannot both take
    /// the last place. Counted: sends accepted or possibly accepted.
    #[allow(clippy::too_many_arguments)]
    fn held(
        &self,
        g: &Guard,
        (campaign, key, phone): (&str, &str, &str),
        route: Route,
        content: Option<i64>,
        at: Timestamp,
        reached: &mut Option<i64>,
    ) -> rusqlite::Result<Option<Hold>> {
        let now = at.as_second();
        // An opt-out recorded since the run started (a webhook, another campaign).
        let opted: Option<(i64, Option<String>)> = self
            .conn
            .prepare_cached("SELECT at, source FROM opt_outs WHERE phone = ?1 AND active = 1")?
            .query_row([phone], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((since, source)) = opted {
            return Ok(Some(Hold::OptedOut { at: ts(since), source: source.unwrap_or_else(|| "opted out".into()) }));
        }
        if let (Some(content), Some(days)) = (content, g.repeat_days) {
            let other: Option<(String, i64)> = self
                .conn
                .prepare_cached(&REPEAT_OF)?
                .query_row(params![phone, content, campaign, now - days * 86400], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((other, sent)) = other {
                return Ok(Some(Hold::Repeat { campaign: other, at: ts(sent) }));
            }
        }
        if route != Route::Template {
            return Ok(None);
        }
        if let Some((most, per)) = g.per_recipient {
            let mut q = self.conn.prepare_cached(&TEMPLATES_TO)?;
            let times: Vec<i64> = q
                .query_map(params![phone, now - per, campaign, key], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if times.len() >= most as usize {
                return Ok(Some(Hold::FrequencyCap { until: ts(times[times.len() - most as usize] + per) }));
            }
        }
        if let Some(cap) = g.templates_per_day
            && self.day_full(cap, phone, now, reached)?
        {
            return Ok(Some(Hold::DailyLimit));
        }
        Ok(None)
    }

    /// Whether reaching `phone` now would exceed `templates_per_day`
    /// distinct customers in 24 hours. The count is read once per commit
    /// group (exact: the group holds the write lock) and kept up to date as
    /// the group's sends pass, so a large run does not count for each send.
    fn day_full(&self, cap: u32, phone: &str, now: i64, reached: &mut Option<i64>) -> rusqlite::Result<bool> {
        let counted = &*super::TEMPLATE_REACHED;
        let day = now - 86400;
        let already: bool = self
            .conn
            .prepare_cached(&format!("SELECT EXISTS(SELECT 1 FROM deliveries WHERE recipient = ?2 AND {counted})"))?
            .query_row(params![day, phone], |r| r.get(0))?;
        if already {
            return Ok(false);
        }
        let n = match *reached {
            Some(n) => n,
            None => self
                .conn
                .prepare_cached(&format!("SELECT count(DISTINCT recipient) FROM deliveries WHERE {counted}"))?
                .query_row([day], |r| r.get(0))?,
        };
        let full = n >= i64::from(cap);
        *reached = Some(if full { n } else { n + 1 });
        Ok(full)
    }
}

/// The repeat guard's query, built once (it runs for every send): the same
/// content sent to `?1` by another campaign since `?4`.
static REPEAT_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT campaign, sent_at FROM deliveries WHERE recipient = ?1 AND content = ?2 AND campaign != ?3
           AND sent_at >= ?4 AND {} ORDER BY sent_at DESC LIMIT 1",
        *REACHED
    )
});

/// Template messages to `?1` after `?2`, but for this key (`per_recipient`).
static TEMPLATES_TO: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sent_at FROM deliveries WHERE recipient = ?1 AND route = 'template' AND sent_at > ?2
           AND {} AND NOT (campaign = ?3 AND key = ?4) ORDER BY sent_at",
        *REACHED
    )
});

fn ts(t: i64) -> Timestamp {
    Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The cross-campaign rules a send must pass as it is recorded in flight.
#[derive(Debug, Clone, Copy, Default)]
pub struct Guard {
    /// `limits.templates_per_day`: distinct customers reached by template in 24 h.
    pub templates_per_day: Option<u32>,
    /// `limits.per_recipient`: most template messages per customer within seconds.
    pub per_recipient: Option<(u32, i64)>,
    /// The repeat guard's reach in days; `None` with `--allow-repeat`.
    pub repeat_days: Option<i64>,
}

/// Why the guard held a send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The customer opted out of every campaign.
    OptedOut { at: Timestamp, source: String },
    /// The same content went to this customer from another campaign.
    Repeat { campaign: String, at: Timestamp },
    /// The customer reached `per_recipient`; allowed again at `until`.
    FrequencyCap { until: Timestamp },
    /// `templates_per_day` distinct customers reached.
    DailyLimit,
}

/// One write to the ledger.
pub enum Write {
    InFlight {
        campaign: String,
        key: String,
        row: u64,
        recipient: String,
        sender: Option<String>,
        route: Route,
        /// The catalogue's category of the template, for a template send.
        /// (A thin pointer: this enum is moved through a channel per send.)
        category: Option<std::sync::Arc<String>>,
        run: i64,
        at: Timestamp,
        /// The fingerprint of what is sent (the repeat guard).
        content: Option<i64>,
        guard: Option<Guard>,
    },
    Final {
        campaign: String,
        outcome: Box<Outcome>,
        run: i64,
        at: Timestamp,
    },
    OptOut {
        phone: String,
        campaign: String,
        at: Timestamp,
    },
}

enum Op {
    Write(Box<Write>, Option<Ack>),
    /// Told once everything queued before it is committed (or failed).
    Flush(std::sync::mpsc::SyncSender<()>),
    Stop,
}

/// The writes waiting for the writer thread, each with the instant by which
/// it must be committed. The thread commits when the earliest of those
/// comes, so writes that can wait share a commit; a write whose deadline is
/// earlier than the thread's planned wake-up wakes it, any other does not.
#[derive(Default)]
struct Queue {
    state: Mutex<Waiting>,
    wake: Condvar,
    /// The first commit that failed, as the user should read it: published
    /// at once, since nobody may be waiting for the writes it held.
    failure: tokio::sync::watch::Sender<Option<String>>,
}

#[derive(Default)]
struct Waiting {
    ops: Vec<Op>,
    /// The earliest deadline among `ops`.
    due: Option<Instant>,
    /// What the thread is doing: `None` while it commits (it looks at the
    /// queue again before it sleeps), else sleeping until this instant (or
    /// until woken, when it has nothing at all).
    sleeping: Option<Option<Instant>>,
    /// The thread has ended: nothing more will be written.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue `op` to be committed by `by`; `false` once the writer has ended.
    fn push(&self, op: Op, by: Instant) -> bool {
        let mut w = self.lock();
        if w.closed {
            return false;
        }
        w.ops.push(op);
        w.due = Some(w.due.map_or(by, |d| d.min(by)));
        let wake = match w.sleeping {
            Some(None) => true,
            Some(Some(planned)) => by < planned || w.ops.len() >= BATCH,
            None => false,
        };
        drop(w);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    /// Wait until the earliest deadline (or a full batch) and take the group.
    fn next_group(&self) -> Vec<Op> {
        let mut w = self.lock();
        loop {
            let now = Instant::now();
            match w.due {
                Some(due) if due <= now || w.ops.len() >= BATCH => break,
                Some(due) => {
                    w.sleeping = Some(Some(due));
                    w = self.wake.wait_timeout(w, due - now).unwrap_or_else(std::sync::PoisonError::into_inner).0;
                }
                None => {
                    w.sleeping = Some(None);
                    w = self.wake.wait(w).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
        }
        w.sleeping = None;
        w.due = None;
        std::mem::take(&mut w.ops)
    }
}

/// Marks the queue closed when the writer thread ends, however it ends: the
/// writes still queued are dropped and their waiters told.
struct Closing<'a>(&'a Queue);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        let mut w = self.0.lock();
        w.closed = true;
        w.ops.clear();
    }
}

/// The handle to the writer thread.
pub struct Writer {
    queue: Arc<Queue>,
    handle: Option<thread::JoinHandle<Finished>>,
}

/// What the writer thread hands back: the connection, and the outcomes it
/// could not record (the database stayed locked or the disk full), as
/// lines for the user.
pub struct Finished {
    pub ledger: Ledger,
    pub unrecorded: Vec<String>,
    /// The first commit that failed, if any did.
    pub failure: Option<String>,
}

impl Writer {
    /// Write and wait until it is committed; `Some` when a guard held it
    /// back. An `in_flight` is committed at once (its request waits for
    /// it); anything else may wait `SHARE` to share its commit.
    pub async fn commit(&self, w: Write) -> Commit {
        self.submit(w).await.map_err(|_| STOPPED.to_string())?
    }

    /// Write; the answer comes on the receiver once committed (a closed
    /// receiver: the writer stopped).
    pub fn submit(&self, w: Write) -> tokio::sync::oneshot::Receiver<Commit> {
        let patience = if matches!(w, Write::InFlight { .. }) { Duration::ZERO } else { SHARE };
        self.submit_by(w, Instant::now() + patience)
    }

    /// Write, committed by `by` at the latest (with whatever else is
    /// waiting then); the answer comes on the receiver.
    pub fn submit_by(&self, w: Write, by: Instant) -> tokio::sync::oneshot::Receiver<Commit> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Refused once the writer has ended: the sender is dropped, the
        // receiver reads as closed.
        self.queue.push(Op::Write(Box::new(w), Some(tx)), by);
        rx
    }

    /// Write without waiting: it joins the next commit (the next request's
    /// `in_flight`), at the latest within `LINGER`. Nobody waits for it: a
    /// commit that fails is published (`failed`), which stops the run, and
    /// the write is tried once more at the end (`Finished::unrecorded` when
    /// it never could be).
    pub fn record(&self, w: Write) {
        self.queue.push(Op::Write(Box::new(w), None), Instant::now() + LINGER);
    }

    /// The first commit that failed, once one has.
    pub fn failed(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.queue.failure.subscribe()
    }

    /// Commit what is queued now and wait for it, at most `wait` (the
    /// process is about to exit without `finish`). Whether it was done.
    pub fn flush(&self, wait: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.queue.push(Op::Flush(tx), Instant::now()) && rx.recv_timeout(wait).is_ok()
    }

    /// Commit what is queued and hand the connection back. Bounded: at
    /// worst one more wait of the busy timeout.
    pub fn finish(mut self) -> Option<Finished> {
        self.queue.push(Op::Stop, Instant::now());
        self.handle.take().and_then(|h| h.join().ok())
    }
}

/// A writer dropped without `finish` (a panic unwinding) still commits what
/// was queued: answers already shown are not lost.
impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.queue.push(Op::Stop, Instant::now());
            let _ = h.join();
        }
    }
}

/// What a write's waiter is told when the writer thread has ended.
pub const STOPPED: &str = "the ledger writer stopped";

/// The answer to a write: `Some` when a guard held the send back; the
/// error in the user's words.
pub type Commit = Result<Option<Hold>, String>;

/// Most writes committed together.
const BATCH: usize = 4096;

/// How long a write whose writer waits for it may wait to share its commit.
const SHARE: Duration = Duration::from_millis(2);

/// How long an outcome (or a skip, an opt-out) may wait for a commit to
/// join: at any pace above 20 messages a second it joins the next request's
/// `in_flight`, one commit per message instead of two. A crash within it
/// leaves the answered key `in_flight`, which the next run reads as
/// `unknown`: never resent, never lost.
const LINGER: Duration = Duration::from_millis(50);

type Ack = tokio::sync::oneshot::Sender<Commit>;

/// Commits in groups. A group that cannot be committed answers its waiters
/// with the error (their requests do not leave) but keeps its records of
/// answers already received, and tries them again with the next group and
/// once more at the end: an accepted send is never dropped while there is
/// any chance to record it.
fn writer_loop(ledger: Ledger, queue: &Queue) -> Finished {
    let closing = Closing(queue);
    let checkpoints = Checkpointer::start(&ledger.path, &ledger.conn);
    let mut kept: Vec<Write> = Vec::new();
    let mut failed: Option<String> = None;
    let mut stop = false;
    while !stop {
        let mut batch = Vec::new();
        // Each waiter with the place of its write in `kept`.
        let mut acks: Vec<(usize, Ack)> = Vec::new();
        let mut flushed = Vec::new();
        for op in queue.next_group() {
            match op {
                Op::Write(w, ack) => {
                    acks.extend(ack.map(|a| (kept.len() + batch.len(), a)));
                    batch.push(*w);
                }
                Op::Flush(done) => flushed.push(done),
                Op::Stop => stop = true,
            }
        }
        kept.append(&mut batch);
        // After a failure the run is stopping: waiters are answered at once
        // rather than each waiting out the busy timeout again.
        let answer = match &failed {
            Some(e) => Err(e.clone()),
            None => ledger.commit_group(&kept),
        };
        for (i, a) in acks {
            let _ = a.send(answer.as_ref().map(|holds| holds.get(i).cloned().flatten()).map_err(Clone::clone));
        }
        if answer.is_ok() {
            kept.clear();
        } else {
            if failed.is_none() {
                queue.failure.send_replace(answer.as_ref().err().cloned());
            }
            failed = answer.err();
            // The waiters were told; what they asked for did not happen and
            // need not be recorded. Answers received stay for the last try.
            kept.retain(|w| !matches!(w, Write::InFlight { .. }));
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
    drop(closing);
    if let Some(c) = checkpoints {
        c.finish(&ledger.conn);
    }
    let unrecorded = if kept.is_empty() || ledger.commit_group(&kept).is_ok() {
        Vec::new()
    } else {
        kept.iter().filter_map(Write::describe).collect()
    };
    Finished { ledger, unrecorded, failure: failed }
}

impl Ledger {
    /// One transaction for `writes` (immediate: the guards read and write
    /// in one step, across processes); what each guard held back, or the
    /// error in the user's words.
    fn commit_group(&self, writes: &[Write]) -> Result<Vec<Option<Hold>>, String> {
        let result = (|| -> rusqlite::Result<Vec<Option<Hold>>> {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut holds = Vec::with_capacity(writes.len());
            // Customers reached by template in 24 hours, once counted.
            let mut reached = None;
            for w in writes {
                match self.apply(w, &mut reached) {
                    Ok(hold) => holds.push(hold),
                    Err(e) => {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        return Err(e);
                    }
                }
            }
            self.conn.execute_batch("COMMIT").inspect_err(|_| {
                let _ = self.conn.execute_batch("ROLLBACK");
            })?;
            Ok(holds)
        })();
        result.map_err(|e| describe_failure(&self.path, &e))
    }
}

/// Why a write failed, as the user should read it (the hint comes with the
/// run's stop).
fn describe_failure(path: &std::path::Path, e: &rusqlite::Error) -> String {
    match super::sqlite_error(path, e) {
        crate::error::Error::Ledger { what, .. } => format!("the ledger {} {what}", path.display()),
        other => other.to_string(),
    }
}

impl Write {
    /// An answer that could not be recorded, for the user: which row, what happened.
    fn describe(&self) -> Option<String> {
        match self {
            Write::Final { outcome: o, .. } => Some(format!(
                "row {} {}: {}{}",
                o.row,
                o.recipient.as_deref().unwrap_or(""),
                o.status.as_str(),
                o.message_id.as_deref().map(|id| format!(" (message id {id})")).unwrap_or_default()
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    fn outcome(row: u64) -> Write {
        let mut o = Outcome::new(row);
        o.key = Some(format!("+1604555{row:04}"));
        o.recipient = o.key.clone();
        o.route = Some(Route::Template);
        o.status = Status::Sent;
        o.message_id = Some(format!("id-{row}"));
        Write::Final { campaign: "c".into(), outcome: Box::new(o), run: 1, at: Timestamp::now() }
    }

    #[test]
    fn a_commit_of_outcomes_alone_that_fails_is_published_at_once_and_named_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let writer = Ledger::open(&path).unwrap().into_writer();
        let mut failed = writer.failed();
        writer.record(outcome(1));
        assert!(writer.flush(Duration::from_secs(5)), "a flush is answered once its group is committed");
        assert!(failed.borrow_and_update().is_none());
        // The ledger breaks under the run (another process, a damaged file).
        rusqlite::Connection::open(&path).unwrap().execute_batch("DROP TABLE deliveries").unwrap();
        writer.record(outcome(2));
        // Nobody waits for an outcome's commit: its failure is published.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let published = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), failed.wait_for(Option::is_some)).await.map(|r| r.is_ok())
        });
        assert_eq!(published, Ok(true), "the failure of a commit nobody waited for is published");
        assert!(failed.borrow().as_deref().is_some_and(|e| e.contains("deliveries")), "{:?}", failed.borrow());
        let done = writer.finish().unwrap();
        assert!(done.failure.is_some());
        assert_eq!(done.unrecorded.len(), 1, "{:?}", done.unrecorded);
        assert!(done.unrecorded[0].starts_with("row 2 +16045550002: sent"), "{:?}", done.unrecorded);
    }

    #[test]
    fn a_writer_dropped_without_finish_still_commits_what_was_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let writer = Ledger::open(&path).unwrap().into_writer();
        writer.record(outcome(3));
        drop(writer);
        let n: i64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM deliveries WHERE message_id = 'id-3'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
