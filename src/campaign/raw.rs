//! The campaign file exactly as written; `validate` turns it into plain types.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::duration::Span;
use super::{Parameter, QuietHours, Rate, Recipients, Retry, Schedule, Session, Template};
use crate::error::{Error, FieldError, Location, Result};
use crate::phone::Region;
use crate::wire::message::{Message, Text};

/// A `campaign` file: who to message (a CSV), what to send inside WhatsApp's
/// 24-hour window (`session`) and outside it (`template`), and how fast.
/// Paths are relative to this file's folder.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "campaign file")]
pub struct Campaign {
    /// The campaign's name: lowercase letters, digits, `-` and `_`. The ledger's key and Connectly's campaignName.
    name: Text,
    /// The Connectly business id, from the Connectly dashboard.
    business_id: Text,
    /// Which of the business's WhatsApp numbers sends, in E.164 (quote it: "+14151111234"); or a list of them, a pool.
    #[serde(default)]
    sender: Option<Senders>,
    /// Who to message: the CSV and how to read it.
    recipients: RawRecipients,
    /// A template: one message per distinct value, ever (default "{{ recipient }}").
    #[serde(default)]
    once_per: Option<Text>,
    /// What to send inside the 24-hour window: a free-form message.
    #[serde(default)]
    session: Option<RawSession>,
    /// What to send outside the 24-hour window: an approved WhatsApp template.
    #[serde(default)]
    template: Option<RawTemplate>,
    /// The 24-hour window rule.
    #[serde(default)]
    window: Option<RawWindow>,
    /// How fast requests leave.
    #[serde(default)]
    rate: Option<RawRate>,
    /// Retries of 429, 5xx and network errors, and when a failure streak aborts the run.
    #[serde(default)]
    retry: Option<RawRetry>,
    /// Caps over every campaign that shares the ledger.
    #[serde(default)]
    limits: Option<RawLimits>,
    /// When messages may be sent.
    #[serde(default)]
    schedule: Option<RawSchedule>,
    /// The ledger file (default .campaign/state.db beside this file).
    #[serde(default)]
    state: Option<Text>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Recipients")]
struct RawRecipients {
    /// The recipients CSV (comma-separated, UTF-8); its header row names the columns.
    csv: Text,
    /// The column holding phone numbers (default "phone").
    #[serde(default)]
    phone_column: Option<Text>,
    /// Two-letter region (ISO 3166, e.g. US) for numbers written without +.
    #[serde(default)]
    default_country: Option<Text>,
    /// The column with each customer's last message to you: RFC 3339 or Unix seconds; empty = unknown.
    #[serde(default)]
    last_inbound_column: Option<Text>,
    /// The column with each recipient's IANA time zone (for quiet hours).
    #[serde(default)]
    timezone_column: Option<Text>,
    /// A CSV of numbers never to message.
    #[serde(default)]
    suppress: Option<Text>,
    /// The column naming each row's sender, one of `sender`'s numbers.
    #[serde(default)]
    sender_column: Option<Text>,
}

/// `sender`: one number, or a pool of them.
enum Senders {
    One(Text),
    Pool(Vec<Text>),
}

impl JsonSchema for Senders {
    fn schema_name() -> Cow<'static, str> {
        "Senders".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let one = g.subschema_for::<Text>();
        json_schema!({ "anyOf": [one, { "type": "array", "items": one, "minItems": 1 }] })
    }
}

