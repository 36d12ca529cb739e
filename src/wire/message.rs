//! The shape of Connectly's session `message` object, generic over its
//! strings: template sources when read from the campaign file, rendered text
//! when sent. One definition serves parsing, rendering and serialization.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A string in the campaign file, exactly as written: a bare YAML scalar
/// such as `1.50`, `0x1F` or `+14151111234` is taken as its text ("1.50",
/// not 1.5), never reformatted through a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            // A bare `~`, `null` or nothing is empty text (a quoted "null"
            // is the word): validation then names the field that needs one.
            fn visit_none<E: serde::de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                // The YAML reader hands a scalar to `deserialize_str` as written.
                d.deserialize_str(self)
            }
        }
        d.deserialize_option(V)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Message<S> {
    /// The message text (a template). With `session.body`, the body file gives it instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<S>,
    /// One media attachment (image, video, audio or document); `session.body` becomes its caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment<S>>>,
    /// A location pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location<S>>,
    /// A list message: a button that opens up to 10 rows in sections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_message: Option<ListMessage<S>>,
    /// Up to three reply buttons under the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_button_message: Option<ReplyButtonMessage<S>>,
}

/// The kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Video,
    Audio,
    Document,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment<S> {
    /// image, video, audio or document.
    #[serde(rename = "type")]
    pub kind: MediaType,
    /// Public HTTPS address of the media (a template).
    pub url: S,
    /// Caption under the media, at most 1024 characters (a template); `session.body` sets it instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<S>,
    /// File name shown for a document (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<S>,
}

