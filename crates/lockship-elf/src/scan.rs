//! Finding and parsing the ELF files of a tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::elf::{has_elf_magic, parse_elf, ElfFile};
use crate::error::{io_err, ElfError};
use crate::fs::{normalize, Filesystem};

/// Something the scan skipped and the user may want to know about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    /// The in-image path involved.
    pub path: PathBuf,
    /// What went wrong, a sentence.
    pub message: String,
}

/// The ELF files of a tree, sorted by path, and what could not be read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scan {
    /// The ELF files found, sorted by in-image path.
    pub files: Vec<ElfFile>,
    /// Files that start like ELF but could not be parsed, unreadable
    /// directories, and the like.
    pub warnings: Vec<Warning>,
}

/// Which part of a [`Filesystem`] has its ELF files scanned (lookups always
/// see all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every file of every root and mount.
    Everything,
    /// Only files below these in-image paths (e.g. `/opt/venv`).
    Under(Vec<PathBuf>),
}

/// Scans every ELF file below `root`, reporting paths as absolute in-image
/// paths (`root` is `/`). Symlinks are not followed, so nothing outside
/// `root` is read and each file is parsed once.
pub fn scan_tree(root: &Path) -> Result<Scan, ElfError> {
    Filesystem::new().with_root(root).scan(&Scope::Everything)
}

impl Filesystem {
    /// Scans the ELF files of the chosen part of the image. Files hidden by
    /// an upper root or by a mount are skipped.
    pub fn scan(&self, scope: &Scope) -> Result<Scan, ElfError> {
        self.validate()?;
        let mut files: BTreeMap<PathBuf, ElfFile> = BTreeMap::new();
        let mut warnings = Vec::new();
        for index in 0..self.layer_count() {
            let (at, host) = self.layer_at(index);
            for start in walk_starts(at, scope) {
                let rel = start.strip_prefix(at).unwrap_or(Path::new(""));
                let top = host.join(rel);
                if self.real_dir(host, rel) {
                    self.scan_dir(index, at, host, &top, &mut files, &mut warnings);
                }
            }
        }
        warnings.sort();
        warnings.dedup();
        Ok(Scan {
            files: files.into_values().collect(),
            warnings,
        })
    }

    fn scan_dir(
        &self,
        index: usize,
        at: &Path,
        host: &Path,
        top: &Path,
        files: &mut BTreeMap<PathBuf, ElfFile>,
        warnings: &mut Vec<Warning>,
    ) {
        let walk = walkdir::WalkDir::new(top)
            .follow_links(false)
            .sort_by_file_name();
        for item in walk {
            let item = match item {
                Ok(item) => item,
                Err(err) => {
                    let path = err.path().unwrap_or(top);
                    warnings.push(Warning {
                        path: image_path(at, host, path),
                        message: format!("Cannot read: {err}"),
                    });
                    continue;
                }
            };
            if !item.file_type().is_file() {
                continue;
            }
            let image = image_path(at, host, item.path());
            if files.contains_key(&image) {
                continue;
            }
            // Hidden by a mount or an upper layer?
            match self.lookup(&image) {
                Some(entry) if entry.layer == Some(index) => {}
                _ => continue,
            }
            match read_elf(item.path(), &image) {
                Ok(Some(file)) => {
                    files.insert(image, file);
                }
                Ok(None) => {}
                Err(message) => warnings.push(Warning {
                    path: image,
                    message,
                }),
            }
        }
    }

    /// Parses the ELF file at an in-image path (symlinks followed);
    /// `Ok(None)` when there is no such file or it is not ELF. The result
    /// keeps the path as given, which is what `$ORIGIN` sees.
    pub fn read_elf(&self, path: &Path) -> Result<Option<ElfFile>, String> {
        let Some(host) = self.host_path(path) else {
            return Ok(None);
        };
        read_elf(&host, path)
    }
}

/// Reads one host file: `Ok(None)` if it is not ELF, `Err` with a message
/// when it starts like ELF but cannot be parsed.
fn read_elf(host: &Path, image: &Path) -> Result<Option<ElfFile>, String> {
    match has_elf_magic(host) {
        Ok(false) => return Ok(None),
        Ok(true) => {}
        Err(err) => return Err(format!("Cannot read the file: {err}")),
    }
    let bytes = fs_err::read(host)
        .map_err(io_err("read", host))
        .map_err(|e| format!("{e}"))?;
    parse_elf(image, &bytes)
        .map(Some)
        .map_err(|e| format!("Starts like ELF but cannot be parsed: {e}"))
}

/// The host directories to walk in a layer at `at` for `scope`, as in-image paths.
fn walk_starts(at: &Path, scope: &Scope) -> Vec<PathBuf> {
    match scope {
        Scope::Everything => vec![at.to_path_buf()],
        Scope::Under(prefixes) => prefixes
            .iter()
            .map(|p| normalize(&Path::new("/").join(p)))
            .filter_map(|p| {
                if p.starts_with(at) {
                    Some(p)
                } else if at.starts_with(&p) {
                    Some(at.to_path_buf())
                } else {
                    None
                }
            })
            .collect(),
    }
}

fn image_path(at: &Path, host: &Path, path: &Path) -> PathBuf {
    at.join(path.strip_prefix(host).unwrap_or(path))
}
