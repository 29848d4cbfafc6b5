//! The one error type of this crate.

use std::path::PathBuf;

use lockship_fetch::FetchError;

/// Everything that can go wrong while choosing a Python or installing a
/// standalone CPython.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// A Python request (`--python`, `[tool.lockship] python`,
    /// `.python-version`) is not a version lockship understands.
    #[error("`{value}` from {source_name} is not a Python version lockship can provide")]
    BadRequest {
        /// The request, as written.
        value: String,
        /// Where it comes from (`--python`, `.python-version`, ...).
        source_name: String,
    },

    /// A version constraint (`requires-python`, Poetry's `python`) cannot be parsed.
    #[error("Cannot parse `{value}` ({source_name}) as a Python version constraint: {reason}")]
    BadConstraint {
        /// The constraint, as written.
        value: String,
        /// Where it comes from.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `python-source` names no provider.
    #[error("`{value}` is not a Python source: use `debian` or `standalone`")]
    BadSource {
        /// The value given.
        value: String,
    },

    /// The requested Python contradicts a declared constraint.
    #[error("{request} contradicts {constraint}")]
    Contradiction {
        /// The request and where it comes from, e.g. `3.11 in .python-version`.
        request: String,
        /// The constraint and where it comes from.
        constraint: String,
    },

    /// Two constraints allow no common version.
    #[error("No Python version satisfies every constraint: {constraints}")]
    NoCommonVersion {
        /// Every constraint, with where it comes from.
        constraints: String,
    },

    /// An exact patch release that no provider has.
    #[error("Python `{version}` ({origin}) is not available{}; available: {}", provider.as_ref().map(|p| format!(" from {p}")).unwrap_or_default(), list(available))]
    PatchUnavailable {
        /// The requested version.
        version: String,
        /// Where the request comes from.
        origin: String,
        /// The provider it was forced to, if any.
        provider: Option<String>,
        /// What the providers have for that minor version (or at all).
        available: Vec<String>,
    },

    /// No provider has a version that fits the request and constraints.
    #[error("No provider has a Python for {wanted}{}; available: {}", provider.as_ref().map(|p| format!(" from {p}")).unwrap_or_default(), list(available))]
    NoProvider {
        /// What was wanted, with where it comes from.
        wanted: String,
        /// The provider it was forced to, if any.
        provider: Option<String>,
        /// What the providers offer.
        available: Vec<String>,
        /// The `X.Y` a base image would need, for the hint.
        minor: Option<String>,
    },

    /// Versions satisfy the constraints, but the lock has no wheel (or sdist)
    /// for any of them.
    #[error(
        "No Python version that satisfies {wanted} fits every locked package; tried {}",
        list(tried)
    )]
    NoCompatibleVersion {
        /// The constraints, with where they come from.
        wanted: String,
        /// The versions that satisfied them but lacked wheels.
        tried: Vec<String>,
    },

    /// A standalone build is not in the catalogue.
    #[error(
        "No standalone CPython `{version}` for `{triple}` is known; known for `{triple}`: {}",
        list(available)
    )]
    UnknownBuild {
        /// The version asked for.
        version: String,
        /// The platform triple.
        triple: String,
        /// The versions known for that triple.
        available: Vec<String>,
    },

    /// A line of a `SHA256SUMS` file is malformed.
    #[error("Line {line} of `{origin}` is not `<sha256>  <file name>`: `{text}`")]
    BadSums {
        /// The file or URL.
        origin: String,
        /// The 1-based line number.
        line: usize,
        /// The line, shortened.
        text: String,
    },

    /// The in-image prefix is not a plain absolute directory.
    #[error("Python prefix `{prefix}` must be an absolute directory below `/`, without `..`")]
    BadPrefix {
        /// The prefix given.
        prefix: String,
    },

    /// A mirror URL is not usable.
    #[error("Python mirror `{url}` ({origin}) is not an `http`, `https` or `file` URL")]
    BadMirror {
        /// The URL as given.
        url: String,
        /// Where it was given.
        origin: String,
    },

    /// The mirror could not be reached, or did not have the file.
    #[error("Cannot download `{url}` from the Python mirror ({origin})")]
    MirrorUnreachable {
        /// The URL tried.
        url: String,
        /// Where the mirror comes from.
        origin: String,
        /// The `X.Y` wanted, for the hint.
        minor: String,
        /// The cause (after retries).
        #[source]
        source: Box<FetchError>,
    },

    /// The archive's SHA-256 is not the published one; nothing was kept.
    #[error("Standalone CPython archive `{url}` does not match its published sha256 `{expected}` ({hash_source}); nothing was cached or unpacked")]
    ArchiveMismatch {
        /// Where it came from.
        url: String,
        /// The published hash.
        expected: String,
        /// Where the hash comes from (the release's `SHA256SUMS`, the shipped table).
        hash_source: String,
        /// The fetch error (hash or size mismatch).
        #[source]
        source: Box<FetchError>,
    },

    /// Another download or cache error.
    #[error(transparent)]
    Fetch(Box<FetchError>),

    /// An archive entry would leave the prefix, or is of a kind a runtime
    /// never holds.
    #[error("Standalone CPython archive `{archive}` holds `{entry}`, which {reason}; it was not unpacked")]
    UnsafeEntry {
        /// The archive's file name.
        archive: String,
        /// The entry's path, as written.
        entry: String,
        /// Why it is refused.
        reason: String,
    },

    /// The archive is not a gzip tar, or is larger than allowed.
    #[error("Cannot read standalone CPython archive `{archive}`: {reason}")]
    BadArchive {
        /// The archive's file name.
        archive: String,
        /// What went wrong.
        reason: String,
    },

    /// The unpacked tree lacks the interpreter.
    #[error("Standalone CPython archive `{archive}` has no interpreter at `{path}`")]
    NoInterpreter {
        /// The archive's file name.
        archive: String,
        /// The path expected inside the tree.
        path: String,
    },

    /// Unpacking through the layer flattener failed.
    #[error(transparent)]
    Layer(Box<lockship_layer::LayerError>),

    /// A file-system operation failed.
    #[error("I/O error on `{path}`")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<FetchError> for PythonError {
    fn from(e: FetchError) -> PythonError {
        PythonError::Fetch(Box::new(e))
    }
}

