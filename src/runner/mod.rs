//! kalab's own HTTP peers: the client under test (reqwest) with its request loop and body
//! policies, and the embedded server (hyper). They record what they see (the `client` and
//! `server` sources); the session decides when they start and stop. TLS for both is in
//! [`tls`].

pub(crate) mod body;
pub mod client;
pub mod listen;
pub mod pattern;
pub mod rate;
pub(crate) mod request;
pub mod server;
pub mod tls;
