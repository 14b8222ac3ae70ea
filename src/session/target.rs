//! Where a session's traffic goes: kalab's embedded server (or several, one per loopback
//! address), a server already running at a URL (or several), or a port to watch. The target
//! starts first and stops last.
//!
//! Several hosts share one port on distinct addresses (127.0.0.1:P, 127.0.0.2:P, ...): each is a
//! distinct pool key for the client and a distinct endpoint on the wire, and the collectors,
//! which watch one port, see them all (on `lo`, which carries every 127.x address).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;

use crate::capture::route::LOOPBACK_INTERFACE;
use crate::model::detail::{ByEndpoint, Merge, ServerFold};
use crate::model::{DetailCapped, EnvironmentError, InputError, ServerConnection, Source};
use crate::runner::server::EmbeddedServer;
use crate::scenario::ServerSettings;

/// What the session should point its collectors (and its driver) at.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// kalab's embedded server with these settings (`port = 0`: a fresh port).
    Embedded(ServerSettings),
    /// A server already running at this URL; it must accept a connection before the run starts.
    Url(String),
    /// Several servers already running (one port, several hosts); the pattern spreads its
    /// requests across them. Each must accept a connection before the run starts.
    Urls(Vec<String>),
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
            _ if !settings.urls.is_empty() => TargetSpec::Urls(settings.urls.clone()),
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
    /// The CA certificates (PEM files) of the embedded HTTPS servers, one per server, for
    /// clients to trust; empty for cleartext and external targets.
    pub ca_files: Vec<std::path::PathBuf>,
    /// Every host's URL, in order (one for a single host): the pattern spreads across them.
    pub urls: Vec<String>,
    /// Every server endpoint the target has, in order (empty for a watched port: whatever
    /// servers the traffic shows).
    pub hosts: Vec<SocketAddr>,
    /// The interface that carries every host, when the target knows it better than the route
    /// to `addr` does (several loopback hosts: `lo`).
    pub interface: Option<String>,
}

impl Endpoint {
    /// A target of one server at `addr`, requested at `url`.
    fn single(url: String, addr: SocketAddr, loopback: bool) -> Endpoint {
        Endpoint {
            urls: vec![url.clone()],
            url,
            addr,
            loopback,
            hosts: vec![addr],
            interface: None,
            ca_files: Vec::new(),
        }
    }

    /// A target of several servers on one port; the collectors watch the port on any address
    /// unless every host has the same one.
    fn several(urls: Vec<String>, hosts: Vec<SocketAddr>) -> Endpoint {
        let port = hosts.first().map_or(0, |h| h.port());
        let loopback = hosts.iter().all(|h| h.ip().to_canonical().is_loopback());
        let one_ip = hosts.windows(2).all(|w| w[0].ip() == w[1].ip());
        let addr = match hosts.first() {
            Some(first) if one_ip => *first,
            _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        };
        let interface = if one_ip {
            None
        } else if loopback {
            Some(LOOPBACK_INTERFACE.to_string())
        } else {
            hosts
                .first()
                .and_then(|h| crate::capture::route::interface_for(h.ip()))
        };
        Endpoint {
            url: urls.join(", "),
            urls,
            addr,
            loopback,
            hosts,
            interface,
            ca_files: Vec::new(),
        }
    }
}

/// A started target; [`Target::stop`] shuts the embedded servers down, if there are any.
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) servers: Vec<EmbeddedServer>,
}

