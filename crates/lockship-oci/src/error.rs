//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while building, writing, loading or validating an image.
///
/// Every variant names the path, reference or digest involved; [`OciError::hint`] tells the
/// user what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A platform string could not be parsed.
    #[error("Unsupported platform `{input}`")]
    InvalidPlatform {
        /// What the user wrote.
        input: String,
    },

    /// An output string could not be parsed.
    #[error(
        "Invalid output `{input}`: expected `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`"
    )]
    InvalidOutput {
        /// What the user wrote.
        input: String,
    },

    /// An image tag could not be used as a reference.
    #[error("Invalid image tag `{tag}`: {reason}")]
    InvalidTag {
        /// The tag.
        tag: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The directory that should hold the output does not exist.
    #[error("Output directory `{path}` does not exist")]
    OutputParentMissing {
        /// The missing directory.
        path: PathBuf,
    },

    /// The path that should be the output's parent directory is not a directory.
    #[error("Output parent `{path}` is not a directory")]
    OutputParentNotDir {
        /// The path that is not a directory.
        path: PathBuf,
    },

    /// Nothing can be created in the output's directory.
    #[error("Cannot write into `{path}`: {source}")]
    OutputNotWritable {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// An `oci:` output points at an existing directory that is not an OCI layout.
    #[error("Refusing to replace `{path}`: it exists and is not an OCI layout")]
    OutputDirNotLayout {
        /// The existing directory.
        path: PathBuf,
    },

    /// The output path exists but has the wrong kind (a file where a directory goes or the reverse).
    #[error("Output `{path}` exists and is not a {expected}")]
    OutputWrongKind {
        /// The existing path.
        path: PathBuf,
        /// `directory` or `file`.
        expected: &'static str,
    },

    /// An I/O operation failed.
    #[error("I/O error on `{path}`: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A layer blob on disk no longer has the size recorded in its [`lockship_layer::Layer`].
    #[error(
        "Layer blob `{path}` has {actual} bytes, but its descriptor `{digest}` says {expected}"
    )]
    LayerChanged {
        /// The blob.
        path: PathBuf,
        /// Its recorded digest.
        digest: String,
        /// The recorded size.
        expected: u64,
        /// The size on disk.
        actual: u64,
    },

    /// A decompressed layer does not hash to its recorded diff id.
    #[error("Layer blob `{path}` decompresses to `{actual}`, expected diff id `{expected}`")]
    DiffIdMismatch {
        /// The blob.
        path: PathBuf,
        /// The recorded diff id.
        expected: String,
        /// The digest of the decompressed tar.
        actual: String,
    },

    /// The image's history does not describe its layers.
    #[error("Image for `{platform}` has {layers} layers but {history} non-empty history entries")]
    HistoryMismatch {
        /// The image's platform.
        platform: String,
        /// Number of layers.
        layers: usize,
        /// Number of history entries that are not `empty_layer`.
        history: usize,
    },

    /// `write_index_output` was given no image.
    #[error("No image to write to `{path}`")]
    NoImages {
        /// The output path.
        path: PathBuf,
    },

    /// Two images of one index have the same platform.
    #[error("Platform `{platform}` appears twice in the index for `{path}`")]
    DuplicatePlatform {
        /// The output path.
        path: PathBuf,
        /// The repeated platform.
        platform: String,
    },

    /// A docker-archive holds exactly one platform.
    #[error("A docker-archive holds one platform, but {count} were given for `{path}`")]
    DockerArchiveMultiPlatform {
        /// The output path.
        path: PathBuf,
        /// How many images were given.
        count: usize,
    },

    /// An output holds several images where one was expected.
    #[error("`{path}` holds {count} images (a multi-platform index); pick one platform")]
    MultiPlatform {
        /// The output path.
        path: PathBuf,
        /// How many images it holds.
        count: usize,
    },

    /// An output holds no image for the platform asked for.
    #[error("`{path}` holds no image for platform `{platform}`")]
    PlatformNotFound {
        /// The output path.
        path: PathBuf,
        /// The platform asked for.
        platform: String,
    },

    /// An output failed validation.
    #[error("Invalid image at `{path}`: {what}")]
    Invalid {
        /// What is wrong, naming the blob or file involved.
        what: String,
        /// The output (directory or archive).
        path: PathBuf,
    },

    /// No Docker engine answers on the socket.
    #[error("No Docker engine at `{socket}`: {reason}")]
    NoDockerEngine {
        /// The socket tried.
        socket: PathBuf,
        /// Why it could not be used.
        reason: String,
    },

    /// `DOCKER_HOST` names something other than a unix socket.
    #[error("Unsupported `DOCKER_HOST` `{host}`: only `unix://` sockets are supported")]
    UnsupportedDockerHost {
        /// The value of `DOCKER_HOST`.
        host: String,
    },

    /// The Docker engine answered with an HTTP error or an unreadable response.
    #[error("Docker engine at `{socket}` answered `{status}` to `{request}`: {message}")]
    DockerApi {
        /// The socket.
        socket: PathBuf,
        /// The request line, e.g. `POST /images/load`.
        request: String,
        /// The HTTP status (0 when the response could not be read).
        status: u16,
        /// The engine's message.
        message: String,
    },

    /// The Docker engine refused the image.
    #[error("Docker engine failed to load `{tag}`: {message}")]
    DockerLoad {
        /// The tag being loaded.
        tag: String,
        /// The engine's error message.
        message: String,
    },
}

