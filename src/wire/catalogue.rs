//! The business's template catalogue (SPEC §1): Connectly's answer to
//! `POST /v1/businesses/{id}/get/templates`, read leniently into one plain
//! list of templates, one per name and language.
//!
//! The answer may carry each template twice: Meta's raw template
//! (`externalTemplate.whatsapp.components`, fully documented) and
//! Connectly's own `templateComponents` (only partly documented). Each part
//! (header, body, footer, buttons) is read from Meta's form when it has it,
//! else from Connectly's. Unknown fields are ignored; a template with
//! neither form keeps its name, language and statuses, so it can still be
//! found and its status checked.

use serde_json::Value;

pub fn catalogue_path(business_id: &str) -> String {
    format!("/v1/businesses/{business_id}/get/templates")
}

/// Connectly's status of an approved template.
pub const APPROVED: &str = "MESSAGE_TEMPLATE_STATUS_APPROVED";

/// Every template of the business, one per name and language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    pub templates: Vec<TemplateDef>,
}

/// One template in one language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateDef {
    pub name: String,
    pub language: String,
    /// Connectly's `status` (`MESSAGE_TEMPLATE_STATUS_APPROVED`, …).
    pub status: Option<String>,
    pub rejection: Option<String>,
    /// Meta's raw `status` (`APPROVED`, `PAUSED`, `DISABLED`, …).
    pub meta_status: Option<String>,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION` (or a legacy name).
    pub category: Option<String>,
    pub header: Option<HeaderDef>,
    pub body: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<ButtonDef>,
}

/// A template's header, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderDef {
    /// A text header; `{{1}}` in it is filled by `header_text`.
    Text(String),
    Image,
    Video,
    Document,
    Location,
    /// A format this program does not know, as the catalogue wrote it.
    Other(String),
}

impl HeaderDef {
    /// `IMAGE`, `TEXT`, …: the format as Meta writes it.
    pub fn format(&self) -> &str {
        match self {
            HeaderDef::Text(_) => "TEXT",
            HeaderDef::Image => "IMAGE",
            HeaderDef::Video => "VIDEO",
            HeaderDef::Document => "DOCUMENT",
            HeaderDef::Location => "LOCATION",
            HeaderDef::Other(s) => s,
        }
    }
}

/// One button: `QUICK_REPLY`, `URL`, `PHONE_NUMBER`, … with its title and,
/// for a URL button, the URL (which may end in `{{1}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonDef {
    pub kind: String,
    pub text: String,
    pub url: Option<String>,
}

impl ButtonDef {
    /// A URL button whose URL takes a variable (`button_N_url`).
    pub fn has_url_variable(&self) -> bool {
        self.kind == "URL" && self.url.as_deref().is_some_and(|u| !variables(u).is_empty())
    }
}

impl TemplateDef {
    /// The body's variables `{{1}}…{{n}}`: `n`, the highest index written.
    pub fn body_variables(&self) -> usize {
        self.body.as_deref().map_or(0, |b| variables(b).into_iter().max().unwrap_or(0))
    }
}

/// The `{{n}}` indices in `text`, in order of appearance.
pub fn variables(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        if let Ok(n) = after[..close].trim().parse::<usize>() {
            out.push(n);
        }
        rest = &after[close + 2..];
    }
    out
}

/// Replace each `{{n}}` by `value(n)`, leaving those it has no value for.
pub fn fill(text: &str, value: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            rest = &rest[open..];
            break;
        };
        match after[..close].trim().parse::<usize>().ok().and_then(value) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Read Connectly's answer. Only a body that is not JSON, or JSON without
/// `entity.templateGroups`, is an error; everything inside is optional.
pub fn parse(answer: &Value) -> Result<Catalogue, String> {
    let groups =
        answer.get("entity").and_then(|e| e.get("templateGroups")).ok_or("the answer has no entity.templateGroups")?;
    let mut templates = Vec::new();
    for g in groups.as_array().into_iter().flatten() {
        for t in g.get("templates").and_then(Value::as_array).into_iter().flatten() {
            if let Some(def) = template(g, t) {
                templates.push(def);
            }
        }
    }
    Ok(Catalogue { templates })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for k in path {
        v = v.get(k)?;
    }
    v.as_str().filter(|s| !s.is_empty())
}

