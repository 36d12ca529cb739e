//! Webhook ingestion on loopback: signed requests per second into
//! `campaign inbound serve`, each verified and recorded in the ledger.
//!
//!     cargo bench --bench webhooks
//!
//! Figures are recorded in docs/benchmarks.md.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_campaign");
const SECRET: &str = "bench-secret";

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["inbound", "serve", "--listen", "127.0.0.1:0", "--state", "state.db"])
        .current_dir(dir.path())
        .env("CONNECTLY_WEBHOOK_SECRET", SECRET)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    log.read_line(&mut line).unwrap();
    let addr = line.trim().trim_start_matches("listening on ").split(' ').next().unwrap().to_string();
    // Drain the per-request log lines so the server never blocks on stderr.
    std::thread::spawn(move || for _ in log.lines() {});

    let n = 20_000usize;
    let concurrency = 32;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let now = jiff::Timestamp::now().as_second();
    let bodies: Arc<Vec<(String, String)>> = Arc::new(
        (0..n)
            .map(|i| {
                let body = if i % 2 == 0 {
                    format!(r#"{{"timestamp":"{}","sender":{{"id":"+1604{:07}","channelType":"whatsapp"}},"recipient":{{"id":"+14151111234"}},"message":{{"text":"hi"}}}}"#, now - (i as i64 % 600), i % 5000)
                } else {
                    format!(r#"{{"topic":"delivery_status","timestamp":"{now}","statusUpdate":{{"id":"01FRR{:010}","status":"delivered","error":null}},"metadata":{{"campaign_name":"bench"}}}}"#, i)
                };
                let sig = campaign::bench::sign(SECRET.as_bytes(), body.as_bytes());
                (body, sig)
            })
            .collect(),
    );
    let start = Instant::now();
    let ok = rt.block_on(async {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, bodies, next, addr) = (client.clone(), bodies.clone(), next.clone(), addr.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= bodies.len() {
                        return ok;
                    }
                    let (body, sig) = &bodies[i];
                    let r = client
                        .post(format!("{addr}/webhooks"))
                        .header("x-connectly-hmac-sha256", sig)
                        .body(body.clone())
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        ok += 1;
                    }
                }
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap();
        }
        ok
    });
    let secs = start.elapsed().as_secs_f64();
    drop(client);
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let stopped = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "the server exits 0 on SIGTERM");
    println!(
        "webhook ingestion: {n} signed requests (half inbound messages, half delivery statuses), {concurrency} connections"
    );
    println!("accepted            {ok}");
    println!("requests/s          {:.0}", n as f64 / secs);
    println!("per request         {:.0} µs (verify HMAC, parse, one ledger write)", secs * 1e6 / n as f64);
    println!("SIGTERM to exit     {:.0} ms", stopped.elapsed().as_secs_f64() * 1e3);
}
