//! The send loop of a real run: plans stream in row order, at most
//! `concurrency` requests are in flight, each recorded in flight, paced at
//! the wire, classified once, retried or fallen back, and recorded after its
//! answer. Outcomes come back in row order for the reporters.

pub mod pacer;
mod send;
mod stop;

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::campaign::Campaign;
use crate::error::{ExitCode, Result};
use crate::ledger::Writer;
use crate::outcome::{Outcome, Status};
use crate::plan::decide::TemplateQuota;
use crate::plan::row::{Planner, Sendable};
use crate::plan::stream::{self as stream, Mode, Sequencer};
use crate::report::{RunReport, Tally};
use crate::wire::client::Client;
use pacer::{Limits, Pace, Pacer};
use send::{Shared, send_one};
pub use stop::Stop;

/// The instant decisions are taken at; the commands layer passes the
/// system clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Everything a real run's send loop needs, prepared by the command.
pub struct Dispatch {
    pub limit: Option<u64>,
    /// Where every outcome goes, in row order.
    pub report: RunReport,
    pub campaign: Arc<Campaign>,
    pub planner: Arc<Planner>,
    pub client: Client,
    pub writer: Arc<Writer>,
    pub run_id: i64,
    pub clock: Clock,
    pub quota: Arc<TemplateQuota>,
    /// Rows in the CSV, as counted by preflight.
    pub rows: u64,
}

/// What the send loop did.
pub struct Report {
    pub tally: Tally,
    pub stop: Option<Stop>,
    pub requests: u64,
    pub not_attempted: u64,
    /// Rows owed at the start that the run settled as skipped: the ledger
    /// held them back as they were to be sent (an opt-out or a repeat
    /// recorded meanwhile), or Connectly answered that the customer opted out.
    pub skipped_while_sending: u64,
    /// The pace the run reached (lower than configured after 429s).
    pub pace: Pace,
}

enum Item {
    Ready(Box<Outcome>),
    Pending(oneshot::Receiver<Option<Outcome>>),
}

struct Job {
    outcome: Outcome,
    send: Box<Sendable>,
    done: oneshot::Sender<Option<Outcome>>,
}

/// Jobs go to the dispatcher in batches, so the planning thread wakes once
/// per batch rather than once per message.
struct Jobs {
    tx: mpsc::Sender<Vec<Job>>,
    batch: Vec<Job>,
}

/// Jobs handed over at once, at most.
const JOB_BATCH: usize = 32;

impl Jobs {
    /// Queue the row's item for the reporter, handing the batch over when it
    /// is full, when the dispatcher has room for it, or before waiting on
    /// the reporter (which may be waiting for one of these jobs). `false`
    /// once the run has ended.
    fn pass(&mut self, items: &mpsc::Sender<Item>, item: Item) -> bool {
        if self.batch.len() >= JOB_BATCH || (!self.batch.is_empty() && self.tx.capacity() > 0) {
            self.flush();
        }
        match items.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(item)) => {
                self.flush();
                items.blocking_send(item).is_ok()
            }
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let _ = self.tx.blocking_send(std::mem::take(&mut self.batch));
        }
    }
}

/// How far ahead of the oldest unfinished row the stream may run.
const REORDER_WINDOW: usize = 32 * 1024;