fn template(group: &Value, t: &Value) -> Option<TemplateDef> {
    let meta = t.get("externalTemplate").and_then(|e| e.get("whatsapp")).filter(|m| m.is_object());
    let meta_str = |k: &str| meta.and_then(|m| str_at(m, &[k])).map(str::to_string);
    let name = str_at(group, &["name"]).map(str::to_string).or_else(|| meta_str("name"))?;
    let language = str_at(t, &["language", "code"])
        .or_else(|| str_at(t, &["language"]))
        .map(str::to_string)
        .or_else(|| meta_str("language"))?;
    let mut def = TemplateDef {
        name,
        language,
        status: str_at(t, &["status"]).map(str::to_string),
        rejection: str_at(t, &["rejectionReason"]).map(str::to_string).or_else(|| meta_str("rejectedReason")),
        meta_status: meta_str("status"),
        category: meta_str("category").or_else(|| str_at(group, &["category"]).map(str::to_string)),
        ..TemplateDef::default()
    };
    // Each part from Meta's form when it has it, else from Connectly's.
    let (mut m, mut c) = (TemplateDef::default(), TemplateDef::default());
    if let Some(list) = meta.and_then(|m| m.get("components")).and_then(Value::as_array) {
        meta_components(&mut m, list);
    }
    if let Some(list) = t.get("templateComponents").and_then(Value::as_array) {
        connectly_components(&mut c, list);
    }
    def.header = m.header.or(c.header);
    def.body = m.body.or(c.body);
    def.footer = m.footer.or(c.footer);
    def.buttons = if m.buttons.is_empty() { c.buttons } else { m.buttons };
    Some(def)
}

fn kind(c: &Value) -> String {
    str_at(c, &["type"]).unwrap_or("").to_ascii_uppercase()
}

/// Meta's `components`: `{type: HEADER|BODY|FOOTER|BUTTONS, format, text, buttons}`.
fn meta_components(def: &mut TemplateDef, components: &[Value]) {
    for c in components {
        let text = str_at(c, &["text"]).map(str::to_string);
        match kind(c).as_str() {
            "HEADER" => {
                let format = str_at(c, &["format"]).unwrap_or("TEXT").to_ascii_uppercase();
                def.header = Some(header(&format, text));
            }
            "BODY" => def.body = text,
            "FOOTER" => def.footer = text,
            "BUTTONS" => def.buttons = buttons(c.get("buttons")),
            _ => {}
        }
    }
}

fn header(format: &str, text: Option<String>) -> HeaderDef {
    match format.trim_start_matches("TYPE_") {
        "TEXT" | "FORMAT_UNSPECIFIED" => HeaderDef::Text(text.unwrap_or_default()),
        "IMAGE" => HeaderDef::Image,
        "VIDEO" => HeaderDef::Video,
        "DOCUMENT" => HeaderDef::Document,
        "LOCATION" => HeaderDef::Location,
        other => HeaderDef::Other(other.to_string()),
    }
}

/// Text written as a string or as `{"text": …}`, nested any depth.
fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => text_of(o.get("text")),
        _ => None,
    }
}

