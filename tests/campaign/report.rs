//! What the reporters tell people and scripts: summaries that add up, rows
//! named as a spreadsheet shows them, `status` text and JSON that agree,
//! and a closed stdout that ends a preview quietly but never a real run.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::send::{both_routes, campaign, campaign_with};
use crate::support::standin::now_unix;
use crate::support::{Env, Fault, Run, StandIn, finish, people, yaml};

const AT: &str = "2026-11-23T12:00:00Z";

fn status_json(env: &Env) -> Value {
    let run = env.run(&["status", "c.yaml", "--format", "json"]);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Run `args` with stdout closed by its reader before anything is written.
fn with_stdout_closed(mut cmd: std::process::Command) -> Run {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    finish(child)
}

#[test]
fn a_closed_stdout_ends_status_and_previews_quietly_with_exit_0() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550001", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID")]);
    campaign(&env, &people(3000), "");
    env.send(&s, &["run", "c.yaml", "--limit", "3"]).expect(1);
    for format in ["text", "json", "csv"] {
        let run = with_stdout_closed(env.cmd(&["status", "c.yaml", "--format", format]));
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "status --format {format}");
    }
    for format in ["text", "jsonl", "html"] {
        let run = with_stdout_closed(env.cmd(&["run", "c.yaml", "--dry-run", "--format", format]));
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "--dry-run --format {format}");
    }
    // `| head -2`: the reader goes away after two lines.
    let mut child = env
        .cmd(&["run", "c.yaml", "--dry-run", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"row\":1"));
    assert!(lines.next().unwrap().unwrap().contains("\"row\":2"));
    drop(lines);
    let run = finish(child);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn a_closed_stdout_never_stops_a_real_run_nor_loses_a_record() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(40), "");
    let run = with_stdout_closed(env.sending(&s, &["run", "c.yaml", "--format", "jsonl"]));
    run.expect(0).stderr_has("stdout was closed: sending goes on").stderr_has("sent 40 (template 40)");
    assert_eq!(run.stderr.matches("stdout was closed").count(), 1, "said once:\n{}", run.stderr);
    assert_eq!(s.received().len(), 40);
    assert_eq!(status_json(&env)["counts"]["sent"], 40);
}

#[test]
fn the_real_run_summary_counts_what_is_still_owed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(10), "");
    env.send(&s, &["run", "c.yaml", "--limit", "3"])
        .expect(0)
        .stderr_has("sent 3 (template 3)")
        .stderr_has("7 recipients still owed (7 not attempted): run the same command again to send them");
    env.send(&s, &["run", "c.yaml", "--limit", "6"])
        .expect(0)
        .stderr_has("1 recipient still owed (1 not attempted): run the same command again to send it");
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 1 (template 1) · skipped 9 (already_sent 9)");
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("nothing owed");
}

#[test]
fn a_row_the_abort_met_is_counted_under_a_reason_everywhere() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550002", &[Fault::Error(400, "ERROR_CODE_BUSINESS_REACHED_LIMITS")]);
    campaign_with(&env, &people(6), &both_routes().pace(200, 1, Some(1)));
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(3).stderr_has("deferred 1 (run_stopped 1)").stderr_has("still owed");
    assert_eq!(run.stderr.matches("run aborted").count(), 1, "the reason is said once:\n{}", run.stderr);
    let text = env.run(&["status", "c.yaml"]).expect(0).stdout.clone();
    assert!(text.contains("sent 2 (session 0, template 2) · deferred 1 (run_stopped 1)"), "{text}");
}

#[test]
fn status_text_and_json_agree_on_deliveries() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(4), "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    let ids: Vec<&str> = rows.iter().map(|r| r["message_id"].as_str().unwrap()).collect();
    let events: String = [(0, "read"), (1, "delivered"), (2, "delivery_failed")]
        .iter()
        .map(|(i, st)| {
            json!({"topic": "delivery_status", "timestamp": now_unix().to_string(),
                   "statusUpdate": {"id": ids[*i], "status": st}})
            .to_string()
                + "\n"
        })
        .collect();
    env.write("events.jsonl", &events);
    finish(env.spawn(env.cmd(&["inbound", "import", "events.jsonl"]))).expect(0);
    let st = status_json(&env);
    // Each message once, at its furthest state (SPEC), and the funnel where delivered includes read.
    assert_eq!(st["delivery"], json!({"delivered": 1, "read": 1, "delivery_failed": 1}));
    assert_eq!(st["delivery_funnel"], json!({"sent": 4, "delivered": 2, "read": 1, "delivery_failed": 1}));
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains("delivery: sent 4 → delivered 2 (50%) → read 1 (25%) · failed 1"), "{text}");
    assert!(
        text.contains(
            "each message at its furthest state: read 1 · delivered, not read 1 · failed 1 · not reported delivered yet 1"
        ),
        "{text}"
    );
}

