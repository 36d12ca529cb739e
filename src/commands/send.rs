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
use crate::dispatch::{Dispatch, dispatch};
use crate::error::{Error, ExitCode, Result, RowProblem};
use crate::ledger::{Ledger, lock};
use crate::outcome::{Reason, Status};
use crate::plan::row::Planner;
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
use crate::report::text::{Style, row_line};
use crate::wire::client::{self as connectly, Client};

/// How many invalid rows preflight lists in full.
const PROBLEMS_LISTED: usize = 200;

pub fn real_run(opts: &Options) -> Result<ExitCode> {
    let key = std::env::var("CONNECTLY_API_KEY").ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
        Error::Usage(
            "CONNECTLY_API_KEY is not set; a real run needs it (a --dry-run does not). Nothing was sent.\n  hint: export CONNECTLY_API_KEY=<key from the Connectly dashboard>; it is read from the environment only".into(),
        )
    })?;
    let base = std::env::var("CONNECTLY_BASE_URL")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| connectly::DEFAULT_BASE_URL.to_string());
    let loaded = load(opts)?;
    let c = loaded.campaign.clone();
    let _lock = lock::acquire(&loaded.state, &c.name)?;
    let ledger = Ledger::open(&loaded.state)?;
    let now = Timestamp::now();
    let settled = ledger.settle_in_flight(&c.name, now)?;
    let snapshot = Arc::new(ledger.snapshot(&c.name)?);

    // Preflight: every row read and rendered, nothing sent.
    let (planner, source) = planner(&loaded, snapshot.clone(), opts.retrying)?;
    let mut seq =
        Sequencer::new(None, TemplateQuota::new(None), crate::plan::recipients::estimate_rows(&c.recipients.csv));
    let mut problems = Vec::new();
    let mut invalid = 0usize;
    let mut owed = 0u64;
    let rows = stream::run(planner.clone(), source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
        let _ = seq.admit(plan);
        if plan.outcome.reason == Some(Reason::Invalid) {
            invalid += 1;
            if problems.len() < PROBLEMS_LISTED
                && let Some(e) = &plan.outcome.error
            {
                problems.push(RowProblem {
                    row: plan.outcome.row,
                    field: e.field.clone().unwrap_or_default(),
                    reason: e.message.clone(),
                });
            }
        }
        if plan.send.is_some() {
            owed += 1;
        }
        ControlFlow::Continue(())
    })?;
    if invalid > 0 && !opts.skip_invalid {
        return Err(Error::Preflight { csv: c.recipients.csv.clone(), problems, total: invalid });
    }
    let owed = opts.limit.map_or(owed, |l| owed.min(l));

    let fingerprint = fingerprint(&c, &planner)?;
    let (run_id, changed) = ledger.begin_run(&c.name, &fingerprint, now, &lock::hostname())?;
    let estyle = Style::stderr();
    if changed.is_some() && !opts.quiet {
        eprintln!(
            "{} {} changed since the last run; only what is still owed is sent",
            estyle.yellow("note:"),
            changed.as_deref().unwrap_or("files")
        );
    }
    if settled > 0 {
        eprintln!(
            "{} {settled} recipient{} left in flight by an interrupted run {} now `unknown`: not resent (--retry-unknown resends them; `campaign status` lists them)",
            estyle.yellow("note:"),
            if settled == 1 { " was" } else { "s were" },
            if settled == 1 { "is" } else { "are" },
        );
    }
    let quota = template_quota(&c, Some(&ledger), now)?;
    let writer = Arc::new(ledger.into_writer());

    let timeout = Duration::from_secs(30);
    let client = Client::new(&base, key, timeout).map_err(Error::Aborted)?;
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
        quota: TemplateQuota::new(quota),
        owed,
        rows,
    }))?;
    let elapsed = started.elapsed();
    drop(runtime);

    let ledger = Arc::try_unwrap(writer).ok().and_then(|w| w.finish());
    let outcome = match &report.abort {
        Some(_) => "aborted",
        None if report.tally.status(Status::Failed) > 0 => "failed",
        None => "done",
    };
    let mut counts = report.tally.to_json();
    counts["not_attempted"] = report.not_attempted.into();
    if let Some(l) = &ledger {
        l.end_run(run_id, outcome, &counts, Timestamp::now())?;
    }

    let t = &report.tally;
    let sent = t.status(Status::Sent);
    let rate = if elapsed.as_secs_f64() > 0.0 { report.requests as f64 / elapsed.as_secs_f64() } else { 0.0 };
    eprintln!(
        "{}: {} — {:.1} s, {} request{}, {:.1}/s",
        estyle.bold(&c.name),
        t.line(),
        elapsed.as_secs_f64(),
        report.requests,
        if report.requests == 1 { "" } else { "s" },
        rate
    );
    if !opts.quiet && opts.format == RunFormat::Text {
        for o in &t.first_failures {
            eprintln!("  {}", row_line(o, &estyle));
        }
        if t.status(Status::Failed) > t.first_failures.len() as u64 {
            eprintln!("  … `campaign status {} --format csv` lists every failure", opts.file.display());
        }
    }
    if report.not_attempted > 0 {
        eprintln!("{} recipients not attempted; run the same command again to send them", report.not_attempted);
    }
    if sent == 0 && t.status(Status::Failed) == 0 && report.abort.is_none() && !opts.quiet && owed == 0 {
        eprintln!("nothing owed: every recipient is already sent, skipped or deferred");
    }
    if let Some(reason) = report.abort {
        eprintln!(
            "error: run aborted: {reason}\n  hint: fix the cause and run the same command again; it sends only what is still owed"
        );
        return Ok(ExitCode::Aborted);
    }
    if ledger.is_none() {
        return Err(Error::Aborted("the ledger writer stopped; check `campaign status`".into()));
    }
    Ok(if t.status(Status::Failed) > 0 { ExitCode::SomeFailed } else { ExitCode::Done })
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
