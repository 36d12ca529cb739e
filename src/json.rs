//! JSON text written by hand where the program writes a lot of it (a dry
//! run's JSONL lines): strings copied as they are when nothing in them needs
//! escaping, serde_json's escaping otherwise. Tests hold the text equal to
//! serde_json's.

use serde::Serialize;
use serde_json::value::RawValue;

/// JSON text this program made (a request body): by serde (`of`) or
/// written by hand from the writers below (`written`). Held as text, so it
/// needs no second parse to be trusted as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(Box<str>);

impl Json {
    /// What serde makes of `v`.
    pub fn of<T: Serialize + ?Sized>(v: &T) -> Json {
        // Plain structs of strings and numbers always serialize.
        Json(serde_json::to_string(v).unwrap_or_else(|_| "null".into()).into_boxed_str())
    }

    /// Text written with this module's writers, JSON by construction.
    pub fn written(text: String) -> Json {
        Json(text.into_boxed_str())
    }

    pub fn get(&self) -> &str {
        &self.0
    }
}

impl Serialize for Json {
    /// As the JSON it is (an outcome's `request.body`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// A JSON string: copied as it is when nothing in it needs escaping (what
/// serde_json escapes: `"`, `\\` and control characters), else by serde_json.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // No early exit: the whole string is checked in wide steps.
    let plain = s.bytes().fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `,"name":` (as `field`, its separator included) and a string.
pub fn str_field(out: &mut Vec<u8>, field: &[u8], s: &str) {
    out.extend_from_slice(field);
    write_str(out, s);
}

/// `,"name":` and a string or `null`.
pub fn opt_field(out: &mut Vec<u8>, field: &[u8], s: Option<&str>) {
    match s {
        Some(s) => str_field(out, field, s),
        None => raw_field(out, field, "null"),
    }
}

/// `,"name":` and JSON text as it is.
pub fn raw_field(out: &mut Vec<u8>, field: &[u8], json: &str) {
    out.extend_from_slice(field);
    out.extend_from_slice(json.as_bytes());
}
