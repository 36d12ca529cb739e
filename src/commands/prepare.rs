//! What the dry run, `check` and the real run share before the wire: the
//! options of `campaign run`, the campaign loaded, the planner compiled
//! against the CSV header, the template quota left in the rolling 24 hours,
//! and preflight over every row.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;

use super::templates;
use crate::campaign::Campaign;
use crate::cli::{RunArgs, RunFormat};
use crate::error::{Error, FieldError, Result};
use crate::ledger::{Ledger, Snapshot};
use crate::outcome::{Reason, Status};
use crate::plan::decide::TemplateQuota;
use crate::plan::recipients::{self, Source};
use crate::plan::row::{Planner, Retrying, RowPlan};
use crate::plan::stream::{self as stream, Mode, Sequencer};
use crate::report::tally::Tally;

/// How many invalid rows preflight lists in full.
const PROBLEMS_LISTED: usize = 200;
use crate::plan::template_check;
use crate::report;
use crate::report::text::Style;
use crate::wire::catalogue::TemplateDef;

/// The reporters' format for the command line's.
pub fn format(f: RunFormat) -> report::Format {
    match f {
        RunFormat::Text => report::Format::Text,
        RunFormat::Jsonl => report::Format::Jsonl,
        RunFormat::Html => report::Format::Html,
    }
}

/// Options of a run, parsed and checked once.
#[derive(Debug, Clone)]
pub struct Options {
    pub file: PathBuf,
    pub dry_run: bool,
    pub at: Option<Timestamp>,
    pub limit: Option<u64>,
    pub format: RunFormat,
    pub state: Option<PathBuf>,
    pub skip_invalid: bool,
    pub retrying: Retrying,
    pub quiet: bool,
}

/// How far back planning reads earlier sends: the repeat guard's 30 days,
/// or `limits.per_recipient`'s span when longer; and whether this
/// campaign's own sends count too (the caps count them, the repeat guard not).
pub fn lookback(c: &Campaign, now: Timestamp) -> (Timestamp, bool) {
    let per = c.per_recipient.and_then(|p| jiff::SignedDuration::try_from(p.per).ok()).unwrap_or_default();
    let own = c.per_recipient.is_some() || c.templates_per_day.is_some();
    (now - per.max(crate::plan::row::REPEAT_REACH), own)
}

/// `--at`: an RFC 3339 instant, with its time and offset.
pub fn parse_at(t: &str) -> Result<Timestamp> {
    t.parse::<Timestamp>().map_err(|_| {
        Error::Usage(format!(
            "--at `{t}` is not an RFC 3339 instant: it needs a date, a time and an offset\n  hint: write e.g. --at 2026-12-01T09:00:00+01:00 or --at 2026-12-01T08:00:00Z"
        ))
    })
}

impl Options {
    pub fn from_args(a: RunArgs) -> Result<Options> {
        let at = match &a.at {
            None => None,
            Some(_) if !a.dry_run => {
                return Err(Error::Usage(
                    "--at only goes with --dry-run: a real run sends now\n  hint: add --dry-run to preview as of that instant".into(),
                ));
            }
            Some(t) => Some(parse_at(t)?),
        };
        if a.format == RunFormat::Html && !a.dry_run {
            return Err(Error::Usage("--format html is a preview: use it with --dry-run".into()));
        }
        Ok(Options {
            file: a.file,
            dry_run: a.dry_run,
            at,
            limit: a.limit,
            format: a.format,
            state: a.state,
            skip_invalid: a.skip_invalid,
            retrying: Retrying { failed: a.retry_failed, unknown: a.retry_unknown, repeat: a.allow_repeat },
            quiet: a.quiet,
        })
    }
}

/// The campaign, its compiled planner and the ledger path, ready for a pass.
pub struct Loaded {
    pub campaign: Arc<Campaign>,
    pub state: PathBuf,
    /// The campaign's template as the business's catalogue has it, once checked.
    pub template: Option<TemplateDef>,
    /// What the offline check says for people (against which copy, or that
    /// the template was not checked); shown with the summary.
    pub catalogue_note: Option<String>,
}

/// Connectly's documented ceiling on requests per second.
const CONNECTLY_MAX_PER_SECOND: u32 = 200;

