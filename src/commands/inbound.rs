//! `campaign inbound serve` and `inbound import`: webhook payloads over
//! HTTP (signature verified) or from a file, recorded in the ledger.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::Value;

use crate::cli::ConsentWords;
use crate::error::{Error, ExitCode, Result};
use crate::inbound::{Event, MAX_BODY, Words, parse, record, verify};
use crate::ledger::Ledger;

fn secret() -> Result<Vec<u8>> {
    std::env::var("CONNECTLY_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes).ok_or_else(|| {
        Error::Usage(
            "CONNECTLY_WEBHOOK_SECRET is not set; webhooks cannot be verified without it\n  hint: export CONNECTLY_WEBHOOK_SECRET=<the secret shown when the webhook was registered with Connectly>".into(),
        )
    })
}

struct Shared {
    secret: Vec<u8>,
    ledger: Mutex<Ledger>,
    forged: Forged,
    words: Words,
}

fn log(topic: &str, outcome: &str) {
    eprintln!("{} {topic} {outcome}", Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"));
}

/// Refused signatures, logged at most once a second: the first of each
/// second in full, the rest as one count, so a flood cannot fill the log.
#[derive(Default)]
struct Forged {
    /// (the second of the last line written, refusals since not logged)
    state: Mutex<(i64, u64)>,
}

impl Forged {
    fn refused(&self) {
        let now = Timestamp::now().as_second();
        let Ok(mut s) = self.state.lock() else { return };
        if s.0 == now {
            s.1 += 1;
            return;
        }
        let earlier = std::mem::replace(&mut *s, (now, 0)).1;
        drop(s);
        Self::log_more(earlier);
        log("-", "rejected: bad or missing signature (401)");
    }

    /// Write the count still held, if any (called every second).
    fn flush(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        let earlier = std::mem::take(&mut s.1);
        drop(s);
        Self::log_more(earlier);
    }

    fn log_more(earlier: u64) {
        if earlier > 0 {
            log("-", &format!("rejected: {earlier} more with a bad or missing signature (401)"));
        }
    }
}

async fn receive(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let sig = headers.get("x-connectly-hmac-sha256").and_then(|v| v.to_str().ok());
    if !verify(&sh.secret, &body, sig) {
        sh.forged.refused();
        return (StatusCode::UNAUTHORIZED, "bad signature\n");
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            log("-", &format!("rejected: malformed JSON: {e} (400)"));
            return (StatusCode::BAD_REQUEST, "malformed JSON\n");
        }
    };
    let event = match parse(&value) {
        Ok(e) => e,
        Err(e) => {
            log("-", &format!("rejected: {e} (400)"));
            return (StatusCode::BAD_REQUEST, "unrecognised payload\n");
        }
    };
    let topic = match &event {
        Event::Inbound { .. } => "messages",
        Event::Status(_) => "delivery_status",
        Event::Other => {
            // Only a plain word is echoed into the log.
            let topic = value
                .get("topic")
                .and_then(Value::as_str)
                .filter(|t| t.len() <= 40 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or("other");
            log(topic, "acknowledged; nothing to record for this topic");
            return (StatusCode::OK, "ok\n");
        }
    };
    let sh2 = sh.clone();
    let e2 = event.clone();
    let result = tokio::task::spawn_blocking(move || {
        let ledger = sh2.ledger.lock().map_err(|_| "ledger lock poisoned".to_string())?;
        record(&ledger, &e2, &sh2.words).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(changed)) => {
            log(topic, if changed { "recorded" } else { "unchanged (replay or older state)" });
            (StatusCode::OK, "ok\n")
        }
        Ok(Err(e)) => {
            // 503 makes Connectly retry later.
            log(topic, &format!("not recorded: {e} (503)"));
            (StatusCode::SERVICE_UNAVAILABLE, "ledger busy, retry\n")
        }
        Err(e) => {
            log(topic, &format!("not recorded: {e} (503)"));
            (StatusCode::SERVICE_UNAVAILABLE, "ledger busy, retry\n")
        }
    }
}

pub fn serve(listen: &str, state: &Path, words: &ConsentWords) -> Result<ExitCode> {
    let words = Words::new(&words.opt_out, &words.opt_in)?;
    let secret = secret()?;
    let addr = listen_addr(listen)?;
    let ledger = Ledger::open(state)?;
    let shared = Arc::new(Shared { secret, ledger: Mutex::new(ledger), forged: Forged::default(), words });
    let flusher = shared.clone();
    let app = Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Aborted(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::Usage(format!("cannot listen on {addr}: {e}\n  hint: pick a free port, or stop what holds this one"))
        })?;
        let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| addr.to_string());
        eprintln!("listening on http://{bound} (ledger {})", state.display());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                flusher.forged.flush();
            }
        });
        accept(listener, app).await;
        Ok::<(), Error>(())
    })?;
    eprintln!("stopped");
    Ok(ExitCode::Done)
}

