//! Writing inside the staging tree without ever following a symlink.
//!
//! Every directory on the way to a file is checked with `symlink_metadata`
//! one component at a time, from the staging root down, and created with
//! `create_dir` (never `create_dir_all`) only once its parent is known to be
//! a real directory inside the root. A symlink anywhere on the way, or at the
//! file itself, is refused: nothing is ever written through a link, whether
//! the link would stay inside the tree or not. Files are created with
//! `O_CREAT | O_EXCL`, which fails on a link planted in between.
//!
//! The staging tree belongs to this process while a wheel is installed, so
//! the checks are not repeated against concurrent changes by others.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Why a path inside the staging tree cannot be written.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A component (named by its in-image path) is a symlink.
    Symlink(String),
    /// A component on the way is a file or other non-directory.
    NotADirectory(String),
    /// The file's own path is a directory.
    IsADirectory(String),
    /// The path has an empty, `.` or `..` component.
    BadComponent(String),
    /// The file system failed.
    Io(io::Error),
}

impl Refused {
    /// The reason, for an error message that names the wheel and entry.
    pub(crate) fn reason(&self) -> String {
        match self {
            Refused::Symlink(p) => format!(
                "`{p}` is a symlink in the staging tree, and lockship never writes through links"
            ),
            Refused::NotADirectory(p) => format!("`{p}` is a file, not a directory"),
            Refused::IsADirectory(p) => format!("`{p}` is already a directory"),
            Refused::BadComponent(p) => format!("`{p}` is not a plain path"),
            Refused::Io(e) => e.to_string(),
        }
    }
}

/// The staging root (the image's `/`) and the directories already checked
/// below it during one install.
pub(crate) struct Staging {
    root: PathBuf,
    checked: HashSet<String>,
}

impl Staging {
    pub(crate) fn new(root: &Path) -> Staging {
        Staging {
            root: root.to_path_buf(),
            checked: HashSet::new(),
        }
    }

    /// The local path of `in_image` (an absolute path inside the image).
    pub(crate) fn local(&self, in_image: &str) -> PathBuf {
        self.root.join(in_image.trim_start_matches('/'))
    }

    /// Makes sure `in_image` is a real directory, creating what is missing,
    /// one component at a time, without following any symlink.
    pub(crate) fn dir(&mut self, in_image: &str) -> Result<(), Refused> {
        let rel = in_image.trim_matches('/');
        if rel.is_empty() || self.checked.contains(rel) {
            return Ok(());
        }
        let mut local = self.root.clone();
        let mut walked = String::new();
        for part in rel.split('/') {
            walked.push('/');
            walked.push_str(part);
            if part.is_empty() || part == "." || part == ".." {
                return Err(Refused::BadComponent(in_image.to_string()));
            }
            local.push(part);
            if self.checked.contains(&walked[1..]) {
                continue;
            }
            match std::fs::symlink_metadata(&local) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(Refused::Symlink(walked));
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(Refused::NotADirectory(walked)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // The parent is a checked real directory, so the new
                    // directory lands inside the root.
                    fs_err::create_dir(&local).map_err(Refused::Io)?;
                }
                Err(e) => return Err(Refused::Io(e)),
            }
            self.checked.insert(walked[1..].to_string());
        }
        Ok(())
    }

    /// Creates the file `in_image` afresh (its directories checked as in
    /// [`Staging::dir`]), replacing a regular file already there; refuses a
    /// symlink or directory in its place.
    pub(crate) fn create(&mut self, in_image: &str) -> Result<File, Refused> {
        let (parent, name) = in_image
            .trim_end_matches('/')
            .rsplit_once('/')
            .ok_or_else(|| Refused::BadComponent(in_image.to_string()))?;
        if name.is_empty() || name == "." || name == ".." {
            return Err(Refused::BadComponent(in_image.to_string()));
        }
        self.dir(parent)?;
        let local = self.local(in_image);
        match std::fs::symlink_metadata(&local) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Refused::Symlink(in_image.to_string()))
            }
            Ok(meta) if meta.is_dir() => return Err(Refused::IsADirectory(in_image.to_string())),
            Ok(_) => fs_err::remove_file(&local).map_err(Refused::Io)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Refused::Io(e)),
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&local)
            .map_err(|e| {
                Refused::Io(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", local.display()),
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_follows_links_and_creates_only_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/out")).unwrap();
        std::os::unix::fs::symlink("..", root.join("a/up")).unwrap();
        std::fs::write(root.join("a/file"), b"x").unwrap();
        let mut staging = Staging::new(&root);

        staging.dir("/a/b/c").unwrap();
        assert!(root.join("a/b/c").is_dir());
        assert!(matches!(staging.dir("/a/out/x"), Err(Refused::Symlink(p)) if p == "/a/out"));
        assert!(matches!(staging.create("/a/up/x.py"), Err(Refused::Symlink(p)) if p == "/a/up"));
        assert!(matches!(staging.create("/a/out"), Err(Refused::Symlink(p)) if p == "/a/out"));
        assert!(matches!(
            staging.dir("/a/file/x"),
            Err(Refused::NotADirectory(p)) if p == "/a/file"
        ));
        assert!(matches!(
            staging.create("/a/b"),
            Err(Refused::IsADirectory(_))
        ));
        assert!(matches!(
            staging.dir("/a/../x"),
            Err(Refused::BadComponent(_))
        ));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        use std::io::Write;
        staging
            .create("/a/file")
            .unwrap()
            .write_all(b"new")
            .unwrap();
        assert_eq!(std::fs::read(root.join("a/file")).unwrap(), b"new");
    }
}
