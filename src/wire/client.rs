//! The Connectly client. Every answer is classified once, here (SPEC §3
//! step 6): sent, unknown, never left, retry, refused, or abort the run.
//! The rest of the program sees only the class.

use std::sync::Mutex;
use std::time::Duration;

use crate::json::Json;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};

use crate::outcome::RowError;

pub const DEFAULT_BASE_URL: &str = "https://api.connectly.ai";

/// Answer bodies are read up to this many bytes (SPEC §1).
const MAX_ANSWER: usize = 1 << 20;
/// Error messages kept in the ledger are cut to this many characters.
const MAX_MESSAGE: usize = 1000;

/// Connectly error codes with a meaning for the run.
pub mod code {
    pub const OUTSIDE_WINDOW: &str = "ERROR_CODE_MESSAGE_OUTSIDE_OF_ELIGIBILITY_WINDOW";
    pub const NO_CONVERSATION: &str = "ERROR_CODE_MESSAGE_CUSTOMER_NO_CONVERSATION_INITIATION";
    pub const BUSINESS_LIMITS: &str = "ERROR_CODE_BUSINESS_REACHED_LIMITS";
    pub const OPTED_OUT: &str = "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT";
}

/// What an answer means for the run.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Accepted, with the message id.
    Sent { id: String },
    /// It may or may not have been accepted: the request left and no usable
    /// answer came (timeout, connection reset, a 2xx without an id). Never
    /// sent again automatically.
    Unknown(RowError),
    /// The request never left (connection refused, DNS, TLS handshake):
    /// safe to try again.
    NotSent(RowError),
    /// Throttled (429) or a server error (5xx): try again, after `after` if given.
    Retry { error: RowError, after: Option<Duration>, throttled: bool },
    /// Refused for this recipient; trying again will not help.
    Refused(RowError),
    /// Refused for the whole run: the key, the business, a redirect, limits.
    Abort(Abort),
}

/// Why the whole run must stop, and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// 401/403: the API key was refused.
    Auth(RowError),
    /// 404 on the business's own path: no such business.
    UnknownBusiness(RowError),
    /// A 3xx: the base URL points somewhere that redirects.
    Redirect { status: u16, location: Option<String> },
    /// `ERROR_CODE_BUSINESS_REACHED_LIMITS`.
    BusinessLimits(RowError),
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abort::Auth(e) => write!(
                f,
                "Connectly refused the API key (HTTP {}): {}\n  hint: check CONNECTLY_API_KEY (the key from the Connectly dashboard for this business)",
                e.http.unwrap_or(401),
                e.message
            ),
            Abort::UnknownBusiness(e) => write!(
                f,
                "Connectly does not know this business (HTTP 404): {}\n  hint: check business_id in the campaign file, and CONNECTLY_BASE_URL if you set it",
                e.message
            ),
            Abort::Redirect { status, location } => write!(
                f,
                "the API answered with a redirect (HTTP {status}{}); redirects are never followed, so the key never travels to another host\n  hint: check CONNECTLY_BASE_URL (unset it to use {DEFAULT_BASE_URL})",
                location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default()
            ),
            Abort::BusinessLimits(e) => write!(
                f,
                "Connectly stopped the business from sending ({}): {}\n  hint: too many messages were blocked or reported as spam; check the number's quality rating in WhatsApp Manager before sending again",
                code::BUSINESS_LIMITS,
                e.message
            ),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    /// The key and JSON headers every request carries, made once.
    headers: HeaderMap,
    /// The URLs posted to, each parsed once (a run posts to two).
    urls: Mutex<Vec<(String, reqwest::Url)>>,
}

/// The base URL and key, checked before anything is sent.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base: String,
    pub key: HeaderValue,
    pub host: String,
}

impl Endpoint {
    /// Check `CONNECTLY_BASE_URL` and `CONNECTLY_API_KEY` as given. The
    /// error names the variable and never shows the key.
    pub fn new(base: &str, key: &str) -> Result<Endpoint, String> {
        let url = reqwest::Url::parse(base.trim()).map_err(|_| {
            format!("CONNECTLY_BASE_URL `{base}` is not a URL\n  hint: write it with its scheme, e.g. https://api.connectly.ai, or unset it to use the default")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "CONNECTLY_BASE_URL `{base}` is not an http(s) address\n  hint: write it as https://host[:port], e.g. https://api.connectly.ai, or unset it to use the default"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "CONNECTLY_BASE_URL `{base}` has a query or fragment\n  hint: give only the scheme, host and port"
            ));
        }
        let key = key.trim();
        let bad_key = || {
            "CONNECTLY_API_KEY contains characters an HTTP header cannot carry (a line break, a control character or non-ASCII)\n  hint: copy the key again from the Connectly dashboard; it was not printed".to_string()
        };
        if key.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(bad_key());
        }
        let mut key = HeaderValue::from_str(key).map_err(|_| bad_key())?;
        key.set_sensitive(true);
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        Ok(Endpoint { base: url.as_str().trim_end_matches('/').to_string(), key, host })
    }
}

