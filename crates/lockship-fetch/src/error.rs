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
    /// A download sent more bytes than its declared size (or than the cap
    /// on downloads of no declared size); it was stopped there.
    #[error("`{url}` sent more than the {limit} bytes {}; the download was stopped", if *declared { "its lock or index declares" } else { "allowed for a download of unknown size" })]
    TooLarge {
        /// Where the bytes came from.
        url: String,
        /// The bound that was passed.
        limit: u64,
        /// Whether the bound is the file's declared size (else the cap).
        declared: bool,
    },
    /// A download ended at another size than the declared one.
    #[error("`{url}` is {actual} bytes, but its lock or index declares {expected}")]
    SizeMismatch {
        /// Where the bytes came from.
        url: String,
        /// The declared size.
        expected: u64,
        /// The size that arrived.
        actual: u64,
    },
    /// A `file://` URL points outside the directories it may read.
    #[error("`{url}` points to `{}`, outside the directories `file://` URLs may read ({})", path.display(), roots.iter().map(|r| format!("`{}`", r.display())).collect::<Vec<_>>().join(", "))]
    FileUrlOutside {
        /// The URL.
        url: String,
        /// Where it points, with symlinks resolved.
        path: PathBuf,
        /// The allowed directories, resolved.
        roots: Vec<PathBuf>,
    },
    /// A `file://` URL points to something that is not a regular file (a
    /// device such as `/dev/zero`, a FIFO, a directory).
    #[error("`{url}` points to `{}`, which is not a regular file", path.display())]
    NotRegularFile {
        /// The URL.
        url: String,
        /// Where it points, with symlinks resolved.
        path: PathBuf,
    },
    /// A file name from outside (a lock, an index) is not a plain base name
    /// of a distribution.
    #[error("Unsafe file name `{name}`: it {reason}")]
    UnsafeFileName {
        /// The name, escaped and shortened for display.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cache entry to prune resolves outside the cache (a link planted in
    /// it, or a directory moved under it); nothing was removed there.
    #[error("Refusing to remove `{}`: it resolves outside the cache", path.display())]
    CacheEscape {
        /// The entry.
        path: PathBuf,
    },
    /// A SHA-256 that is not 64 hex digits.
    #[error("`{value}` is not a SHA-256 (64 hex digits)")]
    BadSha256 {
        /// The value, escaped and shortened for display.
        value: String,
    },
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

    /// What the user can do about this error, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. } => Some(
                "the file changed on the server or in transit; if the lock is right, report it to the index; if not, regenerate the lock".into(),
            ),
            FetchError::TooLarge { declared: true, .. } => Some(
                "the server sends another file than the lock or index describes; regenerate the lock, or check the index".into(),
            ),
            FetchError::TooLarge { declared: false, .. } => Some(
                "give the file's size in the lock (uv.lock and pylock.toml record it), or raise `FetchOptions::max_download_bytes`".into(),
            ),
            FetchError::FileUrlOutside { .. } => Some(
                "a lock may only read local files inside the project; pass `--allow-file-urls DIR` to allow another directory".into(),
            ),
            FetchError::NotRegularFile { .. } => Some(
                "a `file://` URL must name a regular file (a wheel or an sdist), never a device, FIFO or directory".into(),
            ),
            FetchError::UnsafeFileName { .. } | FetchError::BadSha256 { .. } => Some(
                "lockship never uses a value from a lock or an index as a path; regenerate the lock with the tool that wrote it and check who changed this entry".into(),
            ),
            FetchError::CacheEscape { .. } => Some(
                "something inside the cache links outside it; remove that link by hand and check who planted it".into(),
            ),
            FetchError::Status { .. } | FetchError::Unreachable { .. } => {
                Some("check the URL and the network, then try again".into())
            }
            _ => None,
        }
    }
}
