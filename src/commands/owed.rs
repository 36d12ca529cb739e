//! What is still owed, as a run started now would see it: every row planned
//! against the ledger (nothing sent, nothing written). `status` reports it,
//! so its counts agree with the next run's summary.

use std::sync::Arc;

use jiff::Timestamp;

use super::prepare::{Counting, Loaded, lookback, pass, planner, template_quota};
use crate::campaign::Campaign;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::plan::row::Retrying;
use crate::report::status::Owed;

pub fn owed(campaign: &Arc<Campaign>, state: &std::path::Path, ledger: &Ledger, now: Timestamp) -> Result<Owed> {
    // Not checked against the catalogue: `status` reports, it does not refuse.
    let loaded =
        Loaded { campaign: campaign.clone(), state: state.to_path_buf(), template: None, catalogue_note: None };
    let (since, own) = lookback(campaign, now);
    let snapshot = Arc::new(ledger.snapshot(&campaign.name, since, own)?);
    let quota = template_quota(campaign, Some(ledger), now)?;
    let (planner, source) = planner(&loaded, snapshot, Retrying::default())?;
    let counting = Counting { quota, recorded: ledger.deferred_keys(&campaign.name)? };
    let pass = pass(campaign, planner, source, now, &counting)?;
    let deferred = pass.deferred_by.into_iter().map(|(r, n)| (r.into_owned(), n)).collect();
    Ok(Owed { now: pass.owed, later: pass.deferred, deferred })
}
