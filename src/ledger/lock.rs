//! One run per campaign at a time: an OS file lock beside the ledger. The
//! operating system releases it when the holder dies, however it dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Held for the life of a run.
pub struct RunLock {
    _file: File,
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

pub fn lock_path(state: &Path, campaign: &str) -> PathBuf {
    let mut name = state.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{campaign}.lock"));
    state.with_file_name(name)
}

/// Take the campaign's lock, or say who holds it.
pub fn acquire(state: &Path, campaign: &str) -> Result<RunLock> {
    let path = lock_path(state, campaign);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::ledger(state, format!("cannot create its folder: {e}")))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::ledger(&path, format!("cannot open the run lock: {e}")))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::Locked {
                campaign: campaign.to_string(),
                holder: if holder.is_empty() { format!("lock {}", path.display()) } else { holder.to_string() },
            });
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::ledger(&path, format!("cannot lock: {e}")));
        }
    }
    let who = format!(
        "pid {} on {}, started {}",
        std::process::id(),
        hostname(),
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%SZ")
    );
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.write_all(who.as_bytes());
    let _ = file.flush();
    Ok(RunLock { _file: file })
}
