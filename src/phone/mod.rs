//! Phone numbers to E.164 (SPEC §3 step 1): spaces, dashes, dots and
//! parentheses dropped; `00` read as `+`; a number without `+` takes the
//! campaign's `default_country` (its calling code, with the national trunk
//! prefix removed). A recipient's number is then checked against its
//! country's numbering plan (`numbering`), and a number that fails says
//! what most likely went wrong: a spreadsheet float, scientific notation,
//! the wrong country, a trunk prefix, a digit too many or too few.

pub mod numbering;

use numbering::Verdict;

/// A region for numbers written without `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub id: String,
    pub calling_code: u16,
    pub national_prefix: Option<String>,
}

impl Region {
    /// Look up an ISO 3166 region code such as `US` or `GB`.
    pub fn lookup(id: &str) -> Option<Region> {
        let id = id.trim().to_ascii_uppercase();
        let plan = numbering::region(&id)?;
        Some(Region { calling_code: plan.code, national_prefix: plan.national_prefix.map(str::to_string), id })
    }
}

/// Why a number could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    BadCharacter(char),
    NoCountry,
    Length(usize),
    /// `16045550105.0`: the column was saved as numbers.
    SpreadsheetFloat,
    /// `1.6E+10`: the spreadsheet showed it in scientific notation.
    Scientific,
    /// Written with `+` (or `00`), but not a number of that country's plan
    /// (nor once the trunk prefix `trunk` after the calling code is dropped).
    Invalid {
        number: String,
        verdict: Verdict,
        trunk: Option<String>,
    },
    /// Written without `+`, and not a number of `default_country`.
    NotForCountry {
        region: String,
        verdict: Verdict,
        abroad: Option<String>,
        leading_zero: bool,
    },
}

impl std::fmt::Display for PhoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhoneError::Empty => f.write_str("phone number is empty"),
            PhoneError::BadCharacter(c) => write!(f, "phone number has `{c}`, which is not a digit"),
            PhoneError::NoCountry => f.write_str(
                "phone number has no country code: write it with `+` (e.g. +16044441111) or set recipients.default_country",
            ),
            PhoneError::Length(n) => write!(f, "phone number has {n} digits; E.164 numbers have 8 to 15"),
            PhoneError::SpreadsheetFloat => f.write_str(
                "this is a spreadsheet number (it ends in `.0`: the column was saved as numbers, not text); format the phone column as text and export the CSV again",
            ),
            PhoneError::Scientific => f.write_str(
                "this is scientific notation (the spreadsheet showed a long number as 1.6E+10 and its last digits are lost); format the phone column as text, restore the numbers and export the CSV again",
            ),
            PhoneError::Invalid { number, verdict, trunk } => {
                write!(f, "{number} {}", why(verdict))?;
                if let Some(p) = trunk {
                    write!(f, " (also without the trunk prefix {p} after the country code)")?;
                }
                if let Verdict::Length { .. } | Verdict::NotInPlan { .. } = verdict {
                    f.write_str("; check for a digit missing, extra or mistyped")?;
                }
                Ok(())
            }
            PhoneError::NotForCountry { region, verdict, abroad, leading_zero } => {
                write!(f, "not a valid number of {region} (recipients.default_country): it {}", why(verdict))?;
                match (abroad, leading_zero) {
                    (Some(n), _) => write!(f, "; it looks like an international number written without `+`: write {n}"),
                    (None, true) => f.write_str(
                        "; the leading 0 is the trunk prefix of another country: write the number with `+` and its country code",
                    ),
                    (None, false) => f.write_str(
                        "; if the customer's number is from another country, write it with `+` and its country code",
                    ),
                }
            }
        }
    }
}

/// What the numbering plan found wrong, as the rest of a sentence.
fn why(v: &Verdict) -> String {
    match v {
        Verdict::Valid(r) => format!("is a valid {r} number"),
        Verdict::UnknownCode => "starts with no country calling code".into(),
        Verdict::Length { code, have, lengths } => {
            let (min, max) = (lengths.first().copied().unwrap_or(0), lengths.last().copied().unwrap_or(0));
            let size = if (*have as u16) < min {
                "is too short"
            } else if (*have as u16) > max {
                "is too long"
            } else {
                "has the wrong length"
            };
            let list: Vec<String> = lengths.iter().map(u16::to_string).collect();
            format!(
                "{size}: +{code} numbers have {} digits after the country code, this one has {have}",
                list.join(" or ")
            )
        }
        Verdict::NotInPlan { code } => format!("is not in the +{code} numbering plan (no such range is in use)"),
    }
}

