//! The Connectly requests (SPEC §1) and WhatsApp's limits on what they carry
//! (SPEC §3 step 5). Bodies are serialized straight from borrowed data, in
//! the field order Connectly documents.

use serde::Serialize;

use crate::error::FieldError;
use crate::json::Json;
use crate::wire::message::{Coord, Message};

pub fn session_path(business_id: &str) -> String {
    format!("/v1/businesses/{business_id}/send/messages")
}

pub fn template_path(business_id: &str) -> String {
    format!("/v1/businesses/{business_id}/send/whatsapp_templated_messages")
}

#[derive(Serialize)]
struct Party<'a> {
    id: &'a str,
    #[serde(rename = "channelType")]
    channel_type: &'static str,
}

#[derive(Serialize)]
struct SessionBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<Party<'a>>,
    recipient: Party<'a>,
    message: &'a Message<String>,
}

/// One template parameter as sent. The name is a campaign constant,
/// escaped once (`name_json`); `name` is kept for the checks.
#[derive(Debug, Clone, Serialize)]
pub struct Param<'a> {
    #[serde(skip)]
    pub name: &'a str,
    #[serde(rename = "name")]
    pub name_json: &'a Json,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A template request as serde would write it (`template_body` writes
/// the same text by hand; a test holds them equal).
#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TemplateBody<'a> {
    number: &'a str,
    template_name: &'a Json,
    language: &'a Json,
    #[serde(skip_serializing_if = "<[Param]>::is_empty")]
    parameters: &'a [Param<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<&'a str>,
    campaign_name: &'a Json,
    callback_data: Callback<'a, &'a Json>,
}

#[derive(Serialize)]
struct Callback<'a, C> {
    campaign: C,
    key: &'a str,
}

/// What every template request of a campaign shares, escaped once per run
/// rather than once per row.
#[derive(Debug)]
pub struct TemplateConsts {
    name: Json,
    language: Json,
    campaign: Json,
}

impl TemplateConsts {
    pub fn new(name: &str, language: &str, campaign: &str) -> Self {
        TemplateConsts { name: Json::of(name), language: Json::of(language), campaign: Json::of(campaign) }
    }
}

pub fn session_body(sender: Option<&str>, recipient: &str, message: &Message<String>) -> Json {
    Json::of(&SessionBody {
        sender: sender.map(|id| Party { id, channel_type: "whatsapp" }),
        recipient: Party { id: recipient, channel_type: "whatsapp" },
        message,
    })
}

/// `callbackData` must stay within Connectly's 1024 bytes.
pub fn check_callback(campaign: &str, key: &str) -> Result<(), FieldError> {
    // Quoting can only lengthen it; measure exactly only when it might matter.
    if campaign.len() + key.len() < 900 {
        return Ok(());
    }
    let len = serde_json::to_string(&Callback { campaign, key }).map(|s| s.len()).unwrap_or(0);
    if len > 1024 {
        return Err(FieldError::new(
            "once_per",
            format!("callbackData would be {len} bytes; Connectly takes at most 1024 — shorten the once_per key"),
        ));
    }
    Ok(())
}

/// A template request; `sender` is the number it goes from, when the
/// campaign names one. Written by hand (most of a dry run's rows are
/// template requests): the text serde makes of `TemplateBody`, which a
/// test holds it to.
pub fn template_body(
    c: &TemplateConsts,
    number: &str,
    sender: Option<&str>,
    parameters: &[Param<'_>],
    key: &str,
) -> Json {
    use crate::json::{raw_field, str_field};
    let mut out = Vec::with_capacity(192);
    str_field(&mut out, b"{\"number\":", number);
    raw_field(&mut out, b",\"templateName\":", c.name.get());
    raw_field(&mut out, b",\"language\":", c.language.get());
    for (i, p) in parameters.iter().enumerate() {
        let open: &[u8] = if i == 0 { b",\"parameters\":[{\"name\":" } else { b",{\"name\":" };
        raw_field(&mut out, open, p.name_json.get());
        str_field(&mut out, b",\"value\":", &p.value);
        if let Some(f) = &p.filename {
            str_field(&mut out, b",\"filename\":", f);
        }
        out.push(b'}');
    }
    if !parameters.is_empty() {
        out.push(b']');
    }
    if let Some(s) = sender {
        str_field(&mut out, b",\"sender\":", s);
    }
    raw_field(&mut out, b",\"campaignName\":", c.campaign.get());
    raw_field(&mut out, b",\"callbackData\":{\"campaign\":", c.campaign.get());
    str_field(&mut out, b",\"key\":", key);
    out.extend_from_slice(b"}}");
    // Only whole UTF-8 strings and ASCII went in.
    Json::written(String::from_utf8(out).unwrap_or_else(|_| "null".into()))
}

fn max_chars(field: &str, s: &str, max: usize) -> Result<(), FieldError> {
    let n = s.chars().count();
    if n > max {
        return Err(FieldError::new(field, format!("{n} characters; WhatsApp allows at most {max}")));
    }
    Ok(())
}

fn required(field: &str, s: &str) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, "renders empty; WhatsApp needs a value here"));
    }
    Ok(())
}

