//! The base an image stands on: lockship's own Debian runtime, or an image
//! someone else made (`--base-image`: `python:3.12-slim`, a company base).
//!
//! A [`Base`] holds the base image and its unpacked tree (when building), and
//! answers every question a later step has about it: its Python (version,
//! full version, interpreter path), the wheel tags and markers it accepts, its
//! C library, its Debian suite and packages, the environment it brings. The
//! steps ask the `Base`; only this module knows which [`BaseKind`] it is, so a
//! new kind (a standalone CPython) is one more variant here.
//!
//! A foreign base is pulled ([`pull()`]), flattened once per chain of layers
//! with the one hardened flattener ([`tree`]), and probed ([`probe`]).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use lockship_oci::Image;
use lockship_project::MarkerEnv;
use lockship_runtime::compile::{find_interpreter, find_interpreter_at, Interpreter};
use lockship_runtime::{BaseOptions, BasePlan, Context};
use lockship_wheel::{Arch, Libc, WheelTarget};

use crate::options::BuildOptions;
use crate::BuildError;

pub mod probe;
pub mod pull;
pub mod python;
pub mod tree;

#[cfg(test)]
mod tests;

pub use probe::BaseFacts;
pub use pull::{pull, BaseImageSource, PulledBase};
pub use tree::{base_layers_tree, base_tree, prepare, unpack_tree, BaseTree, PreparedBase};

/// The `PATH` of lockship's own runtime.
const RUNTIME_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which kind of base a build stands on.
#[derive(Debug, Clone)]
pub enum BaseKind {
    /// lockship's own distroless runtime, assembled from Debian packages.
    Runtime,
    /// A `--base-image`, with what was found inside it.
    Image(Box<BaseFacts>),
    /// lockship's minimal Debian-stable userland with a standalone CPython
    /// (python-build-standalone) at [`STANDALONE_PREFIX`].
    Standalone(Box<lockship_python::StandaloneBuild>),
}

/// Where a standalone CPython sits in the image.
pub const STANDALONE_PREFIX: &str = lockship_runtime::standalone::PREFIX;

/// The base image and its unpacked tree, once the build has them.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Its layers, config and history.
    pub image: Image,
    /// All of its layers unpacked.
    pub tree: PathBuf,
    /// Names the tree's content in cache keys.
    pub tree_key: String,
    /// Whether nothing had to be assembled or unpacked.
    pub cached: bool,
}

/// The base a build stands on, and what is known about it.
pub struct Base {
    /// Which kind it is.
    pub kind: BaseKind,
    /// Its Debian side: suite, architecture and installed packages (for an
    /// image, what its dpkg database lists).
    pub debian: BasePlan,
    /// The options of Debian steps (system libraries, sdist builds): for an
    /// image, those of the suite it is built from.
    pub options: BaseOptions,
    /// The suite's signed indexes, once open.
    repository: OnceCell<lockship_debian::Repository>,
    /// The image and its tree: `None` for a plan of lockship's runtime.
    built: Option<BaseImage>,
}

impl Base {
    /// The base as a plan needs it: lockship's runtime resolved (nothing
    /// downloaded but indexes), or a `--base-image` unpacked and probed.
    pub fn for_plan(ctx: &Context, options: &BuildOptions) -> Result<Base, BuildError> {
        match &options.base_image {
            None if options.base.standalone.is_some() => {
                let (repository, debian) =
                    lockship_runtime::standalone::plan_userland(ctx, &options.base)?;
                Ok(Base::standalone(options, debian, repository, None))
            }
            None => {
                let (repository, debian) = lockship_runtime::plan_base(ctx, &options.base)?;
                Ok(Base {
                    kind: BaseKind::Runtime,
                    debian,
                    options: options.base.clone(),
                    repository: OnceCell::from(repository),
                    built: None,
                })
            }
            Some(pulled) => Base::image(ctx, options, pulled),
        }
    }

