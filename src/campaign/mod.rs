//! The campaign file (SPEC §2): read once, validated at the door into plain
//! types. Deeper code never sees raw YAML.

pub mod duration;
mod raw;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Location, Result};
use crate::phone;
use crate::wire::message::{Message, Text};
pub use schedule::{QuietHours, Schedule};

/// A validated campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The YAML file as given.
    pub path: PathBuf,
    /// Its text (for locating fields in error messages).
    pub source: String,
    pub name: String,
    pub business_id: String,
    /// The business numbers to send from: none (Connectly's default), one,
    /// or a pool (SPEC §3 step 4).
    pub senders: Vec<String>,
    pub recipients: Recipients,
    /// `once_per` template source.
    pub once_per: String,
    pub session: Option<Session>,
    pub template: Option<Template>,
    pub window_margin: Duration,
    pub rate: Rate,
    pub retry: Retry,
    pub templates_per_day: Option<u32>,
    /// `limits.per_recipient`: most template messages one customer receives
    /// from every campaign of the ledger within a span.
    pub per_recipient: Option<PerRecipient>,
    pub schedule: Schedule,
    /// Ledger path from the file (or the default beside it).
    pub state: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Recipients {
    pub csv: PathBuf,
    pub phone_column: String,
    pub default_country: Option<phone::Region>,
    pub last_inbound_column: Option<String>,
    pub timezone_column: Option<String>,
    pub suppress: Option<PathBuf>,
    /// Per-row sender number, one of `senders` when a pool is given.
    pub sender_column: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    /// Body template file and its source.
    pub body: Option<(PathBuf, String)>,
    /// The rest of the message, every string a template source.
    pub message: Message<String>,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// Parameters in the order written.
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub value: String,
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: u32,
    /// The pace of one sender number.
    pub per_sender: u32,
    pub burst: u32,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub max_backoff: Duration,
    pub abort_after: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerRecipient {
    pub templates: u32,
    pub per: Duration,
}

impl Campaign {
    /// Read and validate a campaign file.
    pub fn load(path: &Path) -> Result<Campaign> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            Error::input(
                path,
                Location::default(),
                format!("cannot read the campaign file: {}", crate::error::io_words(&e)),
                "check the path; campaign files are YAML, e.g. campaigns/spring-sale.yaml",
            )
        })?;
        let raw: raw::Campaign = yaml_serde::from_str(&source).map_err(|e| yaml_error(path, &source, &e))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        raw.validate(path, &dir, source)
    }
}

/// A business number as the campaign file writes it: `+` and 8–15 digits.
pub fn is_e164(s: &str) -> bool {
    raw::strict_e164(s).is_some()
}

/// The JSON Schema (draft 7) of the campaign file, from the types it is read into.
pub fn schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<raw::Campaign>();
    let mut value = schema.to_value();
    drop_null_defaults(&mut value);
    value
}

/// `"default": null` says nothing an optional key does not: left out so
/// that editors show the description, which names the real default.
fn drop_null_defaults(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("default").is_some_and(serde_json::Value::is_null) {
                m.remove("default");
            }
            m.values_mut().for_each(drop_null_defaults);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_null_defaults),
        _ => {}
    }
}

/// A file that is not YAML, or not the campaign's shape, said in the user's terms.
fn yaml_error(path: &Path, source: &str, e: &yaml_serde::Error) -> Error {
    let line = e.location().map(|l| l.line());
    let at = e.location().map(|l| Location::line(l.line(), Some(l.column()))).unwrap_or_default();
    let msg = e.to_string();
    let first = source.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    if msg.contains("expected struct Campaign") {
        let csv = path.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))
            || (!first.contains(": ") && [',', ';', '\t'].iter().any(|d| first.contains(*d)));
        let what = if csv {
            "this is not a campaign file: it looks like a CSV (a list of recipients)"
        } else {
            "this is not a campaign file: a campaign file is YAML keys (name, business_id, recipients, …)"
        };
        return Error::input(
            path,
            Location::default(),
            what,
            "give the campaign's YAML file, whose `recipients.csv` names the CSV (e.g. campaign run campaigns/winback.yaml); `campaign init DIR` makes a new one",
        );
    }
    let tab = line.and_then(|l| source.lines().nth(l.saturating_sub(1))).is_some_and(|l| {
        l.trim_end_matches(['\r', '\n']).chars().take_while(|c| c.is_whitespace() || *c == '\t').any(|c| c == '\t')
            || (msg.contains("cannot start any token") && l.contains('\t'))
    });
    if tab {
        return Error::input(
            path,
            at,
            "a tab character: tabs are not allowed for indentation in YAML",
            "indent with spaces (two per level, as in the examples); set your editor to insert spaces in .yaml files",
        );
    }
    // An error about one template parameter is reported when the whole
    // mapping has been read: point at that parameter's own line.
    let param = msg.split("parameter `").nth(1).and_then(|r| r.split('`').next());
    let at = match param.and_then(|p| locate(source, &["template", "parameters", p])) {
        Some(l) => Location::line(l, None),
        None => at,
    };
    let fix = match param {
        Some(p) if raw::is_param_name(p) => raw::param_forms(p),
        _ => "fix the campaign file; the README's \"The campaign file\" section lists every key".into(),
    };
    let fix = match closest_key(&msg) {
        Some(key) => format!("did you mean `{key}`? Otherwise {fix}"),
        None => fix,
    };
    Error::input(path, at, clean_yaml_message(&msg), fix)
}

