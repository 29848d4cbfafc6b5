//! Checks on the values of a lock that later become parts of paths.
//!
//! A lock is outside input: it comes with a pull request. Names, versions,
//! file names and hashes from it end up in cache paths, build directories
//! and log names, so every reader passes them through these checks and a
//! value that is not what its format allows is refused at parse time, with
//! the file, the package and the field named.

use std::path::{Component, Path};

use crate::model::{Artifact, PackageSource};
use crate::ProjectError;

/// The longest package name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// The longest version accepted, in bytes.
pub const MAX_VERSION_BYTES: usize = 128;

/// Checks `name` against the PEP 508 name grammar
/// (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive) and
/// returns it normalised as PEP 503 says.
pub fn package_name(name: &str) -> Result<String, &'static str> {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err("is empty");
    };
    if name.len() > MAX_NAME_BYTES {
        return Err("is longer than 200 bytes");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(
            "is not a package name (PEP 508 allows ASCII letters, digits, `.`, `_` and `-`)",
        );
    }
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("is not a package name (it must start and end with a letter or digit)");
    }
    Ok(crate::normalize_name(name))
}

/// Checks that `version` looks like a PEP 440 version: ASCII letters and
/// digits, `.`, `+`, `!`, `_`, `-`, starting with a letter or digit,
/// without `..`, at most [`MAX_VERSION_BYTES`] long.
pub fn version(version: &str) -> Result<(), &'static str> {
    if version.is_empty() {
        return Err("is empty");
    }
    if version.len() > MAX_VERSION_BYTES {
        return Err("is longer than 128 bytes");
    }
    if !version
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'!' | b'_' | b'-'))
    {
        return Err(
            "is not a version (PEP 440 allows ASCII letters, digits, `.`, `+`, `!`, `_` and `-`)",
        );
    }
    if !version.as_bytes()[0].is_ascii_alphanumeric() || version.contains("..") {
        return Err("is not a version");
    }
    Ok(())
}

/// Where in a lock a value sits, for errors.
pub(crate) struct Entry<'a> {
    pub path: &'a Path,
    pub package: &'a str,
}

impl Entry<'_> {
    fn refuse(&self, field: &str, value: &str, reason: impl Into<String>) -> ProjectError {
        ProjectError::UnsafeLockEntry {
            path: self.path.to_path_buf(),
            package: shown(self.package),
            field: field.to_string(),
            value: shown(value),
            reason: reason.into(),
        }
    }

    /// The package's own name, checked and normalised.
    pub fn name(path: &Path, raw: &str) -> Result<String, ProjectError> {
        package_name(raw).map_err(|reason| Entry { path, package: raw }.refuse("name", raw, reason))
    }

    /// A dependency's name (`field` says where), checked and normalised.
    pub fn dep_name(&self, field: &str, raw: &str) -> Result<String, ProjectError> {
        package_name(raw).map_err(|reason| self.refuse(field, raw, reason))
    }

    /// The package's version, checked.
    pub fn version(&self, raw: Option<String>) -> Result<Option<String>, ProjectError> {
        if let Some(v) = &raw {
            version(v).map_err(|reason| self.refuse("version", v, reason))?;
        }
        Ok(raw)
    }

    /// A file name, which must be a plain base name shaped like a wheel or
    /// an sdist.
    pub fn filename(&self, field: &str, name: &str) -> Result<(), ProjectError> {
        lockship_fetch::check_dist_filename(name)
            .map(|_| ())
            .map_err(|e| match e {
                lockship_fetch::FetchError::UnsafeFileName { reason, .. } => {
                    self.refuse(field, name, reason)
                }
                other => self.refuse(field, name, other.to_string()),
            })
    }

    /// A file name that must only be a plain base name.
    pub fn plain_filename(&self, field: &str, name: &str) -> Result<(), ProjectError> {
        lockship_fetch::check_file_name(name).map_err(|e| match e {
            lockship_fetch::FetchError::UnsafeFileName { reason, .. } => {
                self.refuse(field, name, reason)
            }
            other => self.refuse(field, name, other.to_string()),
        })
    }

    /// A lowercase SHA-256 in hex.
    pub fn sha256(&self, field: &str, hex: Option<String>) -> Result<Option<String>, ProjectError> {
        match hex {
            Some(h) if !lockship_fetch::is_sha256_hex(&h) => {
                Err(self.refuse(field, &h, "is not a SHA-256 (64 hex digits)"))
            }
            other => Ok(other.map(|h| h.to_ascii_lowercase())),
        }
    }

    /// Every file of the package: file names, hashes.
    pub fn artifacts(
        &self,
        wheels: &[Artifact],
        sdist: Option<&Artifact>,
    ) -> Result<(), ProjectError> {
        for (field, a) in wheels
            .iter()
            .map(|a| ("wheels", a))
            .chain(sdist.map(|a| ("sdist", a)))
        {
            self.filename(&format!("{field}.filename"), &a.filename)?;
            self.sha256(&format!("{field}.hash"), a.sha256.clone())?;
        }
        Ok(())
    }

    /// A source's parts that become paths: a git subdirectory must stay
    /// inside the repository.
    pub fn source(&self, source: &PackageSource) -> Result<(), ProjectError> {
        if let PackageSource::Git {
            subdirectory: Some(sub),
            ..
        } = source
        {
            let inside = !sub.is_empty()
                && !sub.contains('\0')
                && Path::new(sub)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !inside {
                return Err(self.refuse(
                    "source.subdirectory",
                    sub,
                    "is not a relative path inside the repository",
                ));
            }
        }
        Ok(())
    }
}

/// A value as shown in an error: escaped, cut at 120 characters.
fn shown(value: &str) -> String {
    let escaped: String = value.escape_debug().collect();
    match escaped.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pep_508() {
        assert_eq!(package_name("Foo_Bar.baz").unwrap(), "foo-bar-baz");
        assert_eq!(package_name("a").unwrap(), "a");
        for bad in [
            "",
            "/some/dir/evil",
            "../x",
            "a/b",
            "-a",
            "a-",
            "a b",
            "é",
            ".a",
        ] {
            assert!(package_name(bad).is_err(), "{bad:?}");
        }
        assert!(package_name(&"a".repeat(201)).is_err());
    }

    #[test]
    fn versions_are_pep_440_ish() {
        for ok in ["1.0", "2.3.0+cpu", "1!2.0.post1", "0.0.0-dev", "1.0rc1"] {
            version(ok).unwrap();
        }
        for bad in ["", "../1", "1/2", "1..2", ".1", "1 0", "1\0"] {
            assert!(version(bad).is_err(), "{bad:?}");
        }
    }
}
