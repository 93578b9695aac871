//! One module per subcommand.

mod bench;
mod profile;
mod study;
mod train;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; the exit code on success (errors become exit code 1 in `main`).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Bench(args) => bench::run(args),
        Command::Study(args) => study::run(*args),
        Command::Profile(cmd) => profile::run(cmd),
    }
}
