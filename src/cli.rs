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
    /// What the ledger knows about a campaign: counts, runs, failures, deliveries.
    Status(StatusArgs),
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFormat {
    Text,
    Jsonl,
    Html,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The campaign file (YAML).
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    /// Ledger file (default: as for `run`).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    Text,
    Json,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum InboundCommand {
    /// Serve the webhook endpoint (needs CONNECTLY_WEBHOOK_SECRET).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Ledger file (default .campaign/state.db).
        #[arg(long, value_name = "PATH", default_value = ".campaign/state.db")]
        state: PathBuf,
        #[command(flatten)]
        words: ConsentWords,
    },
    /// Record webhook payloads from a file, one JSON object per line.
    Import {
        file: PathBuf,
        /// Ledger file (default .campaign/state.db).
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
