//! A Debian repository (one suite, one architecture, some components).

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use lockship_fetch::{Cache, FetchError, Fetcher, Reporter};
use url::Url;

use crate::packages::parse_packages_from;
use crate::{verify_inrelease, DebianError, FileSum, Keyring, Package, PackageIndex, Release};

/// How many `.deb` downloads run at once in [`Repository::fetch_debs`].
pub const PARALLEL_DOWNLOADS: usize = 4;

/// Which repository to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoOptions {
    /// The archive root, e.g. `http://HOST/debian` (the directory holding
    /// `dists/` and `pool/`). A missing trailing slash is fine.
    pub mirror: Url,
    /// The suite or codename (`bookworm`, `stable`).
    pub suite: String,
    /// The Debian architecture (`amd64`, `arm64`, `armhf`).
    pub arch: String,
    /// The components to index, e.g. `["main"]`.
    pub components: Vec<String>,
}

/// An opened repository: its verified Release file and its package index.
#[derive(Debug, Clone)]
pub struct Repository {
    /// What was opened.
    pub options: RepoOptions,
    /// The verified Release file.
    pub release: Release,
    /// Every package of the requested components (architecture-specific
    /// and `all`).
    pub index: PackageIndex,
}

impl Repository {
    /// Fetches `{mirror}/dists/{suite}/InRelease` (always fresh), verifies
    /// its signature with `keyring`, then fetches each component's
    /// `binary-{arch}/Packages` index (`.xz`, else `.gz`, else uncompressed,
    /// whichever the Release lists) through `cache`, checked against the
    /// SHA-256 in the Release file, and parses it.
    ///
    /// When the Release says `Acquire-By-Hash: yes`, indexes are fetched
    /// from their `by-hash/SHA256/` path (immune to a mirror update between
    /// the two downloads), falling back to the plain path.
    pub fn open(
        fetcher: &Fetcher,
        cache: &Cache,
        keyring: &Keyring,
        options: RepoOptions,
        reporter: &dyn Reporter,
    ) -> Result<Repository, DebianError> {
        let mut options = options;
        options.mirror = with_trailing_slash(&options.mirror);
        let dists = join(&options.mirror, &format!("dists/{}/", options.suite))?;
        let inrelease_url = join(&dists, "InRelease")?;
        let bytes = fetcher
            .get_bytes(&inrelease_url)
            .map_err(DebianError::fetch(&inrelease_url))?;
        let release = verify_inrelease(&bytes, keyring, inrelease_url.as_str())?;
        if !release.is_named(&options.suite) {
            return Err(DebianError::BadSignature {
                origin: inrelease_url.to_string(),
                key_ids: Vec::new(),
                reason: format!(
                    "the signed Release is for suite `{}` (codename `{}`), not `{}`",
                    release.suite, release.codename, options.suite
                ),
            });
        }
        if !release.architectures.iter().any(|a| a == &options.arch) {
            return Err(DebianError::MissingArchitecture {
                mirror: options.mirror.to_string(),
                suite: options.suite.clone(),
                arch: options.arch.clone(),
                available: release
                    .architectures
                    .iter()
                    .filter(|a| *a != "all")
                    .cloned()
                    .collect(),
            });
        }
        let mut packages = Vec::new();
        for component in &options.components {
            if !release.components.is_empty() && !release.components.contains(component) {
                return Err(DebianError::MissingComponent {
                    mirror: options.mirror.to_string(),
                    suite: options.suite.clone(),
                    component: component.clone(),
                    available: release.components.clone(),
                });
            }
            let base = format!("{component}/binary-{}/Packages", options.arch);
            let Some((suffix, sum)) = ["xz", "gz", ""].iter().find_map(|ext| {
                let path = if ext.is_empty() {
                    base.clone()
                } else {
                    format!("{base}.{ext}")
                };
                release.sha256.get(&path).map(|s| (*ext, s))
            }) else {
                return Err(DebianError::MissingIndex {
                    origin: inrelease_url.to_string(),
                    path: base,
                });
            };
            let path = if suffix.is_empty() {
                base.clone()
            } else {
                format!("{base}.{suffix}")
            };
            let url = join(&dists, &path)?;
            let file = fetch_listed(fetcher, cache, &release, &dists, &path, sum, reporter)?;
            let text = decompress(&file, suffix, url.as_str())?;
            packages.extend(parse_packages_from(&text, url.as_str())?);
        }
        Ok(Repository {
            options,
            release,
            index: PackageIndex::new(packages),
        })
    }

    /// The suite's directory on the mirror: `{mirror}/dists/{suite}/`.
    pub fn dists_url(&self) -> Url {
        // The mirror ends with `/` and the suite is a plain name; should the
        // join fail anyway, the mirror itself is the best remaining answer.
        join(
            &self.options.mirror,
            &format!("dists/{}/", self.options.suite),
        )
        .unwrap_or_else(|_| self.options.mirror.clone())
    }

    /// Where the signed Release file was fetched from.
    pub fn inrelease_url(&self) -> Url {
        let dists = self.dists_url();
        dists.join("InRelease").unwrap_or(dists)
    }

