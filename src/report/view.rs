//! One typed view of a request, as a person reads it: what kind of message,
//! its header, media, text, footer, buttons, list, location, or the template
//! and its parameters. Built once per shown message from the exact body that
//! is (or would be) sent, through the same `Message` type that produced it;
//! the text and HTML reporters only lay it out.

use crate::json::Json;
use serde::Deserialize;

use crate::outcome::{Filled, Outcome};
use crate::wire::message::{Coord, Header as WireHeader, MediaType, Message};

/// What the customer receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Media(MediaType),
    Location,
    List,
    Buttons,
    Template,
}

impl Kind {
    /// `text`, `image`, `video`, `audio`, `document`, `location`, `list`, `buttons`, `template`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Media(m) => media_name(m),
            Kind::Location => "location",
            Kind::List => "list",
            Kind::Buttons => "buttons",
            Kind::Template => "template",
        }
    }
}

/// An image, video, audio clip or document, by URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub kind: MediaType,
    pub url: String,
    pub filename: Option<String>,
}

/// A list or reply-button header: text, or media.
#[derive(Debug, Clone, PartialEq)]
pub enum Header {
    Text(String),
    Media(Media),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: Option<String>,
    pub address: Option<String>,
    pub latitude: String,
    pub longitude: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    /// The button that opens the list.
    pub button: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: Option<String>,
    /// Each row's title and description.
    pub rows: Vec<(String, Option<String>)>,
}

/// A template message: which template, and the values filled in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    #[serde(rename = "templateName")]
    pub name: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub value: String,
    pub filename: Option<String>,
}

/// A message as a person reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub kind: Kind,
    pub header: Option<Header>,
    pub media: Option<Media>,
    /// The body text, or the media's caption.
    pub text: Option<String>,
    pub location: Option<Place>,
    pub footer: Option<String>,
    /// Reply buttons' titles.
    pub buttons: Vec<String>,
    pub list: Option<List>,
    pub template: Option<Template>,
    /// The template as the customer reads it, when the catalogue is known.
    pub filled: Option<Filled>,
}

#[derive(Deserialize)]
struct SessionRequest {
    message: Message<String>,
}

impl View {
    /// The view of the request an outcome carries, if any.
    pub fn of(o: &Outcome) -> Option<View> {
        let mut v = o.request.as_ref().and_then(|r| View::parse(&r.body))?;
        if v.kind == Kind::Template {
            v.filled = o.filled.as_deref().cloned();
        }
        Some(v)
    }

    /// Read a session or template request body.
    pub fn parse(body: &Json) -> Option<View> {
        if let Ok(t) = serde_json::from_str::<Template>(body.get()) {
            return Some(View::template(t));
        }
        serde_json::from_str::<SessionRequest>(body.get()).ok().map(|s| View::session(s.message))
    }

    fn empty(kind: Kind) -> View {
        View {
            kind,
            header: None,
            media: None,
            text: None,
            location: None,
            footer: None,
            buttons: Vec::new(),
            list: None,
            template: None,
            filled: None,
        }
    }

    /// A template's header media is its `header_image|video|document` parameter.
    pub fn template(t: Template) -> View {
        let media = t.parameters.iter().find_map(|p| {
            let kind = match p.name.strip_prefix("header_")? {
                "image" => MediaType::Image,
                "video" => MediaType::Video,
                "document" => MediaType::Document,
                _ => return None,
            };
            Some(Media { kind, url: p.value.clone(), filename: p.filename.clone() })
        });
        View { media, template: Some(t), ..View::empty(Kind::Template) }
    }

