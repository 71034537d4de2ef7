use super::*;
use crate::container::RootfsOption;
use crate::policy::stop::PreStopHook;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 3
  shareProcessNamespace: true
  hostname: front
  initContainers:
  - name: setup
    image: busybox:1.36
    command: ["sh", "-c", "echo ready"]
  containers:
  - name: app
    image: oci:/images/busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh"]
    args: ["-c", "sleep 1000"]
    env:
    - {name: A, value: "1"}
    - name: EMPTY
    workingDir: /tmp
    securityContext: {runAsUser: 1000, runAsGroup: 100}
    lifecycle:
      preStop:
        exec: {command: ["touch", "/tmp/stopping"]}
    resources:
      limits: {memory: 64Mi, cpu: 500m}
    ports:
    - {containerPort: 80, hostPort: 8080}
  - name: side
    image: busybox
    args: ["top"]
    lifecycle: {preStop: {sleep: {seconds: 2}}}
"#;

fn problems(text: &str, network: Option<&str>) -> Vec<String> {
    match parse(text, "pod.yaml", network) {
        Err(Error::Manifest { file, problems }) => {
            assert_eq!(file, "pod.yaml");
            problems
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_pod_becomes_create_and_run_options_with_the_kubelets_meaning() {
    let manifest = parse(POD, "pod.yaml", Some("bridge")).unwrap();
    assert!(
        manifest.unsupported.is_empty(),
        "{:?}",
        manifest.unsupported
    );
    let [plan] = &manifest.pods[..] else {
        panic!("one pod expected");
    };
    assert_eq!(plan.create.name, "web");
    assert_eq!(plan.create.hostname.as_deref(), Some("front"));
    assert!(plan.create.share_pid);
    assert_eq!(plan.create.grace_period_seconds, Some(3));
    assert_eq!(plan.create.network.as_deref(), Some("bridge"));
    assert_eq!(plan.create.publish.len(), 1);
    assert_eq!(plan.create.publish[0].host_port, 8080);
    assert_eq!(plan.create.publish[0].container_port, 80);

    assert_eq!(plan.init_containers.len(), 1);
    let [app, side] = &plan.containers[..] else {
        panic!("two containers expected");
    };
    let oci = app.oci.as_ref().unwrap();
    // command replaces the Entrypoint, args the Cmd.
    assert_eq!(oci.entrypoint.as_deref(), Some(&["/bin/sh".to_owned()][..]));
    assert_eq!(app.command.argv, ["-c", "sleep 1000"]);
    assert!(matches!(&oci.rootfs, RootfsOption::Image(i) if i == "oci:/images/busybox:1.36"));
    assert_eq!((oci.run_as_user, oci.run_as_group), (Some(1000), Some(100)));
    assert_eq!(
        app.command.env,
        [("A".into(), "1".into()), ("EMPTY".into(), String::new())]
    );
    assert_eq!(app.command.workdir.as_deref(), Some("/tmp"));
    assert_eq!(app.limits.memory_bytes, Some(64 << 20));
    assert_eq!(app.limits.millicpus, Some(500));
    assert_eq!(
        app.pre_stop,
        Some(PreStopHook::Exec {
            command: vec!["touch".into(), "/tmp/stopping".into()]
        })
    );
    // args alone keep the image's Entrypoint.
    assert_eq!(side.oci.as_ref().unwrap().entrypoint, None);
    assert_eq!(side.command.argv, ["top"]);
    assert_eq!(side.pre_stop, Some(PreStopHook::Sleep { seconds: 2 }));
}

#[test]
fn several_documents_and_lists_give_several_pods() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n---\n\
                apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: {containers: [{name: c, image: x}]}\n---\n";
    let manifest = parse(text, "pods.yaml", None).unwrap();
    let names: Vec<&str> = manifest
        .pods
        .iter()
        .map(|p| p.create.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(manifest.pods[0].create.grace_period_seconds, None);
}

#[test]
fn malformed_yaml_names_its_line_and_column() {
    let found = problems("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n", None);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("line"), "{found:?}");
}

#[test]
fn another_kind_or_version_is_refused() {
    let found = problems(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n",
        None,
    );
    assert!(
        found[0].contains("apps/v1 Deployment is not supported"),
        "{found:?}"
    );
    let found = problems("apiVersion: v2\nkind: Pod\n", None);
    assert!(found[0].contains("v2 Pod"), "{found:?}");
    let found = problems("", None);
    assert!(found[0].contains("no Pod"), "{found:?}");
}

#[test]
fn wrong_types_and_unknown_fields_name_their_field_paths() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: x\n    ports: [{containerPort: eighty}]\n";
    let found = problems(text, None);
    assert!(
        found[0].starts_with("spec.containers[0].ports[0].containerPort: "),
        "{found:?}"
    );
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: x\n    comand: [sh]\n";
    assert_eq!(
        problems(text, None),
        ["spec.containers[0].comand: unknown field: a v1 Pod has no such field"]
    );
}

#[test]
fn invalid_values_are_all_reported_at_once() {
    let text = r#"
apiVersion: v1
kind: Pod
metadata: {name: "-bad"}
spec:
  terminationGracePeriodSeconds: -1
  containers:
  - {name: c, image: x, ports: [{containerPort: 80, hostPort: 8080}]}
  - {name: c, image: "", resources: {limits: {memory: 1Mi, cpu: lots}}}
"#;
    let found = problems(text, None);
    let has = |needle: &str| found.iter().any(|p| p.contains(needle));
    assert!(has("metadata.name: invalid sandbox name"), "{found:?}");
    assert!(has("spec.terminationGracePeriodSeconds"), "{found:?}");
    assert!(
        has("spec.containers[0].ports[0].hostPort: a host port needs a pod network"),
        "{found:?}"
    );
    assert!(
        has("spec.containers[1].name: \"c\" is the name of another container"),
        "{found:?}"
    );
    assert!(
        has("spec.containers[1].image: a container needs an image"),
        "{found:?}"
    );
    assert!(
        has("spec.containers[1].resources.limits.memory"),
        "{found:?}"
    );
    assert!(has("spec.containers[1].resources.limits.cpu"), "{found:?}");
}

#[test]
fn unsupported_fields_and_values_are_listed_not_dropped() {
    let text = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a, annotations: {x: z}}
  spec:
    restartPolicy: Always
    volumes: [{name: v, emptyDir: {}}]
    containers:
    - name: c
      image: x
      livenessProbe: {httpGet: {port: 80}}
      resources: {}
      ports: [{containerPort: 9, protocol: SCTP}]
"#;
    let manifest = parse(text, "pod.yaml", None).unwrap();
    assert_eq!(
        manifest.unsupported,
        [
            "items[0].spec.containers[0].livenessProbe: not supported",
            "items[0].spec.volumes: not supported",
            "items[0].spec.restartPolicy: \"Always\" is not supported: containers are not restarted (Never)",
            "items[0].spec.containers[0].ports[0].protocol: \"SCTP\" is not supported (TCP and UDP are)",
        ]
    );
}

