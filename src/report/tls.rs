//! TLS handshakes in reports: full and resumed handshakes counted per source (client, server,
//! capture) and handshakes per request. How they read (the grid's column, the sentences) is in
//! [`super::tls_text`].
//!
//! Every source records one handshake per TLS connection (see `model::tls`); the counts here
//! are plain counts of those records, so they are exact for every source that was there.

use super::connections::ConnectionView;
use super::model::TlsFigures;
use crate::model::detail::HandshakeCounts;
use crate::model::{Source, Warning};

/// Full, full-after-HelloRetryRequest and resumed handshakes, and handshakes of any kind.
fn count(counts: HandshakeCounts) -> (u64, u64, u64, u64) {
    (counts.full, counts.full_hrr, counts.resumed, counts.any)
}

/// The run's TLS figures, or `None` when no source saw a TLS handshake (a cleartext run):
/// from each source's handshake counts (the client's connected dials, the server's
/// connections, the wire's opened connections).
pub(crate) fn figures(
    dials: Option<HandshakeCounts>,
    servers: Option<HandshakeCounts>,
    capture: Option<HandshakeCounts>,
    requests_sent: u64,
) -> Option<TlsFigures> {
    let client = dials.map(count);
    let server = servers.map(count);
    let wire = capture.map(count);
    let counted = [
        (Source::Client, client),
        (Source::Server, server),
        (Source::Capture, wire),
    ];
    if !counted
        .iter()
        .any(|(_, c)| c.is_some_and(|(_, _, _, any)| any > 0))
    {
        return None;
    }
    let mut figures = TlsFigures::default();
    for (source, counts) in counted {
        let Some((full, hrr, resumed, _)) = counts else {
            continue;
        };
        figures.handshakes_full.set(source, Some(full));
        figures.handshakes_full_hrr.set(source, Some(hrr));
        figures.handshakes_resumed.set(source, Some(resumed));
    }
    figures.handshakes_per_request = match (
        figures.handshakes_full.best(),
        figures.handshakes_resumed.best(),
    ) {
        (Some((full, _)), Some((resumed, _))) if requests_sent > 0 => {
            Some((full + resumed) as f64 / requests_sent as f64)
        }
        _ => None,
    };
    Some(figures)
}

/// A warning when some connection's handshake is not the same kind for every source that saw
/// it (the counts can agree while two connections swap kinds).
pub(crate) fn connection_disagreements(views: &[ConnectionView]) -> Option<Warning> {
    let odd: Vec<String> = views
        .iter()
        .filter(|v| v.tls_disagrees())
        .map(|v| {
            let each: Vec<String> = v
                .tls
                .iter()
                .map(|(source, kind)| format!("{source} {kind}"))
                .collect();
            format!("#{} {} ({})", v.id, v.client, each.join(", "))
        })
        .collect();
    (!odd.is_empty()).then(|| Warning::Note {
        message: format!(
            "sources disagree on the TLS handshake of {} connection(s): {}",
            odd.len(),
            odd.join("; ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::detail::{DialFold, ServerFold};
    use crate::model::{Dial, HandshakeKind, ServerConnection, TlsHandshake, TlsVersion};

    fn handshake(kind: HandshakeKind) -> Option<TlsHandshake> {
        Some(TlsHandshake {
            kind,
            version: Some(TlsVersion::Tls13),
            alpn: None,
        })
    }

    fn dial(port: u16, kind: HandshakeKind) -> Dial {
        Dial {
            at_us: 0,
            connect_us: 0,
            local: Some(format!("127.0.0.1:{port}").parse().unwrap()),
            error: None,
            tls: handshake(kind),
            remote: None,
        }
    }

    #[test]
    fn cleartext_runs_have_no_tls_figures() {
        let dials = vec![Dial {
            tls: None,
            ..dial(1, HandshakeKind::Full)
        }];
        assert_eq!(
            figures(Some(DialFold::of(&dials).tls), None, None, 10),
            None
        );
    }

    #[test]
    fn a_connection_whose_sources_disagree_is_named() {
        let servers = vec![ServerConnection {
            peer: "127.0.0.1:40001".parse().unwrap(),
            accepted_at_us: 10,
            ended_at_us: None,
            requests: 1,
            end: crate::model::EndState::OpenAtEnd,
            error: None,
            protocol: "http1".into(),
            tls: handshake(HandshakeKind::Full),
            local: None,
        }];
        let dials = vec![dial(40001, HandshakeKind::Resumed)];
        let views =
            crate::report::connections::connection_views(&dials, &mut [], Some(&servers), None);
        let warning = connection_disagreements(&views)
            .expect("a warning")
            .to_string();
        assert!(warning.contains("server full, client resumed"), "{warning}");
        let agreeing = vec![dial(40001, HandshakeKind::Full)];
        let views =
            crate::report::connections::connection_views(&agreeing, &mut [], Some(&servers), None);
        assert_eq!(connection_disagreements(&views), None);
    }

    #[test]
    fn handshakes_are_counted_per_source() {
        let dials: Vec<Dial> = (0..10)
            .map(|i| {
                let kind = if i == 0 {
                    HandshakeKind::FullHrr
                } else {
                    HandshakeKind::Resumed
                };
                dial(40000 + i, kind)
            })
            .collect();
        let server = ServerFold::default().tls;
        let tls = figures(Some(DialFold::of(&dials).tls), Some(server), None, 10).unwrap();
        assert_eq!(tls.handshakes_full.client, Some(1));
        assert_eq!(tls.handshakes_full_hrr.client, Some(1));
        assert_eq!(tls.handshakes_resumed.client, Some(9));
        assert_eq!(tls.handshakes_full.server, Some(0));
        assert_eq!(tls.handshakes_per_request, Some(0.0));
    }
}
