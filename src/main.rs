//! The `palisade` command line. Errors are classified here, at the edge: a bad input or
//! configuration exits 1 with a message saying what, where and what to do.

mod cli;

use cli::Parser as _;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            // Usage errors exit 64 (EX_USAGE) so they never read as `analyze`'s status 2.
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(64),
            };
        }
    };
    cli::init_logging(&args.log);
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::error_chain(&error));
            ExitCode::from(1)
        }
    }
}
