//! What keeps a business within WhatsApp's rules, across every campaign
//! sharing a ledger: opt-out words, the repeat guard, the frequency cap, the
//! daily messaging limit, and WhatsApp's refusal reasons.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::send::{both_routes, campaign, campaign_with};
use crate::support::standin::now_unix;
use crate::support::{CampaignFile, Env, Fault, Run, StandIn, finish, people};
use crate::webhooks::Server;

/// An inbound message from `phone` saying `text` at Unix time `at`.
fn said(phone: &str, text: &str, at: i64) -> Value {
    json!({"timestamp": at.to_string(), "sender": {"id": phone, "channelType": "whatsapp"},
           "recipient": {"id": "+14151111234", "channelType": "whatsapp"}, "message": {"text": text}})
}

/// A delivery failure of message `id` with this error, at Unix time `at`.
fn refused(id: &str, error: Value, at: i64) -> Value {
    json!({"topic": "delivery_status", "timestamp": at.to_string(), "sender": {"id": "+14151111234"},
           "recipient": {"id": "+16044441111"},
           "statusUpdate": {"id": id, "status": "delivery_failed", "error": error},
           "metadata": {"campaign_name": "test-campaign"}})
}

fn import(env: &Env, events: &[Value], flags: &[&str]) -> Run {
    env.write("events.jsonl", &events.iter().map(|e| format!("{e}\n")).collect::<String>());
    let mut args = vec!["inbound", "import", "events.jsonl"];
    args.extend(flags);
    finish(env.spawn(env.cmd(&args)))
}

/// Another campaign beside `c.yaml` (as `campaign` writes it), sharing its
/// ledger: the same file under another name.
fn copy_as(name: &str) -> CampaignFile {
    both_routes().name(name)
}

