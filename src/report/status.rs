//! `campaign status` rendered: JSON for scripts, CSV of the recipients to
//! fix, text for people. Text and JSON say the same things: counts by
//! status whose breakdowns add up, and deliveries both as each message's
//! furthest state (SPEC's `delivery`) and as a funnel where each stage counts
//! the messages that reached at least it.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use super::tally::count;
use super::text::Style;
use crate::ledger::{Delivery, FailureRecord, MessageStatus, RunOutcome, RunRecord};
use MessageStatus::{Deferred, Failed, InFlight, Sent, Skipped, Unknown};

/// How many failed or unknown recipients the text lists.
const FAILURES_LISTED: usize = 50;

/// What the ledger knows about one campaign, as `campaign status` loaded it.
#[derive(Debug, Default)]
pub struct Ledgered {
    pub campaign: String,
    /// The campaign file, for the commands the text suggests.
    pub file: PathBuf,
    /// The ledger's path; `found` says whether it exists yet.
    pub state: PathBuf,
    pub found: bool,
    pub by_status: HashMap<MessageStatus, u64>,
    /// Sent messages by route.
    pub by_route: HashMap<String, u64>,
    /// Sent messages by sender number.
    pub by_sender: Vec<(String, u64)>,
    /// Skipped and deferred keys by (status, reason).
    pub reasons: Vec<(MessageStatus, Option<String>, u64)>,
    /// Each message's furthest delivery state, counted.
    pub delivery: HashMap<Delivery, u64>,
    pub delivery_failures: Vec<(String, u64)>,
    /// Customers who opted out after this campaign's messages.
    pub opted_out_after: u64,
    pub runs: Vec<RunRecord>,
    pub failures: Vec<FailureRecord>,
    /// Who holds the campaign's run lock, when a run is going on now.
    pub running: Option<String>,
    /// What a run started now would do; `Err` says why it could not be
    /// worked out (the CSV moved, say).
    pub owed: Option<Result<Owed, String>>,
}

/// What is still owed, as a run started now would see it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Owed {
    /// A run now would send these.
    pub now: u64,
    /// A run now would defer these.
    pub later: u64,
    /// Owed keys that are deferred, by reason: deferred now by the plan,
    /// or recorded deferred by the run that met them (a run that stopped,
    /// say) though sendable now.
    pub deferred: BTreeMap<String, u64>,
}

impl Owed {
    fn deferred(&self) -> u64 {
        self.deferred.values().sum()
    }
}

/// Meta's error for a customer who opted out: they are suppressed, not retried.
const OPTED_OUT: &str = "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT";

impl Ledgered {
    fn n(&self, status: MessageStatus) -> u64 {
        match (status, self.owed()) {
            // Deferred rows are often never recorded: the plan knows them.
            (Deferred, Some(o)) => o.deferred(),
            _ => self.by_status.get(&status).copied().unwrap_or(0),
        }
    }

    fn owed(&self) -> Option<&Owed> {
        self.owed.as_ref().and_then(|o| o.as_ref().ok())
    }

    fn route(&self, route: &str) -> u64 {
        self.by_route.get(route).copied().unwrap_or(0)
    }

    /// Unknown, counting keys left in flight (JSON, SPEC: always).
    fn unknown(&self) -> u64 {
        self.n(Unknown) + self.n(InFlight)
    }

    /// Keys in flight that a live run is sending now (for people).
    fn being_sent(&self) -> u64 {
        if self.running.is_some() { self.n(InFlight) } else { 0 }
    }

    fn delivered(&self, state: Delivery) -> u64 {
        self.delivery.get(&state).copied().unwrap_or(0)
    }

    /// The funnel: each stage counts the messages that reached at least it.
    fn funnel(&self) -> Funnel {
        let read = self.delivered(Delivery::Read);
        Funnel {
            sent: self.n(Sent),
            delivered: self.delivered(Delivery::Delivered) + read,
            read,
            failed: self.delivered(Delivery::Failed),
        }
    }

    /// The runs' status as a person would say it.
    fn never_run(&self) -> bool {
        self.runs.is_empty() && self.by_status.values().all(|n| *n == 0)
    }