    /// The base as a build needs it: its image and unpacked tree.
    pub fn for_build(ctx: &Context, options: &BuildOptions) -> Result<Base, BuildError> {
        match &options.base_image {
            None if options.base.standalone.is_some() => {
                let build = options.base.standalone.as_ref().expect("checked above");
                let base =
                    lockship_runtime::standalone::build_standalone_base(ctx, &options.base, build)?;
                let (tree, tree_key) = base_layers_tree(ctx, &base.image.layers)?;
                let built = BaseImage {
                    image: base.image,
                    tree,
                    tree_key,
                    cached: base.layers_cached,
                };
                Ok(Base::standalone(
                    options,
                    base.plan,
                    base.repository,
                    Some(built),
                ))
            }
            None => {
                let base = lockship_runtime::build_base(ctx, &options.base)?;
                let (tree, tree_key) = base_layers_tree(ctx, &base.image.layers)?;
                Ok(Base {
                    kind: BaseKind::Runtime,
                    debian: base.plan,
                    options: options.base.clone(),
                    repository: OnceCell::from(base.repository),
                    built: Some(BaseImage {
                        image: base.image,
                        tree,
                        tree_key,
                        cached: base.layer_cached,
                    }),
                })
            }
            Some(pulled) => Base::image(ctx, options, pulled),
        }
    }

    /// A standalone CPython's base: the userland's `debian` plan.
    fn standalone(
        options: &BuildOptions,
        debian: BasePlan,
        repository: lockship_debian::Repository,
        built: Option<BaseImage>,
    ) -> Base {
        let build = options.base.standalone.clone().expect("a standalone build");
        Base {
            kind: BaseKind::Standalone(Box::new(build)),
            debian,
            options: lockship_runtime::standalone::userland_options(&options.base),
            repository: OnceCell::from(repository),
            built,
        }
    }

    /// Unpacks and probes a `--base-image`, and describes its Debian side.
    fn image(
        ctx: &Context,
        options: &BuildOptions,
        pulled: &PulledBase,
    ) -> Result<Base, BuildError> {
        let platform = &options.base.platform;
        let prepared = prepare(
            ctx,
            pulled,
            platform,
            options.python_request.as_deref(),
            options.base.epoch,
        )?;
        let facts = prepared.facts;
        // Debian steps (system libraries, sdists) use the base's own suite.
        let runtime = facts
            .suite
            .as_deref()
            .and_then(|suite| {
                lockship_runtime::SUPPORTED
                    .iter()
                    .find(|p| p.suite == suite)
            })
            .or_else(|| {
                lockship_runtime::SUPPORTED
                    .iter()
                    .find(|p| p.version == facts.python_version)
            })
            .cloned()
            .unwrap_or_else(|| options.base.python.clone());
        let mut base_options = options.base.clone();
        base_options.python = runtime.clone();
        let (debian_arch, triplet) = lockship_runtime::debian_arch(platform)?;
        let debian = BasePlan {
            python: runtime,
            platform: platform.to_string(),
            debian_arch: debian_arch.to_string(),
            triplet: triplet.to_string(),
            roots: Vec::new(),
            skipped: Vec::new(),
            packages: facts.packages.clone(),
        };
        Ok(Base {
            kind: BaseKind::Image(Box::new(facts)),
            debian,
            options: base_options,
            repository: OnceCell::new(),
            built: Some(BaseImage {
                image: prepared.image,
                tree: prepared.tree,
                tree_key: prepared.tree_key,
                cached: prepared.tree_cached,
            }),
        })
    }

    /// What was found inside a `--base-image` (the plan shows it).
    pub fn facts(&self) -> Option<&BaseFacts> {
        match &self.kind {
            BaseKind::Runtime | BaseKind::Standalone(_) => None,
            BaseKind::Image(facts) => Some(facts),
        }
    }

    /// The image and its tree.
    ///
    /// # Panics
    /// When the base was made by [`Base::for_plan`] for lockship's runtime.
    pub fn built(&self) -> &BaseImage {
        self.built
            .as_ref()
            .expect("the base of a build has its image")
    }