fn url(field: &str, s: &str) -> Result<(), FieldError> {
    required(field, s)?;
    if !(s.starts_with("https://") || s.starts_with("http://")) {
        return Err(FieldError::new(field, format!("`{s}` is not an http(s) URL")));
    }
    Ok(())
}

/// Check a rendered session message against WhatsApp's limits, and turn
/// coordinates written as templates into numbers.
pub fn check_session(m: &mut Message<String>) -> Result<(), FieldError> {
    if let Some(t) = &m.text {
        required("text", t)?;
        max_chars("text", t, 4096)?;
    }
    if let Some(a) = m.attachments.as_ref().and_then(|a| a.first()) {
        url("attachments[0].url", &a.url)?;
        if let Some(c) = &a.caption {
            max_chars("attachments[0].caption", c, 1024)?;
        }
    }
    if let Some(l) = &mut m.location {
        for (field, c, limit) in
            [("location.latitude", &mut l.latitude, 90.0), ("location.longitude", &mut l.longitude, 180.0)]
        {
            let n = match c {
                Coord::Number(n) => *n,
                Coord::Text(s) => {
                    s.trim().parse::<f64>().map_err(|_| FieldError::new(field, format!("`{s}` is not a number")))?
                }
            };
            if !(-limit..=limit).contains(&n) {
                return Err(FieldError::new(field, format!("{n} is out of range (±{limit})")));
            }
            *c = Coord::Number(n);
        }
    }
    let header = |p: &str, h: &Option<crate::wire::message::Header<String>>| -> Result<(), FieldError> {
        if let Some(h) = h {
            if let Some(t) = &h.text {
                required(&format!("{p}.header.text"), t)?;
                max_chars(&format!("{p}.header.text"), t, 60)?;
            }
            if let Some(a) = &h.attachment {
                url(&format!("{p}.header.attachment.url"), &a.url)?;
            }
        }
        Ok(())
    };
    if let Some(r) = &m.reply_button_message {
        header("replyButtonMessage", &r.header)?;
        if let Some(f) = &r.footer {
            max_chars("replyButtonMessage.footer.text", &f.text, 60)?;
        }
        for (i, b) in r.buttons.iter().enumerate() {
            required(&format!("replyButtonMessage.buttons[{i}].id"), &b.id)?;
            required(&format!("replyButtonMessage.buttons[{i}].text"), &b.text)?;
            max_chars(&format!("replyButtonMessage.buttons[{i}].text"), &b.text, 20)?;
        }
    }
    if let Some(l) = &m.list_message {
        header("listMessage", &l.header)?;
        if let Some(f) = &l.footer {
            max_chars("listMessage.footer.text", &f.text, 60)?;
        }
        required("listMessage.button.text", &l.button.text)?;
        max_chars("listMessage.button.text", &l.button.text, 20)?;
        for (i, s) in l.sections.iter().enumerate() {
            if let Some(t) = &s.title {
                max_chars(&format!("listMessage.sections[{i}].title"), t, 24)?;
            }
            for (j, r) in s.rows.iter().enumerate() {
                required(&format!("listMessage.sections[{i}].rows[{j}].id"), &r.id)?;
                required(&format!("listMessage.sections[{i}].rows[{j}].text"), &r.text)?;
                max_chars(&format!("listMessage.sections[{i}].rows[{j}].text"), &r.text, 24)?;
                if let Some(d) = &r.description {
                    max_chars(&format!("listMessage.sections[{i}].rows[{j}].description"), d, 72)?;
                }
            }
        }
    }
    Ok(())
}

/// Check one rendered template parameter.
pub fn check_param(p: &Param<'_>) -> Result<(), FieldError> {
    // This runs for every parameter of every row: the field is named only
    // when something is wrong with it.
    let checked = match p.name {
        "header_text" => {
            required("", &p.value).and_then(|()| no_newline("", &p.value)).and_then(|()| max_chars("", &p.value, 60))
        }
        "header_image" | "header_video" | "header_document" => url("", &p.value),
        n if n.starts_with("body_") => required("", &p.value).and_then(|()| no_newline("", &p.value)),
        _ => required("", &p.value),
    };
    checked.map_err(|mut e| {
        e.at.field = Some(format!("template.parameters.{}", p.name));
        e
    })
}

