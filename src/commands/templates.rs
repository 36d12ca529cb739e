//! The business's template catalogue on disk and over the wire:
//! `campaign templates pull` fetches it into `templates.json` beside the
//! ledger; runs and checks read that copy (offline) or fetch a fresh one
//! (a real run), and check the campaign's template against it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::campaign::Campaign;
use crate::error::{Error, ExitCode, Result};
use crate::report::text::Style;
use crate::wire::catalogue::{self, Catalogue};
use crate::wire::client::{Client, Endpoint};

/// A saved copy younger than this stands in for a catalogue a real run cannot fetch.
const FRESH: SignedDuration = SignedDuration::from_hours(24);

/// The saved catalogue's file: `templates.json` beside the ledger file
/// itself. A `--state` that is a symlink leads to the real ledger, as the
/// run lock does: every path to the same ledger meets the same copy.
pub fn saved_path(state: &Path) -> PathBuf {
    let real = real_file(state);
    real.parent().map_or_else(|| PathBuf::from("templates.json"), |d| d.join("templates.json"))
}

/// `path` with its symlinks followed (a relative target is read from the
/// link's folder), even when the final file does not exist yet. Only links
/// are resolved, so a plain path stays as the user wrote it.
fn real_file(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // As many hops as Linux follows before giving up on a loop.
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&p) else { break };
        p = match p.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    p
}

/// A catalogue and when it was fetched.
pub struct Saved {
    pub fetched_at: Timestamp,
    pub catalogue: Catalogue,
}

/// `campaign templates pull FILE`: fetch the catalogue, save it, say what it holds.
pub fn pull(file: &Path, state: Option<&Path>) -> Result<ExitCode> {
    let endpoint = super::connectly::endpoint_from_env("fetching the template catalogue")?;
    let c = Campaign::load(file)?;
    let state = state.map_or_else(|| c.state.clone(), Path::to_path_buf);
    // The cause may come with a hint of its own (a refused key); then only
    // how to pull again is added.
    let again = |what: String| {
        let fix =
            if what.contains("\n  hint:") { "when that is done" } else { "check the network and CONNECTLY_BASE_URL" };
        Error::Stopped { what, hint: format!("{fix}, then run `campaign templates pull {}` again", file.display()) }
    };
    let answer = fetch(endpoint, &c.business_id)
        .map_err(|e| again(format!("the template catalogue could not be fetched: {e}; nothing was saved")))?;
    let parsed = catalogue::parse(&answer)
        .map_err(|e| again(format!("the template catalogue could not be read: {e}; nothing was saved")))?;
    let path = saved_path(&state);
    save(&path, &c.business_id, Timestamp::now(), &answer)?;
    let approved = parsed.templates.iter().filter(|t| t.status.as_deref() == Some(catalogue::APPROVED)).count();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "saved {} template translation{} ({approved} approved) of business {} to {}",
        parsed.templates.len(),
        if parsed.templates.len() == 1 { "" } else { "s" },
        c.business_id,
        path.display()
    )
    .map_err(Error::stdout)?;
    for t in &parsed.templates {
        writeln!(out, "  {}", describe(t)).map_err(Error::stdout)?;
    }
    out.flush().map_err(Error::stdout)?;
    Ok(ExitCode::Done)
}

/// `spring_sale (en): approved, MARKETING, 2 body variables`.
fn describe(t: &catalogue::TemplateDef) -> String {
    let status = match (t.status.as_deref(), t.meta_status.as_deref()) {
        (_, Some(m @ ("PAUSED" | "DISABLED"))) => m.to_string(),
        (Some(s), _) => s.trim_start_matches("MESSAGE_TEMPLATE_STATUS_").to_ascii_lowercase(),
        (None, Some(m)) => m.to_ascii_lowercase(),
        (None, None) => "status unknown".into(),
    };
    let category = t.category.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
    let n = t.body_variables();
    format!("{} ({}): {status}{category}, {n} body variable{}", t.name, t.language, if n == 1 { "" } else { "s" })
}

