//! lockship's runtime with a standalone CPython: a minimal Debian-stable
//! userland (the C and C++ runtime libraries, CA certificates, time zones,
//! `netbase`, with the users, CA bundle, `ld.so.cache` and dpkg status of
//! the Debian runtime) in one layer, and a python-build-standalone tree at
//! one fixed prefix in a second layer: pruned, its stdlib compiled to
//! unchecked-hash bytecode by its own interpreter in the sandbox, with
//! `python3` links and a linker cache that lists the prefix's `lib/`.
//!
//! The userland goes through the one Debian-tree pipeline ([`DebTree`]) and
//! the same [`fsbase`](crate::fsbase) steps as the Debian runtime; the
//! CPython tree comes checked and pruned from
//! [`lockship_python::install_standalone`].

use std::collections::BTreeMap;
use std::path::Path;

use lockship_layer::{Layer, LayerCache, LayerOptions};
use lockship_oci::{History, Image};
use lockship_python::{Catalogue, InstallOptions, StandaloneBuild, StandaloneRuntime};
use sha2::{Digest, Sha256};

use crate::compile::{compile_dirs, find_interpreter_at};
use crate::debtree::{DebTree, FetchedTree, LayerStep};
use crate::error::io_err;
use crate::{
    cacert, fsbase, ldcache, prune, status, BaseOptions, BasePlan, Context, PythonRuntime,
    RuntimeError, SUPPORTED,
};

/// Where the CPython tree sits in the image.
pub const PREFIX: &str = lockship_python::DEFAULT_PREFIX;

/// The Debian suite of the userland: Debian stable.
pub fn userland_suite() -> &'static PythonRuntime {
    &SUPPORTED[SUPPORTED.len() - 1]
}

/// The file under the cache root where the user keeps a refreshed table of
/// known standalone builds (a release's `SHA256SUMS`, or several joined):
/// it is read over the table lockship ships.
pub const REFRESHED_TABLE: &str = "python-standalone.sha256sums";

/// The table of known builds: the shipped one, refreshed by the cache's
/// [`REFRESHED_TABLE`] when there is one.
pub fn catalogue(ctx: &Context) -> Result<Catalogue, RuntimeError> {
    Ok(Catalogue::shipped_and_refreshed(
        &ctx.cache.root().join(REFRESHED_TABLE),
    )?)
}

/// The packages of the userland.
pub fn userland_roots(options: &BaseOptions) -> Vec<String> {
    let mut roots: Vec<String> = [
        "libc6",
        "libstdc++6",
        "libgcc-s1",
        "ca-certificates",
        "tzdata",
        "netbase",
        // ldconfig (for ctypes.util.find_library) and the C.UTF-8 locale.
        "libc-bin",
    ]
    .map(String::from)
    .to_vec();
    if options.debug {
        roots.push("busybox-static".to_string());
    }
    roots.extend(options.extra_packages.iter().cloned());
    roots
}

/// The options of the userland's suite (Debian stable), whatever Python
/// `options` names.
pub fn userland_options(options: &BaseOptions) -> BaseOptions {
    let mut userland = options.clone();
    userland.python = userland_suite().clone();
    userland
}

/// Fetches the userland suite's signed index and resolves its closure.
pub fn plan_userland(
    ctx: &Context,
    options: &BaseOptions,
) -> Result<(lockship_debian::Repository, BasePlan), RuntimeError> {
    let options = userland_options(options);
    let (arch, triplet) = crate::debian_arch(&options.platform)?;
    let repo = crate::open_repository(ctx, &options)?;
    let roots = userland_roots(&options);
    let excluded = crate::EXCLUDED_PACKAGES
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let tree = DebTree::resolve(&repo, roots.clone(), excluded)?;
    let plan = BasePlan {
        python: options.python.clone(),
        platform: options.platform.to_string(),
        debian_arch: arch.to_string(),
        triplet: triplet.to_string(),
        roots,
        skipped: tree.skipped().to_vec(),
        packages: tree.pins(),
    };
    Ok((repo, plan))
}