/// A template's body after filling: WhatsApp takes at most 1,024 characters.
pub fn check_filled_body(body: &str) -> Result<(), FieldError> {
    let n = body.chars().count();
    if n > 1024 {
        return Err(FieldError::new(
            "template.parameters",
            format!(
                "the template's body is {n} characters once filled; WhatsApp allows at most 1024 — shorten the body_N values"
            ),
        ));
    }
    Ok(())
}

fn no_newline(field: &str, s: &str) -> Result<(), FieldError> {
    if s.contains(['\n', '\r']) {
        return Err(FieldError::new(field, "contains a line break; WhatsApp template parameters must be one line"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::{Button, ReplyButtonMessage};

    fn text(s: &str) -> Message<String> {
        Message {
            text: Some(s.into()),
            attachments: None,
            location: None,
            list_message: None,
            reply_button_message: None,
        }
    }

    #[test]
    fn session_body_has_connectlys_shape() {
        let body = session_body(Some("+14151111234"), "+16044441111", &text("Hello"));
        assert_eq!(
            body.get(),
            r#"{"sender":{"id":"+14151111234","channelType":"whatsapp"},"recipient":{"id":"+16044441111","channelType":"whatsapp"},"message":{"text":"Hello"}}"#
        );
    }

    #[test]
    fn template_body_keeps_parameter_order_and_plain_sender() {
        let (b1, hi) = (Json::of("body_1"), Json::of("header_image"));
        let params = vec![
            Param { name: "body_1", name_json: &b1, value: "Ana".into(), filename: None },
            Param {
                name: "header_image",
                name_json: &hi,
                value: "https://cdn.example.com/a.jpg".into(),
                filename: None,
            },
        ];
        let consts = TemplateConsts::new("spring_sale", "en", "spring-sale");
        let body = template_body(&consts, "+16044441111", Some("+14151111234"), &params, "+16044441111");
        assert_eq!(
            body.get(),
            r#"{"number":"+16044441111","templateName":"spring_sale","language":"en","parameters":[{"name":"body_1","value":"Ana"},{"name":"header_image","value":"https://cdn.example.com/a.jpg"}],"sender":"+14151111234","campaignName":"spring-sale","callbackData":{"campaign":"spring-sale","key":"+16044441111"}}"#
        );
    }

    #[test]
    fn a_template_body_is_what_serde_makes_of_it() {
        let (b1, doc) = (Json::of("body_1"), Json::of("header_document"));
        let consts = TemplateConsts::new("sale \"x\"", "pt_BR", "camp\\aign");
        let param = |name_json, value: &str, filename: Option<&str>| Param {
            name: "n",
            name_json,
            value: value.into(),
            filename: filename.map(str::to_string),
        };
        let cases: Vec<(Option<&str>, Vec<Param<'_>>, &str)> = vec![
            (None, vec![], "k"),
            (Some("+14151111234"), vec![param(&b1, "Ana", None)], "a\"b"),
            (
                None,
                vec![param(&b1, "line\nbreak é 😀", None), param(&doc, "https://x/a.pdf", Some("a \"b\".pdf"))],
                "\\",
            ),
            (Some("+1"), vec![param(&b1, "\u{1}", None), param(&b1, "tab\t", None)], "+16044441111"),
        ];
        for (sender, parameters, key) in &cases {
            let by_hand = template_body(&consts, "+16044441111", *sender, parameters, key);
            let by_serde = Json::of(&TemplateBody {
                number: "+16044441111",
                template_name: &consts.name,
                language: &consts.language,
                parameters,
                sender: *sender,
                campaign_name: &consts.campaign,
                callback_data: Callback { campaign: &consts.campaign, key },
            });
            assert_eq!(by_hand, by_serde);
            let _: serde_json::Value = serde_json::from_str(by_hand.get()).unwrap();
        }
    }

    #[test]
    fn limits() {
        assert!(check_session(&mut text(&"x".repeat(4096))).is_ok());
        assert_eq!(check_session(&mut text(&"é".repeat(4097))).unwrap_err().field(), "text");
        let mut m = text("Pick one");
        m.reply_button_message = Some(ReplyButtonMessage {
            header: None,
            footer: None,
            buttons: vec![Button { id: "a".into(), text: "A button title too long".into() }],
        });
        assert_eq!(check_session(&mut m).unwrap_err().field(), "replyButtonMessage.buttons[0].text");
        let n = Json::of("n");
        let p = |name: &'static str, value: &str| Param { name, name_json: &n, value: value.into(), filename: None };
        assert!(check_param(&p("body_1", "")).is_err());
        assert!(check_param(&p("body_1", "two\nlines")).is_err());
        assert!(check_param(&p("header_image", "cdn/a.jpg")).is_err());
        assert!(check_param(&p("body_1", "Ana")).is_ok());
    }
}
