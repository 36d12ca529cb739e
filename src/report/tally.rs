//! Exact counts of a run or a preview, whatever its size: by status, and
//! under each status a breakdown that adds up to it (route, reason or error
//! code), plus the first failures and invalid rows for people to read.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::outcome::{Note, Outcome, Reason, Route, Status};

/// How many invalid rows are kept to be listed in full.
pub const INVALID_LISTED: usize = 200;

/// How many failures are kept to be listed in full.
const FAILURES_LISTED: usize = 5;

/// Statuses in the order they are reported.
const STATUSES: [Status; 6] =
    [Status::Planned, Status::Sent, Status::Failed, Status::Skipped, Status::Deferred, Status::Unknown];

/// Routes of planned and sent rows, in the order they are reported.
const ROUTES: [&str; 3] = ["session", "template", "no route"];

/// Counted on the thread that puts rows back in order, once per row: the
/// common rows (planned, sent) touch two arrays and nothing else.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub rows: u64,
    by_status: [u64; 6],
    /// Planned and sent rows by route (see `ROUTES`).
    by_route: [[u64; 3]; 2],
    /// Skipped and deferred rows by reason (none: see [`detail`]).
    by_reason: BTreeMap<(Status, Option<Reason>), u64>,
    /// Failed and unknown rows by error code.
    by_error: BTreeMap<(Status, Cow<'static, str>), u64>,
    pub fallbacks: u64,
    pub first_failures: Vec<Outcome>,
    /// The first invalid rows, in row order.
    pub invalid: Vec<Outcome>,
    /// The earliest instant a row the schedule holds may be sent, when known.
    pub opens: Option<Timestamp>,
    /// The first row skipped as a repeat of another campaign: why, in words.
    pub first_repeat: Option<String>,
}

fn index(s: Status) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(0)
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        self.rows += 1;
        self.by_status[index(o.status)] += 1;
        match o.status {
            Status::Planned | Status::Sent => {
                let route = match o.route {
                    Some(Route::Session) => 0,
                    Some(Route::Template) => 1,
                    None => 2,
                };
                self.by_route[usize::from(o.status == Status::Sent)][route] += 1;
            }
            Status::Skipped | Status::Deferred => *self.by_reason.entry((o.status, o.reason)).or_default() += 1,
            Status::Failed | Status::Unknown => *self.by_error.entry((o.status, detail(o))).or_default() += 1,
        }
        if o.fallback == Some(true) {
            self.fallbacks += 1;
        }
        if matches!(o.status, Status::Failed | Status::Unknown) && self.first_failures.len() < FAILURES_LISTED {
            self.first_failures.push(o.clone());
        }
        if o.reason == Some(Reason::Invalid) && self.invalid.len() < INVALID_LISTED {
            self.invalid.push(o.clone());
        }
        if o.reason == Some(Reason::Repeat) && self.first_repeat.is_none() {
            self.first_repeat = Some(format!("row {} {}: {}", o.row, o.recipient.as_deref().unwrap_or("-"), o.note));
        }
        if let (Status::Deferred, Note::Until(t)) = (o.status, &o.note) {
            self.opens = Some(self.opens.map_or(*t, |o| o.min(*t)));
        }
    }

    pub fn status(&self, s: Status) -> u64 {
        self.by_status[index(s)]
    }

    /// The statuses that occurred, with their counts, in report order.
    pub fn statuses(&self) -> impl Iterator<Item = (Status, u64)> + '_ {
        STATUSES.iter().map(|s| (*s, self.status(*s))).filter(|(_, n)| *n > 0)
    }

    pub fn reason(&self, r: Reason) -> u64 {
        self.by_reason.iter().filter(|((_, x), _)| *x == Some(r)).map(|(_, n)| n).sum()
    }

    /// What the rows of one status break down into; the parts add up to
    /// the status's count. Planned and sent rows by route, skipped and
    /// deferred ones by reason, failed and unknown ones by error code.
    pub fn details(&self, s: Status) -> Vec<(Cow<'static, str>, u64)> {
        match s {
            Status::Planned | Status::Sent => {
                let counts = &self.by_route[usize::from(s == Status::Sent)];
                ROUTES.iter().zip(counts).filter(|(_, n)| **n > 0).map(|(r, n)| (Cow::Borrowed(*r), *n)).collect()
            }
            // Reasons in their order, a row without one last.
            Status::Skipped | Status::Deferred => {
                let of = |none: bool| self.by_reason.iter().filter(move |((x, r), _)| *x == s && r.is_none() == none);
                of(false).chain(of(true)).map(|((x, r), n)| (Cow::Borrowed(reason_name(*x, *r)), *n)).collect()
            }
            Status::Failed | Status::Unknown => {
                self.by_error.iter().filter(|((x, _), _)| *x == s).map(|((_, k), n)| (k.clone(), *n)).collect()
            }
        }
    }

    /// Rows sent (or planned) by route.
    pub fn route(&self, route: &str) -> u64 {
        ROUTES.iter().position(|r| *r == route).map_or(0, |i| self.by_route[0][i] + self.by_route[1][i])
    }

    pub fn to_json(&self) -> serde_json::Value {
        let route: BTreeMap<&str, u64> =
            ["session", "template"].into_iter().map(|r| (r, self.route(r))).filter(|(_, n)| *n > 0).collect();
        let mut reason: BTreeMap<&str, u64> = BTreeMap::new();
        for ((s, r), n) in &self.by_reason {
            *reason.entry(reason_name(*s, *r)).or_default() += n;
        }
        serde_json::json!({
            "rows": self.rows,
            "status": self.statuses().map(|(k, v)| (k.as_str(), v)).collect::<BTreeMap<_, _>>(),
            "route": route,
            "reason": reason,
        })
    }

    /// `planned 120 (session 80, template 40) · skipped 3 (duplicate 2, suppressed 1)`
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        for (s, n) in self.statuses() {
            let detail: Vec<String> = self.details(s).iter().map(|(k, n)| format!("{k} {n}")).collect();
            parts.push(format!("{} {n} ({})", s.as_str(), detail.join(", ")));
        }
        if self.fallbacks > 0 {
            parts.push(format!("fallback to template {}", self.fallbacks));
        }
        if parts.is_empty() { "no rows".into() } else { parts.join(" · ") }
    }
}

