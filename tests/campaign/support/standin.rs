//! A Connectly stand-in: a real HTTP server on 127.0.0.1 that enforces what
//! the API documents — the API key, both endpoints' body shapes, the 24-hour
//! window from a table it is given, a per-second rate limit answering 429,
//! the business's template catalogue (served in Connectly's shape, and
//! template sends that do not match it refused) — and lets a test inject
//! faults per recipient, add latency, and read back every send it received.

use std::collections::{HashMap, VecDeque};
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

/// One template in one language, as the stand-in's business has it.
#[derive(Debug, Clone)]
pub struct Tpl {
    pub name: String,
    pub language: String,
    /// Connectly's status, `MESSAGE_TEMPLATE_STATUS_…`.
    pub status: &'static str,
    /// Meta's raw status: `APPROVED`, `PAUSED`, `DISABLED`.
    pub meta_status: &'static str,
    pub category: &'static str,
    /// Header format (`IMAGE`, `TEXT`, …) and its text.
    pub header: Option<(&'static str, String)>,
    pub body: String,
    pub footer: Option<String>,
    /// Type (`URL`, `QUICK_REPLY`, …), title, URL.
    pub buttons: Vec<(&'static str, String, String)>,
}

impl Tpl {
    /// An approved MARKETING template with this body.
    pub fn new(name: &str, language: &str, body: &str) -> Tpl {
        Tpl {
            name: name.into(),
            language: language.into(),
            status: "MESSAGE_TEMPLATE_STATUS_APPROVED",
            meta_status: "APPROVED",
            category: "MARKETING",
            header: None,
            body: body.into(),
            footer: None,
            buttons: Vec::new(),
        }
    }
    pub fn header(mut self, format: &'static str, text: &str) -> Tpl {
        self.header = Some((format, text.into()));
        self
    }
    pub fn footer(mut self, text: &str) -> Tpl {
        self.footer = Some(text.into());
        self
    }
    pub fn button(mut self, kind: &'static str, text: &str, url: &str) -> Tpl {
        self.buttons.push((kind, text.into(), url.into()));
        self
    }
    pub fn status(mut self, connectly: &'static str, meta: &'static str) -> Tpl {
        self.status = connectly;
        self.meta_status = meta;
        self
    }
    pub fn category(mut self, category: &'static str) -> Tpl {
        self.category = category;
        self
    }

    /// Meta's components.
    fn components(&self) -> Vec<Value> {
        let mut c = Vec::new();
        if let Some((format, text)) = &self.header {
            c.push(json!({"type": "HEADER", "format": format, "text": if *format == "TEXT" { json!(text) } else { Value::Null }, "buttons": [], "example": null}));
        }
        c.push(
            json!({"type": "BODY", "format": "FORMAT_UNSPECIFIED", "text": self.body, "buttons": [], "example": null}),
        );
        if let Some(f) = &self.footer {
            c.push(
                json!({"type": "FOOTER", "format": "FORMAT_UNSPECIFIED", "text": f, "buttons": [], "example": null}),
            );
        }
        if !self.buttons.is_empty() {
            let b: Vec<Value> = self
                .buttons
                .iter()
                .map(|(k, t, u)| json!({"type": k, "text": t, "url": u, "phoneNumber": "", "example": []}))
                .collect();
            c.push(
                json!({"type": "BUTTONS", "format": "FORMAT_UNSPECIFIED", "text": null, "example": null, "buttons": b}),
            );
        }
        c
    }

    /// Connectly's own `templateComponents`.
    fn connectly_components(&self) -> Vec<Value> {
        let mut c = Vec::new();
        match &self.header {
            Some(("TEXT", text)) => c.push(json!({"header": {"text": {"text": text}}})),
            Some((format, _)) => {
                c.push(json!({"header": {"media": {"type": format!("TYPE_{format}"), "example": []}}}))
            }
            None => {}
        }
        c.push(json!({"body": {"text": {"text": self.body, "example": []}}}));
        if let Some(f) = &self.footer {
            c.push(json!({"footer": {"text": {"text": f}}}));
        }
        if !self.buttons.is_empty() {
            let b: Vec<Value> = self
                .buttons
                .iter()
                .map(|(k, t, u)| match *k {
                    "URL" => json!({"url": {"text": t, "url": u}}),
                    "PHONE_NUMBER" => json!({"phoneNumber": {"text": t, "phoneNumber": u}}),
                    _ => json!({"quickReply": {"text": t}}),
                })
                .collect();
            c.push(json!({"buttons": {"buttons": b}}));
        }
        c
    }

    /// Why a send with these parameter names does not fit, if it does not.
    fn misfit(&self, names: &[String]) -> Option<String> {
        let n = vars(&self.body).into_iter().max().unwrap_or(0);
        let mut want: Vec<String> = (1..=n).map(|i| format!("body_{i}")).collect();
        match &self.header {
            Some(("TEXT", t)) if !vars(t).is_empty() => want.push("header_text".into()),
            Some(("TEXT", _)) | None => {}
            Some((f, _)) => want.push(format!("header_{}", f.to_lowercase())),
        }
        for (i, (k, _, u)) in self.buttons.iter().enumerate() {
            if *k == "URL" && !vars(u).is_empty() {
                want.push(format!("button_{}_url", i + 1));
            }
        }
        let mut got = names.to_vec();
        got.sort();
        want.sort();
        (got != want).then(|| format!("parameters {got:?} do not match the template's {want:?}"))
    }
}

fn vars(text: &str) -> Vec<usize> {
    text.split("{{").skip(1).filter_map(|r| r.split("}}").next()?.trim().parse().ok()).collect()
}

/// Which representations the catalogue answer carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Form {
    #[default]
    Both,
    /// Only `externalTemplate.whatsapp` (Meta's raw template).
    Meta,
    /// Only `templateComponents` (Connectly's own).
    Connectly,
}

/// The templates every stand-in starts with: what the tests' campaigns use.
fn default_catalogue() -> Vec<Tpl> {
    let names = ["hello_tpl", "hello", "t", "autumn_tpl", "b_tpl", "more_tpl"];
    // senders.rs names each campaign's template after the campaign.
    let pools = ["first_tpl", "second_tpl", "pool_tpl", "onlya_tpl", "paced_tpl", "lanes_tpl", "door_tpl"];
    names.iter().chain(&pools).map(|n| Tpl::new(n, "en", "Hello {{1}}!")).collect()
}

#[derive(Default)]
struct Inner {
    /// Customer's last inbound time (Unix seconds), for the 24-hour rule.
    windows: HashMap<String, i64>,
    faults: HashMap<String, VecDeque<Fault>>,
    catalogue: Vec<Tpl>,
    /// How the catalogue is written: Meta's form, Connectly's, or both.
    form: Form,
    /// Answer the catalogue endpoint with this HTTP status instead.
    catalogue_fault: Option<u16>,
    catalogue_fetches: usize,
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
        let inner = Arc::new(Mutex::new(Inner { catalogue: default_catalogue(), ..Inner::default() }));
        let cfg = Arc::new(cfg);
        let state: Shared = (inner.clone(), cfg.clone());
        let app = Router::new()
            .route("/v1/businesses/{business}/send/messages", post(session))
            .route("/v1/businesses/{business}/send/whatsapp_templated_messages", post(template))
            .route("/v1/businesses/{business}/get/templates", post(catalogue))
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

