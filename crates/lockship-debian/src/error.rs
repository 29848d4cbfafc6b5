//! The crate's error type.

use std::path::PathBuf;

use lockship_fetch::FetchError;

/// Everything that can go wrong while talking to a Debian repository,
/// resolving dependencies or unpacking packages.
///
/// Every variant names the file, URL or package involved. [`DebianError::hint`]
/// tells the user what to do about it, where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    /// A local file or directory could not be read or written.
    #[error("Cannot access `{path}`")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A download failed (network, HTTP status, or a hash mismatch).
    #[error("Cannot fetch `{url}`")]
    Fetch {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: FetchError,
    },
    /// The keyring file could not be used.
    #[error("Cannot load the keyring `{path}`: {reason}")]
    Keyring {
        /// The keyring file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No signature of the `InRelease` file verified against the keyring.
    #[error("The signature of `{origin}` does not verify: {reason} (signing keys seen: {})", key_list(.key_ids))]
    BadSignature {
        /// Where the signed file came from.
        origin: String,
        /// The issuer key IDs or fingerprints named by the signatures.
        key_ids: Vec<String>,
        /// Why it was refused.
        reason: String,
    },
    /// A control-format file (Release, Packages, control, deb822 sources)
    /// is malformed.
    #[error("Malformed `{origin}` at line {line}: {reason}")]
    Parse {
        /// Which file.
        origin: String,
        /// The line number (1-based) where the problem is.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A required field is missing from a stanza.
    #[error("The stanza for `{stanza}` in `{origin}` has no `{field}` field")]
    MissingField {
        /// Which file.
        origin: String,
        /// The stanza (package name, or its line number when unnamed).
        stanza: String,
        /// The missing field.
        field: String,
    },
    /// The suite does not publish the requested architecture.
    #[error("The suite `{suite}` at `{mirror}` has no architecture `{arch}` (available: {})", .available.join(", "))]
    MissingArchitecture {
        /// The mirror.
        mirror: String,
        /// The suite.
        suite: String,
        /// The requested architecture.
        arch: String,
        /// What the Release file lists.
        available: Vec<String>,
    },
    /// The suite does not have the requested component.
    #[error("The suite `{suite}` at `{mirror}` has no component `{component}` (available: {})", .available.join(", "))]
    MissingComponent {
        /// The mirror.
        mirror: String,
        /// The suite.
        suite: String,
        /// The requested component.
        component: String,
        /// What the Release file lists.
        available: Vec<String>,
    },
    /// The Release file lists no Packages index for a component and architecture.
    #[error(
        "The Release file `{origin}` lists no `{path}` index (tried `.xz`, `.gz` and uncompressed)"
    )]
    MissingIndex {
        /// Where the Release file came from.
        origin: String,
        /// The index path without compression suffix, e.g. `main/binary-amd64/Packages`.
        path: String,
    },
    /// The Release file lists no Contents index for a component and architecture.
    #[error("The Release file `{origin}` lists no Contents index for component `{component}` and architecture `{arch}` (tried `{component}/Contents-{arch}.gz`, uncompressed, and the suite-wide `Contents-{arch}`)")]
    MissingContents {
        /// Where the Release file came from.
        origin: String,
        /// The component, e.g. `main`.
        component: String,
        /// The architecture, e.g. `amd64`.
        arch: String,
    },
    /// A compressed file could not be decompressed.
    #[error("Cannot decompress `{origin}` ({format})")]
    Decompress {
        /// The file or URL.
        origin: String,
        /// The compression format.
        format: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A dependency cannot be satisfied.
    #[error("Cannot resolve `{package}`{}: {reason}", chain(.needed_by))]
    Unresolvable {
        /// The dependency that cannot be satisfied, as written (e.g. `libc6 (>= 2.40)`).
        package: String,
        /// Who needs it: the direct dependent first, the root last. Empty for a root.
        needed_by: Vec<String>,
        /// Why it cannot be satisfied.
        reason: String,
    },
    /// A `.deb` archive is malformed or uses an unsupported feature.
    #[error("Cannot read the package `{deb}`: {reason}")]
    BadDeb {
        /// The `.deb` file.
        deb: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.deb` archive entry would be written outside the destination or
    /// through a symbolic link.
    #[error("Refusing the entry `{entry}` of `{deb}`: {reason}")]
    UnsafePath {
        /// The `.deb` file.
        deb: PathBuf,
        /// The entry's path as stored in the archive.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
}

fn key_list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn chain(needed_by: &[String]) -> String {
    if needed_by.is_empty() {
        String::new()
    } else {
        format!(
            " (needed by {})",
            needed_by
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" <- ")
        )
    }
}

impl DebianError {
    /// What the user can do about this error, when there is something to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            DebianError::Keyring { path, .. } => Some(format!(
                "Install `debian-archive-keyring`, or pass another keyring with `--keyring` (the file `{}` must hold OpenPGP public keys, binary or ASCII-armored)",
                path.display()
            )),
            DebianError::BadSignature { .. } => Some(
                "Check that the mirror is a Debian mirror and that the keyring is current (update `debian-archive-keyring`, or pass `--keyring` with the suite's signing keys)"
                    .to_string(),
            ),
            DebianError::MissingArchitecture { available, .. } => Some(format!(
                "Pick one of the available architectures: {}",
                available.join(", ")
            )),
            DebianError::MissingComponent { available, .. } => Some(format!(
                "Pick components among: {}",
                available.join(", ")
            )),
            DebianError::Fetch { source, .. } => match source {
                FetchError::HashMismatch { .. } => Some(
                    "The mirror may be in the middle of an update; try again in a few minutes, or use another mirror"
                        .to_string(),
                ),
                FetchError::Status { status: 404, .. } => Some(
                    "Check the mirror URL and the suite name (the suite may have moved to the archive)"
                        .to_string(),
                ),
                FetchError::Unreachable { .. } => {
                    Some("Check the network connection and the mirror URL".to_string())
                }
                _ => None,
            },
            DebianError::MissingContents { component, arch, .. } => Some(format!(
                "Use a full Debian mirror: partial mirrors and some third-party repositories leave out the `{component}/Contents-{arch}.gz` file-to-package index"
            )),
            DebianError::Unresolvable { .. } => Some(
                "Check the package name and the suite, add the missing package's component, or exclude the dependency"
                    .to_string(),
            ),
            DebianError::UnsafePath { .. } => Some(
                "The package is malformed or malicious; do not use it".to_string(),
            ),
            DebianError::Decompress { .. } | DebianError::BadDeb { .. } => Some(
                "The file may be truncated; clear it from the cache and try again".to_string(),
            ),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DebianError {
        let path = path.into();
        move |source| DebianError::Io { path, source }
    }

    pub(crate) fn fetch(url: &url::Url) -> impl FnOnce(FetchError) -> DebianError + '_ {
        move |source| DebianError::Fetch {
            url: url.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_subject_and_chain() {
        let e = DebianError::Unresolvable {
            package: "libfoo (>= 2)".into(),
            needed_by: vec!["bar".into(), "python3".into()],
            reason: "the index has `libfoo` `1.0`".into(),
        };
        assert_eq!(
            e.to_string(),
            "Cannot resolve `libfoo (>= 2)` (needed by `bar` <- `python3`): the index has `libfoo` `1.0`"
        );
        assert!(e.hint().is_some());
        let e = DebianError::BadSignature {
            origin: "file:///x/InRelease".into(),
            key_ids: vec![],
            reason: "no signature".into(),
        };
        assert!(e.to_string().contains("signing keys seen: none"));
        let e = DebianError::MissingArchitecture {
            mirror: "file:///m/".into(),
            suite: "bookworm".into(),
            arch: "riscv64".into(),
            available: vec!["amd64".into(), "arm64".into()],
        };
        assert!(e.to_string().contains("`riscv64`"));
        assert!(e.hint().unwrap().contains("amd64, arm64"));
    }
}
