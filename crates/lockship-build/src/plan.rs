//! `Project → ImagePlan`: what goes into the image, decided before any wheel
//! is downloaded.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lockship_project::{LockKind, LockedPackage, MarkerEnv, PackageSource, Project};
use lockship_wheel::{Arch, IndexClient, IndexFile, Libc, WheelFilename, WheelTarget};
use serde::Serialize;
use url::Url;

use crate::BuildError;

/// One wheel of the plan, pinned by hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WheelPin {
    /// Normalised package name.
    pub name: String,
    /// Locked version.
    pub version: String,
    /// The chosen wheel's file name.
    pub filename: String,
    /// Where it is downloaded from.
    pub url: String,
    /// Its SHA-256, checked while downloading.
    pub sha256: String,
    /// Its size, when the lock or the index declares it: the download is
    /// stopped as soon as more bytes arrive.
    #[serde(skip)]
    pub size: Option<u64>,
    /// The file is an sdist (no wheel fits the target): it is built into a
    /// wheel in the sandboxed build environment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_sdist: bool,
}

/// The image's run-time settings, merged from `[tool.lockship]` and flags.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `User`.
    pub user: String,
    /// `WorkingDir`.
    pub workdir: String,
    /// `Env`, in order.
    pub env: Vec<String>,
    /// `ExposedPorts` (`8000/tcp`).
    pub ports: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
}

/// Everything `lockship build` will put in the image.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// The project's name.
    pub project: String,
    /// The project's version.
    pub version: Option<String>,
    /// The project directory.
    pub project_dir: PathBuf,
    /// The lockfile read.
    pub lockfile: PathBuf,
    /// Its kind.
    pub lock_kind: String,
    /// The runtime base (Debian packages).
    pub base: lockship_runtime::BasePlan,
    /// The base interpreter's full version (`3.11.2`).
    pub python_full_version: String,
    /// The wheel tags accepted, best first (abridged).
    pub target: String,
    /// The virtualenv's path in the image.
    pub venv: String,
    /// Third-party wheels, sorted by name.
    pub wheels: Vec<WheelPin>,
    /// Dependencies from git (packed on the host at the pinned commit) and from local paths.
    pub git: Vec<crate::git::GitPin>,
    /// How the project itself is installed: `package` (into the venv) or `copy` (to /app).
    pub project_install: String,
    /// Run-time settings.
    pub config: RunConfig,
    /// `[tool.lockship] system-packages`: Debian packages for the system-libraries layer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// `[tool.lockship] build-packages`: more Debian packages for sdist builds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_packages: Vec<String>,
    /// `[tool.lockship] build-env`: environment of sdist builds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub build_env: BTreeMap<String, String>,
    /// The package indexes (sdist builds take their build requirements from them).
    #[serde(skip)]
    pub index_urls: Vec<String>,
    /// `--base-image`: what the build found inside the image it stands on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_image: Option<crate::foreign::BaseFacts>,
    /// Things the user should know (a musl base, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ImagePlan {
    /// The image's Python as `(3, 11)`.
    pub fn python_version(&self) -> (u8, u8) {
        if let Some(f) = &self.base_image {
            return f.version();
        }
        let (a, b) = self
            .base
            .python
            .version
            .split_once('.')
            .unwrap_or(("3", "11"));
        (a.parse().unwrap_or(3), b.parse().unwrap_or(11))
    }

    /// The interpreter the venv runs on (`/usr/bin/python3.11`).
    pub fn python_path(&self) -> String {
        match &self.base_image {
            Some(f) => f.python.clone(),
            None => format!("/usr/bin/{}", self.base.python.binary()),
        }
    }
}

/// `3.11.2-6+deb12u7` → `3.11.2`
pub(crate) fn upstream_version(debian: &str) -> String {
    let no_epoch = debian.split_once(':').map(|(_, v)| v).unwrap_or(debian);
    no_epoch
        .split(['-', '+', '~'])
        .next()
        .unwrap_or(no_epoch)
        .to_string()
}

