//! A typed Pod into what `play` makes of it: the options of `create` for the pod, and of `run`
//! for each init container and container, with the kubelet's defaults. Every problem is
//! reported by its field path, all of them at once.

use k8s_openapi::api::core::v1::{Container, Pod};

use std::collections::HashMap;

use super::{expand, quantity};
use crate::command::CommandSpec;
use crate::container::{OciOptions, RootfsOption, RunOptions};
use crate::image::ImageQuery;
use crate::limits::{self, Limits};
use crate::network::{PortMapping, Protocol};
use crate::pod::CreateOptions;
use crate::policy::stop::PreStopHook;
use crate::state::pod::DEFAULT_GRACE_PERIOD;

/// What `play` makes of one Pod.
#[derive(Debug, Clone)]
pub struct PodPlan {
    /// The pod (its grace period included).
    pub create: CreateOptions,
    /// Its init containers, run to completion one after the other, in order.
    pub init_containers: Vec<RunOptions>,
    /// Its containers, started once the init containers have all exited 0.
    pub containers: Vec<RunOptions>,
}

/// The problems found, each `PATH: reason`.
type Problems = Vec<String>;

/// A Pod, translated.
pub(super) struct Translated {
    /// What `play` makes of it.
    pub plan: PodPlan,
    /// The fields whose value `play` does not support (`spec.restartPolicy: "Always" ...`).
    pub unsupported: Vec<String>,
    /// What differs from Kubernetes without being asked for (an unset `restartPolicy`).
    pub notes: Vec<String>,
}

/// Translates `pod`; `network` is the network its pods join.
pub(super) fn pod(pod: &Pod, network: Option<&str>) -> Result<Translated, Problems> {
    let mut problems = Problems::new();
    let mut unsupported = Vec::new();
    let mut notes = Vec::new();
    let name = pod.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        problems.push("metadata.name: a Pod needs a name".to_owned());
    } else if let Err(error) = crate::state::validate_name("sandbox name", &name) {
        problems.push(format!("metadata.name: {error}"));
    }
    let spec = pod.spec.clone().unwrap_or_default();
    if let Some(hostname) = &spec.hostname {
        if let Err(error) = crate::pod::validate_hostname(hostname, false) {
            problems.push(format!("spec.hostname: {error}"));
        }
    } else if !name.is_empty()
        && let Err(error) = crate::pod::validate_hostname(&name, true)
    {
        problems.push(format!(
            "metadata.name: {error} (in a manifest: set spec.hostname)"
        ));
    }
    match spec.restart_policy.as_deref() {
        Some("Never") => {}
        // Kubernetes' default, which play cannot honour either: said, not refused, since most
        // manifests leave it out.
        None => notes.push(
            "spec.restartPolicy: not set, which in Kubernetes means Always; play does not \
             restart containers (set Never to say so)"
                .to_owned(),
        ),
        Some(policy) => unsupported.push(format!(
            "spec.restartPolicy: {policy:?} is not supported: containers are not restarted \
             (Never)"
        )),
    }
    let grace_period_seconds = match spec.termination_grace_period_seconds {
        None => None,
        Some(seconds) => match u32::try_from(seconds) {
            Ok(seconds) => Some(u64::from(seconds)),
            Err(_) => {
                problems.push(format!(
                    "spec.terminationGracePeriodSeconds: {seconds} is not a number of seconds \
                     from 0 to {}",
                    u32::MAX
                ));
                None
            }
        },
    };
    if spec.containers.is_empty() {
        problems.push("spec.containers: a Pod needs at least one container".to_owned());
    }

    let mut publish = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut translate_all = |list: &[Container], field: &str, init: bool| {
        let mut runs = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let path = format!("spec.{field}[{i}]");
            if seen.contains(&c.name) {
                problems.push(format!(
                    "{path}.name: {:?} is the name of another container of the pod",
                    c.name
                ));
            }
            seen.push(c.name.clone());
            let grace = grace_period_seconds.unwrap_or(DEFAULT_GRACE_PERIOD.as_secs());
            match container(
                c,
                &path,
                init,
                grace,
                network,
                &mut publish,
                &mut unsupported,
            ) {
                Ok(run) => runs.push(run),
                Err(reasons) => problems.extend(reasons),
            }
        }
        runs
    };
    let init_containers = translate_all(
        spec.init_containers.as_deref().unwrap_or_default(),
        "initContainers",
        true,
    );
    let containers = translate_all(&spec.containers, "containers", false);
    if !problems.is_empty() {
        return Err(problems);
    }
    let plan = PodPlan {
        create: CreateOptions {
            name,
            hostname: spec.hostname.clone(),
            share_pid: spec.share_process_namespace.unwrap_or(false),
            limits: Limits::default(),
            cgroup_parent: None,
            network: network.map(str::to_owned),
            publish,
            grace_period_seconds,
        },
        init_containers,
        containers,
    };
    Ok(Translated {
        plan,
        unsupported,
        notes,
    })
}

