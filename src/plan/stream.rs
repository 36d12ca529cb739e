//! Rows as a stream: one thread reads the CSV in batches, workers on every
//! core plan them, and the caller receives the plans back in row order.
//! Memory stays flat: a bounded number of batches is in flight, and the only
//! thing kept per row is a 128-bit hash of its key (for duplicates).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use csv::StringRecord;
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::outcome::{Reason, Status};
use crate::plan::decide::{self, TemplateQuota};
use crate::plan::recipients::{Source, csv_error_in};
use crate::plan::row::{Planner, RowPlan};

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

/// A batch of rows on its round trip: the reader fills `records`, a
/// worker fills `plans` (and `lines` in JSONL mode), the sink reads them in
/// order and sends the batch back to the reader, which frees the old plans
/// and reuses every buffer.
#[derive(Default)]
struct Batch {
    index: u64,
    /// The row number of each record (rows left out still count).
    numbers: Vec<u64>,
    records: Vec<StringRecord>,
    plans: Vec<RowPlan>,
    lines: Vec<u8>,
}

/// Plan every row of `source` and hand each plan, in row order, to `sink`,
/// with its JSON line when the mode asks for one. `sink` may stop the
/// stream early. Returns rows read.
pub fn run(
    planner: Arc<Planner>,
    mut source: Source,
    mode: Mode,
    mut sink: impl FnMut(&mut RowPlan, Option<&[u8]>) -> ControlFlow<()>,
) -> Result<u64> {
    let workers = thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    let stop = Arc::new(AtomicBool::new(false));
    // A fixed pool of batches circulates, so rows in flight (queued,
    // planning, waiting to be put back in order) never exceed POOL batches.
    let pool = workers * 3;
    let (todo_tx, todo_rx) = sync_channel::<Batch>(pool);
    let (done_tx, done_rx) = sync_channel::<Batch>(pool);
    let (back_tx, back_rx) = sync_channel::<Batch>(pool);
    let csv_path = planner.campaign.recipients.csv.clone();
    let headers = source.headers.clone();

    let reader = {
        let stop = stop.clone();
        thread::Builder::new()
            .name("csv".into())
            .spawn(move || -> Result<u64> {
                let mut index = 0;
                let mut rows = 0u64;
                let mut fresh = pool;
                loop {
                    let mut batch = if fresh > 0 {
                        fresh -= 1;
                        Batch { records: vec![StringRecord::new(); BATCH], ..Batch::default() }
                    } else {
                        match back_rx.recv() {
                            Ok(b) => b,
                            Err(_) => return Ok(rows),
                        }
                    };
                    let end = fill(&mut source, &mut batch, &mut rows)
                        .map_err(|e| csv_error_in(&csv_path, e, Some(&headers)))?;
                    if batch.records.is_empty() || stop.load(Ordering::Relaxed) {
                        return Ok(rows);
                    }
                    batch.index = index;
                    if todo_tx.send(batch).is_err() {
                        return Ok(rows);
                    }
                    index += 1;
                    if end {
                        return Ok(rows);
                    }
                }
            })
            .map_err(|e| Error::Aborted(format!("cannot start a thread: {e}")))?
    };

    let todo_rx = Arc::new(Mutex::new(todo_rx));
    let mut handles = Vec::new();
    for i in 0..workers {
        let rx = todo_rx.clone();
        let tx = done_tx.clone();
        let planner = planner.clone();
        let h = thread::Builder::new()
            .name(format!("plan-{i}"))
            .spawn(move || worker(&planner, &rx, &tx, mode))
            .map_err(|e| Error::Aborted(format!("cannot start a thread: {e}")))?;
        handles.push(h);
    }
    drop(done_tx);

    let mut pending: BTreeMap<u64, Batch> = BTreeMap::new();
    let mut next = 0u64;
    let mut stopped = false;
    'outer: for done in done_rx.iter() {
        pending.insert(done.index, done);
        while let Some(mut batch) = pending.remove(&next) {
            next += 1;
            for plan in batch.plans.iter_mut() {
                let line = plan.line.take().map(|r| &batch.lines[r]);
                if sink(plan, line).is_break() {
                    stopped = true;
                    break 'outer;
                }
            }
            let _ = back_tx.send(batch);
        }
    }
    if stopped {
        stop.store(true, Ordering::Relaxed);
    }
    // Unblock everyone so the threads can finish.
    drop(back_tx);
    drop(done_rx);
    for h in handles {
        let _ = h.join();
    }
    match reader.join() {
        Ok(r) => r,
        Err(_) => Err(Error::Aborted("the CSV reader stopped unexpectedly".into())),
    }
}

/// Read up to a batch of rows, leaving out blank ones (which still count
/// in `rows`). `true` at the end of the file.
fn fill(source: &mut Source, batch: &mut Batch, rows: &mut u64) -> csv::Result<bool> {
    batch.plans.clear();
    batch.lines.clear();
    batch.numbers.clear();
    batch.records.resize(BATCH, StringRecord::new());
    let mut n = 0;
    while n < BATCH {
        if !source.reader.read_record(&mut batch.records[n])? {
            batch.records.truncate(n);
            return Ok(true);
        }
        *rows += 1;
        // Spreadsheets export trailing rows of empty cells (`,,,,`).
        if !is_blank(&batch.records[n]) {
            batch.numbers.push(*rows);
            n += 1;
        }
    }
    Ok(false)
}

