//! Webhook payloads (SPEC §7): inbound messages tell the 24-hour rule who
//! wrote last; delivery statuses tell `status` how far each message got.
//! Parsing, signature checks and recording; the server and the importer
//! are commands (`commands/inbound.rs`).

use base64::Engine;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::ledger::{Delivery, Ledger, StatusUpdate};

/// Webhook bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 256 * 1024;

/// What a payload is.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Inbound {
        phone: String,
        /// The business number that received it (`recipient.id`), when given.
        to: Option<String>,
        at: Timestamp,
        /// The message's text, or the text of the button replied with.
        text: Option<String>,
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
        let status = Delivery::parse(status).ok_or_else(|| format!("unknown delivery status `{status}`"))?;
        let err = su.get("error").filter(|e| !e.is_null());
        let text = |e: Option<&Value>, k: &str| e.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
        let recipient = v.pointer("/recipient/id").and_then(Value::as_str).map(customer);
        let campaign = [v.get("metadata"), su.get("metadata")]
            .into_iter()
            .flatten()
            .find_map(|m| text(Some(m), "campaign_name").or_else(|| text(Some(m), "campaignName")));
        return Ok(Event::Status(StatusUpdate {
            message_id: id.to_string(),
            status,
            error_code: err.and_then(meta_code).or_else(|| text(err, "code")),
            error_message: text(err, "message"),
            campaign,
            recipient,
            at: timestamp(v).ok(),
        }));
    }
    if v.get("message").is_some() {
        let sender = v.pointer("/sender/id").and_then(Value::as_str).ok_or("sender.id is missing")?;
        let at = timestamp(v)?;
        let to = v.pointer("/recipient/id").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        // Business numbers are compared as the campaign file writes them: E.164 with `+`.
        let to = to.map(|t| if t.bytes().all(|b| b.is_ascii_digit()) { format!("+{t}") } else { t.to_string() });
        return Ok(Event::Inbound { phone: customer(sender), to, at, text: message_text(v) });
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

/// Customers are keyed like recipients: E.164. An id of digits alone is
/// WhatsApp's (`wa_id`): the number without its `+`, as for business
/// numbers above. Other ids (BSUIDs) are kept as given.
fn customer(id: &str) -> String {
    let t = id.trim();
    let id = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) { format!("+{t}") } else { id.to_string() };
    crate::phone::normalize(&id, None).unwrap_or(id)
}

/// The payload's `timestamp`: Unix seconds, as a string or a number.
fn timestamp(v: &Value) -> Result<Timestamp, String> {
    let at = match v.get("timestamp") {
        Some(Value::String(s)) => {
            s.trim().parse::<i64>().map_err(|_| format!("timestamp `{s}` is not Unix seconds"))?
        }
        Some(Value::Number(n)) => n.as_i64().ok_or("timestamp is not whole seconds")?,
        _ => return Err("timestamp is missing".into()),
    };
    Timestamp::from_second(at).map_err(|e| format!("timestamp out of range: {e}"))
}

/// What the customer wrote: the text, or the title of the button they pressed.
fn message_text(v: &Value) -> Option<String> {
    let m = v.get("message")?;
    [
        "/text",
        "/text/body",
        "/button/text",
        "/buttonResponse/text",
        "/replyButtonResponse/title",
        "/interactive/button_reply/title",
    ]
    .iter()
    .find_map(|p| m.pointer(p).and_then(Value::as_str))
    .map(str::to_string)
}