/// Each row's `status/reason` in a dry run of `file`, with extra flags.
fn verdicts(env: &Env, file: &str, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["run", file, "--dry-run", "--format", "jsonl"];
    args.extend(flags);
    let run = env.run(&args);
    run.expect(0);
    run.rows()
        .iter()
        .map(|r| match r["reason"].as_str() {
            Some(reason) => format!("{}/{reason}", r["status"].as_str().unwrap()),
            None => r["status"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn at(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).unwrap().to_string()
}

const SIX: &str = "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n+16044441113,Cy,\n+16044441114,Di,\n+16044441115,Ed,\n+16044441116,Flo,\n";

#[test]
fn stop_and_unsubscribe_opt_out_of_every_campaign_and_the_latest_word_wins() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, SIX, "");
    copy_as("other-campaign").write(&env, "other.yaml");
    let t = now_unix();
    let button = json!({"timestamp": (t - 850).to_string(), "sender": {"id": "+16044441115"},
        "message": {"text": "Unsubscribe", "isButtonResponse": true}});
    import(
        &env,
        &[
            said("+16044441111", "STOP", t - 900),
            said("+16044441112", "  stop \n", t - 890),
            said("+16044441113", "please stop the spam", t - 880),
            said("+16044441114", "STOP", t - 870),
            said("+16044441114", "Start", t - 860),
            button,
            said("+16044441116", "START", t - 500),
            // An older STOP arriving late does not undo the later START.
            said("+16044441116", "STOP", t - 800),
        ],
        &[],
    )
    .expect(0);
    let expected = ["skipped/suppressed", "skipped/suppressed", "planned", "planned", "skipped/suppressed", "planned"];
    assert_eq!(verdicts(&env, "c.yaml", &[]), expected);
    assert_eq!(verdicts(&env, "other.yaml", &[]), expected, "every campaign of the ledger");
    let preview = env.run(&["run", "c.yaml", "--dry-run"]);
    assert!(preview.stdout.contains("wrote STOP") && preview.stdout.contains("opted out"), "{}", preview.stdout);

    for (phone, when) in [("+16044441113", t - 880), ("+16044441114", t - 860), ("+16044441116", t - 500)] {
        s.inbound(phone, when);
    }
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let mut sent: Vec<String> = s.accepted().into_keys().collect();
    sent.sort();
    assert_eq!(sent, ["+16044441113", "+16044441114", "+16044441116"]);
}

#[test]
fn a_stop_arriving_during_a_run_is_honoured_before_the_next_send() {
    let env = Env::new();
    let s = StandIn::start();
    campaign_with(&env, &people(6), &both_routes().pace(2, 1, Some(1)));
    let run = env.spawn(env.sending(&s, &["run", "c.yaml", "--format", "jsonl"]));
    std::thread::sleep(std::time::Duration::from_millis(700));
    import(&env, &[said("+16045550005", "STOP", now_unix())], &[]).expect(0);
    let run = finish(run);
    run.expect(0);
    let last = &run.rows()[5];
    assert_eq!((last["status"].as_str(), last["reason"].as_str()), (Some("skipped"), Some("suppressed")), "{last}");
    assert_eq!(s.received().len(), 5, "{}", run.stderr);
}

#[test]
fn a_stop_from_a_number_written_without_plus_opts_that_customer_out() {
    let env = Env::new();
    campaign(&env, SIX, "");
    // WhatsApp's own ids are the number's digits without `+`.
    import(&env, &[said("16044441112", "STOP", now_unix() - 60)], &[]).expect(0);
    assert_eq!(&verdicts(&env, "c.yaml", &[])[..3], ["planned", "skipped/suppressed", "planned"]);
}

#[test]
fn opt_out_words_can_be_chosen_and_the_receiver_honours_them() {
    let env = Env::new();
    campaign(&env, SIX, "");
    let t = now_unix();
    import(
        &env,
        &[
            said("+16044441111", "baja", t - 60),
            said("+16044441112", "STOP", t - 60),
            said("+16044441113", "Alto", t - 50),
        ],
        &["--opt-out", "BAJA,ALTO", "--opt-in", "ALTA"],
    )
    .expect(0);
    import(&env, &[said("+16044441113", "alta", t - 40)], &["--opt-out", "BAJA,ALTO", "--opt-in", "ALTA"]).expect(0);
    let v = verdicts(&env, "c.yaml", &[]);
    assert_eq!(&v[..3], ["skipped/suppressed", "planned", "planned"], "STOP is not one of the chosen words");

    let server = Server::start(&env, ".campaign/state.db");
    assert_eq!(server.signed(&said("+16044441114", "Stop", t - 30)), 200);
    assert_eq!(server.signed(&said("+16044441115", "don't stop", t - 30)), 200);
    assert_eq!(server.stop().0, 0);
    let v = verdicts(&env, "c.yaml", &[]);
    assert_eq!(&v[3..5], ["skipped/suppressed", "planned"]);

    env.run(&["inbound", "import", "events.jsonl", "--opt-out", "STOP", "--opt-in", "stop"])
        .expect(2)
        .stderr_has("both an --opt-out and an --opt-in word");
}

#[test]
fn an_api_opt_out_joins_the_list_and_a_later_start_undoes_it() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "");
    copy_as("other-campaign").template("autumn_tpl").write(&env, "other.yaml");
    s.fault("+16044441111", &[Fault::Error(400, "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT")]);
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(verdicts(&env, "other.yaml", &[]), ["skipped/suppressed", "planned"]);
    let preview = env.run(&["run", "other.yaml", "--dry-run"]);
    assert!(preview.stdout.contains("customer opted out"), "{}", preview.stdout);
    import(&env, &[said("+16044441111", "START", now_unix() + 2)], &[]).expect(0);
    assert_eq!(verdicts(&env, "other.yaml", &[]), ["planned", "planned"]);
}

#[test]
fn a_customer_found_opted_out_while_sending_is_not_counted_as_still_owed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(2), "");
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT")]);
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0).stderr_has("sent 1").stderr_has("suppressed 1");
    assert!(!run.stderr.contains("still owed"), "{}", run.stderr);
}

