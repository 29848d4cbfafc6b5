//! The Debian Contents index: which packages ship which files.
//!
//! A suite publishes `{component}/Contents-{arch}.gz`, one line per file:
//! the path (no leading slash, may contain spaces), whitespace, then a
//! comma-separated list of `section/package` (or `area/section/package`).
//! Old files start with a free-text header that ends with a `FILE LOCATION`
//! line.
//!
//! Parsing the whole file (about 150 MB uncompressed for `main`) is too slow
//! to do on every build, so [`ContentsIndex::open`] derives a compact index
//! of the shared libraries once and keeps it in the cache, keyed by the
//! Contents file's SHA-256. [`ContentsIndex::packages_for_soname`] answers
//! from that index; [`ContentsIndex::search`] streams the full file (a few
//! seconds) to look for headers, executables and linker inputs.

use std::cmp::Reverse;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use lockship_fetch::{sha256_hex, Cache, Fetcher, Reporter};

use crate::{DebianError, Repository};

mod file;

#[cfg(test)]
use file::parse_line;
use file::{for_each_entry, load_libs, package_names, store_libs};

/// Bumped whenever the derived index's content or layout changes.
const FORMAT_VERSION: u32 = 1;
/// The first field of the derived index's first line.
const MAGIC: &str = "lockship-contents-libs";
/// The cache namespace of derived indexes.
const CACHE_NAMESPACE: &str = "debian-contents";
/// The derived index's file name inside its keyed directory.
const LIBS_FILE: &str = "libs.tsv";
/// Where the derived index looks for shared libraries (any depth below).
const LIB_ROOTS: [&str; 4] = ["lib/", "usr/lib/", "lib64/", "usr/lib64/"];
/// Directories searched for [`FileQuery::Executable`], best first.
const EXEC_DIRS: [&str; 4] = ["usr/bin", "bin", "usr/sbin", "sbin"];
/// How many leading lines may belong to a free-text header.
const HEADER_MAX_LINES: usize = 64;

/// A file to look for with [`ContentsIndex::search`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileQuery {
    /// A header as written in `#include <…>`: matches
    /// `usr/include/{any directories}/{name}`. The name may itself contain
    /// slashes (`postgresql/libpq-fe.h`).
    Header(String),
    /// A program run by a build: matches `{usr/bin,bin,usr/sbin,sbin}/{name}`.
    Executable(String),
    /// A linker input named by `-l{name}` (a leading `-l` is accepted):
    /// matches `lib{name}.so` or `lib{name}.a` directly in a default library
    /// directory. `-l:{file}` names the file exactly.
    LinkerLib(String),
    /// An exact path (a leading `/` is accepted).
    Path(String),
}

/// A file found in the Contents index and the packages shipping it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentsHit {
    /// The path, without a leading slash (e.g. `usr/lib/x86_64-linux-gnu/libpq.so.5`).
    pub path: String,
    /// Package names, without their section (e.g. `libpq5`).
    pub packages: Vec<String>,
}

/// Where the full Contents text is read from.
#[derive(Debug, Clone)]
enum Source {
    /// A cache entry, gzip-compressed or not.
    Cached { path: PathBuf, gz: bool },
    /// Text given to [`ContentsIndex::from_text`].
    Memory(Arc<str>),
}

/// A shared library of the derived index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LibFile {
    basename: String,
    path: String,
    packages: Vec<String>,
}

/// The Contents index of one component and architecture: a derived index of
/// its shared libraries in memory, and the full file in the cache.
#[derive(Debug, Clone)]
pub struct ContentsIndex {
    origin: String,
    sha256: String,
    triplet: Option<&'static str>,
    source: Source,
    /// Sorted by basename, then path.
    libs: Vec<LibFile>,
    libs_cached: bool,
}

