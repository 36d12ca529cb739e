//! The decision for a sendable row at an instant (SPEC §3 steps 3–4): the
//! schedule, then the route by the 24-hour window, then a place of
//! `limits.templates_per_day` for a template. The planner asks it as it
//! plans (dry run, preflight, `status`), the send loop again as each request
//! leaves: one function, so the two cannot disagree.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::campaign::Campaign;
use crate::campaign::schedule::Slot;
use crate::outcome::{Note, Reason, Route, Status};
use crate::plan::stream::TemplateQuota;
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
        Some(code) => (
            row.template.then_some(Route::Template),
            Note::Text(format!("session refused ({code}); sent as template")),
        ),
        None => window::choose(window::window(row.last_inbound, now, c.window_margin), row.session, row.template),
    }
}
