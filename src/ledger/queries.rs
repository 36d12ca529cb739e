//! What `campaign status` reads.

use std::collections::HashMap;

use jiff::Timestamp;

use super::states::sql_list;
use super::{Delivery, Ledger, MessageStatus, RunOutcome};
use crate::error::Result;

/// A run as listed by `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<RunOutcome>,
    pub files_changed: bool,
    pub counts: Option<serde_json::Value>,
    /// Why the run stopped early, as it told the user.
    pub reason: Option<String>,
}

/// A failed or unknown recipient as listed by `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailureRecord {
    pub row: Option<i64>,
    pub recipient: Option<String>,
    pub key: String,
    pub route: Option<String>,
    pub status: MessageStatus,
    pub error_http: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

fn ts(t: i64) -> String {
    Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default()
}

impl Ledger {
    pub fn runs(&self, campaign: &str) -> Result<Vec<RunRecord>> {
        let mut q = self
            .conn
            .prepare("SELECT id, started_at, ended_at, outcome, files_changed, counts, stop_reason FROM runs WHERE campaign = ?1 ORDER BY id")
            .map_err(self.err())?;
        let rows = q
            .query_map([campaign], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: ts(r.get(1)?),
                    ended_at: r.get::<_, Option<i64>>(2)?.map(ts),
                    outcome: r.get(3)?,
                    files_changed: r.get(4)?,
                    counts: r.get::<_, Option<String>>(5)?.and_then(|c| serde_json::from_str(&c).ok()),
                    reason: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Who is running `campaign` now, as its run recorded itself: the latest
    /// run not yet ended ("run 7, pid 4242 on host, started …"). Only
    /// meaningful while the campaign's run lock is held.
    pub fn holder(&self, campaign: &str) -> Option<String> {
        self.conn
            .query_row(
                "SELECT id, pid, host, started_at FROM runs WHERE campaign = ?1 AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
                [campaign],
                |r| {
                    let (id, pid, host, at): (i64, Option<i64>, Option<String>, i64) =
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                    Ok(format!(
                        "run {id}, pid {} on {}, started {}",
                        pid.unwrap_or_default(),
                        host.unwrap_or_default(),
                        ts(at)
                    ))
                },
            )
            .ok()
    }

    /// Keys recorded deferred, by key hash, with the reason recorded.
    pub fn deferred_keys(&self, campaign: &str) -> Result<HashMap<u128, String>> {
        let mut q = self
            .conn
            .prepare("SELECT key, coalesce(reason, 'run_stopped') FROM deliveries WHERE campaign = ?1 AND status = ?2")
            .map_err(self.err())?;
        let rows = q
            .query_map(rusqlite::params![campaign, MessageStatus::Deferred], |r| {
                Ok((crate::outcome::key_hash(&r.get::<_, String>(0)?), r.get(1)?))
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Counts by status and by route (of sent messages).
    pub fn counts(&self, campaign: &str) -> Result<(HashMap<MessageStatus, u64>, HashMap<String, u64>)> {
        let mut by_status = HashMap::new();
        let mut q = self
            .conn
            .prepare("SELECT status, count(*) FROM deliveries WHERE campaign = ?1 GROUP BY status")
            .map_err(self.err())?;
        for r in q.query_map([campaign], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?))).map_err(self.err())? {
            let (s, n) = r.map_err(self.err())?;
            by_status.insert(s, n as u64);
        }
        let mut by_route = HashMap::new();
        let mut q = self
            .conn
            .prepare("SELECT route, count(*) FROM deliveries WHERE campaign = ?1 AND status = ?2 GROUP BY route")
            .map_err(self.err())?;
        for r in q
            .query_map(rusqlite::params![campaign, MessageStatus::Sent], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(self.err())?
        {
            let (s, n) = r.map_err(self.err())?;
            by_route.insert(s.unwrap_or_default(), n as u64);
        }
        Ok((by_status, by_route))
    }

    /// Sent messages by the number they went from (none before senders were recorded).
    pub fn sender_counts(&self, campaign: &str) -> Result<Vec<(String, u64)>> {
        if !self.has_table("inbound_numbers")? {
            return Ok(Vec::new());
        }
        let mut q = self
            .conn
            .prepare(
                "SELECT sender, count(*) FROM deliveries WHERE campaign = ?1 AND status = ?2 AND sender IS NOT NULL
                 GROUP BY sender ORDER BY sender",
            )
            .map_err(self.err())?;
        let rows = q
            .query_map(rusqlite::params![campaign, MessageStatus::Sent], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Skipped and deferred keys by status and reason (none for a run that stopped).
    pub fn reasons(&self, campaign: &str) -> Result<Vec<(MessageStatus, Option<String>, u64)>> {
        let held = sql_list(&[MessageStatus::Skipped, MessageStatus::Deferred]);
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT status, reason, count(*) FROM deliveries WHERE campaign = ?1 AND status IN {held}
                 GROUP BY status, reason ORDER BY status, 3 DESC"
            ))
            .map_err(self.err())?;
        let rows =
            q.query_map([campaign], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))).map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    pub fn failures(&self, campaign: &str) -> Result<Vec<FailureRecord>> {
        use MessageStatus::{Failed, InFlight, Skipped, Unknown};
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT row, recipient, key, route, status, error_http, error_code, error_message FROM deliveries
                 WHERE campaign = ?1 AND (status IN {}
                   OR (status = {} AND error_code = 'ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT'))
                 ORDER BY row, key",
                sql_list(&[Failed, Unknown, InFlight]),
                Skipped.sql()
            ))
            .map_err(self.err())?;
        let rows = q
            .query_map([campaign], |r| {
                Ok(FailureRecord {
                    row: r.get(0)?,
                    recipient: r.get(1)?,
                    key: r.get(2)?,
                    route: r.get(3)?,
                    status: r.get(4)?,
                    error_http: r.get(5)?,
                    error_code: r.get(6)?,
                    error_message: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    /// Furthest delivery state of this campaign's messages, counted.
    pub fn delivery_counts(&self, campaign: &str) -> Result<HashMap<Delivery, u64>> {
        let mut out = HashMap::new();
        let mut q = self
            .conn
            .prepare(
                "SELECT s.status, count(*) FROM statuses s JOIN deliveries d ON d.message_id = s.message_id
                 WHERE d.campaign = ?1 GROUP BY s.status",
            )
            .map_err(self.err())?;
        for r in q.query_map([campaign], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?))).map_err(self.err())? {
            let (s, n) = r.map_err(self.err())?;
            out.insert(s, n as u64);
        }
        Ok(out)
    }

    /// Customers of this campaign's messages who opted out afterwards (and
    /// have not opted back in).
    pub fn opted_out_after(&self, campaign: &str) -> Result<u64> {
        use MessageStatus::{Deferred, Failed, Sent, Unknown};
        self.conn
            .query_row(
                &format!(
                    "SELECT count(DISTINCT o.phone) FROM opt_outs o JOIN deliveries d ON d.recipient = o.phone
                     WHERE d.campaign = ?1 AND d.sent_at IS NOT NULL AND o.active = 1 AND o.at >= d.sent_at
                       AND d.status IN {} AND d.message_id IS NOT NULL",
                    sql_list(&[Sent, Unknown, Deferred, Failed])
                ),
                [campaign],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Failed deliveries by error code, for the funnel.
    pub fn delivery_failures(&self, campaign: &str) -> Result<Vec<(String, u64)>> {
        let mut q = self
            .conn
            .prepare(
                "SELECT coalesce(s.error_code, 'unknown'), count(*) FROM statuses s JOIN deliveries d ON d.message_id = s.message_id
                 WHERE d.campaign = ?1 AND s.status = ?2 GROUP BY 1 ORDER BY 2 DESC",
            )
            .map_err(self.err())?;
        let rows = q
            .query_map(rusqlite::params![campaign, Delivery::Failed], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }
}
