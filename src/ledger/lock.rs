//! One run per campaign at a time. The lock belongs to the ledger file
//! itself: a write lock on one byte of it, chosen by the campaign's name,
//! far beyond the bytes SQLite locks. Every path that reaches the same file
//! (a symlink, a hard link, `./` or not) meets the same lock, there is no
//! side file to delete, and the operating system releases it when the
//! holder dies, however it dies. Campaigns sharing a ledger lock different
//! bytes, so they run side by side.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Held for the life of a run.
pub struct RunLock {
    _held: File,
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

/// The byte of the ledger file that stands for `campaign`'s run: past
/// 1 TiB, where SQLite (whose locks sit at 1 GiB) never looks.
fn byte(campaign: &str) -> i64 {
    (1 << 40) + (xxhash_rust::xxh3::xxh3_64(campaign.as_bytes()) & 0xffff_ffff) as i64
}

/// Take the campaign's lock on the ledger at `state` (which exists: the
/// ledger is opened first). `holder` says who has it when it is taken.
pub fn acquire(state: &Path, campaign: &str, holder: impl FnOnce() -> String) -> Result<RunLock> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(state)
        .map_err(|e| Error::ledger(state, format!("cannot open it to take the run lock: {e}")))?;
    match sys::try_lock(file, byte(campaign)) {
        Ok(Some(held)) => Ok(RunLock { _held: held }),
        Ok(None) => Err(Error::Locked { campaign: campaign.to_string(), holder: holder() }),
        Err(e) => Err(Error::ledger(state, format!("cannot take the run lock: {e}"))),
    }
}

/// Whether a process holds `campaign`'s lock on the ledger at `state` now.
/// Only looks: a run starting at this moment is never refused because of it.
pub fn is_held(state: &Path, campaign: &str) -> bool {
    File::open(state).ok().is_some_and(|f| sys::is_locked(&f, byte(campaign)).unwrap_or(false))
}

#[cfg(target_os = "linux")]
mod sys {
    //! Open-file-description locks: owned by the open file, not the process,
    //! so SQLite closing its own descriptors of the same file never drops
    //! them (as it would a classic POSIX lock).
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    fn request(file: &File, at: i64, cmd: libc::c_int) -> io::Result<libc::flock> {
        // SAFETY: `flock` is plain data; zeroed is a valid value, and the
        // fields the kernel reads are set below.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = at as libc::off_t;
        fl.l_len = 1;
        // SAFETY: a valid descriptor and a pointer to a live `flock`.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
        if rc == -1 { Err(io::Error::last_os_error()) } else { Ok(fl) }
    }

    /// The file that holds the lock, or `None` when another holds it.
    pub fn try_lock(file: File, at: i64) -> io::Result<Option<File>> {
        match request(&file, at, libc::F_OFD_SETLK) {
            Ok(_) => Ok(Some(file)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn is_locked(file: &File, at: i64) -> io::Result<bool> {
        // A test for a write lock on a descriptor opened read-only.
        request(file, at, libc::F_OFD_GETLK).map(|fl| fl.l_type != libc::F_UNLCK as libc::c_short)
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! Elsewhere: a whole-file lock on a companion file named after the
    //! ledger's device and inode, so every path to the ledger meets it.
    use std::fs::{File, TryLockError};
    use std::io;

    fn companion(file: &File, at: i64) -> io::Result<File> {
        let dir = std::env::temp_dir().join("campaign-locks");
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        let id = {
            use std::os::unix::fs::MetadataExt;
            let m = file.metadata()?;
            format!("{}-{}", m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let id = format!("{:?}", file.metadata()?.created()?);
        File::options().read(true).write(true).create(true).truncate(false).open(dir.join(format!("{id}-{at}")))
    }

    /// The file that holds the lock, or `None` when another holds it.
    pub fn try_lock(file: File, at: i64) -> io::Result<Option<File>> {
        let f = companion(&file, at)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    pub fn is_locked(file: &File, at: i64) -> io::Result<bool> {
        let f = companion(file, at)?;
        match f.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}
