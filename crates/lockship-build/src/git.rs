//! Dependencies from git: fetched on the host, with the user's own git
//! credentials and SSH agent, at the commit the lock pins. Only the package's
//! files (never `.git`, never a credential) reach a layer.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockship_project::{LockedPackage, PackageSource, Project};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::BuildError;

/// A dependency of the plan packed on the host: from git or a local path.
///
/// In the plan's JSON it reads `{name, url, commit, subdirectory}`, a path
/// as its directory with an empty commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitPin {
    /// Normalised package name.
    pub name: String,
    /// Where its files come from.
    pub source: PinSource,
}

/// Where a dependency packed on the host comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// A git repository at the full commit the lock pins.
    Git {
        /// The repository, as the lock names it.
        url: String,
        /// The full commit.
        commit: String,
        /// A subdirectory holding the package, if any.
        subdirectory: Option<String>,
    },
    /// A local directory, links resolved, inside an allowed root.
    Path {
        /// The directory.
        dir: PathBuf,
    },
}

impl GitPin {
    /// The repository URL, or the directory of a path dependency.
    pub fn url(&self) -> String {
        match &self.source {
            PinSource::Git { url, .. } => url.clone(),
            PinSource::Path { dir } => dir.to_string_lossy().into_owned(),
        }
    }

    /// Whether it is a local path dependency.
    pub fn is_path(&self) -> bool {
        matches!(self.source, PinSource::Path { .. })
    }
}

impl Serialize for GitPin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (commit, subdirectory) = match &self.source {
            PinSource::Git {
                commit,
                subdirectory,
                ..
            } => (commit.as_str(), subdirectory.as_deref()),
            PinSource::Path { .. } => ("", None),
        };
        let mut s = serializer.serialize_struct("GitPin", 4)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("url", &self.url())?;
        s.serialize_field("commit", commit)?;
        s.serialize_field("subdirectory", &subdirectory)?;
        s.end()
    }
}

/// The pin of a locked package that is packed on the host: from git (at
/// its commit), or a local path (`commit` empty, `url` the directory,
/// relative paths taken from the lockfile's directory).
///
/// A local path must resolve (links followed) inside the lockfile's directory,
/// the git work tree that holds it, or one of `allowed_roots` (`--allow-file-urls`): a lock is outside input,
/// and a path source of `/home/me/.ssh` would otherwise be packed.
pub(crate) fn pin(
    package: &LockedPackage,
    lock_dir: &Path,
    allowed_roots: &[PathBuf],
) -> Result<Option<GitPin>, BuildError> {
    if let PackageSource::Path { path, .. } = &package.source {
        if is_local_archive(path) {
            // A `file:` URL's wheel or sdist: pinned as a file by
            // `pins::pin_wheel`, read only inside the download's roots.
            return Ok(None);
        }
        let dir = local_path(package, lock_dir, Path::new(path), allowed_roots)?;
        return Ok(Some(GitPin {
            name: package.name.clone(),
            source: PinSource::Path { dir },
        }));
    }
    let PackageSource::Git {
        url,
        commit,
        subdirectory,
    } = &package.source
    else {
        return Ok(None);
    };
    let commit = commit.clone().ok_or_else(|| BuildError::GitUnpinned {
        package: package.name.clone(),
        url: url.clone(),
    })?;
    Ok(Some(GitPin {
        name: package.name.clone(),
        source: PinSource::Git {
            url: url.clone(),
            commit,
            subdirectory: subdirectory.clone(),
        },
    }))
}

/// Whether a path source is a wheel or an sdist named by an absolute path
/// (a `file:` URL), rather than a directory to pack.
pub(crate) fn is_local_archive(path: &Path) -> bool {
    path.is_absolute()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| lockship_fetch::check_dist_filename(n).is_ok())
}

