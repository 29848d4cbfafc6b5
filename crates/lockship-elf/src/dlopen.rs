//! Libraries that Python code loads at run time with `ctypes` or `cffi`
//! (`dlopen`), which no `DT_NEEDED` entry names.
//!
//! [`scan_runtime_loads`] reads the `.py` files of a tree (a venv, a
//! project) without running them and lists the names passed to
//! `ctypes.util.find_library`, `ctypes.CDLL`/`cdll.LoadLibrary`/`cdll.<name>`
//! and `ffi.dlopen`, plus `lib*.so*` strings of the files that load; and, for
//! each installed distribution found in [`known_runtime_libraries`] (a data
//! table of names built at run time), that table's entries.
//! [`resolve_runtime_loads`] then looks each name up in an image the way
//! glibc's `dlopen` and `find_library` would, and returns the missing ones
//! for the caller to map to Debian packages ([`Wanted::matches_contents_path`]).
//!
//! Names tried one after another at one place form a group: the group is
//! satisfied when any of them is found. Names for Windows and macOS (and
//! loads in `if sys.platform == "win32":` blocks or `*_windows` functions)
//! are dropped, a library shipped next to its module satisfies its group,
//! and loads the code can do without (`allow_fail=True`, optional features
//! such as Django's GIS) are marked [`RuntimeLoad::optional`].
//!
//! ```no_run
//! use lockship_elf::{resolve_runtime_loads, scan_runtime_loads, Filesystem};
//! # fn main() -> Result<(), lockship_elf::ElfError> {
//! let scan = scan_runtime_loads(".venv".as_ref())?;
//! let fs = Filesystem::new().with_root("unpacked-base").with_mount("/opt/venv", ".venv");
//! let target = lockship_target::by_debian_arch("amd64").unwrap();
//! let result = resolve_runtime_loads(&fs, &scan.loads, target);
//! for missing in &result.missing {
//!     println!("{} wanted by {}", missing.name, missing.asked_by);
//! }
//! # Ok(()) }
//! ```

mod python;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_err, ElfError};
use crate::fs::Filesystem;
use crate::resolve::Resolver;
use crate::scan::Warning;

/// `.py` files larger than this are skipped with a warning (the largest
/// hand-written modules are a few hundred kilobytes; generated tables can be
/// larger but do not load libraries).
pub const MAX_PY_FILE: u64 = 4 * 1024 * 1024;

/// How a name is loaded, which decides how it is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadCall {
    /// `ctypes.util.find_library("x")`: a `libx.*` file in `ld.so.cache`.
    FindLibrary,
    /// `ctypes.CDLL`, `PyDLL` or `cdll.LoadLibrary`: `dlopen` of the name.
    Ctypes,
    /// `ctypes.cdll.x`: `dlopen("x")`.
    CdllAttribute,
    /// cffi's `ffi.dlopen`: `dlopen` of a name with a dot or slash, then
    /// `find_library` of it.
    CffiDlopen,
    /// A `lib*.so*` string in a file that loads libraries: `dlopen` of it.
    Literal,
    /// An entry of [`known_runtime_libraries`] for an installed distribution.
    Table,
    /// A data file a table entry needs (e.g. libmagic's `magic.mgc`).
    TableFile,
}

/// One name a file loads at run time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RuntimeLoad {
    /// The name as written (`pq`, `libmagic.so.1`, `/usr/lib/file/magic.mgc`).
    pub name: String,
    /// The file that asks, relative to the scanned tree; for a table entry,
    /// the distribution's `*.dist-info/METADATA`.
    pub file: PathBuf,
    /// Its line (1-based); 0 for a table entry.
    pub line: u32,
    /// How it is loaded.
    pub call: LoadCall,
    /// Loads of the same file with the same group are alternatives: the
    /// code succeeds when any of them is found (WeasyPrint tries
    /// `gobject-2.0` and `libgobject-2.0.so.0`).
    pub group: u32,
    /// The code goes on without it: WeasyPrint's `allow_fail=True`, a table
    /// entry marked optional, or a module of an optional feature (Django's
    /// GIS). Report it missing as a warning; do not add packages for it.
    pub optional: bool,
}

/// What a scan found, in a deterministic order (file, line, group, name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuntimeScan {
    /// Every load found.
    pub loads: Vec<RuntimeLoad>,
    /// How many `.py` files were read.
    pub files_read: usize,
    /// Files skipped (too large, unreadable).
    pub warnings: Vec<Warning>,
}

