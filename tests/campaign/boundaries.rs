//! Where a real run meets the network: every answer classified once, at
//! most once when an answer is ambiguous, nobody dropped when the API is
//! away or misconfigured. "Never twice" is judged by what the stand-in
//! received, not by the ledger's own view.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::send::{both_routes, campaign, campaign_with};
use crate::support::proxy::Cut;
use crate::support::{Env, Fault, StandIn, people};

/// A port that records whether anybody connected to it.
struct Catcher(TcpListener);

impl Catcher {
    fn new() -> Catcher {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Catcher(l)
    }
    fn url(&self) -> String {
        format!("http://{}/elsewhere", self.0.local_addr().unwrap())
    }
    fn connected(&self) -> bool {
        self.0.accept().is_ok()
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn a_connection_dropped_after_the_request_is_unknown_and_never_resent() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550001", &[Fault::Drop]);
    campaign(&env, &people(3), "");
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0);
    let rows = run.rows();
    assert_eq!(rows[1]["status"], "unknown", "{}", run.stdout);
    assert_eq!(rows[1]["attempts"], 1);
    assert!(rows[1]["error"]["message"].as_str().unwrap().contains("may or may not"), "{}", rows[1]);
    // The second cron run does not resend it, and says how to.
    env.send(&s, &["run", "c.yaml"])
        .expect(0)
        .stderr_has("--retry-unknown")
        .stderr_has("1 recipient left unknown by an earlier run");
    let accepted = s.accepted();
    assert_eq!(accepted.len(), 3);
    assert!(accepted.values().all(|n| *n == 1), "nobody twice: {accepted:?}");
    // Only the flag resends it.
    env.send(&s, &["run", "c.yaml", "--retry-unknown"]).expect(0).stderr_has("sent 1");
    assert_eq!(s.accepted()["+16045550001"], 2);
}

#[test]
fn a_run_whose_every_answer_is_lost_never_says_nothing_is_owed() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::Drop]);
    campaign(&env, &people(1), "");
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0).stderr_has("unknown 1");
    assert!(!run.stderr.contains("nothing owed"), "{}", run.stderr);
}

#[test]
fn an_accepted_answer_without_an_id_is_unknown() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::OkWithoutId]);
    campaign(&env, &people(2), "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["message_id"].as_str()), (Some("unknown"), None));
    assert_eq!(rows[1]["status"], "sent");
    assert_eq!(s.received().len(), 2, "not retried");
}

#[test]
fn redirects_are_never_followed_and_abort_the_run() {
    for status in [301, 302, 307, 308] {
        let env = Env::new();
        let s = StandIn::start();
        let elsewhere = Catcher::new();
        s.fault("+16045550000", &[Fault::Redirect(status, leak(elsewhere.url()))]);
        campaign(&env, &people(3), "");
        let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
        run.expect(3).stderr_has("redirect").stderr_has("CONNECTLY_BASE_URL");
        assert!(!elsewhere.connected(), "HTTP {status}: the key travelled to another host");
        assert!(run.rows().iter().all(|r| r["status"] != "sent" || r["recipient"] != "+16045550000"));
        assert!(!run.stderr.contains(crate::support::standin::KEY));
        // The row that met the redirect is still owed.
        let again = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
        again.expect(0);
        assert_eq!(s.accepted().get("+16045550000"), Some(&1), "HTTP {status}");
    }
}

#[test]
fn a_retry_after_beyond_max_backoff_defers_the_row_instead_of_waiting() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::TooMany(Some(3600))]);
    campaign(&env, &people(2), "");
    let started = Instant::now();
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0).stderr_has("retry_after 1");
    assert!(started.elapsed() < Duration::from_secs(20), "the run sat waiting: {:?}", started.elapsed());
    let rows = run.rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["reason"].as_str()), (Some("deferred"), Some("retry_after")));
    assert_eq!(rows[1]["status"], "sent");
    // A later run sends it.
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 1");
    assert_eq!(s.accepted().get("+16045550000"), Some(&1));
}

