//! Image names as Kubernetes Pod manifests and `docker`/`podman` write them (`nginx:1.25`,
//! `quay.io/x/y:1`, `localhost:5000/a:b`), checked against the grammar of the Docker
//! distribution reference (github.com/distribution/reference, `regexp.go`) and normalized the
//! way the kubelet and containerd do (`ParseNormalizedNamed`, then `TagNameOnly`):
//!
//! - the first `/`-separated component is a domain if it contains a `.` or a `:`, is
//!   `localhost`, or has an uppercase letter; otherwise the domain is `docker.io`, and a
//!   `docker.io` name of one component is in `library/` (`busybox` is
//!   `docker.io/library/busybox`); `index.docker.io` is `docker.io`;
//! - without a tag, the tag is `latest`;
//! - the path components are lowercase: `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, joined by
//!   `/`; a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; the repository (domain and path) is at
//!   most 255 characters, as distribution's `NameTotalLengthMax`;
//! - a name with a digest (`nginx@sha256:...`) is refused: the store finds an image by a
//!   digest alone (`sha256:...`), and a tag is what a name gives.
//!
//! The canonical form [`ImageName`] displays, `docker.io/library/busybox:latest`, is what the
//! store records and matches, so every spelling of one name finds the same image. Pure: no I/O.

use std::fmt;

use crate::error::{Error, Result};

/// The registry of names without a domain.
const DEFAULT_DOMAIN: &str = "docker.io";
/// docker's old spelling of [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Where a one-component name of [`DEFAULT_DOMAIN`] lives.
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";
/// The tag of a name written without one.
const DEFAULT_TAG: &str = "latest";
/// The longest repository (domain, `/`, path), as distribution's `NameTotalLengthMax`.
pub const MAX_REPOSITORY_LEN: usize = 255;
/// The longest tag.
const MAX_TAG_LEN: usize = 128;

/// A normalized image name: domain, path and tag (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageName {
    domain: String,
    path: String,
    tag: String,
}

impl ImageName {
    /// Parses and normalizes `text` (`busybox`, `busybox:1.36`, `quay.io/x/y:1`,
    /// `localhost:5000/a:b`). Refuses, naming `text` and the reason: an empty name, a
    /// transport reference (`oci:DIR`, `docker://...`), a digest, an uppercase or empty path
    /// component, a bad domain or tag, a 64-digit hex string (an image ID in docker), and a
    /// repository longer than [`MAX_REPOSITORY_LEN`].
    pub fn parse(text: &str) -> Result<ImageName> {
        let invalid = |reason: String| Error::InvalidInput {
            what: "image name",
            value: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let transport = ["oci", "oci-archive"]
            .iter()
            .find(|t| text.starts_with(&format!("{t}:")));
        if text.contains("://") || transport.is_some() {
            return Err(invalid(format!(
                "it is a transport reference, not a name; {}",
                super::reference::SUPPORTED
            )));
        }
        if let Some((_, digest)) = text.split_once('@') {
            return Err(invalid(format!(
                "a name with a digest (@{digest}) is not supported: give the name with its tag, \
                 or the image's digest alone (sha256:...)"
            )));
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "a 64-digit hexadecimal string is an image ID, not a name".to_owned(),
            ));
        }
        let (domain, remainder) = split_domain(text);
        let (path, tag) = match remainder.rsplit_once(':') {
            Some((path, tag)) => (path, tag),
            None => (remainder, DEFAULT_TAG),
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPOSITORY_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        check_domain(domain).map_err(invalid)?;
        check_path(&path).map_err(invalid)?;
        check_tag(tag).map_err(invalid)?;
        let length = domain.len() + 1 + path.len();
        if length > MAX_REPOSITORY_LEN {
            return Err(invalid(format!(
                "the repository {domain}/{path} is {length} characters long; at most \
                 {MAX_REPOSITORY_LEN} are allowed"
            )));
        }
        Ok(ImageName {
            domain: domain.to_owned(),
            path,
            tag: tag.to_owned(),
        })
    }

    /// The registry's domain, with its port if any (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path in the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag (`latest` when none was written).
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Display for ImageName {
    /// The canonical form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.domain, self.path, self.tag)
    }
}

impl std::str::FromStr for ImageName {
    type Err = Error;

