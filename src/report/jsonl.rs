//! `--format jsonl`: one JSON object per CSV row on stdout, in row order
//! (SPEC §5), for the dry run and the real run alike.

use std::io::Write;

use super::{Sink, Tally};
use crate::outcome::Outcome;

pub struct Jsonl {
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    /// Flush after each line: a real run's lines are read as they happen.
    each_line: bool,
}

impl Jsonl {
    /// Lines in large writes, for a dry run.
    pub fn new(out: Box<dyn Write + Send>) -> Jsonl {
        Jsonl { out, buf: Vec::new(), each_line: false }
    }

    /// Each line as it happens, for a real run.
    pub fn live(out: Box<dyn Write + Send>) -> Jsonl {
        Jsonl { each_line: true, ..Jsonl::new(out) }
    }
}

impl Sink for Jsonl {
    fn row(&mut self, o: &Outcome, line: Option<&[u8]>) -> std::io::Result<()> {
        match line {
            // Serialized by the planning worker, off this thread.
            Some(l) => self.out.write_all(l)?,
            None => {
                self.buf.clear();
                o.write_jsonl(&mut self.buf);
                self.out.write_all(&self.buf)?;
            }
        }
        if self.each_line { self.out.flush() } else { Ok(()) }
    }

    fn finish(&mut self, _: &Tally) -> std::io::Result<()> {
        self.out.flush()
    }
}