pub async fn dispatch(d: Dispatch) -> Result<Report> {
    let rate = d.campaign.rate;
    let (stop_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        campaign: d.campaign.clone(),
        planner: d.planner.clone(),
        client: d.client,
        writer: d.writer,
        pacer: Pacer::new(Limits {
            per_second: rate.per_second,
            per_sender: Some(rate.per_sender),
            burst: rate.burst,
            senders: d.campaign.senders.len().max(1),
        }),
        lanes: Mutex::new(Vec::new()),
        run_id: d.run_id,
        clock: d.clock.clone(),
        quota: d.quota.clone(),
        stop_tx,
        stop: Mutex::new(None),
        stopping: AtomicBool::new(false),
        streak: AtomicU32::new(0),
        requests: AtomicU32::new(0),
        reached: AtomicBool::new(false),
        unreached: AtomicU32::new(0),
    });

    watch_signals(shared.clone());
    watch_ledger(shared.clone());

    let (item_tx, item_rx) = mpsc::channel::<Item>(REORDER_WINDOW);
    let (job_tx, job_rx) = mpsc::channel::<Vec<Job>>(2);

    let producer = produce(shared.clone(), (d.limit, d.rows), item_tx, job_tx);
    let dispatcher = tokio::spawn(send_all(shared.clone(), job_rx, rate.concurrency));

    // The reporter, a task of its own: the future the runtime blocks on is
    // woken through the driver (a system call each time), a task is not.
    let reporter = tokio::spawn(report(shared.clone(), d.report, item_rx));
    let (tally, not_attempted, skipped_while_sending) = match reporter.await {
        Ok(done) => done,
        // A bug: fail as loudly as before, the writer (dropped on the way
        // out) still committing what was queued.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => return Err(crate::error::Error::Aborted(format!("the reporter stopped: {e}"))),
    };
    let produced = producer.await.unwrap_or_else(|e| Err(crate::error::Error::Aborted(e.to_string())));
    let _ = dispatcher.await;
    if let Err(e) = produced {
        // Preflight read the file whole; failing now means it changed under
        // the run. What was sent is recorded: an abort, not invalid input.
        shared.stop(Stop::Rows(e.to_string()));
    }
    let stop = shared.stop.lock().ok().and_then(|a| a.clone());
    let requests = u64::from(shared.requests.load(Ordering::SeqCst));
    Ok(Report { tally, stop, requests, not_attempted, skipped_while_sending, pace: shared.pacer.pace() })
}

/// The reporter: every row's outcome, in row order; the tally, the rows
/// not attempted and those skipped while sending.
async fn report(shared: Arc<Shared>, mut report: RunReport, mut items: mpsc::Receiver<Item>) -> (Tally, u64, u64) {
    let (mut not_attempted, mut skipped_while_sending) = (0u64, 0u64);
    while let Some(item) = items.recv().await {
        let o = match item {
            Item::Ready(o) => {
                shared.record_skip(&o);
                *o
            }
            Item::Pending(rx) => match rx.await {
                Ok(Some(o)) => {
                    skipped_while_sending += u64::from(o.status == Status::Skipped);
                    o
                }
                Ok(None) | Err(_) => {
                    not_attempted += 1;
                    continue;
                }
            },
        };
        report.row(&o);
    }
    (report.finish(), not_attempted, skipped_while_sending)
}

/// Signals: the first stops taking new recipients, the second exits at once.
fn watch_signals(shared: Arc<Shared>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            let name = tokio::select! { _ = term.recv() => "SIGTERM", _ = int.recv() => "SIGINT" };
            eprintln!("\n{name}: finishing requests in flight, then stopping (again to exit at once)");
            shared.stop(Stop::Signal(name));
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            // Answers already received (and shown) are recorded first.
            let recorded = shared.writer.flush(std::time::Duration::from_millis(500));
            eprintln!(
                "second signal: exiting now; {}requests in flight are recorded as unknown on the next run",
                if recorded { "answers received are recorded, " } else { "" }
            );
            std::process::exit(ExitCode::Aborted as i32);
        }
    });
}

/// A ledger commit that failed stops the run at once: nobody waits for an
/// outcome's commit, so the next request's `in_flight` would learn of it
/// only later.
fn watch_ledger(shared: Arc<Shared>) {
    let mut failed = shared.writer.failed();
    tokio::spawn(async move {
        if let Ok(e) = failed.wait_for(Option::is_some).await
            && let Some(e) = e.clone()
        {
            shared.stop(Stop::Ledger(e));
        }
    });
}

/// The stream, on a thread of its own: plan rows, sequence them, hand out
/// jobs in row order and every row's item to the reporter.
fn produce(
    shared: Arc<Shared>,
    (limit, rows): (Option<u64>, u64),
    item_tx: mpsc::Sender<Item>,
    job_tx: mpsc::Sender<Vec<Job>>,
) -> tokio::task::JoinHandle<Result<()>> {
    let (planner, quota) = (shared.planner.clone(), shared.quota.clone());
    tokio::task::spawn_blocking(move || -> Result<()> {
        let source = crate::plan::recipients::Source::open(&planner.campaign)?;
        let mut seq = Sequencer::new(limit, quota, rows as usize);
        let mut jobs = Jobs { tx: job_tx, batch: Vec::new() };
        let now = (shared.clock)();
        stream::run(planner, source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
            if shared.stopped() || seq.admit(plan).is_break() {
                return ControlFlow::Break(());
            }
            let outcome = std::mem::replace(&mut plan.outcome, Outcome::new(0));
            let item = match plan.send.take() {
                None => Item::Ready(Box::new(outcome)),
                Some(send) => {
                    let (done, rx) = oneshot::channel();
                    jobs.batch.push(Job { outcome, send, done });
                    Item::Pending(rx)
                }
            };
            if jobs.pass(&item_tx, item) { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })?;
        jobs.flush();
        Ok(())
    })
}