impl ContentsIndex {
    /// Opens the Contents index of `component` for the repository's
    /// architecture.
    ///
    /// Downloads `{component}/Contents-{arch}.gz` (or the uncompressed file,
    /// or the suite-wide `Contents-{arch}` of old suites, whichever the
    /// Release lists first) through `cache`, verified against the SHA-256 of
    /// the signed Release file. The first time, the file is scanned to derive
    /// an index of its shared libraries, which is stored in the cache keyed
    /// by the file's hash; later opens only load that index.
    pub fn open(
        repo: &Repository,
        fetcher: &Fetcher,
        cache: &Cache,
        component: &str,
        reporter: &dyn Reporter,
    ) -> Result<ContentsIndex, DebianError> {
        let release = &repo.release;
        let arch = &repo.options.arch;
        if !release.components.is_empty() && !release.components.iter().any(|c| c == component) {
            return Err(DebianError::MissingComponent {
                mirror: repo.options.mirror.to_string(),
                suite: repo.options.suite.clone(),
                component: component.to_string(),
                available: release.components.clone(),
            });
        }
        let candidates = [
            format!("{component}/Contents-{arch}.gz"),
            format!("{component}/Contents-{arch}"),
            format!("Contents-{arch}.gz"),
            format!("Contents-{arch}"),
        ];
        let Some((listed, sum)) = candidates
            .iter()
            .find_map(|p| release.sha256.get(p).map(|s| (p, s)))
        else {
            return Err(DebianError::MissingContents {
                origin: repo.inrelease_url().to_string(),
                component: component.to_string(),
                arch: arch.clone(),
            });
        };
        let (file, url) = repo.fetch_listed(fetcher, cache, listed, reporter)?;
        let mut index = ContentsIndex {
            origin: url.to_string(),
            sha256: sum.sha256.clone(),
            triplet: multiarch_triplet(arch),
            source: Source::Cached {
                path: file,
                gz: listed.ends_with(".gz"),
            },
            libs: Vec::new(),
            libs_cached: true,
        };
        let libs_path = cache
            .keyed_dir(
                CACHE_NAMESPACE,
                &format!("v{FORMAT_VERSION}-{}", sum.sha256),
            )
            .join(LIBS_FILE);
        if let Some(libs) = load_libs(&libs_path, &sum.sha256) {
            index.libs = libs;
            return Ok(index);
        }
        let name = listed.rsplit('/').next().unwrap_or(listed);
        reporter.phase(&format!("indexing the shared libraries of `{name}`"));
        let result = index.derive_libs();
        reporter.phase("");
        index.libs = result?;
        index.libs_cached = false;
        store_libs(cache, &libs_path, &sum.sha256, &index.libs)?;
        Ok(index)
    }

    /// Builds an index from uncompressed Contents text held in memory (for
    /// tests and small repositories). `arch` is the Debian architecture,
    /// which decides the multiarch library directory used for ranking.
    pub fn from_text(text: &str, arch: &str) -> ContentsIndex {
        let mut index = ContentsIndex {
            origin: "Contents text".to_string(),
            sha256: sha256_hex(text.as_bytes()),
            triplet: multiarch_triplet(arch),
            source: Source::Memory(Arc::from(text)),
            libs: Vec::new(),
            libs_cached: false,
        };
        // Reading from memory cannot fail.
        index.libs = index.derive_libs().unwrap_or_default();
        index
    }

    /// Where the Contents file came from (its URL).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The SHA-256 of the Contents file, as listed in the Release file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// How many shared-library paths the derived index holds.
    pub fn library_count(&self) -> usize {
        self.libs.len()
    }

    /// Whether the derived library index was loaded from the cache (rather
    /// than derived by scanning the Contents file during this open).
    pub fn libraries_were_cached(&self) -> bool {
        self.libs_cached
    }

    /// The files named `soname` (e.g. `libpq.so.5`) under `lib/`, `usr/lib/`,
    /// `lib64/` or `usr/lib64/`, best first: files directly in the default
    /// library directories (`usr/lib/{triplet}`, `lib/{triplet}`, `usr/lib`,
    /// `lib`, `usr/lib64`, `lib64`, in that order), then the others (plugin
    /// directories, debug files), shallowest first. Empty when no package
    /// ships it.
    pub fn packages_for_soname(&self, soname: &str) -> Vec<ContentsHit> {
        let soname = soname.rsplit('/').next().unwrap_or(soname);
        let start = self
            .libs
            .partition_point(|lib| lib.basename.as_str() < soname);
        let mut hits: Vec<ContentsHit> = self.libs[start..]
            .iter()
            .take_while(|lib| lib.basename == soname)
            .map(|lib| ContentsHit {
                path: lib.path.clone(),
                packages: lib.packages.clone(),
            })
            .collect();
        hits.sort_by_cached_key(|hit| {
            let (dir, _) = split_path(&hit.path);
            (
                lib_dir_rank(dir, self.triplet).unwrap_or(usize::MAX),
                depth(&hit.path),
                hit.path.clone(),
            )
        });
        hits
    }

