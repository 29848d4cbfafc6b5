//! Where glibc's `ld.so` would find each `DT_NEEDED` entry, modelled inside
//! the image's file system.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::elf::{read_ident, ElfFile, Ident};
use crate::fs::{normalize, Filesystem, Kind};
use crate::scan::Warning;
use crate::search::{default_dirs, expand, ld_so_conf_dirs, machine_info};

/// Which rule found a library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The `DT_NEEDED` entry is a path (it contains a slash).
    Path,
    /// `DT_RPATH` of the needing object (used only without `DT_RUNPATH`).
    Rpath,
    /// `DT_RUNPATH` of the needing object.
    Runpath,
    /// A directory listed by `/etc/ld.so.conf` (what `ld.so.cache` holds).
    LdSoConf,
    /// One of the loader's built-in directories.
    DefaultDir,
    /// An ELF with this `DT_SONAME` in an auditwheel `<name>.libs` directory
    /// of the same `site-packages`.
    AuditwheelLibs,
    /// The dynamic loader itself, whose program-interpreter path exists.
    Loader,
}

/// Where a library was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The in-image path the loader would open.
    pub path: PathBuf,
    /// The same with every symlink followed.
    pub real_path: PathBuf,
    /// The rule that found it.
    pub via: Via,
}

/// One directory of a search path and the rule it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchDir {
    /// The in-image directory, tokens expanded.
    pub dir: PathBuf,
    /// The rule.
    pub via: Via,
}

/// An ELF in an auditwheel `.libs` directory: soname, identity, in-image path.
type LibsEntry = (String, Ident, PathBuf);

/// Resolves `DT_NEEDED` entries the way glibc's loader searches, inside a
/// [`Filesystem`]. Caches what it has looked up.
#[derive(Debug)]
pub struct Resolver<'a> {
    fs: &'a Filesystem,
    conf_dirs: Vec<PathBuf>,
    warnings: Vec<Warning>,
    candidates: RefCell<HashMap<(PathBuf, String, Ident), Option<PathBuf>>>,
    libs_dirs: RefCell<HashMap<PathBuf, Vec<LibsEntry>>>,
}

impl<'a> Resolver<'a> {
    /// Reads the image's `/etc/ld.so.conf` (and what it includes).
    pub fn new(fs: &'a Filesystem) -> Self {
        let mut warnings = Vec::new();
        let conf_dirs = ld_so_conf_dirs(fs, &mut warnings);
        Resolver {
            fs,
            conf_dirs,
            warnings,
            candidates: RefCell::default(),
            libs_dirs: RefCell::default(),
        }
    }

    /// The directories `/etc/ld.so.conf` lists, in order.
    pub fn ld_so_conf_dirs(&self) -> &[PathBuf] {
        &self.conf_dirs
    }

    /// Problems reading the loader configuration.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The directories searched for the `DT_NEEDED` entries of `needer`, in
    /// order: `DT_RPATH` (only without `DT_RUNPATH`), `DT_RUNPATH`, the
    /// `ld.so.conf` directories, then the machine's default directories.
    ///
    /// glibc also searches the `DT_RPATH` of the objects that loaded this one
    /// (up to the executable) and `LD_LIBRARY_PATH`; neither is known here.
    pub fn search_path(&self, needer: &ElfFile) -> Vec<SearchDir> {
        let origin = needer
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let expand_all = |entries: &[String], via: Via| -> Vec<SearchDir> {
            entries
                .iter()
                .flat_map(|e| expand(e, &origin, needer.machine, needer.class64))
                .map(|dir| SearchDir { dir, via })
                .collect()
        };
        let mut dirs = Vec::new();
        if needer.runpath.is_empty() {
            dirs.extend(expand_all(&needer.rpath, Via::Rpath));
        }
        dirs.extend(expand_all(&needer.runpath, Via::Runpath));
        dirs.extend(self.conf_dirs.iter().map(|dir| SearchDir {
            dir: dir.clone(),
            via: Via::LdSoConf,
        }));
        dirs.extend(
            default_dirs(needer.machine, needer.class64)
                .into_iter()
                .map(|dir| SearchDir {
                    dir,
                    via: Via::DefaultDir,
                }),
        );
        dirs
    }

