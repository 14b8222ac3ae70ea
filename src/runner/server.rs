//! The embedded HTTP server (hyper 1.x): the default target of every scenario.
//!
//! It binds a fresh port for every run (so runs never see each other's sockets), speaks HTTP/1.1
//! and h2c on that port, behaves as the scenario's `[server]` table says, and records every
//! connection it accepts: the `server` source. With `tls = true` it speaks HTTPS instead (see
//! [`super::tls`]), and records each connection's TLS handshake too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{Request, Response, Version};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::streamed_body::ResponseBody;
use super::tls::{self, ServerIdentity};
use crate::model::detail::ServerFold;
use crate::model::{now_us, EndState, ServerConnection, TlsHandshake};
use crate::scenario::ServerSettings;

/// A running embedded server. Stop it with [`EmbeddedServer::shutdown`].
pub struct EmbeddedServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept_loop: tokio::task::JoinHandle<JoinSet<()>>,
    connections: Arc<Mutex<ConnectionLog>>,
    identity: Option<Arc<ServerIdentity>>,
}

/// The server's connections: the first ones accepted (up to the detail cap) kept in order,
/// the ones beyond it tracked while open and folded into exact aggregates once they end.
struct ConnectionLog {
    kept: Vec<Arc<Tracked>>,
    overflow: std::collections::HashMap<u64, Arc<Tracked>>,
    dropped: ServerFold,
    seen: u64,
    cap: usize,
}

impl ConnectionLog {
    fn new() -> Self {
        ConnectionLog {
            kept: Vec::new(),
            overflow: std::collections::HashMap::new(),
            dropped: ServerFold::default(),
            seen: 0,
            cap: crate::model::DETAIL_CAP,
        }
    }

    /// Records a new connection; its id names it when it ends.
    fn accepted(&mut self, tracked: &Arc<Tracked>) -> u64 {
        let id = self.seen;
        self.seen += 1;
        if self.kept.len() < self.cap {
            self.kept.push(Arc::clone(tracked));
        } else {
            self.overflow.insert(id, Arc::clone(tracked));
        }
        id
    }

    /// A connection ended: beyond the cap, it is folded and forgotten.
    fn ended(&mut self, id: u64, server: SocketAddr) {
        if let Some(tracked) = self.overflow.remove(&id) {
            self.dropped.add(&tracked.record(), server);
        }
    }
}

/// What the server knows about one connection while it is open.
struct Tracked {
    peer: SocketAddr,
    accepted_at_us: u64,
    requests: AtomicU64,
    in_flight: AtomicU32,
    last_done: Mutex<Instant>,
    server_closing: AtomicBool,
    http2: AtomicBool,
    ended: Mutex<Option<(EndState, u64, Option<String>)>>,
    tls: Mutex<Option<TlsHandshake>>,
}

impl EmbeddedServer {
    /// Binds the configured address (a fresh ephemeral port when `port = 0`) and starts serving.
    pub async fn start(settings: &ServerSettings) -> std::io::Result<EmbeddedServer> {
        let listener =
            super::listen::bind_listener(SocketAddr::new(settings.address, settings.port))?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let connections = Arc::new(Mutex::new(ConnectionLog::new()));
        let mut behaviour = Behaviour::new(settings);
        let identity = match settings.tls {
            true => {
                let identity = ServerIdentity::generate(settings.address)
                    .and_then(|identity| {
                        let config = identity.server_config(settings.tls_resumption)?;
                        behaviour.tls = Some(tokio_rustls::TlsAcceptor::from(config));
                        Ok(identity)
                    })
                    .map_err(|err| std::io::Error::other(format!("{err:#}")))?;
                Some(Arc::new(identity))
            }
            false => None,
        };
        let behaviour = Arc::new(behaviour);
        let accept_loop = tokio::spawn(accept_loop(
            listener,
            stop_rx,
            Arc::clone(&connections),
            behaviour,
        ));
        Ok(EmbeddedServer {
            addr,
            stop,
            accept_loop,
            connections,
            identity,
        })
    }