    /// The files whose basename starts with `prefix` (e.g. `libmagic.so`, for
    /// `find_library("magic")`), ranked as [`ContentsIndex::packages_for_soname`]
    /// ranks one name's files, then by basename. Answered from the derived
    /// index, so only shared-library paths are found.
    pub fn packages_for_prefix(&self, prefix: &str) -> Vec<ContentsHit> {
        let start = self
            .libs
            .partition_point(|lib| lib.basename.as_str() < prefix);
        let mut hits: Vec<(String, ContentsHit)> = self.libs[start..]
            .iter()
            .take_while(|lib| lib.basename.starts_with(prefix))
            .map(|lib| {
                (
                    lib.basename.clone(),
                    ContentsHit {
                        path: lib.path.clone(),
                        packages: lib.packages.clone(),
                    },
                )
            })
            .collect();
        hits.sort_by_cached_key(|(basename, hit)| {
            let (dir, _) = split_path(&hit.path);
            (
                lib_dir_rank(dir, self.triplet).unwrap_or(usize::MAX),
                depth(&hit.path),
                basename.clone(),
                hit.path.clone(),
            )
        });
        hits.into_iter().map(|(_, hit)| hit).collect()
    }

    /// Looks for every query in one pass over the full Contents file, and
    /// returns each query (in the order given) with its hits, best first.
    ///
    /// For headers and linker inputs, files shipped by `-dev` packages come
    /// first (and `-dev` packages first within a hit), then shallower paths;
    /// for linker inputs, shared before static libraries; for executables,
    /// `usr/bin`, `bin`, `usr/sbin`, `sbin` in that order.
    ///
    /// This decompresses and scans the whole file: a few seconds for `main`.
    pub fn search(
        &self,
        queries: &[FileQuery],
    ) -> Result<Vec<(FileQuery, Vec<ContentsHit>)>, DebianError> {
        let matchers: Vec<Matcher> = queries.iter().map(Matcher::new).collect();
        let mut found: Vec<Vec<ContentsHit>> = vec![Vec::new(); queries.len()];
        if !matchers.is_empty() {
            self.for_each_entry(|path, packages| {
                let (dir, file) = split_path(path);
                for (matcher, hits) in matchers.iter().zip(found.iter_mut()) {
                    if matcher.matches(path, dir, file, self.triplet) {
                        hits.push(ContentsHit {
                            path: path.to_string(),
                            packages: package_names(packages),
                        });
                    }
                }
            })?;
        }
        Ok(queries
            .iter()
            .zip(found)
            .map(|(query, mut hits)| {
                rank(query, &mut hits, self.triplet);
                (query.clone(), hits)
            })
            .collect())
    }

    /// Scans the full file and keeps its shared libraries, sorted.
    fn derive_libs(&self) -> Result<Vec<LibFile>, DebianError> {
        let mut libs = Vec::new();
        self.for_each_entry(|path, packages| {
            let (_, file) = split_path(path);
            if file.contains(".so")
                && LIB_ROOTS.iter().any(|root| path.starts_with(root))
                && !path.contains('\t')
            {
                let packages = package_names(packages);
                if !packages.is_empty() {
                    libs.push(LibFile {
                        basename: file.to_string(),
                        path: path.to_string(),
                        packages,
                    });
                }
            }
        })?;
        libs.sort();
        libs.dedup_by(|a, b| a.path == b.path);
        Ok(libs)
    }

    /// Calls `f(path, qualified_packages)` for every entry of the full file.
    fn for_each_entry(&self, f: impl FnMut(&str, &str)) -> Result<(), DebianError> {
        match &self.source {
            Source::Memory(text) => for_each_entry(text.as_bytes(), &self.origin, "plain", f),
            Source::Cached { path, gz } => {
                let file = fs_err::File::open(path).map_err(DebianError::io(path))?;
                let file = BufReader::with_capacity(256 * 1024, file);
                if *gz {
                    let reader = BufReader::with_capacity(
                        256 * 1024,
                        flate2::read::MultiGzDecoder::new(file),
                    );
                    for_each_entry(reader, &self.origin, "gz", f)
                } else {
                    for_each_entry(file, &self.origin, "plain", f)
                }
            }
        }
    }
}

