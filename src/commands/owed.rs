//! What is still owed, as a run started now would see it: every row planned
//! against the ledger (nothing sent, nothing written). `status` reports it,
//! so its counts agree with the next run's summary.

use std::ops::ControlFlow;
use std::sync::Arc;

use jiff::Timestamp;

use super::prepare::{Loaded, lookback, planner, template_quota};
use crate::campaign::Campaign;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::outcome::Status;
use crate::plan::recipients;
use crate::plan::row::Retrying;
use crate::plan::stream::{self as stream, Mode, Sequencer, TemplateQuota};
use crate::report::status::Owed;

pub fn owed(campaign: &Arc<Campaign>, state: &std::path::Path, ledger: &Ledger, now: Timestamp) -> Result<Owed> {
    // Not checked against the catalogue: `status` reports, it does not refuse.
    let loaded =
        Loaded { campaign: campaign.clone(), state: state.to_path_buf(), template: None, catalogue_note: None };
    let (since, own) = lookback(campaign, now);
    let snapshot = Arc::new(ledger.snapshot(&campaign.name, since, own)?);
    let quota = template_quota(campaign, Some(ledger), now)?;
    let (planner, source) = planner(&loaded, snapshot, Retrying::default())?;
    let mut seq = Sequencer::new(None, TemplateQuota::new(quota), recipients::estimate_rows(&campaign.recipients.csv));
    let recorded = ledger.deferred_keys(&campaign.name)?;
    let mut owed = Owed::default();
    stream::run(planner, source, Mode { now, with_request: false, jsonl: false }, |plan, _| {
        let _ = seq.admit(plan);
        let reason = if plan.send.is_some() {
            owed.now += 1;
            plan.key_hash.and_then(|h| recorded.get(&h)).cloned()
        } else if plan.outcome.status == Status::Deferred {
            owed.later += 1;
            Some(plan.outcome.reason.map_or("other", |r| r.as_str()).to_string())
        } else {
            None
        };
        if let Some(r) = reason {
            *owed.deferred.entry(r).or_default() += 1;
        }
        ControlFlow::Continue(())
    })?;
    Ok(owed)
}
