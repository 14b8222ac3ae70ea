//! The `sockets` source: TCP socket states from the kernel's socket tables, attributed to a run.
//!
//! A [`Sampler`] snapshots a [`SocketTable`] ([`KernelTable`] for real: sock_diag netlink
//! filtered to the run's port in the kernel, [`ProcfsTable`] where netlink is unavailable; [`ScriptedTable`] or
//! [`parse_tcp_table`] over canned text in tests) before, during and after a run, and sums the
//! run's sockets up per side and state in a [`SocketsOutcome`]: TIME_WAIT peak and end on each
//! side, CLOSE_WAIT peak, distinct connections. Sockets left over from earlier runs never count.
//! [`forecast`] turns the run's churn into a port-exhaustion forecast. Needs no privileges.

pub mod attribution;
pub mod forecast;
pub mod netlink;
pub mod netstat;
pub mod sampler;
pub mod table;

pub use attribution::{
    classify, Attributor, EndpointSockets, SocketsSummary, StateCounts, TimeWaitSample,
};
pub use forecast::{
    forecast_ports, read_port_sysctls, ForecastCase, ForecastInput, PortForecast, PortSysctls,
    TwReuse,
};
pub use netlink::{KernelTable, NetlinkTable};
pub use netstat::{read_listen_counters, read_somaxconn, ListenCounters};
pub use sampler::{Sampler, SamplerSpec, SocketsOutcome, DEFAULT_SAMPLE_INTERVAL};
pub use table::{
    parse_tcp_table, ProcfsTable, ScriptedTable, SocketEntry, SocketTable, SocketTableError,
    TcpState,
};
