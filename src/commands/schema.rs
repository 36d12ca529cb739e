//! `campaign schema`: the JSON Schema of the campaign file, for editors
//! and CI; generated from the types the file is read into.

use std::io::Write;

use crate::error::{Error, ExitCode, Result};

pub fn schema() -> Result<ExitCode> {
    let text = serde_json::to_string_pretty(&crate::campaign::schema()).map_err(|e| Error::Aborted(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(Error::stdout)?;
    Ok(ExitCode::Done)
}
