//! Real sends against the Connectly stand-in: routes, fallback, retries,
//! final errors, aborts, exit codes.

use std::time::Duration;

use crate::support::standin::{Config, now_unix};
use crate::support::{CampaignFile, Env, Fault, StandIn, people, yaml};

/// RFC 3339 for `secs_ago` seconds before now.
pub fn ago(secs_ago: i64) -> String {
    jiff::Timestamp::from_second(now_unix() - secs_ago).unwrap().to_string()
}

/// The campaign file `campaign` writes: both routes (`hello.j2`, then
/// template `hello_tpl`), 200 a second, retries at most 200 ms apart.
pub fn both_routes() -> CampaignFile {
    CampaignFile::new()
        .csv("people.csv")
        .recipients("last_inbound_column", "last")
        .session_body("hello.j2")
        .template("hello_tpl")
        .param("body_1", "{{ name }}")
        .pace(200, 10, None)
        .max_backoff("200ms")
}

/// A campaign with both routes; the CSV is the caller's, `extra` is
/// appended to the file.
pub fn campaign(env: &Env, csv: &str, extra: &str) {
    env.write("people.csv", csv);
    env.write("hello.j2", "Hi {{ name }}!");
    env.write("c.yaml", &(both_routes().text() + extra));
}

/// `campaign`, with this file as `c.yaml`.
pub fn campaign_with(env: &Env, csv: &str, file: &CampaignFile) {
    env.write("people.csv", csv);
    env.write("hello.j2", "Hi {{ name }}!");
    file.write(env, "c.yaml");
}

#[test]
fn sends_what_the_dry_run_showed_byte_for_byte() {
    let env = Env::new();
    let s = StandIn::start();
    s.inbound("+16044441111", now_unix() - 3600);
    campaign(
        &env,
        &format!(
            "phone,name,last\n+16044441111,Ana,{}\n+16044441112,Bo,\n+16044441113,Cy,{}\n",
            ago(3600),
            ago(3 * 86400)
        ),
        "",
    );
    let preview = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    preview.expect(0);
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0);
    let got = s.received();
    assert_eq!(got.len(), 3);
    for received in &got {
        let line = preview
            .stdout
            .lines()
            .find(|l| l.contains(&format!("\"recipient\":\"{}\"", received.recipient())))
            .unwrap();
        assert!(
            line.contains(&format!("\"body\":{}}}", received.raw)),
            "the real request is the previewed one:\n{line}\n{}",
            received.raw
        );
    }
    let rows = run.rows();
    assert_eq!(
        rows.iter().map(|r| r["route"].as_str().unwrap()).collect::<Vec<_>>(),
        ["session", "template", "template"]
    );
    for r in &rows {
        assert_eq!(r["status"], "sent");
        assert!(r["message_id"].as_str().unwrap().starts_with("01FRRVK"));
        assert_eq!(r["attempts"], 1);
        assert_eq!(r["fallback"], false);
    }
    run.stderr_has("sent 3 (session 1, template 2)");
    assert!(env.exists(".campaign/state.db"), "the ledger lives beside the campaign file");
}

#[test]
fn a_refused_session_falls_back_to_the_template() {
    let env = Env::new();
    let s = StandIn::start();
    // The CSV believes the window is open; Connectly knows better.
    s.inbound("+16044441112", now_unix() - 30 * 3600);
    campaign(&env, &format!("phone,name,last\n+16044441111,Ana,{}\n+16044441112,Bo,{}\n", ago(600), ago(600)), "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    for r in &rows {
        assert_eq!(
            (r["route"].as_str(), r["status"].as_str(), r["fallback"].as_bool()),
            (Some("template"), Some("sent"), Some(true))
        );
        assert_eq!(r["attempts"], 2);
    }
    let kinds: Vec<_> = s.received().iter().map(|r| (r.kind, r.status)).collect();
    assert_eq!(kinds.iter().filter(|k| **k == ("session", 400)).count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == ("template", 200)).count(), 2);
}

#[test]
fn a_session_only_campaign_fails_a_refused_session_without_fallback() {
    let env = Env::new();
    let s = StandIn::start();
    env.write("people.csv", &format!("phone,last\n+16044441111,{}\n", ago(60)));
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  last_inbound_column: last\nsession:\n  message:\n    text: hello\n"),
    );
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(1);
    let r = &run.rows()[0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["error"]["code"], "ERROR_CODE_MESSAGE_CUSTOMER_NO_CONVERSATION_INITIATION");
    assert_eq!(r["error"]["http"], 400);
}

#[test]
fn server_errors_and_throttling_are_retried() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault(
        "+16044441111",
        &[Fault::Error(500, "ERROR_CODE_UNSPECIFIED"), Fault::Error(503, "ERROR_CODE_UNSPECIFIED")],
    );
    s.fault("+16044441112", &[Fault::TooMany(Some(1))]);
    s.fault("+16044441113", &[Fault::TooMany(None)]);
    // A Retry-After within retry.max_backoff is waited out in the run.
    let csv = "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n+16044441113,Cy,\n";
    campaign_with(&env, csv, &both_routes().max_backoff("2s"));
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    let attempts: Vec<_> = rows.iter().map(|r| r["attempts"].as_u64().unwrap()).collect();
    assert_eq!(attempts, [3, 2, 2]);
    assert!(rows.iter().all(|r| r["status"] == "sent"));
    // Retry-After: 1 is honoured.
    let bo: Vec<_> = s.received().into_iter().filter(|r| r.recipient() == "+16044441112").collect();
    let waited = bo[1].at.duration_since(bo[0].at);
    assert!(waited >= Duration::from_millis(950), "retried after {waited:?}");
}

