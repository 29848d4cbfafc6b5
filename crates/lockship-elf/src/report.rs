//! Checking every scanned ELF file's `DT_NEEDED` entries.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::elf::ElfFile;
use crate::error::ElfError;
use crate::fs::Filesystem;
use crate::resolve::Resolver;
use crate::scan::{Scan, Scope, Warning};

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Which part of the file system has its ELF files scanned.
    pub scope: Scope,
    /// Also check the libraries found outside the scanned part (e.g. in the
    /// base image), and theirs, transitively. Off by default: the base is
    /// assumed complete.
    pub follow_found: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            scope: Scope::Everything,
            follow_found: false,
        }
    }
}

/// A file that needs a missing library.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Needer {
    /// Its in-image path.
    pub path: PathBuf,
    /// Its `e_machine`, to pick the package architecture.
    pub machine: u16,
}

/// The result of a check, in a deterministic order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Each soname nothing in the file system provides, with the files that need it.
    pub missing: BTreeMap<String, Vec<Needer>>,
    /// Each soname that was found, with the in-image paths it was found at
    /// (more than one when different files find different copies).
    pub resolved: BTreeMap<String, BTreeSet<PathBuf>>,
    /// How many ELF files were checked.
    pub scanned: usize,
    /// Files that could not be parsed and other problems.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// Whether every needed library was found.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Scans the chosen part of `fs` and checks every `DT_NEEDED` entry.
///
/// ```no_run
/// use lockship_elf::{check, CheckOptions, Filesystem, Scope};
/// # fn main() -> Result<(), lockship_elf::ElfError> {
/// let fs = Filesystem::new().with_root("base-rootfs").with_mount("/opt/venv", ".venv");
/// let options = CheckOptions { scope: Scope::Under(vec!["/opt/venv".into()]), ..Default::default() };
/// let report = check(&fs, &options)?;
/// for (soname, needers) in &report.missing {
///     eprintln!("{soname}: needed by {}", needers[0].path.display());
/// }
/// # Ok(()) }
/// ```
pub fn check(fs: &Filesystem, options: &CheckOptions) -> Result<Report, ElfError> {
    let scan = fs.scan(&options.scope)?;
    Ok(check_scan(fs, scan, options.follow_found))
}

/// Checks the `DT_NEEDED` entries of an existing scan against `fs`.
pub fn check_scan(fs: &Filesystem, scan: Scan, follow_found: bool) -> Report {
    let resolver = Resolver::new(fs);
    let mut report = Report {
        warnings: scan.warnings,
        ..Report::default()
    };
    report.warnings.extend(resolver.warnings().iter().cloned());

    // Files already checked, by real in-image path.
    let mut seen: HashSet<PathBuf> = scan
        .files
        .iter()
        .map(|f| fs.canonicalize(&f.path).unwrap_or_else(|| f.path.clone()))
        .collect();
    let mut queue: Vec<ElfFile> = scan.files;
    queue.reverse();
    let mut missing: BTreeMap<String, BTreeSet<Needer>> = BTreeMap::new();
    while let Some(file) = queue.pop() {
        report.scanned += 1;
        let mut followed = Vec::new();
        for soname in &file.needed {
            match resolver.resolve(&file, soname) {
                Some(found) => {
                    report
                        .resolved
                        .entry(soname.clone())
                        .or_default()
                        .insert(found.path.clone());
                    if follow_found && seen.insert(found.real_path.clone()) {
                        match fs.read_elf(&found.path) {
                            Ok(Some(elf)) => followed.push(elf),
                            Ok(None) => {}
                            Err(message) => report.warnings.push(Warning {
                                path: found.path.clone(),
                                message,
                            }),
                        }
                    }
                }
                None => {
                    missing.entry(soname.clone()).or_default().insert(Needer {
                        path: file.path.clone(),
                        machine: file.machine,
                    });
                }
            }
        }
        followed.sort_by(|a, b| b.path.cmp(&a.path));
        queue.extend(followed);
    }
    report.missing = missing
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    report.warnings.sort();
    report.warnings.dedup();
    report
}
