//! Where a session's traffic goes: kalab's embedded server, a server already running at a URL,
//! or a port to watch. The target starts first and stops last.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use crate::capture::route::LOOPBACK_INTERFACE;
use crate::model::EnvironmentError;
use crate::runner::server::EmbeddedServer;
use crate::scenario::ServerSettings;

/// What the session should point its collectors (and its driver) at.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// kalab's embedded server with these settings (`port = 0`: a fresh port).
    Embedded(ServerSettings),
    /// A server already running at this URL; it must accept a connection before the run starts.
    Url(String),
    /// A port to watch on this address (unspecified: any address, on `interface`). Nothing is
    /// probed: the program under observation may start the server itself.
    Watch {
        /// The server address; its port is the watched port.
        addr: SocketAddr,
        /// The interface the capture listens on, if the user chose one.
        interface: Option<String>,
    },
}

impl TargetSpec {
    /// The target a scenario's `[server]` table describes.
    pub fn for_scenario(settings: &ServerSettings) -> TargetSpec {
        match &settings.url {
            Some(url) => TargetSpec::Url(url.clone()),
            None => TargetSpec::Embedded(settings.clone()),
        }
    }
}

/// A started target as drivers and collectors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// How the report names it: the URL requested, or the address watched.
    pub url: String,
    /// The server's address (an unspecified IP: any address on the port).
    pub addr: SocketAddr,
    /// Whether the server is on this machine's loopback (for the port-exhaustion forecast).
    pub loopback: bool,
    /// The embedded HTTPS server's CA certificate (PEM), for clients to trust; `None` for
    /// cleartext and external targets.
    pub ca_file: Option<std::path::PathBuf>,
}

/// A started target; [`Target::stop`] shuts the embedded server down, if there is one.
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) server: Option<EmbeddedServer>,
}

impl Target {
    /// Starts the embedded server, or checks that an external one answers.
    pub(crate) async fn start(spec: &TargetSpec) -> anyhow::Result<Target> {
        match spec {
            TargetSpec::Embedded(settings) => {
                let server = EmbeddedServer::start(settings).await.map_err(|err| {
                    EnvironmentError::new(format!(
                        "cannot start the embedded server on {}:{}: {err}",
                        settings.address, settings.port
                    ))
                })?;
                let addr = server.addr();
                let scheme = if settings.tls { "https" } else { "http" };
                Ok(Target {
                    endpoint: Endpoint {
                        url: format!("{scheme}://{addr}/"),
                        addr,
                        loopback: is_loopback(addr, None),
                        ca_file: server.ca_file().map(std::path::Path::to_path_buf),
                    },
                    server: Some(server),
                })
            }
            TargetSpec::Url(url) => {
                let addr = resolve(url).await?;
                Ok(Target {
                    endpoint: Endpoint {
                        url: url.clone(),
                        addr,
                        loopback: is_loopback(addr, None),
                        ca_file: None,
                    },
                    server: None,
                })
            }
            TargetSpec::Watch { addr, interface } => Ok(Target {
                endpoint: Endpoint {
                    url: watched_text(*addr, interface.as_deref()),
                    addr: *addr,
                    loopback: is_loopback(*addr, interface.as_deref()),
                    ca_file: None,
                },
                server: None,
            }),
        }
    }

    /// Shuts the embedded server down.
    pub(crate) async fn stop(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

/// Loopback addresses, and any address watched on the loopback interface.
fn is_loopback(addr: SocketAddr, interface: Option<&str>) -> bool {
    let ip = addr.ip().to_canonical();
    ip.is_loopback() || (ip.is_unspecified() && interface.is_none_or(|i| i == LOOPBACK_INTERFACE))
}

/// How a watched address is named in the report.
fn watched_text(addr: SocketAddr, interface: Option<&str>) -> String {
    if !addr.ip().is_unspecified() {
        return format!("http://{addr}/");
    }
    match interface {
        None | Some(LOOPBACK_INTERFACE) => format!("http://localhost:{}/", addr.port()),
        Some(other) => format!("port {} on {other}", addr.port()),
    }
}

/// Resolves an external target and checks, quickly, that something listens there.
async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let uri: http::Uri = url.parse().context("invalid target URL")?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let port = uri.port_u16().unwrap_or(default_port);
    let addr = tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| EnvironmentError::new(format!("cannot resolve the target host in {url}")))?;
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_probe)) => Ok(addr),
        Ok(Err(err)) => Err(EnvironmentError::new(format!(
            "the target {url} is unreachable ({addr}: {err}); start the server or fix [server] url"
        ))
        .into()),
        Err(_) => Err(EnvironmentError::new(format!(
            "the target {url} did not accept a connection within 2 s; start the server or fix [server] url"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_targets_name_the_watched_address() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(watched_text(any, Some("lo")), "http://localhost:8080/");
        assert_eq!(watched_text(any, Some("eth0")), "port 8080 on eth0");
        let host: SocketAddr = "10.0.0.5:80".parse().unwrap();
        assert_eq!(watched_text(host, None), "http://10.0.0.5:80/");
    }

    #[test]
    fn any_address_is_loopback_only_on_the_loopback_interface() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(is_loopback(any, Some("lo")));
        assert!(!is_loopback(any, Some("eth0")));
        assert!(is_loopback("[::1]:80".parse().unwrap(), None));
        assert!(!is_loopback("10.0.0.5:80".parse().unwrap(), None));
    }
}
