//! The request: what to build ([`BuildOptions`]), and what a build gives
//! back ([`BuiltImage`]).

use std::path::PathBuf;

use lockship_oci::Image;
use lockship_project::{LockSelection, Selection};
use lockship_runtime::BaseOptions;

use crate::base::PulledBase;
use crate::{ImagePlan, Libdeps};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The project directory.
    pub project_dir: PathBuf,
    /// `--package NAME`: the uv workspace member to build, from the
    /// workspace root (or any member).
    pub package: Option<String>,
    /// Which lockfile.
    pub lock: LockSelection,
    /// Groups and extras.
    pub selection: Selection,
    /// The runtime base (Python, platform, mirror, compression, epoch).
    pub base: BaseOptions,
    /// `--index-url`, overriding discovery.
    pub index_url: Option<String>,
    /// `--user`, overriding `[tool.lockship] user`.
    pub user: Option<String>,
    /// Compile bytecode for the venv and the project.
    pub compile: bool,
    /// A wheel at least this large (bytes) gets a layer of its own.
    pub large_wheel_bytes: u64,
    /// At most this many wheels get layers of their own (the largest).
    pub max_wheel_layers: usize,
    /// `--build-packages`: more Debian packages for sdist builds, added to
    /// `[tool.lockship] build-packages`.
    pub build_packages: Vec<String>,
    /// Find missing build packages without help (the default;
    /// `--build-packages none` turns it off): see [`lockship_sdist::SdistOptions::auto_packages`].
    pub auto_build_packages: bool,
    /// `--base-image`: build on this image (pulled for `base.platform`, its
    /// blobs in the cache) instead of lockship's own runtime.
    pub base_image: Option<PulledBase>,
    /// `--python` or `[tool.lockship] python` as the user wrote it: with a base
    /// image, its Python must be this one.
    pub python_request: Option<String>,
    /// `--allow-file-urls DIR`: directories besides the project that
    /// `file://` URLs in the lock may read.
    pub allowed_file_roots: Vec<PathBuf>,
    /// Strip debug sections from the shared objects wheels build themselves
    /// (`--no-strip` turns it off).
    pub strip: bool,
    /// `--source`, `--revision`, `--label`, `--annotation` (the plan adds
    /// `[project]`'s description and license).
    pub metadata: crate::ImageMetadata,
}

/// The default size from which a wheel gets a layer of its own: 16 MB.
pub const DEFAULT_LARGE_WHEEL_BYTES: u64 = 16_000_000;
/// The default layer budget for large wheels.
pub const DEFAULT_MAX_WHEEL_LAYERS: usize = 8;

impl BuildOptions {
    /// Defaults: the lock found in the directory, production dependencies only.
    pub fn new(project_dir: PathBuf, base: BaseOptions) -> BuildOptions {
        BuildOptions {
            project_dir,
            package: None,
            lock: LockSelection::Auto,
            selection: Selection::default(),
            base,
            index_url: None,
            user: None,
            compile: true,
            large_wheel_bytes: DEFAULT_LARGE_WHEEL_BYTES,
            max_wheel_layers: DEFAULT_MAX_WHEEL_LAYERS,
            build_packages: Vec::new(),
            auto_build_packages: true,
            base_image: None,
            python_request: None,
            allowed_file_roots: Vec::new(),
            strip: true,
            metadata: crate::ImageMetadata::default(),
        }
    }
}

/// A built image and the plan it came from.
///
/// Layers, bottom up: the base, one per large wheel, the rest of the venv,
/// the project.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The image.
    pub image: Image,
    /// The plan.
    pub plan: ImagePlan,
    /// Per layer (base, dependencies, project): whether it came from the cache.
    pub cached: Vec<(String, bool)>,
    /// What libdeps found in the venv's native code.
    pub libdeps: Libdeps,
    /// The Debian packages of the system-libraries layer (closure included).
    pub system_packages: Vec<lockship_runtime::DebPin>,
    /// Wheels built from sdists.
    pub built_wheels: Vec<lockship_sdist::BuiltWheel>,
    /// What stripping the venv's shared objects saved (cached layers included).
    pub stripped: lockship_wheel::StripSummary,
}

/// The sandbox's limits: `[tool.lockship.sandbox-limits]` over `defaults`.
pub(crate) fn sandbox_limits(
    settings: &lockship_project::SandboxLimits,
    defaults: lockship_sdist::Limits,
) -> lockship_sdist::Limits {
    const MIB: u64 = 1 << 20;
    lockship_sdist::Limits {
        processes: settings.processes.unwrap_or(defaults.processes),
        memory_bytes: settings
            .memory_mib
            .map_or(defaults.memory_bytes, |m| m.saturating_mul(MIB)),
        file_size_bytes: settings
            .file_size_mib
            .map_or(defaults.file_size_bytes, |m| m.saturating_mul(MIB)),
        cpu_seconds: settings.cpu_seconds.unwrap_or(defaults.cpu_seconds),
        wall_time: settings
            .wall_seconds
            .map_or(defaults.wall_time, std::time::Duration::from_secs),
    }
}

#[cfg(test)]
mod sandbox_limit_tests {
    use super::*;

    #[test]
    fn sandbox_limits_from_the_project_override_only_what_they_set() {
        let defaults = lockship_sdist::Limits::default();
        let unset = lockship_project::SandboxLimits::default();
        assert_eq!(sandbox_limits(&unset, defaults.clone()), defaults);
        let set = lockship_project::SandboxLimits {
            memory_mib: Some(2048),
            wall_seconds: Some(600),
            ..Default::default()
        };
        let limits = sandbox_limits(&set, defaults.clone());
        assert_eq!(limits.memory_bytes, 2048 << 20);
        assert_eq!(limits.wall_time, std::time::Duration::from_secs(600));
        assert_eq!(limits.processes, defaults.processes);
        assert_eq!(limits.cpu_seconds, defaults.cpu_seconds);
        assert_eq!(limits.file_size_bytes, defaults.file_size_bytes);
    }
}
