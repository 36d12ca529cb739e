//! `campaign`: WhatsApp message campaigns through the Connectly API,
//! declared in plain files. `main` parses arguments and maps the one error
//! type to an exit code; the commands live in `run`, `status` and `inbound`.

pub mod campaign;
pub mod cli;
pub mod connectly;
pub mod error;
pub mod inbound;
pub mod ledger;
pub mod lock;
pub mod message;
pub mod outcome;
pub mod pacer;
pub mod phone;
pub mod pipeline;
pub mod plan;
pub mod planner;
pub mod recipients;
pub mod render;
pub mod report;
pub mod route;
pub mod run;
pub mod send;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::ExitCode;

/// The program: parse, run, print the error if any, exit with its code.
pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { ExitCode::Invalid as u8 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Status(args) => report::status::status(args),
        Command::Inbound(cmd) => inbound_main(cmd),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn inbound_main(cmd: cli::InboundCommand) -> error::Result<ExitCode> {
    match cmd {
        cli::InboundCommand::Serve { listen, state } => inbound::serve(&listen, &state),
        cli::InboundCommand::Import { file, state } => inbound::import(&file, &state),
    }
}
