//! Webhooks: signed payloads over real HTTP, imports, and their effect on
//! routing and on `status`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use serde_json::{Value, json};

use crate::send::{both_routes, campaign, campaign_with};
use crate::support::standin::now_unix;
use crate::support::{Env, StandIn, finish, people};

const SECRET: &str = "whsec-test";

/// A running `campaign inbound serve` and the address it listens on.
pub(crate) struct Server {
    child: Child,
    addr: String,
    log: BufReader<std::process::ChildStderr>,
}

impl Server {
    pub(crate) fn start(env: &Env, state: &str) -> Server {
        let mut child = env
            .cmd(&["inbound", "serve", "--listen", "127.0.0.1:0", "--state", state])
            .env("CONNECTLY_WEBHOOK_SECRET", SECRET)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        log.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line}"))
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        Server { child, addr, log }
    }

    /// POST `body` with the given signature header (None: no header).
    fn post(&self, body: &[u8], signature: Option<String>) -> u16 {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let mut req = format!(
            "POST /webhooks/connectly HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; charset=utf-8\r\nUser-Agent: go-resty/2.6.0\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.addr,
            body.len()
        );
        if let Some(sig) = signature {
            req.push_str(&format!("x-connectly-hmac-sha256: {sig}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let _ = s.write_all(body);
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    }

    pub(crate) fn signed(&self, v: &Value) -> u16 {
        let body = v.to_string();
        self.post(body.as_bytes(), Some(campaign::bench::sign(SECRET.as_bytes(), body.as_bytes())))
    }

    pub(crate) fn stop(mut self) -> (i32, String) {
        let ok = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
        let mut rest = String::new();
        let _ = self.log.read_to_string(&mut rest);
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (code, rest)
    }
}

fn inbound(phone: &str, at: i64) -> Value {
    json!({"timestamp": at.to_string(), "sender": {"id": phone, "channelType": "whatsapp", "name": "Ana"},
           "recipient": {"id": "+14151111234", "channelType": "whatsapp"}, "message": {"text": "Hello!"}})
}

fn delivery(id: &str, status: &str, campaign: &str) -> Value {
    let error = if status == "delivery_failed" {
        json!({"code": "131026", "message": "Message undeliverable"})
    } else {
        Value::Null
    };
    json!({"topic": "delivery_status", "timestamp": now_unix().to_string(), "sender": {"id": "+14151111234"},
           "recipient": {"id": "+16044441111"}, "statusUpdate": {"id": id, "status": status, "error": error},
           "metadata": {"campaign_name": campaign}})
}

#[test]
fn signed_payloads_are_recorded_and_forgeries_refused() {
    let env = Env::new();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "");
    // Before any webhook: nobody wrote, so templates.
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).expect(0).rows();
    assert!(rows.iter().all(|r| r["route"] == "template"));

    let server = Server::start(&env, ".campaign/state.db");
    let hello = inbound("+1 604 444 1111", now_unix() - 600);
    assert_eq!(server.signed(&hello), 200);
    assert_eq!(server.signed(&hello), 200, "a replay is harmless");
    let older = inbound("+16044441111", now_unix() - 5 * 86400);
    assert_eq!(server.signed(&older), 200, "an older message arriving late");
    // Forged, unsigned, signed with another secret: refused, nothing recorded.
    let forged = inbound("+16044441112", now_unix());
    let body = forged.to_string();
    assert_eq!(server.post(body.as_bytes(), Some(campaign::bench::sign(b"not-the-secret", body.as_bytes()))), 401);
    assert_eq!(server.post(body.as_bytes(), None), 401);
    assert_eq!(server.post(body.as_bytes(), Some("bm9wZQ==".into())), 401);
    let bad = b"{not json";
    assert_eq!(server.post(bad, Some(campaign::bench::sign(SECRET.as_bytes(), bad))), 400);
    let huge = vec![b' '; campaign::bench::MAX_BODY + 10];
    assert_eq!(server.post(&huge, Some(campaign::bench::sign(SECRET.as_bytes(), &huge))), 413);
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("messages recorded") && log.contains("unchanged") && log.contains("401"), "{log}");
    assert!(!log.contains(SECRET), "the secret is never logged");

    // The customer who wrote 10 minutes ago now gets a session message; the forger did not get in.
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).expect(0).rows();
    assert_eq!(rows[0]["route"], "session");
    assert!(rows[0]["request"]["path"].as_str().unwrap().ends_with("/send/messages"));
    assert_eq!(rows[1]["route"], "template");
}

