//! High-churn loopback traffic for `bench/analyze.sh`: an HTTP/1.1-ish server and client in one
//! process on 127.0.0.1, many short connections, each with a few requests, closed by the client.
//! Bounded in count and time: `churn PORT CONNECTIONS REQUESTS_PER_CONNECTION [WORKERS]`, at most
//! [`DEADLINE_S`] seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The run stops after this many seconds whatever the count.
const DEADLINE_S: u64 = 120;
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 1024];
    let mut pending = Vec::new();
    for _ in 0..10_000 {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            if stream.write_all(RESPONSE).is_err() {
                return;
            }
        }
    }
}

fn client(port: u16, requests: u32) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 256];
    for _ in 0..requests {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        let mut got = 0;
        while got < RESPONSE.len() {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let port = args.first().copied().unwrap_or(18080) as u16;
    let connections = args.get(1).copied().unwrap_or(100_000);
    let requests = args.get(2).copied().unwrap_or(2) as u32;
    let workers = args.get(3).copied().unwrap_or(4);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    for _ in 0..workers {
        let listener = listener.try_clone().expect("listener");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(DEADLINE_S);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..workers)
        .map(|_| {
            let (next, failures) = (Arc::clone(&next), Arc::clone(&failures));
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < connections
                    && Instant::now() < deadline
                {
                    if client(port, requests).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    let done = next.load(Ordering::Relaxed).min(connections);
    eprintln!(
        "churn: {done} connections x {requests} requests in {:.1} s, {} failed",
        started.elapsed().as_secs_f64(),
        failures.load(Ordering::Relaxed)
    );
}
