//! Bad input: exit 2, the file and where in it, what to do; never a panic.

use crate::support::{CampaignFile, Env, yaml};

const OK_CSV: &str = "phone,first_name\n+16044441111,Ana\n";

fn env_with(campaign: &str) -> Env {
    let env = Env::new();
    env.write("people.csv", OK_CSV);
    env.write("hello.j2", "Hi {{ first_name }}");
    env.write("c.yaml", campaign);
    env
}

/// Dry run fails with exit 2 and an error naming all of `needles`.
#[track_caller]
fn fails(env: &Env, needles: &[&str]) {
    let run = env.run(&["run", "c.yaml", "--dry-run"]);
    run.expect(2);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("hint: "), "no hint in {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for n in needles {
        run.stderr_has(n);
    }
    assert!(run.stdout.is_empty(), "nothing planned on bad input: {}", run.stdout);
}

/// Both routes: `hello.j2` inside the window, template `t` outside it.
fn good() -> CampaignFile {
    CampaignFile::hello()
}

#[test]
fn a_good_campaign_for_contrast() {
    env_with(&good().text()).run(&["run", "c.yaml", "--dry-run"]).expect(0);
}

#[test]
fn yaml_syntax_error() {
    fails(&env_with(&yaml("recipients:\n  csv: \"people.csv\n")), &["c.yaml", "line 5", "quoted scalar"]);
}

#[test]
fn unknown_key() {
    fails(&env_with(&good().set("retries.attempts", 3).text()), &["c.yaml", "line 11", "unknown field `retries`"]);
    fails(&env_with(&good().recipients("phone_colum", "tel").text()), &["unknown field `phone_colum`", "line 5"]);
}

#[test]
fn a_misspelt_key_suggests_the_closest_valid_one() {
    fails(
        &env_with(&good().recipients("phone_colum", "tel").text()),
        &["line 5", "unknown field `phone_colum`, expected one of", "hint: did you mean `phone_column`?"],
    );
    fails(&env_with(&good().rename("name", "nme").text()), &["unknown field `nme`", "did you mean `name`?"]);
    // Nothing near: the list of keys alone.
    let run = env_with(&good().set("colour", "\"red\"").text()).run(&["run", "c.yaml", "--dry-run"]);
    run.expect(2).stderr_has("unknown field `colour`");
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
}

#[test]
fn a_hyphenated_language_suggests_the_underscored_code() {
    fails(
        &env_with(&good().set("template.language", "en-US").text()),
        &["template.language", "invalid language `en-US`", "hint: did you mean `en_US`?", "underscore"],
    );
}

#[test]
fn missing_files() {
    fails(&env_with(&good().csv("nobody.csv").text()), &["nobody.csv", "cannot open the recipients CSV"]);
    fails(&env_with(&good().session_body("missing.j2").text()), &["c.yaml", "line 6", "session.body", "missing.j2"]);
    fails(&env_with(&good().recipients("suppress", "optouts.csv").text()), &["optouts.csv", "suppression list"]);
    let env = Env::new();
    let run = env.run(&["run", "nope.yaml", "--dry-run"]);
    run.expect(2).stderr_has("nope.yaml").stderr_has("cannot read the campaign file");
}

#[test]
fn template_syntax_error_names_the_template_and_line() {
    let env = env_with(&good().text());
    env.write("hello.j2", "Hi\n{% if first_name %}\nno end");
    fails(&env, &["hello.j2", "line"]);
    fails(
        &env_with(&good().param("body_1", "{{ first_name ").text()),
        &["c.yaml", "template.parameters.body_1", "line 10"],
    );
}

#[test]
fn undefined_variable_is_named() {
    let env = env_with(&good().text());
    env.write("hello.j2", "Hi\n{{ frist_name }}");
    fails(&env, &["hello.j2", "line 2", "`frist_name` is not a CSV column", "first_name"]);
    // A literal key of `row` is checked against the header too, once.
    fails(
        &env_with(&good().param("body_1", "{{ row.nickname }}").text()),
        &["c.yaml", "template.parameters.body_1", "no column `nickname`", "first_name"],
    );
    // Only knowable per row: the row and the field are named.
    let env = env_with(&good().param("body_1", "{{ row[first_name] }}").text());
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2);
    let rows = run.rows();
    assert_eq!(rows[0]["error"]["field"], "template.parameters.body_1");
    assert!(rows[0]["error"]["message"].as_str().unwrap().contains("undefined"), "{}", rows[0]);
}

#[test]
fn csv_without_the_phone_column() {
    let env = env_with(&good().text());
    env.write("people.csv", "mobile,first_name\n+16044441111,Ana\n");
    fails(&env, &["people.csv", "line 1", "no column `phone`", "mobile, first_name", "phone_column"]);
}

