//! One GCRA limiter (the algorithm governor implements), scheduled against
//! absolute instants.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One GCRA limiter: `tat` is the theoretical arrival time of the next
/// request; a release is allowed from `tat - tolerance`.
///
/// Releases keep to the schedule even when the wake-up comes late: a slot
/// missed by timer slack or a busy machine (up to `MAX_DEBT`) is made up by
/// the next releases, at no less than half an interval apart, so lateness
/// is not rate lost and does not become a burst either. Time nobody was
/// waiting earns nothing (`idle`).
///
/// It also keeps the last `per_second + burst - 1` release instants (what
/// GCRA itself allows in a second), and holds a release until the oldest of
/// them is more than a second (plus `guard`) ago: so no second holds more
/// than that even where the requests arrive, with up to `guard` of jitter
/// on their way. With `burst: 1` that is `per_second`: a server that
/// counts `per_second` requests in each second never answers 429 to the
/// run's own pace. The guard is half an interval, at most 2.5 ms; a steady
/// pace loses that much per second (at most 0.25 %). With `burst: 1` the
/// window also holds back what lateness the schedule would make up: a
/// release late by L lets the one a second later go no earlier than L late,
/// so average lateness is lost too (about 0.5 ms a second, tokio's timer;
/// 99.7 % of the pace measured at the server).
#[derive(Debug, Clone)]
pub(super) struct Gcra {
    interval: Duration,
    tolerance: Duration,
    tat: Instant,
    /// The last release, and the least gap to the next (half an interval
    /// with `burst: 1`; none when bursts are allowed).
    last: Option<Instant>,
    gap: Duration,
    recent: VecDeque<Instant>,
    guard: Duration,
    /// How many releases one second (plus `guard`) may hold; 0: unchecked
    /// (very high rates, where one request more is noise).
    most: usize,
}

/// The most lateness the schedule makes up for.
const MAX_DEBT: Duration = Duration::from_millis(20);

impl Gcra {
    pub(super) fn new(per_second: f64, burst: u32, start: Instant) -> Gcra {
        let most = per_second.ceil() + f64::from(burst.max(1) - 1);
        let most = if most <= 10_000.0 { most as usize } else { 0 };
        let mut g = Gcra {
            interval: Duration::ZERO,
            tolerance: Duration::ZERO,
            tat: start,
            last: None,
            gap: Duration::ZERO,
            guard: Duration::ZERO,
            recent: VecDeque::with_capacity(most),
            most,
        };
        g.set_rate(per_second, burst);
        g
    }

    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    pub(super) fn due(&self) -> Instant {
        let mut due = self.tat.checked_sub(self.tolerance).unwrap_or(self.tat);
        if let Some(last) = self.last {
            due = due.max(last + self.gap);
        }
        match self.recent.front() {
            Some(&oldest) if self.recent.len() >= self.most => due.max(oldest + Duration::from_secs(1) + self.guard),
            _ => due,
        }
    }

    /// Take a release at `now`, keeping the schedule (see `MAX_DEBT`).
    pub(super) fn take(&mut self, now: Instant) {
        let from = self.tat.max(now.checked_sub(MAX_DEBT).unwrap_or(now));
        self.tat = from + self.interval;
        self.last = Some(now);
        if self.most > 0 {
            if self.recent.len() >= self.most {
                self.recent.pop_front();
            }
            self.recent.push_back(now);
        }
    }

    /// No release before `t` (Retry-After).
    pub(super) fn not_before(&mut self, t: Instant) {
        self.tat = self.tat.max(t);
    }

    /// A request arrives with nobody waiting: no credit for the idle time.
    pub(super) fn idle(&mut self, now: Instant) {
        self.tat = self.tat.max(now);
    }

