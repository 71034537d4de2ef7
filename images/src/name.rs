//! The image's name: a repository with a registry host and a tag, checked against the grammar
//! of container references so that skopeo, podman, containerd and the CRI all accept it and all
//! derive the same full name from it.

use crate::error::{Error, Result};

/// `repository:tag`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageName {
    repository: String,
    tag: String,
}

impl ImageName {
    /// Checks `repository` and `tag` and pairs them.
    pub(crate) fn new(repository: &str, tag: &str) -> Result<ImageName> {
        check_repository(repository)?;
        check_tag(tag)?;
        Ok(ImageName {
            repository: repository.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// The tag alone (`0.1.0`): the layout's `org.opencontainers.image.ref.name`, so
    /// `oci:DIR:TAG` finds the image.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// The full reference (`localhost/pause:0.1.0`): containerd's `io.containerd.image.name`,
    /// which `ctr images import` and `podman load` use as the image's name.
    pub(crate) fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<()> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "tag",
            value: tag.to_owned(),
            rule: "a tag is 1 to 128 of [A-Za-z0-9_.-] and does not start with '.' or '-'",
        })
    }
}

/// A registry host (`localhost`, or a name with a dot or a port) followed by lower-case path
/// components of `[a-z0-9]` joined by single `.`, `_` or `-` (and `__`).
pub(crate) fn check_repository(repository: &str) -> Result<()> {
    let invalid = |rule| Error::InvalidName {
        what: "repository",
        value: repository.to_owned(),
        rule,
    };
    let mut parts = repository.split('/');
    let host = parts.next().unwrap_or_default();
    let is_host = host == "localhost" || host.contains('.') || host.contains(':');
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !is_host || !host_ok {
        return Err(invalid(
            "it must start with a registry host such as `localhost/`, or tools name the image differently (docker.io/library/... in containerd, localhost/... in podman)",
        ));
    }
    let components: Vec<&str> = parts.collect();
    if components.is_empty() || !components.iter().all(|c| is_path_component(c)) {
        return Err(invalid(
            "after the host come one or more lower-case components of [a-z0-9] joined by '.', '_', '__' or '-'",
        ));
    }
    Ok(())
}

fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let separator = |b: &u8| matches!(b, b'.' | b'_' | b'-');
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    // Separators between alphanumerics: one '.', one or two '_', or any number of '-'.
    bytes.split(alnum).filter(|run| !run.is_empty()).all(|run| {
        run.iter().all(separator)
            && (run == b"." || run == b"_" || run == b"__" || run.iter().all(|&b| b == b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_names_tools_accept() {
        for (repository, tag) in [
            ("localhost/pause", "0.1.0"),
            ("registry.example.com:5000/k8s/pause", "3.10"),
            ("localhost/pod-infra__x.y", "v1_rc-2"),
        ] {
            let name = ImageName::new(repository, tag).unwrap();
            assert_eq!(name.reference(), format!("{repository}:{tag}"));
        }
    }

    #[test]
    fn rejects_names_tools_would_rename_or_refuse() {
        for (repository, tag) in [
            ("pause", "1"),             // no host: docker.io/library/pause vs localhost/pause
            ("localhost", "1"),         // no path component
            ("localhost/Pause", "1"),   // upper case
            ("localhost/pause-", "1"),  // trailing separator
            ("localhost/pa..use", "1"), // double dot
            ("localhost/pause", ""),    // empty tag
            ("localhost/pause", ".1"),  // tag starts with a dot
            ("localhost/pause", "1:2"), // colon in tag
            ("localhost/pause", &"x".repeat(129)),
        ] {
            assert!(
                ImageName::new(repository, tag).is_err(),
                "{repository}:{tag} was accepted"
            );
        }
    }
}
