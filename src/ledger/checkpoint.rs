//! Checkpoints of the ledger's write-ahead log, taken by a thread of their
//! own during a run. A checkpoint copies the log into the database and
//! syncs both to disk; on a busy disk that takes tens of milliseconds, and
//! taken by the writer (SQLite's default) it would stand between the next
//! request and its `in_flight` commit. Here the writer only appends, and
//! the log is folded back about once a second beside it (a passive
//! checkpoint never waits for the writer, nor the writer for it).

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the log is folded back.
const EVERY: Duration = Duration::from_secs(1);

/// SQLite's own default, restored when the run's writer ends.
const AUTOCHECKPOINT_PAGES: i64 = 1000;

pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Start checkpointing `path` beside `writer`, which stops checkpointing
    /// itself. `None` (and the writer keeps SQLite's default) if the second
    /// connection or the thread cannot be had.
    pub fn start(path: &Path, writer: &Connection) -> Option<Checkpointer> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .ok()?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let handle = thread::Builder::new().name("checkpoint".into()).spawn(move || run(&conn, &flag)).ok()?;
        if writer.pragma_update(None, "wal_autocheckpoint", 0).is_err() {
            stop_thread(&stop);
            let _ = handle.join();
            return None;
        }
        Some(Checkpointer { stop, handle })
    }

    /// Stop, and give checkpointing back to the writer's connection.
    pub fn finish(self, writer: &Connection) {
        stop_thread(&self.stop);
        let _ = self.handle.join();
        let _ = writer.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES);
    }
}

fn stop_thread(stop: &(Mutex<bool>, Condvar)) {
    *stop.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
    stop.1.notify_one();
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let mut stopped = stop.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while !*stopped {
        stopped = stop.1.wait_timeout(stopped, EVERY).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        // Busy or failing: the next one tries again; the log only grows.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_size(db: &Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0)
    }

    fn write(conn: &Connection, n: usize) {
        for i in 0..n {
            conn.execute("INSERT INTO t(v) VALUES (?1)", [format!("{i:0>200}")]).unwrap();
        }
    }

    #[test]
    fn the_log_is_folded_back_beside_the_writer_and_does_not_grow() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let writer = Connection::open(&db).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.execute_batch("CREATE TABLE t(v TEXT)").unwrap();
        let checkpoints = Checkpointer::start(&db, &writer).expect("a checkpointer");
        write(&writer, 600);
        let first = wal_size(&db);
        // The writer no longer checkpoints itself: 600 commits pass SQLite's
        // 1000-page default only if nothing folds the log back.
        assert!(first > 0);
        std::thread::sleep(EVERY + Duration::from_millis(300));
        // Folded back: the next commits write the log from its start again.
        write(&writer, 600);
        let second = wal_size(&db);
        assert!(second <= first + first / 10, "the log grew from {first} to {second} bytes");
        checkpoints.finish(&writer);
        let pages: i64 = writer.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
        assert_eq!(pages, AUTOCHECKPOINT_PAGES);
    }
}
