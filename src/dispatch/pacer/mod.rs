//! Pacing at the wire (SPEC §3 step 6, §6): the run's pace and each sender
//! number's pace, as GCRA limiters (the algorithm governor implements)
//! served by one task on the run's runtime that sleeps on the runtime's
//! timer — never spins — until the next release.
//!
//! The limiter is written here rather than taken from governor: governor
//! answers whether a request may go now, while this pacer needs the instant
//! each waiter may go (to sleep until it), waiters in row order per sender
//! lane, lateness made up on a schedule, and the one-second guard at the
//! wire; its GCRA is a few lines (gcra.rs).
//!
//! Two things differ from a plain limiter. Instants are scheduled, not
//! re-read: a release that wakes late still counts from the instant it was
//! due, and the next releases make up the difference (never closer than
//! half an interval, and never more than `per_second + burst - 1` in any
//! second), so timer slack costs at most its average, not its sum (see
//! gcra.rs). And each sender
//! number waits in its own lane: the next release goes to whichever lane
//! is due first under both its own limit and the run's, so a slow number
//! never holds the others back.
//!
//! A request waits in line while its `in_flight` record is committed, and
//! takes a slot only once the commit is done: nothing stands between the
//! slot and the wire, and the commit's answer wakes nobody while others are
//! in line before it.
//!
//! A 429 halves the run's pace (at most once a second) and honours
//! Retry-After; good answers bring it back gradually (AIMD).

mod gcra;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use crate::ledger::{Commit, STOPPED};
pub use crate::outcome::Pace;
use gcra::Gcra;

/// The run's limits: `per_second` for every request, `per_sender` for each
/// of `senders` lanes (one lane when the campaign names no pool).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_second: u32,
    pub per_sender: Option<u32>,
    pub burst: u32,
    pub senders: usize,
}

/// Shared between the tasks that wait and the task that releases them.
struct Shared {
    lanes: Mutex<Lanes>,
    /// Wakes the releasing task: a waiter wakes it only when it is idle or
    /// could be due before its planned wake-up, so a steady run costs one
    /// timer wake-up per release.
    wake: Notify,
}

pub struct Pacer {
    shared: Arc<Shared>,
    /// Whether the pace is below the configured one (after a 429): only
    /// then do good answers need the lock.
    slowed: Arc<AtomicBool>,
    running: bool,
}

impl Pacer {
    /// The pacer releases from a task on the current runtime, so a release
    /// wakes its request on the thread that posts it, with no hand-off
    /// between threads. Outside a runtime every wait fails: nothing is
    /// sent unpaced.
    pub fn new(limits: Limits) -> Pacer {
        let slowed = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared { lanes: Mutex::new(Lanes::new(limits, slowed.clone())), wake: Notify::new() });
        let running = match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(serve(shared.clone()));
                true
            }
            Err(_) => false,
        };
        Pacer { shared, slowed, running }
    }

    /// Wait for this request's turn in `lane` (its sender number's index).
    /// Among those waiting, the earliest CSV row goes first. `false` if
    /// pacing is unavailable.
    #[cfg(test)]
    pub async fn ready(&self, lane: usize, row: u64) -> bool {
        matches!(self.after(lane, row, Recorded::Ready(Ok(None))).await, Some(Ok(None)))
    }

    /// Wait for this request's turn once its `in_flight` record (`commit`,
    /// the ledger's answer; `None` if recorded before) is committed: the
    /// request waits in line while the commit is made, and takes a slot
    /// only once the answer says it may go. Returns the answer: `Ok(None)`
    /// with the slot taken (post at once); a hold or an error without a
    /// slot; `None` if pacing is unavailable. Whether the commit is done is
    /// looked at when a slot comes (or when nobody else could use it), so
    /// a commit does not wake the run.
    pub async fn after_commit(
        &self,
        lane: usize,
        row: u64,
        commit: Option<oneshot::Receiver<Commit>>,
    ) -> Option<Commit> {
        self.after(lane, row, commit.map_or(Recorded::Ready(Ok(None)), Recorded::Pending)).await
    }

    async fn after(&self, lane: usize, row: u64, recorded: Recorded) -> Option<Commit> {
        if !self.running {
            return None;
        }
        let (done, rx) = oneshot::channel();
        {
            let Ok(mut l) = self.shared.lanes.lock() else { return None };
            if l.join(lane, Waiter { row, recorded, done }) {
                self.shared.wake.notify_one();
            }
        }
        rx.await.ok()
    }

    /// By when the `in_flight` record of a request joining `lane` now
    /// should be committed: `COMMIT_AHEAD` before the slot it can expect
    /// (one interval for each request already waiting). Requests waiting in
    /// line so share a commit, yet each is committed before its slot comes.
    pub fn commit_by(&self, lane: usize) -> Instant {
        let now = Instant::now();
        let Ok(l) = self.shared.lanes.lock() else { return now };
        l.expected(lane, now).checked_sub(COMMIT_AHEAD).map_or(now, |by| by.max(now))
    }

    /// Connectly answered 429: slow down, and wait out Retry-After.
    pub fn throttled(&self, after: Option<Duration>) {
        if let Ok(mut l) = self.shared.lanes.lock() {
            l.slow_down(after);
            self.shared.wake.notify_one();
        }
    }

    /// Connectly answered something other than 429.
    pub fn answered(&self) {
        if self.slowed.load(Ordering::Relaxed)
            && let Ok(mut l) = self.shared.lanes.lock()
        {
            l.recover();
        }
    }

    pub fn pace(&self) -> Pace {
        self.shared.lanes.lock().map(|l| l.pace).unwrap_or(Pace {
            configured: 0.0,
            lowest: 0.0,
            last: 0.0,
            throttled: 0,
        })
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        if let Ok(mut l) = self.shared.lanes.lock() {
            l.closed = true;
        }
        self.shared.wake.notify_one();
    }
}

