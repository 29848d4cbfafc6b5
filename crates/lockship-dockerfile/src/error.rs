/// Errors while rendering a Dockerfile.
#[derive(Debug, thiserror::Error)]
pub enum DockerfileError {
    /// A field of the [`DockerInput`](crate::DockerInput) cannot be written
    /// into a Dockerfile safely.
    #[error("invalid {field} `{value}`: {reason}")]
    InvalidInput {
        /// The field, as named in `DockerInput`.
        field: &'static str,
        /// The offending value.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The strategy has no installer that can read this kind of lock.
    #[error("strategy `{strategy}` cannot install from `{lock}`")]
    LockUnsupported {
        /// The strategy's name.
        strategy: &'static str,
        /// The lock file.
        lock: String,
    },
    /// A strategy name that is not one of [`Strategy::ALL`](crate::Strategy::ALL).
    #[error("unknown strategy `{name}`")]
    UnknownStrategy {
        /// The name given.
        name: String,
    },
}

impl DockerfileError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            DockerfileError::InvalidInput { field, .. } => Some(format!(
                "fix `{field}` in the project's settings ([tool.lockship] or the command line): \
                 values are written into the Dockerfile verbatim"
            )),
            DockerfileError::LockUnsupported { .. } => Some(
                "choose a strategy that installs with uv (`recommended` or \
                 `layered-slim-buildkit`), or export the lock to a hashed requirements.txt"
                    .to_string(),
            ),
            DockerfileError::UnknownStrategy { .. } => Some(format!(
                "use one of: {} (see --list-strategies)",
                crate::Strategy::ALL
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
