//! One recipient's send, as a small state machine: decide (schedule and
//! route, as the request leaves), record in flight, wait for the pace slot,
//! post at once, and act on the answer's class — done, retry after a
//! backoff, fall back to the template, or hold the row owed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, watch};

use super::Clock;
use super::pacer::Pacer;
use super::stop::Stop;
use crate::campaign::Campaign;
use crate::ledger::{Hold, Write as LedgerWrite, Writer};
use crate::outcome::{Note, Outcome, Reason, Route, RowError, Status};
use crate::plan::decide::TemplateQuota;
use crate::plan::decide::{Decision, Facts, Place, Quota, decide};
use crate::plan::row::{Planner, Sendable};
use crate::wire::client::{self as connectly, Answer, Client};

/// State every send task shares.
pub(super) struct Shared {
    pub campaign: Arc<Campaign>,
    pub planner: Arc<Planner>,
    pub client: Client,
    pub writer: Arc<Writer>,
    pub pacer: Pacer,
    /// Sender numbers outside the campaign's list (from `sender_column`),
    /// each paced in a lane of its own after the listed ones.
    pub lanes: Mutex<Vec<String>>,
    pub run_id: i64,
    pub clock: Clock,
    pub quota: Arc<TemplateQuota>,
    pub stop_tx: watch::Sender<bool>,
    pub stop: Mutex<Option<Stop>>,
    pub stopping: AtomicBool,
    /// Failures (and rows the network kept from leaving) in a row.
    pub streak: AtomicU32,
    pub requests: AtomicU32,
    /// Whether any request of this run reached the API and got an answer.
    pub reached: AtomicBool,
    /// Rows in a row that gave up with no request leaving, since the last
    /// answer from the API.
    pub unreached: AtomicU32,
}

/// Once the API has answered, this many rows in a row giving up with none
/// of their requests leaving (connection refused, DNS, TLS) mean the API
/// has become unreachable: the run stops, and the rest stays owed.
pub(super) const UNREACHABLE_ROWS: u32 = 3;

impl Shared {
    /// The pace lane of a sender number: its place in the campaign's list;
    /// Connectly's default number (no sender) shares lane 0.
    pub fn lane(&self, sender: Option<&str>) -> usize {
        let pool = &self.campaign.senders;
        let Some(s) = sender else { return 0 };
        if let Some(i) = pool.iter().position(|p| p == s) {
            return i;
        }
        let Ok(mut others) = self.lanes.lock() else { return 0 };
        let i = others.iter().position(|o| o == s).unwrap_or_else(|| {
            others.push(s.to_string());
            others.len() - 1
        });
        pool.len().max(1) + i
    }

    pub fn stopped(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stop taking new recipients; requests in flight finish. The first
    /// reason is the one reported.
    pub fn stop(&self, reason: Stop) {
        if let Ok(mut a) = self.stop.lock()
            && a.is_none()
        {
            *a = Some(reason);
        }
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop_tx.send(true);
    }

    /// Skips worth remembering: they show in `status`, and are re-evaluated next run.
    pub fn record_skip(&self, o: &Outcome) {
        let recorded = matches!(
            o.reason,
            Some(Reason::Invalid | Reason::Suppressed | Reason::NoRoute | Reason::Expired | Reason::Repeat)
        );
        if recorded && o.key.is_some() {
            self.writer.record(LedgerWrite::Final {
                campaign: self.campaign.name.clone(),
                outcome: Box::new(o.clone()),
                run: self.run_id,
                at: (self.clock)(),
            });
        }
    }
}

/// Where one recipient's send stands.
enum Step {
    /// Decide the route (or hold the row) as of now.
    Decide,
    /// Post by this route once the pace allows.
    Post(Route),
    /// Wait, then decide again (the window or the schedule may have moved).
    Backoff(Duration),
    /// Finished with this status (and reason); recorded on the way out.
    Done(Status, Option<Reason>),
    /// Not attempted: the run stopped before its request was recorded.
    Dropped,
}

/// One recipient on its way out.
struct Send<'a> {
    sh: &'a Shared,
    s: Box<Sendable>,
    o: Outcome,
    attempts: u32,
    tries_this_route: u32,
    /// The session was refused with this code: the template goes instead.
    refused: Option<String>,
    /// The route recorded in flight, if any.
    recorded: Option<Route>,
    /// Its place under `templates_per_day` (the sequencer's, for a row
    /// planned as a template), given back if unused.
    place: Place,
    /// Its place among the requests in flight, given back once answered.
    slot: Option<OwnedSemaphorePermit>,
}

