//! The ledger's guarantees: never twice, never lost; resume, locks, status.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::send::{both_routes, campaign, campaign_with};
use crate::support::standin::Config;
use crate::support::{CampaignFile, Env, Fault, Run, StandIn, finish, people};

fn status(env: &Env) -> Value {
    let run = env.run(&["status", "c.yaml", "--format", "json"]);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Both routes at `per_second`, one at a time above the pace, eight in flight.
fn paced(per_second: u32) -> CampaignFile {
    both_routes().pace(per_second, 1, Some(8))
}

fn slow(env: &Env, n: usize, per_second: u32) {
    campaign_with(env, &people(n), &paced(per_second));
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

/// Wait until the stand-in has seen `n` requests.
fn wait_for(s: &StandIn, n: usize) {
    let start = Instant::now();
    while s.received().len() < n {
        assert!(start.elapsed() < Duration::from_secs(20), "only {} requests arrived", s.received().len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_at_most_once(s: &StandIn) {
    for (who, n) in s.accepted() {
        assert_eq!(n, 1, "{who} accepted {n} times");
    }
}

#[test]
fn a_second_run_sends_only_what_is_owed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0).stderr_has("nothing owed");
    assert!(run.rows().iter().all(|r| r["reason"] == "already_sent"));
    assert_eq!(s.received().len(), 3);
    // More recipients appended: only they are sent, and the change is noted.
    env.write("people.csv", &people(5));
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("recipients CSV changed since the last run");
    assert_eq!(s.received().len(), 5);
    assert_at_most_once(&s);
    // A dry run reads the ledger and writes nothing.
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).expect(0).rows();
    assert!(rows.iter().all(|r| r["reason"] == "already_sent"));
}

#[test]
fn a_changed_included_template_is_noticed() {
    let env = Env::new();
    let s = StandIn::start();
    let last = crate::send::ago(60);
    s.inbound("+16045550000", crate::support::standin::now_unix() - 60);
    campaign(&env, &format!("phone,name,last\n+16045550000,Ana,{last}\n"), "");
    env.write("hello.j2", "Hi {{ name }}! {% include \"sig.j2\" %}");
    env.write("sig.j2", "— the shop");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    env.write("sig.j2", "— the new shop");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0).stderr_has("templates changed since the last run");
    assert_eq!(s.received().len(), 1, "still sends only what is owed");
}

#[test]
fn failed_recipients_are_retried_only_when_asked() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550001", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID")]);
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(1);
    let st = status(&env);
    assert_eq!((st["counts"]["sent"].as_u64(), st["counts"]["failed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(st["failures"][0]["recipient"], "+16045550001");
    assert_eq!(st["failures"][0]["error_code"], "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID");
    let csv = env.run(&["status", "c.yaml", "--format", "csv"]);
    assert_eq!(
        csv.stdout,
        "row,recipient,key,route,status,error_code,error_message\n2,+16045550001,+16045550001,template,failed,ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID,injected (cntTraceId 1182497835)\n"
    );
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0);
    assert_eq!(run.rows()[1]["reason"], "previously_failed");
    assert_eq!(s.received().len(), 3);
    env.send(&s, &["run", "c.yaml", "--retry-failed"]).expect(0);
    let got = s.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].recipient(), "+16045550001");
    assert_eq!(status(&env)["counts"]["sent"], 3);
}

