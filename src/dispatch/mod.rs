//! The send loop of a real run: plans stream in row order, at most
//! `concurrency` requests are in flight, each paced, classified once,
//! retried or fallen back, and recorded in the ledger before it leaves and
//! after its answer. Outcomes come back in row order for the reporters.

pub mod pacer;

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::campaign::Campaign;
use crate::error::{Error, ExitCode, Result};
use crate::ledger::{Write as LedgerWrite, Writer};
use crate::outcome::{Outcome, Reason, Route, RowError, Status};
use crate::plan::row::{Planner, Sendable, schedule_verdict};
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
use crate::report::Tally;
use crate::wire::client::{self as connectly, Answer, Client};

/// Everything a real run's send loop needs, prepared by the command.
pub struct Dispatch {
    pub limit: Option<u64>,
    /// Write each outcome as a JSON line on stdout.
    pub jsonl: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    pub campaign: Arc<Campaign>,
    pub planner: Arc<Planner>,
    pub client: Client,
    pub writer: Arc<Writer>,
    pub run_id: i64,
    pub quota: Arc<TemplateQuota>,
    pub owed: u64,
    /// Rows in the CSV, as counted by preflight.
    pub rows: u64,
}

/// What the send loop did.
pub struct Report {
    pub tally: Tally,
    pub abort: Option<String>,
    pub requests: u64,
    pub not_attempted: u64,
}

