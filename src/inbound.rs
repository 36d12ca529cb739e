//! Webhooks (SPEC §7): inbound messages tell the 24-hour rule who wrote
//! last; delivery statuses tell `status` how far each message got.
//! `serve` receives them over HTTP, verifying Connectly's signature;
//! `import` reads the same payloads from a file.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Error, ExitCode, Result};
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
        let phone = crate::phone::normalize(sender, None).unwrap_or_else(|_| sender.to_string());
        return Ok(Event::Inbound { phone, at });
    }
    if v.is_object() {
        return Ok(Event::Other);
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

fn secret() -> Result<Vec<u8>> {
    std::env::var("CONNECTLY_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes).ok_or_else(|| {
        Error::Usage(
            "CONNECTLY_WEBHOOK_SECRET is not set; webhooks cannot be verified without it\n  hint: export CONNECTLY_WEBHOOK_SECRET=<the secret shown when the webhook was registered with Connectly>".into(),
        )
    })
}

struct Shared {
    secret: Vec<u8>,
    ledger: Mutex<Ledger>,
}

fn log(topic: &str, outcome: &str) {
    eprintln!("{} {topic} {outcome}", Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"));
}

async fn receive(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let sig = headers.get("x-connectly-hmac-sha256").and_then(|v| v.to_str().ok());
    if !verify(&sh.secret, &body, sig) {
        log("-", "rejected: bad or missing signature (401)");
        return (StatusCode::UNAUTHORIZED, "bad signature\n");
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            log("-", &format!("rejected: malformed JSON: {e} (400)"));
            return (StatusCode::BAD_REQUEST, "malformed JSON\n");
        }
    };
    let event = match parse(&value) {
        Ok(e) => e,
        Err(e) => {
            log("-", &format!("rejected: {e} (400)"));
            return (StatusCode::BAD_REQUEST, "unrecognised payload\n");
        }
    };
    let topic = match &event {
        Event::Inbound { .. } => "messages",
        Event::Status(_) => "delivery_status",
        Event::Other => "other",
    };
    let sh2 = sh.clone();
    let e2 = event.clone();
    let result = tokio::task::spawn_blocking(move || {
        let ledger = sh2.ledger.lock().map_err(|_| "ledger lock poisoned".to_string())?;
        record(&ledger, &e2).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(changed)) => {
            log(topic, if changed { "recorded" } else { "unchanged (replay or older state)" });
            (StatusCode::OK, "ok\n")
        }
        Ok(Err(e)) => {
            // 503 makes Connectly retry later.
            log(topic, &format!("not recorded: {e} (503)"));
            (StatusCode::SERVICE_UNAVAILABLE, "ledger busy, retry\n")
        }
        Err(e) => {
            log(topic, &format!("not recorded: {e} (503)"));
            (StatusCode::SERVICE_UNAVAILABLE, "ledger busy, retry\n")
        }
    }
}

pub fn serve(listen: &str, state: &Path) -> Result<ExitCode> {
    let secret = secret()?;
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Error::Usage(format!("--listen `{listen}` is not an address\n  hint: write host:port, e.g. 127.0.0.1:8080"))
    })?;
    let ledger = Ledger::open(state)?;
    let shared = Arc::new(Shared { secret, ledger: Mutex::new(ledger) });
    let app = Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Aborted(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::Usage(format!("cannot listen on {addr}: {e}\n  hint: pick a free port, or stop what holds this one"))
        })?;
        let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| addr.to_string());
        eprintln!("listening on http://{bound} (ledger {})", state.display());
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| Error::Aborted(format!("the webhook server stopped: {e}")))
    })?;
    eprintln!("stopped");
    Ok(ExitCode::Done)
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            eprintln!("signal: finishing requests in flight");
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Record payloads from a file, one JSON object per line.
pub fn import(file: &Path, state: &Path) -> Result<ExitCode> {
    let f = std::fs::File::open(file).map_err(|e| {
        Error::input(
            file,
            Default::default(),
            format!("cannot read: {e}"),
            "give a file of webhook payloads, one JSON object per line",
        )
    })?;
    let ledger = Ledger::open(state)?;
    let (mut recorded, mut unchanged, mut ignored) = (0u64, 0u64, 0u64);
    let mut rejected: Vec<(usize, String)> = Vec::new();
    ledger.begin()?;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let event =
            serde_json::from_str::<Value>(&line).map_err(|e| format!("malformed JSON: {e}")).and_then(|v| parse(&v));
        match event {
            Ok(Event::Other) => ignored += 1,
            Ok(e) => {
                if record(&ledger, &e)? {
                    recorded += 1
                } else {
                    unchanged += 1
                }
            }
            Err(e) => rejected.push((i + 1, e)),
        }
    }
    ledger.commit()?;
    eprintln!(
        "{}: {recorded} recorded, {unchanged} unchanged (replays or older states), {ignored} ignored (other topics), {} rejected",
        file.display(),
        rejected.len()
    );
    for (line, why) in rejected.iter().take(50) {
        eprintln!("  line {line}: {why}");
    }
    if rejected.len() > 50 {
        eprintln!("  … and {} more", rejected.len() - 50);
    }
    Ok(if rejected.is_empty() { ExitCode::Done } else { ExitCode::SomeFailed })
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
    }
}