    /// With `tls = true`: the PEM file of the CA that signed the server's certificate (valid
    /// while the server lives).
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.identity.as_deref().map(ServerIdentity::ca_file)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the server has seen so far; connections still open are reported `open-at-end`.
    /// At most the detail cap's first connections: see [`EmbeddedServer::snapshot_capped`].
    pub fn snapshot(&self) -> Vec<ServerConnection> {
        self.snapshot_capped().0
    }

    /// What the server has seen so far: the first connections (up to the detail cap) as
    /// records, the ones beyond it folded (still open ones as `open-at-end`), and how many
    /// it accepted in all.
    pub fn snapshot_capped(&self) -> (Vec<ServerConnection>, ServerFold, u64) {
        let log = self.connections.lock().expect("server records lock");
        let mut dropped = log.dropped.clone();
        for tracked in log.overflow.values() {
            dropped.add(&tracked.record(), self.addr);
        }
        let kept = log.kept.iter().map(|t| t.record()).collect();
        (kept, dropped, log.seen)
    }

    /// Keeps at most `cap` connections as records; the ones accepted beyond it are folded into
    /// exact aggregates when they end (default: [`crate::model::DETAIL_CAP`]).
    pub fn set_detail_cap(&self, cap: usize) {
        self.connections.lock().expect("server records lock").cap = cap;
    }

    /// Stops accepting, closes open connections gracefully and waits (bounded) for them to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Ok(mut tasks) = self.accept_loop.await {
            let drain = async { while tasks.join_next().await.is_some() {} };
            if tokio::time::timeout(Duration::from_secs(2), drain)
                .await
                .is_err()
            {
                tasks.abort_all();
            }
        }
    }
}

impl Tracked {
    fn record(&self) -> ServerConnection {
        let ended = self.ended.lock().expect("connection end lock").clone();
        let (end, ended_at_us, error) = match ended {
            Some((end, at, error)) => (end, Some(at), error),
            None => (EndState::OpenAtEnd, None, None),
        };
        ServerConnection {
            peer: self.peer,
            accepted_at_us: self.accepted_at_us,
            ended_at_us,
            requests: self.requests.load(Ordering::SeqCst),
            end,
            error,
            protocol: if self.http2.load(Ordering::SeqCst) {
                "h2".into()
            } else {
                "http1".into()
            },
            tls: self.tls.lock().expect("tls record lock").clone(),
            local: None,
        }
    }
}

/// The scenario's server settings, prepared for the request handler.
struct Behaviour {
    settings: ServerSettings,
    /// With `tls = true`: the handshake every connection starts with.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Behaviour {
    fn new(settings: &ServerSettings) -> Self {
        Behaviour {
            settings: settings.clone(),
            tls: None,
        }
    }

    fn idle_timeout(&self) -> Option<Duration> {
        (self.settings.idle_timeout_ms > 0)
            .then(|| Duration::from_millis(self.settings.idle_timeout_ms))
    }
}