/// Meta's numeric code in a delivery error: `code` when it is one, else a
/// six-digit number in `details` or the message text ("(#131049) …").
fn meta_code(err: &Value) -> Option<String> {
    let digits = |s: &str| -> Option<String> {
        s.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6 && w.starts_with('1')).map(str::to_string)
    };
    match err.get("code") {
        Some(Value::Number(n)) => return Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => return Some(s.clone()),
        _ => {}
    }
    let details = err.get("details").map(|d| match d {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    details.as_deref().and_then(digits).or_else(|| err.get("message").and_then(Value::as_str).and_then(digits))
}

/// The opt-out and opt-in words (SPEC §7), case-folded.
#[derive(Debug, Clone)]
pub struct Words {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
}

impl Words {
    /// From the comma-separated `--opt-out` and `--opt-in` lists.
    pub fn new(opt_out: &str, opt_in: &str) -> Result<Words> {
        let list = |s: &str| -> Vec<String> {
            s.split(',').map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect()
        };
        let words = Words { opt_out: list(opt_out), opt_in: list(opt_in) };
        if let Some(w) = words.opt_out.iter().find(|w| words.opt_in.contains(w)) {
            return Err(Error::Usage(format!(
                "`{w}` is both an --opt-out and an --opt-in word
  hint: give each word to one of the two lists"
            )));
        }
        Ok(words)
    }

    /// `Some(true)`: the whole text opts out; `Some(false)`: opts back in.
    pub fn consent(&self, text: &str) -> Option<bool> {
        let t = text.trim().to_lowercase();
        if self.opt_out.contains(&t) {
            Some(true)
        } else if self.opt_in.contains(&t) {
            Some(false)
        } else {
            None
        }
    }
}

impl Default for Words {
    fn default() -> Words {
        Words { opt_out: vec!["stop".into(), "unsubscribe".into()], opt_in: vec!["start".into()] }
    }
}

/// Record one event; `true` when the ledger changed (not a replay or an older state).
pub fn record(ledger: &Ledger, e: &Event, words: &Words) -> Result<bool> {
    match e {
        Event::Inbound { phone, to, at, text } => {
            let moved = ledger.record_inbound(phone, to.as_deref(), *at)?;
            let consent = match text.as_deref().and_then(|t| words.consent(t).map(|out| (t, out))) {
                Some((t, out)) => ledger.record_consent(phone, *at, out, &format!("wrote {}", t.trim()))?,
                None => false,
            };
            Ok(moved || consent)
        }
        Event::Status(s) => {
            let now = Timestamp::now();
            let moved = ledger.record_status(s, now)?;
            let refused = s.status == Delivery::Failed && ledger.record_refusal(s, s.at.unwrap_or(now))?;
            Ok(moved || refused)
        }
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
            Ok(Event::Inbound {
                phone: "+16311111111".into(),
                to: Some("+14151111234".into()),
                at: Timestamp::from_second(1639083206).unwrap(),
                text: Some("Hello!".into())
            })
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

    #[test]
    fn meta_codes_are_found_where_they_hide() {
        assert_eq!(meta_code(&json!({"code": "131049"})).as_deref(), Some("131049"));
        assert_eq!(meta_code(&json!({"code": 131050})).as_deref(), Some("131050"));
        let details = json!({"code": "ERROR_CODE_UNKNOWN", "details": {"metaCode": 131049}});
        assert_eq!(meta_code(&details).as_deref(), Some("131049"));
        let text = json!({"code": "X", "message": "(#131049) This message was not delivered"});
        assert_eq!(meta_code(&text).as_deref(), Some("131049"));
        assert_eq!(meta_code(&json!({"code": "X", "message": "no number"})), None);
    }

    #[test]
    fn only_the_whole_text_is_a_word() {
        let w = Words::default();
        assert_eq!(w.consent(" Stop\n"), Some(true));
        assert_eq!(w.consent("UNSUBSCRIBE"), Some(true));
        assert_eq!(w.consent("start"), Some(false));
        assert_eq!(w.consent("please stop the spam"), None);
        assert_eq!(w.consent("don't stop"), None);
        let custom = Words::new("BAJA, Alto", "ALTA").unwrap();
        assert_eq!(custom.consent("alto"), Some(true));
        assert_eq!(custom.consent("stop"), None);
        assert!(Words::new("STOP", "stop").is_err());
    }
}
