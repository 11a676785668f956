//! The `palisade` command line. Errors are classified here, at the edge: a bad input or
//! configuration exits 1 with a message saying what, where and what to do.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(&args.log);
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