    /// Only these template names exist, each in `en` with one body
    /// variable (others: TEMPLATE_NOT_FOUND).
    pub fn templates(&self, names: &[&str]) {
        self.catalogue(names.iter().map(|n| Tpl::new(n, "en", "Hello {{1}}!")).collect());
    }

    /// The business's whole catalogue.
    pub fn catalogue(&self, templates: Vec<Tpl>) {
        self.inner.lock().unwrap().catalogue = templates;
    }

    /// Write the catalogue answer in only one of its representations.
    pub fn catalogue_form(&self, form: Form) {
        self.inner.lock().unwrap().form = form;
    }

    /// Answer the catalogue endpoint with this HTTP status (None: normally).
    pub fn catalogue_fault(&self, status: Option<u16>) {
        self.inner.lock().unwrap().catalogue_fault = status;
    }

    /// How many times the catalogue was asked for.
    pub fn catalogue_fetches(&self) -> usize {
        self.inner.lock().unwrap().catalogue_fetches
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
    } else if let Some(refused) = refuse_template(&g.catalogue, body) {
        return refused;
    }
    g.next_id += 1;
    let id = format!("01FRRVK645V35035{:010}", g.next_id);
    (StatusCode::OK, [("content-type", "application/json")], json!({"id": id}).to_string()).into_response()
}

/// A template send the catalogue does not allow, refused as Connectly does.
fn refuse_template(catalogue: &[Tpl], body: &Value) -> Option<Response> {
    let (name, language) = (body["templateName"].as_str().unwrap_or(""), body["language"].as_str().unwrap_or("en"));
    let Some(t) = catalogue.iter().find(|t| t.name == name && t.language == language) else {
        return Some(error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND", "no template for that name and language"));
    };
    if t.status != "MESSAGE_TEMPLATE_STATUS_APPROVED" || t.meta_status != "APPROVED" {
        return Some(error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND", "the template is not approved"));
    }
    let names: Vec<String> = body
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    t.misfit(&names).map(|m| error(400, "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID", &m))
}

async fn catalogue(State(s): State<Shared>, Path(business): Path<String>, h: HeaderMap, body: Bytes) -> Response {
    let mut g = s.0.lock().unwrap();
    g.catalogue_fetches += 1;
    if h.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return error(401, "ERROR_CODE_UNSPECIFIED", "missing or invalid X-API-Key");
    }
    if business != BUSINESS {
        return error(404, "ERROR_CODE_UNSPECIFIED", "unknown business");
    }
    if !body.is_empty() {
        return error(400, "ERROR_CODE_UNSPECIFIED", "this endpoint takes no body");
    }
    if let Some(status) = g.catalogue_fault {
        return error(status, "ERROR_CODE_UNSPECIFIED", "injected");
    }
    let mut groups: Vec<Value> = Vec::new();
    for t in &g.catalogue {
        let mut tpl = json!({"id": format!("{}-{}", t.name, t.language), "language": {"code": t.language},
            "status": t.status, "createdAt": "2026-01-09T23:07:01Z", "unknownField": {"x": 1}});
        if g.form != Form::Connectly {
            tpl["externalTemplate"] = json!({"whatsapp": {"name": t.name, "language": t.language, "status": t.meta_status,
                "category": t.category, "components": t.components(), "qualityScore": {"score": "UNKNOWN"}}});
        }
        if g.form != Form::Meta {
            tpl["templateComponents"] = Value::Array(t.connectly_components());
        }
        match groups.iter_mut().find(|g| g["name"] == t.name.as_str()) {
            Some(group) => group["templates"].as_array_mut().unwrap().push(tpl),
            None => groups.push(json!({"id": t.name, "name": t.name, "category": t.category, "templates": [tpl]})),
        }
    }
    let answer = json!({"entity": {"templateGroups": groups}});
    (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response()
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
