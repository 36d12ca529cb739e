//! The commands: the only layer that reads the environment, the clock and
//! the command line, opens files and starts runtimes. Each turns its clap
//! arguments into a plain options struct at once.

mod check;
mod connectly;
mod dry_run;
mod inbound;
mod init;
mod owed;
mod prepare;
mod run;
mod schema;
mod send;
mod status;
mod templates;

use std::io::Write;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, InboundCommand, TemplatesCommand};
use crate::error::{Error, ExitCode, Result};

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
        Command::Check(args) => check::check(args),
        Command::Init { dir } => init::init(&dir),
        Command::Schema => schema::schema(),
        Command::Completions { shell } => completions(shell),
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

/// `campaign completions SHELL`: the completion script on stdout.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "campaign", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script).and_then(|()| out.flush()).map_err(Error::stdout)?;
    Ok(ExitCode::Done)
}
