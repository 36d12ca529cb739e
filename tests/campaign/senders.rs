//! Sender numbers: a pool, the number each customer keeps hearing from, the
//! window of each (number, customer) pair, and the pace of each number.
//! Counts, not timings.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::standin::{Config, now_unix};
use crate::support::{CampaignFile, Env, StandIn, finish, people};

const A: &str = "+14151110001";
const B: &str = "+14151110002";

/// A campaign named `name` with both routes, sent from `sender` (YAML).
fn pooled(name: &str, sender: &str) -> CampaignFile {
    CampaignFile::new()
        .name(name)
        .sender(sender)
        .csv("people.csv")
        .recipients("last_inbound_column", "last")
        .session_body("hello.j2")
        .template(&format!("{name}_tpl"))
        .param("body_1", "{{ name }}")
        .per_second(200)
        .per_sender(200)
        .burst(10)
}

/// `campaign` as `file`, beside the body template it names.
fn campaign(env: &Env, file: &str, campaign: &CampaignFile) {
    env.write("hello.j2", "Hi {{ name }}!");
    campaign.write(env, file);
}

/// The customer wrote to the business number `to` at `at` (Unix seconds).
fn wrote(env: &Env, phone: &str, to: &str, at: i64) {
    let event = json!({"timestamp": at.to_string(), "sender": {"id": phone, "channelType": "whatsapp"},
        "recipient": {"id": to, "channelType": "whatsapp"}, "message": {"text": "Hello!"}});
    env.write("events.jsonl", &format!("{event}\n"));
    finish(env.spawn(env.cmd(&["inbound", "import", "events.jsonl"]))).expect(0);
}

/// Sender of each request the stand-in received, by recipient.
fn senders(s: &StandIn) -> HashMap<String, String> {
    s.received().iter().map(|r| (r.recipient(), r.body["sender"].as_str().unwrap_or("").to_string())).collect()
}

fn preview(env: &Env, file: &str) -> Vec<Value> {
    env.run(&["run", file, "--dry-run", "--format", "jsonl"]).expect(0).rows()
}

#[test]
fn a_customer_keeps_hearing_from_the_same_number_across_campaigns() {
    let env = Env::new();
    env.write("people.csv", &people(40));
    campaign(&env, "a.yaml", &pooled("first", &format!("[\"{A}\", \"{B}\"]")));
    let s = StandIn::start();
    env.send(&s, &["run", "a.yaml"]).expect(0);
    let first = senders(&s);
    assert_eq!(first.len(), 40);
    let from_a = first.values().filter(|n| *n == A).count();
    assert!(from_a > 0 && from_a < 40, "the pool is shared: {from_a} of 40 from {A}");
    // Another campaign of the same ledger lists the pool the other way round
    // (and adds a number): everyone still hears from the number they did.
    campaign(&env, "b.yaml", &pooled("second", &format!("[\"+14151110003\", \"{B}\", \"{A}\"]")));
    let s2 = StandIn::start();
    env.send(&s2, &["run", "b.yaml"]).expect(0);
    assert_eq!(senders(&s2), first, "each customer on the number of the first campaign");
    let rows = preview(&env, "b.yaml");
    assert!(rows.iter().all(|r| r["reason"] == "already_sent"));
}

#[test]
fn the_number_a_customer_wrote_to_wins_and_its_window_is_the_one_open() {
    let env = Env::new();
    env.write("people.csv", "phone,name,last\n+16045550001,Ana,\n+16045550002,Bo,\n");
    // Ana wrote to B an hour ago; Bo wrote to a number outside the pool.
    wrote(&env, "+16045550001", B, now_unix() - 3600);
    wrote(&env, "+16045550002", "+14159999999", now_unix() - 3600);
    campaign(&env, "c.yaml", &pooled("pool", &format!("[\"{A}\", \"{B}\"]")));
    let rows = preview(&env, "c.yaml");
    assert_eq!((rows[0]["sender"].as_str(), rows[0]["route"].as_str()), (Some(B), Some("session")));
    assert_eq!(rows[0]["request"]["body"]["sender"]["id"], B, "the session body carries the number");
    assert_eq!(rows[1]["route"], "template", "no number of the pool has Bo's window open");
    assert_eq!(rows[1]["request"]["body"]["sender"], rows[1]["sender"], "the template body carries the number");
    // A campaign sending from A alone: Ana's window with A was never open.
    let only_a = pooled("onlya", &format!("\"{A}\""));
    campaign(&env, "a.yaml", &only_a);
    let rows = preview(&env, "a.yaml");
    assert_eq!((rows[0]["sender"].as_str(), rows[0]["route"].as_str()), (Some(A), Some("template")));
    // Without a sender (Connectly's default number) any number counts.
    only_a.without("sender").write(&env, "n.yaml");
    let rows = preview(&env, "n.yaml");
    assert_eq!((rows[0]["sender"].clone(), rows[0]["route"].as_str()), (Value::Null, Some("session")));
}

#[test]
fn the_csv_last_inbound_counts_for_every_number() {
    let env = Env::new();
    let last = jiff::Timestamp::from_second(now_unix() - 600).unwrap();
    env.write("people.csv", &format!("phone,name,last\n+16045550001,Ana,{last}\n"));
    campaign(&env, "c.yaml", &pooled("pool", &format!("[\"{A}\", \"{B}\"]")));
    let rows = preview(&env, "c.yaml");
    assert_eq!(rows[0]["route"], "session");
    assert!(rows[0]["sender"] == A || rows[0]["sender"] == B);
}

