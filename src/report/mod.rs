//! Reporters: sinks for outcomes. Text and JSONL here, HTML and status in
//! their own files.

pub mod html;
pub mod text;

use std::collections::BTreeMap;

use crate::outcome::{Outcome, Reason, Status};

/// Counts by status, route and reason, and the first failures.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub rows: u64,
    pub by_status: BTreeMap<Status, u64>,
    pub by_route: BTreeMap<&'static str, u64>,
    pub by_reason: BTreeMap<Reason, u64>,
    pub fallbacks: u64,
    /// Failed recipients by error code (or HTTP status, or "network").
    pub errors: BTreeMap<String, u64>,
    pub first_failures: Vec<Outcome>,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        self.rows += 1;
        *self.by_status.entry(o.status).or_default() += 1;
        if let Some(r) = o.reason {
            *self.by_reason.entry(r).or_default() += 1;
        }
        if matches!(o.status, Status::Planned | Status::Sent)
            && let Some(route) = o.route
        {
            *self.by_route.entry(route.as_str()).or_default() += 1;
        }
        if o.fallback == Some(true) {
            self.fallbacks += 1;
        }
        if matches!(o.status, Status::Failed | Status::Unknown) {
            if let Some(e) = &o.error {
                let key = match (&e.code, e.http) {
                    (Some(c), _) if !c.is_empty() => c.clone(),
                    (_, Some(h)) => format!("HTTP {h}"),
                    _ => "network".to_string(),
                };
                *self.errors.entry(key).or_default() += 1;
            }
            if self.first_failures.len() < 5 {
                self.first_failures.push(o.clone());
            }
        }
    }

    pub fn status(&self, s: Status) -> u64 {
        self.by_status.get(&s).copied().unwrap_or(0)
    }

    pub fn reason(&self, r: Reason) -> u64 {
        self.by_reason.get(&r).copied().unwrap_or(0)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.rows,
            "status": self.by_status.iter().map(|(k, v)| (k.as_str(), v)).collect::<BTreeMap<_, _>>(),
            "route": self.by_route,
            "reason": self.by_reason.iter().map(|(k, v)| (k.as_str(), v)).collect::<BTreeMap<_, _>>(),
        })
    }

    /// `planned 120 (session 80, template 40) · skipped 3 (duplicate 2, suppressed 1)`
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        for (s, n) in &self.by_status {
            let mut part = format!("{} {n}", s.as_str());
            let detail: Vec<String> = match s {
                Status::Planned | Status::Sent => self.by_route.iter().map(|(r, n)| format!("{r} {n}")).collect(),
                Status::Skipped | Status::Deferred => self
                    .by_reason
                    .iter()
                    .filter(|(r, _)| r.status() == *s)
                    .map(|(r, n)| format!("{} {n}", r.as_str()))
                    .collect(),
                Status::Failed => self.errors.iter().map(|(c, n)| format!("{c} {n}")).collect(),
                _ => Vec::new(),
            };
            if !detail.is_empty() {
                part.push_str(&format!(" ({})", detail.join(", ")));
            }
            parts.push(part);
        }
        if self.fallbacks > 0 {
            parts.push(format!("fallback to template {}", self.fallbacks));
        }
        if parts.is_empty() { "no rows".into() } else { parts.join(" · ") }
    }
}
