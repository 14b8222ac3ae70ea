//! TIME_WAIT figures: the one set of numbers every layer uses for the sockets a run left in
//! TIME_WAIT (and CLOSE_WAIT), per side, and how they reconcile with the wire's closes.

use serde::{Deserialize, Serialize};

use super::connection::Side;

/// TIME_WAIT sockets of this run per side (client side: the client's local sockets), sampled
/// during the run (peak) and after the settle (end), and the CLOSE_WAIT peak.
///
/// The socket table is sampled, so these are what the samples saw: a lower bound of what
/// existed between two samples.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct TimeWait {
    /// Most client-side TIME_WAIT sockets in any sample.
    pub time_wait_client_peak: u64,
    /// Client-side TIME_WAIT sockets after the settle (the last sample).
    pub time_wait_client_end: u64,
    /// Most server-side TIME_WAIT sockets in any sample.
    pub time_wait_server_peak: u64,
    /// Server-side TIME_WAIT sockets after the settle (the last sample).
    pub time_wait_server_end: u64,
    /// Most CLOSE_WAIT sockets (both sides together) in any sample: a side that never closes
    /// is a leak.
    pub close_wait_peak: u64,
}

/// One side's closes and where their TIME_WAIT sockets went.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SideReconciliation {
    /// Connections this side closed first (its FIN was the first), or closed at the same time
    /// as the other side (see `simultaneous`), on the wire.
    pub closes: u64,
    /// This side's TIME_WAIT sockets of the run in the socket table's final snapshot.
    pub time_wait_end: u64,
    /// Closes that a RST ended afterwards (a reset skips TIME_WAIT).
    pub reset: u64,
    /// Closes whose TIME_WAIT socket a later SYN on the same 4-tuple recycled within the
    /// TIME_WAIT period (on the wire).
    pub recycled: u64,
    /// Closes made more than the TIME_WAIT period before the final snapshot: expired.
    pub expired: u64,
    /// `closes` minus the four terms: 0 when every close is accounted for. Negative when the
    /// socket table held more TIME_WAIT sockets than the wire's closes explain.
    pub unexplained: i64,
    /// Of `closes`, simultaneous closes (the FINs crossed): each leaves TIME_WAIT on both
    /// sides, so it is a close of both.
    #[serde(default)]
    pub simultaneous: u64,
}

impl SideReconciliation {
    /// Whether the terms add up to the closes exactly.
    pub fn adds_up(&self) -> bool {
        self.unexplained == 0
    }
}

/// Both sides' closes reconciled with their TIME_WAIT sockets.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct TimeWaitReconciliation {
    /// The client side (the client's local sockets).
    pub client: SideReconciliation,
    /// The server side.
    pub server: SideReconciliation,
    /// The TIME_WAIT period the `recycled` and `expired` terms assume, in seconds.
    pub time_wait_secs: u64,
}

impl TimeWaitReconciliation {
    /// One side's figures.
    pub fn side(&self, side: Side) -> &SideReconciliation {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}