impl From<lockship_layer::LayerError> for PythonError {
    fn from(e: lockship_layer::LayerError) -> PythonError {
        PythonError::Layer(Box::new(e))
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl PythonError {
    /// A closure turning an I/O error on `path` into [`PythonError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PythonError {
        let path = path.into();
        move |source| PythonError::Io { path, source }
    }

    /// What the user can do about this error, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        let ways_out = |minor: &str| {
            format!(
                "point `--python-mirror URL` (or `UV_PYTHON_INSTALL_MIRROR`) at a reachable copy of the python-build-standalone releases, or build on `--base-image python:{minor}-slim`"
            )
        };
        match self {
            PythonError::BadRequest { .. } => Some(
                "write a CPython version: `3.12`, `3.12.7` or `cpython-3.12.7` (other interpreters are not supported)".into(),
            ),
            PythonError::BadConstraint { .. } => {
                Some("write a PEP 440 specifier such as `>=3.12,<3.14`".into())
            }
            PythonError::BadSource { .. } => Some(
                "`--python-source debian` uses Debian's Python (3.11 bookworm, 3.13 trixie); `standalone` uses python-build-standalone".into(),
            ),
            PythonError::Contradiction { .. } => Some(
                "change one of the two so they agree, or pass `--python X.Y` to choose explicitly".into(),
            ),
            PythonError::NoCommonVersion { .. } => {
                Some("the constraints exclude each other; fix them and lock again".into())
            }
            PythonError::PatchUnavailable { .. } => Some(
                "request the minor version (`3.12`) to get its newest patch release, or one of the listed versions".into(),
            ),
            PythonError::NoProvider { minor, .. } => Some(match minor {
                Some(minor) => ways_out(minor),
                None => "widen the constraints, or choose a listed version with `--python X.Y`".into(),
            }),
            PythonError::NoCompatibleVersion { .. } => Some(
                "lock again for the Python you want (`uv lock --python X.Y`), or allow sdist builds".into(),
            ),
            PythonError::UnknownBuild { .. } => Some(
                "refresh the table of known builds from a newer release's `SHA256SUMS`, or choose a listed version".into(),
            ),
            PythonError::MirrorUnreachable { minor, .. } => Some(ways_out(minor)),
            PythonError::ArchiveMismatch { .. } => Some(
                "the mirror serves another file than the release published; check the mirror, and never disable this check".into(),
            ),
            PythonError::UnsafeEntry { .. } | PythonError::BadArchive { .. } => Some(
                "this is not a python-build-standalone `install_only_stripped` archive; check the mirror".into(),
            ),
            PythonError::BadMirror { .. } => {
                Some("give the base URL under which release tags are directories".into())
            }
            PythonError::Fetch(e) => e.hint(),
            PythonError::Layer(e) => e.hint(),
            _ => None,
        }
    }
}