    /// The base's Python as `(3, 11)`.
    pub fn python_version(&self) -> (u8, u8) {
        match &self.kind {
            BaseKind::Runtime => split_version(self.debian.python.version, (3, 11)),
            BaseKind::Image(f) => f.version(),
            BaseKind::Standalone(b) => (b.version.major as u8, b.version.minor as u8),
        }
    }

    /// Its full version (`3.11.2`).
    pub fn python_full_version(&self) -> String {
        match &self.kind {
            BaseKind::Runtime => {
                let minimal = format!("python{}-minimal", self.debian.python.version);
                self.debian
                    .packages
                    .iter()
                    .find(|p| p.name == minimal)
                    .map(|p| upstream_version(&p.version))
                    .unwrap_or_else(|| format!("{}.0", self.debian.python.version))
            }
            BaseKind::Image(f) => f.python_full_version.clone(),
            BaseKind::Standalone(b) => b.version.to_string(),
        }
    }

    /// The interpreter the venv runs on (`/usr/bin/python3.11`).
    pub fn python_path(&self) -> String {
        match &self.kind {
            BaseKind::Runtime => format!("/usr/bin/{}", self.debian.python.binary()),
            BaseKind::Image(f) => f.python.clone(),
            BaseKind::Standalone(b) => {
                format!("{STANDALONE_PREFIX}/bin/python{}", b.version.minor_string())
            }
        }
    }

    /// The wheel tags the base accepts: its CPython, architecture and C library.
    pub fn wheel_target(&self) -> WheelTarget {
        // lockship's runtimes: the manylinux cap is the glibc of the userland.
        let debian = match &self.kind {
            BaseKind::Image(f) => return f.wheel_target(&self.debian.debian_arch),
            BaseKind::Runtime | BaseKind::Standalone(_) => &self.debian,
        };
        let python = self.python_version();
        let libc6 = debian
            .packages
            .iter()
            .find(|p| p.name == "libc6")
            .map(|p| upstream_version(&p.version))
            .unwrap_or_else(|| "2.36".to_string());
        let mut parts = libc6.split('.');
        WheelTarget {
            python,
            abi: format!("cp{}{}", python.0, python.1),
            arch: wheel_arch(&debian.debian_arch),
            libc: Libc::Glibc {
                major: parts.next().and_then(|v| v.parse().ok()).unwrap_or(2),
                minor: parts.next().and_then(|v| v.parse().ok()).unwrap_or(36),
            },
        }
    }

    /// The marker environment of the base's Python.
    pub fn marker_env(&self) -> MarkerEnv {
        let machine = lockship_target::by_debian_arch(&self.debian.debian_arch)
            .map_or("x86_64", |t| t.machine);
        MarkerEnv::linux(&self.python_full_version(), machine)
    }

    /// The base's own `PATH`, which the venv's `bin` goes in front of.
    pub fn system_path(&self) -> String {
        match &self.kind {
            BaseKind::Runtime | BaseKind::Standalone(_) => RUNTIME_PATH.to_string(),
            BaseKind::Image(f) => f.path_var.clone(),
        }
    }

    /// Whether the base has a CA bundle at lockship's `SSL_CERT_FILE` path.
    pub fn has_ca_bundle(&self) -> bool {
        match &self.kind {
            BaseKind::Runtime | BaseKind::Standalone(_) => true,
            BaseKind::Image(f) => f.has_ca_bundle,
        }
    }

    /// The environment the base's config sets (`PYTHON_VERSION`, `GPG_KEY`…).
    pub fn env(&self) -> &[String] {
        match &self.kind {
            BaseKind::Runtime | BaseKind::Standalone(_) => &[],
            BaseKind::Image(f) => &f.env,
        }
    }