#[test]
fn sender_column_picks_the_number_and_must_name_one_of_the_pool() {
    let env = Env::new();
    env.write(
        "people.csv",
        &format!("phone,name,last,ours\n+16045550001,Ana,,{B}\n+16045550002,Bo,,\n+16045550003,Cy,,+14150000000\n"),
    );
    campaign(&env, "c.yaml", &pooled("pool", &format!("[\"{A}\", \"{B}\"]")).recipients("sender_column", "ours"));
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    run.expect(2);
    let rows = run.rows();
    assert_eq!(rows[0]["sender"], B);
    assert!(rows[1]["sender"] == A || rows[1]["sender"] == B, "an empty cell: the pool decides");
    assert_eq!(rows[2]["reason"], "invalid");
    let message = rows[2]["error"]["message"].as_str().unwrap();
    assert!(message.contains("+14150000000") && message.contains("not one of the campaign's senders"), "{message}");
}

#[test]
fn each_number_keeps_its_own_pace_and_status_counts_per_number() {
    let env = Env::new();
    env.write("people.csv", &people(48));
    campaign(&env, "c.yaml", &pooled("paced", &format!("[\"{A}\", \"{B}\"]")).per_sender(8).burst(1));
    let s = StandIn::with(Config { latency: Duration::from_millis(5), per_second: 1000 });
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let got = s.received();
    assert_eq!(got.len(), 48);
    let mut per_number = HashMap::<String, Vec<Instant>>::new();
    for r in &got {
        per_number.entry(r.body["sender"].as_str().unwrap().to_string()).or_default().push(r.at);
    }
    assert_eq!(per_number.len(), 2);
    for (number, times) in &mut per_number {
        times.sort();
        // At most per_sender + burst (9) in any second; one more is allowed
        // for arrival jitter on a busy machine (ten requests span 1.125 s
        // when paced). Unpaced, all 24 would arrive within milliseconds.
        let over = times.windows(11).filter(|w| w[10].duration_since(w[0]) < Duration::from_secs(1)).count();
        assert_eq!(over, 0, "{number}: 11 requests within one second");
    }
    let status = env.run(&["status", "c.yaml", "--format", "json"]);
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    let counts: Vec<u64> = [A, B].iter().map(|n| v["senders"][n].as_u64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), 48);
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains(&format!("sent from {A} {}", counts[0])), "{text}");
}

#[test]
fn a_number_at_its_limit_does_not_hold_back_the_others() {
    let env = Env::new();
    // The first ten rows go from A, the next ten from B; each number 5/s.
    let mut csv = String::from("phone,name,last,ours\n");
    for i in 0..20 {
        csv.push_str(&format!("+1604555{i:04},P{i},,{}\n", if i < 10 { A } else { B }));
    }
    env.write("people.csv", &csv);
    let lanes = pooled("lanes", &format!("[\"{A}\", \"{B}\"]")).recipients("sender_column", "ours");
    campaign(&env, "c.yaml", &lanes.per_sender(5).burst(1).concurrency(4));
    let s = StandIn::start();
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let mut got = s.received();
    assert_eq!(got.len(), 20);
    got.sort_by_key(|r| r.at);
    // Waiting in row order, B's rows would start only once A's ten were
    // nearly done; each number keeps its own share of `concurrency`.
    let early_b = got[..8].iter().filter(|r| r.body["sender"] == B).count();
    assert!(early_b >= 2, "{early_b} of the first 8 requests from {B}");
}

#[test]
fn a_pool_that_cannot_be_used_is_refused_at_the_door() {
    let env = Env::new();
    env.write("people.csv", &people(2));
    for (sender, column, says) in [
        ("[]".to_string(), None, "the sender list is empty"),
        (format!("[\"{A}\", \"4151110002\"]"), None, "sender `4151110002` is not an E.164 number"),
        (format!("[\"{A}\", \"{A}\"]"), None, "listed twice"),
        ("{a: 1}".to_string(), None, "expected a sender number such as \"+14151111234\", or a list of them"),
        (format!("\"{A}\""), Some("nowhere"), "no column `nowhere`"),
    ] {
        let door = pooled("door", &sender);
        let door = match column {
            Some(c) => door.recipients("sender_column", c),
            None => door,
        };
        campaign(&env, "c.yaml", &door);
        let run = env.run(&["run", "c.yaml", "--dry-run"]);
        run.expect(2).stderr_has(says);
    }
    campaign(&env, "c.yaml", &pooled("door", &format!("\"{A}\"")).per_sender(0));
    env.run(&["run", "c.yaml", "--dry-run"]).expect(2).stderr_has("rate.per_sender is 0");
}

#[test]
fn without_a_pool_sender_column_takes_any_number_written_in_e164() {
    let env = Env::new();
    env.write("people.csv", &format!("phone,name,last,ours\n+16045550001,Ana,,{B}\n+16045550002,Bo,,415 111 0003\n"));
    campaign(&env, "c.yaml", &pooled("free", "[]").recipients("sender_column", "ours").without("sender"));
    let run = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]);
    let rows = run.expect(2).rows();
    assert_eq!(rows[0]["sender"], B);
    assert_eq!(rows[0]["request"]["body"]["sender"], B);
    assert_eq!(rows[1]["reason"], "invalid");
    assert!(rows[1]["error"]["message"].as_str().unwrap().contains("not an E.164 number"), "{}", rows[1]);
}