#[test]
fn kill_9_mid_run_loses_nothing_and_sends_nobody_twice() {
    let env = Env::new();
    let s = StandIn::with(Config { latency: Duration::from_millis(150), ..Config::default() });
    slow(&env, 120, 40);
    let mut child = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 30);
    child.kill().unwrap();
    let _ = child.wait();
    let st = status(&env);
    let (sent, unknown) = (st["counts"]["sent"].as_u64().unwrap(), st["counts"]["unknown"].as_u64().unwrap());
    eprintln!("after kill -9: sent {sent}, unknown {unknown}");
    assert!(unknown <= 8, "{unknown} unknown: at most the requests in flight (concurrency 8)");
    assert!(sent >= 20);
    // The next run resumes: the rest is sent, unknowns are not resent.
    paced(500).write(&env, "c.yaml");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0);
    let st = status(&env);
    let (sent, unknown) = (st["counts"]["sent"].as_u64().unwrap(), st["counts"]["unknown"].as_u64().unwrap());
    assert_eq!(sent + unknown, 120, "sent + unknown = everyone");
    assert_at_most_once(&s);
    if unknown > 0 {
        run.stderr_has("left in flight by an interrupted run");
        // --retry-unknown resends exactly those.
        let before = s.received().len();
        env.send(&s, &["run", "c.yaml", "--retry-unknown"]).expect(0);
        assert_eq!(s.received().len() - before, unknown as usize);
        assert_eq!(status(&env)["counts"]["sent"], 120);
    }
    assert!(
        st["runs"].as_array().unwrap().iter().any(|r| r["outcome"].is_null()),
        "the killed run shows as unfinished"
    );
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let env = Env::new();
    let s = StandIn::with(Config { latency: Duration::from_millis(100), ..Config::default() });
    slow(&env, 60, 10);
    let first = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 2);
    let started = Instant::now();
    let second = env.send(&s, &["run", "c.yaml"]);
    assert!(started.elapsed() < Duration::from_secs(2), "refused quickly");
    second.expect(3).stderr_has("already running").stderr_has(&format!("pid {}", first.id()));
    signal(&first, "-KILL");
    let _ = finish(first);
    // A dead holder does not block: the lock died with it.
    paced(500).write(&env, "c.yaml");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_at_most_once(&s);
}

/// Start a slow run, wait until it is sending, and try a second run of the
/// same campaign through `second_state` (another path to the same file).
fn second_run_through(second_state: impl FnOnce(&Env) -> String) {
    let env = Env::new();
    let s = StandIn::with(Config { latency: Duration::from_millis(100), ..Config::default() });
    // 20 s of sending: the first run is still going however slowly the
    // second one starts (it is killed once both checks are made).
    slow(&env, 200, 10);
    let first = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 2);
    let other = second_state(&env);
    let second = env.send(&s, &["run", "c.yaml", "--state", &other]);
    second.expect(3).stderr_has("already running").stderr_has(&format!("pid {}", first.id()));
    // While it runs, `status` names the run sending the rows in flight.
    let text = env.run(&["status", "c.yaml", "--state", &other]);
    text.expect(0);
    assert!(text.stdout.contains(&format!("pid {}", first.id())), "{}", text.stdout);
    signal(&first, "-KILL");
    let _ = finish(first);
    assert_at_most_once(&s);
}

#[test]
fn the_lock_belongs_to_the_ledger_not_to_the_path_that_names_it() {
    // A symlink to the same database.
    second_run_through(|env| {
        std::os::unix::fs::symlink(env.path(".campaign/state.db"), env.path("link.db")).unwrap();
        env.path("link.db").display().to_string()
    });
    // The same file by a roundabout path. (Hard links are not a way to
    // share a ledger: SQLite keeps its journal beside the name it was given.)
    second_run_through(|env| env.path(".campaign/../.campaign/./state.db").display().to_string());
}

#[test]
fn two_campaigns_sharing_a_ledger_start_together_and_run_side_by_side() {
    let env = Env::new();
    let s = StandIn::start();
    let shared = both_routes().state("shared.db");
    campaign_with(&env, &people(30), &shared);
    // Other content, so no rule about repeated messages applies.
    shared.name("other-campaign").param("body_1", "{{ name }}, again").write(&env, "d.yaml");
    let runs: Vec<_> =
        (0..3).flat_map(|_| ["c.yaml", "d.yaml"]).map(|f| env.spawn(env.sending(&s, &["run", f]))).collect();
    let codes: Vec<i32> = runs.into_iter().map(|c| finish(c).code).collect();
    // Each campaign ran once to the end; its other starts were refused by its lock, never by the database.
    for run in [0, 1] {
        let theirs: Vec<i32> = codes.iter().skip(run).step_by(2).copied().collect();
        assert!(theirs.iter().all(|c| *c == 0 || *c == 3), "{codes:?}");
    }
    env.send(&s, &["run", "c.yaml"]).expect(0);
    env.send(&s, &["run", "d.yaml"]).expect(0);
    // 30 people, two campaigns: each person got exactly one message from each.
    let per_phone = s.accepted();
    assert_eq!(per_phone.len(), 30);
    assert!(per_phone.values().all(|n| *n == 2), "{per_phone:?}");
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_3() {
    let env = Env::new();
    let s = StandIn::with(Config { latency: Duration::from_millis(200), ..Config::default() });
    slow(&env, 100, 20);
    let child = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 10);
    signal(&child, "-TERM");
    let run = finish(child);
    run.expect(3).stderr_has("SIGTERM").stderr_has("not attempted");
    let st = status(&env);
    assert_eq!(st["counts"]["unknown"], 0, "nothing left in flight");
    let sent = st["counts"]["sent"].as_u64().unwrap();
    assert_eq!(sent as usize, s.received().len(), "every request that went out was recorded");
    paced(500).write(&env, "c.yaml");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(status(&env)["counts"]["sent"], 100);
    assert_eq!(s.received().len(), 100);
    assert_at_most_once(&s);
}

