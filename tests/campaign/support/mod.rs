//! Test helpers: a scratch folder with campaign files, and the real
//! `campaign` binary run inside it.

#![allow(dead_code)]

pub mod campaign_file;
pub mod proxy;
pub mod standin;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub use campaign_file::CampaignFile;
pub use standin::{Fault, Form, StandIn, Tpl};

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        Run::from(o)
    }

    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The JSONL objects on stdout.
    pub fn rows(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect()
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }
}

pub const BIN: &str = env!("CARGO_BIN_EXE_campaign");

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A command for the binary, in this folder, with no Connectly settings.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("CONNECTLY_API_KEY")
            .env_remove("CONNECTLY_BASE_URL")
            .env_remove("CONNECTLY_WEBHOOK_SECRET")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    /// A real run against the stand-in.
    pub fn send(&self, standin: &StandIn, args: &[&str]) -> Run {
        Run::from(self.sending(standin, args).output().unwrap())
    }

    pub fn sending(&self, standin: &StandIn, args: &[&str]) -> Command {
        let mut c = self.cmd(args);
        c.env("CONNECTLY_API_KEY", standin::KEY).env("CONNECTLY_BASE_URL", standin.url());
        c
    }

    pub fn spawn(&self, mut c: Command) -> Child {
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.path(rel)).exists()
    }
}

pub fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

/// A recipients CSV (`phone,name,last`) of `n` numbers, nobody with a known inbound.
pub fn people(n: usize) -> String {
    std::iter::once("phone,name,last\n".to_string()).chain((0..n).map(|i| format!("+1604555{i:04},P{i},\n"))).collect()
}

/// A campaign file: `name`, then whatever else the test needs.
pub fn yaml(rest: &str) -> String {
    format!("name: test-campaign\nbusiness_id: {}\n{rest}", standin::BUSINESS)
}
