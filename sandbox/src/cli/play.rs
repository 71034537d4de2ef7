//! `sandbox play [--down] [--network NET] [--ignore-unsupported] [--json] FILE`: run the pods
//! of a Kubernetes manifest, or stop and remove them.

use std::io::Read;
use std::path::PathBuf;

use sandbox::{Error, Host, Result};

/// `play`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Supported, with the kubelet's defaults: metadata.name; spec.hostname, shareProcessNamespace, \
terminationGracePeriodSeconds (default 30; the pod keeps it for `stop` without -t), \
restartPolicy Never (left out, Kubernetes' Always, it is a warning: nothing is restarted), \
initContainers (run to completion, in order, before the containers) and \
containers: name, image, command (replaces the image's Entrypoint), args (its Cmd), \
env name/value, workingDir ($(VAR) in command, args and env expanded as the kubelet does), securityContext.runAsUser/runAsGroup, lifecycle.preStop.exec.command \
and .sleep.seconds, resources.limits.memory/cpu, ports containerPort/hostPort/hostIP/protocol \
(a hostPort needs --network). Labels, annotations, imagePullPolicy and a Pod's status are \
accepted and ignored.

An image is `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, or a name in the image store (put there \
by `sandbox load`). On `stop`, each container's preStop hook runs first; its time counts \
against the grace period, and a hook still running when it ends gets 2 s more before SIGKILL, \
as the kubelet gives.")]
pub struct Args {
    /// The manifest: one or more v1 Pods (YAML documents separated by ---, or a v1 List); `-`
    /// reads stdin.
    pub file: PathBuf,
    /// Stop every pod of the manifest (each with its grace period and preStop hooks, all at
    /// once) and remove it.
    #[arg(long)]
    pub down: bool,
    /// The network of the manifest's pods, as `create --network` takes it [default: none].
    #[arg(long, value_name = "NET", conflicts_with = "down")]
    pub network: Option<String>,
    /// Run the manifest without the fields sandbox does not support, warning about each,
    /// instead of refusing it.
    #[arg(long, conflicts_with = "down")]
    pub ignore_unsupported: bool,
    /// Print the pods (up), or each pod's stop report or `{"pod", "error"}` (down), as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let (text, file) = read(&args.file)?;
    if args.down {
        return down(host, &text, &file, args.json);
    }
    let manifest = sandbox::manifest::parse(&text, &file, args.network.as_deref())?;
    for note in &manifest.notes {
        log::warn!("{file}: {note}");
    }
    if !manifest.unsupported.is_empty() {
        if !args.ignore_unsupported {
            return Err(Error::ManifestUnsupported {
                file,
                fields: manifest.unsupported,
            });
        }
        for field in &manifest.unsupported {
            log::warn!("{file}: {field}; ignored (--ignore-unsupported)");
        }
    }
    let pods = host.play(&manifest.pods)?;
    if args.json {
        super::print_json(&pods)?;
    } else {
        for pod in &pods {
            println!("{}", pod.name);
        }
    }
    Ok(0)
}

fn down(host: &Host, text: &str, file: &str, json: bool) -> Result<u8> {
    let names = sandbox::manifest::pod_names(text, file)?;
    let mut failed = 0;
    let mut entries = Vec::new();
    for (pod, result) in host.play_down(&names) {
        match result {
            Ok(report) => {
                if !json {
                    println!("{pod}:");
                    super::stop::print_report(&report);
                }
                entries.push(serde_json::to_value(&report).unwrap_or_default());
            }
            Err(error) => {
                failed += 1;
                let message = sandbox::error_chain(&error);
                log::error!("{message}");
                entries.push(serde_json::json!({ "pod": pod, "error": message }));
            }
        }
    }
    if json {
        super::print_json(&entries)?;
    }
    Ok(if failed > 0 { 125 } else { 0 })
}

/// The manifest's text, and its name for messages.
fn read(path: &std::path::Path) -> Result<(String, String)> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| Error::Io {
                what: "reading the manifest from stdin".to_owned(),
                source,
            })?;
        return Ok((text, "-".to_owned()));
    }
    let name = path.display().to_string();
    text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        what: format!("reading manifest {name}"),
        source,
    })?;
    Ok((text, name))
}
