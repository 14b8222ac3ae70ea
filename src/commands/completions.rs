//! `kalab completions SHELL` and `kalab man`: the shell completion scripts and the man page,
//! generated from the one clap definition of the command line, so they never drift from it.

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::exit_code::ExitCode;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "kalab", &mut script);
    super::print(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::Success)
}

/// Prints the man page (roff) on stdout: kalab(1) with every subcommand's options.
pub fn man() -> anyhow::Result<ExitCode> {
    super::print(&String::from_utf8_lossy(&man_page()?))?;
    Ok(ExitCode::Success)
}

/// The man page: kalab(1) as clap_mangen renders it, then one section per subcommand with its
/// synopsis, description and options.
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    for sub in command.get_subcommands() {
        let name = format!("kalab {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        man.render_description_section(&mut section)?;
        man.render_options_section(&mut section)?;
        let section = String::from_utf8_lossy(&section)
            .replace(".SH SYNOPSIS", &format!(".SH \"{}\"", name.to_uppercase()))
            .replace(".SH DESCRIPTION\n", ".PP\n")
            .replace(".SH OPTIONS", ".SS Options");
        page.extend_from_slice(section.as_bytes());
    }
    Ok(page)
}
