//! The HTML preview, loaded in a real browser (headless Chromium).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, Run, yaml};

const AT: &str = "2026-11-23T12:00:00Z";

/// Debian's chromium. The browser tests are `#[ignore]`d, so that a machine
/// without it reports them as ignored rather than passed; `.ci/run` installs
/// chromium and runs them with `--include-ignored`, where a missing browser
/// fails them.
fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .expect("the browser tests need chromium (apt-get install chromium)")
}

/// Load `page` in headless Chromium; the DOM after load, and what it logged.
fn load(browser: &Path, env: &Env, page: &Path) -> (String, String) {
    load_at(browser, env, page, 1200)
}

/// The same, in a window `width` pixels wide.
fn load_at(browser: &Path, env: &Env, page: &Path, width: u32) -> (String, String) {
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
            &format!("--window-size={width},900"),
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A page with every kind of row: markup in cells, a duplicate, an invalid phone.
fn tricky_page(env: &Env) -> Run {
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
    run
}

#[test]
fn the_preview_page_has_no_scripts_and_references_only_the_campaigns_media() {
    let env = Env::new();
    let run = tricky_page(&env);
    assert!(!run.stdout.contains("<script"), "no scripts in the page, and none injected");
    assert!(
        !run.stdout.contains("src=\"http")
            || run.stdout.matches("src=\"").count() == run.stdout.matches("src=\"https://cdn.example.com/").count(),
        "only the campaign's own media is referenced"
    );
    assert_eq!(run.stdout.matches("class=\"chat\"").count(), 3, "one bubble per planned message");
    assert!(run.stdout.contains("&lt;b id=injected&gt;Ana&lt;/b&gt;"));
}

#[test]
#[ignore = "loads the page in headless Chromium; .ci/run runs it (cargo test -- --include-ignored)"]
fn the_preview_page_renders_every_planned_message_and_escapes_everything() {
    let browser = chromium();
    let env = Env::new();
    let run = tricky_page(&env);
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

/// A campaign whose reasons are long: the page must still keep numbers whole.
fn long_reasons(env: &Env) -> String {
    env.write(
        "people.csv",
        "phone,name,last,tz\n\
         +16044441111,Ana,2026-11-23T11:00:00Z,\n\
         +16044441112,Bo with a rather long name that goes on and on,,\n\
         +16044441112,Bo again,,\n\
         not-a-phone,Dee,,\n\
         +16045550199,,,\n\
         +16045550100,Ed,the day before yesterday in the afternoon,\n\
         +34612345678,Bea,,Europe/Madrid\n",
    );
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\n  timezone_column: tz\nsession:\n  message:\n    text: \"Hi {{ name }}\"\n    replyButtonMessage:\n      buttons:\n        - { id: y, text: \"Yes please\" }\ntemplate:\n  name: spring_sale\n  parameters:\n    body_1: \"{{ name }}\"\nschedule:\n  quiet_hours: { start: \"21:00\", end: \"08:00\", timezone: America/Vancouver }\n"),
    );
    env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-11-23T22:30:00Z", "--format", "html"])
        .expect(2)
        .stdout
        .clone()
}

#[test]
fn the_page_says_first_that_a_real_run_would_stop_and_lists_the_invalid_rows() {
    let env = Env::new();
    let page = long_reasons(&env);
    let banner = page.find("class=\"verdict stop\"").expect("a stop banner");
    assert!(
        banner < page.find("class=\"counts\"").unwrap() && banner < page.find("class=\"chat\"").unwrap(),
        "at the top"
    );
    assert!(page.contains("A real run would stop before sending anything (exit 2): 3 invalid rows."), "{page}");
    assert!(page.contains("pass --skip-invalid to send the other 2 messages"), "{page}");
    // Each invalid row: row, line of the file, recipient, field, why.
    assert!(
        page.contains("<td class=\"n\" data-label=\"row\">4</td><td class=\"n\" data-label=\"line\">5</td>"),
        "{page}"
    );
    assert!(page.contains("`the day before yesterday in the afternoon` is neither RFC 3339"), "{page}");
    assert!(page.contains("template.<wbr>parameters.<wbr>body_1"), "a field breaks only after a dot");
    // Deferred rows say until when: 08:00 in Madrid.
    assert!(page.contains("deferred · quiet_hours — 1 row"), "{page}");
    assert!(page.contains("<td class=\"why\">until 2026-11-24 07:00Z</td>"), "{page}");
    assert!(page.contains("skipped · duplicate — 1 row"), "{page}");
}

