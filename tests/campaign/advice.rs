//! Mistakes a newcomer makes, answered in their terms: exit 2, the file
//! and line, what is wrong and what to do; no Rust words.

use crate::support::{CampaignFile, Env, Run, yaml};

/// Both routes: `hello.j2` inside the window, template `t` outside it.
fn good() -> CampaignFile {
    CampaignFile::hello()
}

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
    let env = env_with(&good().text());
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
    // A file no builder writes: `csv` indented with a tab.
    let env = env_with(&yaml(
        "recipients:\n\tcsv: people.csv\nsession:\n  body: hello.j2\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ first_name }}\"\n",
    ));
    refused(&env, "c.yaml", &["line 4", "tabs are not allowed", "indent with spaces"]);
}

#[test]
fn semicolon_or_tab_separated_csv() {
    let env = env_with(&good().text());
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
    // The parameters as written (YAML), in place of body_1's.
    let with = |params: &[(&str, &str)]| {
        let file = params.iter().fold(good().without("template.parameters.body_1"), |f, (name, value)| {
            f.set(&format!("template.parameters.{name}"), value)
        });
        env_with(&file.text())
    };
    refused(
        &with(&[("body_1", "a"), ("header_document", "{ url: \"https://x/a.pdf\" }")]),
        "c.yaml",
        &["line 11", "`header_document` has an unknown field `url`", "value: ", "filename: "],
    );
    refused(
        &with(&[("body_1", "a"), ("body_2", "~")]),
        "c.yaml",
        &["line 11", "`body_2` has no value", "body_2: \"{{ first_name }}\""],
    );
    refused(&with(&[("body_1", "[a, b]")]), "c.yaml", &["line 10", "`body_1` is a list", "one value"]);
    refused(
        &with(&[("body_1", "a"), ("body_2", "b"), ("body1", "c")]),
        "c.yaml",
        &["line 12", "unknown template parameter `body1`"],
    );
}

#[test]
fn template_misspellings_are_reported_once_before_any_row() {
    let mut csv = String::from("phone,first_name,prénom\n");
    for i in 0..47 {
        csv.push_str(&format!("+1604555{i:04},P{i},É{i}\n"));
    }
    let env = env_with(&good().text());
    env.write("people.csv", &csv);
    env.write("hello.j2", "Hi\n{{ first_name | titlecase }}");
    let run = refused(&env, "c.yaml", &["hello.j2", "line 2", "unknown filter `titlecase`"]);
    assert!(!run.stderr.contains("row 1"), "reported per row: {}", run.stderr);
    // The dry run says it once too.
    let dry = env.run(&["run", "c.yaml", "--dry-run"]);
    dry.expect(2);
    assert_eq!(dry.stderr.matches("titlecase").count(), 1, "{}", dry.stderr);

    env.write("hello.j2", "Hi {{ row[\"first nam\"] }}");
    refused(&env, "c.yaml", &["hello.j2", "no column `first nam`", "first_name, prénom"]);
    env.write("hello.j2", "Hi {{ prénom }}");
    refused(&env, "c.yaml", &["hello.j2", "{{ row[\"prénom\"] }}"]);
    env.write("hello.j2", "Hi {% include \"sig.j2\" %}");
    env.write("sig.j2", "-- {{ nme }}");
    refused(&env, "c.yaml", &["sig.j2", "line 1", "`nme` is not a CSV column", "first_name"]);
    env.write("hello.j2", "{% set who = first_name %}Hi {% include \"sig.j2\" %}");
    env.write("sig.j2", "{{ who }}");
    env.run(&["check", "c.yaml"]).expect(0);
}

#[test]
fn a_constant_button_title_over_20_characters_is_a_campaign_error() {
    let env = env_with(&yaml(
        "recipients:\n  csv: people.csv\nsession:\n  body: hello.j2\n  message:\n    replyButtonMessage:\n      buttons:\n        - { id: \"yes\", text: \"Claim my twenty percent now\" }\n        - { id: \"no\", text: \"{{ first_name }}\" }\n",
    ));
    let run = refused(&env, "c.yaml", &["c.yaml", "line 9", "buttons[0].text", "27 characters", "at most 20"]);
    assert!(!run.stderr.contains("row 1"), "reported per row: {}", run.stderr);
}

#[test]
fn per_second_above_connectlys_200_warns() {
    let env = env_with(&good().per_second(300).text());
    let run = env.run(&["check", "c.yaml"]);
    run.expect(0).stderr_has("warning: c.yaml: line 12, rate.per_second is 300").stderr_has("200");
    let dry = env.run(&["run", "c.yaml", "--dry-run"]);
    dry.expect(0).stderr_has("rate.per_second is 300");
    let env = env_with(&good().per_second(200).text());
    let run = env.run(&["check", "c.yaml"]);
    run.expect(0);
    assert!(!run.stderr.contains("warning") && !run.stderr.contains("per_second"), "{}", run.stderr);
}