    /// A session message: at most one of attachment, location, list or buttons, and text.
    pub fn session(m: Message<String>) -> View {
        let mut v = View::empty(Kind::Text);
        v.text = m.text;
        if let Some(a) = m.attachments.and_then(|a| a.into_iter().next()) {
            v.kind = Kind::Media(a.kind);
            v.media = Some(Media { kind: a.kind, url: a.url, filename: a.filename });
            // The body is the caption of an attachment.
            v.text = a.caption.or(v.text);
        }
        if let Some(l) = m.location {
            v.kind = Kind::Location;
            v.location = Some(Place {
                name: l.name,
                address: l.address,
                latitude: coord(l.latitude),
                longitude: coord(l.longitude),
            });
        }
        if let Some(r) = m.reply_button_message {
            v.kind = Kind::Buttons;
            v.header = r.header.and_then(header);
            v.footer = r.footer.map(|f| f.text);
            v.buttons = r.buttons.into_iter().map(|b| b.text).collect();
        }
        if let Some(l) = m.list_message {
            v.kind = Kind::List;
            v.header = l.header.and_then(header);
            v.footer = l.footer.map(|f| f.text);
            v.list = Some(List {
                button: l.button.text,
                sections: l
                    .sections
                    .into_iter()
                    .map(|s| Section {
                        title: s.title,
                        rows: s.rows.into_iter().map(|r| (r.text, r.description)).collect(),
                    })
                    .collect(),
            });
        }
        v
    }
}

fn header(h: WireHeader<String>) -> Option<Header> {
    match (h.text, h.attachment) {
        (_, Some(a)) => Some(Header::Media(Media { kind: a.kind, url: a.url, filename: a.filename })),
        (Some(t), None) => Some(Header::Text(t)),
        (None, None) => None,
    }
}

fn coord(c: Coord<String>) -> String {
    match c {
        Coord::Number(n) => n.to_string(),
        Coord::Text(t) => t,
    }
}

/// `image`, `video`, `audio`, `document`.
pub fn media_name(kind: MediaType) -> &'static str {
    match kind {
        MediaType::Image => "image",
        MediaType::Video => "video",
        MediaType::Audio => "audio",
        MediaType::Document => "document",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: serde_json::Value) -> View {
        View::parse(&Json::of(&body)).unwrap()
    }

    #[test]
    fn a_template_request_names_the_template_and_its_header_media() {
        let v = view(serde_json::json!({"number": "+1", "templateName": "spring_sale", "language": "en",
            "parameters": [{"name": "header_document", "value": "https://x/i.pdf", "filename": "i.pdf"},
                           {"name": "body_1", "value": "Ana"}], "campaignName": "c"}));
        assert_eq!(v.kind, Kind::Template);
        let t = v.template.as_ref().unwrap();
        assert_eq!((t.name.as_str(), t.language.as_str(), t.parameters.len()), ("spring_sale", "en", 2));
        assert_eq!(
            v.media,
            Some(Media { kind: MediaType::Document, url: "https://x/i.pdf".into(), filename: Some("i.pdf".into()) })
        );
    }

    #[test]
    fn a_session_request_is_read_through_the_message_type() {
        let v = view(serde_json::json!({"recipient": {"id": "+1", "channelType": "whatsapp"},
            "message": {"text": "Pick", "listMessage": {"header": {"text": "New"}, "footer": {"text": "Tap"},
              "button": {"text": "See"}, "sections": [{"title": "Clothing", "rows": [{"id": "1", "text": "Shirts", "description": "Linen"}]}]}}}));
        assert_eq!(v.kind, Kind::List);
        assert_eq!(v.header, Some(Header::Text("New".into())));
        assert_eq!((v.text.as_deref(), v.footer.as_deref()), (Some("Pick"), Some("Tap")));
        let l = v.list.unwrap();
        assert_eq!(l.button, "See");
        assert_eq!(l.sections[0].rows, [("Shirts".to_string(), Some("Linen".to_string()))]);

        let v = view(serde_json::json!({"recipient": {"id": "+1", "channelType": "whatsapp"},
            "message": {"attachments": [{"type": "image", "url": "https://x/a.jpg", "caption": "Look"}]}}));
        assert_eq!((v.kind, v.text.as_deref()), (Kind::Media(MediaType::Image), Some("Look")));
        let v = view(serde_json::json!({"recipient": {"id": "+1", "channelType": "whatsapp"},
            "message": {"location": {"latitude": 37.7, "longitude": -122.4, "name": "Shop"}}}));
        let p = v.location.unwrap();
        assert_eq!((p.latitude.as_str(), p.longitude.as_str(), p.name.as_deref()), ("37.7", "-122.4", Some("Shop")));
    }
}