    fn from_str(text: &str) -> Result<ImageName> {
        ImageName::parse(text)
    }
}

/// Splits `text` into its domain and the rest (distribution's `splitDockerDomain`): the first
/// component is a domain only if it has a `.` or a `:`, is `localhost`, or has an uppercase
/// letter (which no path component may have).
fn split_domain(text: &str) -> (&str, &str) {
    match text.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            if first == LEGACY_DEFAULT_DOMAIN {
                (DEFAULT_DOMAIN, rest)
            } else {
                (first, rest)
            }
        }
        _ => (DEFAULT_DOMAIN, text),
    }
}

/// A domain: a host (DNS labels joined by `.`, or an IPv6 address in brackets) and an
/// optional `:PORT`.
fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("invalid domain {domain:?}: {why}"));
    let port = if let Some(bracketed) = domain.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else {
            return bad("an IPv6 address needs its closing ']'");
        };
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return bad("not an IPv6 address in brackets");
        }
        match (after, after.strip_prefix(':')) {
            ("", _) => None,
            (_, Some(port)) => Some(port),
            (_, None) => return bad("only ':PORT' may follow an IPv6 address"),
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        let label_ok = |label: &str| {
            let bytes = label.as_bytes();
            matches!((bytes.first(), bytes.last()), (Some(f), Some(l))
                if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        };
        if !host.split('.').all(label_ok) {
            return bad(
                "a host is letters, digits and inner '-', in labels separated by '.' \
                 (a port after ':')",
            );
        }
        port
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("the port is not a number");
    }
    Ok(())
}