#[test]
fn the_receiver_writes_beside_a_running_campaign() {
    let env = Env::new();
    let s = StandIn::start();
    let csv = people(60);
    campaign_with(&env, &csv, &both_routes().pace(30, 1, None));
    let server = Server::start(&env, ".campaign/state.db");
    let run = env.spawn(env.sending(&s, &["run", "c.yaml"]));
    // Webhooks arrive while the run writes its own records.
    for i in 0..200 {
        let code = if i % 2 == 0 {
            server.signed(&inbound(&format!("+1778555{i:04}"), now_unix() - 60))
        } else {
            server.signed(&delivery(&format!("01FRRX{i:08}"), "delivered", "test-campaign"))
        };
        assert_eq!(code, 200, "webhook {i}");
    }
    let run = finish(run);
    run.expect(0);
    assert_eq!(server.stop().0, 0);
    assert_eq!(s.received().len(), 60);
    let st: Value = serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).stdout).unwrap();
    assert_eq!(st["counts"]["sent"], 60);
}

#[test]
fn a_secret_is_required() {
    let env = Env::new();
    env.run(&["inbound", "serve", "--listen", "127.0.0.1:0"]).expect(2).stderr_has("CONNECTLY_WEBHOOK_SECRET");
}

#[test]
fn delivery_statuses_keep_the_furthest_state_and_show_in_status() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n+16044441113,Cy,\n", "");
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(0).rows();
    let ids: Vec<String> = rows.iter().map(|r| r["message_id"].as_str().unwrap().to_string()).collect();

    let server = Server::start(&env, ".campaign/state.db");
    // Out of order and repeated: read before delivered, a late "sent".
    for (id, status) in [
        (0, "read"),
        (0, "delivered"),
        (0, "sent"),
        (1, "sent"),
        (1, "delivered"),
        (1, "delivered"),
        (2, "delivery_failed"),
    ] {
        assert_eq!(server.signed(&delivery(&ids[id], status, "test-campaign")), 200);
    }
    assert_eq!(server.stop().0, 0);
    let st: Value = serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).expect(0).stdout).unwrap();
    assert_eq!(st["delivery"], json!({"delivered": 1, "read": 1, "delivery_failed": 1}));
    let text = env.run(&["status", "c.yaml"]).stdout;
    assert!(text.contains("delivered 2 (67%) → read 1 (33%) · failed 1"), "{text}");
    assert!(text.contains("131026: 1"), "{text}");
}

#[test]
fn import_reads_a_file_with_the_same_rules() {
    let env = Env::new();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n", "");
    let lines = [
        inbound("+16044441111", now_unix() - 60).to_string(),
        String::new(),
        inbound("+16044441111", now_unix() - 60).to_string(),
        "{broken".to_string(),
        delivery("01FRRWW2", "delivered", "test-campaign").to_string(),
        json!({"statusUpdate": {"status": "read"}}).to_string(),
        json!({"topic": "report", "data": {}}).to_string(),
    ];
    env.write("events.jsonl", &(lines.join("\n") + "\n"));
    let run = finish(env.spawn(env.cmd(&["inbound", "import", "events.jsonl"])));
    run.expect(1)
        .stderr_has("2 recorded, 1 unchanged (replays or older states), 1 ignored (other topics), 2 rejected")
        .stderr_has("line 4: malformed JSON")
        .stderr_has("line 6: statusUpdate.id is missing");
    assert_eq!(env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).rows()[0]["route"], "session");
    // Importing again changes nothing.
    env.write("events.jsonl", &(lines[0].clone() + "\n"));
    finish(env.spawn(env.cmd(&["inbound", "import", "events.jsonl"]))).expect(0).stderr_has("0 recorded, 1 unchanged");
}

