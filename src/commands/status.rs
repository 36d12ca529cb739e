//! `campaign status`: load what the ledger knows about a campaign (and
//! whether a run of it is going on now), then render it as text, JSON or CSV.

use std::path::Path;

use std::sync::Arc;

use jiff::Timestamp;

use super::owed::owed;
use crate::campaign::Campaign;
use crate::cli::{StatusArgs, StatusFormat};
use crate::error::{Error, ExitCode, Result};
use crate::ledger::{Ledger, lock};
use crate::report::status::{self as render, Ledgered};
use crate::report::text::Style;

pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let c = Arc::new(Campaign::load(&args.file)?);
    let state = args.state.clone().unwrap_or_else(|| c.state.clone());
    let s = load(&c, &args.file, &state)?;
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        StatusFormat::Json => render::json(&s, &mut out),
        StatusFormat::Csv => render::csv(&s, &mut out),
        StatusFormat::Text => render::text(&s, &mut out, &Style::stdout()),
    };
    written.and_then(|()| std::io::Write::flush(&mut out)).map_err(Error::stdout)?;
    Ok(ExitCode::Done)
}

fn load(c: &Arc<Campaign>, file: &Path, state: &Path) -> Result<Ledgered> {
    let mut s = Ledgered {
        campaign: c.name.clone(),
        file: file.to_path_buf(),
        state: state.to_path_buf(),
        ..Ledgered::default()
    };
    let Some(l) = Ledger::open_read_only(state)? else {
        return Ok(s);
    };
    s.found = true;
    (s.by_status, s.by_route) = l.counts(&c.name)?;
    s.by_sender = l.sender_counts(&c.name)?;
    s.reasons = l.reasons(&c.name)?;
    s.delivery = l.delivery_counts(&c.name)?;
    s.delivery_failures = l.delivery_failures(&c.name)?;
    s.opted_out_after = l.opted_out_after(&c.name)?;
    s.runs = l.runs(&c.name)?;
    s.failures = l.failures(&c.name)?;
    s.owed = Some(
        owed(c, state, &l, Timestamp::now()).map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string()),
    );
    s.running = lock::is_held(state, &c.name).then(|| l.holder(&c.name).unwrap_or_else(|| "a run starting now".into()));
    Ok(s)
}
