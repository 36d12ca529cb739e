//! Where Connectly is and the key to it: read from the environment, and
//! checked before anything is recorded or sent.

use crate::error::{Error, Result};
use crate::wire::client::{self as connectly, Endpoint};

/// `CONNECTLY_API_KEY` and `CONNECTLY_BASE_URL`, checked before anything
/// is recorded or sent.
pub fn endpoint_from_env(purpose: &str) -> Result<Endpoint> {
    let key = std::env::var("CONNECTLY_API_KEY").ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
        Error::Usage(format!(
            "CONNECTLY_API_KEY is not set; {purpose} needs it (a --dry-run does not). Nothing was sent.\n  hint: export CONNECTLY_API_KEY=<key from the Connectly dashboard>; it is read from the environment only"
        ))
    })?;
    let base = std::env::var("CONNECTLY_BASE_URL")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| connectly::DEFAULT_BASE_URL.to_string());
    Endpoint::new(&base, &key).map_err(|e| Error::Usage(format!("{e}\n  Nothing was sent or recorded.")))
}
