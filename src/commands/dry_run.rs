//! `campaign run --dry-run`: every row planned as of `--at` (or now) and
//! fed, in row order, to one reporter (text, JSONL or an HTML page);
//! nothing sent, nothing written.

use std::ops::ControlFlow;

use jiff::Timestamp;

use super::prepare::{Offline, Options, format, offline, print_catalogue_note};
use crate::campaign::Campaign;
use crate::error::{ExitCode, Result};
use crate::outcome::Reason;
use crate::plan::decide::TemplateQuota;
use crate::plan::recipients;
use crate::plan::stream::{self as stream, Mode, Sequencer};
use crate::report::summary::{self, PreviewSummary};
use crate::report::{self, PreviewReport};

/// What the reporter is told of this dry run.
fn preview(opts: &Options, c: &Campaign, now: Timestamp, catalogue: Option<String>) -> report::Preview {
    let csv = &c.recipients.csv;
    report::Preview {
        campaign: c.name.clone(),
        csv: csv.file_name().map_or_else(|| csv.display().to_string(), |n| n.to_string_lossy().into_owned()),
        at: now,
        format: format(opts.format),
        quiet: opts.quiet,
        limit: opts.limit,
        skip_invalid: opts.skip_invalid,
        catalogue,
    }
}

pub fn dry_run(opts: &Options) -> Result<ExitCode> {
    let now = opts.at.unwrap_or_else(Timestamp::now);
    let Offline { loaded, quota, planner, source } = offline(opts, now)?;
    let c = loaded.campaign.clone();

    let format = format(opts.format);
    let preview = preview(opts, &c, now, loaded.catalogue_note.clone());
    let mode = Mode { now, with_request: true, jsonl: format == report::Format::Jsonl };
    // In the HTML page --limit limits the messages shown, not the counts.
    let limit = if format == report::Format::Html { None } else { opts.limit };
    let mut seq = Sequencer::new(limit, TemplateQuota::new(quota), recipients::estimate_rows(&c.recipients.csv));
    let mut report = PreviewReport::new(&preview);
    let mut stopped = None;
    stream::run(planner.clone(), source, mode, |plan, prepared| {
        if seq.admit(plan).is_break() {
            return ControlFlow::Break(());
        }
        match report.row(&plan.outcome, prepared.filter(|_| !plan.rewritten)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                stopped = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = stopped {
        // A closed stdout ends the preview here, quietly.
        return Err(e);
    }
    if let Some(e) = planner.template_error() {
        return Err(e);
    }
    let tally = report.finish()?;
    summary::print_preview(&PreviewSummary {
        campaign: &c.name,
        at: now,
        tally: &tally,
        skip_invalid: opts.skip_invalid,
        listed: format == report::Format::Text && !opts.quiet,
    });
    if !opts.quiet {
        print_catalogue_note(&loaded);
    }
    if tally.reason(Reason::Invalid) > 0 && !opts.skip_invalid {
        return Ok(ExitCode::Invalid);
    }
    Ok(ExitCode::Done)
}