    /// Breakdown of one status: skipped and deferred by reason, failed and
    /// unknown by error code. The parts add up to the status's count.
    fn details(&self, status: MessageStatus) -> Vec<(String, u64)> {
        match status {
            Deferred if self.owed().is_some() => {
                self.owed().map(|o| o.deferred.iter().map(|(r, n)| (r.clone(), *n)).collect()).unwrap_or_default()
            }
            Skipped | Deferred => self
                .reasons
                .iter()
                .filter(|(s, _, _)| *s == status)
                .map(|(s, r, n)| {
                    let r = r.clone().unwrap_or_else(|| if *s == Deferred { "run_stopped" } else { "other" }.into());
                    (r, *n)
                })
                .collect(),
            _ => {
                let mut by: BTreeMap<String, u64> = BTreeMap::new();
                let left_in_flight =
                    |f: &&FailureRecord| status == Unknown && f.status == InFlight && self.running.is_none();
                for f in self.failures.iter().filter(|f| f.status == status || left_in_flight(f)) {
                    let key = match (&f.error_code, f.error_http) {
                        (Some(c), _) if !c.is_empty() => c.clone(),
                        (_, Some(h)) => format!("HTTP {h}"),
                        _ if f.status == InFlight => "in flight".to_string(),
                        _ => "no answer".to_string(),
                    };
                    *by.entry(key).or_default() += 1;
                }
                by.into_iter().collect()
            }
        }
    }
}

struct Funnel {
    sent: u64,
    delivered: u64,
    read: u64,
    failed: u64,
}

impl Funnel {
    fn pct(&self, k: u64) -> f64 {
        if self.sent > 0 { 100.0 * k as f64 / self.sent as f64 } else { 0.0 }
    }
}

