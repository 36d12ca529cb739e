//! A real run's progress bar on stderr, when stderr is a terminal: one step
//! per recipient a request was made for.

use std::io::IsTerminal;

use super::{Sink, Tally};
use crate::outcome::{Outcome, Status};

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(owed: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(owed);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} · {elapsed} · eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Progress { bar }
    }
}

impl Sink for Progress {
    fn row(&mut self, o: &Outcome, _: Option<&[u8]>) -> std::io::Result<()> {
        if let Some(b) = &self.bar
            && matches!(o.status, Status::Sent | Status::Failed | Status::Unknown)
        {
            b.inc(1);
        }
        Ok(())
    }

    fn finish(&mut self, _: &Tally) -> std::io::Result<()> {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        Ok(())
    }
}
