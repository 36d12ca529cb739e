//! What planning reads from the ledger, once per run.

use std::collections::HashMap;

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
    /// WhatsApp refused it for its per-user marketing limit (131049): owed
    /// again from this instant.
    RefusedUntil(Timestamp),
}

/// A message another run sent (or may have sent) to a customer.
#[derive(Debug, Clone)]
pub struct PastSend {
    /// Index into the snapshot's campaign names.
    campaign: u32,
    pub content: Option<i64>,
    pub template: bool,
    pub at: Timestamp,
}

/// A read-only view taken when a run starts: key states by hash, inbound
/// times, opt-outs, and recent sends of every campaign (for the repeat guard
/// and the caps). A dry run with no ledger file uses an empty one.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: HashMap<u128, KeyState>,
    inbound: HashMap<String, Timestamp>,
    opted_out: HashMap<String, (Timestamp, String)>,
    campaigns: Vec<String>,
    /// This run's campaign, an index into `campaigns` once it has sent.
    own: Option<u32>,
    sends: HashMap<String, Vec<PastSend>>,
}

impl Snapshot {
    pub fn key_state(&self, hash: u128) -> Option<KeyState> {
        self.keys.get(&hash).copied()
    }
    pub fn last_inbound(&self, phone: &str) -> Option<Timestamp> {
        self.inbound.get(phone).copied()
    }
    /// When and why the customer opted out, if they did.
    pub fn opt_out(&self, phone: &str) -> Option<(Timestamp, &str)> {
        self.opted_out.get(phone).map(|(t, why)| (*t, why.as_str()))
    }
    /// Whether any campaign of the ledger messaged this customer lately.
    pub fn has_sends(&self, phone: &str) -> bool {
        self.sends.contains_key(phone)
    }
    /// The same content sent to this customer by another campaign since `since`.
    pub fn repeat_of(&self, phone: &str, content: i64, since: Timestamp) -> Option<(&str, Timestamp)> {
        let sends = self.sends.get(phone)?;
        sends
            .iter()
            .rev()
            .find(|p| Some(p.campaign) != self.own && p.content == Some(content) && p.at >= since)
            .map(|p| (self.campaigns[p.campaign as usize].as_str(), p.at))
    }
    /// Template messages this customer received from any campaign after `since`, oldest first.
    pub fn templates_since(&self, phone: &str, since: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        self.sends.get(phone).into_iter().flatten().filter(move |p| p.template && p.at > since).map(|p| p.at)
    }
}

impl Ledger {
    /// Everything planning needs to know, read once; sends of the other
    /// campaigns since `since` (the repeat guard's and the caps' reach), and
    /// of this one too with `own` (the caps count them).
    pub fn snapshot(&self, campaign: &str, since: Timestamp, own: bool) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let mut q = self
            .conn
            .prepare(
                "SELECT key, status, retry_at FROM deliveries WHERE campaign = ?1
                   AND (status IN ('sent','failed','unknown','in_flight') OR (status = 'deferred' AND retry_at IS NOT NULL))",
            )
            .map_err(self.err())?;
        let mut rows = q.query([campaign]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let key: String = r.get(0).map_err(self.err())?;
            let status: String = r.get(1).map_err(self.err())?;
            let retry: Option<i64> = r.get(2).map_err(self.err())?;
            let state = match status.as_str() {
                "sent" => KeyState::Sent,
                "failed" => KeyState::Failed,
                "deferred" => KeyState::RefusedUntil(Timestamp::from_second(retry.unwrap_or(0)).unwrap_or_default()),
                _ => KeyState::Unknown,
            };
            s.keys.insert(key_hash(&key), state);
        }
        self.load_sends(&mut s, campaign, since, own)?;
        let mut q = self.conn.prepare("SELECT phone, last_at FROM inbound").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let at: i64 = r.get(1).map_err(self.err())?;
            if let Ok(t) = Timestamp::from_second(at) {
                s.inbound.insert(phone, t);
            }
        }
        let mut q = self.conn.prepare("SELECT phone, at, source FROM opt_outs WHERE active = 1").map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let at = Timestamp::from_second(r.get(1).map_err(self.err())?).unwrap_or_default();
            let source: Option<String> = r.get(2).map_err(self.err())?;
            s.opted_out.insert(r.get(0).map_err(self.err())?, (at, source.unwrap_or_else(|| "opted out".into())));
        }
        Ok(s)
    }

    fn load_sends(&self, s: &mut Snapshot, campaign: &str, since: Timestamp, own: bool) -> Result<()> {
        let mut q = self
            .conn
            .prepare(
                "SELECT recipient, campaign, content, route, sent_at FROM deliveries WHERE sent_at >= ?1
                   AND recipient IS NOT NULL AND status IN ('sent','in_flight','unknown')
                   AND (?3 OR campaign != ?2) ORDER BY sent_at",
            )
            .map_err(self.err())?;
        let mut rows = q.query(rusqlite::params![since.as_second(), campaign, own]).map_err(self.err())?;
        let mut names: HashMap<String, u32> = HashMap::new();
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let name: String = r.get(1).map_err(self.err())?;
            let next = names.len() as u32;
            let index = *names.entry(name).or_insert(next);
            let route: Option<String> = r.get(3).map_err(self.err())?;
            let send = PastSend {
                campaign: index,
                content: r.get(2).map_err(self.err())?,
                template: route.as_deref() == Some("template"),
                at: Timestamp::from_second(r.get(4).map_err(self.err())?).unwrap_or_default(),
            };
            s.sends.entry(phone).or_default().push(send);
        }
        s.own = names.get(campaign).copied();
        s.campaigns = vec![String::new(); names.len()];
        for (name, i) in names {
            s.campaigns[i as usize] = name;
        }
        Ok(())
    }
}