#[test]
fn status_of_a_campaign_never_run_says_so() {
    let env = Env::new();
    let s = StandIn::start();
    // Another campaign in the same ledger has run; this one never has.
    campaign(&env, &people(2), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    both_routes().name("other").write(&env, "other.yaml");
    let run = env.run(&["status", "other.yaml"]);
    run.expect(0);
    assert!(run.stdout.contains("never run: the ledger at"), "{}", run.stdout);
    assert!(!run.stdout.contains("sent 0"), "no table of zeros: {}", run.stdout);
}

#[test]
fn status_lists_an_opted_out_customer_apart_from_those_to_retry() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT")]);
    s.fault("+16045550001", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID")]);
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(1);
    let text = env.run(&["status", "c.yaml"]).expect(0).stdout.clone();
    let (retry, opted) = text.split_once("opted out: 1 recipient").expect(&text);
    assert!(retry.contains("+16045550001") && !retry.contains("+16045550000"), "{text}");
    assert!(opted.contains("+16045550000") && opted.contains("not resent"), "{text}");
}

#[test]
fn a_jsonl_preview_names_each_invalid_row_on_stderr_with_its_line() {
    let env = Env::new();
    // Row 2 spans two lines of the file: row 3 is on line 5.
    env.write("people.csv", "phone,name\n+16044441111,Ana\n+16044441112,\"Bo\nBo\"\nnot-a-phone,Cy\n");
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ name }}\"\n"),
    );
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", AT, "--format", "jsonl"]);
    run.expect(2)
        .stderr_has("2 invalid rows: a real run would stop before sending anything (exit 2).")
        .stderr_has("row 2: `template.parameters.body_1`: contains a line break")
        .stderr_has("(line 3)")
        .stderr_has("row 3: `phone`: `not-a-phone`")
        .stderr_has("(line 5)")
        .stderr_has("--skip-invalid");
    // The text preview lists them on stdout, and says how rows are numbered.
    let text = env.run(&["run", "c.yaml", "--dry-run", "--at", AT]);
    assert!(text.stdout.contains("(row 1 is line 2 of people.csv"), "{}", text.stdout);
    assert!(text.stdout.contains("2 invalid rows (a real run stops here, exit 2):"), "{}", text.stdout);
    assert!(text.stdout.contains("row 3: `phone`: `not-a-phone`"), "{}", text.stdout);
    assert!(!text.stderr.contains("row 3:"), "not twice: {}", text.stderr);
    // A real run's preflight numbers them the same way.
    let s = StandIn::start();
    env.send(&s, &["run", "c.yaml"]).expect(2).stderr_has("row 3: `phone`: `not-a-phone`").stderr_has("(line 5)");
}

#[test]
fn the_text_preview_says_until_when_and_what_a_real_run_would_do() {
    let env = Env::new();
    env.write("people.csv", "phone,name,tz\n+16044441111,Ana,America/Vancouver\n+34612345678,Bea,Europe/Madrid\n");
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\n  timezone_column: tz\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ name }}\"\nschedule:\n  quiet_hours: { start: \"21:00\", end: \"08:00\", timezone: Europe/Madrid }\n"),
    );
    // 03:00 in Madrid, 18:00 the day before in Vancouver.
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-11-24T02:00:00Z"]);
    run.expect(0);
    assert!(
        run.stdout.contains("row 2 +34612345678 deferred/quiet_hours until 2026-11-24 07:00Z (line 3)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("A real run now would send 1 message (template 1)."), "{}", run.stdout);
    assert!(run.stdout.contains("1 row deferred (quiet_hours 1): a later run sends it"), "{}", run.stdout);
    // 07:30 in Madrid, 22:30 in Vancouver: both in their quiet hours; Madrid wakes first.
    let run = env.run(&["run", "c.yaml", "--dry-run", "--at", "2026-11-24T06:30:00Z"]);
    assert!(
        run.stdout.contains("Nothing would be sent now: all 2 rows are deferred (quiet_hours 2)."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("A later run sends them, from 2026-11-24 07:00Z at the earliest."), "{}", run.stdout);
}

#[test]
fn status_during_a_run_says_who_runs_it_and_what_is_being_sent() {
    let env = Env::new();
    let s = StandIn::with(crate::support::standin::Config {
        latency: std::time::Duration::from_millis(400),
        ..Default::default()
    });
    campaign_with(&env, &people(40), &both_routes().pace(10, 1, Some(8)));
    let child = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    let started = std::time::Instant::now();
    let text = loop {
        let text = env.run(&["status", "c.yaml"]).expect(0).stdout.clone();
        if text.contains("being sent now") || started.elapsed() > std::time::Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(text.contains(&format!("running now (run 1, pid {} on ", child.id())), "{text}");
    assert!(text.contains("being sent now: "), "{text}");
    assert!(!text.contains("--retry-unknown"), "keys in flight of a live run are not to retry: {text}");
    assert!(text.contains("#1") && text.contains("→ … running now"), "{text}");
    let ok = std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let _ = finish(child);
    // The holder is gone: what it left in flight is unknown, and says how to resend it.
    let text = env.run(&["status", "c.yaml"]).expect(0).stdout.clone();
    assert!(!text.contains("running now"), "{text}");
    assert!(text.contains("did not finish (crashed or killed)"), "{text}");
    assert!(text.contains("--retry-unknown"), "{text}");
}