/// Send one recipient. `None`: not attempted (the run stopped first).
pub(super) async fn send_one(sh: &Shared, o: Outcome, s: Box<Sendable>, slot: OwnedSemaphorePermit) -> Option<Outcome> {
    let place = s.place;
    let slot = Some(slot);
    let mut t = Send { sh, s, o, attempts: 0, tries_this_route: 0, refused: None, recorded: None, place, slot };
    let mut step = Step::Decide;
    loop {
        step = match step {
            Step::Decide => t.decide(),
            Step::Post(route) => t.post(route).await,
            Step::Backoff(wait) => t.backoff(wait).await,
            Step::Done(status, reason) => return Some(t.finish(status, reason)),
            Step::Dropped => return None,
        };
    }
}

impl Send<'_> {
    /// The schedule, the route and the daily cap, decided as the request
    /// leaves: a long run may cross into quiet hours or past `not_after`,
    /// and a window may close.
    fn decide(&mut self) -> Step {
        let sh = self.sh;
        if sh.stopped() {
            return self.owed();
        }
        let s = &self.s;
        let facts = Facts {
            tz: s.tz.as_ref(),
            last_inbound: s.last_inbound,
            session: s.session.is_some(),
            template: s.template.is_some(),
            refused: self.refused.as_deref(),
        };
        let (decision, note) = decide(&sh.campaign, &facts, (sh.clock)(), Quota::Take(&sh.quota, &mut self.place));
        self.o.note = note;
        match decision {
            Decision::Send(route) => Step::Post(route),
            Decision::Hold(status, reason) => {
                self.o.route = decision.route();
                Step::Done(status, Some(reason))
            }
        }
    }

    /// Record in flight (once per route), wait for the slot, post at once.
    async fn post(&mut self, route: Route) -> Step {
        let sh = self.sh;
        let lane = sh.lane(self.o.sender.as_deref());
        let before = self.recorded;
        // From here the request may be recorded in flight: a stop while it
        // waits leaves it owed (recorded so), never "in flight".
        let commit =
            (before != Some(route)).then(|| sh.writer.submit_by(self.in_flight(route), sh.pacer.commit_by(lane)));
        self.recorded = Some(route);
        let wait = sh.pacer.after_commit(lane, self.o.row, commit);
        self.o.route = Some(route);
        // Waiting for the slot ends at once when the run stops.
        let mut stop_rx = sh.stop_tx.subscribe();
        let paced = tokio::select! {
            commit = wait => Some(commit),
            _ = stop_rx.wait_for(|s| *s) => None,
        };
        match paced {
            Some(Some(Ok(None))) if !sh.stopped() => {}
            Some(Some(Ok(Some(hold)))) => {
                // Held back by a guard: nothing was written.
                self.recorded = before;
                return self.held(route, hold);
            }
            Some(Some(Err(e))) => {
                self.recorded = before;
                sh.stop(Stop::Ledger(e));
                return self.owed();
            }
            Some(None) => {
                sh.stop(Stop::Pacer);
                return self.owed();
            }
            _ => return self.owed(),
        }
        let Some(body) = self.s.body(route) else {
            return Step::Done(Status::Skipped, Some(Reason::NoRoute));
        };
        self.attempts += 1;
        self.tries_this_route += 1;
        sh.requests.fetch_add(1, Ordering::Relaxed);
        let answer = sh.client.post(sh.planner.path(route), body).await;
        if !matches!(answer, Answer::NotSent(_)) {
            sh.reached.store(true, Ordering::SeqCst);
            sh.unreached.store(0, Ordering::SeqCst);
        }
        match &answer {
            // The whole run waits out Retry-After, but never longer than a
            // row may back off: a longer wait defers the row, not the run.
            Answer::Retry { throttled: true, after, .. } => {
                sh.pacer.throttled(after.map(|a| a.min(sh.campaign.retry.max_backoff)))
            }
            Answer::NotSent(_) => {}
            _ => sh.pacer.answered(),
        }
        self.answered(route, answer)
    }

    /// The `in_flight` record of this request by `route`.
    fn in_flight(&self, route: Route) -> LedgerWrite {
        let sh = self.sh;
        LedgerWrite::InFlight {
            campaign: sh.campaign.name.clone(),
            key: self.o.key.clone().unwrap_or_default(),
            row: self.o.row,
            recipient: self.o.recipient.clone().unwrap_or_default(),
            sender: self.o.sender.clone(),
            route,
            category: if route == Route::Template { sh.planner.template_category() } else { None },
            run: sh.run_id,
            at: (sh.clock)(),
            content: self.s.content(route),
            guard: Some(sh.planner.guard()),
        }
    }

    /// Act on an answer's class (SPEC §3 step 6).
    fn answered(&mut self, route: Route, answer: Answer) -> Step {
        let retry = self.sh.campaign.retry;
        match answer {
            Answer::Sent { id } => {
                self.sh.streak.store(0, Ordering::SeqCst);
                self.o.message_id = Some(id);
                self.o.error = None;
                Step::Done(Status::Sent, None)
            }
            Answer::Unknown(e) => {
                self.sh.streak.store(0, Ordering::SeqCst);
                self.o.error = Some(e);
                Step::Done(Status::Unknown, None)
            }
            Answer::NotSent(e) => {
                let last = self.tries_this_route >= retry.attempts;
                self.o.error = Some(e);
                if !last {
                    return Step::Backoff(backoff(self.tries_this_route, retry.max_backoff));
                }
                self.unreachable();
                Step::Done(Status::Deferred, Some(Reason::Network))
            }
            Answer::Retry { error, after, throttled } => {
                if self.tries_this_route >= retry.attempts && throttled {
                    // "Not now" to the last try says nothing about the
                    // recipient: the row stays owed for a later run.
                    self.o.error = Some(error);
                    return Step::Done(Status::Deferred, Some(Reason::RetryAfter));
                }
                if self.tries_this_route >= retry.attempts {
                    self.o.error = Some(RowError {
                        message: format!("{} (gave up after {} attempts)", error.message, self.tries_this_route),
                        ..error
                    });
                    self.failure();
                    return Step::Done(Status::Failed, None);
                }
                self.o.error = Some(error);
                match after {
                    // Asked to wait longer than we would: a later run sends it.
                    Some(a) if a > retry.max_backoff => Step::Done(Status::Deferred, Some(Reason::RetryAfter)),
                    Some(a) => Step::Backoff(a),
                    None => Step::Backoff(backoff(self.tries_this_route, retry.max_backoff)),
                }
            }
            Answer::Refused(e) => self.refused(route, e),
            Answer::Abort(a) => {
                self.sh.stop(Stop::Api(a));
                self.owed()
            }
        }
    }

    fn refused(&mut self, route: Route, e: RowError) -> Step {
        let sh = self.sh;
        let code = e.code.clone();
        let code = code.as_deref();
        let fallback_code = matches!(code, Some(connectly::code::OUTSIDE_WINDOW | connectly::code::NO_CONVERSATION));
        if route == Route::Session && self.refused.is_none() && sh.campaign.template.is_some() && fallback_code {
            self.refused = Some(code.unwrap_or("").to_string());
            self.tries_this_route = 0;
            return Step::Decide;
        }
        self.o.error = Some(e);
        if code == Some(connectly::code::OPTED_OUT) {
            sh.writer.record(LedgerWrite::OptOut {
                phone: self.o.recipient.clone().unwrap_or_default(),
                campaign: sh.campaign.name.clone(),
                at: (sh.clock)(),
            });
            return Step::Done(Status::Skipped, Some(Reason::Suppressed));
        }
        self.failure();
        Step::Done(Status::Failed, None)
    }

    /// The ledger held the send back as it was to be recorded: the customer
    /// opted out, another campaign sent the same message, or a cap was
    /// reached meanwhile.
    fn held(&mut self, route: Route, hold: Hold) -> Step {
        self.o.route = Some(route);
        match hold {
            Hold::OptedOut { at, source } => {
                self.o.note = Note::Text(format!("opted out {}: {source}", crate::outcome::short(at)));
                Step::Done(Status::Skipped, Some(Reason::Suppressed))
            }
            Hold::Repeat { campaign, at } => {
                self.o.note = Note::Text(format!(
                    "the same message went from campaign `{campaign}` on {}; --allow-repeat sends it",
                    crate::outcome::short(at)
                ));
                Step::Done(Status::Skipped, Some(Reason::Repeat))
            }
            Hold::FrequencyCap { until } => {
                self.o.note = Note::Until(until);
                Step::Done(Status::Deferred, Some(Reason::FrequencyCap))
            }
            Hold::DailyLimit => {
                // The ledger says the day is full: the place is not given back.
                self.place.taken = false;
                Step::Done(Status::Deferred, Some(Reason::DailyLimit))
            }
        }
    }

    async fn backoff(&mut self, wait: Duration) -> Step {
        let mut stop_rx = self.sh.stop_tx.subscribe();
        let stopped = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = stop_rx.wait_for(|s| *s) => true,
        };
        if stopped { self.owed() } else { Step::Decide }
    }

    /// The run stops before this row was answered: nothing was accepted,
    /// so it stays owed (network trouble keeps its reason).
    fn owed(&mut self) -> Step {
        if self.recorded.is_none() {
            return Step::Dropped;
        }
        let network = self.o.error.as_ref().is_some_and(|e| e.http.is_none());
        Step::Done(Status::Deferred, network.then_some(Reason::Network))
    }

    fn failure(&self) {
        let sh = self.sh;
        let n = sh.streak.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= sh.campaign.retry.abort_after {
            let last = self.o.error.as_ref().map(describe_error).unwrap_or_default();
            sh.stop(Stop::FailureStreak { count: n, last });
        }
    }

    /// A row the network kept from leaving: if no request of the run has
    /// reached the API, or `UNREACHABLE_ROWS` rows in a row have given up so
    /// since its last answer, it is unreachable and the run stops.
    fn unreachable(&self) {
        let sh = self.sh;
        let reached = sh.reached.load(Ordering::SeqCst);
        let rows = sh.unreached.fetch_add(1, Ordering::SeqCst) + 1;
        if !reached || rows >= UNREACHABLE_ROWS {
            let last = self.o.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
            let host = sh.client.host().to_string();
            sh.stop(Stop::Unreachable { host, last, midway: reached.then_some(rows) });
            return;
        }
        self.failure();
    }

    /// Record the answered (or released) recipient. The record joins the
    /// next commit; a ledger that cannot be written fails the next
    /// request's `in_flight`, which stops the run.
    fn finish(mut self, status: Status, reason: Option<Reason>) -> Outcome {
        let sh = self.sh;
        self.o.status = status;
        self.o.reason = reason;
        if self.place.taken && !matches!(status, Status::Sent | Status::Unknown) {
            sh.quota.release();
        }
        if self.recorded.is_none() {
            // Never recorded in flight: a hold decided before any request.
            sh.record_skip(&self.o);
            return self.o;
        }
        self.o.attempts = Some(self.attempts);
        self.o.fallback = Some(self.refused.is_some());
        // Answered: no longer in flight. The next recipient's `in_flight`
        // can then join this outcome's commit.
        drop(self.slot.take());
        let w = LedgerWrite::Final {
            campaign: sh.campaign.name.clone(),
            outcome: Box::new(self.o.clone()),
            run: sh.run_id,
            at: (sh.clock)(),
        };
        sh.writer.record(w);
        self.o
    }
}

fn describe_error(e: &RowError) -> String {
    format!("{} {}", e.code.as_deref().unwrap_or(""), e.message).trim().to_string()
}

/// Full jitter: uniform in [0, min(cap, 500ms · 2^(n-1))].
fn backoff(attempt: u32, cap: Duration) -> Duration {
    let exp = Duration::from_millis(500).saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(cap);
    Duration::from_millis(fastrand::u64(0..=ceiling.as_millis() as u64))
}
