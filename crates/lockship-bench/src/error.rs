use std::path::PathBuf;

/// Errors of the benchmark's pure half.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A figure was asked for with no sample.
    #[error("No sample for {what}")]
    NoSamples {
        /// Which figure.
        what: String,
    },
    /// A metric name is not one of the stable names.
    #[error("Unknown metric `{name}`")]
    UnknownMetric {
        /// The name given.
        name: String,
    },
    /// A `docker save` stream could not be read.
    #[error("Cannot read the `docker save` stream: {detail}")]
    SaveStream {
        /// What went wrong.
        detail: String,
    },
    /// The project has no Python file to change.
    #[error("No `.py` file under `{dir}` to change")]
    NoSource {
        /// The project copy.
        dir: PathBuf,
    },
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
    /// The records could not be serialised.
    #[error("Cannot serialise the records")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BenchError::NoSamples { .. } => {
                Some("run with `--runs 1` or more; a figure is reported only when measured".into())
            }
            BenchError::UnknownMetric { .. } => Some(
                "use one of size_bytes, compressed_bytes, layers, uncached_s, code_change_s, new_dependency_s, noop_s, ready_s, install_s, relock_s".into(),
            ),
            BenchError::SaveStream { .. } => {
                Some("check that the engine still has the image and the disk is not full".into())
            }
            BenchError::NoSource { .. } => {
                Some("the code-change figures need the project's sources in `src/` or the project root".into())
            }
            BenchError::Io { .. } => Some("choose an `--out` directory you can write to".into()),
            BenchError::Json(_) => None,
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> BenchError {
    let path = path.into();
    move |source| BenchError::Io {
        action,
        path,
        source,
    }
}