#[test]
fn deferred_recipients_are_sent_by_a_later_run() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "schedule:\n  not_before: 2999-01-01T00:00:00Z\n");
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0);
    assert!(run.rows().iter().all(|r| r["status"] == "deferred" && r["reason"] == "not_before"));
    assert!(s.received().is_empty());
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("campaign file changed");
    assert_eq!(s.received().len(), 3);
}

#[test]
fn the_schedule_is_checked_again_as_each_request_leaves() {
    let env = Env::new();
    let s = StandIn::start();
    // The campaign ends 5 s from now (time enough to start on a busy
    // machine); at 5 per second, 60 rows would take 12 s.
    let deadline = jiff::Timestamp::from_second(crate::support::standin::now_unix() + 5).unwrap();
    slow(&env, 60, 5);
    let c = std::fs::read_to_string(env.path("c.yaml")).unwrap();
    env.write("c.yaml", &format!("{c}schedule:\n  not_after: {deadline}\n"));
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    let sent = rows.iter().filter(|r| r["status"] == "sent").count();
    let expired = rows.iter().filter(|r| r["reason"] == "expired").count();
    assert_eq!(sent + expired, 60);
    assert!((1..60).contains(&sent), "{sent} sent before the deadline");
    assert_eq!(s.received().len(), sent, "nothing went out after not_after");
}

#[test]
fn templates_per_day_is_shared_by_campaigns_in_one_ledger() {
    let env = Env::new();
    let s = StandIn::start();
    let shared = both_routes().templates_per_day(4).state("shared.db");
    campaign_with(&env, &people(3), &shared);
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    assert_eq!(rows.iter().filter(|r| r["status"] == "sent").count(), 3);
    // Another campaign on the same ledger has one template left today.
    shared.name("other").csv("more.csv").write(&env, "d.yaml");
    env.write("more.csv", &people(6).replace("+1604555", "+1778555"));
    let rows = env.send(&s, &["run", "d.yaml", "--format", "jsonl"]).expect(0).rows();
    let by: HashMap<String, usize> = rows.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(format!("{}/{}", r["status"].as_str().unwrap(), r["reason"].as_str().unwrap_or(""))).or_default() += 1;
        m
    });
    assert_eq!(by.get("sent/"), Some(&1));
    assert_eq!(by.get("deferred/daily_limit"), Some(&5));
    assert_eq!(s.received().len(), 4);
}

#[test]
fn a_fallback_counts_against_templates_per_day() {
    let env = Env::new();
    let s = StandIn::start();
    // The CSV says both wrote a minute ago; Connectly never heard from them.
    let last = crate::send::ago(60);
    campaign_with(
        &env,
        &format!("phone,name,last\n+16044441111,Ana,{last}\n+16044441112,Bo,{last}\n"),
        &both_routes().templates_per_day(1).concurrency(1),
    );
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["fallback"].as_bool()), (Some("sent"), Some(true)));
    assert_eq!((rows[1]["status"].as_str(), rows[1]["reason"].as_str()), (Some("deferred"), Some("daily_limit")));
    assert_eq!(s.received().iter().filter(|r| r.kind == "template").count(), 1);
    // Deferred, not failed: it is still owed.
    assert_eq!(status(&env)["counts"]["failed"], 0);
}

