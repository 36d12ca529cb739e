//! Phone numbers to E.164 (SPEC §3 step 1): `+` and 8–15 digits; spaces,
//! dashes, dots and parentheses dropped; `00` read as `+`; a number without
//! `+` takes the campaign's `default_country` (its calling code, with the
//! national trunk prefix removed, from libphonenumber's metadata).

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
        let meta = phonenumber::metadata::DATABASE.by_id(id.as_str())?;
        Some(Region {
            calling_code: meta.country_code(),
            national_prefix: meta.national_prefix().map(str::to_string),
            id,
        })
    }
}

/// Why a number could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    BadCharacter(char),
    NoCountry,
    Length(usize),
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
        }
    }
}

/// Normalize `raw` to E.164, appending into a fresh string.
pub fn normalize(raw: &str, region: Option<&Region>) -> Result<String, PhoneError> {
    let t = raw.trim();
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
    let national = if plus {
        None
    } else if let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_string();
        None
    } else {
        let region = region.ok_or(PhoneError::NoCountry)?;
        let mut national = digits.as_str();
        if let Some(p) = region.national_prefix.as_deref() {
            national = national.strip_prefix(p).unwrap_or(national);
        }
        Some(format!("{}{}", region.calling_code, national))
    };
    let digits = national.unwrap_or(digits);
    if !(8..=15).contains(&digits.len()) {
        return Err(PhoneError::Length(digits.len()));
    }
    let mut out = String::with_capacity(digits.len() + 1);
    out.push('+');
    out.push_str(&digits);
    Ok(out)
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
}
