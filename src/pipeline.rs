//! Rows as a stream: one thread reads the CSV in batches, workers on every
//! core plan them, and the caller receives the plans back in row order.
//! Memory stays flat: a bounded number of batches is in flight, and the only
//! thing kept per row is a 128-bit hash of its key (for duplicates).

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use csv::StringRecord;
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::outcome::{Reason, Status};
use crate::planner::{Planner, RowPlan};
use crate::recipients::{Source, csv_error};
use crate::route::Route;

const BATCH: usize = 512;

/// How rows are planned.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Decide windows and schedules as of this instant.
    pub now: Timestamp,
    /// Attach the request body to each outcome (dry runs).
    pub with_request: bool,
    /// Serialize each outcome to a JSON line on the workers (dry-run JSONL).
    pub jsonl: bool,
}

struct Batch {
    index: u64,
    first_row: u64,
    records: Vec<StringRecord>,
}

/// Plan every row of `source` and hand each plan, in row order, to `sink`.
/// `sink` may stop the stream early. Returns rows read.
pub fn run(
    planner: Arc<Planner>,
    mut source: Source,
    mode: Mode,
    mut sink: impl FnMut(RowPlan) -> ControlFlow<()>,
) -> Result<u64> {
    let workers = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let (batch_tx, batch_rx) = sync_channel::<Batch>(workers * 2);
    let (done_tx, done_rx) = sync_channel::<(u64, Vec<RowPlan>, Vec<StringRecord>)>(workers * 2);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<StringRecord>>(workers * 4);
    let csv_path = planner.campaign.recipients.csv.clone();

    let reader = {
        let stop = stop.clone();
        thread::Builder::new()
            .name("csv".into())
            .spawn(move || -> Result<u64> {
                let mut index = 0;
                let mut rows = 0u64;
                loop {
                    let mut records = recycle_rx
                        .try_recv()
                        .unwrap_or_else(|_| vec![StringRecord::new(); BATCH]);
                    let mut n = 0;
                    while n < BATCH {
                        match source.reader.read_record(&mut records[n]) {
                            Ok(true) => n += 1,
                            Ok(false) => break,
                            Err(e) => return Err(csv_error(&csv_path, e)),
                        }
                    }
                    if n == 0 || stop.load(Ordering::Relaxed) {
                        return Ok(rows);
                    }
                    records.truncate(n);
                    let first_row = rows + 1;
                    rows += n as u64;
                    if batch_tx
                        .send(Batch {
                            index,
                            first_row,
                            records,
                        })
                        .is_err()
                    {
                        return Ok(rows);
                    }
                    index += 1;
                    if n < BATCH {
                        return Ok(rows);
                    }
                }
            })
            .map_err(|e| Error::Aborted(format!("cannot start a thread: {e}")))?
    };

    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let mut handles = Vec::new();
    for i in 0..workers {
        let rx = batch_rx.clone();
        let tx = done_tx.clone();
        let planner = planner.clone();
        let h = thread::Builder::new()
            .name(format!("plan-{i}"))
            .spawn(move || worker(&planner, &rx, &tx, mode))
            .map_err(|e| Error::Aborted(format!("cannot start a thread: {e}")))?;
        handles.push(h);
    }
    drop(done_tx);

    let mut pending: BTreeMap<u64, (Vec<RowPlan>, Vec<StringRecord>)> = BTreeMap::new();
    let mut next = 0u64;
    let mut stopped = false;
    'outer: for (index, plans, records) in done_rx.iter() {
        pending.insert(index, (plans, records));
        while let Some((plans, mut records)) = pending.remove(&next) {
            next += 1;
            for plan in plans {
                if sink(plan).is_break() {
                    stopped = true;
                    break 'outer;
                }
            }
            records.resize(BATCH, StringRecord::new());
            let _ = recycle_tx.try_send(records);
        }
    }
    if stopped {
        stop.store(true, Ordering::Relaxed);
    }
    // Unblock everyone: drain what is left so the threads can finish.
    drop(recycle_tx);
    drop(done_rx);
    for h in handles {
        let _ = h.join();
    }
    match reader.join() {
        Ok(r) => r,
        Err(_) => Err(Error::Aborted("the CSV reader stopped unexpectedly".into())),
    }
}

type Done = std::sync::mpsc::SyncSender<(u64, Vec<RowPlan>, Vec<StringRecord>)>;

fn worker(planner: &Planner, rx: &Mutex<Receiver<Batch>>, tx: &Done, mode: Mode) {
    loop {
        let batch = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        let mut plans = Vec::with_capacity(batch.records.len());
        for (i, rec) in batch.records.iter().enumerate() {
            let mut plan =
                planner.plan_row(batch.first_row + i as u64, rec, mode.now, mode.with_request);
            if mode.jsonl {
                let mut line = Vec::with_capacity(512);
                plan.outcome.write_jsonl(&mut line);
                plan.line = Some(line);
            }
            plans.push(plan);
        }
        if tx.send((batch.index, plans, batch.records)).is_err() {
            return;
        }
    }
}

/// The order-dependent rules, applied as plans come back in row order:
/// in-file duplicates, the daily template cap, and `--limit`.
pub struct Sequencer {
    seen: HashSet<u128>,
    limit: Option<u64>,
    pub planned: u64,
    /// Template sends still allowed today, when capped.
    pub template_quota: Option<u64>,
}

impl Sequencer {
    pub fn new(limit: Option<u64>, template_quota: Option<u64>) -> Self {
        Sequencer {
            seen: HashSet::new(),
            limit,
            planned: 0,
            template_quota,
        }
    }

    /// Apply the rules to one plan. `Break` means the limit was reached
    /// before this row: it is not part of the run.
    pub fn admit(&mut self, plan: &mut RowPlan) -> ControlFlow<()> {
        if let Some(h) = plan.key_hash
            && !self.seen.insert(h)
        {
            let o = &mut plan.outcome;
            o.status = Status::Skipped;
            o.reason = Some(Reason::Duplicate);
            o.route = None;
            o.request = None;
            o.error = None;
            plan.send = None;
            plan.line = None;
            return ControlFlow::Continue(());
        }
        if plan.send.is_none() {
            return ControlFlow::Continue(());
        }
        if self.limit.is_some_and(|l| self.planned >= l) {
            return ControlFlow::Break(());
        }
        if plan.outcome.route == Some(Route::Template)
            && let Some(q) = &mut self.template_quota
        {
            if *q == 0 {
                let o = &mut plan.outcome;
                o.status = Status::Deferred;
                o.reason = Some(Reason::DailyLimit);
                o.request = None;
                plan.send = None;
                plan.line = None;
                return ControlFlow::Continue(());
            }
            *q -= 1;
        }
        self.planned += 1;
        ControlFlow::Continue(())
    }
}
