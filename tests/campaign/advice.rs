//! Mistakes a newcomer makes, answered in their terms: exit 2, the file
//! and line, what is wrong and what to do; no Rust words.

use crate::support::{Env, Run, yaml};

const GOOD: &str = "recipients:\n  csv: people.csv\nsession:\n  body: hello.j2\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ first_name }}\"\n";

fn env_with(campaign: &str) -> Env {
    let env = Env::new();
    env.write("people.csv", "phone,first_name\n+16044441111,Ana\n+16045550142,Bo\n");
    env.write("hello.j2", "Hi {{ first_name }}");
    env.write("c.yaml", campaign);
    env
}

/// `check FILE` fails with exit 2, a short error naming all of `needles`, in plain words.
#[track_caller]
fn refused(env: &Env, file: &str, needles: &[&str]) -> Run {
    let run = env.run(&["check", file]);
    run.expect(2);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("hint: "), "no hint in {}", run.stderr);
    assert!(run.stderr.lines().count() <= 4, "not short: {}", run.stderr);
    for rust in ["struct", "enum", "Raw", "untagged", "panicked"] {
        assert!(!run.stderr.contains(rust), "Rust words ({rust}) in {}", run.stderr);
    }
    for n in needles {
        run.stderr_has(n);
    }
    run
}

#[test]
fn the_csv_given_instead_of_the_campaign_file() {
    let env = env_with(&yaml(GOOD));
    let run = refused(&env, "people.csv", &["people.csv", "not a campaign file", "looks like a CSV", "recipients.csv"]);
    assert!(!run.stderr.contains("+16044441111"), "the CSV is not echoed: {}", run.stderr);
    env.write("notes.yaml", "just some words\n");
    refused(&env, "notes.yaml", &["not a campaign file", "YAML keys"]);
}

#[test]
fn a_campaign_key_written_as_a_plain_value() {
    let env = env_with(&yaml("recipients: people.csv\nsession:\n  body: hello.j2\n"));
    refused(&env, "c.yaml", &["line 3", "recipients", "expected keys and values"]);
}

#[test]
fn a_tab_in_the_yaml() {
    let env = env_with(&yaml(&GOOD.replace("  csv: people.csv", "\tcsv: people.csv")));
    refused(&env, "c.yaml", &["line 4", "tabs are not allowed", "indent with spaces"]);
}

#[test]
fn semicolon_or_tab_separated_csv() {
    let env = env_with(&yaml(GOOD));
    env.write("people.csv", "phone;first_name\n+16044441111;Ana\n");
    refused(
        &env,
        "c.yaml",
        &["people.csv", "line 1", "separated by semicolons", "comma-separated", "`phone,first_name`"],
    );
    env.write("people.csv", "phone\tfirst_name\n+16044441111\tAna\n");
    refused(&env, "c.yaml", &["separated by tabs", "comma-separated"]);
}

#[test]
fn template_parameters_in_a_form_connectly_does_not_take() {
    let with = |params: &str| env_with(&yaml(&GOOD.replace("    body_1: \"{{ first_name }}\"\n", params)));
    refused(
        &with("    body_1: a\n    header_document: { url: \"https://x/a.pdf\" }\n"),
        "c.yaml",
        &["line 11", "`header_document` has an unknown field `url`", "value: ", "filename: "],
    );
    refused(
        &with("    body_1: a\n    body_2: ~\n"),
        "c.yaml",
        &["line 11", "`body_2` has no value", "body_2: \"{{ first_name }}\""],
    );
    refused(&with("    body_1: [a, b]\n"), "c.yaml", &["line 10", "`body_1` is a list", "one value"]);
    refused(
        &with("    body_1: a\n    body_2: b\n    body1: c\n"),
        "c.yaml",
        &["line 12", "unknown template parameter `body1`"],
    );
}