/// A coordinate: a number, or a template that renders to one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Coord<S> {
    Number(f64),
    Text(S),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location<S> {
    /// Latitude in degrees: a number, or a template that renders to one.
    pub latitude: Coord<S>,
    /// Longitude in degrees: a number, or a template that renders to one.
    pub longitude: Coord<S>,
    /// Name of the place (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<S>,
    /// Address of the place (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBox<S> {
    /// The text (a template); at most 60 characters for headers and footers.
    pub text: S,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderAttachment<S> {
    /// image, video, audio or document.
    #[serde(rename = "type")]
    pub kind: MediaType,
    /// Public HTTPS address of the media (a template).
    pub url: S,
    /// File name shown for a document (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<S>,
}

/// A list or reply-button header: text, or an attachment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header<S> {
    /// Header text, at most 60 characters (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<S>,
    /// Header media instead of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<HeaderAttachment<S>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRow<S> {
    /// The row's id, sent back when the customer picks it (a template).
    pub id: S,
    /// The row's title, at most 24 characters (a template).
    pub text: S,
    /// A line under the title, at most 72 characters (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<S>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section<S> {
    /// The section's title (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<S>,
    /// The section's rows; at most 10 rows across all sections.
    pub rows: Vec<ListRow<S>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMessage<S> {
    /// Optional header: text or media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header<S>>,
    /// Optional footer, at most 60 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextBox<S>>,
    /// The button that opens the list, at most 20 characters.
    pub button: TextBox<S>,
    /// The list's sections, each with its rows.
    pub sections: Vec<Section<S>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Button<S> {
    /// The button's id, sent back when the customer taps it (a template).
    pub id: S,
    /// The button's title, at most 20 characters (a template).
    pub text: S,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyButtonMessage<S> {
    /// Optional header: text or media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header<S>>,
    /// Optional footer, at most 60 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextBox<S>>,
    /// One to three reply buttons.
    pub buttons: Vec<Button<S>>,
}

/// The mapping function: a string, and its field path built on demand.
type MapFn<'f, A, B, E> = dyn FnMut(&A, &dyn Fn() -> String) -> Result<B, E> + 'f;

/// Map every string of a message through `f`, which is told the field's path
/// (e.g. `replyButtonMessage.buttons[0].text`). Coordinates written as
/// numbers are kept.
pub fn map_message<A, B, E>(
    m: &Message<A>,
    f: &mut impl FnMut(&A, &dyn Fn() -> String) -> Result<B, E>,
) -> Result<Message<B>, E> {
    let f: &mut MapFn<'_, A, B, E> = f;
    Ok(Message {
        text: map_opt(&m.text, &|| "text".to_string(), f)?,
        attachments: m.attachments.as_ref().map(|list| map_attachments(list, f)).transpose()?,
        location: m.location.as_ref().map(|l| map_location(l, f)).transpose()?,
        list_message: m.list_message.as_ref().map(|l| map_list(l, f)).transpose()?,
        reply_button_message: m.reply_button_message.as_ref().map(|r| map_reply_buttons(r, f)).transpose()?,
    })
}

fn map_opt<A, B, E>(v: &Option<A>, p: &dyn Fn() -> String, f: &mut MapFn<'_, A, B, E>) -> Result<Option<B>, E> {
    v.as_ref().map(|s| f(s, p)).transpose()
}

fn map_header<A, B, E>(
    h: &Option<Header<A>>,
    p: &'static str,
    f: &mut MapFn<'_, A, B, E>,
) -> Result<Option<Header<B>>, E> {
    let Some(h) = h else { return Ok(None) };
    Ok(Some(Header {
        text: h.text.as_ref().map(|t| f(t, &|| format!("{p}.header.text"))).transpose()?,
        attachment: match &h.attachment {
            None => None,
            Some(a) => Some(HeaderAttachment {
                kind: a.kind,
                url: f(&a.url, &|| format!("{p}.header.attachment.url"))?,
                filename: a
                    .filename
                    .as_ref()
                    .map(|t| f(t, &|| format!("{p}.header.attachment.filename")))
                    .transpose()?,
            }),
        },
    }))
}

fn map_footer<A, B, E>(
    t: &Option<TextBox<A>>,
    p: &'static str,
    f: &mut MapFn<'_, A, B, E>,
) -> Result<Option<TextBox<B>>, E> {
    t.as_ref().map(|t| Ok(TextBox { text: f(&t.text, &|| format!("{p}.footer.text"))? })).transpose()
}

fn map_attachments<A, B, E>(list: &[Attachment<A>], f: &mut MapFn<'_, A, B, E>) -> Result<Vec<Attachment<B>>, E> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let p = || format!("attachments[{i}]");
            Ok(Attachment {
                kind: a.kind,
                url: f(&a.url, &|| format!("{}.url", p()))?,
                caption: map_opt(&a.caption, &|| format!("{}.caption", p()), f)?,
                filename: map_opt(&a.filename, &|| format!("{}.filename", p()), f)?,
            })
        })
        .collect()
}

fn map_location<A, B, E>(l: &Location<A>, f: &mut MapFn<'_, A, B, E>) -> Result<Location<B>, E> {
    let mut coord = |c: &Coord<A>, p: &dyn Fn() -> String| -> Result<Coord<B>, E> {
        Ok(match c {
            Coord::Number(n) => Coord::Number(*n),
            Coord::Text(s) => Coord::Text(f(s, p)?),
        })
    };
    let latitude = coord(&l.latitude, &|| "location.latitude".to_string())?;
    let longitude = coord(&l.longitude, &|| "location.longitude".to_string())?;
    Ok(Location {
        latitude,
        longitude,
        name: map_opt(&l.name, &|| "location.name".to_string(), f)?,
        address: map_opt(&l.address, &|| "location.address".to_string(), f)?,
    })
}

fn map_list<A, B, E>(l: &ListMessage<A>, f: &mut MapFn<'_, A, B, E>) -> Result<ListMessage<B>, E> {
    let p = "listMessage";
    Ok(ListMessage {
        header: map_header(&l.header, p, f)?,
        footer: map_footer(&l.footer, p, f)?,
        button: TextBox { text: f(&l.button.text, &|| "listMessage.button.text".to_string())? },
        sections: l.sections.iter().enumerate().map(|(i, s)| map_section(i, s, f)).collect::<Result<Vec<_>, E>>()?,
    })
}

fn map_section<A, B, E>(i: usize, s: &Section<A>, f: &mut MapFn<'_, A, B, E>) -> Result<Section<B>, E> {
    let sp = || format!("listMessage.sections[{i}]");
    Ok(Section {
        title: map_opt(&s.title, &|| format!("{}.title", sp()), f)?,
        rows: s
            .rows
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let rp = || format!("{}.rows[{j}]", sp());
                Ok(ListRow {
                    id: f(&r.id, &|| format!("{}.id", rp()))?,
                    text: f(&r.text, &|| format!("{}.text", rp()))?,
                    description: map_opt(&r.description, &|| format!("{}.description", rp()), f)?,
                })
            })
            .collect::<Result<Vec<_>, E>>()?,
    })
}

fn map_reply_buttons<A, B, E>(
    r: &ReplyButtonMessage<A>,
    f: &mut MapFn<'_, A, B, E>,
) -> Result<ReplyButtonMessage<B>, E> {
    let p = "replyButtonMessage";
    Ok(ReplyButtonMessage {
        header: map_header(&r.header, p, f)?,
        footer: map_footer(&r.footer, p, f)?,
        buttons: r
            .buttons
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Ok(Button {
                    id: f(&b.id, &|| format!("{p}.buttons[{i}].id"))?,
                    text: f(&b.text, &|| format!("{p}.buttons[{i}].text"))?,
                })
            })
            .collect::<Result<Vec<_>, E>>()?,
    })
}

impl<S> Message<S> {
    /// How many of the exclusive content kinds this message uses.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.attachments.is_some() {
            k.push("attachments");
        }
        if self.location.is_some() {
            k.push("location");
        }
        if self.list_message.is_some() {
            k.push("listMessage");
        }
        if self.reply_button_message.is_some() {
            k.push("replyButtonMessage");
        }
        k
    }
}
