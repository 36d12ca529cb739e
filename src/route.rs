//! The 24-hour rule (SPEC §3 step 4): which kind of message may go now.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// How a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Session,
    Template,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Session => "session",
            Route::Template => "template",
        }
    }
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// The customer service window as of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Open; it closes (for WhatsApp) at `closes`.
    Open { closes: Timestamp },
    /// Closed since `closed` (or closing within the margin).
    Closed { closes: Timestamp },
    /// No inbound message known.
    Unknown,
}

/// Open when `now - last_inbound < 24h - margin`.
pub fn window(last_inbound: Option<Timestamp>, now: Timestamp, margin: Duration) -> Window {
    let Some(last) = last_inbound else {
        return Window::Unknown;
    };
    let closes = last.saturating_add(DAY).unwrap_or(last);
    let margin = SignedDuration::try_from(margin).unwrap_or(SignedDuration::ZERO);
    if now.duration_since(last) < DAY - margin {
        Window::Open { closes }
    } else {
        Window::Closed { closes }
    }
}

/// The route for a recipient, and a sentence saying why.
pub fn choose(w: Window, has_session: bool, has_template: bool) -> (Option<Route>, String) {
    let why = match w {
        Window::Open { closes } => format!("window open until {}", short(closes)),
        Window::Closed { closes } => format!("window closed at {}", short(closes)),
        Window::Unknown => "no inbound message known".to_string(),
    };
    match w {
        Window::Open { .. } if has_session => (Some(Route::Session), why),
        Window::Open { .. } if has_template => (
            Some(Route::Template),
            format!("{why}; no session message configured"),
        ),
        _ if has_template => (Some(Route::Template), why),
        _ => (None, format!("{why}; no template configured")),
    }
}

/// `2026-11-20 14:02Z`: minutes are what a person reads.
pub fn short(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%MZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn window_is_open_until_the_margin() {
        let last = Some(at("2026-11-20T12:00:00Z"));
        let m = Duration::from_secs(15 * 60);
        assert!(matches!(
            window(last, at("2026-11-21T11:44:59Z"), m),
            Window::Open { .. }
        ));
        assert!(matches!(
            window(last, at("2026-11-21T11:45:00Z"), m),
            Window::Closed { .. }
        ));
        assert_eq!(window(None, at("2026-11-21T00:00:00Z"), m), Window::Unknown);
    }

    #[test]
    fn session_inside_template_outside() {
        let open = Window::Open {
            closes: at("2026-11-21T12:00:00Z"),
        };
        assert_eq!(choose(open, true, true).0, Some(Route::Session));
        assert_eq!(choose(open, false, true).0, Some(Route::Template));
        assert_eq!(choose(Window::Unknown, true, true).0, Some(Route::Template));
        assert_eq!(choose(Window::Unknown, true, false).0, None);
        assert!(
            choose(open, true, true)
                .1
                .contains("window open until 2026-11-21 12:00Z")
        );
    }
}
