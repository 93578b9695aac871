//! The `epchip` command-line program.

mod cli;
mod commands;

use clap::Parser;

/// mimalloc keeps freed memory for reuse: the engine's per-run buffers would otherwise be mapped
/// and unmapped by the system allocator at every run, and page faults and TLB shootdowns between
/// the worker threads would eat the parallel speed-up.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(1)
        }
    }
}