#[test]
fn the_receiver_closes_half_sent_and_idle_connections_and_stays_open_to_real_webhooks() {
    let env = Env::new();
    campaign(&env, &people(1), "");
    let server = Server::start(&env, ".campaign/state.db");
    // Connections that never finish their headers, and one idle after a request.
    let mut stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"POST /webhooks HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).as_bytes()).unwrap();
    // A real webhook still gets in while they hang.
    assert_eq!(server.signed(&inbound("+16045550000", now_unix() - 60)), 200);
    let started = std::time::Instant::now();
    for s in stalled.iter_mut().chain(std::iter::once(&mut idle)) {
        s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let mut rest = Vec::new();
        // The server closes them: reading ends (EOF, or a reset), well before our 30 s.
        let _ = s.read_to_end(&mut rest);
    }
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(25), "closed after {waited:?}");
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn a_signed_payload_of_no_known_shape_is_refused_not_counted_as_a_replay() {
    let env = Env::new();
    campaign(&env, &people(1), "");
    let server = Server::start(&env, ".campaign/state.db");
    assert_eq!(server.signed(&json!({})), 400);
    assert_eq!(server.signed(&json!({"hello": "world"})), 400);
    assert_eq!(server.signed(&json!({"topic": "something_new", "data": {}})), 200, "another topic is acknowledged");
    let (_, log) = server.stop();
    assert!(log.contains("no known payload shape (400)") || log.contains("no known payload shape"), "{log}");
    assert!(!log.contains("replay"), "{log}");
}

#[test]
fn a_flood_of_forged_webhooks_is_logged_as_counts_not_line_by_line() {
    let env = Env::new();
    campaign(&env, &people(1), "");
    let server = Server::start(&env, ".campaign/state.db");
    let body = inbound("+16045550000", now_unix()).to_string();
    for _ in 0..300 {
        assert_eq!(server.post(body.as_bytes(), Some("Zm9yZ2Vk".into())), 401);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (_, log) = server.stop();
    let lines = log.lines().filter(|l| l.contains("rejected")).count();
    assert!(lines < 40, "{lines} lines for 300 forgeries:\n{log}");
    // Every refusal is still counted.
    let counted: u64 = log
        .lines()
        .filter(|l| l.contains("rejected"))
        .map(|l| {
            l.split("rejected: ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(1)
        })
        .sum();
    assert_eq!(counted, 300, "{log}");
}

#[test]
fn import_keeps_every_valid_line_and_names_one_that_is_not_utf8() {
    let env = Env::new();
    campaign(&env, "phone,name,last\n+16044441111,Ana,\n+16044441112,Bo,\n", "");
    let mut bytes = inbound("+16044441111", now_unix() - 60).to_string().into_bytes();
    bytes.extend_from_slice(b"\n{\"message\": \"caf\xe9\"}\n");
    bytes.extend_from_slice(inbound("+16044441112", now_unix() - 60).to_string().as_bytes());
    bytes.push(b'\n');
    std::fs::write(env.path("events.jsonl"), bytes).unwrap();
    let run = finish(env.spawn(env.cmd(&["inbound", "import", "events.jsonl"])));
    run.expect(1).stderr_has("2 recorded").stderr_has("line 2: not UTF-8");
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).rows();
    assert!(rows.iter().all(|r| r["route"] == "session"), "both valid lines kept: {rows:?}");
}

#[test]
fn a_slow_import_never_holds_the_ledger_while_it_waits_for_input() {
    let env = Env::new();
    campaign(&env, &people(2), "");
    let fifo = env.path("feed");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let import = env.spawn(env.cmd(&["inbound", "import", "feed"]));
    let mut feed = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writeln!(feed, "{}", inbound("+16045550000", now_unix() - 60)).unwrap();
    // The first line recorded (however busy the machine), the import waits
    // for its next line: another writer gets the ledger at once.
    let recorded = || {
        let conn = rusqlite::Connection::open(env.path(".campaign/state.db")).ok()?;
        conn.query_row("SELECT count(*) FROM inbound", [], |r| r.get::<_, i64>(0)).ok()
    };
    let waited = std::time::Instant::now();
    while recorded() != Some(1) {
        assert!(waited.elapsed() < std::time::Duration::from_secs(30), "the first line was never recorded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let conn = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_millis(500)).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; COMMIT;").expect("the ledger is free while the import waits");
    writeln!(feed, "{}", inbound("+16045550001", now_unix() - 60)).unwrap();
    drop(feed);
    finish(import).expect(0).stderr_has("2 recorded");
}
