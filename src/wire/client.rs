//! The Connectly client. Every answer is classified once, here: sent, retry,
//! final, or abort the run. The rest of the program sees only the class.

use std::time::Duration;

use serde_json::value::RawValue;

use crate::outcome::RowError;

pub const DEFAULT_BASE_URL: &str = "https://api.connectly.ai";

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
    /// Accepted; the message id when Connectly gave one.
    Sent { id: Option<String> },
    /// Throttled, server error or network trouble: try again, after `after` if given.
    Retry { error: RowError, after: Option<Duration> },
    /// Refused for this recipient; trying again will not help.
    Final(RowError),
    /// Refused for the whole business (bad key, limits): stop the run.
    Abort(RowError),
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// One pooled client per run. The key is kept here and never printed.
    pub fn new(base: &str, key: String, timeout: Duration) -> Result<Client, String> {
        // TLS uses rustls with the ring provider (small, quick to build).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("campaign/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), key })
    }

    pub async fn post(&self, path: &str, body: &RawValue) -> Answer {
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-API-Key", &self.key)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.get().to_owned())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "network error"
                };
                return Answer::Retry {
                    error: RowError {
                        http: None,
                        code: None,
                        // The URL is ours and known; the cause is what matters.
                        message: format!("{what}: {}", describe(&e.without_url())),
                        field: None,
                    },
                    after: None,
                };
            }
        };
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        classify(status, &text, retry_after)
    }
}

/// The error and its causes, one after another.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
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

/// Classify one HTTP answer.
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Answer {
    if (200..300).contains(&status) {
        let id = serde_json::from_str::<SentBody>(body).ok().and_then(|b| b.id);
        return Answer::Sent { id };
    }
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let mut message = parsed.message.unwrap_or_else(|| {
        let t = body.trim();
        if t.is_empty() { format!("HTTP {status}") } else { t.chars().take(300).collect() }
    });
    if let Some(trace) = parsed.trace {
        message.push_str(&format!(" (cntTraceId {trace})"));
    }
    let error = RowError { http: Some(status), code: parsed.code, message, field: None };
    match status {
        401 | 403 => Answer::Abort(error),
        _ if error.code.as_deref() == Some(code::BUSINESS_LIMITS) => Answer::Abort(error),
        429 | 500..=599 => Answer::Retry { error, after: retry_after },
        _ => Answer::Final(error),
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
        assert!(matches!(classify(201, r#"{"id":"01F"}"#, None), Answer::Sent { id: Some(ref i) } if i == "01F"));
        assert!(matches!(classify(401, "{}", None), Answer::Abort(_)));
        assert!(matches!(classify(429, "", Some(Duration::from_secs(2))), Answer::Retry { after: Some(_), .. }));
        assert!(matches!(classify(503, "oops", None), Answer::Retry { .. }));
        let body = r#"{"message":"m","type":"ERROR_TYPE_INVALID_REQUEST","code":"ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND","cntTraceId":"1"}"#;
        match classify(400, body, None) {
            Answer::Final(e) => {
                assert_eq!(e.code.as_deref(), Some("ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND"));
                assert_eq!(e.http, Some(400));
            }
            other => panic!("{other:?}"),
        }
        let limits = r#"{"code":"ERROR_CODE_BUSINESS_REACHED_LIMITS","message":"spam"}"#;
        assert!(matches!(classify(400, limits, None), Answer::Abort(_)));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
