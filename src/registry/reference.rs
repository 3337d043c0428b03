//! Image references, parsed and normalised the way the Docker engine does it, so that a name
//! typed for `docker pull` means the same image here.

use super::{ImageReference, RegistryError};

/// The registry Docker uses when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";

/// Docker's limit on the length of `registry/repository`.
const MAX_NAME_LENGTH: usize = 255;
/// Docker's limit on the length of a tag.
const MAX_TAG_LENGTH: usize = 128;

impl ImageReference {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<ImageReference, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidReference(text.to_string(), reason);
        if text.is_empty() {
            return Err(invalid("it is empty".to_string()));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(invalid("it contains whitespace".to_string()));
        }

        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(invalid)?;
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };

        // A tag is what follows the last `:` when no `/` comes after it; an earlier `:`
        // belongs to the registry's port.
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            check_tag(tag).map_err(invalid)?;
        }
        if name.is_empty() {
            return Err(invalid("the repository name is empty".to_string()));
        }

        let (registry, repository, explicit_registry) = split_registry(name);
        if explicit_registry {
            check_registry(registry).map_err(invalid)?;
        }
        check_repository(repository).map_err(invalid)?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LENGTH {
            return Err(invalid(format!(
                "the name is longer than {MAX_NAME_LENGTH} characters"
            )));
        }

        // `index.docker.io` is Docker Hub's old name; both mean the same registry.
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        // Official images live under `library/` on Docker Hub: `busybox` is `library/busybox`.
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag,
        };
        Ok(ImageReference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
            explicit_registry,
        })
    }

    /// `registry/repository@digest` (the pinned form), the registry written as in `self`
    /// (omitted for Docker Hub references given without one).
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }

    /// `registry/repository`, or the short form Docker prints (`busybox`, `org/tool`) when
    /// the reference was given without a registry.
    fn name(&self) -> String {
        if self.explicit_registry {
            return format!("{}/{}", self.registry, self.repository);
        }
        // The reference named no registry, so it is a Docker Hub one: drop `library/` again
        // for official images, as `docker images` does; the text parses back to `self`.
        match self.repository.strip_prefix("library/") {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.repository.clone(),
        }
    }
}

impl std::fmt::Display for ImageReference {
    /// The canonical text: `registry/repository[:tag][@digest]` (registry omitted when the
    /// reference was given without one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits `name` into (registry, repository, whether the registry was explicit). As in
/// Docker, the first component is a registry only when it looks like a host: it contains
/// `.` or `:`, is `localhost`, or has uppercase letters (never valid in a repository).
fn split_registry(name: &str) -> (&str, &str, bool) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest, true)
        }
        _ => (DOCKER_HUB, name, false),
    }
}

/// `sha256:` and 64 lowercase hex digits: the only digest algorithm registries use.
pub(super) fn check_digest(digest: &str) -> Result<(), String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(format!(
            "the digest {digest:?} does not start with `sha256:` (write it as sha256:<64 hex digits>)"
        ));
    };
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "the digest {digest:?} is not `sha256:` followed by 64 lowercase hex digits"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("the tag after `:` is empty".to_string());
    }
    if tag.len() > MAX_TAG_LENGTH {
        return Err(format!(
            "the tag is longer than {MAX_TAG_LENGTH} characters"
        ));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !tag.starts_with(word) {
        return Err(format!(
            "the tag {tag:?} must start with a letter, digit or `_`"
        ));
    }
    if let Some(bad) = tag.chars().find(|&c| !(word(c) || c == '.' || c == '-')) {
        return Err(format!(
            "the tag {tag:?} contains {bad:?}; tags hold only letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

/// `host[:port]` where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
pub(super) fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(inner) = registry.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err(format!("the registry {registry:?} has an unclosed `[`"));
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!(
                "the registry {registry:?} is not a valid IPv6 address in brackets"
            ));
        }
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => {
                    return Err(format!(
                        "the registry {registry:?} has text after `]` that is not a `:port`"
                    ))
                }
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
            return Err(format!(
                "the registry {registry:?} has an invalid port {port:?} (give a number)"
            ));
        }
    }
    if registry.starts_with('[') {
        return Ok(());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!(
                "the registry {registry:?} has an empty part between dots"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "the registry {registry:?} has a part starting or ending with `-`"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(format!("the registry {registry:?} contains {bad:?}"));
        }
    }
    Ok(())
}