/// The wheel target of a base: its CPython, architecture and glibc.
pub(crate) fn wheel_target(base: &lockship_runtime::BasePlan) -> Result<WheelTarget, BuildError> {
    let (major, minor) = base
        .python
        .version
        .split_once('.')
        .expect("versions are X.Y");
    let python = (major.parse().unwrap_or(3), minor.parse().unwrap_or(11));
    let libc6 = base
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .map(|p| upstream_version(&p.version))
        .unwrap_or_else(|| "2.36".to_string());
    let mut parts = libc6.split('.');
    let glibc_major = parts.next().and_then(|v| v.parse().ok()).unwrap_or(2);
    let glibc_minor = parts.next().and_then(|v| v.parse().ok()).unwrap_or(36);
    let arch = match base.debian_arch.as_str() {
        "arm64" => Arch::Aarch64,
        "armhf" => Arch::Armv7l,
        _ => Arch::X86_64,
    };
    Ok(WheelTarget {
        python,
        abi: format!("cp{}{}", python.0, python.1),
        arch,
        libc: Libc::Glibc {
            major: glibc_major,
            minor: glibc_minor,
        },
    })
}

/// The `platform_machine` marker value of a Debian architecture.
pub(crate) fn platform_machine(debian_arch: &str) -> &'static str {
    match debian_arch {
        "arm64" => "aarch64",
        "armhf" => "armv7l",
        _ => "x86_64",
    }
}

/// The marker environment of a base.
pub(crate) fn marker_env(base: &lockship_runtime::BasePlan, full: &str) -> MarkerEnv {
    MarkerEnv::linux(full, platform_machine(&base.debian_arch))
}

fn normalize_version(v: &str) -> String {
    v.trim().trim_start_matches(['v', 'V']).to_ascii_lowercase()
}

