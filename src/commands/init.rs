//! `campaign init DIR`: a new campaign folder that dry-runs as it is — the
//! campaign file, a CSV with two sample rows, a body template, a README and
//! the schema for editors. It never overwrites anything.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use crate::error::{Error, ExitCode, Result};

const CAMPAIGN: &str = include_str!("init/campaign.yaml");
const RECIPIENTS: &str = include_str!("init/recipients.csv");
const BODY: &str = include_str!("init/message.txt.j2");
const README: &str = include_str!("init/README.md");

pub fn init(dir: &Path) -> Result<ExitCode> {
    let occupied = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if occupied || dir.is_file() {
        return Err(Error::Usage(format!(
            "{} already exists and is not empty; init writes only into a new or empty folder, and never overwrites\n  hint: give a new folder, e.g. campaign init {}",
            dir.display(),
            shell_word(&free_sibling(dir).display().to_string())
        )));
    }
    let name = campaign_name(dir);
    // The first sample customer wrote an hour ago: a dry run shows both routes.
    let ago =
        (Timestamp::now() - SignedDuration::from_hours(1)).round(jiff::Unit::Second).unwrap_or(Timestamp::UNIX_EPOCH);
    let schema = serde_json::to_string_pretty(&crate::campaign::schema()).map_err(|e| Error::Aborted(e.to_string()))?;
    let files = [
        ("campaign.yaml", CAMPAIGN.replace("@NAME@", &name)),
        ("recipients.csv", RECIPIENTS.replace("@LAST_INBOUND@", &ago.to_string())),
        ("message.txt.j2", BODY.to_string()),
        ("README.md", README.replace("@NAME@", &name)),
        ("campaign.schema.json", schema + "\n"),
    ];
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (file, text) in &files {
        let path = dir.join(file);
        // create_new: a file that appeared meanwhile is left alone.
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| Error::io(&path, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
    }
    let yaml = shell_word(&dir.join("campaign.yaml").display().to_string());
    println!(
        "created {} (campaign `{name}`): campaign.yaml, recipients.csv, message.txt.j2, README.md, campaign.schema.json",
        dir.display()
    );
    println!("next: change the lines marked CHANGE in campaign.yaml, then");
    println!("  campaign check {yaml}");
    println!("  campaign run {yaml} --dry-run");
    Ok(ExitCode::Done)
}

/// `DIR-2`, `DIR-3`…: the first that does not exist yet.
fn free_sibling(dir: &Path) -> std::path::PathBuf {
    let base = dir.as_os_str().to_string_lossy().trim_end_matches('/').to_string();
    (2..).map(|n| std::path::PathBuf::from(format!("{base}-{n}"))).find(|p| !p.exists()).unwrap_or_default()
}

/// A path as a shell word, quoted when it needs to be, to copy and paste.
fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The folder's name as a campaign name: lowercase, other characters `-`.
fn campaign_name(dir: &Path) -> String {
    let base = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name: String =
        base.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '-' }).collect();
    let name = name.trim_matches(|c| c == '-' || c == '_').to_string();
    if name.is_empty() { "my-campaign".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_paste_into_a_shell() {
        assert_eq!(shell_word("campaigns/winback/campaign.yaml"), "campaigns/winback/campaign.yaml");
        assert_eq!(shell_word("my campaigns/it's/campaign.yaml"), "'my campaigns/it'\\''s/campaign.yaml'");
    }

    #[test]
    fn names_from_folders() {
        assert_eq!(campaign_name(Path::new("campaigns/Spring Sale 2026")), "spring-sale-2026");
        assert_eq!(campaign_name(Path::new("x/winback")), "winback");
        assert_eq!(campaign_name(Path::new("ünï")), "n");
        assert_eq!(campaign_name(Path::new("été")), "t");
        assert_eq!(campaign_name(Path::new("«»")), "my-campaign");
        assert_eq!(campaign_name(Path::new(".")), "my-campaign");
    }
}