impl<'de> Deserialize<'de> for Senders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Senders;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sender number such as \"+14151111234\", or a list of them")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Senders, E> {
                Ok(Senders::One(Text(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Senders, E> {
                Ok(Senders::One(Text(v.to_string())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Senders, E> {
                Ok(Senders::One(Text(v.to_string())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Senders, A::Error> {
                let mut pool = Vec::new();
                while let Some(t) = seq.next_element::<Text>()? {
                    pool.push(t);
                }
                Ok(Senders::Pool(pool))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Session")]
struct RawSession {
    /// A minijinja template file: the message text, or the attachment's caption.
    #[serde(default)]
    body: Option<Text>,
    /// The rest of Connectly's `message` object; every string is a template.
    #[serde(default)]
    message: Option<Message<Text>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Template")]
struct RawTemplate {
    /// The approved template's name, as in Connectly.
    name: Text,
    /// The template's language code as approved, e.g. en, en_US, pt_BR (default en).
    #[serde(default)]
    language: Option<Text>,
    /// Connectly parameter name -> template value, sent in this order.
    #[serde(default)]
    parameters: Option<Ordered>,
}

/// Template parameters, keeping the order they were written in.
struct Ordered(Vec<(String, RawParam)>);

impl JsonSchema for Ordered {
    fn schema_name() -> Cow<'static, str> {
        "TemplateParameters".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let param = g.subschema_for::<RawParam>();
        let described = |d: &str| {
            let mut p = param.clone();
            p.insert("description".into(), d.into());
            p
        };
        json_schema!({
            "type": "object",
            "properties": {
                "header_text": described("The header's text variable."),
                "header_image": described("The header image's address."),
                "header_video": described("The header video's address."),
                "header_document": described("The header document's address, or { value, filename }."),
            },
            "patternProperties": {
                "^body_[1-9][0-9]*$": described("The body's Nth variable."),
                "^button_[1-9][0-9]*_url$": described("The Nth button's URL suffix."),
            },
            "additionalProperties": false,
        })
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of Connectly parameter names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<ParamName>()? {
                    let value = RawParam::read(&key.0, &mut map).map_err(|e| param_error(&key.0, &e.to_string()))?;
                    out.push((key.0, value));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An error reading parameter `name`'s value, naming the parameter (the
/// reader of the file points at its line) in the user's words.
fn param_error<E: serde::de::Error>(name: &str, msg: &str) -> E {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    // The reader's own path to the value (`template.parameters.x: …`) goes.
    let msg = match msg.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest,
        _ => msg,
    };
    if msg.contains(&format!("`{name}`")) {
        return E::custom(msg);
    }
    let what = if msg.starts_with("unknown field") {
        format!("has an {msg}")
    } else if msg.contains("invalid type: sequence") {
        "is a list; a parameter has one value".to_string()
    } else if msg.contains("invalid type: map") {
        "is a mapping; only header_document takes {value, filename}".to_string()
    } else {
        format!("is not a value it takes: {msg}")
    };
    E::custom(format!("template parameter `{name}` {what}"))
}

/// A Connectly template parameter name, checked as it is read.
struct ParamName(String);

impl<'de> Deserialize<'de> for ParamName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_param_name(&s) {
            Ok(ParamName(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "unknown template parameter `{s}`: Connectly takes header_text, header_image, header_video, header_document, body_1 … body_N and button_N_url"
            )))
        }
    }
}

pub fn is_param_name(s: &str) -> bool {
    let numbered = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0');
    matches!(s, "header_text" | "header_image" | "header_video" | "header_document")
        || s.strip_prefix("body_").is_some_and(numbered)
        || s.strip_prefix("button_").and_then(|r| r.strip_suffix("_url")).is_some_and(numbered)
}

/// A parameter's value: text exactly as written (a bare `1.50` stays
/// "1.50"), or for `header_document` also `{value, filename}`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "TemplateParameter")]
enum RawParam {
    /// The value (a template).
    Plain(Text),
    /// A document and the file name the customer sees.
    WithFile(ParamWithFile),
}

impl RawParam {
    /// Read the value of parameter `name` from a map of parameters.
    fn read<'de, A: serde::de::MapAccess<'de>>(name: &str, map: &mut A) -> Result<RawParam, A::Error> {
        if name == "header_document" {
            return map.next_value::<DocumentParam>().map(|d| d.0);
        }
        match map.next_value::<PlainParam>()?.0 {
            Some(v) => Ok(RawParam::Plain(v)),
            None => Err(serde::de::Error::custom(format!(
                "template parameter `{name}` has no value; give it a value or remove it"
            ))),
        }
    }
}

/// A plain parameter value: the scalar exactly as written; `~` or nothing is none.
struct PlainParam(Option<Text>);

impl<'de> Deserialize<'de> for PlainParam {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PlainParam;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text value (only header_document takes {value, filename})")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<PlainParam, E> {
                Ok(PlainParam(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<PlainParam, E> {
                Ok(PlainParam(None))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<PlainParam, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PlainParam, E> {
                Ok(PlainParam(Some(Text(v.to_string()))))
            }
        }
        d.deserialize_option(V)
    }
}

/// `header_document`: a URL, or `{value, filename}`.
struct DocumentParam(RawParam);

impl<'de> Deserialize<'de> for DocumentParam {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DocumentParam;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a document URL, or {value, filename}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DocumentParam, E> {
                Ok(DocumentParam(RawParam::Plain(Text(v.to_string()))))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DocumentParam, A::Error> {
                let p = ParamWithFile::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(DocumentParam(RawParam::WithFile(p)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Document")]
struct ParamWithFile {
    /// The document's address (a template).
    value: Text,
    /// The file name the customer sees (a template).
    #[serde(default)]
    filename: Option<Text>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Window")]
struct RawWindow {
    /// Treat a window closing within this as closed (default 15m; less than 24h).
    #[serde(default)]
    margin: Option<Span>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Rate")]
struct RawRate {
    /// Requests per second (default 20; Connectly allows 200).
    #[serde(default)]
    per_second: Option<u32>,
    /// Requests per second from one WhatsApp number (default 80, Meta's default throughput).
    #[serde(default)]
    per_sender: Option<u32>,
    /// Requests allowed at once above the pace (default 1).
    #[serde(default)]
    burst: Option<u32>,
    /// Most requests in flight at once (default 16).
    #[serde(default)]
    concurrency: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Retry")]
struct RawRetry {
    /// Total tries for 429, 5xx and network errors (default 5).
    #[serde(default)]
    attempts: Option<u32>,
    /// Longest wait between tries (default 60s); a longer Retry-After defers the row.
    #[serde(default)]
    max_backoff: Option<Span>,
    /// This many failures in a row stop the run (default 50).
    #[serde(default)]
    abort_after: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Limits")]
struct RawLimits {
    /// Most distinct customers messaged by template in any rolling 24 hours, over every campaign in the ledger (WhatsApp's messaging limit); the rest are deferred.
    #[serde(default)]
    templates_per_day: Option<u32>,
    /// Most template messages one customer receives from every campaign in the ledger within a span; the rest are deferred (frequency_cap).
    #[serde(default)]
    per_recipient: Option<RawPerRecipient>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PerRecipient")]
struct RawPerRecipient {
    /// How many template messages, at least 1.
    templates: u32,
    /// Within this span, e.g. 7d.
    per: Span,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Schedule")]
struct RawSchedule {
    /// Send nothing before this RFC 3339 instant, e.g. 2026-12-01T09:00:00+01:00.
    #[serde(default)]
    not_before: Option<Text>,
    /// Send nothing after this RFC 3339 instant; rows still owed are then skipped (expired).
    #[serde(default)]
    not_after: Option<Text>,
    /// Hours of the day nobody is messaged, in the recipient's zone when known.
    #[serde(default)]
    quiet_hours: Option<RawQuiet>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "QuietHours")]
struct RawQuiet {
    /// When quiet hours start, "HH:MM" (quote it).
    start: Text,
    /// When quiet hours end, "HH:MM" (quote it).
    end: Text,
    /// The IANA zone used when the recipient's is unknown, e.g. Europe/Madrid.
    timezone: Text,
}

fn is_campaign_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// Where the campaign file is, for errors and relative paths.
struct Door<'a> {
    path: &'a Path,
    dir: &'a Path,
    source: &'a str,
}

impl Door<'_> {
    /// An input error at the field `keys` (located in the file when found).
    fn err(&self, keys: &[&str], what: String, fix: &str) -> Error {
        let line = super::locate(self.source, keys);
        Error::input(self.path, Location { line, ..Location::field(keys.join(".")) }, what, fix)
    }

    /// A field error of a part of the file: its field is named below `keys`.
    fn under(&self, keys: &[&str], e: FieldError) -> Error {
        let inner = e.at.field.unwrap_or_default();
        let mut full = keys.to_vec();
        full.extend(inner.split('.').filter(|k| !k.is_empty()));
        self.err(&full, e.what, &e.fix)
    }

    /// A path from the file, relative to the file's folder.
    fn resolve(&self, p: &Text) -> PathBuf {
        let p = Path::new(&p.0);
        if p.is_absolute() || self.dir == Path::new(".") { p.to_path_buf() } else { self.dir.join(p) }
    }
}

impl Campaign {
    pub fn validate(self, path: &Path, dir: &Path, source: String) -> Result<super::Campaign> {
        let door = Door { path, dir, source: &source };
        let name = campaign_name(&door, self.name)?;
        let business_id = business_id(&door, self.business_id)?;
        let senders = self.sender.map(|s| senders(&door, s)).transpose()?.unwrap_or_default();
        let recipients = recipients(&door, self.recipients)?;
        let session = self.session.map(|s| session(&door, s)).transpose()?;
        let template = self.template.map(|t| template(&door, t)).transpose()?;
        if session.is_none() && template.is_none() {
            return Err(door.err(
                &["name"],
                "the campaign has neither `session` nor `template`, so nothing could be sent".into(),
                "add a `session:` (free-form, inside the 24-hour window) and/or a `template:` (approved template, any time)",
            ));
        }
        let window_margin = window_margin(&door, self.window)?;
        let rate = rate(&door, self.rate)?;
        let retry = retry(&door, self.retry)?;
        let templates_per_day = templates_per_day(&door, self.limits.as_ref().and_then(|l| l.templates_per_day))?;
        let per_recipient = self.limits.and_then(|l| l.per_recipient).map(|p| per_recipient(&door, p)).transpose()?;
        let schedule = self.schedule.map(|s| schedule(&door, s)).transpose()?.unwrap_or_default();
        let state = self.state.as_ref().map(|s| door.resolve(s)).unwrap_or_else(|| dir.join(".campaign/state.db"));

        Ok(super::Campaign {
            path: path.to_path_buf(),
            source,
            name,
            business_id,
            senders,
            recipients,
            once_per: self.once_per.map(|t| t.0).unwrap_or_else(|| "{{ recipient }}".into()),
            session,
            template,
            window_margin,
            rate,
            retry,
            templates_per_day,
            per_recipient,
            schedule,
            state,
        })
    }
}

fn campaign_name(door: &Door, name: Text) -> Result<String> {
    let name = name.0;
    if !is_campaign_name(&name) {
        return Err(door.err(
            &["name"],
            format!("invalid campaign name `{name}`"),
            "use lowercase letters, digits, `-` and `_`, starting with a letter or digit (e.g. spring-sale)",
        ));
    }
    Ok(name)
}

fn business_id(door: &Door, id: Text) -> Result<String> {
    let business_id = id.0;
    if business_id.is_empty() || !business_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(door.err(
            &["business_id"],
            format!("invalid business_id `{business_id}`"),
            "copy the business id from the Connectly dashboard (letters, digits and dashes)",
        ));
    }
    Ok(business_id)
}

fn senders(door: &Door, s: Senders) -> Result<Vec<String>> {
    let senders = match s {
        Senders::One(s) => vec![s],
        Senders::Pool(list) if list.is_empty() => {
            return Err(door.err(
                &["sender"],
                "the sender list is empty".into(),
                "list the business's numbers to send from, or remove `sender` to use the default one",
            ));
        }
        Senders::Pool(list) => list,
    };
    let mut pool: Vec<String> = Vec::with_capacity(senders.len());
    for s in senders {
        let n = strict_e164(&s.0).ok_or_else(|| {
            door.err(
                &["sender"],
                format!("sender `{}` is not an E.164 number", s.0),
                "write the sending number with + and country code, e.g. \"+14151111234\" (quoted)",
            )
        })?;
        if pool.contains(&n) {
            return Err(door.err(&["sender"], format!("sender `{n}` is listed twice"), "list each number once"));
        }
        pool.push(n);
    }
    Ok(pool)
}

fn recipients(door: &Door, r: RawRecipients) -> Result<Recipients> {
    let default_country = match r.default_country {
        None => None,
        Some(c) => Some(Region::lookup(&c.0).ok_or_else(|| {
            door.err(
                &["recipients", "default_country"],
                format!("unknown region `{}`", c.0),
                "use a two-letter ISO 3166 region code such as US, GB or ES",
            )
        })?),
    };
    let nonempty = |t: Option<Text>, key: &str| -> Result<Option<String>> {
        match t {
            Some(t) if t.0.trim().is_empty() => Err(door.err(
                &["recipients", key],
                format!("`{key}` is empty"),
                "name a column of the CSV header, or remove the key",
            )),
            other => Ok(other.map(|t| t.0)),
        }
    };
    if r.csv.0.trim().is_empty() {
        return Err(door.err(
            &["recipients", "csv"],
            "recipients.csv is empty".into(),
            "give the path of the recipients CSV, relative to the campaign file's folder",
        ));
    }
    Ok(Recipients {
        csv: door.resolve(&r.csv),
        phone_column: nonempty(r.phone_column, "phone_column")?.unwrap_or_else(|| "phone".into()),
        default_country,
        last_inbound_column: nonempty(r.last_inbound_column, "last_inbound_column")?,
        timezone_column: nonempty(r.timezone_column, "timezone_column")?,
        suppress: r.suppress.as_ref().map(|s| door.resolve(s)),
        sender_column: nonempty(r.sender_column, "sender_column")?,
    })
}

fn session(door: &Door, s: RawSession) -> Result<Session> {
    let body = match s.body {
        None => None,
        Some(b) => {
            let file = door.resolve(&b);
            let text = std::fs::read_to_string(&file).map_err(|e| {
                door.err(
                    &["session", "body"],
                    format!("cannot read body template {}: {e}", file.display()),
                    "the path is relative to the campaign file's folder",
                )
            })?;
            Some((file, text))
        }
    };
    let message = s.message.as_ref().map(super::message_sources).unwrap_or(Message {
        text: None,
        attachments: None,
        location: None,
        list_message: None,
        reply_button_message: None,
    });
    check_message_shape(&message, body.is_some()).map_err(|e| door.under(&["session", "message"], e))?;
    check_message_constants(&message).map_err(|e| {
        let e = e.with_fix("shorten it: it is the same for every recipient, so no row could be sent");
        door.under(&["session", "message"], e)
    })?;
    Ok(Session { body, message })
}

fn template(door: &Door, t: RawTemplate) -> Result<Template> {
    let tname = t.name.0;
    if tname.is_empty() || !tname.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(door.err(
            &["template", "name"],
            format!("invalid template name `{tname}`"),
            "WhatsApp template names use lowercase letters, digits and `_`; copy it from Connectly",
        ));
    }
    let language = t.language.map(|l| l.0).unwrap_or_else(|| "en".into());
    if language.is_empty() || !language.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
        let fix = match underscored(&language) {
            Some(code) => format!(
                "did you mean `{code}`? WhatsApp language codes join language and region with an underscore, e.g. en_US, pt_BR"
            ),
            None => "use the template's language code as approved, e.g. en, en_US, pt_BR".to_string(),
        };
        return Err(door.err(&["template", "language"], format!("invalid language `{language}`"), &fix));
    }
    let mut parameters = Vec::new();
    let mut headers = 0;
    for (pname, value) in t.parameters.map(|p| p.0).unwrap_or_default() {
        if pname.starts_with("header_") {
            headers += 1;
            if headers > 1 {
                return Err(door.err(
                    &["template", "parameters", &pname],
                    format!("`{pname}` is a second header parameter"),
                    "a template has one header: keep one of header_text, header_image, header_video, header_document",
                ));
            }
        }
        let (value, filename) = match value {
            RawParam::Plain(v) => (v.0, None),
            RawParam::WithFile(p) => (p.value.0, p.filename.map(|f| f.0)),
        };
        parameters.push(Parameter { name: pname, value, filename });
    }
    Ok(Template { name: tname, language, parameters })
}

/// A language tag written with a hyphen or space (`en-US`, `pt br`) as
/// WhatsApp spells it (`en_US`, `pt_BR`), when that is all that is wrong.
fn underscored(tag: &str) -> Option<String> {
    let parts: Vec<&str> = tag.trim().split(['-', '_', ' ']).collect();
    let [lang, region] = parts.as_slice() else { return None };
    let letters = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
    };
    (letters(lang, 2..=3) && letters(region, 2..=2))
        .then(|| format!("{}_{}", lang.to_ascii_lowercase(), region.to_ascii_uppercase()))
}

fn window_margin(door: &Door, w: Option<RawWindow>) -> Result<Duration> {
    let window_margin = w.and_then(|w| w.margin).map(|s| s.0).unwrap_or(Duration::from_secs(15 * 60));
    if window_margin >= Duration::from_secs(24 * 3600) {
        return Err(door.err(
            &["window", "margin"],
            "window.margin must be less than 24h".into(),
            "a margin is a safety allowance, e.g. 15m",
        ));
    }
    Ok(window_margin)
}

fn rate(door: &Door, r: Option<RawRate>) -> Result<Rate> {
    let rr = r.unwrap_or(RawRate { per_second: None, per_sender: None, burst: None, concurrency: None });
    let rate = Rate {
        per_second: in_range(door, &["rate", "per_second"], rr.per_second, 20, 1, Some(MAX_PER_SECOND))?,
        per_sender: in_range(door, &["rate", "per_sender"], rr.per_sender, 80, 1, Some(MAX_PER_SECOND))?,
        burst: in_range(door, &["rate", "burst"], rr.burst, 1, 1, Some(MAX_BURST))?,
        concurrency: in_range(door, &["rate", "concurrency"], rr.concurrency, 16, 1, Some(MAX_CONCURRENCY))?,
    };
    Ok(rate)
}

fn retry(door: &Door, r: Option<RawRetry>) -> Result<Retry> {
    let rt = r.unwrap_or(RawRetry { attempts: None, max_backoff: None, abort_after: None });
    let max_backoff = rt.max_backoff.map(|s| s.0).unwrap_or(Duration::from_secs(60));
    if max_backoff > MAX_BACKOFF {
        return Err(door.err(
            &["retry", "max_backoff"],
            format!("retry.max_backoff is {}; it must be at most 1h", Span(max_backoff)),
            "a longer wait holds the whole run; a row that must wait longer is deferred to a later run (e.g. 60s)",
        ));
    }
    Ok(Retry {
        attempts: in_range(door, &["retry", "attempts"], rt.attempts, 5, 1, Some(MAX_ATTEMPTS))?,
        max_backoff,
        abort_after: in_range(door, &["retry", "abort_after"], rt.abort_after, 50, 1, None)?,
    })
}

fn templates_per_day(door: &Door, n: Option<u32>) -> Result<Option<u32>> {
    n.map(|n| in_range(door, &["limits", "templates_per_day"], Some(n), n, 1, None)).transpose()
}

/// Most pace and retry settings a campaign may give (SPEC §2).
const MAX_PER_SECOND: u32 = 10_000;
const MAX_BURST: u32 = 10_000;
const MAX_CONCURRENCY: usize = 1024;
const MAX_ATTEMPTS: u32 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// A whole number from the file (or its default), checked against its
/// range: at least `lo` and, when given, at most `hi`.
fn in_range<N>(door: &Door, keys: &[&str], v: Option<N>, default: N, lo: N, hi: Option<N>) -> Result<N>
where
    N: PartialOrd + Copy + std::fmt::Display,
{
    let n = v.unwrap_or(default);
    if n >= lo && hi.is_none_or(|hi| n <= hi) {
        return Ok(n);
    }
    let field = keys.join(".");
    let (what, fix) = match hi {
        Some(hi) => (
            format!("{field} is {n}; it must be between {lo} and {hi}"),
            format!("write a whole number from {lo} to {hi}, or remove the key for the default ({default})"),
        ),
        None => (format!("{field} is {n}; it must be at least {lo}"), format!("write a whole number of at least {lo}")),
    };
    Err(door.err(keys, what, &fix))
}

fn per_recipient(door: &Door, p: RawPerRecipient) -> Result<super::PerRecipient> {
    let per_recipient = super::PerRecipient { templates: p.templates, per: p.per.0 };
    if per_recipient.templates == 0 || per_recipient.per < Duration::from_secs(1) {
        return Err(door.err(
            &["limits", "per_recipient"],
            "limits.per_recipient allows no message".into(),
            "give templates of at least 1 and a span such as 7d, e.g. { templates: 1, per: 7d }",
        ));
    }
    Ok(per_recipient)
}

fn schedule(door: &Door, s: RawSchedule) -> Result<Schedule> {
    let instant = |t: Option<Text>, key: &str| -> Result<Option<jiff::Timestamp>> {
        t.map(|t| {
            t.0.parse::<jiff::Timestamp>().map_err(|e| {
                door.err(
                    &["schedule", key],
                    format!("`{}` is not an RFC 3339 instant: {e}", t.0),
                    "write a date, time and offset, e.g. 2026-12-01T09:00:00+01:00",
                )
            })
        })
        .transpose()
    };
    let not_before = instant(s.not_before, "not_before")?;
    let not_after = instant(s.not_after, "not_after")?;
    if let (Some(a), Some(b)) = (not_before, not_after)
        && b <= a
    {
        return Err(door.err(
            &["schedule", "not_after"],
            "schedule.not_after is not after not_before".into(),
            "swap them, or widen the window",
        ));
    }
    let quiet_hours = s.quiet_hours.map(|q| quiet_hours(door, q)).transpose()?;
    Ok(Schedule { not_before, not_after, quiet_hours })
}

fn quiet_hours(door: &Door, q: RawQuiet) -> Result<QuietHours> {
    let time = |t: &Text, key: &str| -> Result<jiff::civil::Time> {
        jiff::civil::Time::strptime("%H:%M", t.0.trim()).map_err(|_| {
            door.err(
                &["schedule", "quiet_hours", key],
                format!("`{}` is not a time of day", t.0),
                "write 24-hour HH:MM in quotes, e.g. \"21:00\"",
            )
        })
    };
    let start = time(&q.start, "start")?;
    let end = time(&q.end, "end")?;
    let timezone = jiff::tz::TimeZone::get(&q.timezone.0).map_err(|_| {
        door.err(
            &["schedule", "quiet_hours", "timezone"],
            format!("unknown time zone `{}`", q.timezone.0),
            "use an IANA zone name such as Europe/Madrid or America/New_York",
        )
    })?;
    if start == end {
        return Err(door.err(
            &["schedule", "quiet_hours", "end"],
            "quiet hours start and end at the same time".into(),
            "give a window such as start: \"21:00\", end: \"08:00\"",
        ));
    }
    Ok(QuietHours { start, end, timezone })
}

/// The forms a parameter's value takes, for an error about it.
pub(super) fn param_forms(name: &str) -> String {
    let example = match name {
        "header_image" => "https://cdn.example.com/{{ sku }}.jpg",
        "header_video" => "https://cdn.example.com/{{ sku }}.mp4",
        "header_document" => "https://cdn.example.com/{{ id }}.pdf",
        n if n.starts_with("button_") => "{{ code }}",
        _ => "{{ first_name }}",
    };
    let plain = format!("write one value, a template: `{name}: \"{example}\"`");
    if name == "header_document" {
        format!(
            "{plain}, or the document and its file name: `{name}: {{ value: \"{example}\", filename: \"{{{{ id }}}}.pdf\" }}`"
        )
    } else {
        plain
    }
}

/// `+` and 8–15 digits, nothing else.
pub(super) fn strict_e164(s: &str) -> Option<String> {
    let d = s.strip_prefix('+')?;
    (d.bytes().all(|b| b.is_ascii_digit()) && (8..=15).contains(&d.len())).then(|| s.to_string())
}

/// WhatsApp's limits on the strings of the message that are the same for
/// every row (no `{{`, `{%`): broken for one row, broken for all, so it is
/// a campaign error, not a row's. Template strings get a placeholder that
/// meets every limit.
fn check_message_constants(m: &Message<String>) -> Result<(), FieldError> {
    let constant = |s: &str| !(s.contains("{{") || s.contains("{%") || s.contains("{#"));
    let probe = crate::wire::message::map_message(m, &mut |s: &String, path: &dyn Fn() -> String| {
        let p = path();
        Ok::<_, std::convert::Infallible>(match () {
            _ if constant(s) => s.clone(),
            _ if p.ends_with("url") => "https://example.com/".into(),
            _ if p.ends_with("latitude") || p.ends_with("longitude") => "0".into(),
            _ => "x".into(),
        })
    });
    let mut probe = match probe {
        Ok(m) => m,
        Err(never) => match never {},
    };
    crate::wire::body::check_session(&mut probe)
}

/// Structural rules of Connectly's `message` that do not depend on a row.
fn check_message_shape(m: &Message<String>, has_body: bool) -> Result<(), FieldError> {
    let kinds = m.kinds();
    if kinds.len() > 1 {
        return Err(FieldError::new(kinds[1], format!("the message has both `{}` and `{}`", kinds[0], kinds[1])).with_fix("a session message holds text and at most one of attachments, location, listMessage, replyButtonMessage"));
    }
    if has_body && m.text.is_some() {
        return Err(FieldError::new("text", "`session.body` and `session.message.text` both set the text")
            .with_fix("keep one: the body file is the usual place for the text"));
    }
    if let Some(a) = &m.attachments {
        if a.len() != 1 {
            return Err(FieldError::new(
                "attachments",
                format!("{} attachments; Connectly sends exactly one", a.len()),
            )
            .with_fix("keep one attachment per message"));
        }
        if has_body && a[0].caption.is_some() {
            return Err(FieldError::new(
                "attachments.caption",
                "`session.body` and the attachment's caption both set the caption",
            )
            .with_fix("with an attachment the body file becomes its caption; remove one"));
        }
        if a[0].filename.is_some() && a[0].kind != crate::wire::message::MediaType::Document {
            return Err(
                FieldError::new("attachments.filename", "only documents have a filename").with_fix("remove `filename`")
            );
        }
    }
    if let Some(r) = &m.reply_button_message {
        if r.buttons.is_empty() || r.buttons.len() > 3 {
            return Err(FieldError::new(
                "replyButtonMessage.buttons",
                format!("{} reply buttons; WhatsApp allows 1 to 3", r.buttons.len()),
            )
            .with_fix("keep between one and three buttons"));
        }
        if !has_body && m.text.is_none() {
            return Err(FieldError::new("replyButtonMessage", "reply buttons need a text to answer")
                .with_fix("set session.body (or message.text)"));
        }
    }
    if let Some(l) = &m.list_message {
        let rows: usize = l.sections.iter().map(|s| s.rows.len()).sum();
        if l.sections.is_empty() || rows == 0 || rows > 10 {
            return Err(FieldError::new(
                "listMessage.sections",
                format!("the list has {rows} rows; WhatsApp allows 1 to 10 in all"),
            )
            .with_fix("keep between one and ten rows across the sections"));
        }
        if !has_body && m.text.is_none() {
            return Err(FieldError::new("listMessage", "a list message needs a text")
                .with_fix("set session.body (or message.text)"));
        }
    }
    for h in [
        m.list_message.as_ref().and_then(|l| l.header.as_ref()),
        m.reply_button_message.as_ref().and_then(|r| r.header.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        if h.text.is_some() == h.attachment.is_some() {
            return Err(
                FieldError::new("header", "a header has exactly one of `text` or `attachment`").with_fix("keep one")
            );
        }
    }
    if !has_body && m.text.is_none() && kinds.is_empty() {
        return Err(FieldError::new("", "the session message is empty")
            .with_fix("set session.body to a template file, or give session.message content"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A campaign file `name`, `business_id`, then `snippet`; a
    /// `recipients` and a `template` are added when the snippet has none.
    fn load(snippet: &str) -> Result<super::super::Campaign> {
        let mut source = format!("name: t\nbusiness_id: b\n{snippet}");
        if !snippet.contains("recipients:") {
            source.push_str("recipients:\n  csv: people.csv\n");
        }
        if !snippet.contains("template:") && !snippet.contains("session:") {
            source.push_str("template:\n  name: t\n");
        }
        let path = Path::new("c.yaml");
        let raw: Campaign = yaml_serde::from_str(&source).map_err(|e| super::super::yaml_error(path, &source, &e))?;
        raw.validate(path, Path::new("camp"), source)
    }

    /// The first line of the error a snippet is refused with.
    #[track_caller]
    fn refused(snippet: &str) -> String {
        match load(snippet) {
            Ok(_) => panic!("accepted:\n{snippet}"),
            Err(e) => e.to_string().lines().next().unwrap_or("").to_string(),
        }
    }

    #[track_caller]
    fn accepted(snippet: &str) -> super::super::Campaign {
        load(snippet).unwrap_or_else(|e| panic!("refused: {e}\n{snippet}"))
    }

    #[test]
    fn parameter_names() {
        for ok in ["header_text", "header_image", "header_document", "body_1", "body_12", "button_1_url"] {
            assert!(is_param_name(ok), "{ok}");
        }
        for bad in ["body_0", "body_", "body_x", "header_audio", "button_1", "button__url", "Body_1"] {
            assert!(!is_param_name(bad), "{bad}");
        }
    }

    #[test]
    fn campaign_names() {
        assert!(is_campaign_name("spring-sale"));
        assert!(is_campaign_name("2026_q1"));
        assert!(!is_campaign_name("Spring"));
        assert!(!is_campaign_name("-x"));
        assert!(!is_campaign_name(""));
        assert!(!is_campaign_name("a b"));
    }

    // sender

    #[test]
    fn sender_is_one_number_or_a_pool_of_distinct_ones() {
        assert_eq!(accepted("sender: \"+14151111234\"\n").senders, ["+14151111234"]);
        assert_eq!(accepted("sender: [\"+14151110001\", \"+14151110002\"]\n").senders.len(), 2);
        assert!(accepted("").senders.is_empty());
        assert_eq!(refused("sender: []\n"), "c.yaml: line 3, `sender`: the sender list is empty");
        assert_eq!(
            refused("sender: \"4151111234\"\n"),
            "c.yaml: line 3, `sender`: sender `4151111234` is not an E.164 number"
        );
        assert_eq!(
            refused("sender: [\"+14151110001\", \"+14151110001\"]\n"),
            "c.yaml: line 3, `sender`: sender `+14151110001` is listed twice"
        );
    }

    // recipients

    #[test]
    fn recipients_resolve_the_csv_and_default_the_phone_column() {
        let c = accepted("recipients:\n  csv: people.csv\n  default_country: us\n");
        assert_eq!(c.recipients.csv, Path::new("camp/people.csv"));
        assert_eq!(c.recipients.phone_column, "phone");
        assert!(c.recipients.default_country.is_some());
        assert_eq!(c.recipients.suppress, None);
        let c = accepted("recipients:\n  csv: /data/people.csv\n  phone_column: tel\n  suppress: stop.csv\n");
        assert_eq!(c.recipients.csv, Path::new("/data/people.csv"));
        assert_eq!(c.recipients.phone_column, "tel");
        assert_eq!(c.recipients.suppress.as_deref(), Some(Path::new("camp/stop.csv")));
    }

    #[test]
    fn recipients_refuse_an_unknown_region_and_empty_names() {
        assert_eq!(
            refused("recipients:\n  csv: people.csv\n  default_country: XX\n"),
            "c.yaml: line 5, `recipients.default_country`: unknown region `XX`"
        );
        assert_eq!(refused("recipients:\n  csv: \" \"\n"), "c.yaml: line 4, `recipients.csv`: recipients.csv is empty");
        for key in ["phone_column", "last_inbound_column", "timezone_column", "sender_column"] {
            assert_eq!(
                refused(&format!("recipients:\n  csv: people.csv\n  {key}: \"\"\n")),
                format!("c.yaml: line 5, `recipients.{key}`: `{key}` is empty")
            );
        }
        assert!(
            refused("recipients:\n  csv: people.csv\n  phone_colum: tel\n").contains("unknown field `phone_colum`")
        );
    }

    // session

    #[test]
    fn a_session_message_holds_text_and_one_kind_of_content() {
        let c = accepted("session:\n  message:\n    text: \"Hi {{ name }}\"\n");
        assert_eq!(c.session.and_then(|s| s.message.text).as_deref(), Some("Hi {{ name }}"));
        assert_eq!(
            refused(
                "session:\n  message:\n    text: Hi\n    attachments:\n      - { type: image, url: \"https://x.example/a.jpg\" }\n    location: { latitude: 1, longitude: 2 }\n"
            ),
            "c.yaml: line 8, `session.message.location`: the message has both `attachments` and `location`"
        );
        assert_eq!(
            refused("session:\n  message: {}\n"),
            "c.yaml: line 4, `session.message`: the session message is empty"
        );
    }

    #[test]
    fn session_attachments_buttons_and_lists_keep_whatsapps_shape() {
        assert_eq!(
            refused(
                "session:\n  message:\n    attachments:\n      - { type: image, url: \"https://x.example/a.jpg\", filename: a.jpg }\n"
            ),
            "c.yaml: line 5, `session.message.attachments.filename`: only documents have a filename"
        );
        let buttons = (1..=4).map(|i| format!("        - {{ id: b{i}, text: B{i} }}\n")).collect::<String>();
        assert_eq!(
            refused(&format!(
                "session:\n  message:\n    text: Pick\n    replyButtonMessage:\n      buttons:\n{buttons}"
            )),
            "c.yaml: line 7, `session.message.replyButtonMessage.buttons`: 4 reply buttons; WhatsApp allows 1 to 3"
        );
        assert_eq!(
            refused("session:\n  message:\n    replyButtonMessage:\n      buttons:\n        - { id: y, text: Yes }\n"),
            "c.yaml: line 5, `session.message.replyButtonMessage`: reply buttons need a text to answer"
        );
    }

    #[test]
    fn a_constant_session_string_over_whatsapps_limit_is_the_campaigns_error() {
        let long = "x".repeat(4097);
        let e = load(&format!("session:\n  message:\n    text: {long}\n")).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.starts_with("c.yaml: line 5, `session.message.text`: 4097 characters; WhatsApp allows at most 4096"),
            "{e}"
        );
        assert!(e.ends_with("hint: shorten it: it is the same for every recipient, so no row could be sent"), "{e}");
        // A template string may render shorter: it is each row's to check.
        accepted(&format!("session:\n  message:\n    text: \"{{{{ name }}}}{long}\"\n"));
    }

    #[test]
    fn a_session_body_file_must_be_readable() {
        assert!(
            refused("session:\n  body: nowhere.j2\n")
                .starts_with("c.yaml: line 4, `session.body`: cannot read body template camp/nowhere.j2:")
        );
    }

    // template

    #[test]
    fn a_template_defaults_to_english_and_keeps_its_parameters_in_order() {
        let t = accepted("template:\n  name: spring_sale\n  parameters:\n    body_2: b\n    body_1: a\n    header_document: { value: \"https://x/{{ id }}.pdf\", filename: \"{{ id }}.pdf\" }\n")
            .template
            .unwrap();
        assert_eq!((t.name.as_str(), t.language.as_str()), ("spring_sale", "en"));
        let names: Vec<_> = t.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["body_2", "body_1", "header_document"]);
        assert_eq!(t.parameters[2].filename.as_deref(), Some("{{ id }}.pdf"));
        assert_eq!(t.parameters[1].value, "a");
    }

    #[test]
    fn a_template_refuses_bad_names_languages_and_a_second_header() {
        assert_eq!(
            refused("template:\n  name: Spring-Sale\n"),
            "c.yaml: line 4, `template.name`: invalid template name `Spring-Sale`"
        );
        assert_eq!(
            refused("template:\n  name: t\n  language: en-US\n"),
            "c.yaml: line 5, `template.language`: invalid language `en-US`"
        );
        for (typed, meant) in [("en-US", Some("en_US")), ("pt-br", Some("pt_BR")), ("es 419", None), ("en.US", None)] {
            assert_eq!(underscored(typed).as_deref(), meant, "{typed}");
        }
        assert_eq!(
            refused("template:\n  name: t\n  parameters:\n    header_text: a\n    header_image: \"https://x/a.jpg\"\n"),
            "c.yaml: line 7, `template.parameters.header_image`: `header_image` is a second header parameter"
        );
        assert_eq!(
            refused("template:\n  name: t\n  parameters:\n    body_0: a\n"),
            "c.yaml: line 6: template.parameters: unknown template parameter `body_0`: Connectly takes header_text, header_image, header_video, header_document, body_1 … body_N and button_N_url"
        );
        assert_eq!(
            refused("template:\n  name: t\n  parameters:\n    body_1: ~\n"),
            "c.yaml: line 6: template.parameters: template parameter `body_1` has no value; give it a value or remove it"
        );
    }

    // window, rate, retry

    #[test]
    fn window_margin_stays_under_a_day() {
        assert_eq!(accepted("").window_margin, Duration::from_secs(900));
        assert_eq!(accepted("window:\n  margin: 1h\n").window_margin, Duration::from_secs(3600));
        assert_eq!(
            refused("window:\n  margin: 24h\n"),
            "c.yaml: line 4, `window.margin`: window.margin must be less than 24h"
        );
    }

    #[test]
    fn rate_has_defaults_and_bounds() {
        let r = accepted("").rate;
        assert_eq!((r.per_second, r.per_sender, r.burst, r.concurrency), (20, 80, 1, 16));
        let r = accepted("rate:\n  per_second: 50\n  burst: 10\n").rate;
        assert_eq!((r.per_second, r.burst), (50, 10));
        assert_eq!(
            refused("rate:\n  per_second: 0\n"),
            "c.yaml: line 4, `rate.per_second`: rate.per_second is 0; it must be between 1 and 10000"
        );
        assert_eq!(
            refused("rate:\n  per_sender: 10001\n"),
            "c.yaml: line 4, `rate.per_sender`: rate.per_sender is 10001; it must be between 1 and 10000"
        );
        assert_eq!(
            refused("rate:\n  burst: 0\n"),
            "c.yaml: line 4, `rate.burst`: rate.burst is 0; it must be between 1 and 10000"
        );
        assert_eq!(
            refused("rate:\n  concurrency: 1025\n"),
            "c.yaml: line 4, `rate.concurrency`: rate.concurrency is 1025; it must be between 1 and 1024"
        );
    }

    #[test]
    fn retry_has_defaults_and_bounds() {
        let r = accepted("").retry;
        assert_eq!((r.attempts, r.max_backoff, r.abort_after), (5, Duration::from_secs(60), 50));
        assert_eq!(accepted("retry:\n  max_backoff: 200ms\n").retry.max_backoff, Duration::from_millis(200));
        assert_eq!(
            refused("retry:\n  max_backoff: 2h\n"),
            "c.yaml: line 4, `retry.max_backoff`: retry.max_backoff is 2h; it must be at most 1h"
        );
        assert_eq!(
            refused("retry:\n  attempts: 101\n"),
            "c.yaml: line 4, `retry.attempts`: retry.attempts is 101; it must be between 1 and 100"
        );
        assert_eq!(
            refused("retry:\n  abort_after: 0\n"),
            "c.yaml: line 4, `retry.abort_after`: retry.abort_after is 0; it must be at least 1"
        );
    }

    // limits

    #[test]
    fn limits_are_off_unless_given_and_allow_at_least_one_message() {
        let c = accepted("");
        assert_eq!((c.templates_per_day, c.per_recipient), (None, None));
        let c = accepted("limits:\n  templates_per_day: 250\n  per_recipient: { templates: 2, per: 7d }\n");
        assert_eq!(c.templates_per_day, Some(250));
        assert_eq!(
            c.per_recipient,
            Some(super::super::PerRecipient { templates: 2, per: Duration::from_secs(7 * 86400) })
        );
        assert_eq!(
            refused("limits:\n  templates_per_day: 0\n"),
            "c.yaml: line 4, `limits.templates_per_day`: limits.templates_per_day is 0; it must be at least 1"
        );
        assert_eq!(
            refused("limits:\n  per_recipient: { templates: 0, per: 7d }\n"),
            "c.yaml: line 4, `limits.per_recipient`: limits.per_recipient allows no message"
        );
        assert_eq!(
            refused("limits:\n  per_recipient: { templates: 1, per: 0s }\n"),
            "c.yaml: line 4, `limits.per_recipient`: limits.per_recipient allows no message"
        );
    }

    // schedule

    #[test]
    fn a_schedule_reads_instants_and_quiet_hours() {
        let s = accepted(
            "schedule:\n  not_before: 2026-12-01T09:00:00+01:00\n  not_after: 2026-12-02T00:00:00Z\n  quiet_hours: { start: \"21:00\", end: \"08:00\", timezone: Europe/Madrid }\n",
        )
        .schedule;
        assert_eq!(s.not_before.map(|t| t.to_string()).as_deref(), Some("2026-12-01T08:00:00Z"));
        assert_eq!(s.not_after.map(|t| t.to_string()).as_deref(), Some("2026-12-02T00:00:00Z"));
        let q = s.quiet_hours.unwrap();
        assert_eq!((q.start.hour(), q.end.hour(), q.timezone.iana_name()), (21, 8, Some("Europe/Madrid")));
        assert!(accepted("").schedule.quiet_hours.is_none());
    }

    #[test]
    fn a_schedule_refuses_what_it_cannot_read_or_that_never_opens() {
        assert!(
            refused("schedule:\n  not_before: 2026-12-01\n")
                .starts_with("c.yaml: line 4, `schedule.not_before`: `2026-12-01` is not an RFC 3339 instant:")
        );
        assert_eq!(
            refused("schedule:\n  not_before: 2026-12-02T00:00:00Z\n  not_after: 2026-12-01T00:00:00Z\n"),
            "c.yaml: line 5, `schedule.not_after`: schedule.not_after is not after not_before"
        );
        let quiet = |start: &str, end: &str, zone: &str| {
            refused(&format!(
                "schedule:\n  quiet_hours:\n    start: \"{start}\"\n    end: \"{end}\"\n    timezone: {zone}\n"
            ))
        };
        assert_eq!(
            quiet("25:00", "08:00", "UTC"),
            "c.yaml: line 5, `schedule.quiet_hours.start`: `25:00` is not a time of day"
        );
        assert_eq!(
            quiet("21:00", "08:00", "Mars/Olympus"),
            "c.yaml: line 7, `schedule.quiet_hours.timezone`: unknown time zone `Mars/Olympus`"
        );
        assert_eq!(
            quiet("21:00", "21:00", "UTC"),
            "c.yaml: line 6, `schedule.quiet_hours.end`: quiet hours start and end at the same time"
        );
    }
}
