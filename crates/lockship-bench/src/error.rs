use std::path::PathBuf;

/// Errors of the benchmark: its harness, records and report.
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
    /// `--runs 0`.
    #[error("`--runs` must be at least 1")]
    NoRuns,
    /// A project directory does not exist.
    #[error("No project at `{}`", path.display())]
    NoProject {
        /// The directory given.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("Cannot start `{program}`")]
    Start {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A program the harness runs failed.
    #[error("`{program}` failed ({status}):\n{tail}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        tail: String,
    },
    /// `lockship build --json` printed something other than its summary.
    #[error("`lockship build --json` printed no build summary")]
    Summary {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The engine answered something unexpected.
    #[error("Unexpected `docker {command}` output: {text}")]
    DockerOutput {
        /// The docker subcommand.
        command: &'static str,
        /// What it printed.
        text: String,
    },
    /// A Docker step was asked for without an engine.
    #[error("No Docker engine")]
    NoDocker,
    /// The requirements re-lock has no package index.
    #[error("No package index to re-lock `{file}` from")]
    NoIndex {
        /// The requirements file.
        file: String,
    },
    /// The index has no release of the new dependency to pin.
    #[error("No hashed pure-Python wheel of `{package}` on the index")]
    NoPureWheel {
        /// The package.
        package: String,
    },
    /// The project's lockfile could not be found.
    #[error(transparent)]
    Project(#[from] lockship_project::ProjectError),
    /// The package index could not be asked.
    #[error(transparent)]
    Wheel(#[from] lockship_wheel::WheelError),
    /// The HTTP client could not be made.
    #[error(transparent)]
    Fetch(#[from] lockship_fetch::FetchError),
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
            BenchError::NoRuns => Some("pass `--runs 1` or more".into()),
            BenchError::NoProject { .. } => {
                Some("pass the directories of Python projects (with pyproject.toml and a lockfile)".into())
            }
            BenchError::Start { .. } => Some("install it, or put it on `PATH`".into()),
            BenchError::Command { .. } => Some(
                "the output above says why; run the same command by hand in the work copy under `--out`/work".into(),
            ),
            BenchError::Summary { .. } => {
                Some("run the `lockship` binary the harness was given by hand with `--json build`".into())
            }
            BenchError::DockerOutput { .. } | BenchError::NoDocker => {
                Some("check that the Docker engine runs (`docker info`)".into())
            }
            BenchError::NoIndex { .. } | BenchError::NoPureWheel { .. } => {
                Some("pass `--index-url URL` of an index that serves the package".into())
            }
            BenchError::Project(e) => e.hint(),
            BenchError::Wheel(e) => e.hint(),
            BenchError::Fetch(e) => e.hint(),
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
