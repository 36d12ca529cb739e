//! The campaign's template against the business's catalogue (SPEC §3 step
//! 5): it exists under that name and language, is approved and not paused
//! or disabled, and the parameters given are exactly those it takes. One
//! check for `check`, dry runs and real runs; a mismatch is a campaign
//! error (exit 2) naming the template, the language, what the catalogue
//! expects and what the file gives.

use crate::campaign::{Campaign, Template, locate};
use crate::error::{Error, Location};
use crate::wire::catalogue::{APPROVED, Catalogue, HeaderDef, TemplateDef};

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
        return Err(err(&["template", "name"], format!("template `{}` ({}) {}", t.name, t.language, why.0), why.1));
    }
    let problems = parameter_problems(t, def);
    if !problems.is_empty() {
        let what = format!(
            "template `{}` ({}) does not match the business's catalogue:\n    {}",
            t.name,
            t.language,
            problems.join("\n    ")
        );
        let fix = "make template.parameters give exactly what the template takes (`campaign templates pull` refreshes the saved catalogue)";
        return Err(err(&["template", "parameters"], what, fix.into()));
    }
    Ok(Some((*def).clone()))
}

/// Why an existing template cannot be sent now, and what to do.
fn not_sendable(d: &TemplateDef) -> Option<(String, String)> {
    match d.meta_status.as_deref() {
        Some("PAUSED") => {
            return Some((
                "is PAUSED by Meta for low quality".into(),
                "a pause usually lifts by itself after a few hours (3 h, then 6 h); run again later, and check the template's quality in WhatsApp Manager".into(),
            ));
        }
        Some("DISABLED") => {
            return Some((
                "is DISABLED by Meta after repeated low quality".into(),
                "it cannot be sent again; submit a new template and name it in template.name".into(),
            ));
        }
        _ => {}
    }
    if let Some(s) = d.status.as_deref().filter(|s| *s != APPROVED) {
        let short = s.trim_start_matches("MESSAGE_TEMPLATE_STATUS_");
        let why = d.rejection.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        let fix = match short {
            "PENDING" => "wait for Meta to approve it, then run again",
            "REJECTED" => "fix and resubmit it in WhatsApp Manager, or use an approved template",
            _ => "use an approved template",
        };
        return Some((format!("is not approved: Connectly says {short}{why}"), fix.into()));
    }
    match d.meta_status.as_deref() {
        Some(s) if s != "APPROVED" => {
            Some((format!("is not approved: Meta says {s}"), "use an approved template".into()))
        }
        _ => None,
    }
}

/// What the parameters lack or have too many of, one line each.
fn parameter_problems(t: &Template, d: &TemplateDef) -> Vec<String> {
    let given = |name: &str| t.parameters.iter().any(|p| p.name == name);
    let mut out = Vec::new();
    // Body: exactly body_1…body_n.
    let n = d.body_variables();
    let bodies: Vec<usize> =
        t.parameters.iter().filter_map(|p| p.name.strip_prefix("body_")?.parse::<usize>().ok()).collect();
    let missing: Vec<String> = (1..=n).filter(|i| !bodies.contains(i)).map(|i| format!("body_{i}")).collect();
    let extra: Vec<String> = bodies.iter().filter(|i| **i == 0 || **i > n).map(|i| format!("body_{i}")).collect();
    if !missing.is_empty() || !extra.is_empty() {
        let expects = match n {
            0 => "takes no body variables".to_string(),
            1 => "takes 1 body variable, body_1".to_string(),
            n => format!("takes {n} body variables, body_1…body_{n}"),
        };
        let gives = if bodies.is_empty() {
            "none".to_string()
        } else {
            let mut b = bodies.clone();
            b.sort_unstable();
            b.iter().map(|i| format!("body_{i}")).collect::<Vec<_>>().join(", ")
        };
        out.push(format!("the body {expects}; the file gives {gives}"));
    }
    // Header: the kind its format takes, or none.
    let headers: Vec<&str> =
        t.parameters.iter().filter(|p| p.name.starts_with("header_")).map(|p| p.name.as_str()).collect();
    let wanted = match &d.header {
        Some(HeaderDef::Image) => Some("header_image"),
        Some(HeaderDef::Video) => Some("header_video"),
        Some(HeaderDef::Document) => Some("header_document"),
        Some(HeaderDef::Text(text)) if !crate::wire::catalogue::variables(text).is_empty() => Some("header_text"),
        _ => None,
    };
    let format = d.header.as_ref().map_or("no header".to_string(), |h| format!("a {} header", h.format()));
    match wanted {
        Some(w) if headers != [w] => {
            out.push(format!("the template has {format}, which takes {w}; the file gives {}", list(&headers)))
        }
        None if !headers.is_empty() => out.push(format!(
            "the template has {format}, which takes no header parameter; the file gives {}",
            list(&headers)
        )),
        _ => {}
    }
    // Buttons: button_N_url for each URL button with a variable, no other.
    for (i, b) in d.buttons.iter().enumerate() {
        let name = format!("button_{}_url", i + 1);
        if b.has_url_variable() && !given(&name) {
            let url = b.url.as_deref().unwrap_or("");
            out.push(format!("button {} (URL `{}`, {url}) takes {name}; the file does not give it", i + 1, b.text));
        }
    }
    for p in t.parameters.iter().filter(|p| p.name.starts_with("button_")) {
        let index =
            p.name.strip_prefix("button_").and_then(|r| r.strip_suffix("_url")).and_then(|n| n.parse::<usize>().ok());
        let fits =
            index.and_then(|i| i.checked_sub(1)).and_then(|i| d.buttons.get(i)).is_some_and(|b| b.has_url_variable());
        if !fits {
            let what = match index.and_then(|i| i.checked_sub(1)).and_then(|i| d.buttons.get(i)) {
                Some(b) => format!("button {} is a {} button without a URL variable", index.unwrap_or(0), b.kind),
                None => format!("the template has {} button(s)", d.buttons.len()),
            };
            out.push(format!("{what}; the file gives {}, which it does not take", p.name));
        }
    }
    out
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Up to three names closest to `name`, nearest first.
fn nearest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = names.map(|n| (distance(name, n), n)).collect();
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

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Parameter;
    use crate::wire::catalogue::ButtonDef;

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
        assert!(
            parameter_problems(&template(&["body_1", "body_2", "header_image", "button_1_url"]), &def()).is_empty()
        );
    }

    #[test]
    fn each_mismatch_is_named() {
        let p = parameter_problems(&template(&["body_1", "header_video", "button_2_url"]), &def());
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("body_1…body_2") && p[0].ends_with("gives body_1"), "{}", p[0]);
        assert!(p[1].contains("IMAGE header, which takes header_image; the file gives header_video"), "{}", p[1]);
        assert!(p[2].contains("takes button_1_url"), "{}", p[2]);
        assert!(p[3].contains("QUICK_REPLY button without a URL variable"), "{}", p[3]);
    }

    #[test]
    fn paused_disabled_and_pending_are_not_sendable() {
        let mut d = def();
        d.meta_status = Some("PAUSED".into());
        assert!(not_sendable(&d).unwrap().1.contains("hours"));
        d.meta_status = Some("DISABLED".into());
        assert!(not_sendable(&d).unwrap().0.contains("DISABLED"));
        d.meta_status = None;
        d.status = Some("MESSAGE_TEMPLATE_STATUS_PENDING".into());
        assert!(not_sendable(&d).unwrap().0.contains("PENDING"));
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