/// State every send task shares.
struct Shared {
    campaign: Arc<Campaign>,
    planner: Arc<Planner>,
    client: Client,
    writer: Arc<Writer>,
    pacer: crate::dispatch::pacer::Pacer,
    run_id: i64,
    stop_tx: watch::Sender<bool>,
    abort: Mutex<Option<String>>,
    streak: AtomicU32,
    requests: AtomicU32,
    stopping: AtomicBool,
    quota: Arc<TemplateQuota>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stop taking new recipients; requests in flight finish.
    fn stop(&self, reason: String) {
        if let Ok(mut a) = self.abort.lock()
            && a.is_none()
        {
            *a = Some(reason);
        }
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop_tx.send(true);
    }
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
        pacer: crate::dispatch::pacer::Pacer::new(rate.per_second, rate.burst),
        run_id: d.run_id,
        stop_tx,
        abort: Mutex::new(None),
        streak: AtomicU32::new(0),
        requests: AtomicU32::new(0),
        stopping: AtomicBool::new(false),
        quota: d.quota.clone(),
    });

    // Signals: the first stops taking new recipients, the second exits at once.
    {
        let shared = shared.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
                else {
                    return;
                };
                let name = tokio::select! { _ = term.recv() => "SIGTERM", _ = int.recv() => "SIGINT" };
                eprintln!("\n{name}: finishing requests in flight, then stopping (again to exit at once)");
                shared.stop(format!("interrupted by {name}"));
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                eprintln!("second signal: exiting now; requests in flight are recorded as unknown on the next run");
                std::process::exit(ExitCode::Aborted as i32);
            }
        });
    }

    let (item_tx, mut item_rx) = mpsc::channel::<Item>(REORDER_WINDOW);
    let (job_tx, mut job_rx) = mpsc::channel::<Job>(rate.concurrency.max(1) * 2);

    // The stream: plan rows, sequence them, hand out jobs in row order.
    let producer = {
        let shared = shared.clone();
        let planner = d.planner.clone();
        let limit = d.limit;
        let rows = d.rows;
        let quota = d.quota.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let source = crate::plan::recipients::Source::open(&planner.campaign)?;
            let mut seq = Sequencer::new(limit, quota, rows as usize);
            let now = Timestamp::now();
            stream::run(planner, source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
                if shared.stopped() {
                    return ControlFlow::Break(());
                }
                if seq.admit(plan).is_break() {
                    return ControlFlow::Break(());
                }
                let sent = match plan.send.take() {
                    None => item_tx
                        .blocking_send(Item::Ready(Box::new(std::mem::replace(&mut plan.outcome, Outcome::new(0)))))
                        .is_ok(),
                    Some(send) => {
                        let (done, rx) = oneshot::channel();
                        item_tx.blocking_send(Item::Pending(rx)).is_ok()
                            && job_tx
                                .blocking_send(Job {
                                    outcome: std::mem::replace(&mut plan.outcome, Outcome::new(0)),
                                    send,
                                    done,
                                })
                                .is_ok()
                    }
                };
                if sent { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
            })?;
            Ok(())
        })
    };

    // The dispatcher: at most `concurrency` sends at once.
    let dispatcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(rate.concurrency));
            let mut tasks = tokio::task::JoinSet::new();
            while let Some(job) = job_rx.recv().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                if shared.stopped() {
                    let _ = job.done.send(None);
                    continue;
                }
                let shared = shared.clone();
                tasks.spawn(async move {
                    let out = send_one(&shared, job.outcome, job.send).await;
                    let _ = job.done.send(out);
                    drop(permit);
                });
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        })
    };

    // The reporter: outcomes in row order.
    let bar = (d.progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(d.owed);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} · {elapsed} · eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut tally = Tally::default();
    let mut not_attempted = 0u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    while let Some(item) = item_rx.recv().await {
        let o = match item {
            Item::Ready(o) => {
                record_skip(&shared, &o);
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
        tally.add(&o);
        if let Some(b) = &bar
            && o.send_attempted()
        {
            b.inc(1);
        }
        // Text: the summary on stderr lists failures; stdout stays quiet.
        if d.jsonl {
            line.clear();
            o.write_jsonl(&mut line);
            if out.write_all(&line).is_err() {
                shared.stop("stdout closed".into());
            }
        }
    }
    let _ = out.flush();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let produced = producer.await.map_err(|e| Error::Aborted(format!("the row reader stopped: {e}")))?;
    let _ = dispatcher.await;
    let mut abort = shared.abort.lock().ok().and_then(|a| a.clone());
    if let Err(e) = produced {
        // Preflight read the file whole; failing now means it changed under
        // the run. What was sent is recorded: an abort, not invalid input.
        abort.get_or_insert(format!("reading the recipients again failed (did the file change during the run?): {e}"));
    }
    Ok(Report { tally, abort, requests: u64::from(shared.requests.load(Ordering::SeqCst)), not_attempted })
}

impl Outcome {
    fn send_attempted(&self) -> bool {
        matches!(self.status, Status::Sent | Status::Failed | Status::Unknown)
    }
}

/// Skips worth remembering: they show in `status`, and are re-evaluated next run.
fn record_skip(shared: &Shared, o: &Outcome) {
    let recorded = matches!(o.reason, Some(Reason::Invalid | Reason::Suppressed | Reason::NoRoute | Reason::Expired));
    if recorded && o.key.is_some() {
        shared.writer.record(LedgerWrite::Final {
            campaign: shared.campaign.name.clone(),
            outcome: Box::new(o.clone()),
            run: shared.run_id,
            at: Timestamp::now(),
        });
    }
}

fn is_fallback_code(e: &RowError) -> bool {
    matches!(e.code.as_deref(), Some(connectly::code::OUTSIDE_WINDOW | connectly::code::NO_CONVERSATION))
}

/// Full jitter: uniform in [0, min(cap, 500ms · 2^(n-1))].
fn backoff(attempt: u32, cap: Duration) -> Duration {
    let exp = Duration::from_millis(500).saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(cap);
    Duration::from_millis(fastrand::u64(0..=ceiling.as_millis() as u64))
}

/// Send one recipient: route now, record in flight, post, classify, retry or
/// fall back, record the answer. `None`: not attempted (the run stopped).
async fn send_one(sh: &Shared, mut o: Outcome, s: Box<Sendable>) -> Option<Outcome> {
    let c = &sh.campaign;
    let retry = c.retry;
    let key = o.key.clone().unwrap_or_default();
    let recipient = o.recipient.clone().unwrap_or_default();
    let mut stop_rx = sh.stop_tx.subscribe();
    let mut attempts = 0u32;
    let mut tries_this_route = 0u32;
    let mut fallback = false;
    let mut recorded: Option<Route> = None;
    let mut route;
    // The sequencer took a template send for rows planned as templates.
    let mut counted = o.route == Some(Route::Template);
    loop {
        if !sh.pacer.ready().await {
            sh.stop("the pacing thread stopped".into());
        }
        if sh.stopped() && recorded.is_none() {
            return None;
        }
        // The schedule, like the route, is decided as the request leaves: a
        // long run may cross into quiet hours or past not_after.
        if recorded.is_none()
            && let Some((status, reason)) = schedule_verdict(c.schedule.slot(Timestamp::now(), s.tz.as_ref()))
        {
            o.status = status;
            o.reason = Some(reason);
            o.route = None;
            record_skip(sh, &o);
            return Some(o);
        }
        if !fallback {
            let (r, note) = sh.planner.route(s.last_inbound, Timestamp::now());
            o.note = note;
            match r {
                Some(r) => route = r,
                None => {
                    o.status = Status::Skipped;
                    o.reason = Some(Reason::NoRoute);
                    o.route = None;
                    record_skip(sh, &o);
                    return Some(o);
                }
            }
        } else {
            route = Route::Template;
        }
        let Some(body) = s.body(route) else {
            o.status = Status::Skipped;
            o.reason = Some(Reason::NoRoute);
            return Some(o);
        };
        if route == Route::Template && !counted {
            // A session turned template (window closed, or refused): it counts too.
            if !sh.quota.try_take() {
                o.status = Status::Deferred;
                o.reason = Some(Reason::DailyLimit);
                o.route = Some(route);
                o.attempts = Some(attempts);
                o.fallback = Some(fallback);
                if recorded.is_some() {
                    commit_outcome(sh, &o).await;
                }
                return Some(o);
            }
            counted = true;
        }
        if recorded != Some(route) {
            let w = LedgerWrite::InFlight {
                campaign: c.name.clone(),
                key: key.clone(),
                row: o.row,
                recipient: recipient.clone(),
                route,
                run: sh.run_id,
                at: Timestamp::now(),
            };
            if let Err(e) = sh.writer.commit(w).await {
                sh.stop(e);
                return None;
            }
            recorded = Some(route);
        }
        attempts += 1;
        tries_this_route += 1;
        sh.requests.fetch_add(1, Ordering::Relaxed);
        let answer = sh.client.post(sh.planner.path(route), body).await;
        match answer {
            Answer::Sent { id } => {
                sh.streak.store(0, Ordering::SeqCst);
                o.status = Status::Sent;
                o.message_id = id;
                o.error = None;
                break;
            }
            Answer::Final(e) => {
                if route == Route::Session && !fallback && c.template.is_some() && is_fallback_code(&e) {
                    fallback = true;
                    tries_this_route = 0;
                    o.note = crate::outcome::Note::Text(format!(
                        "session refused ({}); sent as template",
                        e.code.as_deref().unwrap_or("")
                    ));
                    continue;
                }
                if e.code.as_deref() == Some(connectly::code::OPTED_OUT) {
                    sh.writer.record(LedgerWrite::OptOut {
                        phone: recipient.clone(),
                        campaign: c.name.clone(),
                        at: Timestamp::now(),
                    });
                }
                o.status = Status::Failed;
                o.error = Some(e);
                failure_streak(sh, &o);
                break;
            }
            Answer::Retry { error, after } => {
                if tries_this_route >= retry.attempts {
                    o.status = Status::Failed;
                    o.error = Some(RowError {
                        message: format!("{} (gave up after {tries_this_route} attempts)", error.message),
                        ..error
                    });
                    failure_streak(sh, &o);
                    break;
                }
                let wait = after
                    .map(|a| a.min(Duration::from_secs(3600)))
                    .unwrap_or_else(|| backoff(tries_this_route, retry.max_backoff));
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop_rx.wait_for(|s| *s) => true,
                };
                if stopped {
                    // Not accepted as far as we know: owed, unless the answer
                    // never came (then it may have gone through).
                    o.status = if error.http.is_none() { Status::Unknown } else { Status::Deferred };
                    o.error = Some(error);
                    break;
                }
            }
            Answer::Abort(e) => {
                sh.stop(format!(
                    "Connectly refused the business: HTTP {} {}: {}",
                    e.http.unwrap_or(0),
                    e.code.as_deref().unwrap_or(""),
                    e.message
                ));
                o.status = Status::Deferred;
                o.error = Some(e);
                break;
            }
        }
    }
    o.route = Some(route);
    o.attempts = Some(attempts);
    o.fallback = Some(fallback);
    commit_outcome(sh, &o).await;
    Some(o)
}

/// Record an answered (or released) recipient and wait for the commit; a
/// ledger that cannot be written stops the run.
async fn commit_outcome(sh: &Shared, o: &Outcome) {
    let w = LedgerWrite::Final {
        campaign: sh.campaign.name.clone(),
        outcome: Box::new(o.clone()),
        run: sh.run_id,
        at: Timestamp::now(),
    };
    if let Err(e) = sh.writer.commit(w).await {
        sh.stop(e);
    }
}

fn failure_streak(sh: &Shared, o: &Outcome) {
    let n = sh.streak.fetch_add(1, Ordering::SeqCst) + 1;
    if n >= sh.campaign.retry.abort_after {
        let last =
            o.error.as_ref().map(|e| format!("{} {}", e.code.as_deref().unwrap_or(""), e.message)).unwrap_or_default();
        sh.stop(format!("{n} failures in a row (retry.abort_after); the last: {}", last.trim()));
    }
}