/// How long before its expected slot a request's `in_flight` commit is
/// due: ample for a commit (well under a millisecond on a quiet disk), and
/// a commit that takes longer only lets a committed request behind it go first.
const COMMIT_AHEAD: Duration = Duration::from_millis(5);

/// What the releasing task waits for next.
enum Next {
    /// The next release, and whether a commit could make a request due
    /// before it (then commits may wake the task too).
    At(Instant, bool),
    /// Nobody can go until a commit is done.
    Commits,
    Nothing,
}

/// The releasing task: release each waiter at its instant, sleeping on the
/// runtime's timer in between. The timer wakes at most a millisecond late;
/// releases are scheduled against absolute instants, so that is not rate
/// lost (see `Gcra::take`).
async fn serve(shared: Arc<Shared>) {
    // One timer, moved only when the next release moves: each new deadline
    // earlier than the runtime's next wake-up costs it a system call.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        let next = {
            let Ok(mut l) = shared.lanes.lock() else { return };
            if l.closed {
                return;
            }
            l.release_due(Instant::now());
            l.next()
        };
        let commits = std::future::poll_fn(|cx| match shared.lanes.lock() {
            Ok(mut l) => l.poll_commits(cx),
            Err(_) => Poll::Ready(()),
        });
        if let Next::At(at, _) = next
            && armed != Some(at)
        {
            timer.as_mut().reset(at.into());
            armed = Some(at);
        }
        match next {
            Next::At(_, false) => tokio::select! {
                _ = &mut timer => armed = None,
                _ = shared.wake.notified() => {}
            },
            Next::At(_, true) => tokio::select! {
                _ = &mut timer => armed = None,
                _ = commits => {}
                _ = shared.wake.notified() => {}
            },
            Next::Commits => tokio::select! {
                _ = commits => {}
                _ = shared.wake.notified() => {}
            },
            Next::Nothing => shared.wake.notified().await,
        }
    }
}

enum Recorded {
    Pending(oneshot::Receiver<Commit>),
    Ready(Commit),
}

/// A request waiting for its slot.
struct Waiter {
    row: u64,
    recorded: Recorded,
    done: oneshot::Sender<Commit>,
}

