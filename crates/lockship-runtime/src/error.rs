use std::path::PathBuf;

/// Errors while assembling a runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The requested Python is not one lockship can assemble.
    #[error("Python `{requested}` is not available; lockship can assemble {}", available.join(", "))]
    UnknownPython {
        /// What was asked for.
        requested: String,
        /// What exists.
        available: Vec<String>,
    },
    /// The architecture is not one the runtime supports.
    #[error("Platform `{platform}` is not supported for the Python runtime; supported: {}", supported.join(", "))]
    UnsupportedPlatform {
        /// What was asked for.
        platform: String,
        /// What exists.
        supported: Vec<String>,
    },
    /// No Debian mirror was given and none could be found in the host's apt sources.
    #[error("No Debian mirror is configured")]
    NoMirror,
    /// A file-system step failed.
    #[error("Cannot {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Running the image's own interpreter to compile bytecode failed.
    #[error("Compiling bytecode with `{interpreter}` failed:\n{output}")]
    Compile {
        /// The interpreter command.
        interpreter: String,
        /// What it printed.
        output: String,
    },
    /// Compiling bytecode could not run safely: no sandbox, the sandbox
    /// failed or timed out, or a directory goes through a symlink.
    #[error("Cannot compile bytecode with `{interpreter}`: {cause}")]
    CompileSandbox {
        /// The interpreter.
        interpreter: String,
        /// Why.
        cause: lockship_sandbox::SandboxError,
    },
    /// The interpreter this runtime needs is missing from the unpacked packages.
    #[error("The unpacked runtime has no `{path}`")]
    Incomplete {
        /// The missing in-image path.
        path: String,
    },
    /// A Debian step failed.
    #[error(transparent)]
    Debian(#[from] lockship_debian::DebianError),
    /// A download or cache step failed.
    #[error(transparent)]
    Fetch(#[from] lockship_fetch::FetchError),
    /// Writing a layer failed.
    #[error(transparent)]
    Layer(#[from] lockship_layer::LayerError),
    /// Bringing in a standalone CPython failed.
    #[error(transparent)]
    Python(#[from] lockship_python::PythonError),
}

impl RuntimeError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RuntimeError::UnknownPython { available, .. } => Some(format!(
                "pass one of these to `--python`: {}",
                available.join(", ")
            )),
            RuntimeError::UnsupportedPlatform { supported, .. } => Some(format!(
                "pass one of these to `--platform`: {}",
                supported.join(", ")
            )),
            RuntimeError::NoMirror => Some(
                "pass `--debian-mirror URL` or set `LOCKSHIP_DEBIAN_MIRROR` (the URL apt uses, ending in /debian)"
                    .to_string(),
            ),
            RuntimeError::Io { .. } => {
                Some("check that the disk has room and the directory is writable".to_string())
            }
            RuntimeError::Debian(e) => e.hint(),
            RuntimeError::Python(e) => e.hint(),
            RuntimeError::CompileSandbox { cause, .. } => cause.hint(),
            RuntimeError::Compile { .. } => Some(
                "the image's interpreter could not compile its own bytecode; check that the base image runs this Python, or pass `--no-compile`"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.into();
    move |source| RuntimeError::Io {
        action,
        path,
        source,
    }
}
