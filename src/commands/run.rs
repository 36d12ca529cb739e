//! `campaign run`: a dry run or a real run. They share everything up to
//! the wire (`prepare`) and differ only in what consumes the plans: the
//! preview reporters, or the dispatcher.

use super::prepare::Options;
use crate::cli::RunArgs;
use crate::error::{ExitCode, Result};

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let opts = Options::from_args(args)?;
    if opts.dry_run { super::dry_run::dry_run(&opts) } else { super::send::real_run(&opts) }
}
