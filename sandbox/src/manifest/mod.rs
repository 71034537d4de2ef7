//! Kubernetes Pod manifests (`sandbox play`): YAML of one or more `v1` Pods (several documents,
//! or a `v1` `List`), read into the pods and containers `play` makes.
//!
//! A manifest goes through four checks before anything is made, and each reports every problem
//! it finds at once, by line and column (YAML) or by field path (the rest):
//! 1. YAML (serde-saphyr), into JSON values: line and column of a syntax error;
//! 2. the Pod schema (k8s-openapi's types): a value of the wrong type, and fields a v1 Pod does
//!    not have (those its types skip, by `serde_ignored`: a typo, as `kubectl apply` reports
//!    it);
//! 3. what `play` supports (`fields::POD`): every other field set is reported, never dropped;
//! 4. the values themselves (`translate`): names, ports, quantities, hooks.
//!
//! | file | concept |
//! |---|---|
//! | `fields` | the fields `play` acts on, and the walks that report the others |
//! | `quantity` | Kubernetes quantities (`64Mi`, `500m`) in bytes and millicores |
//! | `expand` | `$(VAR)` references in `command`, `args` and `env`, as the kubelet expands them |
//! | `translate` | a typed Pod into the options of `create` and `run` |

mod expand;
mod fields;
mod quantity;
mod translate;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

pub use self::translate::PodPlan;
use crate::error::{Error, Result};

/// A manifest, checked and translated.
#[derive(Debug)]
pub struct Manifest {
    /// Its pods, in the order they appear.
    pub pods: Vec<PodPlan>,
    /// The fields it sets that `play` does not support, one line each (`PATH: not supported`).
    pub unsupported: Vec<String>,
    /// Where what `play` does differs from Kubernetes though the manifest did not ask for it
    /// (an unset `restartPolicy`), one line each: warnings.
    pub notes: Vec<String>,
}

/// Reads manifest `text` (from `file`, named in errors). `network` is the network its pods
/// join (`play --network`), which a `hostPort` needs.
pub fn parse(text: &str, file: &str, network: Option<&str>) -> Result<Manifest> {
    let invalid = |problems: Vec<String>| Error::Manifest {
        file: file.to_owned(),
        problems,
    };
    let pods = pod_documents(text, file)?;
    let mut problems = Vec::new();
    let mut unsupported = Vec::new();
    let mut notes = Vec::new();
    let mut plans = Vec::new();
    for (place, document) in pods {
        // Fields a v1 Pod does not have are what k8s-openapi's types skip.
        let mut unknown = Vec::new();
        let mut skipped = |path: serde_ignored::Path<'_>| unknown.push(fields::path_of(&path));
        let typed = serde_path_to_error::deserialize::<_, Pod>(serde_ignored::Deserializer::new(
            &document,
            &mut skipped,
        ));
        let pod = match typed {
            Ok(pod) => pod,
            Err(error) => {
                problems.push(format!("{place}{}: {}", error.path(), error.inner()));
                continue;
            }
        };
        problems.extend(
            unknown
                .into_iter()
                .map(|path| format!("{place}{path}: unknown field: a v1 Pod has no such field")),
        );
        let mut not_supported = Vec::new();
        fields::unsupported(&document, &fields::POD, "", &mut not_supported);
        unsupported.extend(
            not_supported
                .into_iter()
                .map(|path| format!("{place}{path}: not supported")),
        );
        match translate::pod(&pod, network) {
            Ok(translated) => {
                let placed = |lines: Vec<String>| lines.into_iter().map(|l| format!("{place}{l}"));
                unsupported.extend(placed(translated.unsupported));
                notes.extend(placed(translated.notes));
                plans.push(translated.plan);
            }
            Err(reasons) => problems.extend(reasons.into_iter().map(|r| format!("{place}{r}"))),
        }
    }
    let mut names: Vec<&str> = plans.iter().map(|p| p.create.name.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        problems.push(format!("metadata.name: two pods are named {:?}", twice[0]));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(Manifest {
        pods: plans,
        unsupported,
        notes,
    })
}

/// The names of the pods of manifest `text` (what `play --down` removes): only its YAML and
/// the pods' kinds and names are checked.
pub fn pod_names(text: &str, file: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for (place, document) in pod_documents(text, file)? {
        match document.pointer("/metadata/name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => names.push(name.to_owned()),
            _ => problems.push(format!("{place}metadata.name: a Pod needs a name")),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Manifest {
            file: file.to_owned(),
            problems,
        });
    }
    Ok(names)
}

/// The Pods of manifest `text`, each with where it is (`document 2: `, `items[0].`, or nothing
/// for a single Pod), as JSON values.
fn pod_documents(text: &str, file: &str) -> Result<Vec<(String, Value)>> {
    let invalid = |problems: Vec<String>| Error::Manifest {
        file: file.to_owned(),
        problems,
    };
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|error| invalid(vec![yaml_error(&error)]))?;
    let mut pods = Vec::new();
    let several = documents.len() > 1;
    for (number, document) in documents.into_iter().enumerate() {
        let place = if several {
            format!("document {}: ", number + 1)
        } else {
            String::new()
        };
        match (kind_of(&document), api_version_of(&document)) {
            (Some("Pod"), Some("v1")) => pods.push((place, document)),
            (Some("List" | "PodList"), Some("v1")) => {
                let Some(Value::Array(items)) = document.get("items").cloned() else {
                    return Err(invalid(vec![format!(
                        "{place}items: a List needs a list of items"
                    )]));
                };
                for (i, item) in items.into_iter().enumerate() {
                    let item_place = format!("{place}items[{i}].");
                    match (kind_of(&item), api_version_of(&item)) {
                        (Some("Pod"), Some("v1")) => pods.push((item_place, item)),
                        (kind, version) => {
                            return Err(invalid(vec![wrong_kind(&item_place, kind, version)]));
                        }
                    }
                }
            }
            (kind, version) => return Err(invalid(vec![wrong_kind(&place, kind, version)])),
        }
    }
    if pods.is_empty() {
        return Err(invalid(vec![
            "no Pod in it: expected a v1 Pod, several (YAML documents) or a v1 List of them"
                .to_owned(),
        ]));
    }
    Ok(pods)
}

fn kind_of(document: &Value) -> Option<&str> {
    document.get("kind").and_then(Value::as_str)
}

fn api_version_of(document: &Value) -> Option<&str> {
    document.get("apiVersion").and_then(Value::as_str)
}

fn wrong_kind(place: &str, kind: Option<&str>, version: Option<&str>) -> String {
    let what = match (kind, version) {
        (Some(kind), Some(version)) => format!("{version} {kind}"),
        (Some(kind), None) => format!("{kind} without an apiVersion"),
        (None, _) => "no kind".to_owned(),
    };
    format!("{place}kind: {what} is not supported: sandbox play runs v1 Pods (also in a v1 List)")
}

/// A YAML error on one line: where, and what.
fn yaml_error(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid YAML");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // Advice to the library's user, not to the manifest's.
    let first = first
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(first)
        .to_owned();
    match error.location() {
        Some(location) if !first.contains("line") => format!(
            "line {} column {}: {first}",
            location.line(),
            location.column()
        ),
        _ => first,
    }
}

#[cfg(test)]
mod tests;
