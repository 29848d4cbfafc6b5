//! Dependencies from git: fetched on the host, with the user's own git
//! credentials and SSH agent, at the commit the lock pins. Only the package's
//! files (never `.git`, never a credential) reach a layer.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockship_project::{LockedPackage, PackageSource, Project};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::BuildError;

/// A git dependency of the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GitPin {
    /// Normalised package name.
    pub name: String,
    /// The repository, as the lock names it.
    pub url: String,
    /// The full commit the lock pins.
    pub commit: String,
    /// A subdirectory holding the package, if any.
    pub subdirectory: Option<String>,
}

/// The pin of a locked package that is packed on the host: from git (at
/// its commit), or a local path (`commit` empty, `url` the directory,
/// relative paths taken from the lockfile's directory).
pub(crate) fn pin(package: &LockedPackage, lock_dir: &Path) -> Result<Option<GitPin>, BuildError> {
    if let PackageSource::Path { path, .. } = &package.source {
        return Ok(Some(GitPin {
            name: package.name.clone(),
            url: lock_dir.join(path).to_string_lossy().into_owned(),
            commit: String::new(),
            subdirectory: None,
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
        url: url.clone(),
        commit,
        subdirectory: subdirectory.clone(),
    }))
}

fn git(args: &[&str], dir: Option<&Path>, pin: &GitPin) -> Result<(), BuildError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    // Never prompt: a build is not interactive.
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    let out = cmd
        .output()
        .map_err(io_err("run git for", PathBuf::from(&pin.url)))?;
    if out.status.success() {
        return Ok(());
    }
    Err(BuildError::Git {
        package: pin.name.clone(),
        url: pin.url.clone(),
        output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// A checkout of the pinned commit, kept in the cache by (url, commit).
pub(crate) fn checkout(cache: &lockship_fetch::Cache, pin: &GitPin) -> Result<PathBuf, BuildError> {
    let key = hex::encode(Sha256::digest(format!("{}\0{}", pin.url, pin.commit)));
    let dir = cache.keyed_dir("git", &key);
    if !dir.is_dir() {
        let tmp = cache.temp_dir()?;
        let work = tmp.path().join("repo");
        let work_text = work.to_string_lossy().into_owned();
        git(
            &["clone", "--quiet", "--no-checkout", &pin.url, &work_text],
            None,
            pin,
        )?;
        git(
            &["checkout", "--quiet", "--detach", &pin.commit],
            Some(&work),
            pin,
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
    Ok(match &pin.subdirectory {
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
    // A local path dependency has no commit: pack the directory as it is.
    let source = if pin.commit.is_empty() {
        PathBuf::from(&pin.url)
    } else {
        checkout(cache, pin)?
    };
    let project = Project::load(&source)?;
    crate::projectpkg::pack_wheel(&project, out_dir)
}

/// What decides a pinned dependency's files: its commit, or for a local path
/// the hash of the files it packs.
pub(crate) fn content_key(pin: &GitPin) -> Result<String, BuildError> {
    if !pin.commit.is_empty() {
        return Ok(pin.commit.clone());
    }
    let project = Project::load(Path::new(&pin.url))?;
    let mut hasher = Sha256::new();
    for (source, rel) in crate::projectpkg::project_files(&project)? {
        hasher.update(rel.as_bytes());
        hasher.update(fs_err::read(&source).map_err(io_err("read", &source))?);
    }
    hasher.update(format!("{:?}\0{:?}", project.version, project.scripts));
    Ok(hex::encode(hasher.finalize()))
}