#[test]
fn a_wrong_business_id_aborts_with_everyone_still_owed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign_with(&env, &people(5), &both_routes().business_id("0000-wrong-business"));
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(3).stderr_has("business_id");
    assert!(s.received().len() <= 16, "stopped at once: {} requests", s.received().len());
    both_routes().write(&env, "c.yaml");
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 5");
    assert_eq!(s.accepted().len(), 5);
}

#[test]
fn a_base_url_without_a_scheme_or_a_key_with_a_newline_is_refused_before_anything() {
    let env = Env::new();
    campaign(&env, &people(2), "");
    for (var, base, key) in [
        ("CONNECTLY_BASE_URL", "api.connectly.ai", "k"),
        ("CONNECTLY_BASE_URL", "ftp://api.connectly.ai", "k"),
        ("CONNECTLY_API_KEY", "http://127.0.0.1:9", "secret\nkey"),
    ] {
        let out =
            env.cmd(&["run", "c.yaml"]).env("CONNECTLY_API_KEY", key).env("CONNECTLY_BASE_URL", base).output().unwrap();
        let run = crate::support::Run::from_output(out);
        run.expect(2).stderr_has(var).stderr_has("Nothing was sent");
        assert!(!run.stderr.contains("secret"), "the key is never printed: {}", run.stderr);
        assert!(!env.exists(".campaign/state.db"), "nothing recorded");
    }
}

#[test]
fn a_rerun_never_says_nothing_owed_while_some_failed() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID")]);
    campaign(&env, &people(2), "");
    env.send(&s, &["run", "c.yaml"]).expect(1);
    let again = env.send(&s, &["run", "c.yaml"]);
    again.expect(0).stderr_has("1 recipient failed in an earlier run").stderr_has("--retry-failed");
    assert!(!again.stderr.contains("nothing owed"), "{}", again.stderr);
}

#[test]
fn limit_zero_says_what_is_owed() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    let run = env.send(&s, &["run", "c.yaml", "--limit", "0"]);
    run.expect(0).stderr_has("--limit 0: nothing was sent; 3 recipients owed");
    assert!(!run.stderr.contains("nothing owed"), "{}", run.stderr);
    assert!(s.received().is_empty());
}

#[test]
fn an_opted_out_answer_suppresses_the_customer_everywhere() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::Error(400, "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT")]);
    campaign(&env, &people(2), "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["reason"].as_str()), (Some("skipped"), Some("suppressed")));
    // Another campaign on the same ledger never tries them.
    both_routes().name("other-campaign").write(&env, "d.yaml");
    let rows = env.send(&s, &["run", "d.yaml", "--format", "jsonl"]).expect(0).rows();
    assert_eq!(rows[0]["reason"], "suppressed");
    assert_eq!(s.received().iter().filter(|r| r.recipient() == "+16045550000").count(), 1);
}

#[test]
fn an_api_that_cannot_be_reached_leaves_everyone_owed_and_the_rerun_sends_them() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(20), "");
    // A port nobody listens on, and a host name that does not resolve.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for base in [closed.as_str(), "http://connectly.invalid"] {
        let mut cmd = env.sending(&s, &["run", "c.yaml"]);
        cmd.env("CONNECTLY_BASE_URL", base);
        let run = crate::support::Run::from_output(cmd.output().unwrap());
        run.expect(3).stderr_has("could not be reached").stderr_has("still owed");
        let host = base.trim_start_matches("http://");
        run.stderr_has(host);
        assert!(!run.stderr.contains("nothing owed"), "{}", run.stderr);
    }
    let st = env.run(&["status", "c.yaml", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["counts"]["failed"].as_u64().unwrap_or(0), 0, "{st}");
    assert_eq!(st["counts"]["unknown"].as_u64().unwrap_or(0), 0, "{st}");
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 20");
    assert_eq!(s.accepted().len(), 20);
}

