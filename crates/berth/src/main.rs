//! The `berth` command: parses the command line and runs the chosen subcommand.

use std::process::ExitCode;

use berth::{cli, config_check, gc, maintenance, migrate, serve, settings};
use clap::Parser;

/// mimalloc rather than glibc's allocator. A cached manifest GET spends about 30 % of its
/// instructions in `malloc` and `free`, and glibc merges its free lists (`malloc_consolidate`)
/// whenever a block of 1 KiB or more is asked for, which the metrics recorder's histograms do
/// every 64 samples: with metrics on, every request's allocations got slower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Errors are printed as one line of causes (`berth: reading config file x: ...`), never as a
/// backtrace, whatever `RUST_BACKTRACE` says: they are the operator's to read.
fn main() -> ExitCode {
    // ring is the one TLS provider: the server's and gc's pinned configurations name it, and
    // every other client (gc to a plain-HTTP server) finds it installed here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Serve(args) => settings::Settings::load(&args).and_then(serve::run),
        cli::Command::Gc(args) => gc::run(&args),
        cli::Command::Migrate(args) => migrate::run(&args),
        // The one command whose success has degrees: its status says what it found.
        cli::Command::Scrub(args) => match maintenance::scrub(&args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        cli::Command::Usage(args) => maintenance::usage(&args),
        cli::Command::Config(cli::ConfigCommand::Check { file }) => config_check::run(&file),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