/// A row whose every cell is empty or blank.
fn is_blank(rec: &StringRecord) -> bool {
    rec.iter().all(|f| f.trim().is_empty())
}

fn worker(planner: &Planner, rx: &Mutex<Receiver<Batch>>, tx: &std::sync::mpsc::SyncSender<Batch>, mode: Mode) {
    loop {
        let mut batch = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        let Batch { numbers, records, plans, lines, .. } = &mut batch;
        for (rec, row) in records.iter().zip(numbers.iter()) {
            let mut plan = planner.plan_row(*row, rec, mode.now, mode.with_request);
            plan.outcome.line = rec.position().map(|p| p.line());
            if mode.jsonl {
                let start = lines.len();
                plan.outcome.write_jsonl(lines);
                plan.line = Some(start..lines.len());
                // The line carries the request now; free it on this thread.
                plan.outcome.request = None;
            }
            plans.push(plan);
        }
        if tx.send(batch).is_err() {
            return;
        }
    }
}

/// The keys seen so far (for in-file duplicates), by their xxh3-128 hash:
/// one flat table of hashes, probed linearly from the slot the hash's top
/// bits pick, so an insert usually touches one cache line (a general hash
/// set reads a control byte and then its slot, two misses in a table this
/// large). Sized at one and a half slots a key (16 bytes each), so an
/// estimate of the rows up to a fifth short still fits before the table
/// fills to 80 % and has to grow (twice the size, the old one held meanwhile).
struct KeySet {
    /// 0 marks an empty slot; the key whose hash is 0 is kept aside.
    slots: Vec<u128>,
    len: usize,
    zero: bool,
}

impl KeySet {
    fn with_capacity(keys: usize) -> KeySet {
        KeySet { slots: vec![0; Self::slots_for(keys)], len: 0, zero: false }
    }

    fn slots_for(keys: usize) -> usize {
        keys.saturating_mul(3) / 2 + 16
    }

    /// Add `h`; `false` when it was already there.
    fn insert(&mut self, h: u128) -> bool {
        if h == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        let n = self.slots.len();
        let mut i = (((h >> 64) as u64 as u128 * n as u128) >> 64) as usize;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = h;
                    self.len += 1;
                    return true;
                }
                k if k == h => return false,
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.slots, vec![0; Self::slots_for(self.len.max(16) * 2)]);
        self.len = 0;
        for h in old.into_iter().filter(|h| *h != 0) {
            self.insert(h);
        }
    }
}

/// The order-dependent rules, applied as plans come back in row order:
/// in-file duplicates, the daily template cap, and `--limit`.
pub struct Sequencer {
    seen: KeySet,
    limit: Option<u64>,
    pub planned: u64,
    /// Template sends still allowed today, when capped.
    pub template_quota: Arc<TemplateQuota>,
}

impl Sequencer {
    /// `rows` is an estimate of the rows to come: the key set is sized for
    /// it once instead of doubling (and briefly holding two tables) as it grows.
    pub fn new(limit: Option<u64>, template_quota: Arc<TemplateQuota>, rows: usize) -> Self {
        Sequencer { seen: KeySet::with_capacity(rows), limit, planned: 0, template_quota }
    }

    /// Apply the rules to one plan. `Break` means the limit was reached
    /// before this row: it is not part of the run.
    pub fn admit(&mut self, plan: &mut RowPlan) -> ControlFlow<()> {
        if let Some(h) = plan.key_hash
            && !self.seen.insert(h)
        {
            // The key belongs to the earlier row: this one has no route or error of its own.
            plan.withdraw(Status::Skipped, Reason::Duplicate);
            plan.outcome.route = None;
            plan.outcome.error = None;
            return ControlFlow::Continue(());
        }
        if plan.send.is_none() {
            return ControlFlow::Continue(());
        }
        if self.limit.is_some_and(|l| self.planned >= l) {
            return ControlFlow::Break(());
        }
        // The daily template cap, in row order (the planner decided the rest).
        if let (Some(route), Some(s)) = (plan.outcome.route, plan.send.as_mut())
            && !decide::claim(route, &self.template_quota, &mut s.place)
        {
            plan.withdraw(Status::Deferred, Reason::DailyLimit);
            return ControlFlow::Continue(());
        }
        self.planned += 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::KeySet;

    #[test]
    fn key_set_tells_new_keys_from_seen_ones_as_it_grows() {
        let mut set = KeySet::with_capacity(0);
        let keys: Vec<u128> = (0..10_000u64).map(|i| crate::plan::row::key_hash(&i.to_string())).collect();
        assert!(keys.iter().all(|k| set.insert(*k)));
        assert!(keys.iter().all(|k| !set.insert(*k)));
        // Hashes that pick the same slot, and the hash 0.
        let (a, b) = (7u128 << 64 | 1, 7u128 << 64 | 2);
        assert!(set.insert(a) && set.insert(b) && !set.insert(a) && !set.insert(b));
        assert!(set.insert(0) && !set.insert(0));
        assert_eq!(set.len, 10_002);
    }
}