#[test]
fn status_counts_the_opt_outs_that_followed_the_campaigns_messages() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let t = now_unix() + 2;
    // One customer of the campaign, and one it never wrote to.
    import(&env, &[said("+16045550001", "STOP", t), said("+17785550009", "STOP", t)], &[]).expect(0);
    let st: Value = serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).expect(0).stdout).unwrap();
    assert_eq!(st["opted_out_after"], 1);
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains("opted out after this campaign's messages: 1 customer"), "{text}");
}

#[test]
fn a_renamed_copy_does_not_message_everyone_again() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    copy_as("renamed").write(&env, "renamed.yaml");
    assert_eq!(verdicts(&env, "renamed.yaml", &[]), ["skipped/repeat"; 3]);
    env.run(&["run", "renamed.yaml", "--dry-run"])
        .expect(0)
        .stderr_has("3 recipients skipped as repeats")
        .stderr_has("campaign `test-campaign`")
        .stderr_has("--allow-repeat");
    env.send(&s, &["run", "renamed.yaml"])
        .expect(0)
        .stderr_has("campaign `test-campaign`")
        .stderr_has("--allow-repeat");
    assert_eq!(s.received().len(), 3, "nothing sent twice");

    // Another message to the same customers is not a repeat.
    copy_as("offer").param("body_1", "{{ name }}, 20% off").write(&env, "offer.yaml");
    assert_eq!(verdicts(&env, "offer.yaml", &[]), ["planned"; 3]);
    // --allow-repeat sends it anyway.
    assert_eq!(verdicts(&env, "renamed.yaml", &["--allow-repeat"]), ["planned"; 3]);
    env.send(&s, &["run", "renamed.yaml", "--allow-repeat"]).expect(0);
    assert_eq!(s.received().len(), 6);
}

#[test]
fn the_frequency_cap_counts_templates_from_every_campaign_until_they_age_out() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(2), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    env.write("more.csv", &people(3));
    copy_as("autumn").csv("more.csv").template("autumn_tpl").per_recipient(1, "7d").write(&env, "autumn.yaml");
    let capped = ["deferred/frequency_cap", "deferred/frequency_cap", "planned"];
    assert_eq!(verdicts(&env, "autumn.yaml", &[]), capped);
    let preview = env.run(&["run", "autumn.yaml", "--dry-run"]);
    assert!(preview.stdout.contains("frequency_cap until"), "{}", preview.stdout);
    assert_eq!(verdicts(&env, "autumn.yaml", &["--at", &at(now_unix() + 8 * 86400)]), ["planned"; 3]);
    env.send(&s, &["run", "autumn.yaml"]).expect(0).stderr_has("deferred 2 (frequency_cap 2)");
    assert_eq!(s.received().len(), 3);
}

/// Two campaigns over the same customers, each with its own template,
/// started together: `a` (at 40 a second) and a copy of it.
fn two_at_once(env: &Env, s: &StandIn, a: CampaignFile, csv_b: &str) -> (Run, Run) {
    let a = a.pace(40, 1, None);
    campaign_with(env, &people(40), &a);
    env.write("b.csv", csv_b);
    a.name("b-campaign").template("b_tpl").csv("b.csv").write(env, "b.yaml");
    // Both start on a new ledger: creating it together must work too.
    let a = env.spawn(env.sending(s, &["run", "c.yaml"]));
    let b = env.spawn(env.sending(s, &["run", "b.yaml"]));
    (finish(a), finish(b))
}

#[test]
fn the_frequency_cap_holds_across_campaigns_running_at_once() {
    let env = Env::new();
    let s = StandIn::start();
    let (a, b) = two_at_once(&env, &s, both_routes().per_recipient(1, "7d"), &people(40));
    a.expect(0);
    b.expect(0);
    let accepted = s.accepted();
    assert_eq!(accepted.len(), 40);
    assert!(accepted.values().all(|n| *n == 1), "one template per customer: {accepted:?}");
}

