//! The `edgefeat` binary: parses the command line and hands it to [`edgefeat::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = edgefeat::cli::Cli::parse();
    match edgefeat::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<edgefeat::cli::Reported>() {
                Some(summary) => eprintln!("{summary}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