#[test]
fn retries_stop_at_the_configured_attempts() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16044441111", &[Fault::Error(502, "ERROR_CODE_UNSPECIFIED"); 5]);
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "  attempts: 3\n");
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(1);
    let rows = run.rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["attempts"].as_u64()), (Some("failed"), Some(3)));
    assert_eq!(rows[0]["error"]["http"], 502);
    assert_eq!(rows[1]["status"], "sent");
    assert_eq!(s.received().len(), 4);
}

#[test]
fn final_errors_fail_the_recipient_and_exit_1() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16044441112", &[Fault::Error(400, "ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID")]);
    s.templates(&["hello_tpl"]);
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n+16044441113,Cy,\n", "");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(1).stderr_has("sent 2").stderr_has("failed 1").stderr_has("ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID");
    assert_eq!(s.received().len(), 3, "a final error is not retried");
}

#[test]
fn a_template_refused_by_the_api_is_a_final_error() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16044441111", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND")]);
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n", "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(1).rows();
    assert_eq!(rows[0]["error"]["code"], "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND");
}

#[test]
fn a_bad_key_aborts_at_once() {
    let env = Env::new();
    let s = StandIn::start();
    let csv = people(200);
    // 20 a second: the first 401 comes back long before the next request is due.
    campaign_with(&env, &csv, &both_routes().pace(20, 1, None));
    let run = crate::support::Run::from_output(
        env.sending(&s, &["run", "c.yaml"]).env("CONNECTLY_API_KEY", "wrong-key").output().unwrap(),
    );
    run.expect(3).stderr_has("run aborted").stderr_has("HTTP 401");
    assert!(!run.stderr.contains("wrong-key"), "the key is never printed");
    assert!(s.received().len() <= 3, "stopped after {} requests", s.received().len());
}

#[test]
fn business_limits_abort_the_run() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16044441111", &[Fault::Error(400, "ERROR_CODE_BUSINESS_REACHED_LIMITS")]);
    campaign_with(&env, "phone,name,last\n+16044441111,Ana,\n", &both_routes().without("rate").per_second(1));
    let mut csv = String::from("phone,name,last\n+16044441111,Ana,\n");
    for i in 0..20 {
        csv.push_str(&format!("+1604555{i:04},P{i},\n"));
    }
    env.write("people.csv", &csv);
    env.send(&s, &["run", "c.yaml"]).expect(3).stderr_has("ERROR_CODE_BUSINESS_REACHED_LIMITS");
    assert!(s.received().len() <= 3, "{} requests after the business was limited", s.received().len());
}

#[test]
fn a_streak_of_failures_aborts() {
    let env = Env::new();
    let s = StandIn::start();
    for i in 0..50 {
        s.fault(&format!("+1604555{i:04}"), &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID")]);
    }
    let csv = people(50);
    campaign_with(&env, &csv, &both_routes().abort_after(5).pace(200, 1, Some(1)));
    env.send(&s, &["run", "c.yaml"]).expect(3).stderr_has("5 failures in a row");
    assert_eq!(s.received().len(), 5);
}

#[test]
fn a_closed_port_keeps_everyone_owed_and_aborts() {
    let env = Env::new();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "  attempts: 2\n");
    // The catalogue was saved earlier today; the outage comes after.
    env.send(&StandIn::start(), &["templates", "pull", "c.yaml"]).expect(0);
    // Nothing listens on this port: no request ever leaves.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = env
        .cmd(&["run", "c.yaml", "--format", "jsonl"])
        .env("CONNECTLY_API_KEY", "k")
        .env("CONNECTLY_BASE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let run = crate::support::Run::from_output(out);
    run.expect(3).stderr_has("could not be reached").stderr_has(&format!("127.0.0.1:{port}"));
    for r in run.rows() {
        assert_eq!((r["status"].as_str(), r["reason"].as_str()), (Some("deferred"), Some("network")), "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("could not connect"), "{r}");
    }
    // Nobody was dropped: once the API is back, the same command sends everyone.
    let s = StandIn::start();
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 2");
    assert_eq!(s.accepted().len(), 2);
}

#[test]
fn nothing_is_sent_without_a_key_or_with_an_invalid_row() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n", "");
    env.run(&["run", "c.yaml"]).expect(2).stderr_has("CONNECTLY_API_KEY is not set");
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+1604,Bo,\n+16044441113,,\n", "");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(2)
        .stderr_has("2 invalid rows")
        .stderr_has("row 2: `phone`")
        .stderr_has("row 3: `template.parameters.body_1`");
    assert!(s.received().is_empty(), "preflight sends nothing");
    // --skip-invalid sends the rest.
    let rows = env.send(&s, &["run", "c.yaml", "--skip-invalid", "--format", "jsonl"]).expect(0).rows();
    assert_eq!(rows.iter().filter(|r| r["status"] == "sent").count(), 1);
    assert_eq!(rows.iter().filter(|r| r["reason"] == "invalid").count(), 2);
}

#[test]
fn limit_sends_at_most_n() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,A,\n+16044441112,B,\n+16044441113,C,\n", "");
    env.send(&s, &["run", "c.yaml", "--limit", "2"]).expect(0);
    assert_eq!(s.received().len(), 2);
}

#[test]
fn the_rate_limit_keeps_the_stand_in_from_throttling() {
    let env = Env::new();
    let s = StandIn::with(Config { per_second: 25, ..Config::default() });
    let csv = people(60);
    campaign_with(&env, &csv, &both_routes().pace(20, 1, None));
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let got = s.received();
    assert_eq!(got.len(), 60);
    assert!(got.iter().all(|r| r.status == 200), "no 429 at 20/s against a 25/s limit");
    let span = got.last().unwrap().at.duration_since(got[0].at);
    assert!(span >= Duration::from_millis(2800), "60 requests at 20/s take about 3 s, took {span:?}");
}