#[test]
fn the_daily_limit_counts_customers_not_messages() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(10), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    // The ten already reached today count once, whatever they receive next.
    env.write("more.csv", &people(30));
    copy_as("more").csv("more.csv").template("more_tpl").templates_per_day(20).write(&env, "more.yaml");
    let v = verdicts(&env, "more.yaml", &[]);
    assert_eq!(v.iter().filter(|v| *v == "planned").count(), 20, "{v:?}");
    assert_eq!(v.iter().filter(|v| *v == "deferred/daily_limit").count(), 10, "{v:?}");
    env.send(&s, &["run", "more.yaml"]).expect(0).stderr_has("deferred 10 (daily_limit 10)");
    assert_eq!(s.received().len(), 30);
}

#[test]
fn the_daily_limit_holds_across_campaigns_running_at_once() {
    let env = Env::new();
    let s = StandIn::start();
    let others: String = std::iter::once("phone,name,last\n".to_string())
        .chain((0..40).map(|i| format!("+1778555{i:04},Q{i},\n")))
        .collect();
    let (a, b) = two_at_once(&env, &s, both_routes().templates_per_day(50), &others);
    a.expect(0);
    b.expect(0);
    // b.yaml was copied from c.yaml, limit included: 80 customers, room for 50.
    assert_eq!(s.accepted().len(), 50, "{} and {}", a.stderr, b.stderr);
}

fn ledger_row(env: &Env, phone: &str) -> (String, i64) {
    let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
    db.query_row("SELECT status, attempts FROM deliveries WHERE recipient = ?1", [phone], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

#[test]
fn whatsapps_marketing_limit_makes_the_key_owed_after_24h_then_48h_then_failed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "");
    let id = |run: &Run| run.rows()[0]["message_id"].as_str().unwrap().to_string();
    let first = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    first.expect(0);
    // Refused 25 hours ago.
    let t = now_unix();
    let refusal = t - 25 * 3600;
    let limit = json!({"code": "131049", "message": "This message was not delivered to maintain healthy ecosystem engagement."});
    import(&env, &[refused(&id(&first), limit.clone(), refusal)], &[]).expect(0);
    assert_eq!(
        verdicts(&env, "c.yaml", &["--at", &at(refusal + 3600)]),
        ["deferred/frequency_cap", "skipped/already_sent"]
    );
    let preview = env.run(&["run", "c.yaml", "--dry-run", "--at", &at(refusal + 3600)]);
    assert!(preview.stdout.contains("131049"), "{}", preview.stdout);
    assert_eq!(verdicts(&env, "c.yaml", &["--at", &at(refusal + 25 * 3600)]), ["planned", "skipped/already_sent"]);

    // Owed now: sent again, and refused again 49 hours ago (the code in the text this time).
    let second = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    second.expect(0);
    assert_eq!(second.rows().len(), 2);
    let in_text = json!({"code": "ERROR_CODE_DELIVERY_FAILED", "message": "(#131049) not delivered"});
    let refusal = t - 49 * 3600;
    import(&env, &[refused(&id(&second), in_text, refusal)], &[]).expect(0);
    assert_eq!(verdicts(&env, "c.yaml", &["--at", &at(refusal + 25 * 3600)])[0], "deferred/frequency_cap");
    assert_eq!(verdicts(&env, "c.yaml", &[])[0], "planned");

    // The third refusal is final; the attempts are kept.
    let third = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    import(&env, &[refused(&id(&third), limit, t)], &[]).expect(0);
    assert_eq!(verdicts(&env, "c.yaml", &[])[0], "skipped/previously_failed");
    assert_eq!(ledger_row(&env, "+16044441111"), ("failed".to_string(), 3));
    assert_eq!(s.accepted()["+16044441111"], 3);
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains("131049: 1 — Meta's per-user marketing limit"), "{text}");
}

