//! The `berth` command: parses the command line and runs the chosen subcommand.

mod cli;
mod gc;
mod lock;
mod serve;
mod settings;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve(args) => {
            let settings = settings::Settings::load(&args)?;
            serve::run(settings)
        }
        cli::Command::Gc(args) => gc::run(&args),
    }
}
