//! The dry run: every row's route and exact request, or why not.

use serde_json::json;

use crate::support::{CampaignFile, Env, yaml};

const AT: &str = "2026-11-23T12:00:00Z";

/// Both routes from one sender: `hello.txt.j2`, then template `spring_sale`.
fn spring_sale() -> CampaignFile {
    CampaignFile::new()
        .sender("\"+14151111234\"")
        .csv("people.csv")
        .recipients("default_country", "US")
        .recipients("last_inbound_column", "last")
        .session_body("hello.txt.j2")
        .template("spring_sale")
        .set("template.language", "en")
        .param("body_1", "{{ first_name }}")
        .param("header_image", "https://cdn.example.com/{{ sku }}.jpg")
}

fn basic(env: &Env, csv: &str, campaign: &CampaignFile) {
    env.write("people.csv", csv);
    env.write("hello.txt.j2", "Hi {{ first_name }}!");
    campaign.write(env, "c.yaml");
}

#[test]
fn routes_by_the_24_hour_window_and_shows_exact_requests() {
    let env = Env::new();
    basic(
        &env,
        "phone,first_name,sku,last\n+1 604 444 1111,Ana,A1,2026-11-23T09:00:00Z\n6045550142,Bo,B2,2026-11-20T09:00:00Z\n+447400123456,Cy,C3,\n",
        &spring_sale(),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]);
    run.expect(0);
    let rows = run.rows();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["row"], 1);
    assert_eq!(rows[0]["route"], "session");
    assert_eq!(rows[0]["status"], "planned");
    assert_eq!(rows[0]["request"]["path"], "/v1/businesses/f1980bf7-c7d6-40ec-b665-dbe13620bffa/send/messages");
    assert_eq!(
        rows[0]["request"]["body"],
        json!({"sender": {"id": "+14151111234", "channelType": "whatsapp"},
               "recipient": {"id": "+16044441111", "channelType": "whatsapp"},
               "message": {"text": "Hi Ana!"}})
    );
    // Outside the window, and with no inbound known: the template.
    for (i, number, name, sku) in [(1, "+16045550142", "Bo", "B2"), (2, "+447400123456", "Cy", "C3")] {
        assert_eq!(rows[i]["route"], "template");
        assert_eq!(
            rows[i]["request"]["path"],
            "/v1/businesses/f1980bf7-c7d6-40ec-b665-dbe13620bffa/send/whatsapp_templated_messages"
        );
        assert_eq!(
            rows[i]["request"]["body"],
            json!({"number": number, "templateName": "spring_sale", "language": "en",
                   "parameters": [{"name": "body_1", "value": name},
                                  {"name": "header_image", "value": format!("https://cdn.example.com/{sku}.jpg")}],
                   "sender": "+14151111234", "campaignName": "test-campaign",
                   "callbackData": {"campaign": "test-campaign", "key": number}})
        );
    }
    // Field order is Connectly's, byte for byte.
    let line = run.stdout.lines().nth(1).unwrap();
    assert!(line.contains(r#""body":{"number":"+16045550142","templateName":"spring_sale","language":"en","parameters":[{"name":"body_1","value":"Bo"},{"name":"header_image""#), "{line}");
    run.stderr_has("planned 3 (session 1, template 2)");
}

#[test]
fn the_margin_closes_the_window_early() {
    let env = Env::new();
    // Last inbound 23h50m before --at: open by WhatsApp's rule, closed with a 15m margin.
    basic(&env, "phone,first_name,sku,last\n+16044441111,Ana,A1,2026-11-22T12:10:00Z\n", &spring_sale());
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]).rows();
    assert_eq!(rows[0]["route"], "template");
    basic(
        &env,
        "phone,first_name,sku,last\n+16044441111,Ana,A1,2026-11-22T12:10:00Z\n",
        &spring_sale().set("window.margin", "5m"),
    );
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]).rows();
    assert_eq!(rows[0]["route"], "session");
}