impl Repository {
    /// Opens the Contents index of `component` for this repository's
    /// architecture: see [`ContentsIndex::open`].
    pub fn contents(
        &self,
        fetcher: &Fetcher,
        cache: &Cache,
        component: &str,
        reporter: &dyn Reporter,
    ) -> Result<ContentsIndex, DebianError> {
        ContentsIndex::open(self, fetcher, cache, component, reporter)
    }
}

/// The multiarch tuple of a Debian architecture, if known.
fn multiarch_triplet(arch: &str) -> Option<&'static str> {
    lockship_target::by_debian_arch(arch).map(|t| t.triplet)
}

/// The rank of a default library directory (best is 0), or `None` for any
/// other directory. With an unknown architecture, any `*-linux-gnu*`
/// directory counts as the multiarch one.
fn lib_dir_rank(dir: &str, triplet: Option<&str>) -> Option<usize> {
    let is_triplet = |t: &str| match triplet {
        Some(triplet) => t == triplet,
        None => t.contains("-linux-gnu"),
    };
    if dir.strip_prefix("usr/lib/").is_some_and(is_triplet) {
        return Some(0);
    }
    if dir.strip_prefix("lib/").is_some_and(is_triplet) {
        return Some(1);
    }
    ["usr/lib", "lib", "usr/lib64", "lib64"]
        .iter()
        .position(|d| *d == dir)
        .map(|i| i + 2)
}

/// `(directory, file name)`; the directory is empty for a top-level file.
fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn depth(path: &str) -> usize {
    path.bytes().filter(|b| *b == b'/').count()
}

/// A user-given path without a leading `/` or `./`.
fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

/// Whether `path` is `name` or ends with `/{name}`.
fn ends_with_components(path: &str, name: &str) -> bool {
    path.strip_suffix(name)
        .is_some_and(|head| head.is_empty() || head.ends_with('/'))
}

/// A [`FileQuery`] prepared for matching many paths.
enum Matcher {
    Header(String),
    Executable(String),
    /// File names in a default library directory.
    LinkerLib(Vec<String>),
    Path(String),
}

impl Matcher {
    fn new(query: &FileQuery) -> Matcher {
        match query {
            FileQuery::Header(name) => Matcher::Header(normalize(name).to_string()),
            FileQuery::Executable(name) => {
                Matcher::Executable(split_path(name.trim_end_matches('/')).1.to_string())
            }
            FileQuery::LinkerLib(name) => {
                let name = name.strip_prefix("-l").unwrap_or(name);
                Matcher::LinkerLib(match name.strip_prefix(':') {
                    Some(file) => vec![file.to_string()],
                    None => vec![format!("lib{name}.so"), format!("lib{name}.a")],
                })
            }
            FileQuery::Path(path) => Matcher::Path(normalize(path).to_string()),
        }
    }

    fn matches(&self, path: &str, dir: &str, file: &str, triplet: Option<&str>) -> bool {
        match self {
            Matcher::Header(name) => path
                .strip_prefix("usr/include/")
                .is_some_and(|rest| ends_with_components(rest, name)),
            Matcher::Executable(name) => file == name && EXEC_DIRS.contains(&dir),
            Matcher::LinkerLib(files) => {
                files.iter().any(|f| f == file) && lib_dir_rank(dir, triplet).is_some()
            }
            Matcher::Path(exact) => path == exact,
        }
    }
}