/// Buttons written flat (`{type, text, url}`, Meta's form) or keyed by
/// kind (`{"url": {text, url}}`, `{"quickReply": {text}}`).
fn buttons(v: Option<&Value>) -> Vec<ButtonDef> {
    let list = match v {
        Some(Value::Array(a)) => a.as_slice(),
        Some(Value::Object(o)) => o.get("buttons").and_then(Value::as_array).map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    list.iter()
        .filter_map(|b| {
            if let Some(kind) = str_at(b, &["type"]) {
                return Some(ButtonDef {
                    kind: kind.to_ascii_uppercase(),
                    text: str_at(b, &["text"]).unwrap_or("").to_string(),
                    url: str_at(b, &["url"]).map(str::to_string),
                });
            }
            let (key, inner) = b.as_object()?.iter().next()?;
            let kind = match key.as_str() {
                "url" => "URL".to_string(),
                "quickReply" | "quick_reply" => "QUICK_REPLY".to_string(),
                "phoneNumber" | "phone_number" => "PHONE_NUMBER".to_string(),
                other => other.to_ascii_uppercase(),
            };
            let url = inner.get("url").and_then(|u| text_of(Some(u)).or_else(|| str_at(u, &["url"]).map(String::from)));
            Some(ButtonDef { kind, text: text_of(inner.get("text")).unwrap_or_default(), url })
        })
        .collect()
}

/// Connectly's `templateComponents`: one object per component, keyed by
/// `header` (`media.type` `TYPE_IMAGE`… or `text`), `body`, `footer`, `buttons`.
fn connectly_components(def: &mut TemplateDef, components: &[Value]) {
    for c in components {
        if let Some(h) = c.get("header") {
            def.header = Some(match str_at(h, &["media", "type"]) {
                Some(t) => header(&t.to_ascii_uppercase(), None),
                None => HeaderDef::Text(text_of(h.get("text")).unwrap_or_default()),
            });
        }
        if let Some(b) = c.get("body") {
            def.body = text_of(b.get("text"));
        }
        if let Some(f) = c.get("footer") {
            def.footer = text_of(f.get("text")).or_else(|| text_of(Some(f)));
        }
        if let Some(b) = c.get("buttons") {
            def.buttons = buttons(Some(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The documented sample, abridged as in the reference.
    fn sample() -> Value {
        json!({"entity": {"templateGroups": [
          {"id": "order_confirmation", "name": "order_confirmation", "category": "ACCOUNT_UPDATE", "templates": [
            {"id": "651213231234567", "language": {"code": "en"}, "status": "MESSAGE_TEMPLATE_STATUS_REJECTED",
             "rejectionReason": "INVALID_FORMAT", "somethingNew": [1, 2],
             "externalTemplate": {"whatsapp": {"name": "order_confirmation", "language": "en", "status": "REJECTED",
               "category": "ACCOUNT_UPDATE", "components": [
                 {"type": "HEADER", "format": "IMAGE", "text": null, "buttons": []},
                 {"type": "BODY", "format": "FORMAT_UNSPECIFIED", "text": "Welcome to Connectly!", "buttons": [], "example": null},
                 {"type": "FOOTER", "format": "FORMAT_UNSPECIFIED", "text": "Connectly.ai", "buttons": []},
                 {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Continue", "url": "", "phoneNumber": ""}]}]}},
             "templateComponents": [
               {"header": {"media": {"type": "TYPE_IMAGE", "example": ["https://x/header.png"]}}},
               {"body": {"text": {"text": "Welcome to Connectly!", "example": []}}}]}]}]}})
    }

    #[test]
    fn reads_the_documented_sample() {
        let c = parse(&sample()).unwrap();
        let t = &c.templates[0];
        assert_eq!((t.name.as_str(), t.language.as_str()), ("order_confirmation", "en"));
        assert_eq!(t.status.as_deref(), Some("MESSAGE_TEMPLATE_STATUS_REJECTED"));
        assert_eq!((t.meta_status.as_deref(), t.category.as_deref()), (Some("REJECTED"), Some("ACCOUNT_UPDATE")));
        assert_eq!(t.header, Some(HeaderDef::Image));
        assert_eq!((t.body.as_deref(), t.footer.as_deref()), (Some("Welcome to Connectly!"), Some("Connectly.ai")));
        assert_eq!(t.buttons, [ButtonDef { kind: "QUICK_REPLY".into(), text: "Continue".into(), url: None }]);
    }

    #[test]
    fn connectlys_own_form_is_read_when_metas_is_missing() {
        let mut a = sample();
        a["entity"]["templateGroups"][0]["templates"][0]["externalTemplate"] = Value::Null;
        a["entity"]["templateGroups"][0]["templates"][0]["templateComponents"]
            .as_array_mut()
            .unwrap()
            .push(json!({"buttons": {"buttons": [{"url": {"text": "Track", "url": "https://x.example/t/{{1}}"}}]}}));
        let t = &parse(&a).unwrap().templates[0];
        assert_eq!((t.header.clone(), t.body.as_deref()), (Some(HeaderDef::Image), Some("Welcome to Connectly!")));
        assert_eq!((t.meta_status.as_deref(), t.category.as_deref()), (None, Some("ACCOUNT_UPDATE")));
        assert!(t.buttons[0].has_url_variable());
    }

    #[test]
    fn a_part_missing_from_metas_form_is_taken_from_connectlys() {
        let mut a = sample();
        a["entity"]["templateGroups"][0]["templates"][0]["templateComponents"]
            .as_array_mut()
            .unwrap()
            .push(json!({"buttons": {"buttons": [{"url": {"text": "Track", "url": "https://x.example/t/{{1}}"}}]}}));
        let meta = &mut a["entity"]["templateGroups"][0]["templates"][0]["externalTemplate"]["whatsapp"];
        meta["components"].as_array_mut().unwrap().retain(|c| c["type"] != "BUTTONS" && c["type"] != "HEADER");
        let t = &parse(&a).unwrap().templates[0];
        assert_eq!(t.header, Some(HeaderDef::Image));
        assert_eq!(t.footer.as_deref(), Some("Connectly.ai"));
        assert_eq!(t.buttons.len(), 1);
        assert!(t.buttons[0].has_url_variable());
    }

    #[test]
    fn an_answer_without_groups_is_refused() {
        assert!(parse(&json!({"entity": {}})).is_err());
        assert_eq!(parse(&json!({"entity": {"templateGroups": []}})).unwrap(), Catalogue::default());
    }

    #[test]
    fn variables_are_counted_and_filled() {
        assert_eq!(variables("Hi {{1}}, {{ 2 }} off {{1}} {{name}}"), [1, 2, 1]);
        let t = TemplateDef { body: Some("Hi {{1}}, {{3}} off".into()), ..Default::default() };
        assert_eq!(t.body_variables(), 3);
        let filled = fill("Hi {{1}}, {{2}} off {{", &|n| (n == 1).then(|| "Ana".to_string()));
        assert_eq!(filled, "Hi Ana, {{2}} off {{");
    }
}
