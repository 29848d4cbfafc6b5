use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::{Cache, Expected, FetchError};

/// The most bytes a download of no declared size may bring: 16 GiB, above
/// the largest wheels published. Lock and index sizes bound a download
/// exactly; this only bounds a stream that declares nothing.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 16 << 30;

/// Progress events from downloads. Libraries never print; the binary
/// implements this with progress bars.
pub trait Reporter: Send + Sync {
    /// A download of `name` (`size` bytes, when known) starts.
    fn download_start(&self, _name: &str, _size: Option<u64>) {}
    /// `bytes` more bytes of `name` arrived.
    fn download_progress(&self, _name: &str, _bytes: u64) {}
    /// The download of `name` finished (or was found in the cache).
    fn download_done(&self, _name: &str, _cached: bool) {}
    /// A step that is not a download starts (`""`: the last step ended).
    fn phase(&self, _what: &str) {}
}

/// A [`Reporter`] that ignores everything.
pub struct NoReporter;
impl Reporter for NoReporter {}

/// Settings for [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// How many times a transient failure is tried in all.
    pub attempts: u32,
    /// The first back-off delay; it doubles after each failure.
    pub backoff: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Per-read timeout.
    pub read_timeout: Duration,
    /// The most bytes a download (or [`Fetcher::get_bytes`]) of no declared
    /// size may bring; see [`DEFAULT_MAX_DOWNLOAD_BYTES`].
    pub max_download_bytes: u64,
}

/// One file to bring into the cache: where from, and what it must be.
#[derive(Debug, Clone)]
pub struct Download<'a> {
    /// Where to get it (`http`, `https` or `file`).
    pub url: &'a Url,
    /// Its hex SHA-256, checked while it streams.
    pub sha256: &'a str,
    /// Its size, when the lock or the index declares one: more bytes stop
    /// the download at once, fewer are an error.
    pub expected_size: Option<u64>,
    /// Where a `file://` URL may point: `None` for a URL the user gave
    /// (a mirror on disk), or the directories a URL from a lock may read
    /// (the project, and any `--allow-file-urls DIR`). Either way the file
    /// must be a regular file, and symlinks are resolved before the check.
    pub allowed_file_roots: Option<&'a [PathBuf]>,
}

impl<'a> Download<'a> {
    /// A download with no declared size, whose `file://` URL may point
    /// anywhere (it comes from the user).
    pub fn new(url: &'a Url, sha256: &'a str) -> Self {
        Download {
            url,
            sha256,
            expected_size: None,
            allowed_file_roots: None,
        }
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            attempts: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(120),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
        }
    }
}

/// An HTTP(S) client that trusts the system's certificate store (and
/// `SSL_CERT_FILE`), retries transient failures with exponential back-off,
/// and reads `file://` URLs from disk.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::blocking::Client,
    options: FetchOptions,
}