async fn accept_loop(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    connections: Arc<Mutex<ConnectionLog>>,
    behaviour: Arc<Behaviour>,
) -> JoinSet<()> {
    let server = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut tasks = JoinSet::new();
    let mut backoff = super::accept_backoff::AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, say: wait instead of spinning on the error.
                        tokio::select! {
                            () = backoff.failed(&err) => {}
                            _ = stop.changed() => break,
                        }
                        continue;
                    }
                };
                backoff.succeeded();
                let _ = stream.set_nodelay(true);
                crate::model::verbosity::event(|| format!("server: accepted a connection from {peer}"));
                let tracked = Arc::new(Tracked {
                    peer,
                    accepted_at_us: now_us(),
                    requests: AtomicU64::new(0),
                    in_flight: AtomicU32::new(0),
                    last_done: Mutex::new(Instant::now()),
                    server_closing: AtomicBool::new(false),
                    http2: AtomicBool::new(false),
                    ended: Mutex::new(None),
                    tls: Mutex::new(None),
                });
                let id = connections.lock().expect("server records lock").accepted(&tracked);
                let log = Arc::clone(&connections);
                let serving = serve_connection(stream, tracked, Arc::clone(&behaviour), stop.clone());
                tasks.spawn(async move {
                    serving.await;
                    log.lock().expect("server records lock").ended(id, server);
                });
                // A finished task keeps its memory until it is joined: reap them as we go, so
                // the set holds the open connections only.
                while tasks.try_join_next().is_some() {}
            }
            _ = stop.changed() => break,
        }
    }
    tasks
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    tracked: Arc<Tracked>,
    behaviour: Arc<Behaviour>,
    stop: watch::Receiver<bool>,
) {
    let mut watched = WatchedStream::new(stream);
    watched.linger = behaviour.tls.is_some();
    let events = Arc::clone(&watched.events);
    let result = match &behaviour.tls {
        None => serve_io(TokioIo::new(watched), &tracked, &behaviour, stop).await,
        Some(acceptor) => match tls::accept(acceptor, watched).await {
            Ok((stream, handshake)) => {
                *tracked.tls.lock().expect("tls record lock") = handshake;
                serve_io(TokioIo::new(stream), &tracked, &behaviour, stop).await
            }
            Err(err) => Err(err.into()),
        },
    };
    let events = *events.lock().expect("stream events lock");
    // Who closed first decides the end; an error the server saw is kept beside it.
    let closer = match (events.shutdown_first, events.eof_first) {
        (true, _) => EndState::ClosedByServer,
        (false, true) => EndState::ClosedByClient,
        (false, false) if tracked.server_closing.load(Ordering::SeqCst) => EndState::ClosedByServer,
        (false, false) => EndState::ClosedByClient,
    };
    let (end, error) = match result {
        _ if events.reset => (
            EndState::Reset,
            result.err().map(|e| error_chain(e.as_ref())),
        ),
        Ok(()) => (closer, None),
        Err(err) if is_reset(err.as_ref()) => (EndState::Reset, Some(err.to_string())),
        // Any other error (a malformed request, a timeout): the server drops the connection
        // after it, unless the client had closed first.
        Err(err) if events.eof_first => (EndState::ClosedByClient, Some(error_chain(err.as_ref()))),
        Err(err) => (EndState::ClosedByServer, Some(error_chain(err.as_ref()))),
    };
    crate::model::verbosity::event(|| {
        format!(
            "server: connection from {} ended {end} after {} request(s)",
            tracked.peer,
            tracked.requests.load(Ordering::SeqCst)
        )
    });
    *tracked.ended.lock().expect("connection end lock") = Some((end, now_us(), error));
}