impl Client {
    /// One pooled client per run. The key is kept here, marked sensitive,
    /// and never printed. Redirects are never followed.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<Client, String> {
        // TLS uses rustls with the ring provider (small, quick to build).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .user_agent(concat!("campaign/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", endpoint.key);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(Client { http, base: endpoint.base, host: endpoint.host, headers, urls: Mutex::new(Vec::new()) })
    }

    /// The host requests go to, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A POST to Connectly at `path`, with the key and JSON headers.
    fn request(&self, path: &str) -> reqwest::RequestBuilder {
        let parsed = self.urls.lock().ok().and_then(|u| u.iter().find(|(p, _)| p == path).map(|(_, url)| url.clone()));
        let builder = match parsed {
            Some(url) => self.http.post(url),
            None => match reqwest::Url::parse(&format!("{}{path}", self.base)) {
                Ok(url) => {
                    if let Ok(mut urls) = self.urls.lock() {
                        urls.push((path.to_string(), url.clone()));
                    }
                    self.http.post(url)
                }
                // reqwest reports the bad URL when the request is sent.
                Err(_) => self.http.post(format!("{}{path}", self.base)),
            },
        };
        builder.headers(self.headers.clone())
    }

    pub async fn post(&self, path: &str, body: &Json) -> Answer {
        let sent = self.request(path).body(body.get().to_owned()).send().await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return self.failed(e),
        };
        let status = resp.status().as_u16();
        let header = |name| resp.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
        let retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(&v));
        let location = header(LOCATION);
        if (300..400).contains(&status) {
            return Answer::Abort(Abort::Redirect { status, location });
        }
        let mut text = Vec::new();
        match read_capped(&mut resp, &mut text).await {
            // The answer started but broke off: for a 2xx the id may be lost.
            Err(e) if (200..300).contains(&status) => {
                return Answer::Unknown(network_error(&format!(
                    "the answer from {} broke off: {}",
                    self.host,
                    describe(&e.without_url())
                )));
            }
            Ok(()) | Err(_) => {}
        }
        classify(status, &String::from_utf8_lossy(&text), retry_after)
    }

    /// The business's template catalogue (SPEC §1): a POST without a body,
    /// its answer read up to 1 MiB. Any failure is said in words for the
    /// user, classified as a send would be; the key is never in it.
    pub async fn fetch_catalogue(&self, path: &str) -> Result<serde_json::Value, String> {
        let sent = self.request(path).send().await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Err(match self.failed(e) {
                    Answer::NotSent(e) => format!("the API could not be reached: {}", e.message),
                    Answer::Unknown(e) => e.message,
                    _ => format!("no answer from {}", self.host),
                });
            }
        };
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            return Err(Abort::Redirect { status, location }.to_string());
        }
        let mut text = Vec::new();
        read_capped(&mut resp, &mut text)
            .await
            .map_err(|e| format!("the answer from {} broke off: {}", self.host, describe(&e.without_url())))?;
        if !(200..300).contains(&status) {
            return Err(match classify(status, &String::from_utf8_lossy(&text), None) {
                Answer::Abort(a) => a.to_string(),
                Answer::Refused(e) | Answer::Retry { error: e, .. } | Answer::Unknown(e) | Answer::NotSent(e) => {
                    let code = e.code.map(|c| format!(" {c}")).unwrap_or_default();
                    format!("HTTP {status}{code}: {}", e.message)
                }
                Answer::Sent { .. } => format!("HTTP {status}"),
            });
        }
        if text.len() >= MAX_ANSWER {
            return Err("the answer is larger than 1 MiB, more than this program reads".into());
        }
        serde_json::from_slice(&text).map_err(|e| format!("the answer is not JSON ({e})"))
    }

    /// A request that got no answer: did it leave?
    fn failed(&self, e: reqwest::Error) -> Answer {
        let (connect, timeout, builder) = (e.is_connect(), e.is_timeout(), e.is_builder());
        let cause = describe(&e.without_url());
        if connect {
            let what = if timeout { "timed out connecting to" } else { "could not connect to" };
            return Answer::NotSent(network_error(&format!("{what} {}: {cause}", self.host)));
        }
        if builder {
            return Answer::NotSent(network_error(&format!(
                "the request to {} could not be built: {cause}",
                self.host
            )));
        }
        let what = if timeout { "no answer in time from" } else { "the connection broke before an answer from" };
        Answer::Unknown(network_error(&format!(
            "{what} {}: {cause}; the message may or may not have been accepted",
            self.host
        )))
    }
}

/// The answer's body, up to `MAX_ANSWER` bytes.
async fn read_capped(resp: &mut reqwest::Response, text: &mut Vec<u8>) -> Result<(), reqwest::Error> {
    while let Some(c) = resp.chunk().await? {
        text.extend_from_slice(&c[..c.len().min(MAX_ANSWER - text.len())]);
        if text.len() >= MAX_ANSWER {
            break;
        }
    }
    Ok(())
}

