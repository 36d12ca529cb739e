//! `campaign check`: every check a real run makes before its first send,
//! offline, with no key; exit 0 with a one-line verdict or 2 with the problems.

use crate::support::{Env, yaml};

const CAMPAIGN: &str = "recipients:\n  csv: people.csv\nsession:\n  body: hello.j2\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ first_name }}\"\n";

fn env_with(csv: &str) -> Env {
    let env = Env::new();
    env.write("people.csv", csv);
    env.write("hello.j2", "Hi {{ first_name }}");
    env.write("c.yaml", &yaml(CAMPAIGN));
    env
}

#[test]
fn a_good_campaign_gets_a_one_line_verdict_and_exit_0() {
    let env = env_with("phone,first_name\n+16044441111,Ana\n+16045550142,Bruno\n+16044441111,Ana\n");
    let run = env.run(&["check", "c.yaml"]);
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("c.yaml: ok — 3 rows checked, none invalid"), "{}", run.stdout);
    assert!(run.stdout.contains("planned 2 (template 2) · skipped 1 (duplicate 1)"), "{}", run.stdout);
    // Without a saved catalogue it says the template was not checked, and how to fix that.
    assert_eq!(run.stderr.lines().filter(|l| l.starts_with("note:")).count(), 1, "{}", run.stderr);
    run.stderr_has("was not checked against the business's catalogue").stderr_has("campaign templates pull");
    // Offline and read-only: no key was needed and no ledger was created.
    assert!(!env.exists(".campaign"), "check wrote a ledger");
}

#[test]
fn invalid_rows_anywhere_in_the_file_are_listed_with_exit_2() {
    let mut csv = String::from("phone,first_name\n");
    for i in 0..2000 {
        csv.push_str(&format!("+1604555{i:04},P{i}\n"));
    }
    csv.push_str("not-a-phone,Zed\n+16045559999,\n");
    let env = env_with(&csv);
    let run = env.run(&["check", "c.yaml"]);
    run.expect(2);
    run.stderr_has("people.csv: 2 invalid rows found before sending")
        .stderr_has("row 2001: `phone`")
        .stderr_has("(line 2002)")
        .stderr_has("row 2002: `template.parameters.body_1`");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!env.exists(".campaign"));
}

#[test]
fn files_and_templates_are_checked_too() {
    let env = env_with("phone,first_name\n+16044441111,Ana\n");
    env.write("hello.j2", "Hi {{ frist_name }}");
    env.run(&["check", "c.yaml"]).expect(2).stderr_has("hello.j2").stderr_has("`frist_name` is not a CSV column");

    let env = env_with("phone,first_name\n+16044441111,Ana\n+16044441112,Bo,extra\n");
    env.run(&["check", "c.yaml"]).expect(2).stderr_has("line 3").stderr_has("3 fields but the header has 2");

    let env = env_with("phone,first_name\n+16044441111,Ana\n");
    std::fs::remove_file(env.path("people.csv")).unwrap();
    env.run(&["check", "c.yaml"]).expect(2).stderr_has("people.csv");
}

#[test]
fn check_agrees_with_what_a_real_run_refuses() {
    // The same preflight: what check refuses, a real run refuses before sending.
    let env = env_with("phone,first_name\n+16044441111,\n");
    let check = env.run(&["check", "c.yaml"]);
    check.expect(2);
    let standin = crate::support::StandIn::start();
    let real = env.send(&standin, &["run", "c.yaml"]);
    real.expect(2);
    assert!(standin.received().is_empty(), "nothing was sent");
    let problem = |s: &str| s.lines().find(|l| l.contains("row 1:")).map(str::to_string);
    assert_eq!(problem(&check.stderr), problem(&real.stderr));
    assert!(problem(&check.stderr).is_some(), "{}", check.stderr);
}

#[test]
fn the_worked_examples_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    // Each as of the instant its README walk-through uses (spring-sale's
    // customers write on 2 December: checked before then, its rows are
    // refused as a real run would refuse them).
    for (file, at) in [
        ("campaigns/winback.yaml", "2026-11-23T12:00:00Z"),
        ("campaigns/catalog.yaml", "2026-11-23T12:00:00Z"),
        ("campaigns/spring-sale.yaml", "2026-12-02T16:00:00Z"),
    ] {
        let out = std::process::Command::new(crate::support::BIN)
            .args(["check", file, "--state", "/nonexistent/state.db", "--at", at])
            .current_dir(root)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(": ok — ") && stdout.contains("a run as of "), "{file}: {stdout}");
    }
}
