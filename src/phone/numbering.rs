//! Numbering plans (libphonenumber's metadata, from the `phonenumber` crate,
//! written out as data by `build.rs`), compiled for speed: a number is valid
//! when one region of its calling code has a number type (fixed line,
//! mobile, toll free …) whose pattern matches it whole, as libphonenumber's
//! `isValidNumber` decides. Each region's patterns become one anchored
//! DFA, built the first time a number of that region is met, so a check
//! costs a few dozen nanoseconds and a run pays only for the countries its
//! numbers are from.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use regex_automata::Anchored;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::{start, syntax};

/// What the metadata says of one region (a country or territory).
pub struct Plan {
    /// ISO 3166 code, such as `CA` (or `001` for non-geographic numbers).
    pub id: &'static str,
    pub code: u16,
    /// The main region of its calling code (US for +1).
    pub main: bool,
    /// The national (trunk) prefix, such as the 0 of 07911 123456.
    pub national_prefix: Option<&'static str>,
    /// The leading digits that tell this region from others of its code.
    leading: Option<&'static str>,
    /// The national-number pattern of each number type `isValidNumber`
    /// accepts (fixed line, mobile, toll free, premium rate, shared cost,
    /// VoIP, personal, pager, UAN, voicemail) that the region has.
    patterns: &'static [&'static str],
    /// The possible lengths of those types, one list after the other.
    lengths: &'static [u16],
}

/// Every region, in the order the `phonenumber` crate lists them.
static PLANS: &[Plan] = include!(concat!(env!("OUT_DIR"), "/numbering_plans.rs"));

/// The region with this ISO 3166 code (upper case).
pub fn region(id: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.id == id)
}

/// What the plan says of a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, in this region (ISO code).
    Valid(&'static str),
    /// No country has this calling code.
    UnknownCode,
    /// The national number has a length no number of the calling code has.
    Length { code: u16, have: usize, lengths: Vec<u16> },
    /// The right length, but no range of the plan holds it.
    NotInPlan { code: u16 },
}

struct Region {
    meta: &'static Plan,
    leading: OnceLock<Option<Matcher>>,
    valid: OnceLock<Option<Matcher>>,
}

struct Code {
    /// Regions told apart by leading digits last (US and CA before the other +1 regions).
    regions: Vec<Region>,
    /// Every length a national number of the code's main region may have, ascending.
    lengths: Vec<u16>,
}

/// Calling codes are below 1000: the plans are indexed by code.
fn codes() -> &'static [Option<Code>] {
    static CODES: OnceLock<Vec<Option<Code>>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes: HashMap<u16, Code> = HashMap::new();
        for meta in PLANS {
            let code = codes.entry(meta.code).or_insert_with(|| Code { regions: vec![], lengths: vec![] });
            let region = Region { meta, leading: OnceLock::new(), valid: OnceLock::new() };
            code.regions.push(region);
            if meta.main || code.regions.len() == 1 {
                code.lengths.clear();
                code.lengths.extend_from_slice(meta.lengths);
            }
        }
        let mut table: Vec<Option<Code>> = (0..1000).map(|_| None).collect();
        for (n, mut code) in codes {
            code.lengths.sort_unstable();
            code.lengths.dedup();
            // Regions told apart by leading digits come after those that are not.
            code.regions.sort_by_key(|r| r.meta.leading.is_some());
            if let Some(slot) = table.get_mut(usize::from(n)) {
                *slot = Some(code);
            }
        }
        table
    })
}

fn code(n: u16) -> Option<&'static Code> {
    codes().get(usize::from(n))?.as_ref()
}

/// libphonenumber's patterns are written with spaces and line breaks for reading.
fn compile<'a>(patterns: impl Iterator<Item = &'a str>, prefix_only: bool) -> Option<Matcher> {
    let alts: Vec<String> = patterns
        .map(|p| p.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|p| !p.is_empty())
        .map(|p| format!("(?:{p})"))
        .collect();
    if alts.is_empty() {
        return None;
    }
    let end = if prefix_only { "" } else { "$" };
    Matcher::new(format!("^(?:{}){end}", alts.join("|")))
}

/// A region's pattern, matched against national numbers (ASCII digits).
/// Built as a DFA when it is first needed: no cache to fetch per thread, one
/// table step per digit (a tenth of a general regex search on numbers this
/// short). A pattern whose DFA would be too large is left to the regex crate.
struct Matcher {
    pattern: String,
    dfa: Option<dense::DFA<Vec<u32>>>,
    regex: OnceLock<Option<Regex>>,
}

impl Matcher {
    fn new(pattern: String) -> Option<Matcher> {
        let dfa = dense::Builder::new()
            .configure(dense::Config::new().dfa_size_limit(Some(4 << 20)).determinize_size_limit(Some(16 << 20)))
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build(&pattern)
            .ok();
        let m = Matcher { pattern, dfa, regex: OnceLock::new() };
        if m.dfa.is_none() && m.regex().is_none() {
            return None;
        }
        Some(m)
    }