    pub(super) fn set_rate(&mut self, per_second: f64, burst: u32) {
        self.interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        self.tolerance = self.interval * burst.saturating_sub(1);
        self.gap = if burst <= 1 { self.interval / 2 } else { Duration::ZERO };
        self.guard = (self.interval / 2).min(Duration::from_micros(2500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_release_is_made_up_half_an_interval_apart_and_idle_time_earns_nothing() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut g = Gcra::new(200.0, 1, t0);
        g.take(ms(0));
        assert_eq!(g.due(), ms(5));
        // Woken 7 ms late: the slot due at 5 goes now, the next ones come
        // 2.5 ms apart rather than 5 until the schedule is met again.
        g.take(ms(12));
        assert_eq!(g.due(), ms(12) + Duration::from_micros(2500));
        g.take(ms(12) + Duration::from_micros(2500));
        assert_eq!(g.due(), ms(17));
        g.take(ms(17));
        assert_eq!(g.due(), ms(20));
        g.take(ms(20));
        assert_eq!(g.due(), ms(25));
        // Nobody waited for 100 ms: the next arrival starts a fresh schedule.
        g.idle(ms(120));
        g.take(ms(120));
        assert_eq!(g.due(), ms(125));
    }

    #[test]
    fn making_up_for_lateness_never_puts_more_than_per_second_in_a_second() {
        for per_second in [10.0, 40.0, 200.0] {
            let t0 = Instant::now();
            let mut g = Gcra::new(per_second, 1, t0);
            let mut sent = Vec::new();
            let mut arrived = Vec::new();
            let mut now = t0;
            for i in 0..(per_second as u32 * 6) {
                // Some wake-ups come late: 4 ms, every 40th (at 200/s a plain
                // limiter would lose 2% of the pace).
                now = g.due().max(now) + if i % 40 == 39 { Duration::from_millis(4) } else { Duration::ZERO };
                g.take(now);
                sent.push(now);
                // On its way, every other request is delayed by almost the guard.
                arrived.push(now + if i % 2 == 0 { g.guard.mul_f64(0.99) } else { Duration::ZERO });
            }
            arrived.sort();
            let most = per_second as usize;
            for times in [&sent, &arrived] {
                for (i, start) in times.iter().enumerate() {
                    let within =
                        times[i..].iter().take_while(|t| t.duration_since(*start) < Duration::from_secs(1)).count();
                    assert!(within <= most, "{per_second}/s: {within} within a second from request {i}");
                }
            }
            // And the schedule is kept: lateness is made up.
            let span = sent.last().unwrap().duration_since(sent[0]).as_secs_f64();
            let rate = (sent.len() - 1) as f64 / span;
            assert!(rate >= per_second * 0.99, "{per_second}/s: {rate:.2}/s");
        }
    }

    #[test]
    fn a_steady_pace_loses_only_the_guard_each_second() {
        let t0 = Instant::now();
        let sent = each_when_due(Gcra::new(200.0, 1, t0), t0, 1000);
        // 1,000 releases at 200/s: 999 intervals of 5 ms, and the guard
        // (2.5 ms) once for each 200 after the first 200.
        assert_eq!(sent[999].duration_since(t0), Duration::from_millis(5005));
        // The 201st comes more than a second after the first.
        assert!(sent[200].duration_since(sent[0]) > Duration::from_secs(1));
    }

    #[test]
    fn a_burst_allows_what_gcra_allows_in_a_second_and_no_more() {
        let t0 = Instant::now();
        let sent = each_when_due(Gcra::new(10.0, 5, t0), t0, 40);
        // Five at once, then one every 100 ms.
        assert_eq!(sent[4], t0);
        assert_eq!(sent[5].duration_since(t0), Duration::from_millis(100));
        for (i, start) in sent.iter().enumerate() {
            let within = sent[i..].iter().take_while(|t| t.duration_since(*start) < Duration::from_secs(1)).count();
            // per_second + burst - 1 = 14.
            assert!(within <= 14, "{within} within a second from release {i}");
        }
    }

    /// `n` releases, each taken the moment it is due (a punctual timer).
    fn each_when_due(mut g: Gcra, t0: Instant, n: usize) -> Vec<Instant> {
        let mut now = t0;
        (0..n)
            .map(|_| {
                now = g.due().max(now);
                g.take(now);
                now
            })
            .collect()
    }
}