/// A skipped or deferred row's reason; a row without one of its own was
/// left deferred by a run that stopped.
fn reason_name(s: Status, r: Option<Reason>) -> &'static str {
    match r {
        Some(r) => r.as_str(),
        None if s == Status::Deferred => "run_stopped",
        None => "other",
    }
}

/// The part of its status a row counts under. Routes and reasons are
/// static names: counting a million rows allocates nothing.
pub fn detail(o: &Outcome) -> Cow<'static, str> {
    match o.status {
        Status::Planned | Status::Sent => Cow::Borrowed(o.route.map_or("no route", |r| r.as_str())),
        Status::Skipped | Status::Deferred => Cow::Borrowed(reason_name(o.status, o.reason)),
        Status::Failed | Status::Unknown => match &o.error {
            Some(e) => match (&e.code, e.http) {
                (Some(c), _) if !c.is_empty() => Cow::Owned(c.clone()),
                (_, Some(h)) => Cow::Owned(format!("HTTP {h}")),
                _ => Cow::Borrowed("network"),
            },
            None => Cow::Borrowed("no answer"),
        },
    }
}

/// `1 row`, `2 rows`: a count and its noun, singular for one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::RowError;

    fn row(status: Status, reason: Option<Reason>) -> Outcome {
        let mut o = Outcome::new(1);
        o.status = status;
        o.reason = reason;
        o
    }

    #[test]
    fn every_breakdown_adds_up_to_its_status() {
        let mut t = Tally::default();
        for _ in 0..4 {
            t.add(&row(Status::Deferred, Some(Reason::QuietHours)));
        }
        // The row that met an abort: deferred, no reason of its own.
        let mut stopped = row(Status::Deferred, None);
        stopped.error =
            Some(RowError { http: Some(400), code: Some("LIMITS".into()), message: "x".into(), field: None });
        t.add(&stopped);
        let mut sent = row(Status::Sent, None);
        sent.route = Some(Route::Template);
        t.add(&sent);
        t.add(&row(Status::Failed, None));
        assert_eq!(
            t.line(),
            "sent 1 (template 1) · failed 1 (no answer 1) · deferred 5 (quiet_hours 4, run_stopped 1)"
        );
        for (s, n) in t.statuses() {
            assert_eq!(t.details(s).iter().map(|(_, k)| k).sum::<u64>(), n, "{s:?}");
        }
        assert_eq!(t.route("template"), 1);
    }

    #[test]
    fn singular_for_one() {
        assert_eq!(count(1, "recipient"), "1 recipient");
        assert_eq!(count(0, "recipient"), "0 recipients");
        assert_eq!(count(37, "row"), "37 rows");
    }
}