#[test]
fn ragged_csv_row() {
    let env = env_with(&good().text());
    env.write("people.csv", "phone,first_name\n+16044441111,Ana\n+16044441112,Bo,extra\n");
    fails(&env, &["people.csv", "line 3", "row 2", "3 fields but the header has 2"]);
    let run = env.run(&["run", "c.yaml", "--dry-run"]);
    assert!(!run.stderr.contains("probably not closed"), "no quote in the file: {}", run.stderr);
}

#[test]
fn an_unclosed_quote_is_named_with_the_line_it_opens_on() {
    let env = env_with(&good().text());
    let head = "phone,first_name,city,code,note\n+16044441111,Ana,Vancouver,A1,hi\n";
    // The quote on line 3 runs on through the rest of the file.
    env.write("people.csv", &format!("{head}+16044441112,\"Bo,Surrey,B2,hi\n+16044441113,Cy,Burnaby,C3,hi\n"));
    fails(
        &env,
        &[
            "line 3",
            "row 2",
            "this row has 2 fields but the header has 5",
            "a quote (\") opened on line 3 is probably not closed, so the row runs on to line 4",
            "hint: close the quote on line 3",
        ],
    );
    // A quote inside a field does not hold the commas after it together.
    env.write("people.csv", &format!("{head}+16044441112,Bo,Surrey,B2,say \"hi, there\"\n"));
    fails(&env, &["line 3", "6 fields but the header has 5", "opened inside a field on line 3 is probably not closed"]);
}

#[test]
fn invalid_campaign_name() {
    fails(&env_with(&good().name("Spring Sale!").text()), &["line 1", "`name`", "invalid campaign name"]);
}

#[test]
fn neither_session_nor_template() {
    fails(&env_with(&yaml("recipients:\n  csv: people.csv\n")), &["neither `session` nor `template`"]);
}

#[test]
fn bad_duration() {
    fails(
        &env_with(&good().set("window.margin", "15 minutes").text()),
        &["line 12", "invalid duration `15 minutes`", "15m"],
    );
    fails(&env_with(&good().max_backoff("30").text()), &["has no unit", "30s"]);
}

#[test]
fn unknown_template_parameter() {
    fails(
        &env_with(&good().rename("template.parameters.body_1", "body_one").text()),
        &["line 10", "unknown template parameter `body_one`", "body_1"],
    );
}

#[test]
fn bad_values_name_their_field() {
    fails(&env_with(&good().sender("\"14151111234\"").text()), &["line 3", "`sender`", "E.164"]);
    fails(&env_with(&good().recipients("default_country", "XX").text()), &["default_country", "unknown region `XX`"]);
    fails(
        &env_with(
            &good().set("schedule.quiet_hours", "{ start: \"21:00\", end: \"08:00\", timezone: Mars/Olympus }").text(),
        ),
        &["quiet_hours.timezone", "unknown time zone"],
    );
    fails(&env_with(&good().per_second(0).text()), &["rate.per_second"]);
    fails(
        &env_with(&yaml(
            "recipients:\n  csv: people.csv\nsession:\n  message:\n    text: hi\n    location: { latitude: 1, longitude: 2 }\n    listMessage: { button: { text: b }, sections: [] }\n",
        )),
        &["both `location` and `listMessage`"],
    );
}

#[test]
fn usage_errors() {
    let env = env_with(&good().text());
    let run = env.run(&["run", "c.yaml", "--dry-rum"]);
    run.expect(2).stderr_has("--dry-rum");
    env.run(&["run", "c.yaml", "--at", "2026-11-23T12:00:00Z"]).expect(2).stderr_has("--at only goes with --dry-run");
    env.run(&["run", "c.yaml", "--dry-run", "--at", "tomorrow"]).expect(2).stderr_has("RFC 3339");
    env.run(&["run", "c.yaml", "--format", "html"]).expect(2).stderr_has("--dry-run");
}

/// A real run of `campaign`: exit 2 naming `needles`, nothing sent and no
/// ledger created.
#[track_caller]
fn refused_before_recording(campaign: CampaignFile, needles: &[&str]) {
    let env = env_with(&campaign.text());
    let s = crate::support::StandIn::start();
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(2);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for n in needles {
        run.stderr_has(n);
    }
    assert!(s.received().is_empty(), "nothing sent");
    assert!(!env.exists(".campaign/state.db"), "nothing recorded");
}

