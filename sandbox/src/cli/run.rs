//! `sandbox run POD --name C [--image IMAGE | --rootfs DIR] [OPTIONS] [-- CMD]`: start a
//! container, print its name.

use std::path::PathBuf;

use sandbox::container::{OciOptions, RootfsOption};
use sandbox::{Host, Result, RunOptions};

/// `run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --image or --rootfs, the container is a process of the host joined to the pod's \
namespaces. With either, it is an OCI container created by runc or crun (--runtime): its own \
root file system, mount and PID namespaces (the pod's PID namespace with `create --share-pid`), \
the pod's NET, IPC and UTS namespaces, /dev/shm and /etc/hosts. Its image's config gives the \
defaults: -- CMD replaces its Cmd, --entrypoint its Entrypoint, --env entries override its \
Env, and its WorkingDir, User and StopSignal apply unless --workdir, --user or --stop-signal \
are given.")]
pub struct Args {
    /// Pod name.
    pub pod: String,
    /// Container name (same rules as pod names).
    #[arg(long = "name")]
    pub name: String,
    /// Run an OCI image: `oci:DIR[:TAG]` (an OCI image layout, as skopeo and umoci write it) or
    /// `oci-archive:FILE[:TAG]`, pulled (its layers unpacked once into the store under --root);
    /// or the name (`nginx:1.25`, see `sandbox load`) or digest of an image in the store.
    #[arg(long, value_name = "IMAGE", conflicts_with = "rootfs")]
    pub image: Option<String>,
    /// Use a directory as the container's root file system (as it is: what the container
    /// writes goes there).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Replace the image's Entrypoint (with no CMD, the image's Cmd is dropped too).
    #[arg(long, value_name = "PATH")]
    pub entrypoint: Option<String>,
    /// Mount the container's root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Signal `stop` sends first: a name (SIGQUIT, QUIT) or a number [default: the image's
    /// StopSignal, else SIGTERM].
    #[arg(long)]
    pub stop_signal: Option<String>,
    #[command(flatten)]
    pub process: super::Process,
    /// Limits of the container (its cgroup, below its pod's).
    #[command(flatten)]
    pub limits: super::LimitArgs,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let stop_signal = args
        .stop_signal
        .as_deref()
        .map(sandbox::exit::parse_signal)
        .transpose()?;
    let rootfs = match (args.image, args.rootfs) {
        (Some(reference), _) => Some(RootfsOption::Image(reference)),
        (None, Some(dir)) => Some(RootfsOption::Directory(dir)),
        (None, None) => None,
    };
    if rootfs.is_none() && (args.entrypoint.is_some() || args.read_only) {
        return Err(sandbox::Error::InvalidInput {
            what: "option",
            value: if args.read_only {
                "--read-only".to_owned()
            } else {
                "--entrypoint".to_owned()
            },
            reason: "applies to OCI containers only: give --image or --rootfs".to_owned(),
        });
    }
    let oci = rootfs.map(|rootfs| OciOptions {
        rootfs,
        entrypoint: args.entrypoint.map(|entrypoint| vec![entrypoint]),
        run_as_user: None,
        run_as_group: None,
        read_only: args.read_only,
    });
    let status = host.run_container(
        &args.pod,
        &RunOptions {
            name: args.name,
            command: args.process.into_spec()?,
            stop_signal,
            pre_stop: None,
            oci,
            limits: args.limits.limits(),
        },
    )?;
    println!("{}", status.name);
    Ok(0)
}
