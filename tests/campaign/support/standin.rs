//! A Connectly stand-in: a real HTTP server on 127.0.0.1 that enforces what
//! the API documents — the API key, both endpoints' body shapes, the 24-hour
//! window from a table it is given, a per-second rate limit answering 429 —
//! and lets a test inject faults per recipient, add latency, and read back
//! every request it received.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const KEY: &str = "test-key-123";
pub const BUSINESS: &str = "f1980bf7-c7d6-40ec-b665-dbe13620bffa";

/// Something to answer instead of the normal reply, once.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// HTTP status with a Connectly error `code`.
    Error(u16, &'static str),
    /// 429, with or without Retry-After seconds.
    TooMany(Option<u64>),
    /// Read the request, then close the connection without answering.
    Drop,
    /// A redirect (301, 302, 307, 308) to this URL.
    Redirect(u16, &'static str),
    /// 200 with no message id.
    OkWithoutId,
    /// This HTTP status with a body of this many bytes (an error page gone wrong).
    Huge(u16, usize),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub kind: &'static str,
    pub raw: String,
    pub body: Value,
    pub status: u16,
}

impl Received {
    pub fn recipient(&self) -> String {
        match self.kind {
            "session" => self.body["recipient"]["id"].as_str().unwrap_or("").to_string(),
            _ => self.body["number"].as_str().unwrap_or("").to_string(),
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Customer's last inbound time (Unix seconds), for the 24-hour rule.
    windows: HashMap<String, i64>,
    faults: HashMap<String, VecDeque<Fault>>,
    templates: Option<HashSet<String>>,
    received: Vec<Received>,
    next_id: u64,
    /// Requests per endpoint in the current one-second slot.
    slot: HashMap<&'static str, (u64, u32)>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    cfg: Arc<Config>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub latency: Duration,
    pub per_second: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { latency: Duration::ZERO, per_second: 200 }
    }
}

type Shared = (Arc<Mutex<Inner>>, Arc<Config>);

impl StandIn {
    pub fn start() -> StandIn {
        StandIn::with(Config::default())
    }

    pub fn with(cfg: Config) -> StandIn {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let cfg = Arc::new(cfg);
        let state: Shared = (inner.clone(), cfg.clone());
        let app = Router::new()
            .route("/v1/businesses/{business}/send/messages", post(session))
            .route("/v1/businesses/{business}/send/whatsapp_templated_messages", post(template))
            .with_state(state);
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        StandIn { addr, inner, cfg, _runtime: runtime }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The customer wrote at this Unix time (opens the window for 24 h).
    pub fn inbound(&self, phone: &str, unix: i64) {
        self.inner.lock().unwrap().windows.insert(phone.to_string(), unix);
    }

    /// The next answers for this recipient, in order.
    pub fn fault(&self, phone: &str, faults: &[Fault]) {
        self.inner.lock().unwrap().faults.entry(phone.to_string()).or_default().extend(faults.iter().cloned());
    }

    /// Only these template names exist (others: TEMPLATE_NOT_FOUND).
    pub fn templates(&self, names: &[&str]) {
        self.inner.lock().unwrap().templates = Some(names.iter().map(|s| s.to_string()).collect());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests accepted (2xx), per recipient.
    pub fn accepted(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.received().iter().filter(|r| r.status < 300) {
            *m.entry(r.recipient()).or_default() += 1;
        }
        m
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }
}

pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let kind = match status {
        401 | 403 => "ERROR_TYPE_AUTHENTICATION",
        429 => "ERROR_TYPE_RATE_LIMITED",
        500..=599 => "ERROR_TYPE_UNSPECIFIED",
        _ => "ERROR_TYPE_INVALID_REQUEST",
    };
    let body = json!({"message": message, "type": kind, "code": code, "userTitle": "", "userMessage": "", "cntTraceId": "1182497835", "details": {}});
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body.to_string()).into_response()
}

async fn session(State(s): State<Shared>, Path(b): Path<String>, h: HeaderMap, body: Bytes) -> Response {
    handle(s, "session", b, h, body).await
}

async fn template(State(s): State<Shared>, Path(b): Path<String>, h: HeaderMap, body: Bytes) -> Response {
    handle(s, "template", b, h, body).await
}

async fn handle(s: Shared, kind: &'static str, business: String, headers: HeaderMap, raw: Bytes) -> Response {
    let (inner, cfg) = s;
    let at = Instant::now();
    if !cfg.latency.is_zero() {
        tokio::time::sleep(cfg.latency).await;
    }
    let raw = String::from_utf8_lossy(&raw).to_string();
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let mut g = inner.lock().unwrap();
    let resp = answer(&mut g, &cfg, kind, &business, &headers, &body);
    let Some(resp) = resp else {
        // The request was read and may have been acted on; the connection
        // closes with no answer (recorded as status 0, counted as accepted).
        g.received.push(Received { at, kind, raw, body, status: 0 });
        drop(g);
        std::panic::resume_unwind(Box::new("connection dropped by the stand-in"));
    };
    let status = resp.status().as_u16();
    g.received.push(Received { at, kind, raw, body, status });
    resp
}

/// The answer to one request; `None` drops the connection instead.
fn answer(
    g: &mut Inner,
    cfg: &Config,
    kind: &'static str,
    business: &str,
    h: &HeaderMap,
    body: &Value,
) -> Option<Response> {
    let r = respond(g, cfg, kind, business, h, body);
    (!r.headers().contains_key(DROP)).then_some(r)
}

/// Marks a response that is never sent: the connection is dropped instead.
const DROP: &str = "x-stand-in-drop";

fn respond(g: &mut Inner, cfg: &Config, kind: &'static str, business: &str, h: &HeaderMap, body: &Value) -> Response {
    if h.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return error(401, "ERROR_CODE_UNSPECIFIED", "missing or invalid X-API-Key");
    }
    if !h.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json")) {
        return error(400, "ERROR_CODE_UNSPECIFIED", "Content-Type must be application/json");
    }
    if business != BUSINESS {
        return error(404, "ERROR_CODE_UNSPECIFIED", "unknown business");
    }
    let second = now_unix() as u64;
    let slot = g.slot.entry(kind).or_insert((second, 0));
    if slot.0 != second {
        *slot = (second, 0);
    }
    slot.1 += 1;
    if slot.1 > cfg.per_second {
        return error(429, "ERROR_CODE_UNSPECIFIED", "Too Many Requests");
    }
    let shape = if kind == "session" { check_session(body) } else { check_template(body) };
    if let Err(m) = shape {
        return error(400, "ERROR_CODE_UNSPECIFIED", &format!("bad request body: {m}"));
    }
    let to = if kind == "session" { body["recipient"]["id"].as_str() } else { body["number"].as_str() }
        .unwrap_or("")
        .to_string();
    if let Some(f) = g.faults.get_mut(&to).and_then(|q| q.pop_front()) {
        return match f {
            Fault::Error(status, code) => error(status, code, "injected"),
            Fault::Drop => (StatusCode::OK, [(DROP, "1")]).into_response(),
            Fault::Redirect(status, to) => {
                (StatusCode::from_u16(status).unwrap(), [("location", to)], "moved\n").into_response()
            }
            Fault::OkWithoutId => (StatusCode::OK, [("content-type", "application/json")], "{}").into_response(),
            Fault::Huge(status, bytes) => {
                let body = format!("{{\"error\": {{\"message\": \"{}\"}}}}", "x".repeat(bytes));
                (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body).into_response()
            }
            Fault::TooMany(after) => {
                let mut r = error(429, "ERROR_CODE_UNSPECIFIED", "Too Many Requests");
                if let Some(a) = after {
                    r.headers_mut().insert("retry-after", HeaderValue::from_str(&a.to_string()).unwrap());
                }
                r
            }
        };
    }
    if kind == "session" {
        match g.windows.get(&to) {
            None => {
                return error(
                    400,
                    "ERROR_CODE_MESSAGE_CUSTOMER_NO_CONVERSATION_INITIATION",
                    "the customer has not messaged this business",
                );
            }
            Some(last) if now_unix() - last >= 24 * 3600 => {
                return error(
                    400,
                    "ERROR_CODE_MESSAGE_OUTSIDE_OF_ELIGIBILITY_WINDOW",
                    "Failed to send a message because more than 24 hours have passed since the customer last replied",
                );
            }
            _ => {}
        }
    } else if let Some(known) = &g.templates
        && !known.contains(body["templateName"].as_str().unwrap_or(""))
    {
        return error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND", "no template for that name and language");
    }
    g.next_id += 1;
    let id = format!("01FRRVK645V35035{:010}", g.next_id);
    (StatusCode::OK, [("content-type", "application/json")], json!({"id": id}).to_string()).into_response()
}