/// The error a served connection ended with.
type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// Serves HTTP/1.1 or HTTP/2 on `io` (a TCP stream, or a TLS stream over one) until the
/// connection ends, closing it when idle or when the server stops.
async fn serve_io<I>(
    io: I,
    tracked: &Arc<Tracked>,
    behaviour: &Arc<Behaviour>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ServeError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(behaviour.settings.keep_alive)
        .timer(hyper_util::rt::TokioTimer::new());
    let service = {
        let tracked = Arc::clone(tracked);
        let behaviour = Arc::clone(behaviour);
        service_fn(move |request| handle(request, Arc::clone(&tracked), Arc::clone(&behaviour)))
    };
    // On the heap: hyper's connection (HTTP/1 and HTTP/2 state) is tens of kilobytes, and
    // inline it would be copied with the task's future at every spawn.
    let mut connection = Box::pin(builder.serve_connection(io, service));
    let idle_timeout = behaviour.idle_timeout();
    let mut closing = false;
    loop {
        let idle_deadline = idle_timeout.map(|t| *tracked.last_done.lock().expect("idle lock") + t);
        tokio::select! {
            result = connection.as_mut() => break result,
            _ = sleep_until(idle_deadline), if !closing => {
                // Re-read the last activity: a request may have been served while we slept.
                let deadline = idle_timeout.map(|t| *tracked.last_done.lock().expect("idle lock") + t);
                let idle = tracked.in_flight.load(Ordering::SeqCst) == 0
                    && deadline.is_some_and(|d| Instant::now() >= d);
                if idle {
                    tracked.server_closing.store(true, Ordering::SeqCst);
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stop.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    tracked: Arc<Tracked>,
    behaviour: Arc<Behaviour>,
) -> Result<Response<ResponseBody>, Infallible> {
    tracked.in_flight.fetch_add(1, Ordering::SeqCst);
    let served = tracked.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let http1 = request.version() < Version::HTTP_2;
    if !http1 {
        tracked.http2.store(true, Ordering::SeqCst);
    }
    let settings = &behaviour.settings;
    if settings.delay_us > 0 {
        tokio::time::sleep(Duration::from_micros(settings.delay_us)).await;
    }
    let client_asks_close = request
        .headers()
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let close_now = !settings.keep_alive
        || (settings.close_after_requests > 0 && served >= settings.close_after_requests);
    let mut response = Response::new(ResponseBody::new(settings.body_bytes, settings.chunked));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if http1 && (close_now || client_asks_close) {
        tracked.server_closing.store(true, Ordering::SeqCst);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    *tracked.last_done.lock().expect("idle lock") = Instant::now();
    tracked.in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(response)
}

/// What the server's socket went through, in order: who closed first, and whether a reset was
/// seen. Observed at the socket so it does not depend on how hyper reports a closed peer.
#[derive(Debug, Clone, Copy, Default)]
struct StreamEvents {
    /// The server shut its side down before the client's EOF arrived.
    shutdown_first: bool,
    /// The client's EOF arrived before the server shut down.
    eof_first: bool,
    /// A read or write failed with a reset (or a broken pipe, the reset seen while writing).
    reset: bool,
}

/// A TCP stream that records [`StreamEvents`].
struct WatchedStream {
    /// The socket; taken only when the stream is dropped.
    inner: Option<tokio::net::TcpStream>,
    events: Arc<Mutex<StreamEvents>>,
    /// Closing after the server shut down first, keep reading until the client's EOF (bounded):
    /// over TLS the client answers the server's close_notify with its own, which a socket
    /// closed at once would answer with a RST.
    linger: bool,
}

impl Drop for WatchedStream {
    fn drop(&mut self) {
        let events = *self.events.lock().expect("stream events lock");
        if self.linger && events.shutdown_first && !events.eof_first && !events.reset {
            if let (Some(stream), Ok(runtime)) =
                (self.inner.take(), tokio::runtime::Handle::try_current())
            {
                runtime.spawn(tls::linger(stream));
            }
        }
    }
}

impl WatchedStream {
    fn new(inner: tokio::net::TcpStream) -> Self {
        WatchedStream {
            inner: Some(inner),
            events: Arc::default(),
            linger: false,
        }
    }

    fn tcp(&mut self) -> Pin<&mut tokio::net::TcpStream> {
        Pin::new(
            self.inner
                .as_mut()
                .expect("the socket is there until the stream is dropped"),
        )
    }

    fn note<T>(&self, result: &Poll<std::io::Result<T>>) {
        if let Poll::Ready(Err(err)) = result {
            if matches!(
                err.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) {
                self.events.lock().expect("stream events lock").reset = true;
            }
        }
    }
}

impl tokio::io::AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = self.tcp().poll_read(cx, buf);
        self.note(&result);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() == before {
            let mut events = self.events.lock().expect("stream events lock");
            if !events.shutdown_first {
                events.eof_first = true;
            }
        }
        result
    }
}

impl tokio::io::AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = self.tcp().poll_write(cx, buf);
        self.note(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = self.tcp().poll_write_vectored(cx, bufs);
        self.note(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(tokio::net::TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = self.tcp().poll_flush(cx);
        self.note(&result);
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        {
            let mut events = self.events.lock().expect("stream events lock");
            if !events.eof_first {
                events.shutdown_first = true;
            }
        }
        let result = self.tcp().poll_shutdown(cx);
        self.note(&result);
        result
    }
}

fn is_reset(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// An error with its causes, `outer: inner: innermost`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
