//! The human preview: the first messages in full, with their route and why,
//! then counts. Colour only on a terminal with NO_COLOR unset.

use std::io::IsTerminal;

use crate::outcome::Route;
use crate::outcome::{Outcome, Status};

pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn stdout() -> Style {
        Style { color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }
    pub fn stderr() -> Style {
        Style { color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// One planned message, in full, as a person reads it.
pub fn message_block(o: &Outcome, style: &Style) -> String {
    let mut s = String::new();
    let route = match o.route {
        Some(Route::Session) => style.green("session"),
        Some(Route::Template) => style.cyan("template"),
        None => String::new(),
    };
    s.push_str(&format!(
        "{} {}  {}  {}\n",
        style.bold(&format!("row {}", o.row)),
        o.recipient.as_deref().unwrap_or("?"),
        route,
        style.dim(&o.note.to_string())
    ));
    if let Some(req) = &o.request {
        let body: serde_json::Value = serde_json::from_str(req.body.get()).unwrap_or_default();
        for line in describe(&body).lines() {
            s.push_str(&format!("  │ {line}\n"));
        }
    }
    s
}

/// A readable rendering of a request body.
pub fn describe(body: &serde_json::Value) -> String {
    let mut out = Vec::new();
    if let Some(name) = body.get("templateName").and_then(|v| v.as_str()) {
        let lang = body.get("language").and_then(|v| v.as_str()).unwrap_or("");
        out.push(format!("template {name} ({lang})"));
        for p in body.get("parameters").and_then(|v| v.as_array()).into_iter().flatten() {
            let n = p.get("name").and_then(|v| v.as_str()).unwrap_or("");
            let v = p.get("value").and_then(|v| v.as_str()).unwrap_or("");
            let f = p.get("filename").and_then(|v| v.as_str()).map(|f| format!(" [{f}]")).unwrap_or_default();
            out.push(format!("  {n} = {v}{f}"));
        }
        return out.join("\n");
    }
    let Some(m) = body.get("message") else {
        return String::new();
    };
    let str_at = |v: &serde_json::Value, p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
    for kind in ["listMessage", "replyButtonMessage"] {
        if let Some(h) = m.get(kind).and_then(|k| k.get("header")) {
            if let Some(t) = str_at(h, "/text") {
                out.push(format!("[{t}]"));
            }
            if let Some(u) = str_at(h, "/attachment/url") {
                out.push(format!("[{}: {u}]", str_at(h, "/attachment/type").unwrap_or_default()));
            }
        }
    }
    if let Some(a) = m.get("attachments").and_then(|a| a.get(0)) {
        out.push(format!(
            "[{}: {}]",
            str_at(a, "/type").unwrap_or_default(),
            str_at(a, "/filename").or_else(|| str_at(a, "/url")).unwrap_or_default()
        ));
        if let Some(c) = str_at(a, "/caption") {
            out.push(c);
        }
    }
    if let Some(t) = str_at(m, "/text") {
        out.push(t);
    }
    if let Some(l) = m.get("location") {
        out.push(format!(
            "📍 {} {} ({}, {})",
            str_at(l, "/name").unwrap_or_default(),
            str_at(l, "/address").unwrap_or_default(),
            l.get("latitude").cloned().unwrap_or_default(),
            l.get("longitude").cloned().unwrap_or_default()
        ));
    }
    if let Some(r) = m.get("replyButtonMessage") {
        let buttons: Vec<String> = r
            .get("buttons")
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
            .map(|b| format!("[ {} ]", str_at(b, "/text").unwrap_or_default()))
            .collect();
        if let Some(f) = str_at(r, "/footer/text") {
            out.push(f);
        }
        out.push(buttons.join(" "));
    }
    if let Some(l) = m.get("listMessage") {
        if let Some(f) = str_at(l, "/footer/text") {
            out.push(f);
        }
        out.push(format!("[ ☰ {} ]", str_at(l, "/button/text").unwrap_or_default()));
        for s in l.get("sections").and_then(|s| s.as_array()).into_iter().flatten() {
            if let Some(t) = str_at(s, "/title") {
                out.push(format!("  {t}"));
            }
            for r in s.get("rows").and_then(|r| r.as_array()).into_iter().flatten() {
                let d = str_at(r, "/description").map(|d| format!(" — {d}")).unwrap_or_default();
                out.push(format!("    • {}{d}", str_at(r, "/text").unwrap_or_default()));
            }
        }
    }
    out.join("\n")
}

/// A one-line account of a row that is not sent.
pub fn row_line(o: &Outcome, style: &Style) -> String {
    let status = match o.status {
        Status::Failed | Status::Unknown => style.red(o.status.as_str()),
        Status::Skipped | Status::Deferred => style.yellow(o.status.as_str()),
        _ => o.status.as_str().to_string(),
    };
    let reason = o.reason.map(|r| format!("/{}", r.as_str())).unwrap_or_default();
    let err = o
        .error
        .as_ref()
        .map(|e| {
            let field = e.field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default();
            let code = e.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default();
            format!(" — {field}{code}{}", e.message)
        })
        .unwrap_or_default();
    format!("row {} {} {status}{reason}{err}", o.row, o.recipient.as_deref().unwrap_or("-"))
}
