use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::{Cache, FetchError};

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
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            attempts: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(120),
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

    fn open(&self, url: &Url) -> Result<(Box<dyn Read + Send>, Option<u64>), FetchError> {
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|_| FetchError::Client(format!("`{url}` is not a local path")))?;
            let file = std::fs::File::open(&path).map_err(|source| FetchError::LocalFile {
                path: path.clone(),
                source,
            })?;
            let len = file.metadata().ok().map(|m| m.len());
            return Ok((Box::new(file), len));
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

    /// Downloads `url` into memory.
    pub fn get_bytes(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        self.with_retries(|| {
            let (mut reader, len) = self.open(url)?;
            let mut buf = Vec::with_capacity(len.unwrap_or(0) as usize);
            reader
                .read_to_end(&mut buf)
                .map_err(|e| self.read_error(url, e))?;
            Ok(buf)
        })
    }

    /// Returns the cache entry for `sha256`, downloading `url` into the cache
    /// first when the entry is missing or corrupt. Bytes are hashed while they
    /// stream; a mismatch stores nothing and is an error.
    pub fn fetch_to_cache(
        &self,
        url: &Url,
        sha256: &str,
        cache: &Cache,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, FetchError> {
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("download")
            .to_string();
        if let Some(path) = cache.get(sha256)? {
            reporter.download_done(&name, true);
            return Ok(path);
        }
        let path = self.with_retries(|| {
            let (reader, len) = self.open(url)?;
            reporter.download_start(&name, len);
            let progress = ProgressRead {
                inner: reader,
                reporter,
                name: &name,
            };
            match cache.insert(progress, Some(sha256), url.as_str()) {
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
