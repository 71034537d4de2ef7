//! Kubernetes' `$(VAR)` references in a container's `command`, `args` and `env[].value`,
//! expanded as the kubelet does (its `expansion.Expand`): `$(NAME)` becomes NAME's value when
//! NAME is defined, and stays as it is otherwise; `$$` is a `$`; a `$` before anything else,
//! or a `$(` never closed, stays as it is. Only the container's `env` defines names (not the
//! image's Env): an `env` value sees the entries before it, `command` and `args` see them all.

use std::collections::HashMap;

/// `input` with its references expanded from `defined`.
pub fn expand(input: &str, defined: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(')
            && let Some(close) = reference.find(')')
        {
            let name = &reference[..close];
            match defined.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &reference[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A container's `env` entries with their values expanded, each from the entries before it.
pub fn environment(entries: &[(String, String)]) -> Vec<(String, String)> {
    let mut defined = HashMap::new();
    entries
        .iter()
        .map(|(name, value)| {
            let value = expand(value, &defined);
            defined.insert(name.clone(), value.clone());
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_as_the_kubelet_expands_them() {
        let defined: HashMap<String, String> = [("PORT", "8080"), ("HOST", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (input, expanded) in [
            ("--port=$(PORT)", "--port=8080"),
            ("$(HOST):$(PORT)", "web:8080"),
            ("$(MISSING)", "$(MISSING)"),
            ("$$(PORT)", "$(PORT)"),
            ("$$$(PORT)", "$8080"),
            ("cost $5", "cost $5"),
            ("$(PORT", "$(PORT"),
            ("end$", "end$"),
            ("$()", "$()"),
            ("no references", "no references"),
            ("$(PORT)$(PORT)", "80808080"),
        ] {
            assert_eq!(expand(input, &defined), expanded, "{input:?}");
        }
    }

    #[test]
    fn an_env_value_sees_only_the_entries_before_it() {
        let entries: Vec<(String, String)> = [("A", "$(B)"), ("B", "b"), ("C", "$(B)-$(A)")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            environment(&entries),
            [
                ("A".to_owned(), "$(B)".to_owned()),
                ("B".to_owned(), "b".to_owned()),
                ("C".to_owned(), "b-$(B)".to_owned()),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn text_without_a_dollar_is_unchanged(text in "[^$]{0,40}") {
            proptest::prop_assert_eq!(expand(&text, &HashMap::new()), text);
        }
    }
}
