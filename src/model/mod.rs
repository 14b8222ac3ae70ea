//! The shared vocabulary: what every layer of kalab speaks, and nothing above it.
//!
//! Producers (the runner, the capture, the socket sampler, the drivers) and consumers (the
//! report, the checks) all depend on this module; it depends on none of them. Here are the
//! sources ([`Source`]), how a connection is named and how it ended ([`FourTuple`], [`Side`],
//! [`EndState`], [`Closes`]), the per-source records ([`Dial`], [`RequestOutcome`],
//! [`ServerConnection`], the wire's [`ConnectionRecord`]), TLS handshakes ([`TlsHandshake`]),
//! the TIME_WAIT figures ([`TimeWait`]), the warnings a report carries ([`Warning`]), the clock
//! and the error kinds that decide the exit code.

pub mod checked;
pub mod clock;
pub mod connection;
pub mod detail;
pub mod error;
pub mod limits;
pub mod observed;
pub mod records;
pub mod source;
pub mod time_wait;
pub mod tls;
pub mod verbosity;
pub mod warning;
pub mod wire;

pub use checked::{CheckOutcome, CheckVerdict, CheckedExpectation};
pub use clock::now_us;
pub use connection::{Closes, EndState, FourTuple, Side};
pub use detail::{Capped, DetailCapped, DETAIL_CAP};
pub use error::{EnvironmentError, InputError};
pub use observed::ObservedCommand;
pub use records::{BodyFate, Dial, RequestError, RequestOutcome, ServerConnection};
pub use source::Source;
pub use time_wait::{SideReconciliation, TimeWait, TimeWaitReconciliation};
pub use tls::{HandshakeKind, TlsHandshake, TlsVersion};
pub use warning::{ListeningPort, Warning};
pub use wire::{ConnectionRecord, ResetCause, ResetCauses};
