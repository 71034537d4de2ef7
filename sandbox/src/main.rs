//! `sandbox`: parses the command line, calls the library, prints the result. Every failure of
//! sandbox itself prints one line, the error chain, and exits 125.

mod cli;

/// dlmalloc instead of musl's allocator, which unmaps freed memory at once: a command that runs
/// for a millisecond spent half its CPU time on the page faults of that churn.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(125)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cli::logger::init(match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "sandbox: {}",
                sandbox::error_chain(&error)
            );
            ExitCode::from(error.exit_code())
        }
    }
}