/// The root of the git work tree that holds `dir` (the nearest ancestor with
/// a `.git`), where a monorepo keeps its path dependencies side by side.
fn work_tree_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|a| std::fs::symlink_metadata(a.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

/// The directory of a path dependency, checked to lie inside the lock's
/// directory or an allowed root once every link is resolved.
fn local_path(
    package: &LockedPackage,
    lock_dir: &Path,
    path: &Path,
    allowed_roots: &[PathBuf],
) -> Result<PathBuf, BuildError> {
    let joined = lock_dir.join(path);
    let resolved = std::fs::canonicalize(&joined).map_err(|e| BuildError::PathDependency {
        package: package.name.clone(),
        path: joined.clone(),
        reason: format!("it cannot be read ({e})"),
    })?;
    let roots: Vec<PathBuf> = std::iter::once(lock_dir.to_path_buf())
        .chain(work_tree_root(lock_dir))
        .chain(allowed_roots.iter().cloned())
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    if !roots.iter().any(|r| resolved.starts_with(r)) {
        return Err(BuildError::PathDependency {
            package: package.name.clone(),
            path: joined,
            reason: format!(
                "it resolves to `{}`, outside the lockfile's directory `{}` and its git work tree",
                resolved.display(),
                lock_dir.display()
            ),
        });
    }
    if !resolved.is_dir() {
        return Err(BuildError::PathDependency {
            package: package.name.clone(),
            path: joined,
            reason: "it is not a directory".into(),
        });
    }
    Ok(resolved)
}

fn git(args: &[&str], dir: Option<&Path>, name: &str, url: &str) -> Result<(), BuildError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    // Never prompt: a build is not interactive.
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    let out = cmd
        .output()
        .map_err(io_err("run git for", PathBuf::from(url)))?;
    if out.status.success() {
        return Ok(());
    }
    Err(BuildError::Git {
        package: name.to_string(),
        url: url.to_string(),
        output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Where the checkout of `url` at `commit` is kept in the cache.
fn checkout_dir(cache: &lockship_fetch::Cache, url: &str, commit: &str) -> PathBuf {
    let key = hex::encode(Sha256::digest(format!("{url}\0{commit}")));
    cache.keyed_dir("git", &key)
}

/// The package's directory in a checkout already in the cache (`None` for
/// a git pin not fetched yet); a path pin's own directory.
pub(crate) fn cached_source(cache: &lockship_fetch::Cache, pin: &GitPin) -> Option<PathBuf> {
    match &pin.source {
        PinSource::Git {
            url,
            commit,
            subdirectory,
        } => {
            let dir = checkout_dir(cache, url, commit);
            dir.is_dir()
                .then(|| subdirectory.as_ref().map_or(dir.clone(), |s| dir.join(s)))
        }
        PinSource::Path { dir } => Some(dir.clone()),
    }
}

/// A checkout of the pinned commit, kept in the cache by (url, commit).
fn checkout(
    cache: &lockship_fetch::Cache,
    name: &str,
    url: &str,
    commit: &str,
    subdirectory: Option<&str>,
) -> Result<PathBuf, BuildError> {
    let dir = checkout_dir(cache, url, commit);
    if !dir.is_dir() {
        let tmp = cache.temp_dir()?;
        let work = tmp.path().join("repo");
        let work_text = work.to_string_lossy().into_owned();
        git(
            &["clone", "--quiet", "--no-checkout", url, &work_text],
            None,
            name,
            url,
        )?;
        git(
            &["checkout", "--quiet", "--detach", commit],
            Some(&work),
            name,
            url,
        )?;
        if let Some(parent) = dir.parent() {
            fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        if let Err(e) = std::fs::rename(&work, &dir) {
            if !dir.is_dir() {
                return Err(io_err("rename", &dir)(e));
            }
        }
    }
    Ok(match subdirectory {
        Some(sub) => dir.join(sub),
        None => dir,
    })
}

/// Packs a git or path dependency as a pure-Python wheel in `out_dir`.
pub(crate) fn pack(
    cache: &lockship_fetch::Cache,
    pin: &GitPin,
    out_dir: &Path,
) -> Result<PathBuf, BuildError> {
    let source = match &pin.source {
        PinSource::Git {
            url,
            commit,
            subdirectory,
        } => checkout(cache, &pin.name, url, commit, subdirectory.as_deref())?,
        // A local path dependency: pack the directory as it is.
        PinSource::Path { dir } => dir.clone(),
    };
    let project = Project::load(&source)?;
    crate::projectpkg::pack_wheel(&project, out_dir)
}

/// What decides a pinned dependency's files: its commit, or for a local path
/// the hash of the files it packs.
pub(crate) fn content_key(pin: &GitPin) -> Result<String, BuildError> {
    let dir = match &pin.source {
        PinSource::Git { commit, .. } => return Ok(commit.clone()),
        PinSource::Path { dir } => dir,
    };
    let project = Project::load(dir)?;
    let mut hasher = Sha256::new();
    for (source, rel) in crate::projectpkg::project_files(&project)? {
        hasher.update(rel.as_bytes());
        hasher.update(fs_err::read(&source).map_err(io_err("read", &source))?);
    }
    hasher.update(format!("{:?}\0{:?}", project.version, project.scripts));
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn path_package(path: &Path) -> LockedPackage {
        LockedPackage {
            name: "evil".into(),
            version: Some("1.0".into()),
            source: PackageSource::Path {
                path: path.to_path_buf(),
                editable: false,
            },
            wheels: Vec::new(),
            sdist: None,
            hashes: Vec::new(),
            dependencies: Vec::new(),
            optional_dependencies: BTreeMap::new(),
            marker: None,
            groups: BTreeSet::new(),
        }
    }

    /// Issue 12: a lock's path source pointed at a host directory, and that
    /// directory was packed into the image.
    #[test]
    fn hostile_lock_path_dependency_outside_the_lock_is_refused() {
        let project = tempfile::tempdir().unwrap();
        let canary = tempfile::tempdir().unwrap();
        std::fs::write(canary.path().join("id_rsa"), b"secret").unwrap();
        let inside = project.path().join("libs/inner");
        std::fs::create_dir_all(&inside).unwrap();
        std::os::unix::fs::symlink(canary.path(), project.path().join("libs/sneaky")).unwrap();

        for bad in [
            canary.path().to_path_buf(),
            PathBuf::from("../").join(canary.path().file_name().unwrap()),
            PathBuf::from("libs/sneaky"),
        ] {
            let err = pin(&path_package(&bad), project.path(), &[]).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("Refusing the path dependency `evil`"), "{msg}");
            assert!(msg.contains("outside the lockfile's directory"), "{msg}");
            assert!(err.hint().unwrap().contains("--allow-file-urls"));
        }
        // Inside the lock's directory, or under a root the user names: fine.
        let ok = pin(&path_package(Path::new("libs/inner")), project.path(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(PathBuf::from(ok.url()), inside.canonicalize().unwrap());
        // A sibling in the same git work tree (a monorepo) is fine too.
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join(".git")).unwrap();
        std::fs::create_dir_all(repo.path().join("app")).unwrap();
        std::fs::create_dir_all(repo.path().join("lib")).unwrap();
        assert!(pin(
            &path_package(Path::new("../lib")),
            &repo.path().join("app"),
            &[]
        )
        .is_ok());
        let allowed = [canary.path().to_path_buf()];
        assert!(pin(&path_package(canary.path()), project.path(), &allowed).is_ok());
        assert_eq!(
            std::fs::read(canary.path().join("id_rsa")).unwrap(),
            b"secret"
        );
    }
}