fn network_error(message: &str) -> RowError {
    RowError { http: None, code: None, message: cut(message), field: None }
}

fn cut(s: &str) -> String {
    // The mark that says it was cut is one of the characters kept.
    match s.char_indices().nth(MAX_MESSAGE) {
        Some(_) => format!("{}…", &s[..s.char_indices().nth(MAX_MESSAGE - 1).map_or(0, |(i, _)| i)]),
        None => s.to_string(),
    }
}

/// The error and its causes, one after another, each said once.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg = format!("{msg}: {t}");
        }
        src = s.source();
    }
    msg
}

#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "cntTraceId")]
    trace: Option<String>,
}

#[derive(serde::Deserialize)]
struct SentBody {
    id: Option<String>,
}

/// Classify one HTTP answer (not a redirect: `post` aborts on those).
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Answer {
    if (200..300).contains(&status) {
        return match serde_json::from_str::<SentBody>(body).ok().and_then(|b| b.id).filter(|id| !id.is_empty()) {
            Some(id) => Answer::Sent { id },
            None => Answer::Unknown(RowError {
                http: Some(status),
                code: None,
                message: "accepted without a message id: it cannot be tracked, so it is not sent again".into(),
                field: None,
            }),
        };
    }
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let mut message = parsed.message.unwrap_or_else(|| {
        let t = body.trim();
        if t.is_empty() { format!("HTTP {status}") } else { t.to_string() }
    });
    if let Some(trace) = parsed.trace {
        message.push_str(&format!(" (cntTraceId {trace})"));
    }
    let error = RowError { http: Some(status), code: parsed.code, message: cut(&message), field: None };
    let code = error.code.as_deref().unwrap_or("");
    match status {
        401 | 403 => Answer::Abort(Abort::Auth(error)),
        _ if code == code::BUSINESS_LIMITS => Answer::Abort(Abort::BusinessLimits(error)),
        // A 404 names no message-level problem: the business path itself is unknown.
        404 if !code.starts_with("ERROR_CODE_MESSAGE_") => Answer::Abort(Abort::UnknownBusiness(error)),
        429 => Answer::Retry { error, after: retry_after, throttled: true },
        500..=599 => Answer::Retry { error, after: retry_after, throttled: false },
        _ => Answer::Refused(error),
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    Some(if when > now { Duration::try_from(when.duration_since(now)).unwrap_or_default() } else { Duration::ZERO })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(matches!(classify(201, r#"{"id":"01F"}"#, None), Answer::Sent { ref id } if id == "01F"));
        assert!(matches!(classify(200, "{}", None), Answer::Unknown(_)));
        assert!(matches!(classify(200, r#"{"id":""}"#, None), Answer::Unknown(_)));
        assert!(matches!(classify(401, "{}", None), Answer::Abort(Abort::Auth(_))));
        assert!(matches!(
            classify(404, r#"{"message":"unknown business"}"#, None),
            Answer::Abort(Abort::UnknownBusiness(_))
        ));
        assert!(matches!(
            classify(429, "", Some(Duration::from_secs(2))),
            Answer::Retry { after: Some(_), throttled: true, .. }
        ));
        assert!(matches!(classify(503, "oops", None), Answer::Retry { throttled: false, .. }));
        let body = r#"{"message":"m","type":"ERROR_TYPE_INVALID_REQUEST","code":"ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND","cntTraceId":"1"}"#;
        match classify(400, body, None) {
            Answer::Refused(e) => {
                assert_eq!(e.code.as_deref(), Some("ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND"));
                assert_eq!(e.http, Some(400));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(404, body, None), Answer::Refused(_)));
        let limits = r#"{"code":"ERROR_CODE_BUSINESS_REACHED_LIMITS","message":"spam"}"#;
        assert!(matches!(classify(400, limits, None), Answer::Abort(Abort::BusinessLimits(_))));
    }

    #[test]
    fn long_messages_are_cut() {
        let body = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        match classify(400, &body, None) {
            Answer::Refused(e) => assert_eq!(e.message.chars().count(), MAX_MESSAGE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn endpoints_are_checked_before_anything_is_sent() {
        assert!(Endpoint::new("https://api.connectly.ai", "k").is_ok());
        assert_eq!(Endpoint::new("http://127.0.0.1:8080/", "k").unwrap().host, "127.0.0.1:8080");
        let e = Endpoint::new("api.connectly.ai", "k").unwrap_err();
        assert!(e.contains("CONNECTLY_BASE_URL"), "{e}");
        let e = Endpoint::new("ftp://api.connectly.ai", "k").unwrap_err();
        assert!(e.contains("CONNECTLY_BASE_URL"), "{e}");
        let e = Endpoint::new("https://api.connectly.ai", "abc\ndef").unwrap_err();
        assert!(e.contains("CONNECTLY_API_KEY") && !e.contains("abc"), "{e}");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