/// Load the campaign. Unless the run is real (it fetches the catalogue
/// itself, `send::real_run`), its template is checked here against the
/// saved catalogue, offline: a mismatch is an error (exit 2).
pub fn load(opts: &Options) -> Result<Loaded> {
    let campaign = Campaign::load(&opts.file)?;
    warn(&campaign);
    let state = opts.state.clone().unwrap_or_else(|| campaign.state.clone());
    let (template, catalogue_note) = if opts.dry_run { check_offline(&campaign, &state)? } else { (None, None) };
    Ok(Loaded { campaign: Arc::new(campaign), state, template, catalogue_note })
}

/// The template checked against the catalogue saved beside the ledger (no
/// network, no key), with a note saying how old that copy is; without one,
/// a note saying the template was not checked and how to fix that.
pub fn check_offline(c: &Campaign, state: &Path) -> Result<(Option<TemplateDef>, Option<String>)> {
    let Some(t) = &c.template else { return Ok((None, None)) };
    let path = templates::saved_path(state);
    let Some(saved) = templates::read_saved(&path, &c.business_id)? else {
        let note = format!(
            "template `{}` ({}) was not checked against the business's catalogue: no saved copy of business {}'s catalogue in {}\n  hint: `campaign templates pull {}` saves one (it needs CONNECTLY_API_KEY)",
            t.name,
            t.language,
            c.business_id,
            path.display(),
            c.path.display()
        );
        return Ok((None, Some(note)));
    };
    let def = template_check::check(c, &saved.catalogue)?;
    let elapsed = Timestamp::now().duration_since(saved.fetched_at);
    let age = templates::age(elapsed);
    let refresh = if elapsed > jiff::SignedDuration::from_hours(24) {
        "more than a day old: statuses change (Meta pauses templates for hours); `campaign templates pull` refreshes it"
    } else {
        "`campaign templates pull` refreshes it"
    };
    let note = format!(
        "template `{}` ({}) matches the business's catalogue as saved {age} ago in {} ({refresh})",
        t.name,
        t.language,
        path.display()
    );
    Ok((def, Some(note)))
}

/// Show the offline check's note on stderr.
pub fn print_catalogue_note(loaded: &Loaded) {
    if let Some(n) = &loaded.catalogue_note {
        let style = Style::stderr();
        let label = if loaded.template.is_some() { style.dim("note:") } else { style.yellow("note:") };
        eprintln!("{label} {n}");
    }
}

/// What is allowed but likely a mistake, said once on stderr.
fn warn(c: &Campaign) {
    let per_second = c.rate.per_second;
    if per_second > CONNECTLY_MAX_PER_SECOND {
        let line = crate::campaign::locate(&c.source, &["rate", "per_second"])
            .map(|l| format!("line {l}, "))
            .unwrap_or_default();
        crate::report::summary::note(&format!(
            "warning: {}: {line}rate.per_second is {per_second}, above the {CONNECTLY_MAX_PER_SECOND} requests per second Connectly documents; expect 429 answers, which slow the run down (set {CONNECTLY_MAX_PER_SECOND} or less)",
            c.path.display()
        ));
    }
}

/// Open the CSV and compile the planner against its header.
pub fn planner(loaded: &Loaded, snapshot: Arc<Snapshot>, retrying: Retrying) -> Result<(Arc<Planner>, Source)> {
    let source = Source::open(&loaded.campaign)?;
    let suppress = recipients::load_suppressions(&loaded.campaign)?;
    let mut planner =
        Planner::new(loaded.campaign.clone(), source.headers.clone(), source.columns, suppress, snapshot, retrying)?;
    planner.started = Timestamp::now();
    if let Some(def) = &loaded.template {
        planner.set_template(def.clone());
    }
    Ok((Arc::new(planner), source))
}

/// Customers still reachable by template in the rolling 24 hours, when capped.
pub fn template_quota(c: &Campaign, ledger: Option<&Ledger>, now: Timestamp) -> Result<Option<u64>> {
    let Some(cap) = c.templates_per_day else {
        return Ok(None);
    };
    let used = match ledger {
        Some(l) => l.template_customers_since(now - jiff::SignedDuration::from_hours(24))?,
        None => 0,
    };
    Ok(Some(u64::from(cap).saturating_sub(used)))
}