impl Waiter {
    /// Look (without waiting) whether the commit is done.
    fn settle(&mut self) {
        if let Recorded::Pending(rx) = &mut self.recorded {
            match rx.try_recv() {
                Ok(c) => self.recorded = Recorded::Ready(c),
                Err(oneshot::error::TryRecvError::Closed) => self.recorded = Recorded::Ready(Err(STOPPED.into())),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
    }

    /// Committed and free to go: it needs a slot.
    fn sendable(&self) -> bool {
        matches!(self.recorded, Recorded::Ready(Ok(None)))
    }
}

/// One sender number's limiter and its waiters in row order.
struct Lane {
    gcra: Gcra,
    queue: Vec<Waiter>,
}

impl Lane {
    fn new(per_second: f64, burst: u32, now: Instant) -> Lane {
        Lane { gcra: Gcra::new(per_second, burst, now), queue: Vec::new() }
    }

    /// Settle every waiter; those held back or failed go at once, without a slot.
    fn settle(&mut self) {
        for w in &mut self.queue {
            w.settle();
        }
        let (go, stay): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|w| matches!(w.recorded, Recorded::Ready(ref c) if !matches!(c, Ok(None))));
        self.queue = stay;
        for w in go {
            if let Recorded::Ready(c) = w.recorded {
                let _ = w.done.send(c);
            }
        }
    }

    fn has_sendable(&self) -> bool {
        self.queue.iter().any(Waiter::sendable)
    }

    fn has_pending(&self) -> bool {
        self.queue.iter().any(|w| matches!(w.recorded, Recorded::Pending(_)))
    }
}

/// The pacing state: the run's limiter and one lane per sender number.
struct Lanes {
    run: Gcra,
    burst: u32,
    per_sender: f64,
    lanes: Vec<Lane>,
    configured: f64,
    rate: f64,
    last_cut: Option<Instant>,
    pace: Pace,
    slowed: Arc<AtomicBool>,
    /// When the task plans to wake for a release; `None` while it waits
    /// for work or for commits.
    sleeping_until: Option<Instant>,
    closed: bool,
}

impl Lanes {
    fn new(l: Limits, slowed: Arc<AtomicBool>) -> Lanes {
        let now = Instant::now();
        let configured = f64::from(l.per_second.max(1));
        let per_sender = l.per_sender.map_or(f64::MAX, |p| f64::from(p.max(1)));
        let lane = |_| Lane::new(per_sender, l.burst, now);
        Lanes {
            run: Gcra::new(configured, l.burst, now),
            burst: l.burst,
            per_sender,
            lanes: (0..l.senders.max(1)).map(lane).collect(),
            configured,
            rate: configured,
            last_cut: None,
            pace: Pace { configured, lowest: configured, last: configured, throttled: 0 },
            slowed,
            sleeping_until: None,
            closed: false,
        }
    }

    /// Queue `w` in lane `i` (made, paced at `per_sender`, when a number
    /// first appears); whether the releasing task must look now.
    fn join(&mut self, i: usize, mut w: Waiter) -> bool {
        while self.lanes.len() <= i {
            self.lanes.push(Lane::new(self.per_sender, self.burst, Instant::now()));
        }
        let now = Instant::now();
        if self.lanes.iter().all(|l| l.queue.is_empty()) {
            self.run.idle(now);
        }
        let lane = &mut self.lanes[i];
        if lane.queue.is_empty() {
            lane.gcra.idle(now);
        }
        w.settle();
        let sendable = w.sendable();
        let at = lane.queue.partition_point(|o| o.row <= w.row);
        lane.queue.insert(at, w);
        let due = lane.gcra.due().max(self.run.due());
        // Idle or waiting for commits: look at the newcomer's commit. A
        // committed newcomer due before the planned wake-up: wake earlier.
        self.sleeping_until.is_none_or(|planned| sendable && due < planned)
    }

    /// When a request joining lane `i` now can expect its slot: after
    /// everyone waiting before it, in its lane and in the run.
    fn expected(&self, i: usize, now: Instant) -> Instant {
        let waiting: usize = self.lanes.iter().map(|l| l.queue.len()).sum();
        let after = |g: &Gcra, ahead: usize| g.due().max(now) + g.interval() * ahead as u32;
        let run = after(&self.run, waiting);
        self.lanes.get(i).map_or(run, |l| run.max(after(&l.gcra, l.queue.len())))
    }

    /// The lane whose next sendable waiter is due first, and when.
    fn next_due(&self) -> Option<(usize, Instant)> {
        let run = self.run.due();
        self.lanes
            .iter()
            .enumerate()
            .filter(|(_, l)| l.has_sendable())
            .map(|(i, l)| (i, l.gcra.due().max(run)))
            .min_by_key(|(_, at)| *at)
    }

