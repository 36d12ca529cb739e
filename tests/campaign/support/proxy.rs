//! A TCP proxy in front of the stand-in that lets the network vanish
//! mid-run: after relaying a given number of whole answers it closes every
//! connection and stops listening, so later requests are refused before
//! they leave (as when the network goes down).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Cut {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

struct Shared {
    upstream: SocketAddr,
    /// Answers relayed whole so far, and after how many to cut.
    answers: AtomicUsize,
    after: usize,
    cut: Arc<AtomicBool>,
    conns: Mutex<Vec<TcpStream>>,
}

impl Cut {
    /// Relay to `upstream` until `after` answers have gone back whole.
    pub fn after(upstream: SocketAddr, after: usize) -> Cut {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let sh = Arc::new(Shared {
            upstream,
            answers: AtomicUsize::new(0),
            after,
            cut: cut.clone(),
            conns: Mutex::new(Vec::new()),
        });
        std::thread::spawn(move || accept(listener, sh));
        Cut { addr, cut }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

fn accept(listener: TcpListener, sh: Arc<Shared>) {
    while !sh.cut.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(sh.upstream).unwrap();
                let mut conns = sh.conns.lock().unwrap();
                conns.push(client.try_clone().unwrap());
                conns.push(server.try_clone().unwrap());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pipe(client, server));
                let sh = sh.clone();
                std::thread::spawn(move || answers(s2, c2, &sh));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    // Dropping the listener refuses every later connection.
    drop(listener);
}

/// The client's bytes to the stand-in, as they come.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The stand-in's answers to the client, counted whole (each has a
/// Content-Length); after the last one allowed, everything is closed.
fn answers(mut from: TcpStream, mut to: TcpStream, sh: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(len) = whole(&pending) {
            pending.drain(..len);
            if sh.answers.fetch_add(1, Ordering::SeqCst) + 1 >= sh.after {
                sh.cut.store(true, Ordering::SeqCst);
                for c in sh.conns.lock().unwrap().iter() {
                    let _ = c.shutdown(Shutdown::Both);
                }
                return;
            }
        }
    }
}

/// The length of the first whole answer in `bytes`, if it is all there.
fn whole(bytes: &[u8]) -> Option<usize> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:"))?.trim().parse().ok()?;
    (bytes.len() >= end + len).then_some(end + len)
}