#[test]
fn status_without_a_ledger_says_nothing_was_sent() {
    let env = Env::new();
    campaign(&env, &people(1), "");
    let run = env.run(&["status", "c.yaml"]);
    run.expect(0);
    assert!(run.stdout.contains("nothing has been sent"), "{}", run.stdout);
    let st = status(&env);
    assert_eq!(st["counts"]["sent"], 0);
    assert_eq!(st["delivery"]["delivered"], 0);
}

#[test]
fn status_text_summarizes_runs_and_failures() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID")]);
    s.fault("+16045550002", &[Fault::Error(400, "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT")]);
    campaign(&env, &people(3), "");
    env.send(&s, &["run", "c.yaml"]).expect(1);
    let run: Run = env.run(&["status", "c.yaml"]);
    run.expect(0);
    for needle in [
        "sent 1 (session 0, template 1)",
        "failed 1",
        "#1",
        "failed",
        "ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID",
        "--retry-failed",
    ] {
        assert!(run.stdout.contains(needle), "{needle} in {}", run.stdout);
    }
    // An opted-out customer is suppressed from then on, in every campaign on this ledger.
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--retry-failed", "--format", "jsonl"]).rows();
    assert_eq!(rows[2]["reason"], "suppressed");
}

/// Hold the ledger's write lock from another connection, as an `inbound
/// import` or a sqlite3 shell would, until `release` is dropped or `hold` ends.
fn hold_write_lock(path: std::path::PathBuf, hold: Duration) -> std::sync::mpsc::Sender<()> {
    let (release, until) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        held.send(()).unwrap();
        let _ = until.recv_timeout(hold);
        conn.execute_batch("COMMIT").unwrap();
    });
    is_held.recv().unwrap();
    release
}

#[test]
fn a_ledger_busy_for_20_seconds_is_waited_out() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(12), "");
    env.send(&s, &["run", "c.yaml", "--limit", "2"]).expect(0);
    let _held = hold_write_lock(env.path(".campaign/state.db"), Duration::from_secs(20));
    let started = Instant::now();
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 10");
    assert!(started.elapsed() >= Duration::from_secs(19), "it waited for the other writer");
    assert_eq!(s.accepted().len(), 12);
    assert_at_most_once(&s);
    assert_eq!(status(&env)["counts"]["sent"], 12);
}

#[test]
fn a_ledger_locked_for_good_mid_run_stops_it_naming_the_cause_and_nothing_is_sent_twice() {
    let env = Env::new();
    let s = StandIn::start();
    slow(&env, 300, 20);
    let run = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 20);
    let release = hold_write_lock(env.path(".campaign/state.db"), Duration::from_secs(600));
    let started = Instant::now();
    let run = finish(run);
    assert!(started.elapsed() < Duration::from_secs(80), "never hangs: {:?}", started.elapsed());
    run.expect(3).stderr_has("locked by another process").stderr_has("could not be recorded");
    let sent_before = s.accepted().len();
    assert!(sent_before < 300, "it stopped sending: {sent_before}");
    drop(release);
    // Accepted sends whose answers could not be recorded stay in flight and
    // become unknown: never resent on their own.
    paced(500).write(&env, "c.yaml");
    let again = env.send(&s, &["run", "c.yaml"]);
    assert!(again.code == 0 || again.code == 1, "{}", again.stderr);
    assert_at_most_once(&s);
    let st = status(&env);
    let accounted = st["counts"]["sent"].as_u64().unwrap() + st["counts"]["unknown"].as_u64().unwrap_or(0);
    assert_eq!(accounted as usize, s.accepted().len(), "{st}");
}