/// One way a missing load can be satisfied, for mapping to a package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Wanted {
    /// A file with exactly this name in a library directory (`libpq.so.5`).
    Soname(String),
    /// What `find_library(name)` matches: a file `lib{name}.so` or
    /// `lib{name}.so.*` in a library directory (`pq`).
    FindLibrary(String),
    /// This absolute in-image path.
    File(PathBuf),
}

impl Wanted {
    /// Whether a Debian Contents path (no leading slash, e.g.
    /// `usr/lib/x86_64-linux-gnu/libpq.so.5`) satisfies this want: the
    /// caller's way from a missing load to the package that ships it.
    /// Only versioned files (`.so.N`) satisfy a [`Wanted::FindLibrary`], so
    /// a `-dev` package's `libx.so` link is never chosen.
    pub fn matches_contents_path(&self, path: &str, triplet: &str) -> bool {
        let path = path.trim_start_matches('/');
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
        let lib_dir = ["lib", "usr/lib", "lib64", "usr/lib64"].contains(&dir)
            || dir == format!("lib/{triplet}")
            || dir == format!("usr/lib/{triplet}");
        match self {
            Wanted::Soname(name) => lib_dir && base == name,
            Wanted::FindLibrary(name) => {
                lib_dir
                    && base
                        .strip_prefix("lib")
                        .and_then(|b| b.strip_prefix(name.as_str()))
                        .and_then(|b| b.strip_prefix(".so."))
                        .is_some_and(|v| !v.is_empty())
            }
            Wanted::File(want) => Path::new("/").join(path) == *want,
        }
    }
}

/// The file and line that ask for a load.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AskedBy {
    /// Relative to the scanned tree.
    pub file: PathBuf,
    /// 1-based; 0 for a table entry.
    pub line: u32,
}

impl std::fmt::Display for AskedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A group of alternative loads none of which the image satisfies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MissingRuntimeLib {
    /// The first name of the group as written.
    pub name: String,
    /// Every way to satisfy it, sonames first, then `find_library` names,
    /// then files: try them in order against the Contents index.
    pub wanted_as: Vec<Wanted>,
    /// Where it is asked for.
    pub asked_by: AskedBy,
    /// How it is loaded.
    pub call: LoadCall,
    /// The code goes on without it: warn, do not add packages.
    pub optional: bool,
}

/// A group of loads the image satisfies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SatisfiedLoad {
    /// The name that was found.
    pub name: String,
    /// The in-image path found.
    pub found: PathBuf,
    /// Where it is asked for.
    pub asked_by: AskedBy,
}

/// The loads of a scan checked against an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuntimeResolution {
    /// Groups found in the image, sorted.
    pub satisfied: Vec<SatisfiedLoad>,
    /// Groups not found, sorted.
    pub missing: Vec<MissingRuntimeLib>,
}

/// Scans the `.py` files below `root` (symlinks are not followed, files
/// over [`MAX_PY_FILE`] are skipped) and the distributions installed there.
pub fn scan_runtime_loads(root: &Path) -> Result<RuntimeScan, ElfError> {
    if !root.is_dir() {
        return Err(ElfError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut scan = RuntimeScan::default();
    let mut loads = BTreeSet::new();
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                scan.warnings.push(Warning {
                    path: err.path().unwrap_or(root).to_path_buf(),
                    message: format!("Cannot read the directory entry: {err}"),
                });
                continue;
            }
        };
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_dir() {
            if let Some(dist) = name.strip_suffix(".dist-info") {
                let dist = dist.split('-').next().unwrap_or(dist);
                loads.extend(table_loads(&normalize_dist(dist), &rel.join("METADATA")));
            }
            continue;
        }
        if !entry.file_type().is_file() || !name.ends_with(".py") {
            continue;
        }
        // Modules for another platform (`_securetransport`, `_windows.py`).
        let foreign = rel.components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            python::is_foreign_platform(c.strip_suffix(".py").unwrap_or(&c))
        });
        if foreign {
            continue;
        }
        files.push((entry.path().to_path_buf(), rel.to_path_buf()));
    }
    // Reading and scanning the files is independent work: split it over a
    // few threads, then merge (the result is sorted, so it is the same).
    scan.files_read = files.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = files.len().div_ceil(workers).max(1);
    let results: Vec<(Vec<RuntimeLoad>, Vec<Warning>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || scan_files(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a scanning thread does not panic"))
            .collect()
    });
    for (found, warnings) in results {
        scan.files_read -= warnings.len();
        loads.extend(found);
        scan.warnings.extend(warnings);
    }
    scan.warnings.sort();
    scan.loads = loads.into_iter().collect();
    scan.loads.sort_by(|a, b| {
        (&a.file, a.line, a.group, &a.name).cmp(&(&b.file, b.line, b.group, &b.name))
    });
    Ok(scan)
}

