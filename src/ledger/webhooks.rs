//! What webhooks record: inbound times, opt-outs and opt-ins, delivery
//! states, and what WhatsApp's refusal reasons change.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Delivery, Ledger, MessageStatus};
use crate::error::Result;

impl Ledger {
    /// Keep the latest inbound time per customer, and per customer and
    /// business number (`to`, when the payload names it). Returns whether
    /// either moved.
    pub fn record_inbound(&self, phone: &str, to: Option<&str>, at: Timestamp) -> Result<bool> {
        let any = self
            .conn
            .prepare_cached(
                "INSERT INTO inbound(phone, last_at) VALUES (?1, ?2)
                 ON CONFLICT(phone) DO UPDATE SET last_at = excluded.last_at WHERE excluded.last_at > inbound.last_at",
            )
            .and_then(|mut q| q.execute(params![phone, at.as_second()]))
            .map_err(self.err())?;
        let pair = self
            .conn
            .prepare_cached(
                "INSERT INTO inbound_numbers(phone, number, last_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(phone, number) DO UPDATE SET last_at = excluded.last_at
                 WHERE excluded.last_at > inbound_numbers.last_at",
            )
            .and_then(|mut q| q.execute(params![phone, to.unwrap_or(""), at.as_second()]))
            .map_err(self.err())?;
        Ok(any + pair > 0)
    }

    /// Opt a customer out of (`out`) or back into every campaign of the
    /// ledger; the latest word wins, whatever order they arrive in.
    /// `source` says why, for people ("wrote STOP"). Returns whether it moved.
    pub fn record_consent(&self, phone: &str, at: Timestamp, out: bool, source: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO opt_outs(phone, at, active, source) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(phone) DO UPDATE SET at = excluded.at, active = excluded.active, source = excluded.source
                 WHERE excluded.at > opt_outs.at OR (excluded.at = opt_outs.at AND excluded.active != opt_outs.active)",
            )
            .and_then(|mut q| q.execute(params![phone, at.as_second(), out, source]))
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// What a delivery failure with WhatsApp's code changes (SPEC §7):
    /// 131049 (per-user marketing limit) makes the key owed again after 24 h,
    /// then 48 h, then failed; 131050 opts the customer out. Returns whether
    /// the ledger changed.
    pub fn record_refusal(&self, s: &StatusUpdate, at: Timestamp) -> Result<bool> {
        match s.error_code.as_deref() {
            Some(MARKETING_LIMIT) => {
                let n = self
                    .conn
                    .execute(
                        "UPDATE deliveries SET refusals = refusals + 1,
                           status = CASE WHEN refusals + 1 >= ?3 THEN ?7 ELSE ?8 END,
                           reason = CASE WHEN refusals + 1 >= ?3 THEN NULL ELSE ?9 END,
                           retry_at = CASE WHEN refusals + 1 >= ?3 THEN NULL ELSE ?2 + 86400 * (refusals + 1) END,
                           error_code = ?4, error_message = ?5, updated_at = ?2
                         WHERE message_id = ?1 AND status = ?6",
                        params![
                            s.message_id,
                            at.as_second(),
                            MARKETING_LIMIT_TRIES,
                            MARKETING_LIMIT,
                            s.error_message.as_deref().unwrap_or(refusal_words(MARKETING_LIMIT).unwrap_or_default()),
                            MessageStatus::Sent,
                            MessageStatus::Failed,
                            MessageStatus::Deferred,
                            crate::outcome::Reason::FrequencyCap.as_str(),
                        ],
                    )
                    .map_err(self.err())?;
                Ok(n > 0)
            }
            Some(STOPPED_MARKETING) => {
                let phone: Option<String> = self
                    .conn
                    .query_row("SELECT recipient FROM deliveries WHERE message_id = ?1", [&s.message_id], |r| r.get(0))
                    .optional()
                    .map_err(self.err())?
                    .flatten()
                    .or_else(|| s.recipient.clone());
                match phone {
                    Some(p) => self.record_consent(&p, at, true, "WhatsApp 131050: stopped marketing messages"),
                    None => Ok(false),
                }
            }
            _ => Ok(false),
        }
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
                    s.status.rank(),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub message_id: String,
    pub status: Delivery,
    /// Meta's numeric code when the error shows one, else the error's own code.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub campaign: Option<String>,
    /// The customer (the payload's recipient), when given.
    pub recipient: Option<String>,
    /// When it happened (the payload's timestamp), when given.
    pub at: Option<Timestamp>,
}

/// Meta's per-user marketing limit: owed again later, at most this many refusals.
pub const MARKETING_LIMIT: &str = "131049";
const MARKETING_LIMIT_TRIES: i64 = 3;
/// The customer stopped marketing messages from the business.
pub const STOPPED_MARKETING: &str = "131050";

/// WhatsApp's delivery failure codes in words, for `status`.
pub fn refusal_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "131049" => "Meta's per-user marketing limit (owed again after 24 h, then 48 h)",
        "131050" => "the customer stopped marketing messages (opted out)",
        "131026" => "undeliverable (not on WhatsApp, or an old app)",
        "131047" => "more than 24 hours since the customer last wrote",
        "131048" => "spam rate limit (too many messages blocked or reported)",
        "131051" => "message type not supported",
        "131052" | "131053" => "media could not be downloaded or uploaded",
        "131056" => "too many messages to this customer in a short time",
        "130472" => "held back by a Meta experiment",
        "131000" => "something went wrong at WhatsApp",
        "131031" => "the business account is locked",
        "132000" | "132012" => "template parameters do not match the template",
        "132001" => "template does not exist in this language",
        "132015" | "132016" => "template paused or disabled for low quality",
        _ => return None,
    })
}
