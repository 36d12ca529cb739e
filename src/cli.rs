//! Command-line types only; turned into plain option structs at once.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "campaign",
    version,
    about = "Run WhatsApp message campaigns through the Connectly API, declared in plain files",
    after_help = "Exit codes: 0 done · 1 some recipients failed · 2 invalid input, nothing sent · 3 aborted, a re-run resumes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Preview (--dry-run) or send a campaign; run again to send only what is still owed.
    Run(RunArgs),
    /// Every check a real run makes before sending (files, every row, templates), offline, no key; exit 0 or 2.
    Check(CheckArgs),
    /// What the ledger knows about a campaign: counts, runs, failures, deliveries.
    Status(StatusArgs),
    /// Create a new campaign folder (YAML, sample CSV, message template, README) that dry-runs as it is.
    Init {
        /// The folder to create; it must not exist or be empty.
        dir: PathBuf,
    },
    /// Print the JSON Schema of the campaign file (for editors: see the README).
    Schema,
    /// Print a shell completion script, e.g. `campaign completions bash > ~/.local/share/bash-completion/completions/campaign`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The business's WhatsApp templates, as Connectly lists them.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Receive Connectly webhooks (inbound messages, delivery statuses).
    #[command(subcommand)]
    Inbound(InboundCommand),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The campaign file (YAML).
    pub file: PathBuf,
    /// Show what would be sent to whom; send nothing, write nothing, need no API key.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: decide windows and schedules as of this RFC 3339 instant.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Stop after N recipients have been planned or sent.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Output: a readable preview/summary, one JSON object per row, or an HTML page (dry run).
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub format: RunFormat,
    /// Ledger file (default: `state:` in the campaign, else .campaign/state.db beside it).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Record invalid rows as skipped/invalid and send the rest.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Send again to recipients whose send failed permanently in an earlier run.
    #[arg(long)]
    pub retry_failed: bool,
    /// Send again to recipients whose outcome is unknown (a crash mid-request). May double-send.
    #[arg(long)]
    pub retry_unknown: bool,
    /// Send even what another campaign of the ledger sent the same customer within 30 days.
    #[arg(long)]
    pub allow_repeat: bool,
    /// Print only the summary line and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The campaign file (YAML).
    pub file: PathBuf,
    /// Ledger to read, as a run would (default: as for `run`); it is never written.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Check as of this RFC 3339 instant instead of now (windows, schedules, dates in the CSV).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFormat {
    /// A readable preview or summary.
    Text,
    /// One JSON object per CSV row on stdout; the summary on stderr.
    Jsonl,
    /// One self-contained page for a person to look at (dry run).
    Html,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The campaign file (YAML).
    pub file: PathBuf,
    /// Output: a readable report, one JSON document, or a CSV of the failed and unknown recipients.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    /// Ledger file (default: as for `run`).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    /// A readable report.
    Text,
    /// One JSON document: counts, routes, deliveries, runs, failures.
    Json,
    /// One line per failed or unknown recipient, ready to fix and retry.
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum InboundCommand {
    /// Serve the webhook endpoint (needs CONNECTLY_WEBHOOK_SECRET).
    Serve {
        /// Address to listen on, host:port, e.g. 127.0.0.1:8080 or localhost:8080.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Ledger file to record into: the one your campaigns use.
        #[arg(long, value_name = "PATH", default_value = ".campaign/state.db")]
        state: PathBuf,
        #[command(flatten)]
        words: ConsentWords,
    },
    /// Record webhook payloads from a file, one JSON object per line.
    Import {
        /// The payloads, one JSON object per line (as Connectly posts them).
        file: PathBuf,
        /// Ledger file to record into: the one your campaigns use.
        #[arg(long, value_name = "PATH", default_value = ".campaign/state.db")]
        state: PathBuf,
        #[command(flatten)]
        words: ConsentWords,
    },
}

/// The words that opt a customer out of, or back into, every campaign.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsentWords {
    /// A message whose whole text is one of these opts the customer out (comma-separated, any case).
    #[arg(long, value_name = "WORDS", default_value = "STOP,UNSUBSCRIBE")]
    pub opt_out: String,
    /// A message whose whole text is one of these opts the customer back in.
    #[arg(long, value_name = "WORDS", default_value = "START")]
    pub opt_in: String,
}

#[derive(Subcommand, Debug)]
pub enum TemplatesCommand {
    /// Fetch the business's template catalogue into templates.json beside the ledger,
    /// so that dry runs and checks can check the template offline (needs CONNECTLY_API_KEY).
    Pull {
        /// The campaign file (YAML): its business_id and ledger place.
        file: PathBuf,
        /// Ledger file (default: as for `run`); the catalogue is saved beside it.
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand has an about, every argument and flag a help text.
    fn documented(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if cmd.get_about().is_none() {
            missing.push(format!("`{path}` has no about"));
        }
        for arg in cmd.get_arguments() {
            if arg.get_help().is_none() && !matches!(arg.get_id().as_str(), "help" | "version") {
                missing.push(format!("`{path}` argument `{}` has no help", arg.get_id()));
            }
            let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            for v in arg.get_possible_values() {
                if v.get_help().is_none() && !flag && arg.get_id() != "shell" {
                    missing.push(format!("`{path} --{}` value `{}` has no help", arg.get_id(), v.get_name()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            documented(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_subcommand_and_flag_has_help() {
        let mut missing = Vec::new();
        documented(&super::Cli::command(), "campaign", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
