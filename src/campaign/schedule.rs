//! When a campaign may send: `not_before`, `not_after` and quiet hours in the
//! recipient's own time zone (DST-aware, via jiff).

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

#[derive(Debug, Clone, Default)]
pub struct Schedule {
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Debug, Clone)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
    pub timezone: TimeZone,
}

/// The schedule's verdict for one recipient at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Open,
    NotBefore,
    QuietHours,
    Expired,
}

impl QuietHours {
    /// Whether `now` falls inside quiet hours in `tz` (or the campaign's zone).
    /// A window whose start is after its end wraps past midnight.
    pub fn contains(&self, now: Timestamp, tz: Option<&TimeZone>) -> bool {
        let tz = tz.unwrap_or(&self.timezone);
        let local = now.to_zoned(tz.clone()).time();
        if self.start <= self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// The first end of quiet hours after `now`, in `tz` (or the campaign's zone).
    pub fn end_after(&self, now: Timestamp, tz: Option<&TimeZone>) -> Option<Timestamp> {
        let tz = tz.unwrap_or(&self.timezone);
        let today = now.to_zoned(tz.clone()).date();
        [Some(today), today.tomorrow().ok()]
            .into_iter()
            .flatten()
            .filter_map(|d| d.to_datetime(self.end).to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp())
            .find(|t| *t > now)
    }
}

impl Schedule {
    /// Past `not_after`: the campaign sends nothing more, in any zone.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.not_after.is_some_and(|t| now > t)
    }

    pub fn slot(&self, now: Timestamp, tz: Option<&TimeZone>) -> Slot {
        if self.expired(now) {
            return Slot::Expired;
        }
        if self.not_before.is_some_and(|t| now < t) {
            return Slot::NotBefore;
        }
        if self.quiet_hours.as_ref().is_some_and(|q| q.contains(now, tz)) {
            return Slot::QuietHours;
        }
        Slot::Open
    }

    /// When a row the schedule holds at `now` may be sent: the later of
    /// `not_before` and the end of quiet hours in the recipient's zone.
    /// `None` when nothing holds it, or when it expires first.
    pub fn opens(&self, now: Timestamp, tz: Option<&TimeZone>) -> Option<Timestamp> {
        let mut at = now;
        if let Some(t) = self.not_before.filter(|t| now < *t) {
            at = t;
        }
        if let Some(q) = self.quiet_hours.as_ref().filter(|q| q.contains(at, tz)) {
            at = q.end_after(at, tz)?;
        }
        (at > now && self.not_after.is_none_or(|t| at <= t)).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: &str, end: &str, zone: &str) -> QuietHours {
        QuietHours { start: start.parse().unwrap(), end: end.parse().unwrap(), timezone: TimeZone::get(zone).unwrap() }
    }

    #[test]
    fn quiet_hours_wrap_past_midnight_in_local_time() {
        let q = quiet("21:00", "08:00", "Europe/Madrid");
        // 20:30 UTC in December is 21:30 in Madrid: quiet.
        assert!(q.contains("2026-12-01T20:30:00Z".parse().unwrap(), None));
        // 07:30 UTC is 08:30 in Madrid: not quiet.
        assert!(!q.contains("2026-12-01T07:30:00Z".parse().unwrap(), None));
        // The recipient's own zone wins: 20:30 UTC is 15:30 in New York.
        let ny = TimeZone::get("America/New_York").unwrap();
        assert!(!q.contains("2026-12-01T20:30:00Z".parse().unwrap(), Some(&ny)));
    }

    #[test]
    fn quiet_hours_follow_daylight_saving() {
        let q = quiet("21:00", "08:00", "Europe/Madrid");
        // 19:30 UTC is 21:30 in Madrid in summer (UTC+2) but 20:30 in winter (UTC+1).
        assert!(q.contains("2026-07-01T19:30:00Z".parse().unwrap(), None));
        assert!(!q.contains("2026-12-01T19:30:00Z".parse().unwrap(), None));
    }

    #[test]
    fn a_held_row_opens_at_the_later_of_not_before_and_the_end_of_quiet_hours() {
        let s = Schedule {
            not_before: Some("2026-12-01T08:00:00Z".parse().unwrap()),
            not_after: Some("2026-12-08T00:00:00Z".parse().unwrap()),
            quiet_hours: Some(quiet("21:00", "08:00", "Europe/Madrid")),
        };
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        // Before not_before, which itself falls in quiet hours (09:00 Madrid is not; 08:00 UTC is 09:00).
        assert_eq!(s.opens(at("2026-11-30T12:00:00Z"), None), Some(at("2026-12-01T08:00:00Z")));
        // 22:30 in Madrid: quiet until 08:00 Madrid, 07:00 UTC the next day.
        assert_eq!(s.opens(at("2026-12-02T21:30:00Z"), None), Some(at("2026-12-03T07:00:00Z")));
        // 03:00 in Madrid: the same morning.
        assert_eq!(s.opens(at("2026-12-03T02:00:00Z"), None), Some(at("2026-12-03T07:00:00Z")));
        // In New York's quiet hours, by New York's clock.
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(s.opens(at("2026-12-03T03:00:00Z"), Some(&ny)), Some(at("2026-12-03T13:00:00Z")));
        // Open now, or expired before it would open: nothing to wait for.
        assert_eq!(s.opens(at("2026-12-02T12:00:00Z"), None), None);
        assert_eq!(s.opens(at("2026-12-07T22:00:00Z"), None), None);
    }

    #[test]
    fn expiry_wins_over_everything() {
        let s = Schedule {
            not_before: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            not_after: Some("2026-12-08T00:00:00Z".parse().unwrap()),
            quiet_hours: None,
        };
        assert_eq!(s.slot("2026-11-30T00:00:00Z".parse().unwrap(), None), Slot::NotBefore);
        assert_eq!(s.slot("2026-12-02T00:00:00Z".parse().unwrap(), None), Slot::Open);
        assert_eq!(s.slot("2026-12-09T00:00:00Z".parse().unwrap(), None), Slot::Expired);
    }
}
