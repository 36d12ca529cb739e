//! `campaign run` without `--dry-run`: the key and base URL from the
//! environment, the lock, preflight over every row, the run recorded in the
//! ledger, then the send loop on a runtime of its own, and the summary.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::prepare::{Options, load, planner, template_quota};
use crate::campaign::Campaign;
use crate::cli::RunFormat;
use crate::dispatch::{Dispatch, Report, dispatch};
use crate::error::{Error, ExitCode, Result, RowProblem};
use crate::ledger::{Ledger, lock};
use crate::outcome::{Reason, Status};
use crate::plan::recipients::Source;
use crate::plan::row::Planner;
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
use crate::report::text::{Style, row_line};
use crate::wire::client::{self as connectly, Client, Endpoint};

/// How many invalid rows preflight lists in full.
const PROBLEMS_LISTED: usize = 200;

pub fn real_run(opts: &Options) -> Result<ExitCode> {
    let endpoint = endpoint_from_env()?;
    let loaded = load(opts)?;
    let c = loaded.campaign.clone();
    let _lock = lock::acquire(&loaded.state, &c.name)?;
    let ledger = Ledger::open(&loaded.state)?;
    let now = Timestamp::now();
    let settled = ledger.settle_in_flight(&c.name, now)?;
    let snapshot = Arc::new(ledger.snapshot(&c.name)?);
    let (planner, source) = planner(&loaded, snapshot, opts.retrying)?;
    let pre = preflight(opts, &c, planner.clone(), source, now)?;

    let fingerprint = fingerprint(&c, &planner)?;
    let (run_id, changed) = ledger.begin_run(&c.name, &fingerprint, now, &lock::hostname())?;
    notes(opts, changed.as_deref(), settled);
    let quota = template_quota(&c, Some(&ledger), now)?;
    let writer = Arc::new(ledger.into_writer());
    let client = Client::new(endpoint, Duration::from_secs(30)).map_err(Error::Aborted)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Aborted(format!("cannot start the async runtime: {e}")))?;
    let started = Instant::now();
    let report = runtime.block_on(dispatch(Dispatch {
        limit: opts.limit,
        jsonl: opts.format == RunFormat::Jsonl,
        progress: opts.format == RunFormat::Text && !opts.quiet,
        campaign: c.clone(),
        planner,
        client,
        writer: writer.clone(),
        run_id,
        clock: Arc::new(Timestamp::now),
        quota: TemplateQuota::new(quota),
        owed: pre.owed,
        rows: pre.rows,
    }))?;
    let elapsed = started.elapsed();
    drop(runtime);

    let ledger = Arc::try_unwrap(writer).ok().and_then(|w| w.finish());
    let outcome = match &report.stop {
        Some(_) => "aborted",
        None if report.tally.status(Status::Failed) > 0 => "failed",
        None => "done",
    };
    let mut counts = report.tally.to_json();
    counts["not_attempted"] = report.not_attempted.into();
    // The summary comes first: if the end of the run cannot be recorded
    // (a full disk), the user still learns what was sent.
    summarize(opts, &c.name, &report, &pre, elapsed);
    let Some(ledger) = ledger else {
        return Err(Error::Aborted("the ledger writer stopped; check `campaign status`".into()));
    };
    ledger.end_run(run_id, outcome, &counts, Timestamp::now())?;
    if let Some(stop) = report.stop {
        eprintln!("error: run aborted: {stop}");
        return Ok(ExitCode::Aborted);
    }
    Ok(if report.tally.status(Status::Failed) > 0 { ExitCode::SomeFailed } else { ExitCode::Done })
}

/// `CONNECTLY_API_KEY` and `CONNECTLY_BASE_URL`, checked before anything
/// is recorded or sent.
fn endpoint_from_env() -> Result<Endpoint> {
    let key = std::env::var("CONNECTLY_API_KEY").ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
        Error::Usage(
            "CONNECTLY_API_KEY is not set; a real run needs it (a --dry-run does not). Nothing was sent.\n  hint: export CONNECTLY_API_KEY=<key from the Connectly dashboard>; it is read from the environment only".into(),
        )
    })?;
    let base = std::env::var("CONNECTLY_BASE_URL")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| connectly::DEFAULT_BASE_URL.to_string());
    Endpoint::new(&base, &key).map_err(|e| Error::Usage(format!("{e}\n  Nothing was sent or recorded.")))
}

/// What preflight found: the rows, what is owed now, and what earlier runs
/// left failed or unknown.
struct Preflight {
    rows: u64,
    owed: u64,
    previously_failed: u64,
    previously_unknown: u64,
}

