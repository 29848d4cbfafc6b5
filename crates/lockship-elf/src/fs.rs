//! An image's file system seen from inside: several host directories layered
//! like overlayfs, plus directories mounted at in-image paths.
//!
//! Every lookup walks the in-image path one component at a time, reads
//! symlinks itself and interprets their targets inside the image (an
//! absolute target starts again at the image root), so nothing outside the
//! given directories is ever read.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::error::ElfError;

/// Symlinks followed in one lookup before giving up (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// One host directory in the image.
#[derive(Debug, Clone)]
struct Layer {
    /// Where it appears in the image (`/` for a root).
    at: PathBuf,
    /// The host directory.
    host: PathBuf,
    /// Whether it was added with [`Filesystem::with_mount`].
    mount: bool,
}

/// The type of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
    Other,
}

/// An entry found in one layer (or a directory implied by a mount point).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The host path; `None` for a directory that only exists because
    /// something is mounted below it.
    pub host: Option<PathBuf>,
    pub kind: Kind,
    /// Index into the layers; `None` for an implied directory.
    pub layer: Option<usize>,
}

/// A path resolved inside the image, all symlinks followed.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The in-image path without symlinks.
    pub path: PathBuf,
    pub entry: Entry,
}

/// An image's file system: host directories layered like overlayfs (the
/// first root added wins, as the upper layer does) and directories mounted
/// at in-image paths (a mount hides whatever the roots hold below it).
///
/// ```
/// # let (base, venv) = (std::env::temp_dir(), std::env::temp_dir());
/// let fs = lockship_elf::Filesystem::new()
///     .with_root(&base)
///     .with_mount("/opt/venv", &venv);
/// ```
#[derive(Debug, Default)]
pub struct Filesystem {
    /// In lookup order: mounts (deepest first), then roots.
    layers: Vec<Layer>,
    /// Host directories known to be real directories (not symlinks).
    real_dirs: Mutex<HashMap<PathBuf, bool>>,
}

impl Filesystem {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a root file system tree below the ones already added (an earlier
    /// root wins where both hold a path).
    pub fn with_root(mut self, host_dir: impl Into<PathBuf>) -> Self {
        self.layers.push(Layer {
            at: PathBuf::from("/"),
            host: host_dir.into(),
            mount: false,
        });
        self
    }

    /// Mounts a host directory at an absolute in-image path, e.g. a venv
    /// that will live at `/opt/venv`. A relative `at` is taken from the root.
    pub fn with_mount(mut self, at: impl AsRef<Path>, host_dir: impl Into<PathBuf>) -> Self {
        let at = normalize(&Path::new("/").join(at.as_ref()));
        let depth = at.components().count();
        let index = self
            .layers
            .iter()
            .position(|l| !l.mount || l.at.components().count() < depth)
            .unwrap_or(self.layers.len());
        self.layers.insert(
            index,
            Layer {
                at,
                host: host_dir.into(),
                mount: true,
            },
        );
        self
    }

    /// Checks that every root and mount is a directory.
    pub fn validate(&self) -> Result<(), ElfError> {
        for layer in &self.layers {
            if !layer.host.is_dir() {
                return Err(ElfError::NotADirectory {
                    path: layer.host.clone(),
                });
            }
        }
        Ok(())
    }

    /// The in-image path and host directory of each layer, in lookup order.
    pub fn layers(&self) -> impl Iterator<Item = (&Path, &Path)> {
        self.layers
            .iter()
            .map(|l| (l.at.as_path(), l.host.as_path()))
    }

    pub(crate) fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub(crate) fn layer_at(&self, index: usize) -> (&Path, &Path) {
        let l = &self.layers[index];
        (&l.at, &l.host)
    }

    /// Whether an in-image path (symlinks followed) names a regular file.
    pub fn is_file(&self, path: impl AsRef<Path>) -> bool {
        matches!(self.resolve(path.as_ref()), Some(r) if r.entry.kind == Kind::File)
    }

    /// The host path of an in-image path, all symlinks followed inside the
    /// image; `None` when it does not exist.
    pub fn host_path(&self, path: impl AsRef<Path>) -> Option<PathBuf> {
        self.resolve(path.as_ref()).and_then(|r| r.entry.host)
    }

    /// The in-image path with every symlink followed inside the image.
    pub fn canonicalize(&self, path: impl AsRef<Path>) -> Option<PathBuf> {
        self.resolve(path.as_ref()).map(|r| r.path)
    }

    /// Looks up one in-image path whose parent contains no symlinks.
    pub(crate) fn lookup(&self, path: &Path) -> Option<Entry> {
        for (index, layer) in self.layers.iter().enumerate() {
            let Ok(rel) = path.strip_prefix(&layer.at) else {
                continue;
            };
            let found = self.lookup_in(index, rel);
            if layer.mount || found.is_some() {
                return found;
            }
        }
        // A directory above a mount point exists even if no root has it.
        self.layers
            .iter()
            .any(|l| l.mount && l.at != path && l.at.starts_with(path))
            .then_some(Entry {
                host: None,
                kind: Kind::Dir,
                layer: None,
            })
    }

    fn lookup_in(&self, index: usize, rel: &Path) -> Option<Entry> {
        let layer = &self.layers[index];
        let host = layer.host.join(rel);
        if let Some(parent) = rel.parent() {
            if !self.real_dir(&layer.host, parent) {
                return None;
            }
        }
        let meta = std::fs::symlink_metadata(&host).ok()?;
        let kind = if meta.file_type().is_symlink() {
            Kind::Symlink(std::fs::read_link(&host).ok()?)
        } else if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        Some(Entry {
            host: Some(host),
            kind,
            layer: Some(index),
        })
    }

    /// Whether every component of `rel` below `base` is a real directory on
    /// the host, so that joining does not pass through a host symlink.
    pub(crate) fn real_dir(&self, base: &Path, rel: &Path) -> bool {
        if rel.as_os_str().is_empty() {
            return true;
        }
        let host = base.join(rel);
        if let Some(&known) = self.real_dirs.lock().expect("not poisoned").get(&host) {
            return known;
        }
        let parent_ok = rel.parent().is_none_or(|p| self.real_dir(base, p));
        let ok = parent_ok
            && std::fs::symlink_metadata(&host)
                .map(|m| m.is_dir())
                .unwrap_or(false);
        self.real_dirs
            .lock()
            .expect("not poisoned")
            .insert(host, ok);
        ok
    }

    /// Follows every symlink of an in-image path inside the image.
    pub(crate) fn resolve(&self, path: &Path) -> Option<Resolved> {
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, path);
        let mut current = PathBuf::from("/");
        let mut entry = Entry {
            host: None,
            kind: Kind::Dir,
            layer: None,
        };
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if entry.kind != Kind::Dir {
                return None;
            }
            if name == ".." {
                current.pop();
                entry = self.lookup_dir(&current)?;
                continue;
            }
            let candidate = current.join(&name);
            let found = self.lookup(&candidate)?;
            if let Kind::Symlink(target) = &found.kind {
                links += 1;
                if links > MAX_SYMLINKS {
                    return None;
                }
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                push_components(&mut pending, target);
                entry = self.lookup_dir(&current)?;
            } else {
                current = candidate;
                entry = found;
            }
        }
        Some(Resolved {
            path: current,
            entry,
        })
    }

    fn lookup_dir(&self, path: &Path) -> Option<Entry> {
        if path == Path::new("/") {
            return Some(Entry {
                host: None,
                kind: Kind::Dir,
                layer: None,
            });
        }
        self.lookup(path)
    }

    /// The names in an in-image directory (symlinks followed), merged over
    /// the layers, sorted.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Vec<OsString> {
        let Some(resolved) = self.resolve(path.as_ref()) else {
            return Vec::new();
        };
        if resolved.entry.kind != Kind::Dir {
            return Vec::new();
        }
        let dir = resolved.path;
        let mut names = BTreeSet::new();
        for layer in &self.layers {
            let Ok(rel) = dir.strip_prefix(&layer.at) else {
                continue;
            };
            if self.real_dir(&layer.host, rel) {
                if let Ok(entries) = std::fs::read_dir(layer.host.join(rel)) {
                    names.extend(entries.filter_map(Result::ok).map(|e| e.file_name()));
                }
            }
            if layer.mount {
                break;
            }
        }
        for layer in self.layers.iter().filter(|l| l.mount) {
            if let Ok(rest) = layer.at.strip_prefix(&dir) {
                if let Some(Component::Normal(first)) = rest.components().next() {
                    names.insert(first.to_os_string());
                }
            }
        }
        names.into_iter().collect()
    }
}

