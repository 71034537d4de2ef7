//! `sandbox-cri-client`: sends one of the calls the kubelet makes to start and end a pod sandbox
//! to a CRI runtime (containerd's CRI plugin) over its unix socket, and prints the answer as one
//! JSON line.
//!
//! It serves the image test (`tests/integration/image.rs`), which runs it as a process, so that
//! the gRPC stack (tonic, tokio, k8s-cri) is built and linked into this binary alone and not into
//! the test binary every black-box test shares. It makes one call per run because the test looks
//! at the host between calls: at the sandbox's pause while it runs, and for its absence after
//! `StopPodSandbox`.
//!
//! # Output
//!
//! Exactly one line on stdout: a JSON object with `call` (the subcommand, with `_` for `-`),
//! `ok`, and `took_ms` (wall time of the call, connecting included). If `ok` is true, the
//! answer's fields follow:
//!
//! | call | fields |
//! |---|---|
//! | `version` | `runtime_name`, `runtime_version`, `runtime_api_version` |
//! | `image_status` | `image`: `null` if the runtime does not know it, else `{id, repo_tags, repo_digests, size, pinned}` |
//! | `run_pod_sandbox` | `pod_sandbox_id` |
//! | `pod_sandbox_status` | `id`, `state` (`SANDBOX_READY` or `SANDBOX_NOTREADY`), `created_at` (ns), `info` (the runtime's map of JSON strings; empty unless `--verbose`) |
//! | `stop_pod_sandbox`, `remove_pod_sandbox` | none |
//!
//! If `ok` is false, `error` is `{code, message}`: the name of the gRPC status code (`NotFound`,
//! `Unavailable`: also when nothing listens on the socket, ...) and the runtime's message. `code`
//! is `null` only if no call could be made at all (the async runtime failed to start).
//!
//! # Exit status
//!
//! 0 the call succeeded, 1 it failed (the line says how), 2 bad usage (clap's message on stderr,
//! nothing on stdout).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ImageSpec, ImageStatusRequest, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata, PodSandboxState,
    PodSandboxStatusRequest, RemovePodSandboxRequest, RunPodSandboxRequest, StopPodSandboxRequest,
    VersionRequest,
};
use serde_json::{Map, Value, json};
use tonic::transport::{Channel, Endpoint, Uri};

/// Sends one CRI call to a container runtime and prints the answer as one JSON line
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The runtime's CRI socket (containerd: the `address` of its `[grpc]` section)
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    #[command(subcommand)]
    call: Call,
}

#[derive(Subcommand)]
enum Call {
    /// Version: the runtime's name and versions
    Version,
    /// ImageStatus: what the runtime knows of an image (it pulls nothing)
    ImageStatus(ImageStatusArgs),
    /// RunPodSandbox: creates and starts a pod sandbox from the runtime's sandbox image
    RunPodSandbox(RunPodSandboxArgs),
    /// PodSandboxStatus: the state of a pod sandbox
    PodSandboxStatus(PodSandboxStatusArgs),
    /// StopPodSandbox: stops the processes of a pod sandbox
    StopPodSandbox(SandboxId),
    /// RemovePodSandbox: removes a pod sandbox
    RemovePodSandbox(SandboxId),
}

impl Call {
    /// The name of the call in the output.
    fn name(&self) -> &'static str {
        match self {
            Call::Version => "version",
            Call::ImageStatus(_) => "image_status",
            Call::RunPodSandbox(_) => "run_pod_sandbox",
            Call::PodSandboxStatus(_) => "pod_sandbox_status",
            Call::StopPodSandbox(_) => "stop_pod_sandbox",
            Call::RemovePodSandbox(_) => "remove_pod_sandbox",
        }
    }
}

#[derive(Args)]
struct ImageStatusArgs {
    /// The image reference
    image: String,
    /// Asks again every 10 ms until the runtime knows the image or SECONDS have passed (the CRI
    /// image store learns of images imported with `ctr` through events, a moment later)
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
}

#[derive(Args)]
struct RunPodSandboxArgs {
    /// The pod's name (metadata)
    #[arg(long)]
    name: String,
    /// The pod's UID (metadata)
    #[arg(long)]
    uid: String,
    /// The pod's Kubernetes namespace (metadata)
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Where the runtime puts the logs of the pod's containers
    #[arg(long, value_name = "DIR")]
    log_directory: String,
    /// The parent of the sandbox's cgroup, as the runtime's cgroup driver spells it
    #[arg(long, value_name = "CGROUP", default_value = "")]
    cgroup_parent: String,
    /// Whose network namespace the sandbox uses
    #[arg(long, value_enum, default_value_t = Mode::Pod)]
    network: Mode,
    /// Whose PID namespace the sandbox uses
    #[arg(long, value_enum, default_value_t = Mode::Pod)]
    pid: Mode,
    /// Whose IPC namespace the sandbox uses
    #[arg(long, value_enum, default_value_t = Mode::Pod)]
    ipc: Mode,
    /// The runtime handler (empty: the runtime's default)
    #[arg(long, default_value = "")]
    runtime_handler: String,
}

/// A namespace's owner, as in the CRI's `NamespaceMode` (`TARGET` is left out: it needs a
/// container to target).
#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// The pod's own
    Pod,
    /// Each container's own
    Container,
    /// The node's
    Node,
}

impl From<Mode> for NamespaceMode {
    fn from(mode: Mode) -> NamespaceMode {
        match mode {
            Mode::Pod => NamespaceMode::Pod,
            Mode::Container => NamespaceMode::Container,
            Mode::Node => NamespaceMode::Node,
        }
    }
}

