//! Webhook payloads (SPEC §7): inbound messages tell the 24-hour rule who
//! wrote last; delivery statuses tell `status` how far each message got.
//! Parsing, signature checks and recording; the server and the importer
//! are commands (`commands/inbound.rs`).

use base64::Engine;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::Value;
use sha2::Sha256;

use crate::error::Result;
use crate::ledger::{Ledger, StatusUpdate};

/// Webhook bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 256 * 1024;

/// What a payload is.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Inbound {
        phone: String,
        at: Timestamp,
    },
    Status(StatusUpdate),
    /// A well-formed payload of another kind (another topic): acknowledged, not recorded.
    Other,
}

/// Read one webhook payload.
pub fn parse(v: &Value) -> Result<Event, String> {
    if let Some(su) = v.get("statusUpdate") {
        let id = su.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or("statusUpdate.id is missing")?;
        let status = su.get("status").and_then(Value::as_str).ok_or("statusUpdate.status is missing")?;
        if crate::ledger::status_rank(status) == 0 {
            return Err(format!("unknown delivery status `{status}`"));
        }
        let err = su.get("error").filter(|e| !e.is_null());
        let text = |e: Option<&Value>, k: &str| e.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
        let campaign = [v.get("metadata"), su.get("metadata")]
            .into_iter()
            .flatten()
            .find_map(|m| text(Some(m), "campaign_name").or_else(|| text(Some(m), "campaignName")));
        return Ok(Event::Status(StatusUpdate {
            message_id: id.to_string(),
            status: status.to_string(),
            error_code: text(err, "code"),
            error_message: text(err, "message"),
            campaign,
        }));
    }
    if v.get("message").is_some() {
        let sender = v.pointer("/sender/id").and_then(Value::as_str).ok_or("sender.id is missing")?;
        let at = match v.get("timestamp") {
            Some(Value::String(s)) => {
                s.trim().parse::<i64>().map_err(|_| format!("timestamp `{s}` is not Unix seconds"))?
            }
            Some(Value::Number(n)) => n.as_i64().ok_or("timestamp is not whole seconds")?,
            _ => return Err("timestamp is missing".into()),
        };
        let at = Timestamp::from_second(at).map_err(|e| format!("timestamp out of range: {e}"))?;
        // Customers are keyed like recipients: E.164. Other ids (BSUIDs) are kept as given.
        let phone = crate::plan::phone::normalize(sender, None).unwrap_or_else(|_| sender.to_string());
        return Ok(Event::Inbound { phone, at });
    }
    // Another topic is acknowledged; an object of no known shape is a
    // misconfiguration the sender should see (400), not a silent replay.
    if v.get("topic").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
        return Ok(Event::Other);
    }
    if v.is_object() {
        return Err("no known payload shape (no statusUpdate, message or topic)".into());
    }
    Err("not a JSON object".into())
}

/// Record one event; `true` when the ledger changed (not a replay or an older state).
pub fn record(ledger: &Ledger, e: &Event) -> Result<bool> {
    match e {
        Event::Inbound { phone, at } => ledger.record_inbound(phone, *at),
        Event::Status(s) => ledger.record_status(s, Timestamp::now()),
        Event::Other => Ok(false),
    }
}

/// `x-connectly-hmac-sha256`: Base64 of HMAC-SHA256(raw body, secret), compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(sig) = signature else { return false };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures() {
        let body = br#"{"timestamp":"1639083206"}"#;
        let sig = sign(b"s3cret", body);
        assert!(verify(b"s3cret", body, Some(&sig)));
        assert!(!verify(b"other", body, Some(&sig)));
        assert!(!verify(b"s3cret", b"{}", Some(&sig)));
        assert!(!verify(b"s3cret", body, None));
        assert!(!verify(b"s3cret", body, Some("not base64!")));
    }

    #[test]
    fn payloads() {
        let inbound = json!({"timestamp": "1639083206", "sender": {"id": "+16311111111", "channelType": "whatsapp"}, "recipient": {"id": "+14151111234"}, "message": {"text": "Hello!"}});
        assert_eq!(
            parse(&inbound),
            Ok(Event::Inbound { phone: "+16311111111".into(), at: Timestamp::from_second(1639083206).unwrap() })
        );
        let status = json!({"topic": "delivery_status", "timestamp": "1641513098",
            "statusUpdate": {"id": "01FRRWW2", "status": "delivery_failed", "error": {"code": "131026", "message": "undeliverable"}},
            "metadata": {"campaign_name": "spring-sale"}});
        match parse(&status) {
            Ok(Event::Status(s)) => {
                assert_eq!((s.message_id.as_str(), s.status.as_str()), ("01FRRWW2", "delivery_failed"));
                assert_eq!(s.error_code.as_deref(), Some("131026"));
                assert_eq!(s.campaign.as_deref(), Some("spring-sale"));
            }
            other => panic!("{other:?}"),
        }
        let nested =
            json!({"statusUpdate": {"id": "x", "status": "read", "error": null, "metadata": {"campaignName": "c"}}});
        assert!(matches!(parse(&nested), Ok(Event::Status(s)) if s.campaign.as_deref() == Some("c")));
        assert!(parse(&json!({"statusUpdate": {"id": "x", "status": "exploded"}})).is_err());
        assert!(parse(&json!({"message": {}, "sender": {"id": "+1"}, "timestamp": "soon"})).is_err());
        assert_eq!(parse(&json!({"topic": "report"})), Ok(Event::Other));
        assert!(parse(&json!({})).is_err());
        assert!(parse(&json!({"hello": "world"})).is_err());
    }
}