/// The dispatcher: each job its own task, at most `concurrency` at once.
/// With a pool of senders each number may hold only its share of those
/// places; a job whose number has used its share waits aside while later
/// rows for other numbers go ahead, so a number at its pace limit does not
/// hold the others back.
async fn send_all(shared: Arc<Shared>, mut job_rx: mpsc::Receiver<Vec<Job>>, concurrency: usize) {
    let mut d = Dispatcher {
        share: concurrency.div_ceil(shared.campaign.senders.len().max(1)).max(1),
        slots: Arc::new(Semaphore::new(concurrency)),
        busy: HashMap::new(),
        aside: HashMap::new(),
        waiting: 0,
        freed: mpsc::unbounded_channel(),
        tasks: tokio::task::JoinSet::new(),
        shared,
    };
    let mut open = true;
    while open || d.waiting > 0 {
        tokio::select! {
            Some(lane) = d.freed.1.recv() => {
                if !d.freed_one(lane).await {
                    return;
                }
            }
            batch = job_rx.recv(), if open && d.waiting < SET_ASIDE => match batch {
                Some(batch) => {
                    for job in batch {
                        if !d.offer(job).await {
                            return;
                        }
                    }
                }
                None => open = false,
            },
        }
        while d.tasks.try_join_next().is_some() {}
    }
    while d.tasks.join_next().await.is_some() {}
}

/// Jobs set aside at most (waiting for their number's share), before the
/// dispatcher stops taking more.
const SET_ASIDE: usize = 4096;

struct Dispatcher {
    shared: Arc<Shared>,
    /// Places in flight one sender number may hold.
    share: usize,
    slots: Arc<Semaphore>,
    /// Jobs running per pace lane.
    busy: HashMap<usize, usize>,
    aside: HashMap<usize, VecDeque<Job>>,
    waiting: usize,
    freed: (mpsc::UnboundedSender<usize>, mpsc::UnboundedReceiver<usize>),
    tasks: tokio::task::JoinSet<()>,
}

impl Dispatcher {
    /// Start the job, or set it aside while its number uses its share.
    /// `false` once the run can take no more.
    async fn offer(&mut self, job: Job) -> bool {
        let lane = self.shared.lane(job.outcome.sender.as_deref());
        if self.busy.get(&lane).copied().unwrap_or(0) >= self.share {
            self.aside.entry(lane).or_default().push_back(job);
            self.waiting += 1;
            return true;
        }
        self.start(lane, job).await
    }

    /// A job of `lane` finished: jobs set aside for it start while it has
    /// room (after a stop they are all let go at once).
    async fn freed_one(&mut self, lane: usize) -> bool {
        if let Some(n) = self.busy.get_mut(&lane) {
            *n = n.saturating_sub(1);
        }
        while self.busy.get(&lane).copied().unwrap_or(0) < self.share {
            let Some(job) = self.aside.get_mut(&lane).and_then(VecDeque::pop_front) else { break };
            self.waiting -= 1;
            if !self.start(lane, job).await {
                return false;
            }
        }
        true
    }

    async fn start(&mut self, lane: usize, job: Job) -> bool {
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return false;
        };
        if self.shared.stopped() {
            let _ = job.done.send(None);
            return true;
        }
        *self.busy.entry(lane).or_default() += 1;
        let (shared, freed) = (self.shared.clone(), self.freed.0.clone());
        self.tasks.spawn(async move {
            let out = send_one(&shared, job.outcome, job.send, permit).await;
            let _ = job.done.send(out);
            let _ = freed.send(lane);
        });
        true
    }
}