#[derive(Args)]
struct PodSandboxStatusArgs {
    /// The pod sandbox's ID
    id: String,
    /// Asks for the runtime's extra information (`info`), such as the sandbox's PID and image
    #[arg(long)]
    verbose: bool,
}

#[derive(Args)]
struct SandboxId {
    /// The pod sandbox's ID
    id: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.call.name();
    let started = Instant::now();
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime
            .block_on(call(cli.socket, cli.call))
            // `Code`'s `Debug` is the variant's name, the gRPC code's name in CamelCase.
            .map_err(|status| json!({"code": format!("{:?}", status.code()), "message": status.message()})),
        Err(error) => Err(json!({
            "code": null,
            "message": format!("starting the async runtime: {error}"),
        })),
    };
    let mut line = Map::new();
    line.insert("call".into(), name.into());
    line.insert("ok".into(), result.is_ok().into());
    // Whole microseconds: finer is noise, and it keeps the printed number short.
    let took_ms = started.elapsed().as_micros() as f64 / 1000.0;
    line.insert("took_ms".into(), took_ms.into());
    let code = match result {
        Ok(Value::Object(fields)) => {
            line.extend(fields);
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            line.insert("error".into(), error);
            ExitCode::FAILURE
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{}", Value::Object(line)).and_then(|()| stdout.flush()) {
        eprintln!("sandbox-cri-client: writing the result to stdout: {error}");
        return ExitCode::FAILURE;
    }
    code
}

/// Makes the call; its answer's fields, as a JSON object.
async fn call(socket: PathBuf, call: Call) -> Result<Value, tonic::Status> {
    let channel = connect(socket);
    let mut runtime = RuntimeServiceClient::new(channel.clone());
    Ok(match call {
        Call::Version => {
            let version = runtime
                .version(VersionRequest::default())
                .await?
                .into_inner();
            json!({
                "runtime_name": version.runtime_name,
                "runtime_version": version.runtime_version,
                "runtime_api_version": version.runtime_api_version,
            })
        }
        Call::ImageStatus(args) => {
            let mut images = ImageServiceClient::new(channel);
            let deadline = Instant::now() + Duration::from_secs(args.wait);
            let request = ImageStatusRequest {
                image: Some(ImageSpec {
                    image: args.image,
                    ..Default::default()
                }),
                verbose: false,
            };
            let image = loop {
                let image = images
                    .image_status(request.clone())
                    .await?
                    .into_inner()
                    .image;
                if image.is_some() || Instant::now() >= deadline {
                    break image;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            json!({
                "image": image.map(|image| json!({
                    "id": image.id,
                    "repo_tags": image.repo_tags,
                    "repo_digests": image.repo_digests,
                    "size": image.size,
                    "pinned": image.pinned,
                })),
            })
        }
        Call::RunPodSandbox(args) => {
            let config = PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: args.name,
                    uid: args.uid,
                    namespace: args.namespace,
                    attempt: 0,
                }),
                log_directory: args.log_directory,
                linux: Some(LinuxPodSandboxConfig {
                    cgroup_parent: args.cgroup_parent,
                    security_context: Some(LinuxSandboxSecurityContext {
                        namespace_options: Some(NamespaceOption {
                            network: NamespaceMode::from(args.network) as i32,
                            pid: NamespaceMode::from(args.pid) as i32,
                            ipc: NamespaceMode::from(args.ipc) as i32,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let sandbox = runtime
                .run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(config),
                    runtime_handler: args.runtime_handler,
                })
                .await?
                .into_inner();
            json!({"pod_sandbox_id": sandbox.pod_sandbox_id})
        }
        Call::PodSandboxStatus(args) => {
            let response = runtime
                .pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: args.id,
                    verbose: args.verbose,
                })
                .await?
                .into_inner();
            let status = response.status.as_ref();
            json!({
                "id": status.map(|status| status.id.as_str()),
                "state": status.map(|status| state_name(status.state)),
                "created_at": status.map(|status| status.created_at),
                "info": response.info,
            })
        }
        Call::StopPodSandbox(args) => {
            runtime
                .stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: args.id,
                })
                .await?;
            json!({})
        }
        Call::RemovePodSandbox(args) => {
            runtime
                .remove_pod_sandbox(RemovePodSandboxRequest {
                    pod_sandbox_id: args.id,
                })
                .await?;
            json!({})
        }
    })
}

/// A channel to the runtime's unix socket. It connects at the first call, so that a socket
/// nobody listens on fails that call with `Unavailable`, reported like any other failure.
fn connect(socket: PathBuf) -> Channel {
    // The URI is required by the API but unused: the connector dials the socket.
    Endpoint::from_static("http://[::1]:0").connect_with_connector_lazy(tower::service_fn(
        move |_: Uri| {
            let socket = socket.clone();
            async move {
                match tokio::net::UnixStream::connect(&socket).await {
                    Ok(stream) => Ok(TokioIo::new(stream)),
                    Err(error) => Err(std::io::Error::new(
                        error.kind(),
                        format!("connecting to {}: {error}", socket.display()),
                    )),
                }
            }
        },
    ))
}

/// The protobuf name of a sandbox state (`SANDBOX_READY`), or the number if it has none.
fn state_name(state: i32) -> String {
    PodSandboxState::try_from(state)
        .map_or_else(|_| state.to_string(), |state| state.as_str_name().into())
}