    /// Release every waiter due by `now`.
    fn release_due(&mut self, now: Instant) {
        for lane in &mut self.lanes {
            lane.settle();
        }
        while let Some((i, at)) = self.next_due()
            && at <= now
        {
            let lane = &mut self.lanes[i];
            let Some(k) = lane.queue.iter().position(Waiter::sendable) else { break };
            let w = lane.queue.remove(k);
            // A waiter that gave up (its run stopped) does not use the slot.
            if w.done.send(Ok(None)).is_ok() {
                self.run.take(now);
                lane.gcra.take(now);
            }
        }
    }

    /// What to wait for next; remembers the planned wake-up.
    fn next(&mut self) -> Next {
        let next = match self.next_due() {
            Some((_, at)) => {
                let run = self.run.due();
                // A lane with nobody committed yet could be due before `at`.
                let sooner =
                    self.lanes.iter().any(|l| !l.has_sendable() && l.has_pending() && l.gcra.due().max(run) < at);
                Next::At(at, sooner)
            }
            None if self.lanes.iter().any(Lane::has_pending) => Next::Commits,
            None => Next::Nothing,
        };
        self.sleeping_until = match next {
            Next::At(at, _) => Some(at),
            _ => None,
        };
        next
    }

    /// Ready once a commit of a lane with nobody committed is done (the
    /// task is woken by the commit).
    fn poll_commits(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut any = false;
        for lane in self.lanes.iter_mut().filter(|l| !l.has_sendable()) {
            for w in &mut lane.queue {
                if let Recorded::Pending(rx) = &mut w.recorded
                    && let Poll::Ready(c) = Pin::new(rx).poll(cx)
                {
                    w.recorded = Recorded::Ready(c.unwrap_or_else(|_| Err(STOPPED.into())));
                    any = true;
                }
            }
        }
        if any { Poll::Ready(()) } else { Poll::Pending }
    }

    fn slow_down(&mut self, after: Option<Duration>) {
        let now = Instant::now();
        if self.last_cut.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            self.rate = (self.rate / 2.0).max(1.0);
            self.run.set_rate(self.rate, self.burst);
            self.last_cut = Some(now);
        }
        if let Some(a) = after {
            self.run.not_before(now + a);
        }
        self.publish(true);
    }

    /// Additive increase: back to the configured pace over about ten
    /// seconds of good answers.
    fn recover(&mut self) {
        if self.rate < self.configured {
            let step = (self.configured / 10.0).max(1.0);
            self.rate = (self.rate + step / self.rate).min(self.configured);
            self.run.set_rate(self.rate, self.burst);
            self.publish(false);
        }
    }