/// Components of lowercase letters and digits, joined by `/`, each possibly with single
/// separators `.`, `_`, `__` or runs of `-` between alphanumerics (Docker's grammar).
pub(super) fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("the repository name is empty".to_string());
    }
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "the repository {repository:?} has uppercase letters; repository names are lowercase"
        ));
    }
    for component in repository.split('/') {
        check_component(component).map_err(|why| format!("the repository {repository:?} {why}"))?;
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("has an empty part (a leading, trailing or doubled `/`)".to_string());
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if let Some(bad) = component
        .chars()
        .find(|&c| !(alnum(c) || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains {bad:?}; names hold only lowercase letters, digits, `.`, `_` and `-`"
        ));
    }
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return Err(format!(
            "has the part {component:?}, which must start and end with a letter or digit"
        ));
    }
    // Between alphanumerics: one `.`, one or two `_`, or any number of `-`; never mixed.
    let bytes = component.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i] as char) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i] as char) {
            i += 1;
        }
        let separator = &component[start..i];
        let allowed = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return Err(format!(
                "has the separator {separator:?} in {component:?}; use a single `.`, `_` or `__`, or dashes"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Asserts that `text` parses to the given parts.
    fn check(
        text: &str,
        (registry, repository, tag, digest, explicit): (
            &str,
            &str,
            Option<&str>,
            Option<&str>,
            bool,
        ),
    ) {
        let expected = ImageReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
            explicit_registry: explicit,
        };
        let parsed = ImageReference::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        assert_eq!(parsed, expected, "{text}");
    }

    #[test]
    fn references_normalise_as_docker_does() {
        let latest = Some("latest");
        check(
            "busybox",
            ("docker.io", "library/busybox", latest, None, false),
        );
        check(
            "busybox:1.36",
            ("docker.io", "library/busybox", Some("1.36"), None, false),
        );
        check("org/tool", ("docker.io", "org/tool", latest, None, false));
        check(
            "docker.io/busybox",
            ("docker.io", "library/busybox", latest, None, true),
        );
        check(
            "index.docker.io/org/tool:v1",
            ("docker.io", "org/tool", Some("v1"), None, true),
        );
        check("localhost/tool", ("localhost", "tool", latest, None, true));
        check(
            "localhost:5000/a/b:1.0",
            ("localhost:5000", "a/b", Some("1.0"), None, true),
        );
        check(
            "127.0.0.1:5000/it-x/echo-1.0.0-seed:1.0.0",
            (
                "127.0.0.1:5000",
                "it-x/echo-1.0.0-seed",
                Some("1.0.0"),
                None,
                true,
            ),
        );
        check(
            "ghcr.io/a__b/c-d--e.f",
            ("ghcr.io", "a__b/c-d--e.f", latest, None, true),
        );
        check(
            "[::1]:5000/tool",
            ("[::1]:5000", "tool", latest, None, true),
        );
        check(
            &format!("tool@{DIGEST}"),
            ("docker.io", "library/tool", None, Some(DIGEST), false),
        );
        check(
            &format!("reg.example:443/tool:v2@{DIGEST}"),
            ("reg.example:443", "tool", Some("v2"), Some(DIGEST), true),
        );
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let table = [
            ("", "empty"),
            ("Busybox", "uppercase"),
            ("reg.example/Tool", "uppercase"),
            ("busy box", "whitespace"),
            ("tool:", "tag after `:` is empty"),
            ("tool:-x", "must start"),
            ("tool:a/b", "invalid port"), // `tool:a` can only be a registry then
            ("a//b", "empty part"),
            ("a/", "empty part"),
            ("/a", "empty part"),
            ("a/../b", "start and end"),
            ("a/..b", "start and end"),
            ("a..b", "separator"),
            ("a._b", "separator"),
            ("a___b", "separator"),
            ("tool@sha256:abc", "64 lowercase hex"),
            ("tool@md5:0123", "sha256:"),
            ("tool@", "sha256:"),
            ("reg.example:port/tool", "invalid port"),
            ("reg..example/tool", "empty part between dots"),
            ("reg_x.example/tool", "contains '_'"),
            ("[::1/tool", "unclosed"),
            ("a$b", "contains '$'"),
        ];
        for (text, wanted) in table {
            match ImageReference::parse(text) {
                Err(err @ RegistryError::InvalidReference(..)) => {
                    let message = err.to_string();
                    assert!(message.contains(wanted), "{text:?}: {message}");
                }
                other => panic!("{text:?} should be refused, got {other:?}"),
            }
        }
        let long = format!("reg.example/{}", "a".repeat(300));
        assert!(ImageReference::parse(&long).is_err());
        let long_tag = format!("tool:{}", "t".repeat(129));
        assert!(ImageReference::parse(&long_tag).is_err());
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        let table = [
            ("busybox", "busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            ("org/tool:v1", "org/tool:v1"),
            ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"),
        ];
        for (text, canonical) in table {
            let reference = ImageReference::parse(text).unwrap();
            assert_eq!(reference.to_string(), canonical);
            assert_eq!(ImageReference::parse(canonical).unwrap(), reference);
        }
        let pinned = ImageReference::parse(&format!("reg.example/tool:v2@{DIGEST}")).unwrap();
        assert_eq!(pinned.to_string(), format!("reg.example/tool:v2@{DIGEST}"));
    }

    #[test]
    fn with_digest_pins_the_name() {
        let local = ImageReference::parse("127.0.0.1:5000/a/b:1.0").unwrap();
        assert_eq!(
            local.with_digest(DIGEST),
            format!("127.0.0.1:5000/a/b@{DIGEST}")
        );
        let hub = ImageReference::parse("busybox").unwrap();
        assert_eq!(hub.with_digest(DIGEST), format!("busybox@{DIGEST}"));
    }
}
