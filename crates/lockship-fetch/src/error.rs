use std::path::PathBuf;

/// Errors from the cache and the HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A file-system operation on the cache failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The cache directory could not be created or used.
    #[error("Cannot use the cache directory `{path}`")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Downloaded bytes did not match the expected SHA-256.
    #[error("Hash mismatch for `{url}`: expected sha256 `{expected}`, got `{actual}`")]
    HashMismatch {
        /// Where the bytes came from.
        url: String,
        /// The expected hex digest.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The server answered with an HTTP error status.
    #[error("`{url}` answered HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request failed after all retries (connection refused, reset, timeout).
    #[error("Cannot reach `{url}` after {attempts} attempts")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: reqwest::Error,
    },
    /// Reading a local `file://` URL failed.
    #[error("Cannot read `{path}`")]
    LocalFile {
        /// The local path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built (for example, a bad CA bundle).
    #[error("Cannot set up the HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    /// Whether trying the same request again may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            FetchError::Unreachable { .. } => true,
            _ => false,
        }
    }
}