#[test]
fn every_number_is_range_checked_before_the_run_is_recorded() {
    refused_before_recording(
        good().set("rate.concurrency", "2305843009213693952"),
        &["rate.concurrency", "2305843009213693952", "between 1 and 1024", "line 12"],
    );
    refused_before_recording(good().concurrency(1025), &["rate.concurrency", "between 1 and 1024"]);
    refused_before_recording(good().concurrency(0), &["rate.concurrency"]);
    refused_before_recording(good().per_second(4294967295), &["rate.per_second", "between 1 and"]);
    refused_before_recording(good().burst(0), &["rate.burst"]);
    refused_before_recording(good().set("rate.per_second", "-3"), &["per_second", "-3"]);
    refused_before_recording(good().attempts(0), &["retry.attempts", "between 1 and 100"]);
    refused_before_recording(good().attempts(100000), &["retry.attempts", "between 1 and 100"]);
    refused_before_recording(good().abort_after(0), &["retry.abort_after", "at least 1"]);
    refused_before_recording(good().max_backoff("9999999h"), &["retry.max_backoff", "at most 1h"]);
    refused_before_recording(good().templates_per_day(0), &["limits.templates_per_day", "at least 1"]);
    refused_before_recording(good().set("window.margin", "24h"), &["window.margin", "less than 24h"]);
}

#[test]
fn bare_yaml_numbers_reach_the_wire_exactly_as_written() {
    let env = Env::new();
    env.write("people.csv", OK_CSV);
    let numbers = CampaignFile::new()
        .name("numbers")
        .business_id("0x1F")
        .sender("[+14151111234]")
        .csv("people.csv")
        .set("session.message.text", "1.50")
        .template("t")
        .set("template.parameters.body_1", "1.50")
        .set("template.parameters.body_2", "0o17")
        .set("template.parameters.body_3", "1e3")
        .set("template.parameters.body_4", "007")
        .set("template.parameters.body_5", "true");
    numbers.write(&env, "c.yaml");
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(0);
    let row = &run.rows()[0];
    assert!(row["request"]["path"].as_str().unwrap().contains("/businesses/0x1F/"), "{row}");
    let values: Vec<&str> =
        row["request"]["body"]["parameters"].as_array().unwrap().iter().map(|p| p["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["1.50", "0o17", "1e3", "007", "true"]);
    assert_eq!(row["request"]["body"]["sender"], "+14151111234");
    // A single bare sender is a YAML number that lost its `+`: refused, with a hint to quote it.
    numbers.sender("+14151111234").write(&env, "c.yaml");
    env.run(&["run", "c.yaml", "--dry-run"]).expect(2).stderr_has("`sender`").stderr_has("(quoted)");
}

#[test]
fn a_parameter_without_a_value_or_with_a_stray_filename_is_refused() {
    fails(&env_with(&good().set("template.parameters.body_2", "~").text()), &["`body_2` has no value", "line"]);
    fails(
        &env_with(&good().set("template.parameters.body_2", "{ value: x, filename: a.pdf }").text()),
        &["only header_document takes {value, filename}"],
    );
}

#[test]
fn excel_exports_with_a_bom_and_empty_rows_are_read() {
    let env = Env::new();
    let s = crate::support::StandIn::start();
    crate::send::campaign(&env, "\u{feff}phone,name,last\n+16044441111,Ana,\n,,\n+16044441112,Bo,\n,,\n , ,\n", "");
    let preview = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    preview.expect(0);
    let rows: Vec<_> = preview.rows().iter().map(|r| (r["row"].as_u64().unwrap(), r["status"].clone())).collect();
    assert_eq!(rows, [(1, "planned".into()), (3, "planned".into())], "empty rows are left out, and still counted");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(s.received().len(), 2);
}

#[test]
fn phone_numbers_outside_the_numbering_plan_are_invalid_with_the_likely_cause() {
    let env = env_with(&good().recipients("default_country", "CA").text());
    env.write(
        "people.csv",
        "phone,first_name\n+1 604 555 01,Short\n16045550105.0,Float\n1.6045550106E+10,Sci\n07700 900125,Abroad\n+44 (0) 7400 123456,Trunk\n604-555-0107,Fine\n",
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2);
    let rows = run.rows();
    let error = |i: usize| rows[i]["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(error(0).contains("too short: +1 numbers have 10 digits"), "{}", error(0));
    assert!(error(1).contains("spreadsheet number"), "{}", error(1));
    assert!(error(2).contains("scientific notation"), "{}", error(2));
    assert!(error(3).contains("not a valid number of CA") && error(3).contains("another country"), "{}", error(3));
    assert_eq!(rows[4]["recipient"], "+447400123456", "the (0) trunk prefix is dropped");
    assert_eq!(rows[5]["recipient"], "+16045550107");
    for row in &rows[..4] {
        assert_eq!(row["reason"], "invalid");
        assert_eq!(row["error"]["field"], "phone");
    }
}

#[test]
fn a_suppression_file_may_be_a_plain_list_of_numbers() {
    let env = env_with(&good().recipients("suppress", "stop.txt").text());
    env.write("people.csv", "phone,first_name\n+16044441111,Ana\n+16044441112,Bo\n+16044441113,Cy\n");
    env.write("stop.txt", "\u{feff}+1 604 444 1111\n+16044441113\n");
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).expect(0).rows();
    let reasons: Vec<_> = rows.iter().map(|r| r["reason"].as_str().unwrap_or("-").to_string()).collect();
    assert_eq!(reasons, ["suppressed", "-", "suppressed"], "the first line is a number, not a header");
    env.write("stop.txt", "+16044441111\n+1604444111x\n");
    fails(&env, &["stop.txt", "line 2", "+1604444111x", "cannot be honoured"]);
    env.write("stop.txt", "+16044441111\n16044441113.0\n");
    fails(&env, &["stop.txt", "line 2", "spreadsheet number"]);
}

#[test]
fn a_jsonl_dry_run_names_each_invalid_row_on_stderr() {
    let env = env_with(&good().text());
    env.write("people.csv", "phone,first_name\n+16044441111,Ana\nnope,Bo\n+1 604 555 01,Cy\n");
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2).stderr_has("2 invalid rows");
    run.stderr_has("row 2: `phone`: `nope`").stderr_has("(line 3)");
    run.stderr_has("row 3: `phone`: `+1 604 555 01`").stderr_has("too short");
    assert_eq!(run.rows().len(), 3, "stdout stays one JSON object per row");
}

#[test]
fn limit_0_never_says_nothing_is_owed() {
    let env = Env::new();
    let s = crate::support::StandIn::start();
    crate::send::campaign(&env, &crate::support::people(3), "");
    let run = env.send(&s, &["run", "c.yaml", "--limit", "0"]);
    run.expect(0).stderr_has("3 recipients still owed");
    assert!(!run.stderr.contains("nothing owed"), "{}", run.stderr);
    assert!(s.received().is_empty());
    let preview = env.run(&["run", "c.yaml", "--dry-run", "--limit", "0"]);
    preview.expect(0);
    assert!(!preview.stderr.contains("nothing owed"), "{}", preview.stderr);
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 3");
}

#[test]
fn a_last_inbound_time_in_the_future_is_an_invalid_cell() {
    let env = Env::new();
    crate::send::campaign(&env, "phone,name,last\n+16044441111,Ana,2099-01-01T00:00:00Z\n+16044441112,Bo,\n", "");
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2).stderr_has("row 1: `last`").stderr_has("in the future");
    let rows = run.rows();
    assert_eq!(rows[0]["reason"], "invalid");
    assert_eq!(rows[0]["error"]["field"], "last");
    assert_eq!(rows[1]["status"], "planned");
}

