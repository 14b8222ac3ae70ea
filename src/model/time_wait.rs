//! TIME_WAIT figures: the one set of numbers every layer uses for the sockets a run left in
//! TIME_WAIT (and CLOSE_WAIT), per side.

use serde::{Deserialize, Serialize};

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
