//! Sending: pacing against a stand-in with 50 ms latency, the ceiling of
//! our own overhead, and what the ledger costs.
//!
//!     cargo bench --bench send
//!     cargo bench --bench send -- pacing floor   # some sections only
//!     BENCH_WRAP="perf stat" cargo bench --bench send -- pacing   # the binary run under a tool
//!
//! Figures are recorded in docs/benchmarks.md.

#[path = "../tests/campaign/support/standin.rs"]
#[allow(dead_code)]
mod standin;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use standin::{Config, StandIn};

const BIN: &str = env!("CARGO_BIN_EXE_campaign");

/// A template campaign of `n` recipients, sent from one number paced at
/// `per_second` (no `sender`), or from a pool of numbers.
fn campaign(dir: &Path, n: usize, per_second: u32, burst: u32, concurrency: usize) {
    let per_sender = format!("  per_sender: {per_second}\n");
    campaign_from(dir, n, (per_second, burst, concurrency), "", &per_sender);
}

fn campaign_from(dir: &Path, n: usize, (per_second, burst, concurrency): (u32, u32, usize), sender: &str, per: &str) {
    let mut csv = String::from("phone,name\n");
    for i in 0..n {
        csv.push_str(&format!("+1604{:07},P{i}\n", 2_000_000 + i));
    }
    std::fs::write(dir.join("people.csv"), csv).unwrap();
    let yaml = format!(
        "name: bench\nbusiness_id: {}\n{sender}recipients:\n  csv: people.csv\ntemplate:\n  name: hello\n  parameters:\n    body_1: \"{{{{ name }}}}\"\nrate:\n  per_second: {per_second}\n{per}  burst: {burst}\n  concurrency: {concurrency}\n",
        standin::BUSINESS
    );
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    let _ = std::fs::remove_dir_all(dir.join(".campaign"));
}