#[test]
fn a_request_body_over_64_kib_is_an_invalid_row() {
    let env = Env::new();
    let s = crate::support::StandIn::start();
    let huge = "x".repeat(100_000);
    // Ana wrote an hour ago: the preview shows her session message, yet
    // the template she could fall back to would be too large.
    crate::send::campaign(
        &env,
        &format!("phone,name,last\n+16044441111,{huge},{}\n+16044441112,Bo,\n", crate::send::ago(3600)),
        "",
    );
    env.write("hello.j2", "Hi!");
    let preview = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    preview.expect(2).stderr_has("row 1: `template.parameters.body_1`").stderr_has("at most 64 KiB");
    assert_eq!(preview.rows()[0]["reason"], "invalid");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(2).stderr_has("at most 64 KiB");
    assert!(s.received().is_empty(), "nothing sent");
}

#[test]
fn a_template_that_never_ends_is_a_template_error() {
    let env = env_with(&good().text());
    env.write("people.csv", "phone,first_name\n+16044441111,Ana\n+16044441112,Bo\n+16044441113,Cy\n");
    env.write("hello.j2", "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}");
    let started = std::time::Instant::now();
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2).stderr_has("hello.j2").stderr_has("steps to render one row").stderr_has("hint: ");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let s = crate::support::StandIn::start();
    env.send(&s, &["run", "c.yaml"]).expect(2).stderr_has("hello.j2");
    assert!(s.received().is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}

#[test]
fn a_bare_null_is_no_value_and_the_field_that_needs_one_is_named() {
    fails(&env_with(&good().name("null").text()), &["line 1", "`name`"]);
    fails(&env_with(&good().csv("~").text()), &["recipients.csv is empty", "line 4"]);
    fails(&env_with(&good().template("").text()), &["`template.name`", "invalid template name"]);
}