    fn regex(&self) -> Option<&Regex> {
        let build = || RegexBuilder::new(&self.pattern).size_limit(64 << 20).dfa_size_limit(16 << 20).build().ok();
        self.regex.get_or_init(build).as_ref()
    }

    fn is_match(&self, digits: &str) -> bool {
        match self.dfa.as_ref().and_then(|dfa| walk(dfa, digits)) {
            Some(yes) => yes,
            None => self.regex().is_some_and(|r| r.is_match(digits)),
        }
    }
}

/// Whether `dfa` (anchored at the start) matches `s`; `None` if the DFA
/// cannot say (it gives up only on bytes it was told to quit on: none here).
fn walk(dfa: &dense::DFA<Vec<u32>>, s: &str) -> Option<bool> {
    let mut state = dfa.start_state(&start::Config::new().anchored(Anchored::Yes)).ok()?;
    for &b in s.as_bytes() {
        state = dfa.next_state(state, b);
        if dfa.is_special_state(state) {
            if dfa.is_match_state(state) {
                return Some(true);
            }
            if dfa.is_dead_state(state) {
                return Some(false);
            }
            if dfa.is_quit_state(state) {
                return None;
            }
        }
    }
    Some(dfa.is_match_state(dfa.next_eoi_state(state)))
}

impl Region {
    fn may_hold(&self, national: &str) -> bool {
        let leading = self.leading.get_or_init(|| self.meta.leading.and_then(|r| compile(std::iter::once(r), true)));
        leading.as_ref().is_none_or(|r| r.is_match(national))
    }

    fn holds(&self, national: &str) -> bool {
        let valid = self.valid.get_or_init(|| compile(self.meta.patterns.iter().copied(), false));
        valid.as_ref().is_some_and(|r| r.is_match(national))
    }
}

/// The calling code at the start of `digits` (an E.164 number without `+`)
/// and the national number after it.
pub fn split(digits: &str) -> Option<(u16, &str)> {
    plan_of(digits).map(|(_, n, national)| (n, national))
}

fn plan_of(digits: &str) -> Option<(&'static Code, u16, &str)> {
    (1..=3.min(digits.len())).find_map(|len| {
        let n: u16 = digits[..len].parse().ok()?;
        code(n).map(|c| (c, n, &digits[len..]))
    })
}

/// Check an E.164 number, given without its `+`.
pub fn check(digits: &str) -> Verdict {
    let Some((plan, code, national)) = plan_of(digits) else { return Verdict::UnknownCode };
    for region in &plan.regions {
        if region.may_hold(national) && region.holds(national) {
            return Verdict::Valid(region.meta.id);
        }
    }
    let have = national.len();
    if !plan.lengths.contains(&(have as u16)) {
        return Verdict::Length { code, have, lengths: plan.lengths.clone() };
    }
    Verdict::NotInPlan { code }
}

/// The national (trunk) prefix of the main region of a calling code, such
/// as the 0 of +44 (0) 7911 123456.
pub fn trunk_prefix(n: u16) -> Option<&'static str> {
    let regions = &code(n)?.regions;
    regions.iter().find(|r| r.meta.main).or(regions.first())?.meta.national_prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_and_their_region() {
        assert_eq!(check("16044441111"), Verdict::Valid("CA"));
        assert_eq!(check("12025550123"), Verdict::Valid("US"));
        assert!(matches!(check("447911123456"), Verdict::Valid(_)));
        assert_eq!(check("34612345678"), Verdict::Valid("ES"));
        assert_eq!(check("12684601234"), Verdict::Valid("AG"));
    }

    #[test]
    fn a_pattern_the_dfa_cannot_hold_is_matched_by_the_regex_crate() {
        // Unicode classes are left out of the DFAs: this one falls back.
        let m = Matcher::new(r"^(?:\p{Greek}\d)$".to_string()).unwrap();
        assert!(m.dfa.is_none());
        assert!(m.is_match("α1") && !m.is_match("a1"));
        let prefix = Matcher::new("^(?:268|664)".to_string()).unwrap();
        assert!(prefix.dfa.is_some());
        assert!(prefix.is_match("2684601234") && !prefix.is_match("2694601234") && !prefix.is_match("26"));
    }

    #[test]
    fn invalid_numbers_say_why() {
        assert_eq!(check("99912345678"), Verdict::UnknownCode);
        assert!(matches!(check("160455501"), Verdict::Length { code: 1, have: 8, .. }));
        assert!(matches!(check("160455501050"), Verdict::Length { code: 1, have: 11, .. }));
        assert_eq!(check("14151111234"), Verdict::NotInPlan { code: 1 });
        assert_eq!(trunk_prefix(44), Some("0"));
    }
}
