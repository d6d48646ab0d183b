//! The `edgefeat` binary: parses the command line and hands it to [`edgefeat::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = edgefeat::cli::Cli::parse();
    match edgefeat::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`edgefeat registry-dump | head -1`): nothing is
        // wrong, and nobody is left to tell; exit quietly, as ripgrep and coreutils do.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<edgefeat::cli::Reported>() {
                Some(summary) => eprintln!("{summary}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
