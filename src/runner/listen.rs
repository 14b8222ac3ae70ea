//! The embedded server's listening socket, with an explicit listen backlog.
//!
//! The backlog bounds the accept queue: connections the kernel finished (SYN, SYN-ACK, ACK) that
//! the server has not accepted yet. When it is full the kernel drops further SYNs (a listen
//! overflow), the client sees a SYN nobody answers, and the experiment measures the server's
//! queue instead of the client's reuse. tokio's `TcpListener::bind` asks for 1024; kalab asks for
//! [`LISTEN_BACKLOG`] so a thousand concurrent dials fit with room to spare. The kernel caps any
//! backlog at `net.core.somaxconn` (4096 by default since Linux 5.4); the session says so when
//! the cap is lower than what was asked.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// The accept-queue length the embedded server asks for.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` and listens with [`LISTEN_BACKLOG`] (`SO_REUSEADDR` set, as tokio's own bind
/// does on Unix, so a port in TIME_WAIT can be bound again).
pub(crate) fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The backlog the kernel grants: [`LISTEN_BACKLOG`] capped at `somaxconn` (when known).
pub fn effective_backlog(somaxconn: Option<u32>) -> u32 {
    somaxconn.map_or(LISTEN_BACKLOG, |cap| LISTEN_BACKLOG.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn somaxconn_caps_the_backlog() {
        assert_eq!(effective_backlog(Some(128)), 128);
        assert_eq!(effective_backlog(Some(65535)), LISTEN_BACKLOG);
        assert_eq!(effective_backlog(None), LISTEN_BACKLOG);
    }

    #[tokio::test]
    async fn binds_loopback_on_a_fresh_port() {
        let listener = bind_listener(([127, 0, 0, 1], 0).into()).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let dial = tokio::net::TcpStream::connect(addr);
        let (accepted, dialled) = tokio::join!(listener.accept(), dial);
        assert_eq!(accepted.unwrap().1, dialled.unwrap().local_addr().unwrap());
    }
}
