use std::path::PathBuf;

/// Errors while running a program in the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// There is no `bwrap` to run the sandbox with.
    #[error(
        "No sandbox: `bwrap` (bubblewrap) is not on PATH{}",
        searched_in(searched)
    )]
    NotFound {
        /// The PATH that was searched.
        searched: String,
    },
    /// bubblewrap itself could not set the sandbox up.
    #[error("The sandbox (`{}`) could not start `{program}`: {message}", bwrap.display())]
    Start {
        /// The `bwrap` that was run.
        bwrap: PathBuf,
        /// The program that was to run inside.
        program: String,
        /// What bwrap printed.
        message: String,
    },
    /// The program ran past its wall-time limit and was killed.
    #[error("`{program}` ran longer than {seconds} s in the sandbox and was killed")]
    TimedOut {
        /// The program.
        program: String,
        /// The limit.
        seconds: u64,
    },
    /// A path to be mounted in the sandbox goes through a symlink on the host.
    #[error("Refusing to mount `{}` in the sandbox: `{}` is a symlink", path.display(), link.display())]
    SymlinkInPath {
        /// The path that was to be mounted.
        path: PathBuf,
        /// The symlink on the way.
        link: PathBuf,
    },
    /// A path inside the sandbox is not a plain absolute path.
    #[error("`{path}` is not a plain absolute path inside the sandbox")]
    BadInsidePath {
        /// The path.
        path: String,
    },
    /// A file-system step failed.
    #[error("Cannot {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn searched_in(searched: &str) -> String {
    if searched.is_empty() {
        " (PATH is empty)".to_string()
    } else {
        format!(" (searched `{searched}`)")
    }
}

impl SandboxError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SandboxError::NotFound { .. } => Some(
                "install bubblewrap (`apt-get install bubblewrap`), or pass `--no-compile` to build without bytecode; lockship never runs a program from an image or an sdist outside the sandbox"
                    .to_string(),
            ),
            SandboxError::Start { .. } => Some(
                "bubblewrap needs user namespaces: run as root, or enable them (`sysctl kernel.unprivileged_userns_clone=1`, `sysctl user.max_user_namespaces=15000`)"
                    .to_string(),
            ),
            SandboxError::TimedOut { .. } => Some(
                "if the work is legitimately slow, raise the sandbox's wall-time limit; otherwise the input is hostile or broken"
                    .to_string(),
            ),
            SandboxError::SymlinkInPath { .. } => Some(
                "a tree from an image or a wheel planted a symlink where lockship expects a directory; the input is hostile or broken"
                    .to_string(),
            ),
            SandboxError::BadInsidePath { .. } | SandboxError::Io { .. } => None,
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.into();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}
