//! `campaign`: WhatsApp message campaigns through the Connectly API,
//! declared in plain files.
//!
//! Data flows one way: `commands` (the only layer that reads the
//! environment, the clock and the command line) loads a `campaign` file,
//! `plan` turns each CSV row into one decision, `dispatch` sends what is
//! owed through `wire` (Connectly's bodies and client), and the outcome
//! events go to the `ledger` and to the `report` sinks.

mod campaign;
mod cli;
mod commands;
mod dispatch;
mod error;
mod inbound;
mod json;
mod ledger;
mod outcome;
mod phone;
mod plan;
mod report;
mod wire;

/// What the benchmarks drive directly, below the command line.
#[doc(hidden)]
pub mod bench {
    pub use crate::inbound::{MAX_BODY, sign};
    pub use crate::json::Json;
    pub use crate::ledger::{Guard, Ledger, Write};
    pub use crate::outcome::{Outcome, Route, Status};
    pub use crate::wire::client::{Client, Endpoint};
}

/// The program: parse the command line, run the command, print its error
/// once, and exit with the code SPEC §5 gives it.
pub fn main() -> std::process::ExitCode {
    commands::main()
}