#[test]
fn a_second_signal_exits_at_once_and_every_answer_shown_is_recorded() {
    let env = Env::new();
    // Answers take 600 ms: at the second signal some requests are still in
    // flight while others have just been answered (one every 40 ms), their
    // outcomes shown and queued for the ledger.
    let s = StandIn::with(Config { latency: Duration::from_millis(600), per_second: 200 });
    campaign_with(&env, &people(200), &both_routes().pace(25, 1, Some(32)));
    let run = env.spawn(env.sending(&s, &["run", "c.yaml", "--format", "jsonl"]));
    wait_for(&s, 40);
    signal(&run, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    signal(&run, "-TERM");
    let run = finish(run);
    run.expect(3).stderr_has("second signal: exiting now; answers received are recorded");
    // Every row the run showed as sent is recorded as sent: an outcome is
    // queued for the ledger before it is shown, and the exit commits the queue.
    let shown: Vec<Value> = run.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let sent: Vec<&str> =
        shown.iter().filter(|o| o["status"] == "sent").filter_map(|o| o["recipient"].as_str()).collect();
    assert!(sent.len() >= 30, "{} shown as sent", sent.len());
    let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
    let mut q = db.prepare("SELECT status FROM deliveries WHERE recipient = ?1").unwrap();
    for who in &sent {
        let status: String = q.query_row([who], |r| r.get(0)).unwrap();
        assert_eq!(status, "sent", "{who} was shown as sent");
    }
    assert_at_most_once(&s);
}

#[test]
fn a_signal_while_the_ledger_is_locked_does_not_claim_every_answer_was_recorded() {
    let env = Env::new();
    let s = StandIn::start();
    slow(&env, 300, 20);
    let run = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    wait_for(&s, 20);
    let _release = hold_write_lock(env.path(".campaign/state.db"), Duration::from_secs(600));
    std::thread::sleep(Duration::from_millis(500));
    signal(&run, "-TERM");
    let run = finish(run);
    run.expect(3).stderr_has("interrupted by SIGTERM").stderr_has("could not be recorded");
    assert!(!run.stderr.contains("were recorded"), "{}", run.stderr);
}

#[test]
fn status_counts_what_is_owed_as_the_next_run_would() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(10), "");
    env.send(&s, &["run", "c.yaml", "--limit", "3"]).expect(0);
    let st = status(&env);
    assert_eq!(st["counts"]["sent"], 3, "{st}");
    assert_eq!(st["counts"]["owed"], 7, "{st}");
    let text = env.run(&["status", "c.yaml"]);
    assert!(text.stdout.contains("owed 7 (7 sendable now)"), "{}", text.stdout);
    // Deferred rows are owed too, and counted the way the run counted them.
    campaign(&env, &people(10), "schedule:\n  not_before: 2999-01-01T00:00:00Z\n");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0).stderr_has("deferred 7");
    let st = status(&env);
    assert_eq!((st["counts"]["deferred"].as_u64(), st["counts"]["owed"].as_u64()), (Some(7), Some(7)), "{st}");
    campaign(&env, &people(10), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    assert_eq!(status(&env)["counts"]["owed"], 0);
    assert!(env.run(&["status", "c.yaml"]).stdout.contains("nothing owed"));
}

#[test]
fn status_shows_why_an_aborted_run_stopped() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    let mut bad_key = env.sending(&s, &["run", "c.yaml"]);
    bad_key.env("CONNECTLY_API_KEY", "not-the-key");
    crate::support::Run::from_output(bad_key.output().unwrap()).expect(3);
    let st = status(&env);
    let run = &st["runs"][0];
    assert_eq!(run["outcome"], "aborted", "{st}");
    assert!(run["reason"].as_str().unwrap_or_default().contains("401"), "{st}");
    assert_eq!(st["counts"]["owed"], 3);
    let text = env.run(&["status", "c.yaml"]);
    assert!(text.stdout.contains("why:") && text.stdout.contains("401"), "{}", text.stdout);
}

#[test]
fn a_state_the_ledger_holds_that_this_version_does_not_know_is_named_not_guessed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(2), "");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    {
        let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
        db.execute_batch(
            "UPDATE deliveries SET status = 'bounced' WHERE key = '+16045550000';
             UPDATE runs SET outcome = 'paused'",
        )
        .unwrap();
    }
    let run = env.run(&["status", "c.yaml"]);
    run.expect(3)
        .stderr_has("state.db: holds a message status `bounced` this version of campaign does not know")
        .stderr_has("hint: a newer version of campaign wrote it, or it was edited by hand");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // The run's outcome is read too.
    let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
    db.execute_batch("UPDATE deliveries SET status = 'sent'").unwrap();
    env.run(&["status", "c.yaml"])
        .expect(3)
        .stderr_has("holds a run outcome `paused` this version of campaign does not know");
}