    /// What the user should know about the base.
    pub fn warnings(&self) -> Vec<String> {
        match &self.kind {
            BaseKind::Image(f) if f.is_musl() => vec![format!(
                "the base image `{}` uses musl: only musllinux wheels fit it, and a package without one cannot be built from its sdist here (seed 003: on Alpine everything builds from source)",
                f.source
            )],
            _ => Vec::new(),
        }
    }

    /// The interpreter in the unpacked tree `root` that compiles bytecode,
    /// when it can run here.
    pub fn interpreter(&self, root: &Path) -> Option<Interpreter> {
        let d = &self.debian;
        match &self.kind {
            BaseKind::Runtime => find_interpreter(root, &d.python, &d.debian_arch, &d.triplet),
            BaseKind::Image(f) => {
                find_interpreter_at(root, &f.python, &f.prefix, &d.debian_arch, &d.triplet)
            }
            BaseKind::Standalone(_) => find_interpreter_at(
                root,
                &self.python_path(),
                STANDALONE_PREFIX,
                &d.debian_arch,
                &d.triplet,
            ),
        }
    }

    /// Refuses sdists the base cannot build: a Debian build environment
    /// matches only Debian's own Python (a standalone CPython's headers and
    /// `sysconfig` are not in it).
    pub fn check_sdist(&self, pin: &crate::WheelPin) -> Result<(), BuildError> {
        match &self.kind {
            BaseKind::Standalone(b) => Err(BuildError::SdistOnForeignBase {
                package: pin.name.clone(),
                version: pin.version.clone(),
                python: format!("{} (standalone CPython {})", self.python_path(), b.version),
                libc: "glibc".to_string(),
            }),
            BaseKind::Image(f) if !f.debian_python || f.suite.is_none() => {
                Err(BuildError::SdistOnForeignBase {
                    package: pin.name.clone(),
                    version: pin.version.clone(),
                    python: f.python.clone(),
                    libc: f.libc.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The suite's signed indexes, for system libraries: an error when the
    /// base is not of a Debian suite lockship reads. `missing` is what
    /// libdeps found the venv needs.
    pub fn repository(
        &self,
        ctx: &Context,
        missing: &[crate::MissingLib],
    ) -> Result<&lockship_debian::Repository, BuildError> {
        if let BaseKind::Image(f) = &self.kind {
            if f.suite.is_none() {
                if !missing.is_empty() {
                    return Err(BuildError::BaseLacksLibraries {
                        source_ref: f.source.clone(),
                        missing: missing.to_vec(),
                    });
                }
                return Err(BuildError::BaseImage {
                    source_ref: f.source.clone(),
                    reason: format!(
                        "`[tool.lockship] system-packages` asks for Debian packages, and the base is `{}`, not a Debian suite lockship reads",
                        f.os
                    ),
                });
            }
        }
        if self.repository.get().is_none() {
            let opened = lockship_runtime::open_repository(ctx, &self.options)?;
            let _ = self.repository.set(opened);
        }
        Ok(self.repository.get().expect("opened above"))
    }
}

/// The wheel architecture of a Debian architecture.
pub(crate) fn wheel_arch(debian_arch: &str) -> Arch {
    let machine = lockship_target::by_debian_arch(debian_arch).map_or("x86_64", |t| t.machine);
    match machine {
        "aarch64" => Arch::Aarch64,
        "armv7l" => Arch::Armv7l,
        _ => Arch::X86_64,
    }
}

/// `3.12` → `(3, 12)`, else `default`'s parts.
fn split_version(version: &str, default: (u8, u8)) -> (u8, u8) {
    let (a, b) = version.split_once('.').unwrap_or(("", ""));
    (
        a.parse().unwrap_or(default.0),
        b.parse().unwrap_or(default.1),
    )
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

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn upstream_versions_drop_the_debian_revision() {
        assert_eq!(upstream_version("3.11.2-6+deb12u7"), "3.11.2");
        assert_eq!(upstream_version("2.36-9+deb12u14"), "2.36");
        assert_eq!(upstream_version("1:3.13.5-2"), "3.13.5");
    }
}