/// How long a client has to send a request's headers, from the moment the
/// connection is ready for one. An idle keep-alive connection waits for its
/// next request's headers, so it is closed after this long too.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve connections until SIGINT/SIGTERM, then let the requests in flight
/// finish. Each connection must deliver its headers within `HEADER_TIMEOUT`,
/// so half-sent or idle connections cannot pile up and lock real webhooks out.
async fn accept(listener: tokio::net::TcpListener, app: Router) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    // Requests in flight finish; a client that never finishes is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}

/// `--listen`: an address or a host name with a port (`localhost:8080`);
/// a name is resolved, IPv4 first.
fn listen_addr(listen: &str) -> Result<SocketAddr> {
    let bad = || {
        Error::Usage(format!(
            "--listen `{listen}` is not host:port\n  hint: write e.g. 127.0.0.1:8080, localhost:8080, or 0.0.0.0:8080 for every interface"
        ))
    };
    if let Ok(a) = listen.parse() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(listen).map_err(|_| bad())?.collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(bad)
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            eprintln!("signal: finishing requests in flight");
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// An import's writes, in short transactions: one opens at the first write
/// and closes after `EVERY` writes, or before the importer waits for more
/// input, so a slow feed never holds the ledger's write lock while it waits.
struct Batch<'a> {
    ledger: &'a Ledger,
    open: bool,
    writes: usize,
}

impl<'a> Batch<'a> {
    const EVERY: usize = 500;

    fn new(ledger: &'a Ledger) -> Self {
        Batch { ledger, open: false, writes: 0 }
    }

    fn before_write(&mut self) -> Result<()> {
        if !self.open {
            self.ledger.begin()?;
            self.open = true;
        }
        Ok(())
    }

    fn after_write(&mut self) -> Result<()> {
        self.writes += 1;
        if self.writes >= Self::EVERY { self.end() } else { Ok(()) }
    }

    fn end(&mut self) -> Result<()> {
        if std::mem::take(&mut self.open) {
            self.writes = 0;
            self.ledger.commit()?;
        }
        Ok(())
    }
}

/// Record payloads from a file, one JSON object per line. Every valid line
/// is kept; the others are named by line number.
pub fn import(file: &Path, state: &Path, words: &ConsentWords) -> Result<ExitCode> {
    let words = &Words::new(&words.opt_out, &words.opt_in)?;
    let f = std::fs::File::open(file).map_err(|e| {
        Error::input(
            file,
            Default::default(),
            format!("cannot read: {e}"),
            "give a file of webhook payloads, one JSON object per line",
        )
    })?;
    let ledger = Ledger::open(state)?;
    let (mut recorded, mut unchanged, mut ignored) = (0u64, 0u64, 0u64);
    let mut rejected: Vec<(usize, String)> = Vec::new();
    // Short transactions, so a run or the receiver writing beside the import
    // never waits long for it.
    let mut batch = Batch::new(&ledger);
    let mut reader = std::io::BufReader::with_capacity(1 << 18, f);
    let mut raw = Vec::new();
    for number in 1.. {
        raw.clear();
        if reader.buffer().is_empty() {
            batch.end()?;
        }
        if reader.read_until(b'\n', &mut raw).map_err(|e| Error::io(file, e))? == 0 {
            break;
        }
        let event = std::str::from_utf8(&raw)
            .map_err(|_| "not UTF-8 text (was the file saved in another encoding?)".to_string())
            .and_then(|line| {
                if line.trim().is_empty() {
                    return Ok(None);
                }
                serde_json::from_str::<Value>(line)
                    .map_err(|e| format!("malformed JSON: {e}"))
                    .and_then(|v| parse(&v))
                    .map(Some)
            });
        match event {
            Ok(None) => {}
            Ok(Some(Event::Other)) => ignored += 1,
            Ok(Some(e)) => {
                batch.before_write()?;
                if record(&ledger, &e, words)? {
                    recorded += 1
                } else {
                    unchanged += 1
                }
                batch.after_write()?;
            }
            Err(e) => rejected.push((number, e)),
        }
    }
    batch.end()?;
    eprintln!(
        "{}: {recorded} recorded, {unchanged} unchanged (replays or older states), {ignored} ignored (other topics), {} rejected",
        file.display(),
        rejected.len()
    );
    for (line, why) in rejected.iter().take(50) {
        eprintln!("  line {line}: {why}");
    }
    if rejected.len() > 50 {
        eprintln!("  … and {} more", rejected.len() - 50);
    }
    Ok(if rejected.is_empty() { ExitCode::Done } else { ExitCode::SomeFailed })
}