#[test]
fn an_api_that_vanishes_mid_run_stops_the_run_and_leaves_everything_unsent_owed() {
    let env = Env::new();
    let s = StandIn::start();
    let file = both_routes().pace(20, 1, Some(1)).attempts(2);
    campaign_with(&env, &people(60), &file);
    // The catalogue's answer and 15 sends get through; then the network is gone.
    let proxy = Cut::after(s.addr, 16);
    let mut cmd = env.sending(&s, &["run", "c.yaml"]);
    cmd.env("CONNECTLY_BASE_URL", proxy.url());
    let run = crate::support::Run::from_output(cmd.output().unwrap());
    assert!(proxy.is_cut());
    run.expect(3).stderr_has("could no longer be reached").stderr_has("still owed");
    run.stderr_has(&proxy.addr.to_string());
    assert!(!run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert_eq!(s.accepted().len(), 15, "{}", run.stderr);
    // It stopped taking rows: three rows' retries, not every remaining row's.
    let requests: u64 =
        run.stderr.split(" requests,").next().and_then(|h| h.rsplit(' ').next()).unwrap().parse().unwrap();
    assert!(requests <= 15 + 3 * 2, "{requests} requests: {}", run.stderr);
    let st = env.run(&["status", "c.yaml", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["counts"]["sent"].as_u64().unwrap_or(0), 15, "{st}");
    assert_eq!(st["counts"]["failed"].as_u64().unwrap_or(0), 0, "{st}");
    assert_eq!(st["counts"]["unknown"].as_u64().unwrap_or(0), 0, "{st}");
    // With the network back, the rerun sends the rest, each once.
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 45");
    let accepted = s.accepted();
    assert_eq!(accepted.len(), 60);
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
}

#[test]
fn a_file_that_is_not_a_ledger_is_named_and_never_overwritten() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(3), "");
    let junk = "these are my notes, not a database\n".repeat(200);
    env.write(".campaign/state.db", &junk);
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(3).stderr_has("not a campaign ledger, or is damaged").stderr_has("move it aside");
    assert!(!run.stderr.contains("writable"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(env.path(".campaign/state.db")).unwrap(), junk);
    assert!(s.received().is_empty());
    env.run(&["status", "c.yaml"]).expect(3).stderr_has("not a campaign ledger");
}

/// Run `cmd` to the end; its exit code and its own peak memory in MiB,
/// read from the kernel's high-water mark of the program after exec (a
/// fork's copy of this test process does not count).
fn peak_memory(mut cmd: std::process::Command) -> (i32, u64) {
    let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let code = loop {
        // The high-water mark only grows: the last reading before exit is the peak.
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (code, peak_kib / 1024)
}

#[test]
fn a_huge_answer_is_read_only_up_to_a_limit_and_stored_cut() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, &people(2), "");
    s.fault("+16045550000", &[Fault::Huge(400, 150 << 20)]);
    let (code, peak) = peak_memory(env.sending(&s, &["run", "c.yaml"]));
    assert_eq!(code, 1, "the row failed for good, the other was sent");
    assert!(peak < 100, "a 150 MB answer took {peak} MiB");
    let st: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).stdout).unwrap();
    let message = st["failures"][0]["error_message"].as_str().unwrap();
    assert!(message.chars().count() <= 1000, "{} characters stored", message.chars().count());
}

#[test]
fn a_retry_after_of_an_hour_never_holds_the_other_rows() {
    let env = Env::new();
    let s = StandIn::start();
    s.fault("+16045550000", &[Fault::TooMany(Some(3600))]);
    // One request at a time: the others are paced after the 429 arrived.
    campaign_with(&env, &people(3), &both_routes().pace(200, 1, Some(1)));
    let mut child = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the run sat waiting out the hour");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::support::finish(child).expect(0).stderr_has("sent 2").stderr_has("retry_after 1");
}
