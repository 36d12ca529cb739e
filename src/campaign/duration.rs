//! Durations as written in campaign files: `500ms`, `30s`, `15m`, `24h`.

use std::fmt;
use std::time::Duration;

/// A duration parsed from the campaign file's notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "DurationText")]
pub struct Span(pub Duration);

impl schemars::JsonSchema for Span {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$", "examples": ["500ms", "30s", "15m", "24h", "7d"] })
    }
}

/// Accept `30s` as well as a bare YAML number of seconds.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum DurationText {
    Text(String),
    Seconds(u64),
}

impl TryFrom<DurationText> for Span {
    type Error = String;
    fn try_from(v: DurationText) -> Result<Self, String> {
        match v {
            DurationText::Text(s) => parse(&s).map(Span),
            DurationText::Seconds(n) => {
                Err(format!("duration `{n}` has no unit; write it as `{n}s`, `{n}m`, `{n}h` or `{n}ms`"))
            }
        }
    }
}

/// Parse `<number><unit>` with unit one of ms, s, m, h.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        format!("invalid duration `{s}`: write a whole number and a unit, like `500ms`, `30s`, `15m`, `24h` or `7d`")
    };
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(bad()),
    };
    ms.map(Duration::from_millis).ok_or_else(bad)
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in ["", "15", "m", "1.5h", "10 days", "-3s", "99999999999999999999h"] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Span(Duration::from_secs(900)).to_string(), "15m");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1500ms");
    }
}