#[test]
fn a_preview_whose_every_row_is_deferred_says_so_and_until_when() {
    let env = Env::new();
    let rows: String = (0..4).map(|i| format!("+1604555000{i},P{i}\n")).collect();
    env.write("people.csv", &format!("phone,name\n{rows}"));
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ name }}\"\nschedule:\n  not_before: 2026-12-01T09:00:00+01:00\n"),
    );
    let page = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "html"]).expect(0).stdout.clone();
    assert!(page.contains("class=\"verdict wait\""), "{page}");
    assert!(page.contains("Nothing would be sent now: all 4 rows are deferred (not_before 4)."), "{page}");
    assert!(page.contains("A later run sends them, from 2026-12-01 08:00Z at the earliest."), "{page}");
    assert_eq!(page.matches("class=\"chat\"").count(), 0);
    assert_eq!(page.matches("until 2026-12-01 08:00Z</td>").count(), 4, "{page}");
}

#[test]
fn a_large_preview_shows_a_sample_with_every_count_exact() {
    let env = Env::new();
    let mut csv = String::from("phone,name\n");
    for i in 0..6_000 {
        // Every third row repeats the one before it.
        let n = if i % 3 == 2 { i - 1 } else { i };
        csv.push_str(&format!("+1604555{n:04},P{i}\n"));
    }
    env.write("people.csv", &csv);
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ name }}\"\n"),
    );
    let page = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "html"]).expect(0).stdout.clone();
    assert_eq!(page.matches("class=\"chat\"").count(), 200, "the first 200 messages");
    assert!(
        page.contains("rows<b>6000</b>")
            && page.contains("planned<b>4000</b>")
            && page.contains("duplicate<b>2000</b>")
    );
    assert!(page.contains("… 3800 more planned messages not shown"));
    assert_eq!(page.matches("<tr class=\"row-skipped\">").count(), 20, "a sample of the rows not sent");
    assert!(page.contains("… and 1980 more"));
    assert!(page.len() < 300 * 1024, "{} bytes", page.len());
}

#[test]
#[ignore = "lays the page out in headless Chromium; .ci/run runs it (cargo test -- --include-ignored)"]
fn numbers_and_statuses_never_wrap_at_1200_or_400_px() {
    let browser = chromium();
    let env = Env::new();
    let page = long_reasons(&env);
    // A copy of the page with a probe: which cells of numbers, numbers and
    // statuses take more than one line, and whether the page is wider than the window.
    let probe = "<script>const wrapped=[...document.querySelectorAll('.rows td.n,.rows td.tel,.rows td.st')]\
        .filter(td=>{const r=document.createRange();r.selectNodeContents(td);return r.getClientRects().length>1})\
        .map(td=>td.textContent);document.title='wrapped='+JSON.stringify(wrapped)+\
        ' wide='+(document.documentElement.scrollWidth>window.innerWidth);</script>";
    let probed = env.write("probed.html", &page.replace("</body>", &format!("{probe}</body>")));
    for width in [1200, 400] {
        let (dom, _) = load_at(&browser, &env, &probed, width);
        assert!(
            dom.contains("<title>wrapped=[] wide=false</title>"),
            "at {width} px: {}",
            &dom[..dom.find("</title>").unwrap_or(0) + 8]
        );
    }
}
