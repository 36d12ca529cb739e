//! The decision for a sendable row at an instant (SPEC §3 steps 3–4): the
//! schedule, then the route by the 24-hour window, then a place of
//! `limits.templates_per_day` for a template. The planner asks it as it
//! plans (dry run, preflight, `status`), the send loop again as each request
//! leaves: one function, so the two cannot disagree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::campaign::Campaign;
use crate::campaign::schedule::Slot;
use crate::outcome::{Note, Reason, Route, Status};
use crate::plan::window;

/// What to do with a row now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it by this route.
    Send(Route),
    /// Not now: it ends with this status and reason.
    Hold(Status, Reason),
}

impl Decision {
    /// The route the outcome shows: the one taken, or the template a full
    /// day's cap holds back; none when the schedule or the window holds it.
    pub fn route(self) -> Option<Route> {
        match self {
            Decision::Send(r) => Some(r),
            Decision::Hold(_, Reason::DailyLimit) => Some(Route::Template),
            Decision::Hold(..) => None,
        }
    }
}

/// What the decision reads of a row.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The recipient's own time zone, when the CSV gives one (quiet hours).
    pub tz: Option<&'a TimeZone>,
    /// The customer's last message to the sender number, when known.
    pub last_inbound: Option<Timestamp>,
    /// The routes the row can go by.
    pub session: bool,
    pub template: bool,
    /// The session was refused with this code: the template goes instead.
    pub refused: Option<&'a str>,
}

/// A row's place under `limits.templates_per_day`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Place {
    /// The row needs no (more) place: it has one, or the customer already
    /// got a template in the last 24 hours (another reaches no one more).
    pub counted: bool,
    /// It holds a place, given back if its send does not happen.
    pub taken: bool,
}

/// How the decision treats the daily template cap.
pub enum Quota<'a> {
    /// As rows are planned: places are given out afterwards, in row order
    /// (the sequencer, through `claim`).
    InOrder,
    /// As the request leaves: a template takes a place now, unless the row
    /// has one.
    Take(&'a TemplateQuota, &'a mut Place),
}

/// Decide a row as of `now`, and the note that says why (the window, the
/// refusal that made it a template, or when the schedule opens).
pub fn decide(c: &Campaign, row: &Facts<'_>, now: Timestamp, quota: Quota<'_>) -> (Decision, Note) {
    if let Some(hold) = schedule(c.schedule.slot(now, row.tz)) {
        let note = c.schedule.opens(now, row.tz).map_or(Note::None, Note::Until);
        return (hold, note);
    }
    let (route, note) = route(c, row, now);
    let Some(route) = route else {
        return (Decision::Hold(Status::Skipped, Reason::NoRoute), note);
    };
    if let Quota::Take(quota, place) = quota
        && !claim(route, quota, place)
    {
        return (Decision::Hold(Status::Deferred, Reason::DailyLimit), note);
    }
    (Decision::Send(route), note)
}

/// A place of the daily cap for a send by `route`: a template the row has
/// no place for takes one. `false` when the day is full.
pub fn claim(route: Route, quota: &TemplateQuota, place: &mut Place) -> bool {
    if route != Route::Template || place.counted {
        return true;
    }
    if !quota.try_take() {
        return false;
    }
    place.counted = true;
    place.taken = true;
    true
}

/// What the schedule says of a row now: nothing (send it), deferred
/// (`not_before`, `quiet_hours`) or skipped (`expired`).
fn schedule(slot: Slot) -> Option<Decision> {
    let hold = |status, reason| Some(Decision::Hold(status, reason));
    match slot {
        Slot::Open => None,
        Slot::NotBefore => hold(Status::Deferred, Reason::NotBefore),
        Slot::QuietHours => hold(Status::Deferred, Reason::QuietHours),
        Slot::Expired => hold(Status::Skipped, Reason::Expired),
    }
}

/// The route by the 24-hour window; after a refused session, the template.
fn route(c: &Campaign, row: &Facts<'_>, now: Timestamp) -> (Option<Route>, Note) {
    match row.refused {
        Some(code) => {
            (row.template.then_some(Route::Template), Note::Text(format!("session refused ({code}); sent as template")))
        }
        None => window::choose(window::window(row.last_inbound, now, c.window_margin), row.session, row.template),
    }
}