/// For "unknown field `x`, expected one of `a`, `b`, …": the valid key
/// closest to `x`, when one is close enough to be a misspelling of it.
fn closest_key(msg: &str) -> Option<&str> {
    let rest = msg.split_once("unknown field `")?.1;
    let (unknown, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected")?.1;
    let candidates = expected.split('`').skip(1).step_by(2);
    let (score, key) = candidates
        .map(|k| (strsim::jaro_winkler(&unknown.to_lowercase(), &k.to_lowercase()), k))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    (score >= 0.8 && key != unknown).then_some(key)
}

/// yaml errors end with "at line X column Y", which the location already
/// says, and name the types they expected: say what is expected instead.
fn clean_yaml_message(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.find("expected struct ") {
        Some(i) => format!("{}expected keys and values (key: value, one per line)", &msg[..i]),
        None => msg.to_string(),
    }
}

/// The 1-based line of a nested key in YAML text: each key is searched for
/// below the line of the one before it. Good enough to point a person at it.
pub fn locate(source: &str, keys: &[&str]) -> Option<usize> {
    let mut from = 0usize;
    let mut found = None;
    for key in keys {
        let key = key.split('[').next().unwrap_or(key);
        let hit = source.lines().enumerate().skip(from).find(|(_, line)| {
            let t = line.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix(key)
                .or_else(|| t.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        });
        match hit {
            Some((i, _)) => {
                found = Some(i + 1);
                from = i + 1;
            }
            None => return found,
        }
    }
    found
}

/// Template sources of the session message, for compiling.
pub fn message_sources(m: &Message<Text>) -> Message<String> {
    match crate::wire::message::map_message(m, &mut |t: &Text, _| Ok::<_, std::convert::Infallible>(t.0.clone())) {
        Ok(m) => m,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_keys() {
        let src = "name: x\ntemplate:\n  name: t\n  parameters:\n    body_1: a\n    body_2: b\n";
        assert_eq!(locate(src, &["template", "parameters", "body_2"]), Some(6));
        assert_eq!(locate(src, &["name"]), Some(1));
        assert_eq!(locate(src, &["template", "name"]), Some(3));
    }

    #[test]
    fn a_misspelt_key_is_matched_to_the_closest_valid_one() {
        let top = "unknown field `{}`, expected one of `name`, `business_id`, `sender`, `recipients`, `once_per`, `session`, `template`, `window`, `rate`, `retry`, `limits`, `schedule`, `state`";
        let at = |k: &str| closest_key(&top.replace("{}", k)).map(str::to_string);
        for (typed, meant) in [
            ("nme", "name"),
            ("retries", "retry"),
            ("bussiness_id", "business_id"),
            ("Template", "template"),
            ("limit", "limits"),
            ("shedule", "schedule"),
        ] {
            assert_eq!(at(typed).as_deref(), Some(meant), "{typed}");
        }
        for far in ["colour", "x", "priority"] {
            assert_eq!(at(far), None, "{far}");
        }
        let two = "session.message.listMessage.header: unknown field `txt`, expected `text` or `attachment`";
        assert_eq!(closest_key(two), Some("text"));
        assert_eq!(closest_key("invalid type: sequence, expected a string"), None);
    }
}