/// Scans some `.py` files: (host path, path relative to the tree).
fn scan_files(files: &[(PathBuf, PathBuf)]) -> (Vec<RuntimeLoad>, Vec<Warning>) {
    let mut loads = Vec::new();
    let mut warnings = Vec::new();
    for (path, rel) in files {
        let Some(bytes) = read_capped(path, rel, &mut warnings) else {
            continue;
        };
        if !python::may_load(&bytes) {
            continue;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        };
        let found = python::scan_source(&text);
        // A library shipped next to the module (loaded through
        // `os.path.join(os.path.dirname(__file__), name)`) satisfies its group.
        let dir = path.parent().unwrap_or(Path::new(""));
        let bundled: BTreeSet<u32> = found
            .iter()
            .filter(|l| !l.name.contains('/') && looks_like_soname(&l.name))
            .filter(|l| std::fs::symlink_metadata(dir.join(&l.name)).is_ok_and(|m| m.is_file()))
            .map(|l| l.group)
            .collect();
        for l in found.into_iter().filter(|l| !bundled.contains(&l.group)) {
            loads.push(RuntimeLoad {
                optional: l.optional || in_optional_module(rel),
                name: l.name,
                file: rel.clone(),
                line: l.line,
                call: l.call,
                group: l.group,
            });
        }
    }
    (loads, warnings)
}

/// Reads a regular file of at most [`MAX_PY_FILE`] bytes.
fn read_capped(path: &Path, rel: &Path, warnings: &mut Vec<Warning>) -> Option<Vec<u8>> {
    let result = (|| -> Result<Option<Vec<u8>>, ElfError> {
        let file = std::fs::File::open(path).map_err(io_err("open", path))?;
        let size = file.metadata().map_err(io_err("stat", path))?.len();
        if size > MAX_PY_FILE {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_PY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err("read", path))?;
        Ok((bytes.len() as u64 <= MAX_PY_FILE).then_some(bytes))
    })();
    match result {
        Ok(Some(bytes)) => Some(bytes),
        Ok(None) => {
            warnings.push(Warning {
                path: rel.to_path_buf(),
                message: format!(
                    "Skipped: larger than {MAX_PY_FILE} bytes, not scanned for libraries loaded at run time"
                ),
            });
            None
        }
        Err(err) => {
            warnings.push(Warning {
                path: rel.to_path_buf(),
                message: err.to_string(),
            });
            None
        }
    }
}

/// Whether a name can be loaded on Linux (not a Windows or macOS name, a
/// template or a relative path).
pub(crate) fn is_linux_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() < 256
        && !name
            .contains(|c: char| c.is_whitespace() || c.is_control() || "{}%*\\\"'$<>|?".contains(c))
        && ![".dll", ".dylib", ".pyd", ".exe", ".lib", ".a", ".h", ".py"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        && !lower.contains(".dylib")
        && (!name.contains('/') || name.starts_with('/'))
        && !name.ends_with('/')
        && ![
            "/System/",
            "/Library/",
            "/opt/homebrew/",
            "/usr/local/Cellar/",
        ]
        .iter()
        .any(|mac| name.starts_with(mac))
}

/// Whether a string looks like a shared library file: `libx.so`,
/// `libx.so.1`, `/usr/lib/libx.so.1`.
pub(crate) fn looks_like_soname(s: &str) -> bool {
    let base = s.rsplit('/').next().unwrap_or(s);
    base.starts_with("lib")
        && base.len() > 6
        && base
            .find(".so")
            .is_some_and(|i| base[i + 3..].is_empty() || base[i + 3..].starts_with('.'))
}

// ---------------------------------------------------------------------------
// The table of names built at run time.

/// The table's source, embedded at build time.
const TABLE: &str = include_str!("../data/runtime-libraries.toml");

/// One library a distribution loads under a name built at run time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KnownLibrary {
    /// The distribution's normalised name (`weasyprint`, `python-magic`).
    pub distribution: String,
    /// The name it passes to `find_library` (`pango-1.0`), if any.
    #[serde(default)]
    pub find_library: Option<String>,
    /// The soname it loads (`libpango-1.0.so.0`); also what a package must ship.
    pub soname: String,
    /// The distribution works without it (missing is a warning only).
    #[serde(default)]
    pub optional: bool,
}