fn e164(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix('+'))
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn keys_within(v: &Value, allowed: &[&str]) -> Result<(), String> {
    let obj = v.as_object().ok_or("expected an object")?;
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown field `{k}`"));
        }
    }
    Ok(())
}

fn check_party(v: &Value) -> Result<(), String> {
    keys_within(v, &["id", "channelType", "name"])?;
    if !e164(&v["id"]) || v["channelType"] != "whatsapp" {
        return Err(format!("bad party {v}"));
    }
    Ok(())
}

fn check_header(v: &Value) -> Result<(), String> {
    keys_within(v, &["text", "attachment"])?;
    if v.get("text").is_some() == v.get("attachment").is_some() {
        return Err("header needs text or attachment".into());
    }
    Ok(())
}

fn check_session(b: &Value) -> Result<(), String> {
    keys_within(b, &["sender", "recipient", "message"])?;
    if let Some(s) = b.get("sender") {
        check_party(s)?;
    }
    check_party(&b["recipient"])?;
    let m = &b["message"];
    keys_within(m, &["text", "attachments", "location", "listMessage", "replyButtonMessage", "id"])?;
    let kinds = ["attachments", "location", "listMessage", "replyButtonMessage"]
        .iter()
        .filter(|k| m.get(**k).is_some())
        .count();
    if kinds > 1 {
        return Err("more than one content kind".into());
    }
    if kinds == 0 && !m["text"].is_string() {
        return Err("empty message".into());
    }
    if let Some(a) = m.get("attachments") {
        let a = a.as_array().ok_or("attachments must be an array")?;
        if a.len() != 1 {
            return Err("ERROR_CODE_MESSAGE_ATTACHMENTS_NUMBER_INVALID".into());
        }
        keys_within(&a[0], &["type", "url", "caption", "filename"])?;
        if !["image", "video", "audio", "document"].contains(&a[0]["type"].as_str().unwrap_or("")) {
            return Err("bad attachment type".into());
        }
    }
    if let Some(l) = m.get("location") {
        keys_within(l, &["latitude", "longitude", "name", "address"])?;
        if !l["latitude"].is_number() || !l["longitude"].is_number() {
            return Err("coordinates must be numbers".into());
        }
    }
    if let Some(r) = m.get("replyButtonMessage") {
        keys_within(r, &["header", "footer", "buttons"])?;
        if let Some(h) = r.get("header") {
            check_header(h)?;
        }
        let b = r["buttons"].as_array().ok_or("buttons")?;
        if b.is_empty() || b.len() > 3 {
            return Err("1 to 3 buttons".into());
        }
    }
    if let Some(l) = m.get("listMessage") {
        keys_within(l, &["header", "footer", "button", "sections"])?;
        if let Some(h) = l.get("header") {
            check_header(h)?;
        }
        if !l["button"]["text"].is_string() || !l["sections"].is_array() {
            return Err("list needs button.text and sections".into());
        }
    }
    Ok(())
}

fn check_template(b: &Value) -> Result<(), String> {
    keys_within(b, &["number", "templateName", "language", "parameters", "sender", "campaignName", "callbackData"])?;
    if !e164(&b["number"]) {
        return Err("number must be E.164".into());
    }
    if b["templateName"].as_str().is_none_or(|s| s.is_empty()) {
        return Err("templateName required".into());
    }
    if let Some(s) = b.get("sender")
        && !e164(s)
    {
        return Err("sender must be an E.164 string".into());
    }
    for p in b.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        keys_within(p, &["name", "value", "filename"])?;
        if !p["name"].is_string() || !p["value"].is_string() {
            return Err("parameters are {name, value}".into());
        }
    }
    if let Some(cb) = b.get("callbackData")
        && cb.to_string().len() > 1024
    {
        return Err("callbackData over 1024 bytes".into());
    }
    Ok(())
}