impl Fetcher {
    /// Builds a client.
    pub fn new(options: FetchOptions) -> Result<Fetcher, FetchError> {
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(concat!("lockship/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(None)
            .pool_idle_timeout(Duration::from_secs(30));
        // rustls-native-certs reads the system store and honours SSL_CERT_FILE
        // and SSL_CERT_DIR; also add SSL_CERT_FILE explicitly so a bundle that
        // only holds a private CA still works.
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            let file = PathBuf::from(file);
            let pem = fs_err::read(&file)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                FetchError::Client(format!(
                    "`SSL_CERT_FILE` (`{}`) is not a PEM bundle: {e}",
                    file.display()
                ))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher { client, options })
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Runs `op` with retries on transient errors.
    fn with_retries<T>(
        &self,
        mut op: impl FnMut() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let mut delay = self.options.backoff;
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < self.options.attempts => {
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                Err(FetchError::Unreachable { url, source, .. }) => {
                    return Err(FetchError::Unreachable {
                        url,
                        attempts: attempt,
                        source,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn open(
        &self,
        url: &Url,
        roots: Option<&[PathBuf]>,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>), FetchError> {
        if url.scheme() == "file" {
            let (file, len) = open_local(url, roots)?;
            return Ok((Box::new(file), Some(len)));
        }
        let response =
            self.client
                .get(url.clone())
                .send()
                .map_err(|source| FetchError::Unreachable {
                    url: url.to_string(),
                    attempts: 1,
                    source,
                })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let len = response.content_length();
        Ok((Box::new(TimedRead(response)), len))
    }

    /// Downloads `url` into memory, at most
    /// [`FetchOptions::max_download_bytes`] of it.
    pub fn get_bytes(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let limit = self.options.max_download_bytes;
        self.with_retries(|| {
            let (reader, len) = self.open(url, None)?;
            if len.is_some_and(|l| l > limit) {
                return Err(self.too_large(url, limit, false));
            }
            let mut buf = Vec::with_capacity(len.unwrap_or(0).min(1 << 20) as usize);
            reader
                .take(limit.saturating_add(1))
                .read_to_end(&mut buf)
                .map_err(|e| self.read_error(url, e))?;
            if buf.len() as u64 > limit {
                return Err(self.too_large(url, limit, false));
            }
            Ok(buf)
        })
    }

    fn too_large(&self, url: &Url, limit: u64, declared: bool) -> FetchError {
        FetchError::TooLarge {
            url: url.to_string(),
            limit,
            declared,
        }
    }

    /// Returns the cache entry for `sha256`, downloading `url` into the cache
    /// first when the entry is missing or corrupt. Bytes are hashed while they
    /// stream; a mismatch stores nothing and is an error. The URL comes from
    /// the user: see [`Fetcher::download`] for one from a lock or an index.
    pub fn fetch_to_cache(
        &self,
        url: &Url,
        sha256: &str,
        cache: &Cache,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, FetchError> {
        self.download(&Download::new(url, sha256), cache, reporter)
    }

    /// Returns the cache entry of `request`, downloading it into the cache
    /// first when the entry is missing or corrupt. While the bytes stream
    /// they are hashed and counted: more than the declared size (or, with
    /// none, than [`FetchOptions::max_download_bytes`]) stops the download
    /// at once; a wrong final size or hash stores nothing. A `file://` URL
    /// must resolve to a regular file under `allowed_file_roots`.
    pub fn download(
        &self,
        request: &Download<'_>,
        cache: &Cache,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, FetchError> {
        let url = request.url;
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("download")
            .to_string();
        if let Some(path) = cache.get(request.sha256)? {
            reporter.download_done(&name, true);
            return Ok(path);
        }
        let expected = Expected {
            sha256: Some(request.sha256),
            size: request.expected_size,
            max_size: Some(self.options.max_download_bytes),
        };
        let path = self.with_retries(|| {
            let (reader, len) = self.open(url, request.allowed_file_roots)?;
            // A server (or file) that announces more than the bound is
            // refused before a byte is read.
            match (request.expected_size, len) {
                (Some(size), Some(len)) if len > size => {
                    return Err(self.too_large(url, size, true))
                }
                (None, Some(len)) if len > self.options.max_download_bytes => {
                    return Err(self.too_large(url, self.options.max_download_bytes, false))
                }
                _ => {}
            }
            reporter.download_start(&name, request.expected_size.or(len));
            let progress = ProgressRead {
                inner: reader,
                reporter,
                name: &name,
            };
            match cache.insert_checked(progress, &expected, url.as_str()) {
                Ok((path, _)) => Ok(path),
                Err(FetchError::Io(e)) if is_network_io(&e) => Err(self.read_error(url, e)),
                Err(e) => Err(e),
            }
        })?;
        reporter.download_done(&name, false);
        Ok(path)
    }

    fn read_error(&self, url: &Url, e: std::io::Error) -> FetchError {
        // Errors while reading a response body are network errors: retry them.
        match e.into_inner() {
            Some(inner) => match inner.downcast::<reqwest::Error>() {
                Ok(source) => FetchError::Unreachable {
                    url: url.to_string(),
                    attempts: 1,
                    source: *source,
                },
                Err(other) => FetchError::Io(std::io::Error::other(other)),
            },
            None => FetchError::Client(format!("reading `{url}` failed")),
        }
    }
}

/// Opens the regular file a `file://` URL names, after resolving every
/// symlink and, with `roots`, checking that it lies under one of them.
fn open_local(url: &Url, roots: Option<&[PathBuf]>) -> Result<(std::fs::File, u64), FetchError> {
    let path = url
        .to_file_path()
        .map_err(|_| FetchError::Client(format!("`{url}` is not a local path")))?;
    let local = |source| FetchError::LocalFile {
        path: path.clone(),
        source,
    };
    let real = std::fs::canonicalize(&path).map_err(local)?;
    if let Some(roots) = roots {
        let roots: Vec<PathBuf> = roots
            .iter()
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .collect();
        if !roots.iter().any(|r| real.starts_with(r)) {
            return Err(FetchError::FileUrlOutside {
                url: url.to_string(),
                path: real,
                roots,
            });
        }
    }
    // Checked before opening: opening a FIFO would block.
    let not_regular = |real: &Path| FetchError::NotRegularFile {
        url: url.to_string(),
        path: real.to_path_buf(),
    };
    if !std::fs::metadata(&real).map_err(local)?.is_file() {
        return Err(not_regular(&real));
    }
    let file = std::fs::File::open(&real).map_err(local)?;
    // And again on what was opened, in case the path changed in between.
    let meta = file.metadata().map_err(local)?;
    if !meta.is_file() {
        return Err(not_regular(&real));
    }
    Ok((file, meta.len()))
}

fn is_network_io(e: &std::io::Error) -> bool {
    e.get_ref()
        .map(|inner| inner.is::<reqwest::Error>())
        .unwrap_or(false)
}

struct TimedRead(reqwest::blocking::Response);
impl Read for TimedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

struct ProgressRead<'a> {
    inner: Box<dyn Read + Send>,
    reporter: &'a dyn Reporter,
    name: &'a str,
}
impl Read for ProgressRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.download_progress(self.name, n as u64);
        Ok(n)
    }
}