/// CPU seconds (user + system) of `who`: `RUSAGE_CHILDREN` (every child
/// this process has waited for) or `RUSAGE_THREAD` (the calling thread).
fn cpu_of(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Run the binary; wall time and CPU seconds of the whole process (user +
/// system, from getrusage once it has exited; `/usr/bin/time -v` shows the same).
fn send(dir: &Path, s: &StandIn) -> (Duration, Option<f64>) {
    let before = cpu_of(libc::RUSAGE_CHILDREN);
    let start = Instant::now();
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut words: Vec<String> = wrap.split_whitespace().map(String::from).collect();
    words.push(BIN.to_string());
    let status = Command::new(&words[0])
        .args(&words[1..])
        .args(["run", "c.yaml", "--quiet"])
        .current_dir(dir)
        .env("CONNECTLY_API_KEY", standin::KEY)
        .env("CONNECTLY_BASE_URL", s.url())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let wall = start.elapsed();
    assert!(status.success(), "the run failed");
    let cpu = cpu_of(libc::RUSAGE_CHILDREN) - before;
    (wall, cpu.is_finite().then_some(cpu))
}

/// Most requests that arrived within any one-second window.
fn max_in_any_second(times: &[Instant]) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi].duration_since(times[lo]) >= Duration::from_secs(1) {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

fn pacing() {
    println!(
        "\n## Pacing: 1,000 template sends, per_second 200, burst 1, concurrency 16, stand-in latency 50 ms, limit 200/s"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::with(Config { latency: Duration::from_millis(50), per_second: 200 });
    const MESSAGES: usize = 1000;
    campaign(dir.path(), MESSAGES, 200, 1, 16);
    let (wall, cpu) = send(dir.path(), &s);
    let got = s.received();
    let mut times: Vec<Instant> = got.iter().map(|r| r.at).collect();
    times.sort();
    let span = times.last().unwrap().duration_since(times[0]).as_secs_f64();
    let rate = (times.len() - 1) as f64 / span;
    let throttled = got.iter().filter(|r| r.status == 429).count();
    println!("requests            {}", got.len());
    println!("sustained rate      {rate:.1}/s ({:.2}% of 200)", rate / 2.0);
    println!(
        "most in any 1 s     {} (the pacer keeps to per_second + burst - 1 = 200; SPEC allows 201)",
        max_in_any_second(&times)
    );
    println!("429 answers         {throttled}");
    println!("wall                {:.2} s", wall.as_secs_f64());
    if let Some(cpu) = cpu {
        println!("CPU per message     {:.0} µs (whole process, user + system)", cpu * 1e6 / MESSAGES as f64);
        // What a run costs whatever its size (start and end), from runs of
        // one message (that message included); the rest is what each
        // further message adds.
        let mut one: Vec<f64> = (0..3)
            .filter_map(|_| {
                campaign(dir.path(), 1, 200, 1, 16);
                send(dir.path(), &s).1
            })
            .collect();
        one.sort_by(f64::total_cmp);
        if let Some(&fixed) = one.get(one.len() / 2) {
            println!("a run of 1 message  {:.1} ms of CPU (start and end; median of {})", fixed * 1e3, one.len());
            println!("at the margin       {:.0} µs per message", (cpu - fixed) * 1e6 / (MESSAGES - 1) as f64);
        }
    }
}

/// Two numbers at `per_sender: 40`, the run allowing 200/s: each number
/// keeps its own pace and together they reach 80/s.
fn pool() {
    println!("\n## A pool of two numbers: 800 template sends, per_sender 40, per_second 200, latency 50 ms");
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::with(Config { latency: Duration::from_millis(50), per_second: 200 });
    let sender = "sender: [\"+14151110001\", \"+14151110002\"]\n";
    campaign_from(dir.path(), 800, (200, 1, 16), sender, "  per_sender: 40\n");
    let (wall, cpu) = send(dir.path(), &s);
    let got = s.received();
    let mut all: Vec<Instant> = got.iter().map(|r| r.at).collect();
    all.sort();
    let rate = (all.len() - 1) as f64 / all.last().unwrap().duration_since(all[0]).as_secs_f64();
    println!("requests            {}", got.len());
    println!("sustained rate      {rate:.1}/s ({:.2}% of 2 × 40)", rate / 0.8);
    for number in ["+14151110001", "+14151110002"] {
        let mut times: Vec<Instant> = got.iter().filter(|r| r.body["sender"] == number).map(|r| r.at).collect();
        times.sort();
        let span = times.last().unwrap().duration_since(times[0]).as_secs_f64();
        println!(
            "{number}        {} requests, {:.1}/s, most in any 1 s {} (kept to per_sender + burst - 1 = 40)",
            times.len(),
            (times.len() - 1) as f64 / span,
            max_in_any_second(&times)
        );
    }
    println!("wall                {:.2} s", wall.as_secs_f64());
    if let Some(cpu) = cpu {
        println!("CPU per message     {:.0} µs", cpu * 1e6 / got.len() as f64);
    }
}

/// A server slower than the configured pace: the run adapts to its 429s.
fn adapting() {
    println!("\n## Adapting to 429: 600 template sends at per_second 100 against a stand-in that allows 50/s");
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::with(Config { latency: Duration::from_millis(20), per_second: 50 });
    campaign(dir.path(), 600, 100, 1, 16);
    let (wall, _) = send(dir.path(), &s);
    let got = s.received();
    let throttled = got.iter().filter(|r| r.status == 429).count();
    let accepted = s.accepted();
    println!("requests            {}", got.len());
    println!("429 answers         {throttled} ({:.1}% of requests)", 100.0 * throttled as f64 / got.len() as f64);
    println!("sent exactly once   {}", accepted.len() == 600 && accepted.values().all(|n| *n == 1));
    println!("wall                {:.2} s ({:.1} sent/s)", wall.as_secs_f64(), 600.0 / wall.as_secs_f64());
}

fn ceiling() {
    println!(
        "\n## Ceiling: 20,000 template sends, per_second 10,000 (the most a campaign may set), burst 10,000, no latency, concurrency 64"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::with(Config { latency: Duration::ZERO, per_second: u32::MAX });
    campaign(dir.path(), 20_000, 10_000, 10_000, 64);
    let (wall, cpu) = send(dir.path(), &s);
    let n = s.received().len();
    println!("messages/s          {:.0} (ledger on)", n as f64 / wall.as_secs_f64());
    if let Some(cpu) = cpu {
        println!("CPU per message     {:.0} µs", cpu * 1e6 / n as f64);
    }
}

/// The ledger alone: an in-flight record committed before each message and
/// the outcome after it, 64 messages at a time, as a run does.
fn ledger() {
    use campaign::bench::Route;
    use campaign::bench::{Guard, Outcome, Status};
    use campaign::bench::{Ledger, Write};
    println!("\n## Ledger: 100,000 messages, in_flight + outcome each, 64 at a time");
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(Ledger::open(&dir.path().join("state.db")).unwrap().into_writer());
    let n = 100_000usize;
    let start = Instant::now();
    concurrently(n, 64, |i| {
        let w = writer.clone();
        async move {
            let key = format!("+1604{:07}", 2_000_000 + i);
            let at = jiff::Timestamp::now();
            let campaign = "bench".to_string();
            let row = i as u64 + 1;
            let route = Route::Template;
            w.commit(Write::InFlight {
                campaign: campaign.clone(),
                key: key.clone(),
                row,
                recipient: key.clone(),
                sender: None,
                route,
                category: None,
                run: 1,
                at,
                // The repeat guard every campaign has unless --allow-repeat.
                content: Some(i as i64),
                guard: Some(Guard { repeat_days: Some(30), ..Guard::default() }),
            })
            .await
            .unwrap();
            let mut o = Outcome::new(row);
            o.key = Some(key.clone());
            o.recipient = Some(key);
            o.route = Some(route);
            o.status = Status::Sent;
            o.message_id = Some(format!("01FRR{i:010}"));
            o.attempts = Some(1);
            w.commit(Write::Final { campaign, outcome: Box::new(o), run: 1, at }).await.unwrap();
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!("messages/s          {:.0}", n as f64 / secs);
    println!("cost per message    {:.1} µs (two durable commits' share, grouped)", secs * 1e6 / n as f64);
}

/// 100,000 real sends with no latency and no limit, against the same HTTP
/// path alone (the client posting the same bodies, no ledger, no planning).
fn ledger_in_a_real_run() {
    println!("\n## 100,000 recipients, no latency, per_second and burst 10,000, concurrency 64");
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::with(Config { latency: Duration::ZERO, per_second: u32::MAX });
    campaign(dir.path(), 100_000, 10_000, 10_000, 64);
    let (wall, _) = send(dir.path(), &s);
    let full = 100_000.0 / wall.as_secs_f64();
    println!("campaign run        {full:.0} messages/s (ledger, planning, pacing, HTTP)");
    let client = Arc::new(
        campaign::bench::Client::new(
            campaign::bench::Endpoint::new(&s.url(), standin::KEY).unwrap(),
            Duration::from_secs(30),
        )
        .unwrap(),
    );
    let path = format!("/v1/businesses/{}/send/whatsapp_templated_messages", standin::BUSINESS);
    let start = Instant::now();
    concurrently(100_000, 64, |i| {
        let (c, p) = (client.clone(), path.clone());
        async move {
            let body = serde_json::json!({"number": format!("+1778{i:07}"), "templateName": "hello", "language": "en",
                "parameters": [{"name": "body_1", "value": "P"}], "campaignName": "bench",
                "callbackData": {"campaign": "bench", "key": "k"}});
            let _ = c.post(&p, &campaign::bench::Json::of(&body)).await;
        }
    });
    let alone = 100_000.0 / start.elapsed().as_secs_f64();
    println!("HTTP path alone     {alone:.0} messages/s (same client and stand-in, no ledger)");
    println!("run / HTTP alone    {:.0}%", 100.0 * full / alone);
}

/// The floor under the run's CPU per message: 1,000 template bodies posted
/// at 200/s, 16 at a time, on one thread with its own runtime (as a run
/// posts), with nothing else (no ledger, no pacer, no planning); the CPU of
/// that thread alone (the kernel's loopback work on the way out included).
/// Posted by our client, by hyper's own, and by hand (the request's bytes
/// written and the answer read up to its length on a kept connection: what
/// any client must at least pay here); and the pace's timer alone, waking
/// 200 times a second with nothing to do (what any paced run pays).
fn http_floor() {
    println!("\n## HTTP alone at 200/s: 1,000 posts, 16 at a time, latency 50 ms, one thread");
    let s = StandIn::with(Config { latency: Duration::from_millis(50), per_second: u32::MAX });
    for how in [Poster::Ours, Poster::Hyper, Poster::ByHand, Poster::Nobody] {
        let url = s.url();
        let before = s.received().len();
        let cpu = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(post_paced(&url, how))
        })
        .join()
        .unwrap();
        let posted = if how == Poster::Nobody { 0 } else { 1000 };
        assert_eq!(s.received().len() - before, posted, "every post reached the stand-in");
        let who = match how {
            Poster::Ours => "our client",
            Poster::Hyper => "hyper's own client",
            Poster::ByHand => "by hand: bytes written, answer read to its length",
            Poster::Nobody => "the timer alone, nothing posted",
        };
        println!("CPU per message     {:.0} µs ({who}; that thread alone)", cpu * 1e6 / 1000.0);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Poster {
    Ours,
    Hyper,
    ByHand,
    Nobody,
}

/// Post 1,000 bodies at 200/s, 16 at a time; the thread's CPU meanwhile.
async fn post_paced(url: &str, how: Poster) -> f64 {
    use http_body_util::{BodyExt, Full};
    let ours = Arc::new(
        campaign::bench::Client::new(
            campaign::bench::Endpoint::new(url, standin::KEY).unwrap(),
            Duration::from_secs(30),
        )
        .unwrap(),
    );
    let theirs = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<hyper::body::Bytes>>();
    let path: Arc<str> = format!("/v1/businesses/{}/send/whatsapp_templated_messages", standin::BUSINESS).into();
    let uri: Arc<str> = format!("{url}{path}").into();
    // Kept connections for posting by hand, 16 of them, each used by one
    // request at a time.
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let (kept, mut free) = tokio::sync::mpsc::unbounded_channel();
    if how == Poster::ByHand {
        for _ in 0..16 {
            let c = tokio::net::TcpStream::connect(&host).await.unwrap();
            c.set_nodelay(true).unwrap();
            kept.send(c).unwrap();
        }
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let before = cpu_of(libc::RUSAGE_THREAD);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        tick.tick().await;
        if how == Poster::Nobody {
            continue;
        }
        let permit = slots.clone().acquire_owned().await.unwrap();
        let body =
            campaign::bench::Json::of(&serde_json::json!({"number": format!("+1778{i:07}"), "templateName": "hello",
            "language": "en", "parameters": [{"name": "body_1", "value": "P"}], "campaignName": "bench",
            "callbackData": {"campaign": "bench", "key": "k"}}));
        let (ours, theirs, path, uri) = (ours.clone(), theirs.clone(), path.clone(), uri.clone());
        let conn = if how == Poster::ByHand { free.recv().await } else { None };
        let (kept, host) = (kept.clone(), host.clone());
        tasks.spawn(async move {
            match how {
                Poster::Ours => {
                    let _ = ours.post(&path, &body).await;
                }
                Poster::Hyper => {
                    let req = hyper::Request::post(&*uri)
                        .header("x-api-key", standin::KEY)
                        .header("content-type", "application/json")
                        .body(Full::new(hyper::body::Bytes::from(body.get().to_string())))
                        .unwrap();
                    let answer = tokio::time::timeout(Duration::from_secs(30), theirs.request(req)).await;
                    if let Ok(Ok(r)) = answer {
                        let _ = r.into_body().collect().await;
                    }
                }
                Poster::ByHand => {
                    let mut c = conn.unwrap();
                    by_hand(&mut c, &host, &path, body.get()).await;
                    kept.send(c).unwrap();
                }
                Poster::Nobody => {}
            }
            drop(permit);
        });
        while let Some(done) = tasks.try_join_next() {
            done.unwrap();
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    cpu_of(libc::RUSAGE_THREAD) - before
}

/// One HTTP/1.1 exchange on a kept connection: the request's bytes in one
/// write, the answer read until its head and `content-length` bytes are in.
async fn by_hand(c: &mut tokio::net::TcpStream, host: &str, path: &str, body: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nx-api-key: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        standin::KEY,
        body.len()
    );
    c.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::with_capacity(1024);
    loop {
        assert!(c.read_buf(&mut answer).await.unwrap() > 0, "the stand-in closed the connection");
        let Some(head) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        assert!(answer.starts_with(b"HTTP/1.1 200 "), "the stand-in refused a post written by hand");
        let length = std::str::from_utf8(&answer[..head])
            .unwrap()
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0usize);
        if answer.len() >= head + 4 + length {
            assert_eq!(answer.len(), head + 4 + length, "one answer at a time on a connection");
            return;
        }
    }
}

/// Run `task(i)` for i in 0..n, `at_once` at a time, on a 2-thread runtime.
fn concurrently<F, Fut>(n: usize, at_once: usize, task: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let slots = Arc::new(tokio::sync::Semaphore::new(at_once));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let permit = slots.clone().acquire_owned().await.unwrap();
            let fut = task(i);
            tasks.spawn(async move {
                fut.await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
}

fn main() {
    // `cargo bench --bench send -- pacing` runs one section.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if want("pacing") {
        pacing();
    }
    if want("floor") {
        http_floor();
    }
    if want("pool") {
        pool();
    }
    if want("adapting") {
        adapting();
    }
    if want("ceiling") {
        ceiling();
    }
    if want("ledger") {
        ledger();
        ledger_in_a_real_run();
    }
}
