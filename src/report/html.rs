//! `--format html`: one self-contained page (inline CSS, no scripts, nothing
//! fetched but the campaign's own media URLs) for a person to look at. At
//! the top, what a real run would do now (and why it would stop); then
//! every count, exact; a sample of messages as the customer will see them;
//! and a sample of the rows not sent now, by reason, with until when.
//! Whatever the number of rows, the page and the memory it takes are
//! bounded: only the samples are kept. Every value from a CSV cell or a
//! template is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use jiff::Timestamp;

use super::tally::{INVALID_LISTED, count, detail};
use super::view::{Header, Media, Template, View};
use super::{Level, Preview, Sink, Tally, explain, verdict};
use crate::outcome::Filled;
use crate::outcome::{Note, Outcome, Reason, Route, Status};
use crate::wire::message::MediaType;

/// Messages shown in full when `--limit` does not say otherwise.
pub const BUBBLES_SHOWN: u64 = 200;
/// The most messages shown in full, whatever `--limit` says.
const BUBBLES_MAX: u64 = 2_000;
/// Rows not sent now listed per status and reason.
const HELD_SHOWN: usize = 20;

/// HTML-escape text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text with line breaks kept.
fn text(s: &str) -> String {
    esc(s).replace('\n', "<br>")
}

/// Only http(s) URLs become links or images; anything else is shown as text.
fn safe_url(u: &str) -> Option<String> {
    (u.starts_with("https://") || u.starts_with("http://")).then(|| esc(u))
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#efeae2;color:#111b21}
header{background:#075e54;color:#fff;padding:16px 20px}
header h1{margin:0 0 4px;font-size:20px;overflow-wrap:anywhere}
header p{margin:0;opacity:.85}
.catalogue{margin:0;padding:8px 20px;background:#fff;border-bottom:1px solid #ddd;font-size:13px;overflow-wrap:anywhere}
.verdict{padding:12px 20px;border-bottom:1px solid #ddd}
.verdict p{margin:0}
.verdict p+p{margin-top:4px}
.verdict.stop{background:#fde8e8;color:#8a1c1c}
.verdict.wait{background:#fff6d6;color:#6b5200}
.verdict.go{background:#e7f8e3;color:#1d5b16}
.verdict table{margin-top:8px;background:#fff}
.counts{display:flex;flex-wrap:wrap;gap:6px 8px;padding:12px 20px;background:#fff;border-bottom:1px solid #ddd}
.count{background:#f0f2f5;border-radius:12px;padding:4px 10px;font-size:13px;white-space:nowrap}
.count.sub{background:none;padding:4px 2px;color:#54656f}
.count b{margin-left:4px}
main{max-width:760px;margin:0 auto;padding:16px}
.chat{margin:0 0 22px}
.who{font-size:13px;color:#54656f;margin:0 0 4px;display:flex;gap:4px 8px;align-items:center;flex-wrap:wrap}
.who b,.who span{white-space:nowrap}
.badge{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff}
.badge.session{background:#25d366}
.badge.template{background:#53bdeb}
.who .why{color:#667781;white-space:normal}
.bubble{background:#d9fdd3;border-radius:8px;padding:8px 10px;max-width:520px;margin-left:auto;box-shadow:0 1px .5px rgba(11,20,26,.13);overflow-wrap:break-word}
.bubble img{display:block;max-width:100%;border-radius:6px;margin-bottom:6px}
.media{display:block;background:#c8efc1;border-radius:6px;padding:10px;margin-bottom:6px;font-size:13px;overflow-wrap:anywhere}
.hdr{font-weight:700;margin-bottom:4px}
.ftr{color:#667781;font-size:13px;margin-top:4px}
.buttons{max-width:520px;margin-left:auto;display:flex;flex-direction:column;gap:2px;margin-top:2px}
.buttons span,.buttons a{text-decoration:none;background:#fff;color:#027eb5;text-align:center;border-radius:8px;padding:7px;box-shadow:0 1px .5px rgba(11,20,26,.13)}
.list{background:#fff;border-radius:8px;max-width:520px;margin:2px 0 0 auto;padding:6px 10px;font-size:13px}
.list h4{margin:6px 0 2px;color:#008069;font-size:12px;text-transform:uppercase}
.list div{padding:3px 0;border-top:1px solid #eee}
.list small{display:block;color:#667781}
.tmpl{font-size:12px;color:#54656f;margin-bottom:6px}
.params{width:100%;border-collapse:collapse;font-size:13px;margin-top:6px}
.params td{border-top:1px solid #b7dcb0;padding:2px 4px;vertical-align:top}
.params td:first-child{color:#54656f;white-space:nowrap}
.params td+td{overflow-wrap:anywhere}
.loc{font-size:13px}
section.rest{background:#fff;border-radius:8px;padding:10px 14px;margin-top:24px}
section.rest h2{font-size:16px;margin:4px 0 8px}
table.rows{border-collapse:collapse;width:100%;font-size:13px}
.rows td,.rows th{border-top:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
.rows .n,.rows .tel,.rows .st,.rows .fld{white-space:nowrap}
.rows .n{text-align:right;font-variant-numeric:tabular-nums}
.rows .why{width:100%;overflow-wrap:break-word}
.rows tr.group th{background:#f0f2f5;font-weight:600;padding-top:8px}
.rows tr.group small{font-weight:400;color:#54656f}
.rows tr.more td{color:#54656f}
.more{color:#54656f;text-align:center;margin:10px 0}
@media (max-width:600px){
 .rows thead{display:none}
 .rows tr{display:flex;flex-wrap:wrap;gap:0 10px;border-top:1px solid #eee;padding:4px 0}
 .rows td,.rows th{border:0;padding:1px 0}
 .rows tr.group th{flex:1 1 100%;padding:6px}
 .rows td.n::before{content:attr(data-label) " "}
 .rows td.why{flex:1 1 100%}
}
"#;

/// Rows not sent now for one status and reason: the first few.
#[derive(Default)]
struct Group {
    reason: Option<Reason>,
    rows: Vec<Held>,
}

/// A row not sent now, as listed.
struct Held {
    row: u64,
    line: Option<u64>,
    recipient: Option<String>,
    why: String,
}

/// The HTML page: samples kept as rows arrive, written whole at the end.
pub struct Page {
    out: Box<dyn Write + Send>,
    campaign: String,
    at: Timestamp,
    skip_invalid: bool,
    catalogue: Option<String>,
    shown: u64,
    bubbles: Vec<Outcome>,
    /// Rows not sent now, by status and reason, in that order.
    held: BTreeMap<(Status, String), Group>,
}

impl Page {
    pub fn new(p: &Preview, out: Box<dyn Write + Send>) -> Page {
        Page {
            out,
            campaign: p.campaign.clone(),
            at: p.at,
            skip_invalid: p.skip_invalid,
            catalogue: p.catalogue.clone(),
            shown: p.limit.unwrap_or(BUBBLES_SHOWN).min(BUBBLES_MAX),
            bubbles: Vec::new(),
            held: BTreeMap::new(),
        }
    }

    fn page(&self, tally: &Tally) -> String {
        let mut h = String::with_capacity(64 * 1024 + self.bubbles.len() * 1024);
        let name = esc(&self.campaign);
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{name} — preview</title><style>{CSS}</style></head><body>\
             <header><h1>{name}</h1><p>Preview as of {} · nothing has been sent</p></header>",
            esc(&crate::outcome::short(self.at)),
        );
        if let Some(note) = &self.catalogue {
            let _ = write!(h, "<p class=\"catalogue\">{}</p>", text(note));
        }
        banner(&mut h, tally, self.skip_invalid);
        counts(&mut h, tally);
        h.push_str("<main>");
        for o in &self.bubbles {
            bubble(&mut h, o);
        }
        let planned = tally.status(Status::Planned);
        if planned > self.bubbles.len() as u64 {
            let more = count(planned - self.bubbles.len() as u64, "more planned message");
            let _ = write!(h, "<p class=\"more\">… {more} not shown (--format jsonl lists every one)</p>");
        }
        self.rest(&mut h, tally);
        h.push_str("</main></body></html>\n");
        h
    }

    /// Every row not sent now, except invalid ones (listed at the top), by status and reason.
    fn rest(&self, h: &mut String, tally: &Tally) {
        if self.held.is_empty() {
            return;
        }
        h.push_str("<section class=\"rest\"><h2>Not sent now</h2><table class=\"rows\">");
        h.push_str("<thead><tr><th>row</th><th>line</th><th>recipient</th><th>status</th><th>why</th></tr></thead>");
        for ((status, label), Group { reason, rows }) in &self.held {
            let total = tally.details(*status).iter().find(|(k, _)| k == label).map_or(0, |(_, n)| *n);
            let explained = reason.map(|r| format!(" <small>{}</small>", esc(explain(r)))).unwrap_or_default();
            let _ = write!(
                h,
                "<tbody><tr class=\"group\"><th colspan=\"5\">{} · {} — {}{explained}</th></tr>",
                status.as_str(),
                esc(label),
                count(total, "row")
            );
            for r in rows {
                held_row(h, *status, r);
            }
            if total > rows.len() as u64 {
                let _ = write!(
                    h,
                    "<tr class=\"more\"><td colspan=\"5\">… and {} more</td></tr>",
                    total - rows.len() as u64
                );
            }
            h.push_str("</tbody>");
        }
        h.push_str("</table></section>");
    }
}

impl Sink for Page {
    fn row(&mut self, o: &Outcome, _: Option<&[u8]>) -> std::io::Result<()> {
        if o.status == Status::Planned {
            if (self.bubbles.len() as u64) < self.shown {
                self.bubbles.push(o.clone());
            }
            return Ok(());
        }
        if o.reason == Some(Reason::Invalid) {
            // Listed at the top, from the tally.
            return Ok(());
        }
        let group = self.held.entry((o.status, detail(o).into_owned())).or_default();
        group.reason = o.reason;
        if group.rows.len() < HELD_SHOWN {
            group.rows.push(Held { row: o.row, line: o.line, recipient: o.recipient.clone(), why: why(o) });
        }
        Ok(())
    }

    fn finish(&mut self, tally: &Tally) -> std::io::Result<()> {
        let page = self.page(tally);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

/// Until when a deferred row waits, or what went wrong with it.
fn why(o: &Outcome) -> String {
    let mut parts = Vec::new();
    if let (Status::Deferred, Note::Until(t)) = (o.status, &o.note) {
        parts.push(format!("until {}", crate::outcome::short(*t)));
    }
    if let Some(e) = &o.error {
        let field = e.field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default();
        parts.push(format!("{field}{}", e.message));
    }
    parts.join(" · ")
}

fn held_row(h: &mut String, status: Status, r: &Held) {
    let line = r.line.map(|l| l.to_string()).unwrap_or_default();
    let _ = write!(
        h,
        "<tr class=\"row-{s}\"><td class=\"n\" data-label=\"row\">{}</td><td class=\"n\" data-label=\"line\">{line}</td>\
         <td class=\"tel\">{}</td><td class=\"st\">{s}</td><td class=\"why\">{}</td></tr>",
        r.row,
        esc(r.recipient.as_deref().unwrap_or("—")),
        esc(&r.why),
        s = status.as_str(),
    );
}

/// What a real run would do now, first thing on the page; the invalid rows
/// that would stop it, listed.
fn banner(h: &mut String, tally: &Tally, skip_invalid: bool) {
    let v = verdict(tally, skip_invalid);
    let class = match v.level {
        Level::Stop => "stop",
        Level::Wait => "wait",
        Level::Go => "go",
    };
    let _ = write!(h, "<div class=\"verdict {class}\"><p><b>{}</b></p>", esc(&v.headline));
    if let Some(a) = &v.advice {
        let _ = write!(h, "<p>{}</p>", esc(a));
    }
    if !tally.invalid.is_empty() {
        h.push_str("<table class=\"rows invalid\"><thead><tr><th>row</th><th>line</th><th>recipient</th><th>field</th><th>why</th></tr></thead><tbody>");
        for o in &tally.invalid {
            let e = o.error.as_ref();
            let _ = write!(
                h,
                "<tr class=\"row-invalid\"><td class=\"n\" data-label=\"row\">{}</td><td class=\"n\" data-label=\"line\">{}</td>\
                 <td class=\"tel\">{}</td><td class=\"fld\">{}</td><td class=\"why\">{}</td></tr>",
                o.row,
                o.line.map(|l| l.to_string()).unwrap_or_default(),
                esc(o.recipient.as_deref().unwrap_or("—")),
                // A long field path may break after its dots, nowhere else.
                esc(e.and_then(|e| e.field.as_deref()).unwrap_or("")).replace('.', ".<wbr>"),
                esc(e.map_or("", |e| e.message.as_str())),
            );
        }
        let n = tally.reason(Reason::Invalid);
        if n > INVALID_LISTED as u64 {
            let _ =
                write!(h, "<tr class=\"more\"><td colspan=\"5\">… and {} more</td></tr>", n - INVALID_LISTED as u64);
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</div>");
}

/// Every count, exact: rows, then each status followed by what it breaks down into.
fn counts(h: &mut String, tally: &Tally) {
    let _ = write!(h, "<div class=\"counts\"><span class=\"count\">rows<b>{}</b></span>", tally.rows);
    for (s, n) in tally.statuses() {
        let _ = write!(h, "<span class=\"count status\">{}<b>{n}</b></span>", s.as_str());
        for (k, n) in tally.details(s) {
            let _ = write!(h, "<span class=\"count sub\">{}<b>{n}</b></span>", esc(&k));
        }
    }
    h.push_str("</div>");
}

fn media(h: &mut String, m: &Media) {
    match (m.kind, safe_url(&m.url)) {
        (MediaType::Image, Some(u)) => {
            let _ = write!(h, "<img src=\"{u}\" alt=\"image\" loading=\"lazy\">");
        }
        (kind, u) => {
            let label = match kind {
                MediaType::Video => "🎬 Video",
                MediaType::Audio => "🎵 Audio",
                MediaType::Document => "📄 Document",
                MediaType::Image => "🖼 Image",
            };
            let name = esc(m.filename.as_deref().unwrap_or(&m.url));
            let _ = match u {
                Some(u) => write!(h, "<a class=\"media\" href=\"{u}\">{label}: {name}</a>"),
                None => write!(h, "<span class=\"media\">{label}: {name}</span>"),
            };
        }
    }
}

/// One planned message: who, by which route and why, then the message.
fn bubble(h: &mut String, o: &Outcome) {
    let route = o.route.unwrap_or(Route::Template);
    let line = o.line.map(|l| format!(" · line {l}")).unwrap_or_default();
    let view = View::of(o);
    let _ = write!(
        h,
        "<div class=\"chat\" data-row=\"{}\" data-kind=\"{}\"><p class=\"who\"><b>{}</b><span>row {}{line}</span><span class=\"badge {r}\">{r}</span><span class=\"why\">{}</span></p>",
        o.row,
        view.as_ref().map_or("", |v| v.kind.name()),
        esc(o.recipient.as_deref().unwrap_or("")),
        o.row,
        esc(&o.note.to_string()),
        r = route.as_str(),
    );
    match view {
        Some(View { template: Some(t), media: m, filled: Some(f), .. }) => filled(h, &t, m.as_ref(), &f),
        Some(View { template: Some(t), media: m, .. }) => template(h, &t, m.as_ref()),
        Some(v) => session(h, &v),
        None => h.push_str("<div class=\"bubble\"></div>"),
    }
    h.push_str("</div>");
}

fn template(h: &mut String, t: &Template, header: Option<&Media>) {
    let _ = write!(
        h,
        "<div class=\"bubble\"><div class=\"tmpl\">template <b>{}</b> · {}</div>",
        esc(&t.name),
        esc(&t.language)
    );
    if let Some(m) = header {
        media(h, m);
    }
    h.push_str("<table class=\"params\">");
    for p in &t.parameters {
        let f = p.filename.as_deref().map(|f| format!(" ({})", esc(f))).unwrap_or_default();
        let _ = write!(h, "<tr><td>{}</td><td>{}{f}</td></tr>", esc(&p.name), text(&p.value));
    }
    h.push_str("</table></div>");
}

/// A template as the customer reads it: the catalogue's header, body
/// filled from the row, footer and buttons.
fn filled(h: &mut String, t: &Template, header: Option<&Media>, f: &Filled) {
    let category = f.category.as_deref().map(|c| format!(" · {}", esc(c))).unwrap_or_default();
    let _ = write!(
        h,
        "<div class=\"bubble\"><div class=\"tmpl\">template <b>{}</b> · {}{category}</div>",
        esc(&t.name),
        esc(&t.language)
    );
    if let Some(m) = header {
        media(h, m);
    }
    if let Some(t) = &f.header {
        let _ = write!(h, "<div class=\"hdr\">{}</div>", text(t));
    }
    let _ = write!(h, "<div>{}</div>", text(&f.body));
    if let Some(t) = &f.footer {
        let _ = write!(h, "<div class=\"ftr\">{}</div>", text(t));
    }
    h.push_str("</div>");
    if !f.buttons.is_empty() {
        h.push_str("<div class=\"buttons\">");
        for b in &f.buttons {
            match b.url.as_deref().and_then(safe_url) {
                Some(u) => {
                    let _ = write!(h, "<a href=\"{u}\" title=\"{u}\">↗ {}</a>", esc(&b.text));
                }
                None => {
                    let _ = write!(h, "<span>{}</span>", esc(&b.text));
                }
            }
        }
        h.push_str("</div>");
    }
}

fn session(h: &mut String, v: &View) {
    h.push_str("<div class=\"bubble\">");
    match &v.header {
        Some(Header::Text(t)) => {
            let _ = write!(h, "<div class=\"hdr\">{}</div>", text(t));
        }
        Some(Header::Media(m)) => media(h, m),
        None => {}
    }
    if let Some(m) = &v.media {
        media(h, m);
    }
    if let Some(t) = &v.text {
        let _ = write!(h, "<div>{}</div>", text(t));
    }
    if let Some(l) = &v.location {
        let _ = write!(
            h,
            "<div class=\"loc\">📍 <b>{}</b><br>{}<br><small>{}, {}</small></div>",
            esc(l.name.as_deref().unwrap_or("")),
            esc(l.address.as_deref().unwrap_or("")),
            esc(&l.latitude),
            esc(&l.longitude)
        );
    }
    if let Some(f) = &v.footer {
        let _ = write!(h, "<div class=\"ftr\">{}</div>", text(f));
    }
    h.push_str("</div>");
    if !v.buttons.is_empty() {
        h.push_str("<div class=\"buttons\">");
        for b in &v.buttons {
            let _ = write!(h, "<span>{}</span>", esc(b));
        }
        h.push_str("</div>");
    }
    if let Some(l) = &v.list {
        let _ = write!(h, "<div class=\"buttons\"><span>☰ {}</span></div><div class=\"list\">", esc(&l.button));
        for sec in &l.sections {
            if let Some(t) = &sec.title {
                let _ = write!(h, "<h4>{}</h4>", esc(t));
            }
            for (t, d) in &sec.rows {
                let d = d.as_deref().map(|d| format!("<small>{}</small>", esc(d))).unwrap_or_default();
                let _ = write!(h, "<div>{}{d}</div>", esc(t));
            }
        }
        h.push_str("</div>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::FilledButton;

    use crate::outcome::Request;

    fn planned(route: Route, body: serde_json::Value) -> Outcome {
        let mut o = Outcome::new(1);
        o.recipient = Some("+16044441111".into());
        o.route = Some(route);
        o.request = Some(Request { path: "/p", body: crate::json::Json::of(&body) });
        o
    }

    fn bubble_of(o: &Outcome) -> String {
        let mut h = String::new();
        bubble(&mut h, o);
        h
    }

    fn session_of(message: serde_json::Value) -> String {
        bubble_of(&planned(
            Route::Session,
            serde_json::json!({"recipient": {"id": "+16044441111", "channelType": "whatsapp"}, "message": message}),
        ))
    }

    #[test]
    fn every_message_kind_has_a_bubble() {
        let img = session_of(
            serde_json::json!({"attachments": [{"type": "image", "url": "https://x/a.jpg", "caption": "Look\nhere"}]}),
        );
        assert!(img.contains(r#"<img src="https://x/a.jpg""#) && img.contains("Look<br>here"), "{img}");
        let doc = session_of(
            serde_json::json!({"attachments": [{"type": "document", "url": "https://x/i.pdf", "filename": "i.pdf"}]}),
        );
        assert!(doc.contains("📄 Document: i.pdf"), "{doc}");
        let video = session_of(serde_json::json!({"attachments": [{"type": "video", "url": "https://x/v.mp4"}]}));
        assert!(video.contains("🎬 Video"), "{video}");
        let loc = session_of(
            serde_json::json!({"location": {"latitude": 37.7, "longitude": -122.4, "name": "Shop", "address": "1 Main St"}}),
        );
        assert!(loc.contains("📍 <b>Shop</b><br>1 Main St") && loc.contains("37.7, -122.4"), "{loc}");
        let list = session_of(
            serde_json::json!({"text": "Pick", "listMessage": {"header": {"text": "New"}, "footer": {"text": "Tap"}, "button": {"text": "See"},
                "sections": [{"title": "Clothing", "rows": [{"id": "1", "text": "Shirts", "description": "Linen"}]}]}}),
        );
        for needle in [
            "<div class=\"hdr\">New</div>",
            "☰ See",
            "<h4>Clothing</h4>",
            "Shirts<small>Linen</small>",
            "<div class=\"ftr\">Tap</div>",
        ] {
            assert!(list.contains(needle), "{needle} in {list}");
        }
        let buttons = session_of(
            serde_json::json!({"text": "Hi", "replyButtonMessage": {"header": {"attachment": {"type": "image", "url": "https://x/h.png"}},
                "buttons": [{"id": "a", "text": "Yes"}, {"id": "b", "text": "No"}]}}),
        );
        assert!(
            buttons.contains(r#"<img src="https://x/h.png""#) && buttons.contains("<span>Yes</span><span>No</span>"),
            "{buttons}"
        );
        let tmpl = bubble_of(&planned(
            Route::Template,
            serde_json::json!({"number": "+16044441111", "templateName": "spring_sale", "language": "en", "parameters": [
                {"name": "header_image", "value": "https://x/p.jpg"}, {"name": "body_1", "value": "Ana"}]}),
        ));
        assert!(
            tmpl.contains("template <b>spring_sale</b> · en")
                && tmpl.contains("<td>body_1</td><td>Ana</td>")
                && tmpl.contains("<img src=\"https://x/p.jpg\""),
            "{tmpl}"
        );
        assert!(tmpl.contains("badge template") && tmpl.contains("data-kind=\"template\""));
        assert!(list.contains("data-kind=\"list\"") && doc.contains("data-kind=\"document\""));
    }

    #[test]
    fn a_checked_template_is_shown_as_the_customer_reads_it() {
        let mut o = planned(
            Route::Template,
            serde_json::json!({"number": "+16044441111", "templateName": "spring_sale", "language": "en", "parameters": [
                {"name": "header_image", "value": "https://x/p.jpg"}, {"name": "body_1", "value": "<Ana>"}]}),
        );
        o.filled = Some(Box::new(Filled {
            category: Some("MARKETING".into()),
            header: None,
            body: "Hi <Ana>,\n20% off".into(),
            footer: Some("Reply STOP".into()),
            buttons: vec![
                FilledButton { text: "Shop now".into(), url: Some("https://shop.example/p/A-1".into()) },
                FilledButton { text: "No".into(), url: None },
            ],
        }));
        let b = bubble_of(&o);
        for needle in [
            "template <b>spring_sale</b> · en · MARKETING",
            "<img src=\"https://x/p.jpg\"",
            "<div>Hi &lt;Ana&gt;,<br>20% off</div>",
            "<div class=\"ftr\">Reply STOP</div>",
            "<div class=\"buttons\"><a href=\"https://shop.example/p/A-1\" title=\"https://shop.example/p/A-1\">↗ Shop now</a><span>No</span></div>",
        ] {
            assert!(b.contains(needle), "{needle} in {b}");
        }
        assert!(!b.contains("<td>body_1</td>"), "the filled text replaces the parameter table");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(text("a\n<b>"), "a<br>&lt;b&gt;");
    }

    #[test]
    fn the_page_is_bounded_and_its_counts_exact() {
        let p = Preview {
            campaign: "c".into(),
            csv: "people.csv".into(),
            at: "2026-11-23T12:00:00Z".parse().unwrap(),
            format: super::super::Format::Html,
            quiet: false,
            limit: None,
            skip_invalid: false,
            catalogue: None,
        };
        let mut page = Page::new(&p, Box::new(std::io::sink()));
        let mut tally = Tally::default();
        let body = serde_json::json!({"number": "+1", "templateName": "t", "language": "en", "parameters": [{"name": "body_1", "value": "x"}]});
        for i in 0..10_000u64 {
            let mut o = planned(Route::Template, body.clone());
            o.row = i + 1;
            if i % 2 == 1 {
                o.status = Status::Skipped;
                o.reason = Some(Reason::Duplicate);
                o.request = None;
            }
            tally.add(&o);
            page.row(&o, None).unwrap();
        }
        let html = page.page(&tally);
        assert_eq!(html.matches("class=\"chat\"").count(), BUBBLES_SHOWN as usize);
        assert_eq!(html.matches("<tr class=\"row-skipped\">").count(), HELD_SHOWN);
        assert!(html.contains("planned<b>5000</b>") && html.contains("duplicate<b>5000</b>"), "exact counts");
        assert!(html.contains("… 4800 more planned messages not shown"));
        assert!(html.contains("… and 4980 more"));
        assert!(html.len() < 400 * 1024, "{} bytes", html.len());
    }
}
