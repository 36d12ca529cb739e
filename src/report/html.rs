//! `--format html`: one self-contained page (inline CSS, no scripts, nothing
//! fetched but the campaign's own media URLs) showing each message as the
//! customer will see it. Every value from a CSV cell or a template is escaped.

use std::fmt::Write;

use jiff::Timestamp;
use serde_json::Value;

use crate::campaign::Campaign;
use crate::outcome::Route;
use crate::outcome::{Outcome, Status};
use crate::report::Tally;

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
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;opacity:.85}
.counts{display:flex;flex-wrap:wrap;gap:8px;padding:12px 20px;background:#fff;border-bottom:1px solid #ddd}
.count{background:#f0f2f5;border-radius:12px;padding:4px 10px;font-size:13px}
.count b{margin-left:4px}
main{max-width:760px;margin:0 auto;padding:16px}
.chat{margin:0 0 22px}
.who{font-size:13px;color:#54656f;margin:0 0 4px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.badge{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff}
.badge.session{background:#25d366}
.badge.template{background:#53bdeb}
.why{color:#667781}
.bubble{background:#d9fdd3;border-radius:8px;padding:8px 10px;max-width:520px;margin-left:auto;box-shadow:0 1px .5px rgba(11,20,26,.13);overflow-wrap:anywhere}
.bubble img{display:block;max-width:100%;border-radius:6px;margin-bottom:6px}
.media{display:block;background:#c8efc1;border-radius:6px;padding:10px;margin-bottom:6px;font-size:13px}
.hdr{font-weight:700;margin-bottom:4px}
.ftr{color:#667781;font-size:13px;margin-top:4px}
.buttons{max-width:520px;margin-left:auto;display:flex;flex-direction:column;gap:2px;margin-top:2px}
.buttons span{background:#fff;color:#027eb5;text-align:center;border-radius:8px;padding:7px;box-shadow:0 1px .5px rgba(11,20,26,.13)}
.list{background:#fff;border-radius:8px;max-width:520px;margin:2px 0 0 auto;padding:6px 10px;font-size:13px}
.list h4{margin:6px 0 2px;color:#008069;font-size:12px;text-transform:uppercase}
.list div{padding:3px 0;border-top:1px solid #eee}
.list small{display:block;color:#667781}
.tmpl{font-size:12px;color:#54656f;margin-bottom:6px}
.params{width:100%;border-collapse:collapse;font-size:13px;margin-top:6px}
.params td{border-top:1px solid #b7dcb0;padding:2px 4px;vertical-align:top}
.params td:first-child{color:#54656f;white-space:nowrap}
.loc{font-size:13px}
section.rest{background:#fff;border-radius:8px;padding:10px 14px;margin-top:24px}
section.rest h2{font-size:16px;margin:4px 0 8px}
.rest table{border-collapse:collapse;width:100%;font-size:13px}
.rest td,.rest th{border-top:1px solid #eee;padding:4px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.more{color:#54656f;text-align:center;margin:10px 0}
"#;

/// The whole page.
pub fn page(c: &Campaign, at: Timestamp, tally: &Tally, outcomes: &[Outcome], limit: Option<u64>) -> String {
    let mut h = String::with_capacity(16 * 1024 + outcomes.len() * 600);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} — preview</title><style>{CSS}</style></head><body>\
         <header><h1>{}</h1><p>Preview as of {} · nothing has been sent</p></header><div class=\"counts\">",
        esc(&c.name),
        esc(&c.name),
        esc(&crate::outcome::short(at)),
    );
    let _ = write!(h, "<span class=\"count\">rows<b>{}</b></span>", tally.rows);
    for (s, n) in &tally.by_status {
        let _ = write!(h, "<span class=\"count\">{}<b>{n}</b></span>", s.as_str());
    }
    for (r, n) in &tally.by_route {
        let _ = write!(h, "<span class=\"count\">{r}<b>{n}</b></span>");
    }
    for (r, n) in &tally.by_reason {
        let _ = write!(h, "<span class=\"count\">{}<b>{n}</b></span>", r.as_str());
    }
    h.push_str("</div><main>");
    let mut bubbles = 0u64;
    let planned = outcomes.iter().filter(|o| o.status == Status::Planned).count() as u64;
    for o in outcomes.iter().filter(|o| o.status == Status::Planned) {
        if limit.is_some_and(|l| bubbles >= l) {
            break;
        }
        bubbles += 1;
        bubble(&mut h, o);
    }
    if planned > bubbles {
        let more = planned - bubbles;
        let s = if more == 1 { "" } else { "s" };
        let _ = write!(h, "<p class=\"more\">… {more} more planned message{s} not shown</p>");
    }
    let rest: Vec<&Outcome> = outcomes.iter().filter(|o| o.status != Status::Planned).collect();
    if !rest.is_empty() {
        h.push_str("<section class=\"rest\"><h2>Not sent now</h2><table><tr><th>row</th><th>recipient</th><th>status</th><th>reason</th></tr>");
        for o in rest {
            let reason = o.reason.map(|r| r.as_str()).unwrap_or("");
            let detail = o
                .error
                .as_ref()
                .map(|e| {
                    let f = e.field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default();
                    format!(" — {}{}", f, e.message)
                })
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr class=\"row-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                o.status.as_str(),
                o.row,
                esc(o.recipient.as_deref().unwrap_or("—")),
                o.status.as_str(),
                esc(reason),
                esc(&detail)
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn media(h: &mut String, kind: &str, url: &str, filename: Option<&str>) {
    match (kind, safe_url(url)) {
        ("image", Some(u)) => {
            let _ = write!(h, "<img src=\"{u}\" alt=\"image\" loading=\"lazy\">");
        }
        (_, u) => {
            let label = match kind {
                "video" => "🎬 Video",
                "audio" => "🎵 Audio",
                "document" => "📄 Document",
                _ => "📎 Attachment",
            };
            let name = filename.map(esc).unwrap_or_else(|| esc(url));
            let _ = match u {
                Some(u) => write!(h, "<a class=\"media\" href=\"{u}\">{label}: {name}</a>"),
                None => write!(h, "<span class=\"media\">{label}: {name}</span>"),
            };
        }
    }
}

fn bubble(h: &mut String, o: &Outcome) {
    let route = o.route.unwrap_or(Route::Template);
    let _ = write!(
        h,
        "<div class=\"chat\" data-row=\"{}\"><p class=\"who\"><b>{}</b><span>row {}</span><span class=\"badge {}\">{}</span><span class=\"why\">{}</span></p>",
        o.row,
        esc(o.recipient.as_deref().unwrap_or("")),
        o.row,
        route.as_str(),
        route.as_str(),
        esc(&o.note.to_string())
    );
    let body: Value = o.request.as_ref().and_then(|r| serde_json::from_str(r.body.get()).ok()).unwrap_or_default();
    h.push_str("<div class=\"bubble\">");
    if let Some(name) = s(&body, "/templateName") {
        let _ = write!(
            h,
            "<div class=\"tmpl\">template <b>{}</b> · {}</div>",
            esc(name),
            esc(s(&body, "/language").unwrap_or(""))
        );
        let params = body.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for p in &params {
            let n = s(p, "/name").unwrap_or("");
            if let Some(kind) = n.strip_prefix("header_").filter(|k| *k != "text") {
                media(h, kind, s(p, "/value").unwrap_or(""), s(p, "/filename"));
            }
        }
        h.push_str("<table class=\"params\">");
        for p in &params {
            let f = s(p, "/filename").map(|f| format!(" ({})", esc(f))).unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}{f}</td></tr>",
                esc(s(p, "/name").unwrap_or("")),
                text(s(p, "/value").unwrap_or(""))
            );
        }
        h.push_str("</table></div></div>");
        return;
    }
    let m = body.get("message").cloned().unwrap_or_default();
    for kind in ["/listMessage/header", "/replyButtonMessage/header"] {
        if let Some(hd) = m.pointer(kind) {
            if let Some(t) = s(hd, "/text") {
                let _ = write!(h, "<div class=\"hdr\">{}</div>", text(t));
            }
            if let Some(u) = s(hd, "/attachment/url") {
                media(h, s(hd, "/attachment/type").unwrap_or(""), u, s(hd, "/attachment/filename"));
            }
        }
    }
    if let Some(a) = m.pointer("/attachments/0") {
        media(h, s(a, "/type").unwrap_or(""), s(a, "/url").unwrap_or(""), s(a, "/filename"));
        if let Some(c) = s(a, "/caption") {
            let _ = write!(h, "<div>{}</div>", text(c));
        }
    }
    if let Some(t) = s(&m, "/text") {
        let _ = write!(h, "<div>{}</div>", text(t));
    }
    if let Some(l) = m.get("location") {
        let _ = write!(
            h,
            "<div class=\"loc\">📍 <b>{}</b><br>{}<br><small>{}, {}</small></div>",
            esc(s(l, "/name").unwrap_or("")),
            esc(s(l, "/address").unwrap_or("")),
            esc(&l.get("latitude").map(Value::to_string).unwrap_or_default()),
            esc(&l.get("longitude").map(Value::to_string).unwrap_or_default())
        );
    }
    for kind in ["/listMessage/footer/text", "/replyButtonMessage/footer/text"] {
        if let Some(f) = s(&m, kind) {
            let _ = write!(h, "<div class=\"ftr\">{}</div>", text(f));
        }
    }
    h.push_str("</div>");
    if let Some(r) = m.get("replyButtonMessage") {
        h.push_str("<div class=\"buttons\">");
        for b in r.get("buttons").and_then(Value::as_array).into_iter().flatten() {
            let _ = write!(h, "<span>{}</span>", esc(s(b, "/text").unwrap_or("")));
        }
        h.push_str("</div>");
    }
    if let Some(l) = m.get("listMessage") {
        let _ = write!(
            h,
            "<div class=\"buttons\"><span>☰ {}</span></div><div class=\"list\">",
            esc(s(l, "/button/text").unwrap_or(""))
        );
        for sec in l.get("sections").and_then(Value::as_array).into_iter().flatten() {
            if let Some(t) = s(sec, "/title") {
                let _ = write!(h, "<h4>{}</h4>", esc(t));
            }
            for r in sec.get("rows").and_then(Value::as_array).into_iter().flatten() {
                let d = s(r, "/description").map(|d| format!("<small>{}</small>", esc(d))).unwrap_or_default();
                let _ = write!(h, "<div>{}{d}</div>", esc(s(r, "/text").unwrap_or("")));
            }
        }
        h.push_str("</div>");
    }
    h.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::outcome::Request;

    fn planned(route: Route, body: serde_json::Value) -> Outcome {
        let mut o = Outcome::new(1);
        o.recipient = Some("+16044441111".into());
        o.route = Some(route);
        o.request = Some(Request { path: "/p".into(), body: serde_json::value::to_raw_value(&body).unwrap() });
        o
    }

    fn bubble_of(o: &Outcome) -> String {
        let mut h = String::new();
        bubble(&mut h, o);
        h
    }

    #[test]
    fn every_message_kind_has_a_bubble() {
        let img = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"attachments": [{"type": "image", "url": "https://x/a.jpg", "caption": "Look\nhere"}]}}),
        ));
        assert!(img.contains(r#"<img src="https://x/a.jpg""#) && img.contains("Look<br>here"), "{img}");
        let doc = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"attachments": [{"type": "document", "url": "https://x/i.pdf", "filename": "i.pdf"}]}}),
        ));
        assert!(doc.contains("📄 Document: i.pdf"), "{doc}");
        let video = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"attachments": [{"type": "video", "url": "https://x/v.mp4"}]}}),
        ));
        assert!(video.contains("🎬 Video"), "{video}");
        let loc = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"location": {"latitude": 37.7, "longitude": -122.4, "name": "Shop", "address": "1 Main St"}}}),
        ));
        assert!(loc.contains("📍 <b>Shop</b><br>1 Main St") && loc.contains("37.7, -122.4"), "{loc}");
        let list = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"text": "Pick", "listMessage": {"header": {"text": "New"}, "footer": {"text": "Tap"}, "button": {"text": "See"},
                "sections": [{"title": "Clothing", "rows": [{"id": "1", "text": "Shirts", "description": "Linen"}]}]}}}),
        ));
        for needle in [
            "<div class=\"hdr\">New</div>",
            "☰ See",
            "<h4>Clothing</h4>",
            "Shirts<small>Linen</small>",
            "<div class=\"ftr\">Tap</div>",
        ] {
            assert!(list.contains(needle), "{needle} in {list}");
        }
        let buttons = bubble_of(&planned(
            Route::Session,
            serde_json::json!({"message": {"text": "Hi", "replyButtonMessage": {"header": {"attachment": {"type": "image", "url": "https://x/h.png"}},
                "buttons": [{"id": "a", "text": "Yes"}, {"id": "b", "text": "No"}]}}}),
        ));
        assert!(
            buttons.contains(r#"<img src="https://x/h.png""#) && buttons.contains("<span>Yes</span><span>No</span>"),
            "{buttons}"
        );
        let tmpl = bubble_of(&planned(
            Route::Template,
            serde_json::json!({"templateName": "spring_sale", "language": "en", "parameters": [
                {"name": "header_image", "value": "https://x/p.jpg"}, {"name": "body_1", "value": "Ana"}]}),
        ));
        assert!(
            tmpl.contains("template <b>spring_sale</b> · en")
                && tmpl.contains("<td>body_1</td><td>Ana</td>")
                && tmpl.contains("<img src=\"https://x/p.jpg\""),
            "{tmpl}"
        );
        assert!(tmpl.contains("badge template"));
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
}