/// Fetch the catalogue's raw answer; the error is in words, without the key.
pub fn fetch(endpoint: Endpoint, business_id: &str) -> std::result::Result<Value, String> {
    let client = Client::new(endpoint, Duration::from_secs(30))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(client.fetch_catalogue(&catalogue::catalogue_path(business_id)))
}

/// Write the answer with its business and time, atomically.
pub fn save(path: &Path, business_id: &str, at: Timestamp, answer: &Value) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let doc = json!({"business_id": business_id, "fetched_at": at.to_string(), "answer": answer});
    // A name of its own: two runs sharing the folder may save at once.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc).unwrap_or_default()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The saved catalogue of this business, if there is one.
pub fn read_saved(path: &Path, business_id: &str) -> Result<Option<Saved>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let bad = |what: String| {
        Error::input(
            path,
            crate::error::Location::default(),
            what,
            "fetch it again with `campaign templates pull FILE`, or delete it",
        )
    };
    let doc: Value = serde_json::from_slice(&text).map_err(|e| bad(format!("not a saved catalogue ({e})")))?;
    if doc["business_id"].as_str() != Some(business_id) {
        return Ok(None);
    }
    let fetched_at = doc["fetched_at"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .ok_or_else(|| bad("the saved catalogue has no valid fetched_at".into()))?;
    let catalogue = catalogue::parse(&doc["answer"]).map_err(bad)?;
    Ok(Some(Saved { fetched_at, catalogue }))
}

/// `3 h`, `2 days`: how old a saved copy is, for people.
pub fn age(d: SignedDuration) -> String {
    let mins = d.as_secs().max(0) / 60;
    match mins {
        0 => "less than a minute".into(),
        1..=59 => format!("{mins} min"),
        60..=2879 => format!("{} h", mins / 60),
        _ => format!("{} days", mins / 1440),
    }
}

/// The catalogue a real run checks against: fetched now (and saved), or
/// a saved copy younger than a day when the fetch fails (with a warning).
/// The error is why the run must stop, in words (the key never in it).
pub fn for_real_run(
    endpoint: Endpoint,
    c: &Campaign,
    state: &Path,
    now: Timestamp,
) -> std::result::Result<Catalogue, String> {
    let path = saved_path(state);
    let warn = Style::stderr();
    let e = match fetch(endpoint, &c.business_id) {
        Ok(answer) => {
            let parsed = catalogue::parse(&answer)
                .map_err(|e| format!("the template catalogue could not be read: {e}; nothing was sent"))?;
            if let Err(e) = save(&path, &c.business_id, now, &answer) {
                eprintln!("{} the catalogue was fetched but not saved: {e}", warn.yellow("warning:"));
            }
            return Ok(parsed);
        }
        Err(e) => e,
    };
    match read_saved(&path, &c.business_id) {
        Ok(Some(s)) if now.duration_since(s.fetched_at) < FRESH => {
            eprintln!(
                "{} the template catalogue could not be fetched ({e}); checking against the copy saved {} ago in {}",
                warn.yellow("warning:"),
                age(now.duration_since(s.fetched_at)),
                path.display()
            );
            Ok(s.catalogue)
        }
        _ => Err(format!(
            "the template catalogue could not be fetched to check the template, and no copy saved in the last day stands in ({}): {e}\n  Nothing was sent; every recipient is still owed.",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_a_person_says_them() {
        assert_eq!(age(SignedDuration::from_secs(30)), "less than a minute");
        assert_eq!(age(SignedDuration::from_mins(5)), "5 min");
        assert_eq!(age(SignedDuration::from_hours(3)), "3 h");
        assert_eq!(age(SignedDuration::from_hours(72)), "3 days");
        assert_eq!(age(SignedDuration::from_secs(-5)), "less than a minute");
    }

    #[test]
    fn the_copy_lives_beside_the_ledger() {
        assert_eq!(saved_path(Path::new(".campaign/state.db")), Path::new(".campaign/templates.json"));
        assert_eq!(saved_path(Path::new("state.db")), Path::new("templates.json"));
    }
}
