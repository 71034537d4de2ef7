//! Which fields of a Pod `play` acts on, and the walk that reports every other field set in a
//! manifest, by its path (`spec.containers[0].livenessProbe.httpGet`), so that nothing is
//! dropped silently.
//!
//! A field counts as set when it holds something: `null`, `{}` and `[]` ask for nothing (tools
//! that print Pods write `resources: {}`), so they are never reported.

use serde_json::Value;

/// The shape of the part of a manifest `play` knows.
#[derive(Debug)]
pub enum Shape {
    /// A field `play` acts on, whatever it holds.
    Used,
    /// A field `play` accepts and ignores: it only describes (labels, annotations,
    /// imagePullPolicy, what a cluster reports).
    Described,
    /// An object of which these fields are known; every other one is not supported.
    Object(&'static [(&'static str, Shape)]),
    /// A list of values of one shape.
    List(&'static Shape),
}

use Shape::{Described, List, Object, Used};

const PRE_STOP: Shape = Object(&[
    ("exec", Object(&[("command", Used)])),
    ("sleep", Object(&[("seconds", Used)])),
]);

const CONTAINER: Shape = Object(&[
    ("name", Used),
    ("image", Used),
    ("imagePullPolicy", Described),
    ("command", Used),
    ("args", Used),
    ("env", List(&Object(&[("name", Used), ("value", Used)]))),
    ("workingDir", Used),
    (
        "securityContext",
        Object(&[("runAsUser", Used), ("runAsGroup", Used)]),
    ),
    ("lifecycle", Object(&[("preStop", PRE_STOP)])),
    (
        "resources",
        Object(&[("limits", Object(&[("memory", Used), ("cpu", Used)]))]),
    ),
    (
        "ports",
        List(&Object(&[
            ("containerPort", Used),
            ("hostPort", Used),
            ("hostIP", Used),
            ("protocol", Used),
            ("name", Described),
        ])),
    ),
]);

/// What `play` knows of a Pod.
pub const POD: Shape = Object(&[
    ("apiVersion", Used),
    ("kind", Used),
    (
        "metadata",
        Object(&[
            ("name", Used),
            ("namespace", Described),
            ("labels", Described),
            ("annotations", Described),
            ("uid", Described),
            ("resourceVersion", Described),
            ("generation", Described),
            ("creationTimestamp", Described),
            ("managedFields", Described),
        ]),
    ),
    (
        "spec",
        Object(&[
            ("containers", List(&CONTAINER)),
            ("initContainers", List(&CONTAINER)),
            ("hostname", Used),
            ("shareProcessNamespace", Used),
            ("terminationGracePeriodSeconds", Used),
            ("restartPolicy", Used),
        ]),
    ),
    ("status", Described),
]);

/// Whether a value asks for nothing.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        _ => false,
    }
}

/// Appends `key` to a field path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The paths of the fields set in `value` that `shape` does not know, below `path`.
pub fn unsupported(value: &Value, shape: &Shape, path: &str, found: &mut Vec<String>) {
    match (shape, value) {
        (Used | Described, _) => {}
        (Object(fields), Value::Object(map)) => {
            for (key, value) in map {
                if is_empty(value) {
                    continue;
                }
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, shape)) => unsupported(value, shape, &join(path, key), found),
                    None => found.push(join(path, key)),
                }
            }
        }
        (List(shape), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                unsupported(item, shape, &format!("{path}[{i}]"), found);
            }
        }
        // A value of the wrong type is the schema check's to report.
        _ => {}
    }
}

/// A path as `serde_ignored` gives it, the way this module writes paths:
/// `spec.containers[0].comand`.
pub fn path_of(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_of(parent)),
        Path::Map { parent, key } => join(&path_of(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_of(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_field_is_reported_by_its_path() {
        let pod = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}, "generateName": "x"},
            "spec": {
                "volumes": [{"name": "data"}],
                "dnsPolicy": null,
                "nodeSelector": {},
                "containers": [
                    {"name": "a", "image": "busybox", "resources": {}},
                    {
                        "name": "b",
                        "image": "busybox",
                        "livenessProbe": {"httpGet": {"port": 80}},
                        "lifecycle": {"preStop": {"httpGet": {"port": 80}}, "postStart": {"exec": {}}},
                        "resources": {"limits": {"memory": "64Mi", "ephemeral-storage": "1Gi"}, "requests": {"cpu": "1"}}
                    }
                ]
            }
        });
        let mut found = Vec::new();
        unsupported(&pod, &POD, "", &mut found);
        found.sort();
        assert_eq!(
            found,
            [
                "metadata.generateName",
                "spec.containers[1].lifecycle.postStart",
                "spec.containers[1].lifecycle.preStop.httpGet",
                "spec.containers[1].livenessProbe",
                "spec.containers[1].resources.limits.ephemeral-storage",
                "spec.containers[1].resources.requests",
                "spec.volumes",
            ]
        );
    }
}
