//! `kalab analyze FILE`: offline lifecycles from any capture file, streamed (memory grows with
//! the connections still open, not with the file). A damaged file prints the results up to the
//! damage, then the error.

use std::io::Write as _;

use crate::capture::AnalyzeError;
use crate::cli::AnalyzeArgs;
use crate::exit_code::ExitCode;
use crate::model::error::InputError;
use crate::report::export::analysis::write_analysis;

/// Analyses one capture file.
pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = write_analysis(&args.file, args.port, args.format, &mut out);
    match out.flush() {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::Success),
        other => other?,
    }
    match result {
        Ok(analysis) => match args.port {
            Some(port)
                if analysis.summary.connections_opened == 0
                    && analysis.summary.partial_connections == 0 =>
            {
                Err(no_connection_on(&args.file, port, analysis.packets_other_port).into())
            }
            _ => Ok(ExitCode::Success),
        },
        Err(err) => match err.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
            // Every analysis error names the file itself.
            _ if err.downcast_ref::<AnalyzeError>().is_some() => {
                Err(InputError::new(format!("{err:#}")).into())
            }
            _ => Err(err),
        },
    }
}

/// `--port N` matched nothing: say so, and name the port most SYNs went to.
fn no_connection_on(file: &std::path::Path, port: u16, other_packets: u64) -> InputError {
    let hint = match crate::capture::analyze::guess_port(file) {
        Ok((busiest, _)) if busiest != port => {
            format!("; the busiest server port is {busiest} (most SYNs): try --port {busiest}, or omit --port to pick it")
        }
        _ => String::new(),
    };
    InputError::new(format!(
        "{}: no connection to or from port {port} ({other_packets} TCP packet(s) of other ports){hint}",
        file.display()
    ))
}