/// The digits of a number as written, and whether it was written
/// internationally (`+` or `00`).
fn digits(t: &str) -> Result<(String, bool), PhoneError> {
    if t.is_empty() {
        return Err(PhoneError::Empty);
    }
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for (i, c) in t.char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return Err(PhoneError::BadCharacter(c)),
        }
    }
    if !plus && let Some(rest) = digits.strip_prefix("00") {
        return Ok((rest.to_string(), true));
    }
    Ok((digits, plus))
}

fn plus(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + 1);
    out.push('+');
    out.push_str(digits);
    out
}

/// Normalize `raw` to E.164 without consulting the numbering plan (numbers
/// that arrive from WhatsApp itself).
pub fn normalize(raw: &str, region: Option<&Region>) -> Result<String, PhoneError> {
    let (mut digits, international) = digits(raw.trim())?;
    if !international {
        let region = region.ok_or(PhoneError::NoCountry)?;
        let mut national = digits.as_str();
        if let Some(p) = region.national_prefix.as_deref() {
            national = national.strip_prefix(p).unwrap_or(national);
        }
        digits = format!("{}{}", region.calling_code, national);
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(PhoneError::Length(digits.len()));
    }
    Ok(plus(&digits))
}

/// A recipient's number: normalized to E.164 and valid in its country's
/// numbering plan (SPEC §3 step 1).
pub fn recipient(raw: &str, region: Option<&Region>) -> Result<String, PhoneError> {
    let t = raw.trim();
    spreadsheet(t)?;
    let (digits, international) = digits(t)?;
    if international {
        return international_number(digits);
    }
    national_number(&digits, region.ok_or(PhoneError::NoCountry)?)
}

/// Numbers a spreadsheet changed: `16045550105.0`, `1.6E+10`, `1,6E+10`.
fn spreadsheet(t: &str) -> Result<(), PhoneError> {
    let t = t.strip_prefix('+').unwrap_or(t);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Most numbers: digits only, nothing a spreadsheet did.
    if all_digits(t) {
        return Ok(());
    }
    if let Some((whole, zeros)) = t.split_once('.')
        && all_digits(whole)
        && whole.len() >= 7
        && !zeros.is_empty()
        && zeros.bytes().all(|b| b == b'0')
    {
        return Err(PhoneError::SpreadsheetFloat);
    }
    if let Some((mantissa, exp)) = t.split_once(['e', 'E']) {
        let exp = exp.strip_prefix('+').unwrap_or(exp);
        let mut parts = mantissa.splitn(2, ['.', ',']);
        let whole = parts.next().unwrap_or("");
        let fraction_ok = parts.next().is_none_or(all_digits);
        if all_digits(whole) && fraction_ok && all_digits(exp) {
            return Err(PhoneError::Scientific);
        }
    }
    Ok(())
}

fn valid(digits: &str) -> bool {
    matches!(numbering::check(digits), Verdict::Valid(_))
}

/// `+` and a calling code: valid as written, or once the trunk prefix that
/// follows the code is dropped (`+44 (0) 7911 123456`).
fn international_number(mut digits: String) -> Result<String, PhoneError> {
    let verdict = numbering::check(&digits);
    if let Verdict::Valid(_) = verdict {
        // Most numbers: the digits' own buffer becomes the E.164 number.
        digits.insert(0, '+');
        return Ok(digits);
    }
    let mut trunk = None;
    if let Some((code, national)) = numbering::split(&digits)
        && let Some(p) = numbering::trunk_prefix(code).filter(|p| national.starts_with(*p))
    {
        let fixed = format!("{code}{}", &national[p.len()..]);
        if valid(&fixed) {
            return Ok(plus(&fixed));
        }
        trunk = Some(p.to_string());
    }
    Err(PhoneError::Invalid { number: plus(&digits), verdict, trunk })
}

