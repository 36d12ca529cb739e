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
    if now.duration_since(last) < DAY - margin { Window::Open { closes } } else { Window::Closed { closes } }
}

/// Why a route was chosen, for people. Kept as data and formatted only
/// when shown: a dry run of a million rows shows a handful.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Note {
    #[default]
    None,
    Window(Window, &'static str),
    Text(String),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::None => Ok(()),
            Note::Window(w, suffix) => {
                match w {
                    Window::Open { closes } => write!(f, "window open until {}", short(*closes))?,
                    Window::Closed { closes } => write!(f, "window closed at {}", short(*closes))?,
                    Window::Unknown => f.write_str("no inbound message known")?,
                }
                f.write_str(suffix)
            }
            Note::Text(t) => f.write_str(t),
        }
    }
}

/// The route for a recipient, and why.
pub fn choose(w: Window, has_session: bool, has_template: bool) -> (Option<Route>, Note) {
    match w {
        Window::Open { .. } if has_session => (Some(Route::Session), Note::Window(w, "")),
        Window::Open { .. } if has_template => {
            (Some(Route::Template), Note::Window(w, "; no session message configured"))
        }
        _ if has_template => (Some(Route::Template), Note::Window(w, "")),
        _ => (None, Note::Window(w, "; no template configured")),
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
        assert!(matches!(window(last, at("2026-11-21T11:44:59Z"), m), Window::Open { .. }));
        assert!(matches!(window(last, at("2026-11-21T11:45:00Z"), m), Window::Closed { .. }));
        assert_eq!(window(None, at("2026-11-21T00:00:00Z"), m), Window::Unknown);
    }

    #[test]
    fn session_inside_template_outside() {
        let open = Window::Open { closes: at("2026-11-21T12:00:00Z") };
        assert_eq!(choose(open, true, true).0, Some(Route::Session));
        assert_eq!(choose(open, false, true).0, Some(Route::Template));
        assert_eq!(choose(Window::Unknown, true, true).0, Some(Route::Template));
        assert_eq!(choose(Window::Unknown, true, false).0, None);
        assert_eq!(choose(open, true, true).1.to_string(), "window open until 2026-11-21 12:00Z");
    }
}