impl Target {
    /// Starts the embedded server(s), or checks that the external ones answer.
    pub(crate) async fn start(spec: &TargetSpec) -> anyhow::Result<Target> {
        match spec {
            TargetSpec::Embedded(settings) if settings.hosts.get() > 1 => {
                let servers = start_hosts(settings).await?;
                let hosts: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
                let scheme = if settings.tls { "https" } else { "http" };
                let urls = hosts
                    .iter()
                    .map(|addr| format!("{scheme}://{addr}/"))
                    .collect();
                let ca_files = servers
                    .iter()
                    .filter_map(|s| s.ca_file().map(std::path::Path::to_path_buf))
                    .collect();
                Ok(Target {
                    endpoint: Endpoint {
                        ca_files,
                        ..Endpoint::several(urls, hosts)
                    },
                    servers,
                })
            }
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
                        ca_files: server
                            .ca_file()
                            .map(std::path::Path::to_path_buf)
                            .into_iter()
                            .collect(),
                        ..Endpoint::single(
                            format!("{scheme}://{addr}/"),
                            addr,
                            is_loopback(addr, None),
                        )
                    },
                    servers: vec![server],
                })
            }
            TargetSpec::Url(url) => {
                let addr = resolve(url).await?;
                Ok(Target {
                    endpoint: Endpoint::single(url.clone(), addr, is_loopback(addr, None)),
                    servers: Vec::new(),
                })
            }
            TargetSpec::Urls(urls) => {
                let mut hosts = Vec::with_capacity(urls.len());
                for url in urls {
                    hosts.push(resolve(url).await?);
                }
                if hosts.windows(2).any(|w| w[0].port() != w[1].port()) {
                    return Err(InputError::new(format!(
                        "the servers in [server] urls use different ports ({}); the collectors watch one port: put every server on the same port",
                        hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", ")
                    ))
                    .into());
                }
                Ok(Target {
                    endpoint: Endpoint::several(urls.clone(), hosts),
                    servers: Vec::new(),
                })
            }
            TargetSpec::Watch { addr, interface } => Ok(Target {
                endpoint: Endpoint {
                    url: watched_text(*addr, interface.as_deref()),
                    urls: Vec::new(),
                    addr: *addr,
                    loopback: is_loopback(*addr, interface.as_deref()),
                    ca_files: Vec::new(),
                    hosts: Vec::new(),
                    interface: None,
                },
                servers: Vec::new(),
            }),
        }
    }

    /// What the embedded servers have seen so far (`None` without one), each connection marked
    /// with the server address that accepted it; the connections beyond the detail cap folded
    /// per server address, and the cap's entry when it dropped any.
    pub(crate) fn snapshot_capped(
        &self,
    ) -> (
        Option<Vec<ServerConnection>>,
        ByEndpoint<ServerFold>,
        Option<DetailCapped>,
    ) {
        let mut folds = ByEndpoint::default();
        if self.servers.is_empty() {
            return (None, folds, None);
        }
        let (mut all, mut seen) = (Vec::new(), 0);
        for server in &self.servers {
            let local = server.addr();
            let (kept, dropped, accepted) = server.snapshot_capped();
            all.extend(kept.into_iter().map(|mut connection| {
                connection.local = Some(local);
                connection
            }));
            folds.at(Some(local)).merge(&dropped);
            seen += accepted;
        }
        let capped = DetailCapped::of("server_connections", Source::Server, all.len() as u64, seen);
        (Some(all), folds, capped)
    }

    /// Keeps at most `cap` connection records per embedded server (see
    /// [`EmbeddedServer::set_detail_cap`]).
    pub(crate) fn set_detail_cap(&self, cap: usize) {
        for server in &self.servers {
            server.set_detail_cap(cap);
        }
    }

    /// Shuts the embedded servers down.
    pub(crate) async fn stop(self) {
        for server in self.servers {
            server.shutdown().await;
        }
    }
}

/// How many times a fresh port is tried for several hosts before giving up (another program
/// may hold the port on one of the other addresses).
const HOST_PORT_ATTEMPTS: usize = 8;

/// Starts `settings.hosts` embedded servers on consecutive addresses, all on one port: the
/// first picks it (or `settings.port`), the others bind it on their address.
async fn start_hosts(settings: &ServerSettings) -> anyhow::Result<Vec<EmbeddedServer>> {
    let hosts = settings.hosts.get();
    settings.check_hosts().map_err(InputError::new)?;
    let mut last_error = String::new();
    for _ in 0..HOST_PORT_ATTEMPTS {
        let first = EmbeddedServer::start(settings).await.map_err(|err| {
            EnvironmentError::new(format!(
                "cannot start the embedded server on {}:{}: {err}",
                settings.address, settings.port
            ))
        })?;
        let port = first.addr().port();
        let mut servers = vec![first];
        for index in 1..hosts {
            let mut host = settings.clone();
            host.address = settings.host_address(index).unwrap_or(settings.address);
            host.port = port;
            match EmbeddedServer::start(&host).await {
                Ok(server) => servers.push(server),
                Err(err) => {
                    last_error = format!("{}:{port}: {err}", host.address);
                    break;
                }
            }
        }
        if servers.len() == hosts as usize {
            return Ok(servers);
        }
        for server in servers {
            server.shutdown().await;
        }
        if settings.port != 0 {
            break;
        }
    }
    Err(EnvironmentError::new(format!(
        "cannot start {hosts} embedded servers on one port ({last_error}); free the port or choose another [server] port"
    ))
    .into())
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

    #[test]
    fn several_loopback_hosts_are_watched_on_lo_on_any_address() {
        let hosts: Vec<SocketAddr> = vec![
            "127.0.0.1:9000".parse().unwrap(),
            "127.0.0.2:9000".parse().unwrap(),
        ];
        let urls = hosts.iter().map(|h| format!("http://{h}/")).collect();
        let endpoint = Endpoint::several(urls, hosts);
        assert_eq!(endpoint.addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(endpoint.interface.as_deref(), Some("lo"));
        assert!(endpoint.loopback);
        assert_eq!(endpoint.urls.len(), 2);
    }
}
