//! The commands: the only layer that reads the environment, the clock and
//! the command line, opens files and starts runtimes. Each turns its clap
//! arguments into a plain options struct at once.

mod dry_run;
mod inbound;
mod owed;
mod prepare;
mod run;
mod send;
mod status;
mod templates;

use clap::Parser;

use crate::cli::{Cli, Command, InboundCommand, TemplatesCommand};
use crate::error::ExitCode;

/// Parse, run, print the error if any, exit with its code.
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
        Command::Status(args) => status::status(args),
        Command::Templates(TemplatesCommand::Pull { file, state }) => templates::pull(&file, state.as_deref()),
        Command::Inbound(InboundCommand::Serve { listen, state, words }) => inbound::serve(&listen, &state, &words),
        Command::Inbound(InboundCommand::Import { file, state, words }) => inbound::import(&file, &state, &words),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(crate::error::Error::StdoutClosed) => std::process::ExitCode::from(ExitCode::Done as u8),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}
