//! How fast can an HTTP client in this process go against kalab's embedded server, with none
//! of kalab's bookkeeping? For `bench/run`: `client_ceiling KIND WORKERS REQUESTS KEEP_ALIVE`.
//!
//! KIND is `reqwest` (a bare `reqwest::Client` configured as `kalab run` configures it, HTTP/1.1,
//! the pool at its defaults, without kalab's dial recorder, request log or body policy) or `hyper` (one
//! `hyper::client::conn::http1` connection per worker, no pool: how ab and oha work). The
//! embedded server runs in the same process on the same runtime, as under `kalab run`, and
//! answers at once (`delay_us = 0`). With KEEP_ALIVE `false` every request carries
//! `Connection: close` and the server closes after answering (churn).
//!
//! Prints `requests_per_second ok failed`. Bounded: REQUESTS in all (split over WORKERS), and
//! every request has a 10 s timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use kalab::runner::server::EmbeddedServer;
use kalab::scenario::ServerSettings;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "reqwest".into());
    let workers: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .max(1);
    let requests: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let keep_alive = args.next().is_none_or(|a| a != "false");
    let per_worker = (requests / workers).max(1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let settings = ServerSettings {
            delay_us: 0,
            keep_alive,
            ..ServerSettings::default()
        };
        let server = EmbeddedServer::start(&settings)
            .await
            .expect("the embedded server");
        let url = format!("http://{}/", server.addr());
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Configured as `kalab run` configures it, less the dial recorder.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .http1_only()
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a reqwest client");
        for _ in 0..workers {
            let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
            match kind.as_str() {
                "hyper" => {
                    let addr = server.addr();
                    tasks.spawn(async move {
                        let (done, errors) = hyper_worker(addr, per_worker, keep_alive).await;
                        ok.fetch_add(done, Ordering::Relaxed);
                        failed.fetch_add(errors, Ordering::Relaxed);
                    });
                }
                _ => {
                    let (client, url) = (client.clone(), reqwest::Url::parse(&url).unwrap());
                    tasks.spawn(async move {
                        for _ in 0..per_worker {
                            let mut request = client.get(url.clone());
                            if !keep_alive {
                                request = request.header("connection", "close");
                            }
                            let result = match request.send().await {
                                Ok(response) => response.bytes().await.map(|_| ()),
                                Err(err) => Err(err),
                            };
                            match result {
                                Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                                Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    });
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        let seconds = started.elapsed().as_secs_f64();
        let ok = ok.load(Ordering::Relaxed);
        println!(
            "{:.0} {ok} {}",
            ok as f64 / seconds,
            failed.load(Ordering::Relaxed)
        );
        server.shutdown().await;
    });
}

/// One connection at a time, requests sent on it back to back; a new connection when the
/// server closes it (every request, without keep-alive).
async fn hyper_worker(addr: std::net::SocketAddr, requests: u64, keep_alive: bool) -> (u64, u64) {
    let (mut ok, mut failed) = (0, 0);
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Empty<bytes::Bytes>>> = None;
    for _ in 0..requests {
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = connect(addr).await;
        }
        let Some(send) = sender.as_mut() else {
            failed += 1;
            continue;
        };
        let mut request = http::Request::get("/")
            .header(http::header::HOST, addr.to_string())
            .body(Empty::new())
            .expect("a request");
        if !keep_alive {
            request.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let exchange = async {
            send.ready().await?;
            let response = send.send_request(request).await?;
            response.into_body().collect().await.map(|_| ())
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(())) => ok += 1,
            _ => {
                failed += 1;
                sender = None;
            }
        }
        if !keep_alive {
            sender = None;
        }
    }
    (ok, failed)
}

async fn connect(
    addr: std::net::SocketAddr,
) -> Option<hyper::client::conn::http1::SendRequest<Empty<bytes::Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}
