//! The HTML preview, loaded in a real browser (headless Chromium).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, yaml};

const AT: &str = "2026-11-23T12:00:00Z";

/// Debian's chromium; CI installs it, and there its absence is a failure.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let out = Command::new("which").arg(name).output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "chromium is required in CI (.ci/run installs it)");
        eprintln!("skipping the browser check: no chromium on this machine (apt-get install chromium)");
    }
    found
}

/// Load `page` in headless Chromium; the DOM after load, and what it logged.
fn load(browser: &Path, env: &Env, page: &Path) -> (String, String) {
    let profile = env.path("chromium-profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_preview_page_renders_every_planned_message_and_escapes_everything() {
    let Some(browser) = chromium() else { return };
    let env = Env::new();
    env.write(
        "people.csv",
        "phone,name,last\n\
         +16044441111,<script>document.title='pwned'</script><b id=injected>Ana</b>,2026-11-23T11:00:00Z\n\
         +16044441112,Bo & Co \"quoted\",\n\
         +16044441113,Cy,2026-11-23T10:00:00Z\n\
         +16044441113,Cy,2026-11-23T10:00:00Z\n\
         not-a-phone,Dee,\n",
    );
    env.write("body.j2", "Hi {{ name }}!\nSecond line.");
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\nsession:\n  body: body.j2\n  message:\n    replyButtonMessage:\n      header: { text: \"Offer\" }\n      buttons:\n        - { id: y, text: \"Yes\" }\n        - { id: n, text: \"No\" }\ntemplate:\n  name: hello_tpl\n  parameters:\n    header_image: \"https://cdn.example.com/x.jpg\"\n    body_1: \"{{ name }}\"\n"),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--skip-invalid", "--at", AT, "--format", "html"]);
    run.expect(0);
    let page = env.write("preview.html", &run.stdout);
    assert!(!run.stdout.contains("<script"), "no scripts in the page, and none injected");
    assert!(
        !run.stdout.contains("src=\"http")
            || run.stdout.matches("src=\"").count() == run.stdout.matches("src=\"https://cdn.example.com/").count(),
        "only the campaign's own media is referenced"
    );

    let (dom, log) = load(&browser, &env, &page);
    assert_eq!(dom.matches("class=\"chat\"").count(), 3, "one bubble per planned message");
    assert!(dom.contains("<title>test-campaign — preview</title>"), "no script ran");
    assert!(!dom.contains("id=\"injected\""), "CSV markup stays text");
    assert!(dom.contains("&lt;b id=injected&gt;Ana&lt;/b&gt;"), "{dom}");
    assert!(dom.contains("Bo &amp; Co \"quoted\""), "{dom}");
    assert!(dom.contains("Hi") && dom.contains("<br>Second line."));
    assert!(dom.contains("<span>Yes</span><span>No</span>"));
    assert!(dom.contains("badge session") && dom.contains("badge template"));
    assert!(dom.contains("duplicate") && dom.contains("invalid"), "skipped rows are listed with their reasons");
    for line in log.lines() {
        assert!(!line.contains("CONSOLE") && !line.contains("Uncaught"), "the page logged: {line}");
    }
}

#[test]
fn limit_limits_the_bubbles_not_the_counts() {
    let env = Env::new();
    let rows: String = (0..5).map(|i| format!("+1604555000{i},P{i},\n")).collect();
    env.write("people.csv", &format!("phone,name,last\n{rows}"));
    env.write("c.yaml", &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ name }}\"\n"));
    let page = env
        .run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "html", "--limit", "2"])
        .expect(0)
        .stdout
        .clone();
    assert_eq!(page.matches("class=\"chat\"").count(), 2);
    assert!(page.contains("planned<b>5</b>"), "counts cover every row");
    assert!(page.contains("3 more planned messages not shown"));
}