/// Every row read and rendered, nothing sent; invalid rows stop the run
/// (exit 2) unless `--skip-invalid`.
fn preflight(opts: &Options, c: &Campaign, planner: Arc<Planner>, source: Source, now: Timestamp) -> Result<Preflight> {
    let mut seq =
        Sequencer::new(None, TemplateQuota::new(None), crate::plan::recipients::estimate_rows(&c.recipients.csv));
    let mut problems = Vec::new();
    let (mut invalid, mut owed, mut failed, mut unknown) = (0usize, 0u64, 0u64, 0u64);
    let rows = stream::run(planner, source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
        let _ = seq.admit(plan);
        match plan.outcome.reason {
            Some(Reason::Invalid) => {
                invalid += 1;
                if problems.len() < PROBLEMS_LISTED
                    && let Some(e) = &plan.outcome.error
                {
                    let (field, reason) = (e.field.clone().unwrap_or_default(), e.message.clone());
                    problems.push(RowProblem { row: plan.outcome.row, field, reason });
                }
            }
            Some(Reason::PreviouslyFailed) => failed += 1,
            Some(Reason::PreviouslyUnknown) => unknown += 1,
            _ => {}
        }
        owed += u64::from(plan.send.is_some());
        ControlFlow::Continue(())
    })?;
    if invalid > 0 && !opts.skip_invalid {
        return Err(Error::Preflight { csv: c.recipients.csv.clone(), problems, total: invalid });
    }
    Ok(Preflight { rows, owed, previously_failed: failed, previously_unknown: unknown })
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Notes before sending: files changed since the last run, keys an
/// interrupted run left in flight.
fn notes(opts: &Options, changed: Option<&str>, settled: usize) {
    let estyle = Style::stderr();
    if let Some(changed) = changed
        && !opts.quiet
    {
        eprintln!("{} {changed} changed since the last run; only what is still owed is sent", estyle.yellow("note:"));
    }
    if settled > 0 {
        let (who, are) = if settled == 1 { ("recipient was", "is") } else { ("recipients were", "are") };
        eprintln!(
            "{} {settled} {who} left in flight by an interrupted run and {are} now `unknown`: not resent (--retry-unknown resends; `campaign status` lists them)",
            estyle.yellow("note:"),
        );
    }
}

/// The run's summary on stderr: one line of counts, the first failures,
/// what is still owed and how to send it.
fn summarize(opts: &Options, name: &str, report: &Report, pre: &Preflight, elapsed: Duration) {
    let estyle = Style::stderr();
    let t = &report.tally;
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { report.requests as f64 / secs } else { 0.0 };
    eprintln!(
        "{}: {} — {secs:.1} s, {}, {rate:.1}/s",
        estyle.bold(name),
        t.line(),
        plural(report.requests, "request", "requests")
    );
    let p = report.pace;
    if p.throttled > 0 {
        eprintln!(
            "  Connectly answered 429 (too many requests) {}: the pace was slowed to {:.0}/s at the lowest and was {:.0}/s at the end (configured {:.0}/s)",
            plural(p.throttled, "time", "times"),
            p.lowest,
            p.last,
            p.configured
        );
    }
    if !opts.quiet && opts.format == RunFormat::Text {
        for o in &t.first_failures {
            eprintln!("  {}", row_line(o, &estyle));
        }
        if t.status(Status::Failed) > t.first_failures.len() as u64 {
            eprintln!("  … `campaign status {} --format csv` lists every failure", opts.file.display());
        }
    }
    owed_lines(opts, report, pre);
}

/// What is still owed after the run, and the flags that resend earlier
/// failures: never "nothing owed" while some are failed or unknown.
fn owed_lines(opts: &Options, report: &Report, pre: &Preflight) {
    let t = &report.tally;
    if report.not_attempted > 0 {
        eprintln!(
            "{} not attempted; run the same command again to send them",
            plural(report.not_attempted, "recipient was", "recipients were")
        );
    }
    if opts.limit == Some(0) && pre.owed > 0 {
        eprintln!("--limit 0: nothing sent; {} owed", plural(pre.owed, "recipient is", "recipients are"));
    }
    let file = opts.file.display();
    if pre.previously_failed > 0 {
        eprintln!(
            "{} failed in an earlier run and {} not resent: `campaign status {file} --format csv` lists them; --retry-failed resends them",
            plural(pre.previously_failed, "recipient", "recipients"),
            if pre.previously_failed == 1 { "was" } else { "were" },
        );
    }
    if pre.previously_unknown > 0 {
        eprintln!(
            "{} an unknown outcome from an earlier run (the request may have been accepted) and {} not resent; --retry-unknown resends them and may message them twice",
            plural(pre.previously_unknown, "recipient has", "recipients have"),
            if pre.previously_unknown == 1 { "was" } else { "were" },
        );
    }
    let quiet_done = t.status(Status::Sent) == 0 && t.status(Status::Failed) == 0 && report.stop.is_none();
    if quiet_done && !opts.quiet && pre.owed == 0 && pre.previously_failed + pre.previously_unknown == 0 {
        eprintln!("nothing owed: every recipient is already sent, skipped or deferred");
    }
}

/// A fingerprint of everything the run reads, part by part, so a change can be named.
fn fingerprint(c: &Campaign, planner: &Planner) -> Result<String> {
    let hash = |p: &std::path::Path| -> Result<String> {
        use std::io::Read;
        let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(p, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(format!("{:016x}", h.digest()))
    };
    let mut parts = vec![
        format!("campaign file={:016x}", xxhash_rust::xxh3::xxh3_64(c.source.as_bytes())),
        format!("recipients CSV={}", hash(&c.recipients.csv)?),
    ];
    // The body file, and every template file it pulled in with include or
    // import while preflight rendered the rows.
    let mut templates = xxhash_rust::xxh3::Xxh3::new();
    if let Some((_, src)) = c.session.as_ref().and_then(|s| s.body.as_ref()) {
        templates.update(src.as_bytes());
    }
    for (name, src) in planner.template_sources() {
        templates.update(name.as_bytes());
        templates.update(&[0]);
        templates.update(src.as_bytes());
        templates.update(&[0]);
    }
    parts.push(format!("templates={:016x}", templates.digest()));
    if let Some(p) = &c.recipients.suppress {
        parts.push(format!("suppression list={}", hash(p)?));
    }
    Ok(parts.join(";"))
}
