//! `kalab analyze` until the CLI wires it: `cargo run --release --example analyze -- FILE
//! [PORT|-] [table|json|markdown|csv]`. Used by `bench/analyze.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first().map(PathBuf::from) else {
        eprintln!("usage: analyze FILE [PORT|-] [table|json|markdown|csv]");
        return ExitCode::from(2);
    };
    let port = args.get(1).and_then(|p| p.parse().ok());
    let format = match args.get(2).map(|f| f.parse()).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("kalab: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match kalab::capture::run_analyze(&file, port, format, &mut out) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            drop(out);
            eprintln!("kalab: {e:#}");
            ExitCode::FAILURE
        }
    }
}
