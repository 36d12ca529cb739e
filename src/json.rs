//! JSON text written by hand where the program writes a lot of it (a dry
//! run's JSONL lines): strings copied as they are when nothing in them needs
//! escaping, serde_json's escaping otherwise. Tests hold the text equal to
//! serde_json's. (Request bodies stay serde's: a body must be a `RawValue`,
//! and making one from text parses it again, which costs more than it saves.)

/// A JSON string: copied as it is when nothing in it needs escaping (what
/// serde_json escapes: `"`, `\\` and control characters), else by serde_json.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
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

/// A JSON string, or `null`.
pub fn write_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}
