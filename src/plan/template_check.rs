//! The campaign's template against the business's catalogue (SPEC §3 step
//! 5): it exists under that name and language, is approved and not paused
//! or disabled, and the parameters given are exactly those it takes. One
//! check for `check`, dry runs and real runs; a mismatch is a campaign
//! error (exit 2) naming the template, the language, what the catalogue
//! expects and what the file gives.

use crate::campaign::{Campaign, Template, locate};
use crate::error::{Error, FieldError, Location};
use crate::wire::catalogue::{APPROVED, ButtonDef, Catalogue, HeaderDef, TemplateDef, variables};

/// The campaign's template in the catalogue, or why it cannot be sent.
pub fn check(c: &Campaign, catalogue: &Catalogue) -> Result<Option<TemplateDef>, Error> {
    let Some(t) = &c.template else { return Ok(None) };
    let err = |keys: &[&str], what: String, fix: String| {
        let at = Location { line: locate(&c.source, keys), ..Location::field(keys.join(".")) };
        Error::input(&c.path, at, what, fix)
    };
    let named: Vec<&TemplateDef> = catalogue.templates.iter().filter(|d| d.name == t.name).collect();
    if named.is_empty() {
        let near = nearest(&t.name, catalogue.templates.iter().map(|d| d.name.as_str()));
        let fix = if near.is_empty() {
            "check the name in WhatsApp Manager (names are lower case, with underscores)".to_string()
        } else {
            format!("did you mean {}?", near.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
        };
        let what = format!("template `{}` is not in the business's catalogue", t.name);
        return Err(err(&["template", "name"], what, fix));
    }
    let Some(def) = named.iter().find(|d| d.language == t.language) else {
        let mut langs: Vec<&str> = named.iter().map(|d| d.language.as_str()).collect();
        langs.sort_unstable();
        langs.dedup();
        let what = format!("template `{}` has no `{}` translation; it has {}", t.name, t.language, langs.join(", "));
        let fix = format!("set template.language to one of {}", langs.join(", "));
        return Err(err(&["template", "language"], what, fix));
    };
    if let Some(why) = not_sendable(def) {
        return Err(err(
            &["template", "name"],
            format!("template `{}` ({}) {}", t.name, t.language, why.what),
            why.fix,
        ));
    }
    let found = parameter_problems(t, def);
    if !found.lines.is_empty() {
        let what = format!(
            "template `{}` ({}) does not match the business's catalogue:\n    {}",
            t.name,
            t.language,
            found.lines.join("\n    ")
        );
        return Err(err(&["template", "parameters"], what, found.fix()));
    }
    Ok(Some((*def).clone()))
}

/// Why an existing template cannot be sent now (said of `template.name`),
/// and what to do.
fn not_sendable(d: &TemplateDef) -> Option<FieldError> {
    let why = |what: String, fix: &str| Some(FieldError::new("template.name", what).with_fix(fix));
    match d.meta_status.as_deref() {
        Some("PAUSED") => {
            return why(
                "is PAUSED by Meta for low quality".into(),
                "a pause usually lifts by itself after a few hours (3 h, then 6 h); run again later, and check the template's quality in WhatsApp Manager",
            );
        }
        Some("DISABLED") => {
            return why(
                "is DISABLED by Meta after repeated low quality".into(),
                "it cannot be sent again; submit a new template and name it in template.name",
            );
        }
        _ => {}
    }
    if let Some(s) = d.status.as_deref().filter(|s| *s != APPROVED) {
        let short = s.trim_start_matches("MESSAGE_TEMPLATE_STATUS_");
        let rejection = d.rejection.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        let fix = match short {
            "PENDING" => "wait for Meta to approve it, then run again",
            "REJECTED" => "fix and resubmit it in WhatsApp Manager, or use an approved template",
            _ => "use an approved template",
        };
        return why(format!("is not approved: Connectly says {short}{rejection}"), fix);
    }
    match d.meta_status.as_deref() {
        Some(s) if s != "APPROVED" => why(format!("is not approved: Meta says {s}"), "use an approved template"),
        _ => None,
    }
}

/// What the parameters lack or have too many of: one line each, and the
/// parameter names to add and to remove.
#[derive(Debug, Default)]
struct Findings {
    lines: Vec<String>,
    add: Vec<String>,
    remove: Vec<String>,
}

impl Findings {
    /// The hint: exactly what to change.
    fn fix(&self) -> String {
        let mut parts = Vec::new();
        if !self.add.is_empty() {
            parts.push(format!("add {}", self.add.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("remove {}", self.remove.join(", ")));
        }
        format!(
            "{} under template.parameters (if the template changed, `campaign templates pull` refreshes the saved catalogue)",
            parts.join(" and ")
        )
    }
}

fn parameter_problems(t: &Template, d: &TemplateDef) -> Findings {
    let mut f = Findings::default();
    body_problems(t, d, &mut f);
    header_problems(t, d, &mut f);
    button_problems(t, d, &mut f);
    f
}

/// Exactly `body_1…body_n` for the body's `n` variables.
fn body_problems(t: &Template, d: &TemplateDef, f: &mut Findings) {
    let n = d.body_variables();
    let mut bodies: Vec<usize> =
        t.parameters.iter().filter_map(|p| p.name.strip_prefix("body_")?.parse::<usize>().ok()).collect();
    bodies.sort_unstable();
    let missing: Vec<String> = (1..=n).filter(|i| !bodies.contains(i)).map(|i| format!("body_{i}")).collect();
    let extra: Vec<String> = bodies.iter().filter(|i| **i == 0 || **i > n).map(|i| format!("body_{i}")).collect();
    if missing.is_empty() && extra.is_empty() {
        return;
    }
    let expects = match n {
        0 => "has no variables, so it takes no body_N".to_string(),
        1 => "has 1 variable, {{1}}, so it takes body_1".to_string(),
        n => format!("has {n} variables, {{{{1}}}}…{{{{{n}}}}}, so it takes body_1…body_{n}"),
    };
    let gives: Vec<String> = bodies.iter().map(|i| format!("body_{i}")).collect();
    let gives: Vec<&str> = gives.iter().map(String::as_str).collect();
    f.lines.push(format!("the body {expects}; the file gives {}", list(&gives)));
    f.add.extend(missing);
    f.remove.extend(extra);
}

/// The `header_*` its header format takes, or none.
fn header_problems(t: &Template, d: &TemplateDef, f: &mut Findings) {
    let headers: Vec<&str> =
        t.parameters.iter().filter(|p| p.name.starts_with("header_")).map(|p| p.name.as_str()).collect();
    let wanted = match &d.header {
        Some(HeaderDef::Image) => Some("header_image"),
        Some(HeaderDef::Video) => Some("header_video"),
        Some(HeaderDef::Document) => Some("header_document"),
        Some(HeaderDef::Text(text)) if !variables(text).is_empty() => Some("header_text"),
        _ => None,
    };
    let format = d.header.as_ref().map_or("no header".to_string(), |h| {
        let article = if h.format().starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" };
        format!("{article} {} header", h.format())
    });
    let takes = wanted.map_or("no header parameter".to_string(), str::to_string);
    if wanted.map_or(!headers.is_empty(), |w| headers != [w]) {
        f.lines.push(format!("the template has {format}, which takes {takes}; the file gives {}", list(&headers)));
        f.remove.extend(headers.iter().filter(|h| Some(**h) != wanted).map(|h| h.to_string()));
        f.add.extend(wanted.filter(|w| !headers.contains(w)).map(str::to_string));
    }
}

/// `button_N_url` for each URL button with a variable, and no other.
fn button_problems(t: &Template, d: &TemplateDef, f: &mut Findings) {
    for (i, b) in d.buttons.iter().enumerate() {
        let name = format!("button_{}_url", i + 1);
        if b.has_url_variable() && !t.parameters.iter().any(|p| p.name == name) {
            let url = b.url.as_deref().unwrap_or("");
            f.lines.push(format!("button {} (URL `{}`, {url}) takes {name}; the file does not give it", i + 1, b.text));
            f.add.push(name);
        }
    }
    for p in t.parameters.iter().filter(|p| p.name.starts_with("button_")) {
        let index =
            p.name.strip_prefix("button_").and_then(|r| r.strip_suffix("_url")).and_then(|n| n.parse::<usize>().ok());
        let button = index.and_then(|i| i.checked_sub(1)).and_then(|i| d.buttons.get(i));
        if button.is_some_and(ButtonDef::has_url_variable) {
            continue;
        }
        let what = match button {
            Some(b) => format!("button {} is a {} button without a URL variable", index.unwrap_or(0), b.kind),
            None => format!("the template has {} button(s)", d.buttons.len()),
        };
        f.lines.push(format!("{what}; the file gives {}, which it does not take", p.name));
        f.remove.push(p.name.clone());
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Up to three names closest to `name`, nearest first.
fn nearest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = names.map(|n| (strsim::levenshtein(name, n), n)).collect();
    scored.sort_unstable();
    scored.dedup_by(|a, b| a.1 == b.1);
    let limit = (name.chars().count() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, n)| *d <= limit || n.contains(name) || name.contains(n))
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Parameter;

    fn template(params: &[&str]) -> Template {
        Template {
            name: "spring_sale".into(),
            language: "en".into(),
            parameters: params
                .iter()
                .map(|n| Parameter { name: n.to_string(), value: "x".into(), filename: None })
                .collect(),
        }
    }

    fn def() -> TemplateDef {
        TemplateDef {
            name: "spring_sale".into(),
            language: "en".into(),
            status: Some(APPROVED.into()),
            meta_status: Some("APPROVED".into()),
            header: Some(HeaderDef::Image),
            body: Some("Hi {{1}}, {{2}} off".into()),
            buttons: vec![
                ButtonDef { kind: "URL".into(), text: "Shop".into(), url: Some("https://x.example/{{1}}".into()) },
                ButtonDef { kind: "QUICK_REPLY".into(), text: "Stop".into(), url: None },
            ],
            ..TemplateDef::default()
        }
    }

    #[test]
    fn exactly_what_the_template_takes_passes() {
        let f = parameter_problems(&template(&["body_1", "body_2", "header_image", "button_1_url"]), &def());
        assert!(f.lines.is_empty(), "{f:?}");
    }

    #[test]
    fn each_mismatch_is_named_with_what_to_change() {
        let f = parameter_problems(&template(&["body_1", "header_video", "button_2_url"]), &def());
        let p = &f.lines;
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("so it takes body_1…body_2") && p[0].ends_with("gives body_1"), "{}", p[0]);
        assert!(p[1].contains("an IMAGE header, which takes header_image; the file gives header_video"), "{}", p[1]);
        assert!(p[2].contains("takes button_1_url"), "{}", p[2]);
        assert!(p[3].contains("QUICK_REPLY button without a URL variable"), "{}", p[3]);
        assert_eq!(f.add, ["body_2", "header_image", "button_1_url"]);
        assert_eq!(f.remove, ["header_video", "button_2_url"]);
        assert!(f.fix().starts_with("add body_2, header_image, button_1_url and remove header_video, button_2_url"));
    }

    #[test]
    fn paused_disabled_and_pending_are_not_sendable() {
        let mut d = def();
        d.meta_status = Some("PAUSED".into());
        assert!(not_sendable(&d).unwrap().fix.contains("hours"));
        d.meta_status = Some("DISABLED".into());
        assert!(not_sendable(&d).unwrap().what.contains("DISABLED"));
        d.meta_status = None;
        d.status = Some("MESSAGE_TEMPLATE_STATUS_PENDING".into());
        assert!(not_sendable(&d).unwrap().what.contains("PENDING"));
        d.status = Some(APPROVED.into());
        assert!(not_sendable(&d).is_none());
    }

    #[test]
    fn nearest_names_first() {
        let names = ["spring_sale", "spring_sale_v2", "winback", "order_update"];
        assert_eq!(nearest("sprng_sale", names.into_iter()), ["spring_sale", "spring_sale_v2"]);
        assert!(nearest("zzzzzzzzzzzz", names.into_iter()).is_empty());
    }
}