impl OciError {
    /// What the user can do about this error, if there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            OciError::InvalidPlatform { .. } => Some(format!(
                "use one of {}",
                crate::platform::SUPPORTED
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            OciError::InvalidOutput { .. } => Some(
                "for example `--output oci-archive:python.tar` or `--output docker-archive:python.tar`"
                    .to_string(),
            ),
            OciError::InvalidTag { .. } => {
                Some("use a lowercase `name:tag`, for example `lockship/python:3.11`".to_string())
            }
            OciError::OutputParentMissing { path } => Some(format!(
                "create it first (`mkdir -p {}`) or choose another output path",
                path.display()
            )),
            OciError::OutputParentNotDir { .. } => {
                Some("choose an output path whose parent is a directory".to_string())
            }
            OciError::OutputNotWritable { path, .. } => Some(format!(
                "check the permissions of `{}` or choose another output path",
                path.display()
            )),
            OciError::OutputDirNotLayout { .. } => {
                Some("choose a new directory name, or remove the directory yourself".to_string())
            }
            OciError::OutputWrongKind { path, .. } => Some(format!(
                "remove `{}` or choose another output path",
                path.display()
            )),
            OciError::Io { .. } => None,
            OciError::LayerChanged { .. } | OciError::DiffIdMismatch { .. } => {
                Some("the layer changed after it was built; build the image again".to_string())
            }
            OciError::HistoryMismatch { .. } => Some(
                "add one history entry per layer (mark configuration-only steps `empty_layer`)"
                    .to_string(),
            ),
            OciError::NoImages { .. } => Some("give at least one platform".to_string()),
            OciError::DuplicatePlatform { .. } => {
                Some("give each platform only once".to_string())
            }
            OciError::DockerArchiveMultiPlatform { .. } => Some(
                "use `--output oci:DIR` or `--output oci-archive:FILE` for several platforms, or build one with `--platform`"
                    .to_string(),
            ),
            OciError::MultiPlatform { .. } | OciError::PlatformNotFound { .. } => {
                Some("choose one platform with `--platform`".to_string())
            }
            OciError::Invalid { .. } => Some(
                "the output is damaged or was changed after it was written; write it again"
                    .to_string(),
            ),
            OciError::NoDockerEngine { .. } => Some(
                "install and start the Docker engine (dockerd), set `DOCKER_HOST=unix:///path/to/docker.sock`, or write a file with `--output docker-archive:FILE` and load it later with `docker load -i FILE`"
                    .to_string(),
            ),
            OciError::UnsupportedDockerHost { .. } => Some(
                "unset `DOCKER_HOST` or point it at a unix socket; or write `--output docker-archive:FILE` and run `docker load -i FILE`"
                    .to_string(),
            ),
            OciError::DockerApi { status, .. } if *status == 403 || *status == 401 => Some(
                "check that your user may use the Docker socket (e.g. is in the `docker` group)"
                    .to_string(),
            ),
            OciError::DockerApi { .. } => Some(
                "check that the Docker engine is healthy (`docker info`), or use `--output docker-archive:FILE`"
                    .to_string(),
            ),
            OciError::DockerLoad { .. } => Some(
                "write `--output docker-archive:FILE` and try `docker load -i FILE` to see the engine's full output"
                    .to_string(),
            ),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OciError {
        let path = path.into();
        move |source| OciError::Io { path, source }
    }

    pub(crate) fn invalid(path: &std::path::Path, what: impl Into<String>) -> OciError {
        OciError::Invalid {
            what: what.into(),
            path: path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_facing_error_has_a_hint() {
        let e = OciError::InvalidOutput { input: "x".into() };
        assert!(e.hint().unwrap().contains("oci-archive:"));
        let e = OciError::NoDockerEngine {
            socket: "/var/run/docker.sock".into(),
            reason: "missing".into(),
        };
        assert!(e.to_string().contains("`/var/run/docker.sock`"));
        assert!(e.hint().unwrap().contains("docker-archive:FILE"));
        let e = OciError::InvalidPlatform { input: "x".into() };
        assert!(e.hint().unwrap().contains("`linux/arm64`"));
    }
}
