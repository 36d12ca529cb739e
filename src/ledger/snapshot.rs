//! What planning reads from the ledger, once per run.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::Ledger;
use crate::error::Result;
use crate::outcome::key_hash;

/// What the ledger says about a key, for planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Sent,
    Failed,
    Unknown,
}

/// A read-only view taken when a run starts: key states by hash, inbound
/// times and opt-outs. A dry run with no ledger file uses an empty one.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: HashMap<u128, KeyState>,
    inbound: HashMap<String, Timestamp>,
    opted_out: HashSet<String>,
}

impl Snapshot {
    pub fn key_state(&self, hash: u128) -> Option<KeyState> {
        self.keys.get(&hash).copied()
    }
    pub fn last_inbound(&self, phone: &str) -> Option<Timestamp> {
        self.inbound.get(phone).copied()
    }
    pub fn opted_out(&self, phone: &str) -> bool {
        self.opted_out.contains(phone)
    }
}

impl Ledger {
    /// Everything planning needs to know, read once.
    pub fn snapshot(&self, campaign: &str) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let mut q = self
            .conn
            .prepare("SELECT key, status FROM deliveries WHERE campaign = ?1 AND status IN ('sent','failed','unknown','in_flight')")
            .map_err(self.err())?;
        let mut rows = q.query([campaign]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let key: String = r.get(0).map_err(self.err())?;
            let status: String = r.get(1).map_err(self.err())?;
            let state = match status.as_str() {
                "sent" => KeyState::Sent,
                "failed" => KeyState::Failed,
                _ => KeyState::Unknown,
            };
            s.keys.insert(key_hash(&key), state);
        }
        let mut q = self.conn.prepare("SELECT phone, last_at FROM inbound").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let at: i64 = r.get(1).map_err(self.err())?;
            if let Ok(t) = Timestamp::from_second(at) {
                s.inbound.insert(phone, t);
            }
        }
        let mut q = self.conn.prepare("SELECT phone FROM opt_outs").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            s.opted_out.insert(r.get(0).map_err(self.err())?);
        }
        Ok(s)
    }
}
