//! `campaign check FILE`: every check a real run makes before its first
//! send — the campaign file, the CSV and every row, the templates — through
//! the same preparation and preflight, offline and without a key. Exit 0
//! with a one-line verdict, or 2 with the problems.

use std::io::Write;

use jiff::Timestamp;

use super::prepare::{Offline, Options, offline, parse_at, preflight, print_catalogue_note};
use crate::cli::{CheckArgs, RunFormat};
use crate::error::{Error, ExitCode, Result};
use crate::plan::row::Retrying;
use crate::report::tally::count;

pub fn check(args: CheckArgs) -> Result<ExitCode> {
    let opts = Options {
        file: args.file,
        dry_run: true,
        at: args.at.as_deref().map(parse_at).transpose()?,
        limit: None,
        format: RunFormat::Text,
        state: args.state,
        skip_invalid: false,
        retrying: Retrying::default(),
        quiet: true,
    };
    let now = opts.at.unwrap_or_else(Timestamp::now);
    let Offline { loaded, planner, source, .. } = offline(&opts, now)?;
    // Whether the template was checked against the business's catalogue,
    // and against which saved copy, or how to make it so.
    print_catalogue_note(&loaded);
    let pre = preflight(&loaded.campaign, planner, source, now, false)?;
    let verdict = format!(
        "{}: ok — {} checked, none invalid; a run {}: {}",
        opts.file.display(),
        count(pre.rows, "row"),
        opts.at.map_or_else(|| "now".to_string(), |t| format!("as of {}", t.strftime("%Y-%m-%d %H:%MZ"))),
        pre.tally.line()
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{verdict}").and_then(|()| out.flush()).map_err(Error::stdout)?;
    Ok(ExitCode::Done)
}
