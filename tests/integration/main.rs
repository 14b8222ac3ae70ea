//! kalab's integration tests: real sockets on loopback, the real embedded server, the real
//! reqwest client, real libpcap captures, the real `/proc/net/tcp`, the real binary, and pure
//! pipelines on committed fixtures. One test binary, split by topic.

mod helpers;

mod bounds;
mod capture_files;
mod capture_live;
mod capture_permission;
mod check;
mod cli_errors;
mod demo;
mod detail_cap;
mod external_nginx;
mod faults;
mod h2_wire;
mod hosts;
mod interop_curl;
mod interop_go;
mod interop_python;
mod lossy_link;
mod mutation;
mod observe;
mod proxy_recipe;
mod quick;
mod reports;
mod rough_edges;
mod runs;
mod scenario_reference;
mod schema;
mod session;
mod signals;
mod simultaneous_close;
mod sockets_netlink;
mod sockets_procfs;
mod stdout_only;
mod time_wait;
mod tls_peers;
mod tls_runs;
mod tls_wire;
mod under_load;
mod ux;
mod watch;
