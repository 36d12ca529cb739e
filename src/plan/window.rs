//! The 24-hour rule (SPEC §3 step 4): whether the window is open, and so
//! which kind of message may go now.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::outcome::{Note, Route, Window};

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// Open when `now - last_inbound < 24h - margin`.
pub fn window(last_inbound: Option<Timestamp>, now: Timestamp, margin: Duration) -> Window {
    let Some(last) = last_inbound else {
        return Window::Unknown;
    };
    let closes = last.saturating_add(DAY).unwrap_or(last);
    let margin = SignedDuration::try_from(margin).unwrap_or(SignedDuration::ZERO);
    if now.duration_since(last) < DAY - margin { Window::Open { closes } } else { Window::Closed { closes } }
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