/// Everything a pass needs that reads no network and writes nothing: the
/// campaign, the ledger as it is now (read only; none yet is an empty
/// one), the template quota left and the planner compiled against the CSV.
/// The dry run and `check` both start here.
pub struct Offline {
    pub loaded: Loaded,
    pub quota: Option<u64>,
    pub planner: Arc<Planner>,
    pub source: Source,
}

pub fn offline(opts: &Options, now: Timestamp) -> Result<Offline> {
    let loaded = load(opts)?;
    let c = loaded.campaign.clone();
    let ledger = Ledger::open_read_only(&loaded.state)?;
    let (since, own) = lookback(&c, now);
    let snapshot = match &ledger {
        Some(l) => {
            let mut s = l.snapshot(&c.name, since, own)?;
            if c.senders.len() > 1 {
                l.read_last_senders(&mut s)?;
            }
            s
        }
        None => Snapshot::default(),
    };
    let quota = template_quota(&c, ledger.as_ref(), now)?;
    drop(ledger);
    let (planner, source) = planner(&loaded, Arc::new(snapshot), opts.retrying)?;
    Ok(Offline { loaded, quota, planner, source })
}

/// One pass over every row as a run started now would plan it, nothing
/// sent, nothing written: what preflight checks and `status` reports as
/// owed, so the two cannot drift apart.
#[derive(Default)]
pub struct Pass {
    pub rows: u64,
    /// Rows a run now would send.
    pub owed: u64,
    /// Rows a run now would defer.
    pub deferred: u64,
    pub tally: Tally,
    /// Invalid rows, the first `PROBLEMS_LISTED` of them in full.
    pub invalid: usize,
    pub problems: Vec<FieldError>,
    /// Owed rows that are deferred, by reason: deferred now by the plan,
    /// or recorded deferred by the run that met them though sendable now.
    pub deferred_by: BTreeMap<Cow<'static, str>, u64>,
}

/// What a pass counts against: the template places left today (none: no
/// cap), and the reasons recorded for keys an earlier run deferred.
#[derive(Default)]
pub struct Counting {
    pub quota: Option<u64>,
    pub recorded: HashMap<u128, String>,
}

/// Plan every row in order, as a run would, and count what it would do.
pub fn pass(c: &Campaign, planner: Arc<Planner>, source: Source, now: Timestamp, counting: &Counting) -> Result<Pass> {
    let mut seq =
        Sequencer::new(None, TemplateQuota::new(counting.quota), recipients::estimate_rows(&c.recipients.csv));
    let mut p = Pass::default();
    p.rows = stream::run(planner, source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
        let _ = seq.admit(plan);
        p.count(plan, &counting.recorded);
        ControlFlow::Continue(())
    })?;
    Ok(p)
}

impl Pass {
    fn count(&mut self, plan: &RowPlan, recorded: &HashMap<u128, String>) {
        let o = &plan.outcome;
        self.tally.add(o);
        if o.reason == Some(Reason::Invalid) {
            self.invalid += 1;
            if self.problems.len() < PROBLEMS_LISTED
                && let Some(p) = o.field_error()
            {
                self.problems.push(p);
            }
        }
        let reason = if plan.send.is_some() {
            self.owed += 1;
            plan.key_hash.and_then(|h| recorded.get(&h)).map(|r| Cow::Owned(r.clone()))
        } else if o.status == Status::Deferred {
            self.deferred += 1;
            Some(Cow::Borrowed(o.reason.map_or("other", |r| r.as_str())))
        } else {
            None
        };
        if let Some(r) = reason {
            *self.deferred_by.entry(r).or_default() += 1;
        }
    }
}

/// Every row read and rendered, nothing sent; invalid rows are an error
/// (exit 2) listing them, unless `skip_invalid`.
pub fn preflight(
    c: &Campaign,
    planner: Arc<Planner>,
    source: Source,
    now: Timestamp,
    skip_invalid: bool,
) -> Result<Pass> {
    let pass = pass(c, planner.clone(), source, now, &Counting::default())?;
    if let Some(e) = planner.template_error() {
        return Err(e);
    }
    if pass.invalid > 0 && !skip_invalid {
        return Err(Error::Preflight { csv: c.recipients.csv.clone(), problems: pass.problems, total: pass.invalid });
    }
    Ok(pass)
}
