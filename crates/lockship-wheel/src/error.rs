use std::path::PathBuf;

/// Everything that can go wrong while choosing, locating or installing a
/// wheel. Every variant names the wheel file, path or URL involved.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// A file name is not a valid wheel name (PEP 427).
    #[error("`{filename}` is not a valid wheel file name: {reason}")]
    InvalidFilename {
        /// The file name.
        filename: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No published wheel of this release fits the target platform.
    #[error("{}", no_wheel_text(.package, .version, .target, .available))]
    NoCompatibleWheel {
        /// The package name.
        package: String,
        /// The pinned version.
        version: String,
        /// The target, as given by [`crate::describe_target`].
        target: String,
        /// The wheel file names that were available.
        available: Vec<String>,
    },
    /// An index URL could not be parsed or is not usable.
    #[error("`{url}` is not a usable package index URL: {reason}")]
    InvalidIndexUrl {
        /// The URL as given (credentials redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No package index could be found from flags, environment, configuration
    /// or the local pip.
    #[error("Cannot find the default package index: {reason}")]
    IndexDiscovery {
        /// Why the last source failed.
        reason: String,
    },
    /// The index could not be reached.
    #[error("Cannot reach the package index at `{url}`")]
    IndexUnreachable {
        /// The URL requested (credentials redacted).
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The index answered with an HTTP error.
    #[error("The package index answered HTTP {status} for `{url}`")]
    IndexStatus {
        /// The URL requested (credentials redacted).
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// An index page could not be understood.
    #[error("Cannot parse the index page `{url}`: {reason}")]
    IndexPage {
        /// The page URL (credentials redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The package is on none of the configured indexes.
    #[error("`{package}` is not on any configured package index ({indexes})")]
    PackageNotFound {
        /// The package name.
        package: String,
        /// The indexes asked, comma-separated (credentials redacted).
        indexes: String,
    },
    /// Downloading a wheel failed.
    #[error("Cannot download `{url}`")]
    Download {
        /// The wheel URL (credentials redacted).
        url: String,
        /// The cause.
        #[source]
        source: lockship_fetch::FetchError,
    },
    /// A file-system operation failed while installing a wheel or writing
    /// the virtualenv.
    #[error("File-system error while working on `{path}`")]
    Io {
        /// The wheel being installed, or the virtualenv being written.
        path: PathBuf,
        /// The cause (it names the file).
        #[source]
        source: std::io::Error,
    },
    /// The wheel is not a readable zip archive.
    #[error("`{wheel}` is not a valid zip archive")]
    CorruptZip {
        /// The wheel.
        wheel: PathBuf,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// An archive entry would be written outside the install tree.
    #[error("`{wheel}` contains the unsafe path `{entry}`: {reason}")]
    UnsafePath {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// The wheel contradicts itself: a name listed twice, or a file name,
    /// `.dist-info` directory and `METADATA` that name different projects
    /// or versions, or two entries installing to one path.
    #[error("`{wheel}` contradicts itself at `{entry}`: {reason}")]
    Inconsistent {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name.
        entry: String,
        /// What disagrees with what.
        reason: String,
    },
    /// An entry would replace a file the virtualenv itself owns
    /// (`pyvenv.cfg`, `bin/python*`, `bin/activate*`).
    #[error("`{wheel}`: `{entry}` would replace `{path}`, which belongs to the virtualenv itself")]
    ReplacesVenvFile {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name (or the entry point).
        entry: String,
        /// The path inside the image.
        path: String,
    },
    /// The wheel unpacks to more than it declares, or than lockship allows.
    #[error("`{wheel}`: `{entry}` is too large: {reason}")]
    TooLarge {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name.
        entry: String,
        /// Which bound it passes.
        reason: String,
    },
    /// The wheel's metadata (`.dist-info`, `WHEEL`, `RECORD`,
    /// `entry_points.txt`) is missing or malformed.
    #[error("`{wheel}` has invalid metadata: {reason}")]
    InvalidMetadata {
        /// The wheel.
        wheel: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file's content does not match what `RECORD` says about it.
    #[error("`{wheel}`: `{entry}` does not match its `RECORD` line ({reason})")]
    RecordMismatch {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name.
        entry: String,
        /// The hash or size difference.
        reason: String,
    },
    /// A file in the archive is not listed in `RECORD`, or a `RECORD` line
    /// names a file that is not in the archive.
    #[error("`{wheel}`: `{entry}` {reason}")]
    RecordIncomplete {
        /// The wheel.
        wheel: PathBuf,
        /// The archive entry name.
        entry: String,
        /// Which way the lists differ.
        reason: String,
    },
    /// Stripping debug sections from a shared object produced a file that
    /// does not parse again (a bug in lockship; the original is kept).
    #[error("Stripping the debug sections of `{path}` gave an invalid ELF file: {reason}")]
    Strip {
        /// The installed file (empty for [`crate::strip_debug`] on bytes).
        path: PathBuf,
        /// What the check of the rewritten file found.
        reason: String,
    },
}

impl WheelError {
    /// A line telling the user what to do about this error, when there is
    /// something to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            WheelError::NoCompatibleWheel {
                package, available, ..
            } => {
                if available.is_empty() {
                    Some(format!(
                        "the release was deleted from this index, or the lock was made against another one; re-lock `{package}` against this index, or name the index the lock was made with (`--index-url`)"
                    ))
                } else {
                    let mut shown: Vec<&str> =
                        available.iter().take(6).map(String::as_str).collect();
                    if available.len() > shown.len() {
                        shown.push("…");
                    }
                    Some(format!(
                        "available files: {}; pick another version or another `--platform`",
                        shown.join(", ")
                    ))
                }
            }
            WheelError::IndexDiscovery { .. } => Some(
                "pass `--index-url`, or set `UV_INDEX_URL` or `PIP_INDEX_URL`".to_string(),
            ),
            WheelError::IndexStatus { status: 401 | 403, .. } => Some(
                "put credentials in the index URL (`https://user:token@host/simple/`) or in `~/.netrc`"
                    .to_string(),
            ),
            WheelError::IndexUnreachable { .. } => Some(
                "check the network and the index URL; set `SSL_CERT_FILE` for a private certificate authority"
                    .to_string(),
            ),
            WheelError::PackageNotFound { .. } => Some(
                "check the package name, or add the index that hosts it with `--index-url`"
                    .to_string(),
            ),
            WheelError::CorruptZip { .. } | WheelError::RecordMismatch { .. } => Some(
                "the file may be damaged or tampered with; delete it from the cache to fetch it again"
                    .to_string(),
            ),
            WheelError::UnsafePath { .. }
            | WheelError::RecordIncomplete { .. }
            | WheelError::Inconsistent { .. }
            | WheelError::ReplacesVenvFile { .. }
            | WheelError::InvalidMetadata { .. } => Some(
                "this wheel is malformed or malicious; report it to the package's maintainers"
                    .to_string(),
            ),
            WheelError::TooLarge { .. } => Some(format!(
                "lockship never unpacks an entry past the size its zip header declares, nor more than {} GiB per wheel; this wheel is malformed or malicious",
                crate::MAX_UNPACKED_BYTES >> 30
            )),
            WheelError::Strip { .. } => Some(
                "build with `--no-strip` to install shared objects as the wheel ships them, and report this to lockship"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// The message of [`WheelError::NoCompatibleWheel`]: a release with no file
/// at all on the index is a different problem from one whose files do not fit.
fn no_wheel_text(package: &str, version: &str, target: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("The index lists no file of `{package}` `{version}` (neither a wheel nor an sdist)")
    } else {
        format!("No wheel of `{package}` `{version}` fits the target: {target}")
    }
}
