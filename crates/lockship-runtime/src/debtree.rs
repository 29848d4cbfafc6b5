//! The one Debian-tree pipeline: resolve → fetch → unpack → prune → lay down.
//!
//! Every Debian tree lockship makes goes through [`DebTree`]: the distroless
//! runtime ([`crate::build_base`]), the stand-ins of the official images
//! ([`crate::standin`]), the sdist build environment ([`crate::buildenv`])
//! and the system-libraries layer over a runtime ([`DebTree::stage_over_base`]).
//! They differ only in their packages, in what they prune and in what they
//! make after unpacking (the files maintainer scripts would make); those are
//! the arguments.
//!
//! ```no_run
//! # use lockship_runtime::{debtree::{DebTree, LayerStep}, Context, RuntimeError};
//! # fn demo(ctx: &Context, repo: &lockship_debian::Repository,
//! #         options: &lockship_layer::LayerOptions) -> Result<(), RuntimeError> {
//! let tree = DebTree::resolve(repo, vec!["libpq5".into()], Default::default())?;
//! let step = LayerStep { key: "demo-v1", options, phase: "unpacking".into() };
//! let (layer, _cached, _) = tree.layer(ctx, &step, |root, fetched| {
//!     fetched.unpack(root, &|_, _| true, &mut |_, _| Ok(()))
//! })?;
//! println!("{}", layer.digest);
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lockship_debian::{Package, Repository, ResolveRequest, UnpackedDeb};
use lockship_layer::{Layer, LayerCache, LayerOptions};

use crate::error::io_err;
use crate::{ldcache, prune, status, BasePlan, Context, DebPin, RuntimeError};

/// A resolved set of Debian packages of one repository: the first step of
/// the pipeline.
#[derive(Debug, Clone)]
pub struct DebTree<'r> {
    repo: &'r Repository,
    packages: Vec<Package>,
    skipped: Vec<(String, String)>,
}

/// A [`DebTree`] whose `.deb` files are in the cache, in package order.
#[derive(Debug)]
pub struct FetchedTree<'t> {
    packages: &'t [Package],
    debs: Vec<PathBuf>,
}

/// Where a tree's layer goes and how it is announced.
#[derive(Debug, Clone)]
pub struct LayerStep<'a> {
    /// The layer cache key: everything that decides the layer's bytes.
    pub key: &'a str,
    /// How the layer is written (compression, mtime, owners).
    pub options: &'a LayerOptions,
    /// The progress phase shown while unpacking.
    pub phase: String,
}