/// The result of [`build_standalone_base`].
#[derive(Debug, Clone)]
pub struct StandaloneBase {
    /// The image: the userland layer, then the CPython layer.
    pub image: Image,
    /// The userland's plan (its suite, packages, architecture).
    pub plan: BasePlan,
    /// The CPython build and its unpacked tree.
    pub runtime: StandaloneRuntime,
    /// Whether both layers came from the cache.
    pub layers_cached: bool,
    /// `.pyc` files of the stdlib; `None` when not compiled.
    pub pyc_files: Option<usize>,
    /// Why bytecode was not compiled, when it was not.
    pub compile_skipped: Option<String>,
    /// The userland suite's opened index.
    pub repository: lockship_debian::Repository,
}

/// Builds the base for the standalone build `build`: the userland layer
/// (from the layer cache when it is there), the CPython archive downloaded
/// from `options.python_mirror`, checked and unpacked, and the CPython layer.
pub fn build_standalone_base(
    ctx: &Context,
    options: &BaseOptions,
    build: &StandaloneBuild,
) -> Result<StandaloneBase, RuntimeError> {
    let (repo, plan) = plan_userland(ctx, options)?;
    let runtime = lockship_python::install_standalone(
        ctx.fetcher,
        ctx.cache,
        &options.python_mirror,
        build,
        &InstallOptions {
            prefix: PREFIX,
            prune: true,
            reporter: ctx.reporter,
        },
    )?;
    let (userland, userland_hit) = userland_layer(ctx, &repo, &plan, options)?;
    let (python, python_hit, compiled) = python_layer(ctx, &plan, options, &runtime, &userland)?;
    let (pyc_files, compile_skipped) = compiled;
    let image = describe(&plan, options, &runtime, vec![userland, python]);
    Ok(StandaloneBase {
        image,
        plan,
        runtime,
        layers_cached: userland_hit && python_hit,
        pyc_files,
        compile_skipped,
        repository: repo,
    })
}

fn userland_layer(
    ctx: &Context,
    repo: &lockship_debian::Repository,
    plan: &BasePlan,
    options: &BaseOptions,
) -> Result<(Layer, bool), RuntimeError> {
    let tree = DebTree::planned(repo, &plan.packages);
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-userland-v1\0{}\0{}\0{:?}\0{}\0{}\0",
        env!("CARGO_PKG_VERSION"),
        plan.platform,
        options.compression,
        options.epoch,
        options.debug,
    ));
    for p in &plan.packages {
        h.update(format!("{}\0{}\0", p.name, p.sha256));
    }
    for cert in &options.ca_certs {
        h.update(format!("ca\0{}\0{}\0", cert.name, cert.sha256()));
    }
    let key = hex::encode(h.finalize());
    let layer_options = LayerOptions {
        compression: options.compression,
        level: None,
        mtime: options.epoch,
        overrides: fsbase::users_and_dirs_overrides(),
    };
    let step = LayerStep {
        key: &key,
        options: &layer_options,
        phase: format!("unpacking {} packages", tree.packages().len()),
    };
    let (layer, hit, _) = tree.layer(ctx, &step, |root, fetched| {
        assemble_userland(root, plan, fetched, options)
    })?;
    Ok((layer, hit))
}

/// Unpacks the userland and adds what the Debian runtime has: merged /usr,
/// dpkg status, users, os-release, the CA bundle and the linker cache.
fn assemble_userland(
    root: &Path,
    plan: &BasePlan,
    fetched: &FetchedTree,
    options: &BaseOptions,
) -> Result<(), RuntimeError> {
    fsbase::merged_usr(root, &plan.debian_arch)?;
    let keep = |package: &lockship_debian::Package, path: &str| -> bool {
        if let Some(allowed) = crate::package_allowlist(&package.name) {
            if !path.ends_with('/') && !allowed.iter().any(|a| path.starts_with(a)) {
                return false;
            }
        }
        prune::keep(path, &format!("{PREFIX}/"))
    };
    fetched.unpack(root, &keep, &mut |package, unpacked| {
        status::write_status(
            root,
            &package.name,
            &unpacked.control,
            unpacked.md5sums.as_deref(),
        )
    })?;
    fsbase::users_and_dirs(root)?;
    fsbase::os_release_of(root, "(standalone)", &plan.python)?;
    fsbase::ca_bundle(root)?;
    cacert::add_ca_certs(root, &options.ca_certs)?;
    if options.debug {
        fsbase::busybox_links(root)?;
    }
    ldcache::write_ld_so_cache(root, &plan.debian_arch, &plan.triplet)?;
    Ok(())
}

