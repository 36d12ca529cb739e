//! What webhooks record: inbound times and delivery states.

use jiff::Timestamp;
use rusqlite::params;

use super::Ledger;
use crate::error::Result;

impl Ledger {
    /// Keep the latest inbound time per customer. Returns whether it moved.
    pub fn record_inbound(&self, phone: &str, at: Timestamp) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO inbound(phone, last_at) VALUES (?1, ?2)
                 ON CONFLICT(phone) DO UPDATE SET last_at = excluded.last_at WHERE excluded.last_at > inbound.last_at",
                params![phone, at.as_second()],
            )
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// Keep each message's furthest delivery state. Returns whether it moved.
    pub fn record_status(&self, s: &StatusUpdate, now: Timestamp) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO statuses(message_id, status, rank, error_code, error_message, campaign, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(message_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
                   error_code = coalesce(excluded.error_code, statuses.error_code),
                   error_message = coalesce(excluded.error_message, statuses.error_message),
                   campaign = coalesce(excluded.campaign, statuses.campaign), updated_at = excluded.updated_at
                 WHERE excluded.rank > statuses.rank",
            )
            .and_then(|mut q| {
                q.execute(params![
                    s.message_id,
                    s.status,
                    status_rank(&s.status),
                    s.error_code,
                    s.error_message,
                    s.campaign,
                    now.as_second()
                ])
            })
            .map_err(self.err())?;
        Ok(n > 0)
    }
}

/// Delivery states in the order a message moves through them.
pub fn status_rank(s: &str) -> i64 {
    match s {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        // A failure after delivery is not reported by WhatsApp; treat it as final.
        "delivery_failed" => 4,
        _ => 0,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub message_id: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub campaign: Option<String>,
}