/// Chooses the wheel of one locked package: from the lock's own URLs (uv.lock,
/// pylock.toml) or else from the index, keeping only files whose hash the lock
/// lists when it lists any.
pub(crate) fn pin_wheel(
    package: &LockedPackage,
    target: &WheelTarget,
    client: &IndexClient,
) -> Result<WheelPin, BuildError> {
    match &package.source {
        PackageSource::Registry { .. } => {}
        PackageSource::Git { .. } => unreachable!("git dependencies are pinned by `git::pin`"),
        PackageSource::Path { .. } => unreachable!("path dependencies are pinned by `git::pin`"),
        PackageSource::DirectUrl { .. } => {
            return Err(BuildError::UnsupportedSource {
                package: package.name.clone(),
                source_kind: "a direct URL",
            })
        }
    }
    let version = package
        .version
        .clone()
        .ok_or_else(|| BuildError::NoVersion {
            package: package.name.clone(),
        })?;
    let mut locked_hashes: Vec<String> = package
        .wheels
        .iter()
        .chain(package.sdist.iter())
        .filter_map(|a| a.sha256.clone())
        .chain(package.hashes.iter().cloned())
        .map(|h| h.trim_start_matches("sha256:").to_ascii_lowercase())
        .collect();
    locked_hashes.sort();
    locked_hashes.dedup();

    // The lock names its wheels with URLs: choose among them, no index needed.
    let with_urls: Vec<IndexFile> = package
        .wheels
        .iter()
        .chain(package.sdist.iter())
        .filter_map(|a| {
            Some(IndexFile {
                filename: a.filename.clone(),
                url: a.url.clone()?,
                sha256: a.sha256.clone(),
                requires_python: None,
                yanked: false,
                yanked_reason: None,
                size: a.size,
            })
        })
        .collect();
    let files = if !with_urls.is_empty() {
        with_urls
    } else {
        let mut files = client.files(&package.name)?;
        let of_version = |f: &IndexFile| {
            file_version(&f.filename)
                .is_some_and(|v| normalize_version(&v) == normalize_version(&version))
        };
        let matches_lock = |f: &IndexFile| {
            f.sha256
                .as_deref()
                .is_some_and(|h| locked_hashes.binary_search(&h.to_ascii_lowercase()).is_ok())
        };
        if !locked_hashes.is_empty()
            && files.iter().any(of_version)
            && !files.iter().any(|f| of_version(f) && matches_lock(f))
        {
            return Err(BuildError::HashMismatch {
                package: package.name.clone(),
                version: version.clone(),
                lockfile_hashes: locked_hashes.len(),
            });
        }
        if !locked_hashes.is_empty() {
            files.retain(|f| {
                f.sha256
                    .as_deref()
                    .is_some_and(|h| locked_hashes.binary_search(&h.to_ascii_lowercase()).is_ok())
                    || !of_version(f)
            });
        }
        files
    };
    let (file, from_sdist) =
        match lockship_wheel::select_wheel(&files, &package.name, &version, target) {
            Ok((file, _)) => (file, false),
            // No wheel fits: build the locked sdist, if there is one.
            Err(e @ lockship_wheel::WheelError::NoCompatibleWheel { .. }) => {
                let sdist = files
                    .iter()
                    .filter(|f| {
                        !f.yanked
                            && sdist_version(&f.filename).is_some_and(|(n, v)| {
                                normalize_name(&n) == normalize_name(&package.name)
                                    && normalize_version(&v) == normalize_version(&version)
                            })
                    })
                    .min_by_key(|f| !f.filename.ends_with(".tar.gz"));
                match sdist {
                    Some(f) => (f, true),
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
    let sha256 = file
        .sha256
        .clone()
        .or_else(|| {
            package
                .wheels
                .iter()
                .find(|a| a.filename == file.filename)
                .and_then(|a| a.sha256.clone())
        })
        .ok_or_else(|| BuildError::NoHash {
            filename: file.filename.clone(),
        })?;
    Ok(WheelPin {
        name: package.name.clone(),
        version,
        filename: file.filename.clone(),
        url: file.url.to_string(),
        sha256: sha256.trim_start_matches("sha256:").to_ascii_lowercase(),
        size: file.size,
        from_sdist,
    })
}

/// `{name}-{version}.tar.gz` (or `.zip`) → name and version.
pub(crate) fn sdist_version(filename: &str) -> Option<(String, String)> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((name.to_string(), version.to_string()))
}

/// The version in a wheel's or an sdist's file name.
fn file_version(filename: &str) -> Option<String> {
    match WheelFilename::parse(filename) {
        Ok(w) => Some(w.version.to_string()),
        Err(_) => sdist_version(filename).map(|(_, v)| v),
    }
}

fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The indexes a project uses: `[tool.lockship]`, then `[tool.uv]`, then poetry
/// sources, then the lock's own; the first is the one discovery may override.
pub(crate) fn project_indexes(project: &Project, lock_indexes: &[Url]) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    out.extend(project.lockship.index_url.iter().cloned());
    out.extend(project.lockship.extra_index_urls.iter().cloned());
    out.extend(project.uv.index_url.iter().cloned());
    out.extend(
        project
            .uv
            .index
            .iter()
            .filter(|i| !i.explicit)
            .map(|i| i.url.clone()),
    );
    out.extend(project.uv.extra_index_url.iter().cloned());
    if let Some(poetry) = &project.poetry {
        out.extend(poetry.sources.iter().filter_map(|s| s.url.clone()));
    }
    out.extend(lock_indexes.iter().cloned());
    out.dedup();
    out
}

/// A short name of the lock kind.
pub(crate) fn lock_kind_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Uv => "uv.lock",
        LockKind::Poetry => "poetry.lock",
        LockKind::Pylock => "pylock.toml",
        LockKind::Requirements => "requirements.txt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_versions_drop_the_debian_revision() {
        assert_eq!(upstream_version("3.11.2-6+deb12u7"), "3.11.2");
        assert_eq!(upstream_version("2.36-9+deb12u14"), "2.36");
        assert_eq!(upstream_version("1:3.13.5-2"), "3.13.5");
    }
}