/// A national number of `default_country`, with or without its trunk prefix.
fn national_number(digits: &str, region: &Region) -> Result<String, PhoneError> {
    let stripped = region.national_prefix.as_deref().and_then(|p| digits.strip_prefix(p));
    for national in stripped.into_iter().chain(std::iter::once(digits)) {
        let full = format!("{}{national}", region.calling_code);
        if valid(&full) {
            return Ok(plus(&full));
        }
    }
    let verdict = numbering::check(&format!("{}{}", region.calling_code, stripped.unwrap_or(digits)));
    Err(PhoneError::NotForCountry {
        region: region.id.clone(),
        verdict,
        abroad: valid(digits).then(|| plus(digits)),
        leading_zero: digits.starts_with('0') && region.national_prefix.as_deref() != Some("0"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_international_numbers_and_drops_punctuation() {
        assert_eq!(normalize("+1 (604) 444-1111", None).unwrap(), "+16044441111");
        assert_eq!(normalize("0034 612.345.678", None).unwrap(), "+34612345678");
    }

    #[test]
    fn national_numbers_take_the_default_country() {
        let us = Region::lookup("us").unwrap();
        assert_eq!(normalize("604 444 1111", Some(&us)).unwrap(), "+16044441111");
        assert_eq!(normalize("1-604-444-1111", Some(&us)).unwrap(), "+16044441111");
        let gb = Region::lookup("GB").unwrap();
        assert_eq!(normalize("07700 900123", Some(&gb)).unwrap(), "+447700900123");
        assert_eq!(normalize("604 444 1111", None), Err(PhoneError::NoCountry));
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(normalize("", None), Err(PhoneError::Empty));
        assert_eq!(normalize("+1 604 CALL NOW", None), Err(PhoneError::BadCharacter('C')));
        assert_eq!(normalize("+123", None), Err(PhoneError::Length(3)));
        assert_eq!(normalize("+1234567890123456", None), Err(PhoneError::Length(16)));
        assert!(Region::lookup("ZZ").is_none());
    }

    #[test]
    fn recipients_are_checked_against_the_numbering_plan() {
        let ca = Region::lookup("CA").unwrap();
        let gb = Region::lookup("GB").unwrap();
        assert_eq!(recipient("+1 (604) 444-1111", None).unwrap(), "+16044441111");
        assert_eq!(recipient("1-604-555-0105", Some(&ca)).unwrap(), "+16045550105");
        assert_eq!(recipient("07911 123456", Some(&gb)).unwrap(), "+447911123456");
        assert_eq!(recipient("+44 (0) 7911 123456", None).unwrap(), "+447911123456");
        assert_eq!(recipient("0044 7911 123456", Some(&ca)).unwrap(), "+447911123456");
        let short = recipient("+1 604 555 01", None).unwrap_err();
        assert!(short.to_string().contains("too short: +1 numbers have 10 digits"), "{short}");
        assert_eq!(recipient("16045550105.0", Some(&ca)), Err(PhoneError::SpreadsheetFloat));
        assert_eq!(recipient("1.6E+10", Some(&ca)), Err(PhoneError::Scientific));
        assert_eq!(recipient("1,60455501E+10", None), Err(PhoneError::Scientific));
        let abroad = recipient("07700 900125", Some(&ca)).unwrap_err();
        assert!(abroad.to_string().contains("not a valid number of CA"), "{abroad}");
        assert!(abroad.to_string().contains("trunk prefix of another country"), "{abroad}");
        let no_plus = recipient("447911123456", Some(&ca)).unwrap_err();
        assert!(no_plus.to_string().contains("write +447911123456"), "{no_plus}");
        assert!(recipient("+99912345678", None).unwrap_err().to_string().contains("no country calling code"));
        assert!(recipient("604.555.0105", Some(&ca)).is_ok(), "dots as separators are not a float");
        let fiction = recipient("+44 (0) 7700 900124", None).unwrap_err().to_string();
        assert!(fiction.contains("also without the trunk prefix 0"), "{fiction}");
    }
}