impl<'r> DebTree<'r> {
    /// Resolves the closure of `roots` in the repository's index; a
    /// dependency on a package of `exclude` counts as satisfied.
    pub fn resolve(
        repo: &'r Repository,
        roots: Vec<String>,
        exclude: BTreeSet<String>,
    ) -> Result<DebTree<'r>, RuntimeError> {
        let resolution = lockship_debian::resolve(&repo.index, &ResolveRequest { roots, exclude })?;
        Ok(DebTree {
            repo,
            packages: resolution.packages,
            skipped: resolution
                .skipped
                .iter()
                .map(|s| (s.package.clone(), s.needed_by.clone()))
                .collect(),
        })
    }

    /// The tree of a plan resolved earlier from this repository.
    ///
    /// # Panics
    ///
    /// When a pin is not in the repository's index: plans are made from it.
    pub fn planned(repo: &'r Repository, pins: &[DebPin]) -> DebTree<'r> {
        let packages = pins
            .iter()
            .map(|p| {
                repo.index
                    .get(&p.name)
                    .cloned()
                    .expect("planned from this index")
            })
            .collect();
        DebTree::from_packages(repo, packages)
    }

    /// A tree of packages already resolved from this repository.
    pub fn from_packages(repo: &'r Repository, packages: Vec<Package>) -> DebTree<'r> {
        DebTree {
            repo,
            packages,
            skipped: Vec::new(),
        }
    }

    /// The packages, sorted by name.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// Declared dependencies left out, and who declared them.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// The plan's pins of the packages.
    pub fn pins(&self) -> Vec<DebPin> {
        self.packages.iter().map(crate::pin).collect()
    }

    /// Downloads every `.deb` into the cache (hash-checked).
    pub fn fetch(&self, ctx: &Context) -> Result<FetchedTree<'_>, RuntimeError> {
        let debs = self
            .repo
            .fetch_debs(ctx.fetcher, ctx.cache, &self.packages, ctx.reporter)?;
        Ok(FetchedTree {
            packages: &self.packages,
            debs,
        })
    }

    /// Lays the tree down as one layer, or takes it from the layer cache:
    /// fetches, then `assemble` unpacks into a fresh staging directory
    /// (through [`FetchedTree::unpack`]) and completes it, then the
    /// directory is written as a deterministic layer. Returns the layer,
    /// whether it came from the cache, and what `assemble` returned when it ran.
    pub fn layer<R>(
        &self,
        ctx: &Context,
        step: &LayerStep,
        assemble: impl FnOnce(&Path, &FetchedTree) -> Result<R, RuntimeError>,
    ) -> Result<(Layer, bool, Option<R>), RuntimeError> {
        let layers = LayerCache::new(ctx.cache.root().join("layers"));
        let mut assembled = None;
        let produced = layers.get_or_build(step.key, |out_dir| {
            let fetched = self.fetch(ctx).map_err(crate::to_layer_err)?;
            let staging = ctx.cache.temp_dir().map_err(crate::to_layer_err)?;
            ctx.reporter.phase(&step.phase);
            assembled = Some(assemble(staging.path(), &fetched).map_err(crate::to_layer_err)?);
            ctx.reporter.phase("writing the layer");
            lockship_layer::write_layer(staging.path(), step.options, out_dir)
        });
        // A failure of our own closure comes back as the RuntimeError it was.
        let (layer, hit) = produced.map_err(|e| {
            e.into_producer::<RuntimeError>()
                .unwrap_or_else(RuntimeError::from)
        })?;
        ctx.reporter.phase("");
        Ok((layer, hit, assembled))
    }

    /// Lays the tree down as a directory `dir` of the cache, or finds it
    /// there: fetches, `assemble`s into a staging directory, writes
    /// `ready_mark` (a path in the tree) with `mark`'s text last, and moves
    /// the tree into place. A tree without its mark is unfinished and is
    /// replaced. Returns whether it came from the cache.
    pub fn directory(
        &self,
        ctx: &Context,
        dir: &Path,
        ready_mark: &str,
        phase: &str,
        assemble: impl FnOnce(&Path, &FetchedTree) -> Result<(), RuntimeError>,
    ) -> Result<bool, RuntimeError> {
        if dir.join(ready_mark).is_file() {
            return Ok(true);
        }
        let fetched = self.fetch(ctx)?;
        let staging = ctx.cache.temp_dir()?;
        ctx.reporter.phase(phase);
        assemble(staging.path(), &fetched)?;
        let names: Vec<String> = self
            .packages
            .iter()
            .map(|p| format!("{}={}\n", p.name, p.version))
            .collect();
        crate::fsbase::write_file(staging.path(), ready_mark, names.concat().as_bytes())?;
        ctx.reporter.phase("");
        if let Some(parent) = dir.parent() {
            fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        if dir.join(ready_mark).is_file() {
            // Another build finished the same tree meanwhile: keep theirs,
            // which may be in use (the staging directory goes when dropped).
            return Ok(false);
        }
        let kept = staging.keep();
        if dir.exists() {
            // An older, unfinished tree: replace it.
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Err(e) = std::fs::rename(&kept, dir) {
            let _ = std::fs::remove_dir_all(&kept);
            if !dir.join(ready_mark).is_file() {
                return Err(io_err("rename", dir)(e));
            }
        }
        Ok(false)
    }

    /// The Debian side of the system-libraries layer over a runtime base:
    /// fetches the tree and stages it into `staging` with
    /// [`FetchedTree::unpack_over_base`]. For a caller that owns the layer
    /// cache (its closure gets the staging directory); else see
    /// [`DebTree::layer`].
    pub fn stage_over_base(
        &self,
        ctx: &Context,
        staging: &Path,
        base: &BasePlan,
        base_tree: &Path,
    ) -> Result<(), RuntimeError> {
        let fetched = self.fetch(ctx)?;
        ctx.reporter.phase(&format!(
            "unpacking {} system library packages",
            self.packages.len()
        ));
        fetched.unpack_over_base(staging, base, base_tree)
    }
}

impl FetchedTree<'_> {
    /// The packages, in the order of [`FetchedTree::debs`].
    pub fn packages(&self) -> &[Package] {
        self.packages
    }

    /// Bytes the packages declare as installed (`Installed-Size`).
    pub fn installed_bytes(&self) -> u64 {
        self.packages
            .iter()
            .map(|p| p.installed_size.unwrap_or(0) * 1024)
            .sum()
    }

    /// The `.deb` files in the cache.
    pub fn debs(&self) -> &[PathBuf] {
        &self.debs
    }

    /// Unpacks every package into `root` (merged /usr), in order, keeping
    /// the paths `keep(package, path)` accepts (the pruning), and hands each
    /// unpacked package to `each` (for dpkg's books).
    pub fn unpack(
        &self,
        root: &Path,
        keep: &dyn Fn(&Package, &str) -> bool,
        each: &mut dyn FnMut(&Package, &UnpackedDeb) -> Result<(), RuntimeError>,
    ) -> Result<(), RuntimeError> {
        for (package, deb) in self.packages.iter().zip(&self.debs) {
            let unpacked = lockship_debian::unpack_deb(
                deb,
                root,
                &lockship_debian::UnpackOptions { merged_usr: true },
                &|path: &str| keep(package, path),
            )?;
            each(package, &unpacked)?;
        }
        Ok(())
    }

    /// Unpacks the tree into `root` as a layer over a runtime base: pruned
    /// like the base (with its dpkg status entries), a linker cache over
    /// both trees, and no directory that would hide the base's merged-/usr
    /// links. `base_tree` is the base's unpacked tree.
    pub fn unpack_over_base(
        &self,
        root: &Path,
        base: &BasePlan,
        base_tree: &Path,
    ) -> Result<(), RuntimeError> {
        let stdlib = format!("{}/", base.python.stdlib_dir());
        self.unpack(
            root,
            &|_, path| prune::keep(path, &stdlib),
            &mut |package, unpacked| {
                status::write_status(
                    root,
                    &package.name,
                    &unpacked.control,
                    unpacked.md5sums.as_deref(),
                )
            },
        )?;
        ldcache::write_ld_so_cache_layered(
            &[root, base_tree],
            root,
            &base.debian_arch,
            &base.triplet,
        )?;
        // Unpacking makes /lib, /bin… as directories; the base has them as
        // merged-/usr links, which a directory in an upper layer would hide.
        for dir in ["bin", "sbin", "lib", "lib64"] {
            let p = root.join(dir);
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::remove_dir(&p);
            }
        }
        Ok(())
    }
}
