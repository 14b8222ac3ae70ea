//! The `kalab` binary: parse the command line, run the command, turn the outcome into an exit
//! code. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    let cli = kalab::usage_hints::parse();
    match kalab::commands::dispatch(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("kalab: {err:#}");
            kalab::exit_code::ExitCode::for_error(&err).into()
        }
    }
}