/// `--format json` (SPEC §5), plus `delivery_funnel`.
pub fn json(s: &Ledgered, out: &mut impl Write) -> std::io::Result<()> {
    let f = s.funnel();
    let v = serde_json::json!({
        "campaign": s.campaign,
        "counts": {
            "sent": s.n(Sent),
            "failed": s.n(Failed),
            "skipped": s.n(Skipped),
            "unknown": s.unknown(),
            "deferred": s.n(Deferred),
            // Not yet attempted or deferred, as a run started now would see it.
            "owed": s.owed().map(|o| o.now + o.later),
        },
        "routes": {"session": s.route("session"), "template": s.route("template")},
        "senders": s.by_sender.iter().map(|(k, n)| (k.clone(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
        // Each message once, at its furthest state.
        "delivery": {
            "delivered": s.delivered(Delivery::Delivered),
            "read": s.delivered(Delivery::Read),
            "delivery_failed": f.failed,
        },
        // Each stage counts the messages that reached at least it: delivered includes read.
        "delivery_funnel": {"sent": f.sent, "delivered": f.delivered, "read": f.read, "delivery_failed": f.failed},
        "delivery_failures": s.delivery_failures.iter().map(|(code, n)| serde_json::json!({
            "code": code, "reason": crate::ledger::refusal_words(code), "count": n,
        })).collect::<Vec<_>>(),
        "opted_out_after": s.opted_out_after,
        "runs": s.runs,
        "failures": s.failures,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// `--format csv`: one line per failed or unknown recipient, ready to fix and retry.
pub fn csv(s: &Ledgered, out: impl Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["row", "recipient", "key", "route", "status", "error_code", "error_message"])?;
    for f in &s.failures {
        w.write_record([
            f.row.map(|r| r.to_string()).unwrap_or_default(),
            f.recipient.clone().unwrap_or_default(),
            f.key.clone(),
            f.route.clone().unwrap_or_default(),
            if f.status == InFlight { Unknown } else { f.status }.to_string(),
            f.error_code.clone().unwrap_or_default(),
            f.error_message.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// `--format text`: counts, deliveries, runs, and who to retry.
pub fn text(s: &Ledgered, out: &mut impl Write, st: &Style) -> std::io::Result<()> {
    writeln!(out, "{}", st.bold(&s.campaign))?;
    if !s.found {
        return writeln!(out, "  never run: there is no ledger at {} yet, so nothing has been sent", s.state.display());
    }
    if s.never_run() {
        return writeln!(
            out,
            "  never run: the ledger at {} has no run of this campaign yet, so nothing has been sent",
            s.state.display()
        );
    }
    if let Some(holder) = &s.running {
        writeln!(out, "  {} ({holder})", st.yellow("running now"))?;
    }
    counts(s, out)?;
    delivery(s, out)?;
    runs(s, out, st)?;
    failures(s, out, st)
}

fn counts(s: &Ledgered, out: &mut impl Write) -> std::io::Result<()> {
    let mut parts =
        vec![format!("sent {} (session {}, template {})", s.n(Sent), s.route("session"), s.route("template"))];
    let statuses = [
        (Failed, s.n(Failed)),
        (Unknown, s.unknown() - s.being_sent()),
        (Skipped, s.n(Skipped)),
        (Deferred, s.n(Deferred)),
    ];
    if s.being_sent() > 0 {
        parts.push(format!("being sent now {}", s.being_sent()));
    }
    for (status, n) in statuses {
        if n == 0 {
            continue;
        }
        let detail: Vec<String> = s.details(status).iter().map(|(k, n)| format!("{k} {n}")).collect();
        parts.push(format!("{status} {n} ({})", detail.join(", ")));
    }
    match &s.owed {
        Some(Ok(o)) if o.now + o.later == 0 => parts.push("nothing owed".into()),
        Some(Ok(o)) => parts.push(format!("owed {} ({} sendable now)", o.now + o.later, o.now)),
        Some(Err(why)) => parts.push(format!("owed: cannot tell ({why})")),
        None => {}
    }
    writeln!(out, "  {}", parts.join(" · "))?;
    if s.by_sender.len() > 1 {
        let each: Vec<String> = s.by_sender.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "  sent from {}", each.join(" · "))?;
    }
    Ok(())
}

fn delivery(s: &Ledgered, out: &mut impl Write) -> std::io::Result<()> {
    let f = s.funnel();
    if f.sent == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "  delivery: sent {} → delivered {} ({:.0}%) → read {} ({:.0}%) · failed {}",
        f.sent,
        f.delivered,
        f.pct(f.delivered),
        f.read,
        f.pct(f.read),
        f.failed
    )?;
    let waiting = f.sent.saturating_sub(f.delivered + f.failed);
    writeln!(
        out,
        "    each message at its furthest state: read {} · delivered, not read {} · failed {} · not reported delivered yet {waiting}",
        f.read,
        f.delivered - f.read,
        f.failed
    )?;
    for (code, k) in &s.delivery_failures {
        match crate::ledger::refusal_words(code) {
            Some(words) => writeln!(out, "    {code}: {k} — {words}")?,
            None => writeln!(out, "    {code}: {k}")?,
        }
    }
    if s.opted_out_after > 0 {
        writeln!(out, "  opted out after this campaign's messages: {}", count(s.opted_out_after, "customer"))?;
    }
    Ok(())
}

fn runs(s: &Ledgered, out: &mut impl Write, st: &Style) -> std::io::Result<()> {
    if s.runs.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", st.bold("runs"))?;
    let live = s.running.as_ref().and_then(|_| s.runs.iter().rev().find(|r| r.ended_at.is_none())).map(|r| r.id);
    for r in &s.runs {
        let outcome = match (r.outcome.map(RunOutcome::as_str), Some(r.id) == live) {
            (Some(o), _) => o,
            (None, true) => "running now",
            (None, false) => "did not finish (crashed or killed)",
        };
        writeln!(
            out,
            "  #{} {} → {} {outcome}{}",
            r.id,
            r.started_at,
            r.ended_at.as_deref().unwrap_or("…"),
            if r.files_changed { " · files changed" } else { "" }
        )?;
        if let Some(why) = r.reason.as_deref().and_then(|w| w.lines().next()) {
            writeln!(out, "     why: {why}")?;
        }
    }
    Ok(())
}

fn failure_line(f: &FailureRecord) -> String {
    format!(
        "  row {} {} {} {}: {}",
        f.row.unwrap_or(0),
        f.recipient.as_deref().unwrap_or(""),
        if f.status == InFlight { "in flight" } else { f.status.as_str() },
        f.error_code.as_deref().unwrap_or(""),
        f.error_message.as_deref().unwrap_or("")
    )
}

fn failures(s: &Ledgered, out: &mut impl Write, st: &Style) -> std::io::Result<()> {
    let live = s.running.is_some();
    let (opted_out, rest): (Vec<&FailureRecord>, Vec<&FailureRecord>) =
        s.failures.iter().partition(|f| f.error_code.as_deref() == Some(OPTED_OUT));
    // While a run goes on, its keys in flight are being sent, not lost.
    let (in_flight, retry): (Vec<&FailureRecord>, Vec<&FailureRecord>) =
        rest.into_iter().partition(|f| live && f.status == InFlight);
    if !in_flight.is_empty() {
        let by = s.running.as_deref().map(|h| format!(" by {h}")).unwrap_or_default();
        writeln!(out, "{} {}{by}", st.bold("being sent now:"), count(in_flight.len() as u64, "recipient"))?;
    }
    if !retry.is_empty() {
        writeln!(out, "{}", st.bold("failed and unknown"))?;
        for f in retry.iter().take(FAILURES_LISTED) {
            writeln!(out, "{}", failure_line(f))?;
        }
        if retry.len() > FAILURES_LISTED {
            writeln!(out, "  … {} more: --format csv lists all", retry.len() - FAILURES_LISTED)?;
        }
        writeln!(
            out,
            "  retry: campaign run {} --retry-failed (and --retry-unknown for unknown ones)",
            s.file.display()
        )?;
    }
    if !opted_out.is_empty() {
        writeln!(out, "{} {}", st.bold("opted out:"), count(opted_out.len() as u64, "recipient"))?;
        for f in opted_out.iter().take(FAILURES_LISTED) {
            writeln!(out, "{}", failure_line(f))?;
        }
        writeln!(
            out,
            "  not resent, not even with --retry-failed: they asked not to be messaged, in every campaign of this ledger"
        )?;
    }
    Ok(())
}
