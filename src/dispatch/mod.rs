//! The send loop of a real run: plans stream in row order, at most
//! `concurrency` requests are in flight, each recorded in flight, paced at
//! the wire, classified once, retried or fallen back, and recorded after its
//! answer. Outcomes come back in row order for the reporters.

pub mod pacer;
mod send;
mod stop;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::campaign::Campaign;
use crate::error::{ExitCode, Result};
use crate::ledger::Writer;
use crate::outcome::Outcome;
use crate::plan::row::{Planner, Sendable};
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
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
    });

    watch_signals(shared.clone());

    let (item_tx, mut item_rx) = mpsc::channel::<Item>(REORDER_WINDOW);
    let (job_tx, job_rx) = mpsc::channel::<Vec<Job>>(2);

    let producer = produce(shared.clone(), (d.limit, d.rows), item_tx, job_tx);
    let dispatcher = tokio::spawn(send_all(shared.clone(), job_rx, rate.concurrency));

    // The reporter: outcomes in row order.
    let mut report = d.report;
    let mut not_attempted = 0u64;
    while let Some(item) = item_rx.recv().await {
        let o = match item {
            Item::Ready(o) => {
                shared.record_skip(&o);
                *o
            }
            Item::Pending(rx) => match rx.await {
                Ok(Some(o)) => o,
                Ok(None) | Err(_) => {
                    not_attempted += 1;
                    continue;
                }
            },
        };
        report.row(&o);
    }
    let tally = report.finish();
    let produced = producer.await.unwrap_or_else(|e| Err(crate::error::Error::Aborted(e.to_string())));
    let _ = dispatcher.await;
    if let Err(e) = produced {
        // Preflight read the file whole; failing now means it changed under
        // the run. What was sent is recorded: an abort, not invalid input.
        shared.stop(Stop::Rows(e.to_string()));
    }
    let stop = shared.stop.lock().ok().and_then(|a| a.clone());
    let requests = u64::from(shared.requests.load(Ordering::SeqCst));
    Ok(Report { tally, stop, requests, not_attempted, pace: shared.pacer.pace() })
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
            eprintln!("second signal: exiting now; requests in flight are recorded as unknown on the next run");
            std::process::exit(ExitCode::Aborted as i32);
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
async fn send_all(shared: Arc<Shared>, mut job_rx: mpsc::Receiver<Vec<Job>>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(batch) = job_rx.recv().await {
        for job in batch {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            if shared.stopped() {
                let _ = job.done.send(None);
                continue;
            }
            let shared = shared.clone();
            tasks.spawn(async move {
                let out = send_one(&shared, job.outcome, job.send, permit).await;
                let _ = job.done.send(out);
            });
            while tasks.try_join_next().is_some() {}
        }
    }
    while tasks.join_next().await.is_some() {}
}