/// What compiling did: `.pyc` count, or why nothing was compiled.
type Compiled = (Option<usize>, Option<String>);

/// The CPython layer: the tree at [`PREFIX`], its stdlib compiled over the
/// userland, `python3` links, and a linker cache over both layers that
/// lists `{PREFIX}/lib`.
fn python_layer(
    ctx: &Context,
    plan: &BasePlan,
    options: &BaseOptions,
    runtime: &StandaloneRuntime,
    userland: &Layer,
) -> Result<(Layer, bool, Compiled), RuntimeError> {
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-standalone-python-v1\0{}\0{}\0{}\0{:?}\0{}\0{}\0{PREFIX}\0",
        env!("CARGO_PKG_VERSION"),
        runtime.archive_sha256,
        userland.diff_id,
        options.compression,
        options.epoch,
        options.compile,
    ));
    let key = hex::encode(h.finalize());
    let report_path = ctx
        .cache
        .keyed_dir("standalone-report", &key)
        .with_extension("txt");
    let layers = LayerCache::new(ctx.cache.root().join("layers"));
    let layer_options = LayerOptions {
        compression: options.compression,
        level: None,
        mtime: options.epoch,
        overrides: Default::default(),
    };
    let mut compiled = None;
    let produced = layers.get_or_build(&key, |out_dir| {
        let staging = ctx.cache.temp_dir().map_err(crate::to_layer_err)?;
        ctx.reporter
            .phase(&format!("laying down CPython {}", runtime.version));
        compiled = Some(
            stage_python(ctx, staging.path(), plan, options, runtime, userland)
                .map_err(crate::to_layer_err)?,
        );
        ctx.reporter.phase("writing the layer");
        lockship_layer::write_layer(staging.path(), &layer_options, out_dir)
    });
    let (layer, hit) = produced.map_err(|e| {
        e.into_producer::<RuntimeError>()
            .unwrap_or_else(RuntimeError::from)
    })?;
    ctx.reporter.phase("");
    let compiled = match compiled {
        Some(c) => {
            let text = match &c {
                (Some(n), _) => format!("{n}"),
                (None, why) => format!("-{}", why.clone().unwrap_or_default()),
            };
            let _ = fs_err::create_dir_all(report_path.parent().unwrap_or(Path::new(".")))
                .and_then(|_| fs_err::write(&report_path, text));
            c
        }
        None => match std::fs::read_to_string(&report_path) {
            Ok(text) => match text.strip_prefix('-') {
                Some(why) => (None, Some(why.to_string())),
                None => (text.trim().parse().ok(), None),
            },
            Err(_) => (None, None),
        },
    };
    Ok((layer, hit, compiled))
}