/// Customers still reachable by template in the rolling 24 hours (`limits.templates_per_day`),
/// shared by the sequencer (rows planned as templates) and the dispatcher
/// (sessions that become templates as they leave).
#[derive(Debug, Default)]
pub struct TemplateQuota(Option<AtomicU64>);

impl TemplateQuota {
    pub fn new(left: Option<u64>) -> Arc<TemplateQuota> {
        Arc::new(TemplateQuota(left.map(AtomicU64::new)))
    }

    /// Take one template send; `false` when the cap is reached.
    pub fn try_take(&self) -> bool {
        match &self.0 {
            None => true,
            Some(left) => left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok(),
        }
    }

    /// Give back a place taken for a send that did not happen.
    pub fn release(&self) {
        if let Some(left) = &self.0 {
            left.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A campaign with a session message and a template, then `extra`.
    fn campaign(extra: &str) -> Campaign {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let yaml = format!(
            "name: t\nbusiness_id: b\nrecipients:\n  csv: people.csv\nsession:\n  message:\n    text: hi\ntemplate:\n  name: t\n{extra}"
        );
        std::fs::write(&path, yaml).unwrap();
        Campaign::load(&path).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn row(last_inbound: Option<&str>) -> Facts<'static> {
        Facts { tz: None, last_inbound: last_inbound.map(at), session: true, template: true, refused: None }
    }

    #[test]
    fn the_schedule_holds_a_row_before_any_route_is_chosen() {
        let c = campaign("schedule:\n  not_before: 2026-12-01T08:00:00Z\n  not_after: 2026-12-08T00:00:00Z\n");
        let no_route = Facts { template: false, ..row(None) };
        let (d, note) = decide(&c, &no_route, at("2026-11-30T12:00:00Z"), Quota::InOrder);
        assert_eq!(d, Decision::Hold(Status::Deferred, Reason::NotBefore));
        assert_eq!((d.route(), note), (None, Note::Until(at("2026-12-01T08:00:00Z"))));
        let (d, note) = decide(&c, &row(None), at("2026-12-09T00:00:00Z"), Quota::InOrder);
        assert_eq!((d, note), (Decision::Hold(Status::Skipped, Reason::Expired), Note::None));
    }

    #[test]
    fn the_window_picks_the_route_and_a_refused_session_the_template() {
        let c = campaign("");
        let now = at("2026-12-02T12:00:00Z");
        let open = row(Some("2026-12-02T11:00:00Z"));
        assert_eq!(decide(&c, &open, now, Quota::InOrder).0, Decision::Send(Route::Session));
        assert_eq!(decide(&c, &row(None), now, Quota::InOrder).0, Decision::Send(Route::Template));
        let refused = Facts { refused: Some("outside_window"), ..open };
        let (d, note) = decide(&c, &refused, now, Quota::InOrder);
        assert_eq!(d, Decision::Send(Route::Template));
        assert_eq!(note.to_string(), "session refused (outside_window); sent as template");
        let (d, _) = decide(&c, &Facts { template: false, ..row(None) }, now, Quota::InOrder);
        assert_eq!((d, d.route()), (Decision::Hold(Status::Skipped, Reason::NoRoute), None));
    }

    #[test]
    fn a_template_takes_a_place_of_the_daily_cap_unless_it_has_one() {
        let c = campaign("");
        let now = at("2026-12-02T12:00:00Z");
        let quota = TemplateQuota::new(Some(1));
        let mut first = Place::default();
        assert_eq!(decide(&c, &row(None), now, Quota::Take(&quota, &mut first)).0, Decision::Send(Route::Template));
        assert!(first.counted && first.taken);
        let mut second = Place::default();
        let (d, _) = decide(&c, &row(None), now, Quota::Take(&quota, &mut second));
        assert_eq!((d, d.route()), (Decision::Hold(Status::Deferred, Reason::DailyLimit), Some(Route::Template)));
        // Reached today, or planned with a place: no second place.
        let mut today = Place { counted: true, taken: false };
        assert_eq!(decide(&c, &row(None), now, Quota::Take(&quota, &mut today)).0, Decision::Send(Route::Template));
        assert!(!today.taken);
        // A session needs none; at plan time the sequencer gives them out.
        let open = row(Some("2026-12-02T11:00:00Z"));
        let mut session = Place::default();
        assert_eq!(decide(&c, &open, now, Quota::Take(&quota, &mut session)).0, Decision::Send(Route::Session));
        assert_eq!(decide(&c, &row(None), now, Quota::InOrder).0, Decision::Send(Route::Template));
    }
}