/// The path: components joined by `/`, each lowercase letters and digits joined by `.`, `_`,
/// `__` or dashes.
fn check_path(path: &str) -> std::result::Result<(), String> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(format!("the path {path:?} has an empty component"));
        }
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "the repository must be lowercase ({component:?} is not)"
            ));
        }
        if !is_path_component(component) {
            return Err(format!(
                "invalid path component {component:?}: lowercase letters and digits, \
                 separated by '.', '_', '__' or dashes, starting and ending with a letter or \
                 digit"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .all(|run| matches!(run, "." | "_" | "__") || run.bytes().all(|b| b == b'-'))
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let valid = bytes.first().is_some_and(|b| word(*b))
        && bytes.iter().all(|b| word(*b) || *b == b'.' || *b == b'-')
        && bytes.len() <= MAX_TAG_LEN;
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid tag {tag:?}: letters, digits, '_', '.' and '-', not starting with '.' or \
             '-', at most {MAX_TAG_LEN} characters"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        ImageName::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .to_string()
    }

    fn refusal(text: &str) -> String {
        match ImageName::parse(text) {
            Ok(name) => panic!("{text:?} was accepted as {name}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn normalizes_as_the_kubelet_does() {
        for (given, expected) in [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            ("index.docker.io/busybox:1", "docker.io/library/busybox:1"),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
            ),
            ("bitnami/nginx:1.25", "docker.io/bitnami/nginx:1.25"),
            ("quay.io/x/y:1", "quay.io/x/y:1"),
            ("quay.io/y", "quay.io/y:latest"),
            ("localhost/a", "localhost/a:latest"),
            ("localhost:5000/a:b", "localhost:5000/a:b"),
            ("registry:5000/a/b/c", "registry:5000/a/b/c:latest"),
            ("Registry.Example.COM/a", "Registry.Example.COM/a:latest"),
            ("[::1]:5000/a:b", "[::1]:5000/a:b"),
            ("[fe80::1]/a", "[fe80::1]/a:latest"),
            ("127.0.0.1:5000/a", "127.0.0.1:5000/a:latest"),
            (
                "a.b-c__d---e_f:_T.a-g",
                "docker.io/library/a.b-c__d---e_f:_T.a-g",
            ),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ] {
            assert_eq!(canonical(given), expected, "{given}");
            // The canonical form is its own canonical form.
            assert_eq!(canonical(expected), expected, "{expected}");
        }
        let name = ImageName::parse("localhost:5000/a/b:v1").unwrap();
        assert_eq!(
            (name.domain(), name.path(), name.tag()),
            ("localhost:5000", "a/b", "v1")
        );
    }

    #[test]
    fn refuses_what_docker_refuses_naming_the_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("Busybox", "must be lowercase"),
            ("docker.io/Library/busybox", "must be lowercase"),
            ("a//b", "empty component"),
            ("a/", "empty component"),
            ("/a", "empty component"),
            ("quay.io/", "empty component"),
            ("busybox:", "invalid tag"),
            ("busybox:-1", "invalid tag"),
            ("busybox:.1", "invalid tag"),
            ("busybox:a/b", "port is not a number"),
            ("busybox:a+b", "invalid tag"),
            ("a..b", "invalid path component"),
            ("a___b", "invalid path component"),
            ("-a", "invalid path component"),
            ("a-", "invalid path component"),
            ("a b", "invalid path component"),
            ("é", "invalid path component"),
            ("-x.io/a", "invalid domain"),
            ("x.io:/a", "port is not a number"),
            ("x.io:5000x/a", "port is not a number"),
            ("x..io/a", "invalid domain"),
            ("[::1/a", "closing"),
            ("[zz:1]/a", "IPv6"),
            ("[::1]x/a", "only ':PORT'"),
            ("oci:/tmp/layout:1", "transport reference"),
            ("oci-archive:/tmp/x.tar", "transport reference"),
            ("docker://busybox", "transport reference"),
            ("busybox@sha256:abc", "digest"),
        ] {
            let error = refusal(text);
            assert!(
                error.starts_with(&format!("invalid image name {text:?}: ")),
                "{error}"
            );
            assert!(error.contains(reason), "{text:?}: {error}");
        }
        assert!(refusal(&"a".repeat(64)).contains("image ID"));
        assert!(refusal("oci:/x").contains("oci-archive:FILE[:TAG]"));
    }

    #[test]
    fn lengths_are_bounded() {
        // docker.io/library/ is 18 characters of the 255.
        let longest = "a".repeat(MAX_REPOSITORY_LEN - 18);
        assert_eq!(
            canonical(&longest).len(),
            MAX_REPOSITORY_LEN + ":latest".len()
        );
        let error = refusal(&format!("{longest}a"));
        assert!(error.contains("256 characters long"), "{error}");
        assert!(canonical(&format!("a:{}", "t".repeat(MAX_TAG_LEN))).ends_with('t'));
        assert!(refusal(&format!("a:{}", "t".repeat(MAX_TAG_LEN + 1))).contains("invalid tag"));
    }

    proptest::proptest! {
        #[test]
        fn valid_names_round_trip_and_short_forms_equal_long_ones(
            // No '.' in the first component: before a '/', that would make it a domain.
            path in "[a-z0-9]{1,8}((_|__|-{1,3})[a-z0-9]{1,8}){0,2}(/[a-z0-9]{1,8}((\\.|_)[a-z0-9]{1,4})?){0,2}",
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            domain in proptest::option::of("(localhost|[a-z]{1,8}\\.[a-z]{2,4})(:[0-9]{1,5})?"),
        ) {
            let mut text = path.clone();
            if let Some(domain) = &domain {
                text = format!("{domain}/{text}");
            }
            if let Some(tag) = &tag {
                text = format!("{text}:{tag}");
            }
            let name = ImageName::parse(&text).unwrap();
            proptest::prop_assert_eq!(ImageName::parse(&name.to_string()).unwrap(), name.clone());
            proptest::prop_assert_eq!(name.tag(), tag.as_deref().unwrap_or("latest"));
            proptest::prop_assert_eq!(name.domain(), domain.as_deref().unwrap_or("docker.io"));
            if domain.is_none() && !path.contains('/') {
                proptest::prop_assert_eq!(name.path(), format!("library/{path}"));
            }
        }

        #[test]
        fn an_uppercase_letter_in_the_path_is_refused(
            path in "[a-z0-9]{0,6}[A-Z][a-zA-Z0-9]{0,6}",
        ) {
            let error = ImageName::parse(&format!("quay.io/{path}")).unwrap_err().to_string();
            proptest::prop_assert!(error.contains("lowercase"), "{}", error);
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,80}") {
            if let Ok(name) = ImageName::parse(&text) {
                proptest::prop_assert_eq!(ImageName::parse(&name.to_string()).unwrap(), name);
            }
        }
    }
}