/// Fills `stage` with the CPython layer's files. The stdlib is compiled in
/// a scratch tree holding the userland and the prefix, then the prefix is
/// moved into `stage`.
fn stage_python(
    ctx: &Context,
    stage: &Path,
    plan: &BasePlan,
    options: &BaseOptions,
    runtime: &StandaloneRuntime,
    userland: &Layer,
) -> Result<Compiled, RuntimeError> {
    let scratch = ctx.cache.temp_dir()?;
    let root = scratch.path().join("root");
    let reader = lockship_layer::open_layer_tar(&userland.path)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive
        .unpack(&root)
        .map_err(io_err("unpack", &userland.path))?;
    let prefix_rel = PREFIX.trim_start_matches('/');
    copy_tree(&runtime.tree, &root.join(prefix_rel))?;
    let interpreter = runtime.interpreter.to_string_lossy().into_owned();
    let minor = runtime.version.minor_string();
    let lib = format!("{PREFIX}/lib");
    ldcache::write_ld_so_cache_with(
        &[&root],
        &root,
        &plan.debian_arch,
        &plan.triplet,
        std::slice::from_ref(&lib),
    )?;
    let compiled = if !options.compile {
        (None, Some("--no-compile".to_string()))
    } else {
        match find_interpreter_at(&root, &interpreter, PREFIX, &plan.debian_arch, &plan.triplet) {
            Some(interp) => {
                let stdlib = runtime.stdlib.to_string_lossy().into_owned();
                (Some(compile_dirs(&root, &interp, &[stdlib])?), None)
            }
            None => (
                None,
                Some(format!(
                    "no interpreter can run for {}: install python{minor} on the host to get bytecode",
                    plan.platform
                )),
            ),
        }
    };
    let dest = stage.join(prefix_rel);
    if let Some(parent) = dest.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    fs_err::rename(root.join(prefix_rel), &dest).map_err(io_err("rename", &dest))?;
    fsbase::symlink(stage, "/usr/bin/python3", &interpreter)?;
    fsbase::symlink(stage, "/usr/bin/python", "python3")?;
    fsbase::symlink(stage, &format!("/usr/bin/python{minor}"), &interpreter)?;
    fsbase::write_file(
        stage,
        "/etc/ld.so.conf.d/lockship-python.conf",
        format!("{lib}\n").as_bytes(),
    )?;
    let cache = root.join("etc/ld.so.cache");
    let bytes = fs_err::read(&cache).map_err(io_err("read", &cache))?;
    fsbase::write_file(stage, "/etc/ld.so.cache", &bytes)?;
    Ok(compiled)
}

/// Copies the tree at `from` to `to` (which must not exist): directories,
/// regular files with their modes, and symlinks as links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), RuntimeError> {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|e| RuntimeError::Io {
            action: "read",
            path: from.to_path_buf(),
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs_err::create_dir_all(&dest).map_err(io_err("create", &dest))?;
        } else if kind.is_symlink() {
            let target = fs_err::read_link(entry.path()).map_err(io_err("read", entry.path()))?;
            std::os::unix::fs::symlink(&target, &dest).map_err(io_err("link", &dest))?;
        } else if kind.is_file() {
            fs_err::copy(entry.path(), &dest).map_err(io_err("copy", &dest))?;
        }
    }
    Ok(())
}

/// The image config, labels and annotations of a standalone base.
fn describe(
    plan: &BasePlan,
    options: &BaseOptions,
    runtime: &StandaloneRuntime,
    layers: Vec<Layer>,
) -> Image {
    let named = runtime.annotations();
    let mut annotations: BTreeMap<String, String> = named.clone();
    annotations.insert(
        "org.opencontainers.image.created".into(),
        lockship_oci::rfc3339(options.epoch),
    );
    annotations.insert(
        "org.opencontainers.image.title".into(),
        format!(
            "lockship Python {} (python-build-standalone {} on Debian {})",
            runtime.version, runtime.release_tag, plan.python.suite
        ),
    );
    annotations.insert(
        "org.opencontainers.image.version".into(),
        runtime.version.to_string(),
    );
    annotations.insert(
        "dev.lockship.debian.suite".into(),
        plan.python.suite.to_string(),
    );
    annotations.insert(
        "dev.lockship.debian.packages".into(),
        plan.packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if !options.ca_certs.is_empty() {
        annotations.insert(
            "dev.lockship.ca-certs".into(),
            cacert::ca_cert_annotation(options),
        );
    }
    let mut labels = named;
    labels.insert(
        "dev.lockship.debian.suite".into(),
        plan.python.suite.to_string(),
    );
    Image {
        platform: options.platform.clone(),
        config: crate::runtime_config(labels),
        layers,
        history: vec![
            History {
                created_by: format!(
                    "lockship base --python-source standalone --platform {}{}",
                    plan.platform,
                    if options.debug { " --debug" } else { "" },
                ),
                comment: Some(format!(
                    "{} Debian packages from {}",
                    plan.packages.len(),
                    plan.python.suite
                )),
                empty_layer: false,
            },
            History {
                created_by: format!(
                    "lockship python {} ({}) at {PREFIX}",
                    runtime.version, runtime.archive
                ),
                comment: Some(format!("sha256 {}", runtime.archive_sha256)),
                empty_layer: false,
            },
        ],
        created: options.epoch,
        annotations,
    }
}
