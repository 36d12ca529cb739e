//! Pacing: one governor limiter (GCRA) per run, served by a thread of its
//! own. Waiters queue in order and are released one at a time at the
//! limiter's instant. A tokio timer wakes up to a millisecond late, and with
//! `burst: 1` every late wake-up is rate lost for good; this thread sleeps
//! until just before the instant and spins the last fraction of a
//! millisecond, so the configured rate is what is sustained — and governor
//! still decides, so it is never exceeded.

use std::num::NonZeroU32;
use std::sync::mpsc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use tokio::sync::oneshot;

pub struct Pacer {
    tx: mpsc::Sender<oneshot::Sender<()>>,
}

/// How close to the instant the thread stops sleeping and spins.
const SPIN: Duration = Duration::from_micros(200);

impl Pacer {
    pub fn new(per_second: u32, burst: u32) -> Pacer {
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        let (tx, rx) = mpsc::channel::<oneshot::Sender<()>>();
        let spawned = std::thread::Builder::new().name("pacer".into()).spawn(move || {
            let clock = DefaultClock::default();
            let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
            for waiter in rx {
                if waiter.is_closed() {
                    continue;
                }
                loop {
                    match limiter.check() {
                        Ok(()) => break,
                        Err(not_until) => {
                            let wait = not_until.wait_time_from(clock.now());
                            if wait > SPIN {
                                std::thread::sleep(wait - SPIN);
                            } else {
                                std::hint::spin_loop();
                            }
                        }
                    }
                }
                let _ = waiter.send(());
            }
        });
        if spawned.is_err() {
            // Without the thread every wait ends at once: refuse to send unpaced.
            let (tx, _) = mpsc::channel();
            return Pacer { tx };
        }
        Pacer { tx }
    }

    /// Wait for this request's turn. `false` if pacing is unavailable.
    pub async fn ready(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(tx).is_err() {
            return false;
        }
        rx.await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn releases_at_the_configured_rate_and_never_faster() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let pacer = Pacer::new(200, 1);
        let start = Instant::now();
        let times: Vec<Duration> = rt.block_on(async {
            let mut t = Vec::new();
            for _ in 0..101 {
                assert!(pacer.ready().await);
                t.push(start.elapsed());
            }
            t
        });
        // 101 releases at 200/s span 500 ms: never less. (How close to 500 ms
        // it stays is measured by `cargo bench --bench send`, not here: a
        // busy machine may deschedule the pacer.)
        let span = times[100] - times[0];
        assert!(span >= Duration::from_millis(499), "{span:?}");
        assert!(span < Duration::from_millis(2000), "{span:?}");
    }
}
