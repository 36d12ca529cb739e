//! `campaign run --dry-run`: every row planned as of `--at` (or now) and
//! reported as text, JSONL or an HTML page; nothing sent, nothing written.

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use jiff::Timestamp;

use super::prepare::{Options, load, planner, template_quota};
use crate::campaign::Campaign;
use crate::cli::RunFormat;
use crate::error::{Error, ExitCode, Result};
use crate::ledger::{Ledger, Snapshot};
use crate::outcome::{Outcome, Reason, Status};
use crate::plan::recipients;
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
use crate::report::text::{self, Style};
use crate::report::{Tally, html};

pub fn dry_run(opts: &Options) -> Result<ExitCode> {
    let loaded = load(opts)?;
    let c = loaded.campaign.clone();
    let ledger = Ledger::open_read_only(&loaded.state)?;
    let snapshot = match &ledger {
        Some(l) => l.snapshot(&c.name)?,
        None => Snapshot::default(),
    };
    let now = opts.at.unwrap_or_else(Timestamp::now);
    let quota = template_quota(&c, ledger.as_ref(), now)?;
    drop(ledger);
    let (planner, source) = planner(&loaded, Arc::new(snapshot), opts.retrying)?;

    let mode = Mode { now, with_request: true, jsonl: opts.format == RunFormat::Jsonl };
    // In the HTML page --limit limits the bubbles shown, not the counts.
    let limit = if opts.format == RunFormat::Html { None } else { opts.limit };
    let mut seq = Sequencer::new(limit, TemplateQuota::new(quota), recipients::estimate_rows(&c.recipients.csv));
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let style = Style::stdout();
    let mut preview = Preview::new(opts, &c, now);
    let mut write_error = None;
    let mut line = Vec::new();

    stream::run(planner, source, mode, |plan, prepared| {
        if seq.admit(plan).is_break() {
            return ControlFlow::Break(());
        }
        let o = &plan.outcome;
        tally.add(o);
        let result = match opts.format {
            RunFormat::Jsonl => match prepared.filter(|_| !plan.rewritten) {
                Some(l) => out.write_all(l),
                None => {
                    line.clear();
                    o.write_jsonl(&mut line);
                    out.write_all(&line)
                }
            },
            RunFormat::Text => preview.text(o, &style, &mut out),
            RunFormat::Html => {
                preview.keep(std::mem::replace(&mut plan.outcome, Outcome::new(0)));
                Ok(())
            }
        };
        if let Err(e) = result {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    let invalid = tally.reason(Reason::Invalid);
    let result = match opts.format {
        RunFormat::Html => out.write_all(html::page(&c, now, &tally, &preview.kept, opts.limit).as_bytes()),
        RunFormat::Text => preview.finish(&tally, &style, &mut out),
        RunFormat::Jsonl => Ok(()),
    };
    if let Some(e) = write_error.or(result.err()).or(out.flush().err())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Error::io(std::path::Path::new("<stdout>"), e));
    }
    drop(out);

    let estyle = Style::stderr();
    eprintln!("{}: dry run as of {} — {}", estyle.bold(&c.name), crate::outcome::short(now), tally.line());
    if invalid > 0 && !opts.skip_invalid {
        eprintln!(
            "{} invalid row{}: a real run would stop before sending anything (exit 2).\n  hint: fix them, or pass --skip-invalid to send the rest",
            invalid,
            if invalid == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::Invalid);
    }
    Ok(ExitCode::Done)
}

/// What `--format text` and `--format html` accumulate.
struct Preview {
    full: usize,
    shown: usize,
    others: Vec<Outcome>,
    pub kept: Vec<Outcome>,
    quiet: bool,
    header: Option<String>,
}

const OTHERS_SHOWN: usize = 20;

impl Preview {
    fn new(opts: &Options, c: &Campaign, now: Timestamp) -> Self {
        Preview {
            full: 3,
            shown: 0,
            others: Vec::new(),
            kept: Vec::new(),
            quiet: opts.quiet,
            header: Some(format!("{} — dry run as of {}\n\n", c.name, crate::outcome::short(now))),
        }
    }

    fn text(&mut self, o: &Outcome, style: &Style, out: &mut impl Write) -> std::io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        if let Some(h) = self.header.take() {
            out.write_all(style.bold(&h).as_bytes())?;
        }
        if o.status == Status::Planned && self.shown < self.full {
            self.shown += 1;
            writeln!(out, "{}", text::message_block(o, style))?;
        } else if o.status != Status::Planned && self.others.len() < OTHERS_SHOWN {
            self.others.push(o.clone());
        }
        Ok(())
    }

    fn keep(&mut self, o: Outcome) {
        self.kept.push(o);
    }

    fn finish(&mut self, tally: &Tally, style: &Style, out: &mut impl Write) -> std::io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        if let Some(h) = self.header.take() {
            out.write_all(style.bold(&h).as_bytes())?;
        }
        let planned = tally.status(Status::Planned) as usize;
        if planned > self.shown {
            let more = planned - self.shown;
            let s = if more == 1 { "" } else { "s" };
            let line = format!("… and {more} more planned message{s} (--format jsonl lists every one)");
            writeln!(out, "{}\n", style.dim(&line))?;
        }
        if !self.others.is_empty() {
            writeln!(out, "{}", style.bold("Not sent now:"))?;
            for o in &self.others {
                writeln!(out, "  {}", text::row_line(o, style))?;
            }
            let rest = tally.rows as usize - planned - self.others.len();
            if rest > 0 {
                writeln!(out, "  {}", style.dim(&format!("… and {rest} more")))?;
            }
            writeln!(out)?;
        }
        writeln!(out, "{}", style.bold("Summary"))?;
        writeln!(out, "  {:<22}{:>8}", "rows", tally.rows)?;
        for (s, n) in &tally.by_status {
            writeln!(out, "  {:<22}{:>8}", s.as_str(), n)?;
            if matches!(s, Status::Planned | Status::Sent) {
                for (r, n) in &tally.by_route {
                    writeln!(out, "    {:<20}{:>8}", r, n)?;
                }
            }
            for (r, n) in tally.by_reason.iter().filter(|(r, _)| r.status() == *s) {
                writeln!(out, "    {:<20}{:>8}", r.as_str(), n)?;
            }
        }
        Ok(())
    }
}
