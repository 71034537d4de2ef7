//! Canonical JSON: compact, with every object's keys sorted, so the same document always gives
//! the same bytes and so the same digest.
//!
//! `oci-spec` keeps annotations and labels in a `HashMap`, whose iteration order changes from
//! run to run; serialising it directly would change the manifest digest on every build. Going
//! through [`serde_json::Value`] and re-inserting each object's entries in sorted order makes the
//! output independent of that order, and of whether some crate in the build enables
//! `serde_json/preserve_order` (then `Map` keeps insertion order, which we make sorted).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Serialises `value` as canonical JSON; `what` names the document in the error.
pub(crate) fn to_vec<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(|source| Error::Json { what, source })?;
    serde_json::to_vec(&sort_keys(value)).map_err(|source| Error::Json { what, source })
}

/// Rebuilds `value` with every object's keys in byte order, recursively.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            let mut sorted = Map::new();
            for (key, value) in entries {
                sorted.insert(key, sort_keys(value));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn sorts_keys_at_every_depth_and_keeps_array_order() {
        let value = serde_json::json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": null}});
        let bytes = to_vec(&value, "test").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn hash_maps_serialise_identically_whatever_their_insertion_order() {
        let keys: Vec<String> = (0..64).map(|i| format!("key.{i:02}")).collect();
        let forward: HashMap<&str, usize> = keys.iter().map(|k| (k.as_str(), 1)).collect();
        let backward: HashMap<&str, usize> = keys.iter().rev().map(|k| (k.as_str(), 1)).collect();
        assert_eq!(
            to_vec(&forward, "test").unwrap(),
            to_vec(&backward, "test").unwrap()
        );
    }
}