/// Pushes the components of `path` so that popping yields them in order.
fn push_components(stack: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    stack.extend(parts.into_iter().rev());
}

/// Lexically normalises an absolute in-image path (`.` and `..` removed).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_symlinks_stay_in_the_image() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(root.join("usr/lib/real"), "x").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("/lib/real", root.join("usr/lib/abs")).unwrap();
        symlink("/etc/passwd", root.join("usr/lib/host")).unwrap();
        symlink("../../../../../../etc", root.join("usr/lib/up")).unwrap();
        let fs = Filesystem::new().with_root(root);
        assert_eq!(
            fs.canonicalize("/lib/abs").unwrap(),
            PathBuf::from("/usr/lib/real")
        );
        assert_eq!(
            fs.host_path("/usr/lib/abs").unwrap(),
            root.join("usr/lib/real")
        );
        assert!(fs.host_path("/usr/lib/host").is_none());
        assert!(fs.host_path("/usr/lib/up/passwd").is_none());
    }

    #[test]
    fn mounts_and_layers() {
        let upper = tempfile::tempdir().unwrap();
        let lower = tempfile::tempdir().unwrap();
        let venv = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(upper.path().join("etc")).unwrap();
        std::fs::create_dir_all(lower.path().join("etc")).unwrap();
        std::fs::create_dir_all(lower.path().join("opt/venv")).unwrap();
        std::fs::write(upper.path().join("etc/a"), "upper").unwrap();
        std::fs::write(lower.path().join("etc/a"), "lower").unwrap();
        std::fs::write(lower.path().join("etc/b"), "lower").unwrap();
        std::fs::write(lower.path().join("opt/venv/hidden"), "lower").unwrap();
        std::fs::write(venv.path().join("pyvenv.cfg"), "home").unwrap();
        let fs = Filesystem::new()
            .with_root(upper.path())
            .with_root(lower.path())
            .with_mount("/opt/venv", venv.path());
        assert_eq!(fs.host_path("/etc/a").unwrap(), upper.path().join("etc/a"));
        assert_eq!(fs.host_path("/etc/b").unwrap(), lower.path().join("etc/b"));
        assert!(fs.is_file("/opt/venv/pyvenv.cfg"));
        assert!(!fs.is_file("/opt/venv/hidden"));
        assert_eq!(fs.read_dir("/etc"), vec![OsString::from("a"), "b".into()]);
        assert_eq!(fs.read_dir("/opt"), vec![OsString::from("venv")]);
        // A mount alone implies its parents.
        let only = Filesystem::new().with_mount("opt/venv", venv.path());
        assert_eq!(only.read_dir("/"), vec![OsString::from("opt")]);
        assert!(only.is_file("/opt/venv/pyvenv.cfg"));
    }
}
