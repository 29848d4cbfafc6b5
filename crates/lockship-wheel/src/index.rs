//! The simple-API index client: project pages (PEP 691 JSON first, PEP 503
//! HTML otherwise), credentials, and wheel downloads into the cache.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lockship_fetch::{Cache, Fetcher, Reporter};
use url::Url;

use crate::pages::{parse_html_page, parse_json_page, JSON_TYPE};
use crate::{normalize_name, WheelError};

/// The root of a simple-API index (`…/simple/`), possibly with credentials
/// in its userinfo. `Display` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexUrl {
    url: Url,
}

impl IndexUrl {
    /// Parses an index URL; a missing trailing `/` is added.
    pub fn parse(s: &str) -> Result<IndexUrl, WheelError> {
        let mut url = Url::parse(s.trim()).map_err(|e| WheelError::InvalidIndexUrl {
            url: s.to_string(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WheelError::InvalidIndexUrl {
                url: redact(&url),
                reason: "only `http` and `https` indexes are supported".to_string(),
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(IndexUrl { url })
    }

    /// The URL, with credentials if it carries any.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The project page of `package` (normalised name, trailing `/`), without
    /// credentials.
    pub fn project_url(&self, package: &str) -> Url {
        let mut url = self.url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let path = format!("{}{}/", url.path(), normalize_name(package));
        url.set_path(&path);
        url
    }
}

impl fmt::Display for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexUrl({self})")
    }
}

/// A URL as text with its password replaced by `****`.
pub fn redact(url: &Url) -> String {
    if url.password().is_some() {
        let mut shown = url.clone();
        let _ = shown.set_password(Some("****"));
        shown.to_string()
    } else {
        url.to_string()
    }
}

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The file name, for example `six-1.16.0-py2.py3-none-any.whl`.
    pub filename: String,
    /// The absolute download URL (resolved against the page, no fragment).
    pub url: Url,
    /// The lowercase hex SHA-256, from the JSON `hashes` or a `#sha256=`
    /// fragment.
    pub sha256: Option<String>,
    /// The `Requires-Python` specifier, when the index gives one.
    pub requires_python: Option<String>,
    /// Whether the file is yanked (PEP 592).
    pub yanked: bool,
    /// The reason given for yanking, if any.
    pub yanked_reason: Option<String>,
    /// The size in bytes, when the index gives it (PEP 700); the download
    /// is held to it.
    pub size: Option<u64>,
}

/// Basic-auth credentials for one host.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    username: String,
    password: Option<String>,
}

/// Lists files on simple-API indexes and downloads them into the cache.
///
/// Indexes are asked in order and the first one that knows the package wins
/// (no merging across indexes, so a public index cannot shadow a private
/// package). Credentials come from each index URL's userinfo, else from
/// `~/.netrc` (or `$NETRC`), and are sent to that host only.
pub struct IndexClient {
    fetcher: Fetcher,
    http: reqwest::blocking::Client,
    indexes: Vec<IndexUrl>,
    credentials: HashMap<String, Credentials>,
    attempts: u32,
    backoff: Duration,
}

impl IndexClient {
    /// Builds a client over `indexes`. `fetcher` downloads from hosts that
    /// need no credentials; pages and authenticated downloads use a client
    /// with the same trust store (system roots plus `SSL_CERT_FILE`).
    pub fn new(fetcher: Fetcher, indexes: Vec<IndexUrl>) -> Result<IndexClient, WheelError> {
        let netrc = std::env::var_os("NETRC")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")));
        Self::with_netrc(fetcher, indexes, netrc.as_deref())
    }

    /// Like [`IndexClient::new`], reading credentials from the given netrc
    /// file (or none) instead of the default one.
    pub fn with_netrc(
        fetcher: Fetcher,
        indexes: Vec<IndexUrl>,
        netrc: Option<&Path>,
    ) -> Result<IndexClient, WheelError> {
        let options = fetcher.options().clone();
        let http = build_http(options.connect_timeout, options.read_timeout)?;
        let netrc_entries = netrc
            .and_then(|p| fs_err::read_to_string(p).ok())
            .map(|text| parse_netrc(&text))
            .unwrap_or_default();
        let mut credentials = HashMap::new();
        for index in &indexes {
            let Some(key) = host_key(index.url()) else {
                continue;
            };
            let url = index.url();
            let creds = if !url.username().is_empty() {
                Some(Credentials {
                    username: percent_decode(url.username()),
                    password: url.password().map(percent_decode),
                })
            } else {
                let host = url.host_str().unwrap_or_default();
                netrc_entries
                    .get(host)
                    .or_else(|| netrc_entries.get(""))
                    .cloned()
            };
            if let Some(creds) = creds {
                credentials.entry(key).or_insert(creds);
            }
        }
        Ok(IndexClient {
            fetcher,
            http,
            indexes,
            credentials,
            attempts: options.attempts.max(1),
            backoff: options.backoff,
        })
    }

