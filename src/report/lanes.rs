//! From run reports to timeline panels: one lane per connection, from the best source that
//! knows connection lifetimes (the capture; else the embedded server's accepts and closes).

use std::collections::HashMap;

use super::model::RunReport;
use super::timeline::{Lane, Panel};
use crate::model::{EndState, Side};
use crate::sockets::forecast::TIME_WAIT_SECS;

/// One panel per run, lanes on milliseconds since the run started.
pub fn panels(runs: &[RunReport]) -> Vec<Panel> {
    runs.iter().map(panel).collect()
}

fn panel(run: &RunReport) -> Panel {
    let origin = run.started_at_us;
    let ms = |at_us: u64| at_us.saturating_sub(origin) as f64 / 1000.0;
    let time_wait_ms = (TIME_WAIT_SECS * 1000) as f64;
    let repetition = if run.repetition > 1 {
        format!(" (run {})", run.repetition)
    } else {
        String::new()
    };
    let (lanes, source) = match &run.capture {
        Some(capture) => {
            let lanes = capture
                .connections
                .iter()
                .filter(|c| c.opened())
                .map(|c| {
                    let closed_at = [c.client_fin_at_us, c.server_fin_at_us, c.rst_at_us]
                        .into_iter()
                        .flatten()
                        .min();
                    let end = c.end;
                    let end_ms = match (end, closed_at) {
                        (EndState::OpenAtEnd, _) | (_, None) => run.wall_time_ms,
                        (_, Some(at)) => ms(at),
                    };
                    Lane {
                        start_ms: ms(c.started_at_us()),
                        end_ms,
                        end,
                        request_ticks_ms: c.request_times_us.iter().map(|&t| ms(t)).collect(),
                        time_wait_until_ms: matches!(
                            c.active_closer,
                            Some(Side::Client | Side::Server)
                        )
                        .then_some(end_ms + time_wait_ms)
                        .filter(|_| end != EndState::Reset && end != EndState::OpenAtEnd),
                        label: format!(":{}", c.tuple.client.port()),
                        // The wire's classification, else the server's record of the same
                        // connection.
                        tls: c.tls.as_ref().map(|t| t.kind).or_else(|| {
                            run.server_connections
                                .iter()
                                .find(|s| s.peer == c.tuple.client)
                                .and_then(|s| s.tls.as_ref())
                                .map(|t| t.kind)
                        }),
                    }
                })
                .collect();
            (lanes, "capture")
        }
        None => {
            let mut ticks: HashMap<_, Vec<f64>> = HashMap::new();
            for request in &run.requests {
                if let Some(local) = request.local {
                    ticks
                        .entry(local)
                        .or_default()
                        .push(ms(request.started_at_us));
                }
            }
            let lanes = run
                .server_connections
                .iter()
                .map(|c| {
                    let end = c.end;
                    let end_ms = c.ended_at_us.map_or(run.wall_time_ms, ms);
                    Lane {
                        start_ms: ms(c.accepted_at_us),
                        end_ms,
                        end,
                        request_ticks_ms: ticks.remove(&c.peer).unwrap_or_default(),
                        // The server cannot see a RST that follows a FIN, so whether a close
                        // left TIME_WAIT is unknown without the wire: no tail is drawn.
                        time_wait_until_ms: None,
                        label: format!(":{}", c.peer.port()),
                        tls: c.tls.as_ref().map(|t| t.kind),
                    }
                })
                .collect();
            (lanes, "server")
        }
    };
    Panel {
        title: format!("{}{repetition} ({source} source)", run.label()),
        duration_ms: run.wall_time_ms,
        lanes,
    }
}