#[test]
fn duplicates_suppressions_and_invalid_rows_are_reported_per_row() {
    let env = Env::new();
    env.write("optout.csv", "phone\n(604) 555-0142\n");
    basic(
        &env,
        "phone,first_name,sku,last\n+16044441111,Ana,A1,\n604-444-1111,Ana again,A1,\n6045550142,Bo,B2,\nnot a phone,Cy,C3,\n+16045550199,,D4,\n+16045550100,Ed,E5,yesterday\n",
        &spring_sale().recipients("suppress", "optout.csv"),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]);
    run.expect(2).stderr_has("3 invalid rows").stderr_has("--skip-invalid");
    let rows = run.rows();
    let what: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["status"].as_str().unwrap().into(), r["reason"].as_str().unwrap_or("").into()))
        .collect();
    assert_eq!(
        what,
        [
            ("planned", ""),
            ("skipped", "duplicate"),
            ("skipped", "suppressed"),
            ("skipped", "invalid"),
            ("skipped", "invalid"),
            ("skipped", "invalid")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(rows[3]["error"]["field"], "phone");
    assert!(rows[3]["error"]["message"].as_str().unwrap().contains("`not a phone`"));
    assert_eq!(rows[4]["error"]["field"], "template.parameters.body_1");
    assert_eq!(rows[5]["error"]["field"], "last");
    // With --skip-invalid the same dry run is fine.
    env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--skip-invalid", "--format", "jsonl"]).expect(0);
}

#[test]
fn schedule_defers_and_expires() {
    let env = Env::new();
    basic(
        &env,
        "phone,first_name,sku,last,tz\n+16044441111,Ana,A1,,America/Vancouver\n+34612345678,Bea,B1,,Europe/Madrid\n+34612345679,Cal,C1,,\n",
        &spring_sale()
            .recipients("timezone_column", "tz")
            .not_before("2026-11-20T00:00:00Z")
            .set("schedule.not_after", "2026-11-30T00:00:00Z")
            .set("schedule.quiet_hours", "{ start: \"21:00\", end: \"08:00\", timezone: Europe/Madrid }"),
    );
    // 21:30 in Madrid, 12:30 in Vancouver: Madrid and the zone-less row (campaign zone) wait.
    let rows =
        env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-11-23T20:30:00Z", "--format", "jsonl"]).expect(0).rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["reason"].as_str()), (Some("planned"), None));
    assert_eq!((rows[1]["status"].as_str(), rows[1]["reason"].as_str()), (Some("deferred"), Some("quiet_hours")));
    assert_eq!((rows[2]["status"].as_str(), rows[2]["reason"].as_str()), (Some("deferred"), Some("quiet_hours")));
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-11-19T12:00:00Z", "--format", "jsonl"]).rows();
    assert!(rows.iter().all(|r| r["reason"] == "not_before"));
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-12-01T12:00:00Z", "--format", "jsonl"]).rows();
    assert!(rows.iter().all(|r| r["status"] == "skipped" && r["reason"] == "expired"));
}

#[test]
fn limit_stops_after_n_planned() {
    let env = Env::new();
    basic(
        &env,
        "phone,first_name,sku,last\n+16044441111,A,1,\n+16044441112,B,2,\n+16044441111,A,1,\n+16044441113,C,3,\n",
        &spring_sale(),
    );
    let rows =
        env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--limit", "2", "--format", "jsonl"]).expect(0).rows();
    let planned: Vec<_> = rows.iter().filter(|r| r["status"] == "planned").collect();
    assert_eq!(planned.len(), 2);
    assert_eq!(rows.last().unwrap()["reason"], "duplicate", "rows after the limit are not reported");
}

#[test]
fn session_only_campaign_skips_customers_outside_the_window() {
    let env = Env::new();
    env.write("people.csv", "phone,last\n+16044441111,2026-11-23T11:00:00Z\n+16044441112,\n");
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\nsession:\n  message:\n    location: { latitude: \"37.77\", longitude: -122.41, name: \"Shop {{ recipient }}\" }\n"),
    );
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]).expect(0).rows();
    assert_eq!(
        rows[0]["request"]["body"]["message"]["location"],
        json!({"latitude": 37.77, "longitude": -122.41, "name": "Shop +16044441111"})
    );
    assert_eq!((rows[1]["status"].as_str(), rows[1]["reason"].as_str()), (Some("skipped"), Some("no_route")));
}

#[test]
fn body_becomes_the_caption_of_an_attachment_and_includes_resolve_beside_it() {
    let env = Env::new();
    env.write("people.csv", "phone,name,doc\n+16044441111,Ana,inv-1\n");
    env.write("tpl/body.j2", "{% include \"sig.j2\" %} your invoice");
    env.write("tpl/sig.j2", "Dear {{ name }},");
    let invoice = CampaignFile::new()
        .csv("people.csv")
        .session_body("tpl/body.j2")
        .set(
            "session.message.attachments",
            "[{ type: document, url: \"https://x.example/{{ doc }}.pdf\", filename: \"{{ doc }}.pdf\" }]",
        )
        .template("invoice")
        .set(
            "template.parameters.header_document",
            "{ value: \"https://x.example/{{ doc }}.pdf\", filename: \"{{ doc }}.pdf\" }",
        )
        .param("body_1", "{{ row['name'] }}");
    invoice.write(&env, "c.yaml");
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]).expect(0).rows();
    // No inbound known: the template, with the document's filename.
    assert_eq!(
        rows[0]["request"]["body"]["parameters"],
        json!([{"name": "header_document", "value": "https://x.example/inv-1.pdf", "filename": "inv-1.pdf"}, {"name": "body_1", "value": "Ana"}])
    );
    assert_eq!(rows[0]["request"]["body"]["language"], "en");
    let env2 = Env::new();
    env2.write("people.csv", "phone,name,doc,last\n+16044441111,Ana,inv-1,2026-11-23T11:00:00Z\n");
    env2.write("tpl/body.j2", "{% include \"sig.j2\" %} your invoice");
    env2.write("tpl/sig.j2", "Dear {{ name }},");
    invoice.recipients("last_inbound_column", "last").write(&env2, "c.yaml");
    let rows = env2.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]).expect(0).rows();
    assert_eq!(
        rows[0]["request"]["body"]["message"],
        json!({"attachments": [{"type": "document", "url": "https://x.example/inv-1.pdf", "caption": "Dear Ana, your invoice", "filename": "inv-1.pdf"}]})
    );
}