    /// Where the loader would find `soname` for `needer`, or `None` when
    /// nothing in the file system provides it.
    pub fn resolve(&self, needer: &ElfFile, soname: &str) -> Option<Found> {
        let ident = needer.ident();
        if soname.contains('/') {
            // A path: used as it is (a relative one depends on the working directory).
            if !soname.starts_with('/') {
                return None;
            }
            let path = normalize(Path::new(soname));
            return self.candidate(&path, ident).map(|real_path| Found {
                path,
                real_path,
                via: Via::Path,
            });
        }
        for SearchDir { dir, via } in self.search_path(needer) {
            let key = (dir.clone(), soname.to_string(), ident);
            let cached = self.candidates.borrow().get(&key).cloned();
            let real = match cached {
                Some(real) => real,
                None => {
                    let real = self.candidate(&dir.join(soname), ident);
                    self.candidates.borrow_mut().insert(key, real.clone());
                    real
                }
            };
            if let Some(real_path) = real {
                return Some(Found {
                    path: dir.join(soname),
                    real_path,
                    via,
                });
            }
        }
        if let Some(found) = self.in_libs_dir(needer, soname) {
            return Some(found);
        }
        self.loader(needer, soname)
    }

    /// The real in-image path of `path` if it is an ELF file of `ident`.
    fn candidate(&self, path: &Path, ident: Ident) -> Option<PathBuf> {
        let resolved = self.fs.resolve(path)?;
        if resolved.entry.kind != Kind::File {
            return None;
        }
        let host = resolved.entry.host.as_deref()?;
        (read_ident(host)? == ident).then_some(resolved.path)
    }

    /// auditwheel's `<name>.libs` directories next to the needing file's package.
    fn in_libs_dir(&self, needer: &ElfFile, soname: &str) -> Option<Found> {
        let site = needer.path.ancestors().find(|a| {
            a.file_name()
                .is_some_and(|n| n == "site-packages" || n == "dist-packages")
        })?;
        let mut index = self.libs_dirs.borrow_mut();
        let entries = index
            .entry(site.to_path_buf())
            .or_insert_with(|| self.index_libs(site));
        entries
            .iter()
            .find(|(name, ident, _)| name == soname && *ident == needer.ident())
            .map(|(_, _, path)| Found {
                path: path.clone(),
                real_path: self.fs.canonicalize(path).unwrap_or_else(|| path.clone()),
                via: Via::AuditwheelLibs,
            })
    }

    fn index_libs(&self, site: &Path) -> Vec<LibsEntry> {
        let mut entries = Vec::new();
        for name in self.fs.read_dir(site) {
            if !name.to_string_lossy().ends_with(".libs") {
                continue;
            }
            let dir = site.join(&name);
            for file in self.fs.read_dir(&dir) {
                let path = dir.join(&file);
                if let Ok(Some(elf)) = self.fs.read_elf(&path) {
                    if let Some(soname) = elf.soname.clone() {
                        entries.push((soname, elf.ident(), path));
                    }
                }
            }
        }
        entries
    }

    /// The dynamic loader counts as present when its interpreter path exists.
    fn loader(&self, needer: &ElfFile, soname: &str) -> Option<Found> {
        let mut paths = Vec::new();
        if let Some((loader_soname, path)) = machine_info(needer.machine, needer.class64).loader {
            if loader_soname == soname {
                paths.push(PathBuf::from(path));
            }
        }
        if let Some(interp) = &needer.interpreter {
            if Path::new(interp).file_name().is_some_and(|n| n == soname) {
                paths.push(normalize(Path::new(interp)));
            }
        }
        paths.into_iter().find_map(|path| {
            self.candidate(&path, needer.ident())
                .map(|real_path| Found {
                    path,
                    real_path,
                    via: Via::Loader,
                })
        })
    }
}