/// A module path (`django/contrib/gis`) whose loads belong to an optional
/// feature: most users of the distribution never import it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OptionalModule {
    /// Slash-separated module directory, as below `site-packages`.
    pub path: String,
}

/// One data file a distribution's library needs at run time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KnownFile {
    /// The distribution's normalised name.
    pub distribution: String,
    /// The absolute in-image path (`/usr/lib/file/magic.mgc`).
    pub path: PathBuf,
}

/// The table of [`known_runtime_libraries`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownRuntimeLibraries {
    /// Libraries, by distribution.
    #[serde(default)]
    pub library: Vec<KnownLibrary>,
    /// Data files, by distribution.
    #[serde(default)]
    pub file: Vec<KnownFile>,
    /// Modules whose loads are optional.
    #[serde(default, rename = "optional-module")]
    pub optional_module: Vec<OptionalModule>,
}

/// Whether a scanned file lies in one of the table's optional modules.
fn in_optional_module(rel: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    known_runtime_libraries().optional_module.iter().any(|m| {
        let want: Vec<&std::ffi::OsStr> = Path::new(&m.path).iter().collect();
        !want.is_empty() && parts.windows(want.len()).any(|w| w == want.as_slice())
    })
}

/// The built-in table of libraries whose names Python packages build at
/// run time (or load through wrappers a scan cannot follow), keyed by
/// distribution: `crates/lockship-elf/data/runtime-libraries.toml`.
pub fn known_runtime_libraries() -> &'static KnownRuntimeLibraries {
    static PARSED: std::sync::OnceLock<KnownRuntimeLibraries> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        // The table is part of the source; a test parses it.
        toml::from_str(TABLE).expect("data/runtime-libraries.toml is valid")
    })
}

/// A distribution name as PEP 503 normalises it (`Python_Magic` → `python-magic`).
fn normalize_dist(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&part.to_ascii_lowercase());
    }
    out
}

/// The table's loads for one installed distribution.
fn table_loads(dist: &str, metadata: &Path) -> Vec<RuntimeLoad> {
    let table = known_runtime_libraries();
    let mut loads = Vec::new();
    let mut group = 1_000_000;
    let mut push = |name: &str, call, group, optional| {
        loads.push(RuntimeLoad {
            name: name.to_string(),
            file: metadata.to_path_buf(),
            line: 0,
            call,
            group,
            optional,
        })
    };
    for lib in table.library.iter().filter(|l| l.distribution == dist) {
        group += 1;
        push(&lib.soname, LoadCall::Table, group, lib.optional);
        if let Some(name) = &lib.find_library {
            push(name, LoadCall::Table, group, lib.optional);
        }
    }
    for file in table.file.iter().filter(|f| f.distribution == dist) {
        group += 1;
        push(
            &file.path.to_string_lossy(),
            LoadCall::TableFile,
            group,
            false,
        );
    }
    loads
}

// ---------------------------------------------------------------------------
// Resolution.

/// The ways one load can be satisfied.
fn wants(load: &RuntimeLoad) -> Vec<Wanted> {
    let name = &load.name;
    let exact = || {
        if name.starts_with('/') {
            Wanted::File(PathBuf::from(name))
        } else {
            Wanted::Soname(name.clone())
        }
    };
    match load.call {
        LoadCall::FindLibrary => vec![Wanted::FindLibrary(name.clone())],
        LoadCall::Ctypes | LoadCall::CdllAttribute | LoadCall::Literal => vec![exact()],
        LoadCall::CffiDlopen if name.contains(['.', '/']) => {
            let mut w = vec![exact()];
            if !name.contains('/') {
                w.push(Wanted::FindLibrary(name.clone()));
            }
            w
        }
        LoadCall::CffiDlopen => vec![Wanted::FindLibrary(name.clone())],
        LoadCall::Table if looks_like_soname(name) => vec![exact()],
        LoadCall::Table => vec![Wanted::FindLibrary(name.clone())],
        LoadCall::TableFile => vec![Wanted::File(PathBuf::from(name))],
    }
}

/// The library directories of an image: what `ld.so.cache` would hold
/// (the `ld.so.conf` directories) and the loader's trusted directories.
struct LibraryDirs {
    /// File name → in-image path, first directory wins.
    files: BTreeMap<String, PathBuf>,
}