#[test]
fn whatsapp_limits_make_a_row_invalid() {
    let env = Env::new();
    env.write("people.csv", "phone,label,note,last\n+16044441111,Yes,ok,2026-11-23T11:00:00Z\n+16044441112,Yes absolutely please,ok,2026-11-23T11:00:00Z\n+16044441113,Yes,\"two\nlines\",\n");
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\nsession:\n  message:\n    text: Pick one\n    replyButtonMessage:\n      buttons:\n        - { id: y, text: \"{{ label }}\" }\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ note }}\"\n"),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]);
    run.expect(2);
    let rows = run.rows();
    assert_eq!(rows[0]["status"], "planned");
    assert_eq!(rows[1]["error"]["field"], "session.message.replyButtonMessage.buttons[0].text");
    assert!(rows[1]["error"]["message"].as_str().unwrap().contains("at most 20"));
    assert_eq!(rows[2]["error"]["field"], "template.parameters.body_1");
}

#[test]
fn text_preview_shows_messages_and_a_summary() {
    let env = Env::new();
    basic(
        &env,
        "phone,first_name,sku,last\n+16044441111,Ana,A1,2026-11-23T09:00:00Z\n+16044441112,Bo,B2,\n+16044441112,Bo,B2,\n",
        &spring_sale(),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", AT]);
    run.expect(0);
    assert!(run.stdout.contains("row 1 +16044441111  session  window open until 2026-11-24 09:00Z"), "{}", run.stdout);
    assert!(run.stdout.contains("Hi Ana!"));
    assert!(run.stdout.contains("template spring_sale (en)"));
    assert!(run.stdout.contains("row 3 +16044441112 skipped/duplicate"));
    assert!(run.stdout.contains("Summary"));
    assert!(!run.stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    run.stderr_has("planned 2 (session 1, template 1) · skipped 1 (duplicate 1)");
}

#[test]
fn worked_examples_preview_cleanly() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (file, at) in [
        ("campaigns/winback.yaml", "2026-11-23T12:00:00Z"),
        ("campaigns/spring-sale.yaml", "2026-12-02T16:00:00Z"),
        ("campaigns/catalog.yaml", "2026-11-23T12:00:00Z"),
    ] {
        let out = std::process::Command::new(crate::support::BIN)
            .args(["run", file, "--dry-run", "--at", at, "--format", "jsonl"])
            .current_dir(root)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"planned\""), "{file}");
        // No catalogue is saved in the repository: the template is not checked, and that is said.
        let templated = std::fs::read_to_string(std::path::Path::new(root).join(file)).unwrap().contains("\ntemplate:");
        let said = String::from_utf8_lossy(&out.stderr).contains("was not checked against the business's catalogue");
        assert_eq!(said, templated, "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The fenced blocks of a Markdown text, each as its lines.
fn fenced_blocks(md: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut open: Option<Vec<&str>> = None;
    for line in md.lines() {
        match (line.starts_with("```"), open.take()) {
            (true, Some(block)) => blocks.push(block),
            (true, None) => open = Some(Vec::new()),
            (false, Some(mut block)) => {
                block.push(line);
                open = Some(block);
            }
            (false, None) => {}
        }
    }
    blocks
}

/// `shown` is what `printed` says, line for line; a line `…` alone in
/// `shown` stands for any number of printed lines.
#[track_caller]
fn shows(shown: &[&str], printed: &str) {
    let printed: Vec<&str> = printed.lines().collect();
    let (mut at, mut skipping) = (0, false);
    for line in shown {
        if *line == "…" {
            skipping = true;
            continue;
        }
        while skipping && at < printed.len() && printed[at] != *line {
            at += 1;
        }
        assert_eq!(printed.get(at), Some(line), "shown line {line:?} is not what is printed:\n{}", printed.join("\n"));
        (at, skipping) = (at + 1, false);
    }
    assert!(skipping || at == printed.len(), "printed but not shown: {:?}", &printed[at..]);
}

#[test]
fn the_readme_shows_what_its_dry_run_prints() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = readme.lines().find_map(|l| l.strip_prefix("cargo run --release -- run ")).expect("the command");
    let args: Vec<&str> = std::iter::once("run").chain(command.split_whitespace()).collect();
    let out = std::process::Command::new(crate::support::BIN).args(&args).current_dir(root).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let blocks = fenced_blocks(&readme);
    let block =
        |start: &str| blocks.iter().find(|b| b.first().is_some_and(|l| l.starts_with(start))).expect(start).clone();
    shows(&block("winback-november — dry run"), &String::from_utf8_lossy(&out.stdout));
    shows(&block("winback-november: dry run"), &String::from_utf8_lossy(&out.stderr));
}