/// One container at `path`: its `run` options; its host ports go to `publish`.
fn container(
    c: &Container,
    path: &str,
    init: bool,
    grace_period_seconds: u64,
    network: Option<&str>,
    publish: &mut Vec<PortMapping>,
    unsupported: &mut Vec<String>,
) -> Result<RunOptions, Problems> {
    let mut problems = Problems::new();
    if let Err(error) = crate::state::validate_name("container name", &c.name) {
        problems.push(format!("{path}.name: {error}"));
    }
    let image = match c.image.as_deref() {
        Some(image) if !image.trim().is_empty() => {
            if let Err(error) = ImageQuery::parse(image) {
                problems.push(format!("{path}.image: {error}"));
            }
            image.to_owned()
        }
        _ => {
            problems.push(format!("{path}.image: a container needs an image"));
            String::new()
        }
    };
    let mut env = Vec::new();
    for (i, var) in c.env.iter().flatten().enumerate() {
        if var.name.is_empty() || var.name.contains(['=', '\0']) {
            problems.push(format!(
                "{path}.env[{i}].name: {:?} is not a variable name (not empty, no '=')",
                var.name
            ));
        }
        let value = var.value.clone().unwrap_or_default();
        if value.contains('\0') {
            problems.push(format!("{path}.env[{i}].value: contains a NUL byte"));
        }
        env.push((var.name.clone(), value));
    }
    // $(VAR) references, as the kubelet expands them.
    let env = expand::environment(&env);
    let defined: HashMap<String, String> = env.iter().cloned().collect();
    let expanded = |list: &Option<Vec<String>>| {
        list.as_ref().filter(|list| !list.is_empty()).map(|list| {
            list.iter()
                .map(|word| expand::expand(word, &defined))
                .collect()
        })
    };
    let id = |value: Option<i64>, field: &str, problems: &mut Problems| {
        value.and_then(|id| match u32::try_from(id) {
            Ok(id) if id != u32::MAX => Some(id),
            _ => {
                problems.push(format!(
                    "{path}.securityContext.{field}: {id} is not a valid ID (0 to 4294967294)"
                ));
                None
            }
        })
    };
    let security = c.security_context.clone().unwrap_or_default();
    let run_as_user = id(security.run_as_user, "runAsUser", &mut problems);
    let run_as_group = id(security.run_as_group, "runAsGroup", &mut problems);

    let pre_stop = match c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
        None => None,
        Some(_) if init => {
            problems.push(format!(
                "{path}.lifecycle: init containers may not have lifecycle hooks"
            ));
            None
        }
        Some(handler) => match (&handler.exec, &handler.sleep) {
            (Some(exec), None) => match exec.command.as_deref() {
                Some(command) if !command.is_empty() && !command[0].is_empty() => {
                    Some(PreStopHook::Exec {
                        command: command.to_vec(),
                    })
                }
                _ => {
                    problems.push(format!(
                        "{path}.lifecycle.preStop.exec.command: needs a command"
                    ));
                    None
                }
            },
            (None, Some(sleep)) => match u64::try_from(sleep.seconds) {
                // As the API server validates it: a sleep may not outlast the grace period.
                Ok(seconds) if seconds > grace_period_seconds => {
                    problems.push(format!(
                        "{path}.lifecycle.preStop.sleep.seconds: {seconds} is more than the \
                         pod's terminationGracePeriodSeconds ({grace_period_seconds})"
                    ));
                    None
                }
                Ok(seconds) => Some(PreStopHook::Sleep { seconds }),
                Err(_) => {
                    problems.push(format!(
                        "{path}.lifecycle.preStop.sleep.seconds: must not be negative"
                    ));
                    None
                }
            },
            // httpGet and tcpSocket are reported as unsupported fields.
            (None, None) => None,
            (Some(_), Some(_)) => {
                problems.push(format!(
                    "{path}.lifecycle.preStop: give one handler (exec or sleep), not both"
                ));
                None
            }
        },
    };

    let mut limits = Limits::default();
    let given = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    if let Some(memory) = given.and_then(|l| l.get("memory")) {
        match quantity::bytes(&memory.0) {
            Ok(bytes) if bytes >= limits::MIN_MEMORY_BYTES => limits.memory_bytes = Some(bytes),
            Ok(bytes) => problems.push(format!(
                "{path}.resources.limits.memory: {bytes} bytes is below the minimum of 6Mi"
            )),
            Err(reason) => problems.push(format!(
                "{path}.resources.limits.memory: {:?}: {reason}",
                memory.0
            )),
        }
    }
    if let Some(cpu) = given.and_then(|l| l.get("cpu")) {
        match quantity::millicpus(&cpu.0) {
            Ok(millis) if millis >= limits::MIN_MILLICPUS => limits.millicpus = Some(millis),
            Ok(_) => problems.push(format!(
                "{path}.resources.limits.cpu: at least 10m (the kernel's smallest quota is 1 ms)"
            )),
            Err(reason) => problems.push(format!(
                "{path}.resources.limits.cpu: {:?}: {reason}",
                cpu.0
            )),
        }
    }

    for (i, port) in c.ports.iter().flatten().enumerate() {
        let at = format!("{path}.ports[{i}]");
        let number = |value: i32, field: &str, problems: &mut Problems| match u16::try_from(value) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                problems.push(format!("{at}.{field}: {value} is not a port (1 to 65535)"));
                None
            }
        };
        let container_port = number(port.container_port, "containerPort", &mut problems);
        let protocol = match port.protocol.as_deref() {
            None | Some("TCP") => Protocol::Tcp,
            Some("UDP") => Protocol::Udp,
            Some(other) => {
                unsupported.push(format!(
                    "{at}.protocol: {other:?} is not supported (TCP and UDP are)"
                ));
                continue;
            }
        };
        // 0 is "not set", as in Kubernetes.
        let Some(host_port) = port.host_port.filter(|&port| port != 0) else {
            continue;
        };
        let host_port = number(host_port, "hostPort", &mut problems);
        if network.is_none() {
            problems.push(format!(
                "{at}.hostPort: a host port needs a pod network: give `play --network NET` \
                 (such as bridge)"
            ));
            continue;
        }
        let host_ip = match port.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
            None => None,
            Some(text) => match text.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    problems.push(format!("{at}.hostIP: {text:?} is not an IP address"));
                    None
                }
            },
        };
        if let (Some(host_port), Some(container_port)) = (host_port, container_port) {
            publish.push(PortMapping {
                host_port,
                container_port,
                protocol,
                host_ip,
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RunOptions {
        name: c.name.clone(),
        command: CommandSpec {
            argv: expanded(&c.args).unwrap_or_default(),
            env,
            workdir: c.working_dir.clone().filter(|dir| !dir.is_empty()),
            ..CommandSpec::default()
        },
        stop_signal: None,
        pre_stop,
        oci: Some(OciOptions {
            rootfs: RootfsOption::Image(image),
            entrypoint: expanded(&c.command),
            read_only: false,
            run_as_user,
            run_as_group,
        }),
        limits,
    })
}