/// Sorts a query's hits, best first.
fn rank(query: &FileQuery, hits: &mut [ContentsHit], triplet: Option<&str>) {
    let dev_first = matches!(query, FileQuery::Header(_) | FileQuery::LinkerLib(_));
    if dev_first {
        for hit in hits.iter_mut() {
            hit.packages.sort_by_key(|p| !p.ends_with("-dev"));
        }
    }
    hits.sort_by_cached_key(|hit| {
        let (dir, file) = split_path(&hit.path);
        let no_dev = dev_first && !hit.packages.iter().any(|p| p.ends_with("-dev"));
        let place = match query {
            FileQuery::Executable(_) => EXEC_DIRS
                .iter()
                .position(|d| *d == dir)
                .unwrap_or(usize::MAX),
            FileQuery::LinkerLib(_) => {
                lib_dir_rank(dir, triplet).unwrap_or(usize::MAX) * 2
                    + usize::from(file.ends_with(".a"))
            }
            FileQuery::Header(_) | FileQuery::Path(_) => depth(&hit.path),
        };
        (no_dev, place, Reverse(hit.packages.len()), hit.path.clone())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
usr/bin/pg_config                                       libdevel/libpq-dev
usr/include/postgresql/libpq-fe.h                       libdevel/libpq-dev
usr/include/postgresql/15/server/libpq-fe.h             database/postgresql-server-dev-15
usr/lib/postgresql/15/bin/pg_config                     database/postgresql-client-15
usr/lib/x86_64-linux-gnu/libpq.so                       libdevel/libpq-dev
usr/lib/x86_64-linux-gnu/libpq.a                        libdevel/libpq-dev
usr/lib/x86_64-linux-gnu/libpq.so.5                     libs/libpq5
usr/lib/x86_64-linux-gnu/libpq.so.5.15                  libs/libpq5
usr/lib/x86_64-linux-gnu/odbc/libpq.so.5                non-free/database/odbc-postgresql
usr/lib/debug/usr/lib/x86_64-linux-gnu/libpq.so.5       debug/libpq5-dbgsym
lib/x86_64-linux-gnu/libpq.so.5                         libs/libpq5-merged
usr/lib/python3/dist-packages/_foo.cpython-311-x86_64-linux-gnu.so python/python3-foo
usr/share/doc/My Docs/libpq.so.5 notes.txt              doc/weird-doc
usr/share/fonts/My Font.ttf                             fonts/fonts-spaced,fonts/fonts-spaced-extra
usr/include/zlib.h                                      libdevel/zlib1g-dev,libs/zlib-headers
sbin/ldconfig                                           libs/libc-bin
usr/sbin/ldconfig                                       admin/ldconfig-alt
";

    fn index() -> ContentsIndex {
        ContentsIndex::from_text(SAMPLE, "amd64")
    }

    fn paths(hits: &[ContentsHit]) -> Vec<&str> {
        hits.iter().map(|h| h.path.as_str()).collect()
    }

    fn one(index: &ContentsIndex, query: FileQuery) -> Vec<ContentsHit> {
        let mut results = index.search(std::slice::from_ref(&query)).unwrap();
        assert_eq!(results.len(), 1);
        let (q, hits) = results.pop().unwrap();
        assert_eq!(q, query);
        hits
    }

    #[test]
    fn lines_split_at_the_last_whitespace() {
        assert_eq!(
            parse_line("usr/share/fonts/My Font.ttf   fonts/a,fonts/b"),
            Some(("usr/share/fonts/My Font.ttf", "fonts/a,fonts/b"))
        );
        assert_eq!(
            parse_line("bin/ls\tutils/coreutils"),
            Some(("bin/ls", "utils/coreutils"))
        );
        assert_eq!(
            parse_line("/bin/ls utils/coreutils  "),
            Some(("bin/ls", "utils/coreutils"))
        );
        assert_eq!(parse_line("lonely"), None);
        assert_eq!(parse_line(""), None);
        assert_eq!(
            package_names("libs/libpq5, non-free/database/odbc,libs/libpq5"),
            vec!["libpq5", "odbc"]
        );
    }

    #[test]
    fn find_library_names_are_found_by_prefix() {
        let index = index();
        let hits = index.packages_for_prefix("libpq.so");
        // Every libpq.so* shared library, default directories first.
        assert!(hits.len() >= 4, "{hits:?}");
        assert!(hits[0]
            .path
            .starts_with("usr/lib/x86_64-linux-gnu/libpq.so"));
        assert!(hits.iter().all(|h| {
            let base = h.path.rsplit('/').next().unwrap();
            base.starts_with("libpq.so")
        }));
        assert!(index.packages_for_prefix("libnothere.so").is_empty());
        // A prefix never matches a longer library name's files by accident
        // of sorting: `libp` would, `libpq.so` must not find `libpqxx`.
        assert!(index
            .packages_for_prefix("libpq.so")
            .iter()
            .all(|h| !h.path.contains("libpqxx")));
    }

    #[test]
    fn sonames_are_ranked_default_dirs_first() {
        let index = index();
        // libpq.so.5 in four directories, .so, .so.5.15 and the Python
        // module; the static library, the doc file and programs are left out.
        assert_eq!(index.library_count(), 7);
        let hits = index.packages_for_soname("libpq.so.5");
        assert_eq!(
            paths(&hits),
            vec![
                "usr/lib/x86_64-linux-gnu/libpq.so.5",
                "lib/x86_64-linux-gnu/libpq.so.5",
                "usr/lib/x86_64-linux-gnu/odbc/libpq.so.5",
                "usr/lib/debug/usr/lib/x86_64-linux-gnu/libpq.so.5",
            ]
        );
        assert_eq!(hits[0].packages, vec!["libpq5"]);
        assert_eq!(hits[2].packages, vec!["odbc-postgresql"]);
        assert_eq!(
            index.packages_for_soname("_foo.cpython-311-x86_64-linux-gnu.so")[0].packages,
            vec!["python3-foo"]
        );
        assert!(index.packages_for_soname("libnothere.so.1").is_empty());
        assert!(index.packages_for_soname("libpq.so.6").is_empty());
        // Another architecture: the amd64 directory is not a default one.
        let arm = ContentsIndex::from_text(SAMPLE, "arm64");
        let hits = arm.packages_for_soname("libpq.so.5");
        assert_eq!(hits.len(), 4);
        assert_eq!(hits[0].path, "lib/x86_64-linux-gnu/libpq.so.5");
    }

    #[test]
    fn headers_match_any_include_subdirectory_dev_first() {
        let index = index();
        let hits = one(&index, FileQuery::Header("libpq-fe.h".into()));
        assert_eq!(
            paths(&hits),
            vec![
                "usr/include/postgresql/libpq-fe.h",
                "usr/include/postgresql/15/server/libpq-fe.h",
            ]
        );
        assert_eq!(hits[0].packages, vec!["libpq-dev"]);
        let hits = one(&index, FileQuery::Header("postgresql/libpq-fe.h".into()));
        assert_eq!(paths(&hits), vec!["usr/include/postgresql/libpq-fe.h"]);
        // A name matches whole path components only.
        assert!(one(&index, FileQuery::Header("pq-fe.h".into())).is_empty());
        assert!(one(&index, FileQuery::Header("sql/libpq-fe.h".into())).is_empty());
        // -dev packages come first within a hit too.
        let hits = one(&index, FileQuery::Header("zlib.h".into()));
        assert_eq!(hits[0].packages, vec!["zlib1g-dev", "zlib-headers"]);
    }

    #[test]
    fn executables_match_the_bin_dirs_only() {
        let index = index();
        let hits = one(&index, FileQuery::Executable("pg_config".into()));
        assert_eq!(paths(&hits), vec!["usr/bin/pg_config"]);
        assert_eq!(hits[0].packages, vec!["libpq-dev"]);
        let hits = one(&index, FileQuery::Executable("ldconfig".into()));
        assert_eq!(paths(&hits), vec!["usr/sbin/ldconfig", "sbin/ldconfig"]);
    }

    #[test]
    fn linker_libs_match_shared_then_static() {
        let index = index();
        for name in ["pq", "-lpq"] {
            let hits = one(&index, FileQuery::LinkerLib(name.into()));
            assert_eq!(
                paths(&hits),
                vec![
                    "usr/lib/x86_64-linux-gnu/libpq.so",
                    "usr/lib/x86_64-linux-gnu/libpq.a",
                ]
            );
            assert_eq!(hits[0].packages, vec!["libpq-dev"]);
        }
        let hits = one(&index, FileQuery::LinkerLib(":libpq.so.5".into()));
        assert_eq!(
            paths(&hits),
            vec![
                "usr/lib/x86_64-linux-gnu/libpq.so.5",
                "lib/x86_64-linux-gnu/libpq.so.5",
            ]
        );
        assert!(one(&index, FileQuery::LinkerLib("nothere".into())).is_empty());
    }

    #[test]
    fn exact_paths_with_spaces_and_several_packages() {
        let index = index();
        let hits = one(
            &index,
            FileQuery::Path("/usr/share/fonts/My Font.ttf".into()),
        );
        assert_eq!(
            hits,
            vec![ContentsHit {
                path: "usr/share/fonts/My Font.ttf".into(),
                packages: vec!["fonts-spaced".into(), "fonts-spaced-extra".into()],
            }]
        );
        let hits = one(
            &index,
            FileQuery::Path("usr/share/doc/My Docs/libpq.so.5 notes.txt".into()),
        );
        assert_eq!(hits[0].packages, vec!["weird-doc"]);
    }

    #[test]
    fn one_pass_answers_every_query_in_order() {
        let index = index();
        let queries = vec![
            FileQuery::Executable("pg_config".into()),
            FileQuery::Header("libpq-fe.h".into()),
            FileQuery::LinkerLib("pq".into()),
            FileQuery::Path("nowhere".into()),
        ];
        let results = index.search(&queries).unwrap();
        let got: Vec<_> = results.iter().map(|(q, h)| (q.clone(), h.len())).collect();
        assert_eq!(
            got,
            vec![
                (queries[0].clone(), 1),
                (queries[1].clone(), 2),
                (queries[2].clone(), 2),
                (queries[3].clone(), 0),
            ]
        );
        assert!(index.search(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_free_text_header_is_skipped() {
        let text = format!(
            "This file maps each file available in the Debian GNU/Linux system to\n\
             the package from which it originates.  It includes packages from the\n\
             DIST distribution for the ARCH architecture.\n\
             \n\
             FILE                                                    LOCATION\n{SAMPLE}"
        );
        let index = ContentsIndex::from_text(&text, "amd64");
        assert_eq!(index.library_count(), 7);
        // Header text would otherwise look like a file named `the` in
        // `...system to`.
        assert!(one(
            &index,
            FileQuery::Path(
                "This file maps each file available in the Debian GNU/Linux system".into()
            )
        )
        .is_empty());
        assert_eq!(
            one(&index, FileQuery::Executable("pg_config".into())).len(),
            1
        );
        // Without a header, the first lines are entries.
        let index = ContentsIndex::from_text("usr/lib/libx.so.1 libs/libx1\n", "amd64");
        assert_eq!(index.packages_for_soname("libx.so.1").len(), 1);
        // A file with only a header and no entries.
        let index = ContentsIndex::from_text("Header text\nFILE LOCATION\n", "amd64");
        assert_eq!(index.library_count(), 0);
    }

    #[test]
    fn long_files_without_header_keep_their_first_lines() {
        let mut text = String::new();
        for i in 0..(HEADER_MAX_LINES * 2) {
            text.push_str(&format!("usr/lib/libn{i}.so.1 libs/libn{i}\n"));
        }
        let index = ContentsIndex::from_text(&text, "amd64");
        assert_eq!(index.library_count(), HEADER_MAX_LINES * 2);
        assert_eq!(
            index.packages_for_soname("libn0.so.1")[0].packages,
            vec!["libn0"]
        );
    }

    #[test]
    fn the_derived_index_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("cache")).unwrap();
        let index = index();
        let path = cache.keyed_dir(CACHE_NAMESPACE, "test").join(LIBS_FILE);
        store_libs(&cache, &path, "abc", &index.libs).unwrap();
        assert_eq!(load_libs(&path, "abc").unwrap(), index.libs);
        // Another Contents file's hash: not used.
        assert!(load_libs(&path, "abd").is_none());
        // Truncated: not used.
        let text = fs_err::read_to_string(&path).unwrap();
        let cut = text.trim_end().rsplit_once('\n').unwrap().0;
        fs_err::write(&path, cut).unwrap();
        assert!(load_libs(&path, "abc").is_none());
        // Nothing left behind in the cache's temporary directory.
        assert_eq!(
            fs_err::read_dir(cache.root().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn lib_dir_ranks() {
        let t = Some("x86_64-linux-gnu");
        assert_eq!(lib_dir_rank("usr/lib/x86_64-linux-gnu", t), Some(0));
        assert_eq!(lib_dir_rank("lib/x86_64-linux-gnu", t), Some(1));
        assert_eq!(lib_dir_rank("usr/lib", t), Some(2));
        assert_eq!(lib_dir_rank("lib64", t), Some(5));
        assert_eq!(lib_dir_rank("usr/lib/x86_64-linux-gnu/odbc", t), None);
        assert_eq!(lib_dir_rank("usr/lib/aarch64-linux-gnu", t), None);
        assert_eq!(lib_dir_rank("usr/lib/aarch64-linux-gnu", None), Some(0));
        assert_eq!(multiarch_triplet("hurd-i386"), None);
    }
}
