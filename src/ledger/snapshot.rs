//! What planning reads from the ledger, once per run.

use std::collections::HashMap;

use jiff::Timestamp;

use super::states::{REACHED, sql_list};
use super::{Ledger, MessageStatus};
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
    /// Inbound times per customer, by the business number written to
    /// (`""`: not known, which counts for every number).
    inbound: HashMap<String, Vec<(Box<str>, Timestamp)>>,
    opted_out: HashMap<String, (Timestamp, String)>,
    campaigns: Vec<String>,
    /// This run's campaign, an index into `campaigns` once it has sent.
    own: Option<u32>,
    sends: HashMap<String, Vec<PastSend>>,
    /// The number that last messaged each customer, from any campaign
    /// (read only for a pool of senders).
    last_sender: HashMap<String, Box<str>>,
}

impl Snapshot {
    pub fn key_state(&self, hash: u128) -> Option<KeyState> {
        self.keys.get(&hash).copied()
    }
    /// The customer's last message to any of the business's numbers.
    pub fn last_inbound(&self, phone: &str) -> Option<Timestamp> {
        self.inbound.get(phone)?.iter().map(|(_, t)| *t).max()
    }
    /// The customer's last message to `number` (or to a number not recorded).
    pub fn last_inbound_to(&self, phone: &str, number: &str) -> Option<Timestamp> {
        self.inbound.get(phone)?.iter().filter(|(n, _)| n.is_empty() || &**n == number).map(|(_, t)| *t).max()
    }
    /// Of `pool`, the number the customer wrote to last.
    pub fn last_written_to<'p>(&self, phone: &str, pool: &'p [String]) -> Option<&'p str> {
        let mine = self.inbound.get(phone)?;
        let pick = mine.iter().filter(|(n, _)| pool.iter().any(|p| **p == **n)).max_by_key(|(_, t)| *t)?;
        pool.iter().find(|p| ***p == *pick.0).map(String::as_str)
    }
    /// The number that last messaged the customer, in any campaign.
    pub fn last_sender(&self, phone: &str) -> Option<&str> {
        self.last_sender.get(phone).map(|s| &**s)
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
        self.load_keys(&mut s, campaign)?;
        self.load_sends(&mut s, campaign, since, own)?;
        // A ledger not yet migrated (read by a dry run) knows no numbers.
        let sql = if self.has_table("inbound_numbers")? {
            "SELECT phone, number, last_at FROM inbound_numbers"
        } else {
            "SELECT phone, '', last_at FROM inbound"
        };
        let mut q = self.conn.prepare(sql).map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let number: String = r.get(1).map_err(self.err())?;
            let at: i64 = r.get(2).map_err(self.err())?;
            if let Ok(t) = Timestamp::from_second(at) {
                s.inbound.entry(phone).or_default().push((number.into(), t));
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

    /// What the ledger says about each key of the campaign: answered, in
    /// doubt, or refused for WhatsApp's marketing limit until an instant.
    fn load_keys(&self, s: &mut Snapshot, campaign: &str) -> Result<()> {
        use MessageStatus::{Deferred, Failed, InFlight, Sent, Skipped, Unknown};
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT key, status, retry_at FROM deliveries WHERE campaign = ?1
                   AND (status IN {} OR (status = {} AND retry_at IS NOT NULL))",
                sql_list(&[Sent, Failed, Unknown, InFlight]),
                Deferred.sql()
            ))
            .map_err(self.err())?;
        let mut rows = q.query([campaign]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let key: String = r.get(0).map_err(self.err())?;
            let status: MessageStatus = r.get(1).map_err(self.err())?;
            let retry: Option<i64> = r.get(2).map_err(self.err())?;
            let state = match status {
                Sent => KeyState::Sent,
                Failed => KeyState::Failed,
                Deferred => KeyState::RefusedUntil(Timestamp::from_second(retry.unwrap_or(0)).unwrap_or_default()),
                Unknown | InFlight => KeyState::Unknown,
                // Not read: skipped keys are decided again each run.
                Skipped => continue,
            };
            s.keys.insert(key_hash(&key), state);
        }
        Ok(())
    }

    fn load_sends(&self, s: &mut Snapshot, campaign: &str, since: Timestamp, own: bool) -> Result<()> {
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT recipient, campaign, content, route, sent_at FROM deliveries WHERE sent_at >= ?1
                   AND recipient IS NOT NULL AND {}
                   AND (?3 OR campaign != ?2) ORDER BY sent_at",
                *REACHED
            ))
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

    /// With a pool of senders: who last messaged each customer, across
    /// campaigns, so a customer keeps hearing from the same number.
    pub fn read_last_senders(&self, s: &mut Snapshot) -> Result<()> {
        if !self.has_table("inbound_numbers")? {
            return Ok(());
        }
        // SQLite takes the bare column from the row holding the max().
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT recipient, sender, max(updated_at) FROM deliveries
                 WHERE sender IS NOT NULL AND recipient IS NOT NULL
                   AND {} GROUP BY recipient",
                *REACHED
            ))
            .map_err(self.err())?;
        let mut rows = q.query([]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let phone: String = r.get(0).map_err(self.err())?;
            let sender: String = r.get(1).map_err(self.err())?;
            s.last_sender.insert(phone, sender.into());
        }
        Ok(())
    }

    pub(super) fn has_table(&self, name: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(self.err())
    }
}
