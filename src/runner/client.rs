//! The HTTP client under test (reqwest), built from a scenario's `[client]` table.
//!
//! A connector layer records every connection the client dials, with its time and local
//! address: the `client` source. It sees dials, not reuse: reuse is what the counts reveal.
//! For `https://` targets the client speaks TLS with the rustls configuration of
//! [`super::tls`], and every dial runs inside a handshake probe, so the dial log says whether
//! that connection's handshake was full or resumed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use tower::{Layer, Service};

use super::tls::{self, HandshakeProbe};
use crate::model::detail::{ByEndpoint, DialFold, DialRecords};
use crate::model::{now_us, DetailCapped, Dial};
use crate::scenario::{ClientSettings, Protocol};

/// What the client needs to know about its target beyond `[client]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetTrust<'a> {
    /// The target speaks HTTPS.
    pub https: bool,
    /// The CAs of kalab's embedded servers, when they are the target.
    pub embedded_cas: &'a [std::path::PathBuf],
}

/// The dials of one run, shared between the connector layer and the runner: the first ones
/// (up to the detail cap) kept, the rest folded into exact aggregates as they are dialled.
#[derive(Debug, Clone)]
pub struct DialLog(Arc<Mutex<DialRecords>>);

impl Default for DialLog {
    fn default() -> Self {
        DialLog::with_cap(crate::model::DETAIL_CAP)
    }
}

impl DialLog {
    /// A log that keeps at most `cap` dials as records.
    pub fn with_cap(cap: usize) -> Self {
        DialLog(Arc::new(Mutex::new(DialRecords::new(cap))))
    }

    /// Every dial so far, in order (at most the detail cap's first ones).
    pub fn dials(&self) -> Vec<Dial> {
        self.0.lock().expect("dial log lock").kept().to_vec()
    }

    /// The dials beyond the cap, folded per endpoint, and the cap's entry when it dropped any.
    pub fn dropped(&self) -> (ByEndpoint<DialFold>, Option<DetailCapped>) {
        let log = self.0.lock().expect("dial log lock");
        (log.dropped().clone(), log.capped())
    }

    fn push(&self, dial: Dial) {
        self.0.lock().expect("dial log lock").push(dial);
    }
}

/// A request's own dial: its local and remote address, once connected. Read and written only
/// by the request's own task, so a `Cell` in a task-local needs neither an allocation nor a lock.
type DialSlot = std::cell::Cell<Option<(std::net::SocketAddr, std::net::SocketAddr)>>;

tokio::task_local! {
    static REQUEST_DIAL: DialSlot;
}

/// Runs `request` (a request's `send()`) and returns its output with the connection the
/// request dialled itself, if it did.
///
/// A dial is noted only when it completes while the request's own future polls it. The pool
/// races a dial against a pooled connection coming back; when the pooled one wins, the dial
/// is finished in a background task, outside this scope, so it is never noted: what is noted is
/// the connection the request was sent on. (Used for failures that carry no connection of
/// their own, such as a timeout waiting for the response.)
pub(crate) async fn noting_dial<F: Future>(
    request: F,
) -> (
    F::Output,
    Option<(std::net::SocketAddr, std::net::SocketAddr)>,
) {
    let scoped = REQUEST_DIAL.scope(DialSlot::new(None), request);
    tokio::pin!(scoped);
    let output = scoped.as_mut().await;
    let dialled = scoped.as_mut().take_value().and_then(DialSlot::into_inner);
    (output, dialled)
}

/// Builds the reqwest client a scenario describes, recording its dials into `log`.
pub fn build(
    settings: &ClientSettings,
    target: TargetTrust<'_>,
    log: DialLog,
) -> anyhow::Result<reqwest::Client> {
    tls::install_default_provider();
    let mut builder = reqwest::Client::builder()
        .connector_layer(DialRecorder { log })
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .timeout(Duration::from_millis(
            settings.request_timeout_ms.get().into(),
        ))
        .pool_idle_timeout(
            (settings.idle_timeout_ms > 0).then(|| Duration::from_millis(settings.idle_timeout_ms)),
        );
    if let Some(max) = settings.max_idle_per_host {
        builder = builder.pool_max_idle_per_host(max as usize);
    }
    if !settings.keep_alive {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        builder = builder.pool_max_idle_per_host(0).default_headers(headers);
    }
    builder = match settings.protocol {
        Protocol::Http1 => builder.http1_only(),
        // Over TLS too: the client then waits for its one connection instead of dialling one
        // per request until ALPN has said `h2`.
        Protocol::H2c | Protocol::H2 => builder.http2_prior_knowledge(),
    };
    if target.https {
        let mut config = tls::client_config(settings, target.embedded_cas)?;
        config.alpn_protocols = match settings.protocol {
            Protocol::Http1 => vec![b"http/1.1".to_vec()],
            Protocol::H2c | Protocol::H2 => vec![b"h2".to_vec()],
        };
        builder = builder.tls_backend_preconfigured(config).https_only(true);
    }
    Ok(builder.build()?)
}

/// The tower layer reqwest wraps around its connector.
#[derive(Clone)]
struct DialRecorder {
    log: DialLog,
}

impl<S> Layer<S> for DialRecorder {
    type Service = RecordDials<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordDials {
            inner,
            log: self.log.clone(),
        }
    }
}

/// The connector service with every dial recorded.
#[derive(Clone)]
struct RecordDials<S> {
    inner: S,
    log: DialLog,
}

impl<S, Target> Service<Target> for RecordDials<S>
where
    S: Service<Target>,
    S::Response: Connection,
    S::Error: std::fmt::Display,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let log = self.log.clone();
        let at_us = now_us();
        let probe = HandshakeProbe::default();
        let connecting = probe.run(|| self.inner.call(target));
        Box::pin(async move {
            let result = connecting.await;
            let connect_us = now_us().saturating_sub(at_us);
            let dial = match &result {
                Ok(conn) => {
                    let mut extensions = http::Extensions::new();
                    conn.connected().get_extras(&mut extensions);
                    let info = extensions.get::<HttpInfo>();
                    Dial {
                        at_us,
                        connect_us,
                        local: info.map(|info| info.local_addr()),
                        error: None,
                        tls: probe.handshake(conn.connected().is_negotiated_h2()),
                        remote: info.map(|info| info.remote_addr()),
                    }
                }
                Err(err) => Dial {
                    at_us,
                    connect_us,
                    local: None,
                    error: Some(err.to_string()),
                    tls: None,
                    remote: None,
                },
            };
            crate::model::verbosity::event(|| match (&dial.error, dial.local, dial.remote) {
                (Some(error), _, _) => format!("client: dial failed: {error}"),
                (None, Some(local), Some(remote)) => format!(
                    "client: dialled {local} -> {remote} in {} us",
                    dial.connect_us
                ),
                (None, _, _) => format!("client: dialled a connection in {} us", dial.connect_us),
            });
            if let (Some(local), Some(remote)) = (dial.local, dial.remote) {
                let _ = REQUEST_DIAL.try_with(|slot| slot.set(Some((local, remote))));
            }
            log.push(dial);
            result
        })
    }
}