    /// Downloads (or takes from the cache) a file listed in the Release
    /// file's SHA256 list, by its path relative to [`Repository::dists_url`],
    /// verified against that hash. Returns the cache path and the URL.
    pub(crate) fn fetch_listed(
        &self,
        fetcher: &Fetcher,
        cache: &Cache,
        path: &str,
        reporter: &dyn Reporter,
    ) -> Result<(PathBuf, Url), DebianError> {
        let dists = self.dists_url();
        let url = join(&dists, path)?;
        let Some(sum) = self.release.sha256.get(path) else {
            return Err(DebianError::MissingIndex {
                origin: self.inrelease_url().to_string(),
                path: path.to_string(),
            });
        };
        let file = fetch_listed(fetcher, cache, &self.release, &dists, path, sum, reporter)?;
        Ok((file, url))
    }

    /// Where a package's `.deb` lives: the mirror plus its `Filename`.
    pub fn deb_url(&self, pkg: &Package) -> Url {
        // `Filename` is a relative path like `pool/main/p/python3.11/…`; the
        // mirror always ends with `/`, so joining cannot fail for such paths.
        self.options
            .mirror
            .join(pkg.filename.trim_start_matches('/'))
            .unwrap_or_else(|_| self.options.mirror.clone())
    }

    /// Downloads (or takes from the cache) every package's `.deb`, checked
    /// against the SHA-256 of the Packages index, [`PARALLEL_DOWNLOADS`] at
    /// once. Returns the cache paths in the order of `packages`. On failure,
    /// the error of the first failing package (in `packages` order) is
    /// returned.
    pub fn fetch_debs(
        &self,
        fetcher: &Fetcher,
        cache: &Cache,
        packages: &[Package],
        reporter: &dyn Reporter,
    ) -> Result<Vec<PathBuf>, DebianError> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<PathBuf, DebianError>>>> =
            Mutex::new((0..packages.len()).map(|_| None).collect());
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_DOWNLOADS.min(packages.len()) {
                scope.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(pkg) = packages.get(i) else { break };
                    let url = self.deb_url(pkg);
                    let result = fetcher
                        .fetch_to_cache(&url, &pkg.sha256, cache, reporter)
                        .map_err(DebianError::fetch(&url));
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        // Indices are handed out in order, so everything before the first
        // failure was tried: the first error in input order is reported.
        let mut paths = Vec::with_capacity(packages.len());
        for result in results.into_iter().flatten() {
            paths.push(result?);
        }
        Ok(paths)
    }
}

/// Fetches `dists/SUITE/{path}` into the cache, checked against `sum`,
/// through `by-hash/SHA256/` when the Release offers it.
fn fetch_listed(
    fetcher: &Fetcher,
    cache: &Cache,
    release: &Release,
    dists: &Url,
    path: &str,
    sum: &FileSum,
    reporter: &dyn Reporter,
) -> Result<PathBuf, DebianError> {
    let url = join(dists, path)?;
    if release.acquire_by_hash {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let by_hash = if dir.is_empty() {
            join(dists, &format!("by-hash/SHA256/{}", sum.sha256))?
        } else {
            join(dists, &format!("{dir}/by-hash/SHA256/{}", sum.sha256))?
        };
        match fetcher.fetch_to_cache(&by_hash, &sum.sha256, cache, reporter) {
            Ok(file) => Ok(file),
            Err(FetchError::Status { .. } | FetchError::LocalFile { .. }) => fetcher
                .fetch_to_cache(&url, &sum.sha256, cache, reporter)
                .map_err(DebianError::fetch(&url)),
            Err(e) => Err(DebianError::fetch(&by_hash)(e)),
        }
    } else {
        fetcher
            .fetch_to_cache(&url, &sum.sha256, cache, reporter)
            .map_err(DebianError::fetch(&url))
    }
}

fn with_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn join(base: &Url, rel: &str) -> Result<Url, DebianError> {
    base.join(rel).map_err(|e| DebianError::Parse {
        origin: base.to_string(),
        line: 0,
        reason: format!("cannot build a URL from `{rel}` ({e})"),
    })
}

/// Decompresses an index file from the cache by its suffix.
fn decompress(path: &std::path::Path, suffix: &str, origin: &str) -> Result<String, DebianError> {
    let file = fs_err::File::open(path).map_err(DebianError::io(path))?;
    let file = std::io::BufReader::new(file);
    let mut reader: Box<dyn Read> = match suffix {
        "xz" => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        "gz" => Box::new(flate2::read::MultiGzDecoder::new(file)),
        _ => Box::new(file),
    };
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|source| DebianError::Decompress {
            origin: origin.to_string(),
            format: if suffix.is_empty() {
                "plain".into()
            } else {
                suffix.to_string()
            },
            source,
        })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_under_the_mirror_path() {
        let mirror = with_trailing_slash(&Url::parse("http://mirror.invalid/debian").unwrap());
        assert_eq!(mirror.as_str(), "http://mirror.invalid/debian/");
        let dists = join(&mirror, "dists/bookworm/").unwrap();
        assert_eq!(
            join(&dists, "main/binary-amd64/Packages.xz")
                .unwrap()
                .as_str(),
            "http://mirror.invalid/debian/dists/bookworm/main/binary-amd64/Packages.xz"
        );
        let again = with_trailing_slash(&mirror);
        assert_eq!(again, mirror);
    }

    #[test]
    fn decompress_reports_corrupt_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Packages.xz");
        fs_err::write(&path, b"not xz at all").unwrap();
        let err = decompress(&path, "xz", "file:///x/Packages.xz").unwrap_err();
        assert!(matches!(err, DebianError::Decompress { .. }), "{err:?}");
        assert!(err.to_string().contains("Packages.xz"));
    }
}
