//! `sandbox run POD --name C [OPTIONS] -- CMD`: start a container, print its name.

use sandbox::{Host, Result, RunOptions};

/// `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub pod: String,
    /// Container name (same rules as pod names).
    #[arg(long = "name")]
    pub name: String,
    /// Signal `stop` sends first: a name (SIGQUIT, QUIT) or a number.
    #[arg(long, default_value = "SIGTERM")]
    pub stop_signal: String,
    #[command(flatten)]
    pub process: super::Process,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let stop_signal = sandbox::exit::parse_signal(&args.stop_signal)?;
    let status = host.run_container(
        &args.pod,
        &RunOptions {
            name: args.name,
            command: args.process.into_spec()?,
            stop_signal,
        },
    )?;
    println!("{}", status.name);
    Ok(0)
}