#[test]
fn two_pods_of_one_name_are_refused() {
    let one = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n";
    let found = problems(&format!("{one}---\n{one}"), None);
    assert_eq!(found, ["metadata.name: two pods are named \"a\""]);
}

#[test]
fn references_in_command_args_and_env_expand_from_the_containers_env() {
    let text = r#"
apiVersion: v1
kind: Pod
metadata: {name: a}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: x
    command: ["serve", "--port=$(PORT)"]
    args: ["$(URL)", "$$(PORT)", "$(UNSET)"]
    env: [{name: PORT, value: "8080"}, {name: URL, value: "http://localhost:$(PORT)/"}]
    ports: [{containerPort: 80, hostPort: 0}]
"#;
    let manifest = parse(text, "pod.yaml", None).unwrap();
    assert!(manifest.notes.is_empty(), "{:?}", manifest.notes);
    let c = &manifest.pods[0].containers[0];
    assert_eq!(
        c.oci.as_ref().unwrap().entrypoint.as_deref(),
        Some(&["serve".to_owned(), "--port=8080".to_owned()][..])
    );
    assert_eq!(
        c.command.argv,
        ["http://localhost:8080/", "$(PORT)", "$(UNSET)"]
    );
    // hostPort 0 is no host port: no network needed.
    assert!(manifest.pods[0].create.publish.is_empty());
}

#[test]
fn an_unset_restart_policy_is_noted_and_a_sleep_longer_than_the_grace_period_refused() {
    let one = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n";
    let manifest = parse(one, "pod.yaml", None).unwrap();
    assert_eq!(manifest.notes.len(), 1);
    assert!(
        manifest.notes[0].starts_with("spec.restartPolicy: not set"),
        "{:?}",
        manifest.notes
    );

    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  terminationGracePeriodSeconds: 3\n  containers: [{name: c, image: \"x@sha256:00\", lifecycle: {preStop: {sleep: {seconds: 5}}}}]\n";
    let found = problems(text, None);
    assert!(
        found
            .iter()
            .any(|p| p
                .starts_with("spec.containers[0].lifecycle.preStop.sleep.seconds: 5 is more than")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("spec.containers[0].image: ")),
        "{found:?}"
    );
}