    /// The indexes this client asks, in order.
    pub fn indexes(&self) -> &[IndexUrl] {
        &self.indexes
    }

    /// Lists the files of `package` on the first index that knows it.
    pub fn files(&self, package: &str) -> Result<Vec<IndexFile>, WheelError> {
        self.files_on(&self.indexes, package)
    }

    /// Lists the files of `package` on `index` alone: a lock that records
    /// where a package came from (poetry's supplemental and explicit
    /// sources) is asked there, and no other index can stand in for it.
    pub fn files_at(&self, index: &IndexUrl, package: &str) -> Result<Vec<IndexFile>, WheelError> {
        self.files_on(std::slice::from_ref(index), package)
    }

    fn files_on(&self, indexes: &[IndexUrl], package: &str) -> Result<Vec<IndexFile>, WheelError> {
        for index in indexes {
            let page = index.project_url(package);
            let accept =
                format!("{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01");
            let Some((final_url, content_type, body)) = self.get(&page, Some(&accept))? else {
                continue;
            };
            return if content_type.contains(JSON_TYPE) {
                parse_json_page(&body, &final_url)
            } else {
                let text = String::from_utf8_lossy(&body);
                parse_html_page(&text, &final_url)
            };
        }
        Err(WheelError::PackageNotFound {
            package: package.to_string(),
            indexes: indexes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Returns the cache entry of a file, downloading it when missing; the
    /// SHA-256 is checked while the bytes stream in.
    pub fn download(
        &self,
        url: &Url,
        sha256: &str,
        cache: &Cache,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, WheelError> {
        let download_error = |source| WheelError::Download {
            url: redact(url),
            source,
        };
        if self.credentials_for(url).is_none() {
            return self
                .fetcher
                .fetch_to_cache(url, sha256, cache, reporter)
                .map_err(download_error);
        }
        if let Some(path) = cache.get(sha256).map_err(download_error)? {
            return Ok(path);
        }
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            let response = self.request(url, None).send();
            let transient = match response {
                Ok(r) if r.status().is_success() => {
                    return match cache.insert(r, Some(sha256), &redact(url)) {
                        Ok((path, _)) => Ok(path),
                        Err(e) => Err(download_error(e)),
                    };
                }
                Ok(r) if !(r.status().is_server_error() || r.status().as_u16() == 429) => {
                    return Err(WheelError::IndexStatus {
                        url: redact(url),
                        status: r.status().as_u16(),
                    });
                }
                Ok(r) => WheelError::IndexStatus {
                    url: redact(url),
                    status: r.status().as_u16(),
                },
                Err(source) => WheelError::IndexUnreachable {
                    url: redact(url),
                    source,
                },
            };
            if attempt >= self.attempts {
                return Err(transient);
            }
            std::thread::sleep(delay);
            delay *= 2;
            attempt += 1;
        }
    }

    fn credentials_for(&self, url: &Url) -> Option<&Credentials> {
        host_key(url).and_then(|k| self.credentials.get(&k))
    }

    fn request(&self, url: &Url, accept: Option<&str>) -> reqwest::blocking::RequestBuilder {
        let mut clean = url.clone();
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
        let mut request = self.http.get(clean);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if let Some(creds) = self.credentials_for(url) {
            request = request.basic_auth(&creds.username, creds.password.as_ref());
        }
        request
    }

    /// GETs a page with retries; `None` on 404/410 (not on this index).
    #[allow(clippy::type_complexity)]
    fn get(
        &self,
        url: &Url,
        accept: Option<&str>,
    ) -> Result<Option<(Url, String, Vec<u8>)>, WheelError> {
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            let result = self.request(url, accept).send().and_then(|r| {
                let status = r.status().as_u16();
                let final_url = r.url().clone();
                let content_type = r
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let body = r.bytes()?.to_vec();
                Ok((status, final_url, content_type, body))
            });
            let error = match result {
                Ok((200..=299, final_url, content_type, body)) => {
                    return Ok(Some((final_url, content_type, body)))
                }
                Ok((404 | 410, ..)) => return Ok(None),
                Ok((status, ..)) => {
                    let error = WheelError::IndexStatus {
                        url: redact(url),
                        status,
                    };
                    if !(status >= 500 || status == 429) {
                        return Err(error);
                    }
                    error
                }
                Err(source) => WheelError::IndexUnreachable {
                    url: redact(url),
                    source,
                },
            };
            if attempt >= self.attempts {
                return Err(error);
            }
            std::thread::sleep(delay);
            delay *= 2;
            attempt += 1;
        }
    }
}

/// `scheme://host:port`, the scope credentials apply to.
fn host_key(url: &Url) -> Option<String> {
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

fn build_http(
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<reqwest::blocking::Client, WheelError> {
    let client_error = |reason: String| WheelError::InvalidIndexUrl {
        url: "(all indexes)".to_string(),
        reason,
    };
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(concat!("lockship/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .timeout(None)
        .pool_idle_timeout(read_timeout);
    // The same trust store as lockship-fetch: native roots, plus SSL_CERT_FILE
    // explicitly so a bundle holding only a private CA works.
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        let pem = fs_err::read(&file).map_err(|e| client_error(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            client_error(format!(
                "`SSL_CERT_FILE` (`{}`) is not a PEM bundle: {e}",
                Path::new(&file).display()
            ))
        })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| client_error(e.to_string()))
}

/// Parses a netrc file into host → credentials; `default` is stored under
/// the empty host.
fn parse_netrc(text: &str) -> HashMap<String, Credentials> {
    let mut out = HashMap::new();
    let mut tokens = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace);
    let mut current: Option<(String, Credentials)> = None;
    let flush = |entry: Option<(String, Credentials)>, out: &mut HashMap<String, Credentials>| {
        if let Some((host, creds)) = entry {
            if !creds.username.is_empty() {
                out.entry(host).or_insert(creds);
            }
        }
    };
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                flush(current.take(), &mut out);
                let host = tokens.next().unwrap_or_default().to_string();
                current = Some((
                    host,
                    Credentials {
                        username: String::new(),
                        password: None,
                    },
                ));
            }
            "default" => {
                flush(current.take(), &mut out);
                current = Some((
                    String::new(),
                    Credentials {
                        username: String::new(),
                        password: None,
                    },
                ));
            }
            "login" => {
                if let (Some((_, c)), Some(v)) = (current.as_mut(), tokens.next()) {
                    c.username = v.to_string();
                }
            }
            "password" => {
                if let (Some((_, c)), Some(v)) = (current.as_mut(), tokens.next()) {
                    c.password = Some(v.to_string());
                }
            }
            "account" | "macdef" => {
                tokens.next();
            }
            _ => {}
        }
    }
    flush(current.take(), &mut out);
    out
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls_get_a_trailing_slash_and_redact_passwords() {
        let index = IndexUrl::parse("http://user:s3cret@127.0.0.1:9/simple").unwrap();
        assert_eq!(index.to_string(), "http://user:****@127.0.0.1:9/simple/");
        assert_eq!(
            index.project_url("Zope.Interface").as_str(),
            "http://127.0.0.1:9/simple/zope-interface/"
        );
        assert!(matches!(
            IndexUrl::parse("ftp://127.0.0.1/simple/"),
            Err(WheelError::InvalidIndexUrl { .. })
        ));
    }

    #[test]
    fn netrc_machines_and_default() {
        let parsed = parse_netrc(
            "# comment\nmachine 127.0.0.1 login alice password p%40ss\n\ndefault login bob password b\n",
        );
        assert_eq!(parsed["127.0.0.1"].username, "alice");
        assert_eq!(parsed["127.0.0.1"].password.as_deref(), Some("p%40ss"));
        assert_eq!(parsed[""].username, "bob");
    }

    #[test]
    fn userinfo_is_percent_decoded() {
        assert_eq!(percent_decode("p%40ss+x"), "p@ss+x");
    }
}