    fn publish(&mut self, throttled: bool) {
        self.slowed.store(self.rate < self.configured, Ordering::Relaxed);
        self.pace.last = self.rate;
        self.pace.lowest = self.pace.lowest.min(self.rate);
        self.pace.throttled += u64::from(throttled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Hold;

    fn limits(per_second: u32, per_sender: Option<u32>, senders: usize) -> Limits {
        Limits { per_second, per_sender, burst: 1, senders }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// When each of `lanes`' requests was released, in order.
    fn releases(limits: Limits, lanes: &[usize]) -> Vec<(usize, Duration)> {
        runtime().block_on(async {
            let pacer = Arc::new(Pacer::new(limits));
            let start = Instant::now();
            let waits: Vec<_> = lanes
                .iter()
                .map(|&l| {
                    let p = pacer.clone();
                    tokio::spawn(async move {
                        assert!(p.ready(l, 1).await);
                        (l, start.elapsed())
                    })
                })
                .collect();
            let mut out = Vec::new();
            for w in waits {
                out.push(w.await.unwrap());
            }
            out.sort_by_key(|(_, t)| *t);
            out
        })
    }

    #[test]
    fn releases_at_the_configured_rate_and_never_faster() {
        let times = releases(limits(200, None, 1), &[0; 101]);
        // 101 releases at 200/s span 500 ms from the first one's arrival
        // (less the moment the first took to run; how close to 500 ms it
        // stays is measured at the server by `cargo bench --bench send`).
        let span = times[100].1 - times[0].1;
        assert!(span >= Duration::from_millis(498), "{span:?}");
        assert!(span < Duration::from_millis(2000), "{span:?}");
    }

    #[test]
    fn each_number_keeps_its_own_pace_and_a_slow_one_holds_nobody_back() {
        // The run allows 1000/s; lane 0 is limited to 10/s, lane 1 to 1000/s.
        let mut lanes = vec![0; 3];
        lanes.extend([1; 3]);
        let times = releases(Limits { per_second: 1000, per_sender: Some(10), burst: 1, senders: 2 }, &lanes);
        let lane0: Vec<Duration> = times.iter().filter(|(l, _)| *l == 0).map(|(_, t)| *t).collect();
        // Lane 0 at 10/s: its third release comes 200 ms after its first
        // (less the moment the first took to run).
        assert!(lane0[2] - lane0[0] >= Duration::from_millis(198), "{lane0:?}");
        // Lane 1 is limited to the same 10/s per number, so it is paced too,
        // but independently: it does not wait for lane 0's queue.
        let lane1: Vec<Duration> = times.iter().filter(|(l, _)| *l == 1).map(|(_, t)| *t).collect();
        assert!(lane1[0] < Duration::from_millis(100), "{lane1:?}");
    }

    #[test]
    fn a_429_halves_the_pace_once_a_second_and_good_answers_restore_it() {
        let rt = runtime();
        let pacer = rt.block_on(async { Pacer::new(limits(100, None, 1)) });
        pacer.throttled(None);
        pacer.throttled(None);
        rt.block_on(async { assert!(pacer.ready(0, 1).await) });
        let p = pacer.pace();
        assert_eq!((p.lowest, p.throttled), (50.0, 2), "two 429s within a second halve it once");
        for _ in 0..2000 {
            pacer.answered();
        }
        rt.block_on(async { assert!(pacer.ready(0, 1).await) });
        assert_eq!(pacer.pace().last, 100.0);
    }

    #[test]
    fn outside_a_runtime_nothing_is_released_unpaced() {
        let pacer = Pacer::new(limits(100, None, 1));
        assert!(!runtime().block_on(pacer.ready(0, 1)));
    }

    #[test]
    fn a_request_takes_its_slot_only_once_its_commit_is_done() {
        runtime().block_on(async {
            let pacer = Arc::new(Pacer::new(limits(10, None, 1)));
            let (commit1, rx1) = oneshot::channel();
            let p = pacer.clone();
            let first = tokio::spawn(async move { (p.after_commit(0, 1, Some(rx1)).await, Instant::now()) });
            tokio::task::yield_now().await;
            // Row 2, committed, goes at once although row 1 waits before it.
            let start = Instant::now();
            assert_eq!(pacer.after_commit(0, 2, None).await, Some(Ok(None)));
            assert!(start.elapsed() < Duration::from_millis(50), "{:?}", start.elapsed());
            // Row 1's commit is done (nobody else could use a slot: the
            // commit wakes the pacer); it goes one slot, 100 ms, after row 2.
            commit1.send(Ok(None)).unwrap();
            let (answer, at) = first.await.unwrap();
            assert_eq!(answer, Some(Ok(None)));
            assert!(at.duration_since(start) >= Duration::from_millis(95), "{:?}", at.duration_since(start));
            // A send the guard held back answers at once, without a slot.
            let (commit3, rx3) = oneshot::channel();
            let p = pacer.clone();
            let third = tokio::spawn(async move { p.after_commit(0, 3, Some(rx3)).await });
            tokio::task::yield_now().await;
            commit3.send(Ok(Some(Hold::DailyLimit))).unwrap();
            let held = Instant::now();
            assert_eq!(third.await.unwrap(), Some(Ok(Some(Hold::DailyLimit))));
            assert!(held.elapsed() < Duration::from_millis(50), "{:?}", held.elapsed());
            // So the next send goes one slot after row 1, not two.
            assert_eq!(pacer.after_commit(0, 4, None).await, Some(Ok(None)));
            let gap = at.elapsed();
            assert!(gap >= Duration::from_millis(95) && gap < Duration::from_millis(180), "{gap:?}");
        });
    }
}