impl LibraryDirs {
    fn new(fs: &Filesystem, target: &lockship_target::Target) -> Self {
        let resolver = Resolver::new(fs);
        let triplet = target.triplet;
        let mut dirs: Vec<PathBuf> = resolver.ld_so_conf_dirs().to_vec();
        dirs.push(format!("/lib/{triplet}").into());
        dirs.push(format!("/usr/lib/{triplet}").into());
        if target.has_lib64() {
            dirs.extend(["/lib64".into(), "/usr/lib64".into()]);
        }
        dirs.extend(["/lib".into(), "/usr/lib".into()]);
        let mut files = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for dir in dirs {
            let real = fs.canonicalize(&dir).unwrap_or(dir.clone());
            if !seen.insert(real) {
                continue;
            }
            for name in fs.read_dir(&dir) {
                let name = name.to_string_lossy().into_owned();
                if name.starts_with("lib") && name.contains(".so") {
                    files.entry(name.clone()).or_insert_with(|| dir.join(&name));
                }
            }
        }
        LibraryDirs { files }
    }

    /// Where `want` is satisfied in the image, if it is.
    fn find(&self, fs: &Filesystem, want: &Wanted) -> Option<PathBuf> {
        let usable = |path: &Path| is_shared_object(fs, path).then(|| path.to_path_buf());
        match want {
            Wanted::Soname(name) => self.files.get(name).and_then(|p| usable(p)),
            Wanted::FindLibrary(name) => {
                let prefix = format!("lib{name}.");
                self.files
                    .range(prefix.clone()..)
                    .take_while(|(n, _)| n.starts_with(&prefix))
                    .filter(|(n, _)| n[prefix.len() - 1..].starts_with(".so"))
                    .find_map(|(_, p)| usable(p))
            }
            Wanted::File(path) => fs.is_file(path).then(|| path.clone()),
        }
    }
}

/// Whether an in-image path is a regular file that starts like ELF.
fn is_shared_object(fs: &Filesystem, path: &Path) -> bool {
    let Some(host) = fs.host_path(path) else {
        return false;
    };
    let mut magic = [0u8; 4];
    std::fs::File::open(&host)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == crate::ELF_MAGIC
}

/// Checks each group of loads against the image the way glibc's `dlopen`
/// (no `LD_LIBRARY_PATH`, no caller `RUNPATH`) and `find_library` (which
/// reads `ld.so.cache`, so the image's cache must list what is added) would
/// find them.
pub fn resolve_runtime_loads(
    fs: &Filesystem,
    loads: &[RuntimeLoad],
    target: &lockship_target::Target,
) -> RuntimeResolution {
    let dirs = LibraryDirs::new(fs, target);
    let mut groups: BTreeMap<(&Path, u32), Vec<&RuntimeLoad>> = BTreeMap::new();
    for load in loads {
        groups
            .entry((&load.file, load.group))
            .or_default()
            .push(load);
    }
    let mut result = RuntimeResolution::default();
    for members in groups.values() {
        let first = members[0];
        let asked_by = AskedBy {
            file: first.file.clone(),
            line: members.iter().map(|l| l.line).min().unwrap_or(0),
        };
        let found = members.iter().find_map(|load| {
            wants(load)
                .iter()
                .find_map(|w| dirs.find(fs, w))
                .map(|path| (load, path))
        });
        match found {
            Some((load, path)) => result.satisfied.push(SatisfiedLoad {
                name: load.name.clone(),
                found: path,
                asked_by,
            }),
            None => {
                let mut wanted_as: Vec<Wanted> = members.iter().flat_map(|l| wants(l)).collect();
                // Real sonames first: they map to a package most surely.
                wanted_as.sort_by_key(|w| match w {
                    Wanted::Soname(name) if looks_like_soname(name) => 0,
                    Wanted::Soname(_) => 1,
                    Wanted::FindLibrary(_) => 2,
                    Wanted::File(_) => 3,
                });
                let mut seen = BTreeSet::new();
                wanted_as.retain(|w| seen.insert(w.clone()));
                result.missing.push(MissingRuntimeLib {
                    name: first.name.clone(),
                    wanted_as,
                    asked_by,
                    call: first.call,
                    optional: members.iter().all(|l| l.optional),
                });
            }
        }
    }
    result.satisfied.sort();
    result.missing.sort();
    result
}

#[cfg(test)]
mod tests;