#[test]
fn a_customer_who_stopped_marketing_messages_is_opted_out() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    let ids: HashMap<String, String> = rows
        .iter()
        .map(|r| (r["recipient"].as_str().unwrap().to_string(), r["message_id"].as_str().unwrap().to_string()))
        .collect();
    let t = now_unix();
    import(
        &env,
        &[
            refused(&ids["+16044441111"], json!({"code": "131050", "message": "User stopped marketing messages"}), t),
            refused(&ids["+16044441112"], json!({"code": "131026", "message": "Message undeliverable"}), t),
        ],
        &[],
    )
    .expect(0);
    copy_as("other-campaign").template("autumn_tpl").write(&env, "other.yaml");
    assert_eq!(verdicts(&env, "other.yaml", &[]), ["skipped/suppressed", "planned"]);
    let preview = env.run(&["run", "other.yaml", "--dry-run"]);
    assert!(preview.stdout.contains("131050"), "{}", preview.stdout);
    // The other failure stays a delivery failure, with its code, in words.
    assert_eq!(verdicts(&env, "c.yaml", &[]), ["skipped/already_sent"; 2]);
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains("131026: 1 — undeliverable"), "{text}");
    assert!(text.contains("131050: 1 — the customer stopped marketing messages"), "{text}");
    assert!(text.contains("opted out after this campaign's messages: 1 customer"), "{text}");
}

/// The ledger's first schema, as shipped (frozen: later versions migrate from it).
const FIRST_SCHEMA: &str = "
CREATE TABLE runs(id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
  outcome TEXT, pid INTEGER, host TEXT, fingerprint TEXT, files_changed INTEGER NOT NULL DEFAULT 0, counts TEXT);
CREATE TABLE deliveries(campaign TEXT NOT NULL, key TEXT NOT NULL, row INTEGER, recipient TEXT, route TEXT,
  status TEXT NOT NULL, reason TEXT, message_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  fallback INTEGER NOT NULL DEFAULT 0, error_http INTEGER, error_code TEXT, error_message TEXT, run_id INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, sent_at INTEGER, PRIMARY KEY(campaign, key)) WITHOUT ROWID;
CREATE TABLE inbound(phone TEXT PRIMARY KEY, last_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE opt_outs(phone TEXT PRIMARY KEY, at INTEGER NOT NULL, campaign TEXT) WITHOUT ROWID;
CREATE TABLE statuses(message_id TEXT PRIMARY KEY, status TEXT NOT NULL, rank INTEGER NOT NULL, error_code TEXT,
  error_message TEXT, campaign TEXT, updated_at INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
";

#[test]
fn a_ledger_of_the_first_version_is_read_unchanged_and_migrated_by_the_next_run() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    std::fs::create_dir_all(env.path(".campaign")).unwrap();
    let version = || -> i64 {
        let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
        db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
    };
    {
        let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
        db.execute_batch(FIRST_SCHEMA).unwrap();
        let t = now_unix();
        db.execute_batch(&format!(
            "INSERT INTO runs(campaign, started_at, ended_at, outcome) VALUES ('test-campaign', {t}, {t}, 'done');
             INSERT INTO deliveries(campaign, key, recipient, route, status, message_id, attempts, created_at, updated_at, sent_at)
               VALUES ('test-campaign', '+16045550000', '+16045550000', 'template', 'sent', '01OLD', 1, {t}, {t}, {t});
             INSERT INTO opt_outs(phone, at) VALUES ('+16045550001', {t});"
        ))
        .unwrap();
    }
    assert_eq!(verdicts(&env, "c.yaml", &[]), ["skipped/already_sent", "skipped/suppressed", "planned"]);
    let st: Value = serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).expect(0).stdout).unwrap();
    assert_eq!(st["counts"]["sent"], 1);
    assert_eq!(version(), 1, "reading changes nothing");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(s.received().len(), 1);
    assert!(version() > 1);
}

#[test]
fn a_place_of_the_daily_limit_not_used_is_given_back() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "limits:\n  templates_per_day: 2\n");
    // The first customer's send fails for good: nobody was reached.
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND")]);
    env.send(&s, &["run", "c.yaml"]).expect(1).stderr_has("deferred 1 (daily_limit 1)");
    assert_eq!(verdicts(&env, "c.yaml", &[]), ["skipped/previously_failed", "skipped/already_sent", "planned"]);
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(s.accepted().len(), 2);
    assert_eq!(
        verdicts(&env, "c.yaml", &[]),
        ["skipped/previously_failed", "skipped/already_sent", "skipped/already_sent"]
    );
}
