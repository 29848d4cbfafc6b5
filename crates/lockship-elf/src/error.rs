use std::path::PathBuf;

/// Errors while scanning a tree or resolving its libraries.
///
/// A malformed ELF file is not an error: the scan records it as a
/// [`Warning`](crate::Warning) and goes on.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// A directory given as a root or mount does not exist or is not a directory.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The host path given.
        path: PathBuf,
    },
    /// A file-system step failed.
    #[error("Cannot {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The host path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ElfError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ElfError::NotADirectory { .. } => Some(
                "pass the directory of an unpacked image root filesystem or of a virtual environment"
                    .to_string(),
            ),
            ElfError::Io { .. } => {
                Some("check that the path exists and is readable by the current user".to_string())
            }
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ElfError {
    let path = path.into();
    move |source| ElfError::Io {
        action,
        path,
        source,
    }
}
