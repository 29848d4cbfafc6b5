//! Image references: `HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`.

use std::fmt;
use std::str::FromStr;

use crate::RegistryError;

/// A parsed image reference.
///
/// The registry host is required: lockship has no default registry, so `team/app:1.2` is an
/// error ([`RegistryError::MissingRegistry`]) whose hint says to name the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, e.g. `127.0.0.1:5000` or `registry.example.com`.
    pub registry: String,
    /// The repository path, e.g. `team/app`.
    pub repository: String,
    /// The tag, if given (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse `HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`.
    pub fn parse(input: &str) -> Result<Reference, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.contains("://") {
            return Err(bad("leave out the scheme (`https://`)"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|r| bad(&r))?;
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        let (host, path) = match rest.split_once('/') {
            Some((host, path)) if looks_like_host(host) => (host, path),
            _ => {
                return Err(RegistryError::MissingRegistry {
                    input: input.to_string(),
                })
            }
        };
        check_host(host).map_err(|r| bad(&r))?;
        // A tag is a `:` after the last `/`.
        let (repository, tag) = match path.rfind(':') {
            Some(i) if !path[i..].contains('/') => (&path[..i], Some(&path[i + 1..])),
            _ => (path, None),
        };
        check_repository(repository).map_err(|r| bad(&r))?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| bad(&r))?;
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry: host.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// What to ask the registry's manifest endpoint for: the digest if there is one, else the
    /// tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository at a digest (and no tag).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same registry, another repository (same tag and digest).
    pub fn with_repository(&self, repository: &str) -> Reference {
        Reference {
            repository: repository.to_string(),
            ..self.clone()
        }
    }
}

impl FromStr for Reference {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Reference, RegistryError> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker's rule: the first component is a host if it has a `.` or a `:`, or is `localhost`.
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("an IPv6 registry address needs its closing `]`")?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{addr}` is not an IPv6 address"));
        }
        match after {
            "" => ("ipv6", None),
            p => (
                "ipv6",
                Some(p.strip_prefix(':').ok_or("junk after the IPv6 address")?),
            ),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(format!("`{host}` is not a valid registry host"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!("`{port}` is not a valid port"));
        }
    }
    Ok(())
}

fn check_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository name is empty".into());
    }
    if repo.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    for component in repo.split('/') {
        let ok = !component.is_empty()
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && component
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && component
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "repository component `{component}` must be lowercase letters, digits and \
                 separators (`.`, `_`, `-`), starting and ending with a letter or digit"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag `{tag}` must be 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        ))
    }
}

/// Check a `sha256:<64 lowercase hex>` digest.
pub(crate) fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "digest `{digest}` is not `sha256:` followed by 64 lowercase hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_repo_tag() {
        let r = Reference::parse("127.0.0.1:5000/team/app:1.2").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest, None);
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/app:1.2");
        assert_eq!(r.manifest_reference(), "1.2");
    }

    #[test]
    fn default_tag_is_latest_and_digest_wins() {
        let r = Reference::parse("localhost/app").unwrap();
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("registry.example.com/a/b@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        let r = Reference::parse(&format!("[::1]:5000/a:t@{d}")).unwrap();
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.manifest_reference(), d);
    }

    #[test]
    fn refs_without_a_registry_are_an_error_with_a_hint() {
        for input in ["app", "app:1.2", "team/app:1.2", "library/python"] {
            let err = Reference::parse(input).unwrap_err();
            assert!(
                matches!(err, RegistryError::MissingRegistry { .. }),
                "{input}"
            );
            let hint = err.hint().unwrap();
            assert!(hint.contains("name the registry: HOST[:PORT]/REPO:TAG"));
            assert!(hint.contains(input), "{hint}");
        }
    }

    #[test]
    fn rejects_malformed_refs() {
        for input in [
            "",
            "https://localhost/app",
            "localhost/App",
            "localhost/app:",
            "localhost/app:-x",
            "localhost:99999/app",
            "localhost/app@sha256:1234",
            "localhost//app",
            "localhost/app-",
        ] {
            let err = Reference::parse(input).unwrap_err();
            assert!(
                matches!(err, RegistryError::InvalidReference { .. }),
                "{input}: {err}"
            );
            assert!(err.hint().is_some());
        }
    }
}
