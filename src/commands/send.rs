//! `campaign run` without `--dry-run`: the key and base URL from the
//! environment, the lock, preflight over every row, the run recorded in the
//! ledger, then the send loop on a runtime of its own, and the summary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::prepare::{Loaded, Options, Pass, load, lookback, planner, preflight, template_quota};
use crate::campaign::Campaign;
use crate::cli::RunFormat;
use crate::dispatch::{Dispatch, dispatch};
use crate::error::{Error, ExitCode, Result};
use crate::ledger::{Finished, Ledger, RunOutcome, lock};
use crate::outcome::Status;
use crate::plan::decide::TemplateQuota;
use crate::plan::row::Planner;
use crate::report::summary::{RunSummary, print_run};
use crate::report::text::Style;
use crate::report::{RunOptions, RunReport};
use crate::wire::client::{Client, Endpoint};

pub fn real_run(opts: &Options) -> Result<ExitCode> {
    let endpoint = super::connectly::endpoint_from_env("a real run")?;
    let mut loaded = load(opts)?;
    let c = loaded.campaign.clone();
    // Once per run, before the first send: the template as the business has it.
    let unavailable = check_catalogue(&endpoint, &mut loaded)?;
    let ledger = Ledger::open(&loaded.state)?;
    let _lock = lock::acquire(&ledger.path, &c.name, || {
        ledger.holder(&c.name).unwrap_or_else(|| "a run that is starting now".into())
    })?;
    let now = Timestamp::now();
    let settled = ledger.settle_in_flight(&c.name, now)?;
    let (since, own) = lookback(&c, now);
    let mut snapshot = ledger.snapshot(&c.name, since, own)?;
    if c.senders.len() > 1 {
        ledger.read_last_senders(&mut snapshot)?;
    }
    let snapshot = Arc::new(snapshot);
    let (planner, source) = planner(&loaded, snapshot, opts.retrying)?;
    let pre = preflight(&c, planner.clone(), source, now, opts.skip_invalid)?;
    let owed = opts.limit.map_or(pre.owed, |l| pre.owed.min(l));

    let fingerprint = fingerprint(&c, &planner)?;
    let (run_id, changed) = ledger.begin_run(&c.name, &fingerprint, now, &lock::hostname())?;
    if let Some(why) = unavailable {
        // Recorded, so that `status` says why nothing was sent.
        let counts = serde_json::json!({"not_attempted": pre.owed});
        ledger.end_run(run_id, RunOutcome::Aborted, &counts, Some(&why), Timestamp::now())?;
        return Err(Error::Aborted(why));
    }
    notes(opts, changed.as_deref(), settled);
    let quota = template_quota(&c, Some(&ledger), now)?;
    let writer = Arc::new(ledger.into_writer());
    let client = Client::new(endpoint, Duration::from_secs(30)).map_err(Error::Aborted)?;
    // One thread sends, paces and reads the answers: at a steady pace a
    // message costs a timer wake-up and an answer, with no hand-offs
    // between threads (the ledger writer and the planner have their own).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Aborted(format!("cannot start the async runtime: {e}")))?;
    let started = Instant::now();
    let report = runtime.block_on(dispatch(Dispatch {
        limit: opts.limit,
        report: RunReport::new(&RunOptions { format: super::prepare::format(opts.format), quiet: opts.quiet, owed }),
        campaign: c.clone(),
        planner,
        client,
        writer: writer.clone(),
        run_id,
        clock: Arc::new(Timestamp::now),
        quota: TemplateQuota::new(quota),
        rows: pre.rows,
    }))?;
    let elapsed = started.elapsed();
    drop(runtime);
    let finished = Arc::try_unwrap(writer).ok().and_then(|w| w.finish());
    end_run(opts, &c, &pre, (run_id, elapsed, report), finished)
}

/// The end of a real run: its summary first (if the end cannot be recorded,
/// a full disk, the user still learns what was sent), then its record in the
/// ledger, and the exit code.
fn end_run(
    opts: &Options,
    c: &Campaign,
    pre: &Pass,
    (run_id, elapsed, mut report): (i64, Duration, crate::dispatch::Report),
    finished: Option<Finished>,
) -> Result<ExitCode> {
    // A last commit that failed after the send loop ended stops the run too.
    if report.stop.is_none()
        && let Some(Finished { unrecorded, failure: Some(e), .. }) = &finished
        && !unrecorded.is_empty()
    {
        report.stop = Some(crate::dispatch::Stop::Ledger(e.clone()));
    }
    let outcome = match &report.stop {
        Some(_) => RunOutcome::Aborted,
        None if report.tally.status(Status::Failed) > 0 => RunOutcome::Failed,
        None => RunOutcome::Done,
    };
    let mut counts = report.tally.to_json();
    counts["not_attempted"] = report.not_attempted.into();
    let unrecorded = finished.as_ref().map_or(0, |f| f.unrecorded.len());
    let stop = report.stop.as_ref().map(|s| s.told(unrecorded));
    print_run(&RunSummary {
        campaign: &c.name,
        file: &opts.file,
        tally: &report.tally,
        owed_before: pre.owed + pre.deferred,
        skipped_while_sending: report.skipped_while_sending,
        requests: report.requests,
        elapsed,
        abort: stop.as_deref(),
        quiet: opts.quiet,
        list_failures: opts.format == RunFormat::Text,
        pace: report.pace,
        limit: opts.limit,
    });
    let Some(Finished { ledger, unrecorded, .. }) = finished else {
        return Err(Error::Aborted(format!("{}; check `campaign status`", crate::ledger::STOPPED)));
    };
    if !unrecorded.is_empty() {
        return Err(unrecorded_error(&ledger.path, &unrecorded));
    }
    ledger.end_run(run_id, outcome, &counts, stop.as_deref(), Timestamp::now())?;
    Ok(match outcome {
        RunOutcome::Aborted => ExitCode::Aborted,
        RunOutcome::Failed => ExitCode::SomeFailed,
        RunOutcome::Done => ExitCode::Done,
    })
}

/// Fetch the catalogue (or take a fresh saved copy) and check the
/// campaign's template against it: a mismatch is an error at once (exit 2,
/// nothing recorded); a catalogue that cannot be had is returned, to stop
/// the run once it is recorded (exit 3).
fn check_catalogue(endpoint: &Endpoint, loaded: &mut Loaded) -> Result<Option<String>> {
    let c = loaded.campaign.clone();
    if c.template.is_none() {
        return Ok(None);
    }
    match super::templates::for_real_run(endpoint.clone(), &c, &loaded.state, Timestamp::now()) {
        Ok(catalogue) => {
            loaded.template = crate::plan::template_check::check(&c, &catalogue)?;
            Ok(None)
        }
        Err(why) => Ok(Some(why)),
    }
}

/// Answers that arrived but could not be written. Their requests were
/// recorded in flight before they left, so the next run marks them
/// `unknown` and never resends them on its own; the user learns here
/// what Connectly said.
fn unrecorded_error(path: &std::path::Path, lines: &[String]) -> Error {
    let shown: Vec<&str> = lines.iter().take(20).map(String::as_str).collect();
    let more = lines.len().saturating_sub(shown.len());
    Error::Ledger {
        path: path.to_path_buf(),
        what: format!(
            "{} answers could not be recorded; Connectly said:\n    {}{}",
            lines.len(),
            shown.join("\n    "),
            if more > 0 { format!("\n    … and {more} more") } else { String::new() }
        ),
        fix: "they stay recorded as in flight: the next run marks them `unknown` and does not resend them (--retry-unknown would). Stop the other process holding the ledger or free the disk, then run the same command again".into(),
    }
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
