//! `lockship build`: a Python project and its lockfile become an image.
//!
//! The pipeline is `Project → ImagePlan → fetched wheels → staged venv and
//! project trees → layers → Image`. [`plan`] runs the first arrow only (it
//! reads signed Debian indexes and the package index's simple pages, but
//! downloads no wheel); [`build`] runs them all. Layers, bottom up: the
//! runtime base, the third-party venv, the project. Each is cached under a
//! key of its inputs, so a code change rebuilds only the project layer.
//!
//! ```no_run
//! use lockship_build::{build, BuildOptions};
//! use lockship_runtime::{BaseOptions, Context, PythonRuntime};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fetcher = lockship_fetch::Fetcher::new(Default::default())?;
//! let cache = lockship_fetch::Cache::open("/tmp/lockship-cache")?;
//! let ctx = Context { fetcher: &fetcher, cache: &cache, reporter: &lockship_fetch::NoReporter };
//! let base = BaseOptions::new(
//!     PythonRuntime::lookup("3.11")?,
//!     "linux/amd64".parse()?,
//!     url::Url::parse("http://127.0.0.1:8080/debian")?,
//! );
//! let built = build(&ctx, &BuildOptions::new("examples/fastapi-app".into(), base))?;
//! println!("{}", built.image.digest());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Errors carry the log lines and file lists a user needs; they are made once
// per failed run, so their size does not matter.
#![allow(clippy::result_large_err)]

mod error;
pub mod foreign;
mod git;
mod plan;
mod projectpkg;
pub mod syslibs;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lockship_layer::{LayerCache, LayerOptions};
use lockship_oci::{History, Image};
use lockship_project::{LockSelection, Project, Selection};
use lockship_runtime::compile::{
    compile_dirs_with, find_interpreter, find_interpreter_at, CompileOptions,
};
use lockship_runtime::{BaseOptions, Context};
use lockship_wheel::{IndexClient, VenvLayout};
use sha2::{Digest, Sha256};

pub use error::BuildError;
pub use git::GitPin;
pub use plan::{ImagePlan, RunConfig, WheelPin};
pub use syslibs::{Libdeps, MissingLib};

use crate::error::io_err;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The project directory.
    pub project_dir: PathBuf,
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
    /// `--build-packages auto`: add the -dev package a failed build missed, and retry once.
    pub auto_build_packages: bool,
    /// `--base-image`: build on this image (pulled for `base.platform`, its
    /// blobs in the cache) instead of lockship's own runtime.
    pub base_image: Option<foreign::PulledBase>,
    /// `--python` or `[tool.lockship] python` as the user wrote it: with a base
    /// image, its Python must be this one.
    pub python_request: Option<String>,
    /// `--allow-file-urls DIR`: directories besides the project that
    /// `file://` URLs in the lock may read.
    pub allowed_file_roots: Vec<PathBuf>,
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
            lock: LockSelection::Auto,
            selection: Selection::default(),
            base,
            index_url: None,
            user: None,
            compile: true,
            large_wheel_bytes: DEFAULT_LARGE_WHEEL_BYTES,
            max_wheel_layers: DEFAULT_MAX_WHEEL_LAYERS,
            build_packages: Vec::new(),
            auto_build_packages: false,
            base_image: None,
            python_request: None,
            allowed_file_roots: Vec::new(),
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
}

/// Reads the project and its lock (checking the lock is fresh).
fn load(options: &BuildOptions) -> Result<(Project, lockship_project::Lock), BuildError> {
    let project = Project::load(&options.project_dir)?;
    let lock = project.load_lock(&options.lock)?;
    Ok((project, lock))
}

/// `Project → ImagePlan` given the base's plan.
fn plan_with_base(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &lockship_project::Lock,
    base: lockship_runtime::BasePlan,
    foreign: Option<foreign::BaseFacts>,
) -> Result<ImagePlan, BuildError> {
    let python_pkg = format!("python{}-minimal", base.python.version);
    let full = match &foreign {
        Some(f) => f.python_full_version.clone(),
        None => base
            .packages
            .iter()
            .find(|p| p.name == python_pkg)
            .map(|p| plan::upstream_version(&p.version))
            .unwrap_or_else(|| format!("{}.0", base.python.version)),
    };
    let target = match &foreign {
        Some(f) => f.wheel_target(&base.debian_arch),
        None => plan::wheel_target(&base)?,
    };
    let env = plan::marker_env(&base, &full);
    let selected = lockship_project::select(lock, project, &options.selection, &env)?;
    let index = lockship_wheel::discover_index(
        options.index_url.as_deref(),
        &plan::project_indexes(project, &lock.index_urls),
    )?;
    // The discovered (or given) index first, then the project's extra ones.
    let mut indexes = vec![index];
    let extra = project
        .lockship
        .extra_index_urls
        .iter()
        .chain(project.uv.extra_index_url.iter())
        .chain(
            project
                .uv
                .index
                .iter()
                .filter(|i| !i.default)
                .map(|i| &i.url),
        );
    for url in extra {
        let url = lockship_wheel::IndexUrl::parse(url.as_str())?;
        if !indexes.iter().any(|i| i.url() == url.url()) {
            indexes.push(url);
        }
    }
    let index_urls: Vec<String> = indexes.iter().map(|i| i.url().to_string()).collect();
    let client = IndexClient::new(ctx.fetcher.clone(), indexes)?;
    let mut wheels = Vec::new();
    let mut git = Vec::new();
    for package in selected {
        let lock_dir = lock.path.parent().unwrap_or(Path::new("."));
        match git::pin(package, lock_dir, &options.allowed_file_roots)? {
            Some(pin) => git.push(pin),
            None => wheels.push(plan::pin_wheel(package, &target, &client)?),
        }
    }
    wheels.sort_by(|a, b| a.name.cmp(&b.name));
    git.sort_by(|a, b| a.name.cmp(&b.name));
    let settings = &project.lockship;
    let venv = settings.venv.trim_end_matches('/').to_string();
    let has_backend = project.build_system.is_some() || project.poetry.is_some();
    let entrypoint = if !settings.command.is_empty() {
        settings.command.clone()
    } else if project.scripts.len() == 1 && has_backend {
        vec![format!(
            "{venv}/bin/{}",
            project.scripts.keys().next().expect("one script")
        )]
    } else {
        vec!["python3".to_string()]
    };
    let system_path = match &foreign {
        Some(f) => f.path_var.clone(),
        None => "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    };
    let mut ours = vec![
        format!("PATH={venv}/bin:{system_path}"),
        format!("VIRTUAL_ENV={venv}"),
        "PYTHONUNBUFFERED=1".to_string(),
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
        "LANG=C.UTF-8".to_string(),
    ];
    if foreign.as_ref().is_none_or(|f| f.has_ca_bundle) {
        ours.push(format!(
            "SSL_CERT_FILE={}",
            lockship_runtime::fsbase::CA_BUNDLE
        ));
    }
    if !has_backend {
        ours.push("PYTHONPATH=/app".to_string());
    }
    ours.extend(settings.env.iter().map(|(k, v)| format!("{k}={v}")));
    // A base image's own variables stay (PYTHON_VERSION, GPG_KEY…) unless set here.
    let key = |kv: &str| {
        kv.split_once('=')
            .map(|(k, _)| k.to_string())
            .unwrap_or_default()
    };
    let mut env_vars: Vec<String> = foreign
        .iter()
        .flat_map(|f| f.env.iter())
        .filter(|kv| !ours.iter().any(|o| key(o) == key(kv)))
        .cloned()
        .collect();
    env_vars.extend(ours);
    // Files that look like secrets stay out of the image, each one named.
    let mut warnings = projectpkg::secret_warnings(project, has_backend)?;
    for pin in git.iter().filter(|p| p.commit.is_empty()) {
        let dir = Path::new(&pin.url);
        if dir.join("pyproject.toml").is_file() {
            warnings.extend(projectpkg::secret_warnings(&Project::load(dir)?, true)?);
        }
    }
    if let Some(f) = &foreign {
        if f.is_musl() {
            warnings.push(format!(
                "the base image `{}` uses musl: only musllinux wheels fit it, and a package without one cannot be built from its sdist here (seed 003: on Alpine everything builds from source)",
                f.source
            ));
        }
    }
    let lock_kind = plan::lock_kind_name(lock.kind).to_string();
    Ok(ImagePlan {
        project: projectpkg::project_name(project),
        version: project.version.clone(),
        project_dir: project.dir.clone(),
        lockfile: lock.path.clone(),
        lock_kind,
        python_full_version: full,
        target: lockship_wheel::describe_target(&target),
        venv,
        wheels,
        git,
        project_install: if has_backend { "package" } else { "copy" }.to_string(),
        config: RunConfig {
            entrypoint,
            cmd: settings.cmd.clone(),
            user: options
                .user
                .clone()
                .or_else(|| settings.user.clone())
                .unwrap_or_else(|| lockship_runtime::fsbase::NONROOT_UID.to_string()),
            workdir: settings
                .workdir
                .clone()
                .unwrap_or_else(|| "/app".to_string()),
            env: env_vars,
            ports: settings
                .ports
                .iter()
                .map(|p| format!("{}/{}", p.number, p.protocol))
                .collect(),
            labels: settings.labels.clone(),
        },
        system_packages: settings.system_packages.clone(),
        build_packages: settings.build_packages.clone(),
        build_env: settings.build_env.clone(),
        index_urls,
        base,
        base_image: foreign,
        warnings,
    })
}

/// `Project → ImagePlan`, with no wheel downloaded.
pub fn plan(ctx: &Context, options: &BuildOptions) -> Result<ImagePlan, BuildError> {
    let (project, lock) = load(options)?;
    match &options.base_image {
        None => {
            let (_, base) = lockship_runtime::plan_base(ctx, &options.base)?;
            plan_with_base(ctx, options, &project, &lock, base, None)
        }
        Some(pulled) => {
            let base = foreign_base(ctx, options, pulled)?;
            plan_with_base(ctx, options, &project, &lock, base.plan, base.facts)
        }
    }
}

/// The image a build stands on: lockship's runtime, or a `--base-image`.
struct Base {
    /// Its layers, config and history.
    image: Image,
    /// Its Debian side: suite, architecture, installed packages.
    plan: lockship_runtime::BasePlan,
    /// The base options for Debian steps (the suite's Python for a foreign base).
    options: BaseOptions,
    /// The suite's signed indexes, when already open.
    repository: Option<lockship_debian::Repository>,
    /// All of its layers unpacked.
    tree: PathBuf,
    /// Names the tree's content in cache keys.
    tree_key: String,
    /// Whether nothing had to be assembled or unpacked.
    cached: bool,
    /// What a foreign base holds.
    facts: Option<foreign::BaseFacts>,
}

/// Unpacks and probes a `--base-image`, and describes its Debian side.
fn foreign_base(
    ctx: &Context,
    options: &BuildOptions,
    pulled: &foreign::PulledBase,
) -> Result<Base, BuildError> {
    let platform = &options.base.platform;
    let prepared = foreign::prepare(
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
    let plan = lockship_runtime::BasePlan {
        python: runtime,
        platform: platform.to_string(),
        debian_arch: debian_arch.to_string(),
        triplet: triplet.to_string(),
        roots: Vec::new(),
        skipped: Vec::new(),
        packages: facts.packages.clone(),
    };
    Ok(Base {
        image: prepared.image,
        plan,
        options: base_options,
        repository: None,
        tree: prepared.tree,
        tree_key: prepared.tree_key,
        cached: prepared.tree_cached,
        facts: Some(facts),
    })
}

/// lockship's own runtime, assembled (or taken from the layer cache) and unpacked.
fn lockship_base(ctx: &Context, options: &BuildOptions) -> Result<Base, BuildError> {
    let base = lockship_runtime::build_base(ctx, &options.base)?;
    let layer = base.image.layers[0].clone();
    let tree = base_tree(ctx, &layer)?;
    Ok(Base {
        image: base.image,
        plan: base.plan,
        options: options.base.clone(),
        repository: Some(base.repository),
        tree,
        tree_key: layer.diff_id.clone(),
        cached: base.layer_cached,
        facts: None,
    })
}

/// The whole pipeline.
pub fn build(ctx: &Context, options: &BuildOptions) -> Result<BuiltImage, BuildError> {
    let (project, lock) = load(options)?;
    let base = match &options.base_image {
        None => lockship_base(ctx, options)?,
        Some(pulled) => foreign_base(ctx, options, pulled)?,
    };
    let plan = plan_with_base(
        ctx,
        options,
        &project,
        &lock,
        base.plan.clone(),
        base.facts.clone(),
    )?;
    let base_tree = base.tree.clone();
    let (major, minor) = plan.python_version();
    let python_path = plan.python_path();
    let venv = |root: &Path| VenvLayout {
        root: root.to_path_buf(),
        prefix: plan.venv.clone(),
        python: python_path.clone(),
        python_version: (major, minor),
        python_full_version: Some(plan.python_full_version.clone()),
    };
    let layer_options = LayerOptions {
        compression: options.base.compression,
        level: None,
        mtime: options.base.epoch,
        overrides: Default::default(),
    };
    let layers = LayerCache::new(ctx.cache.root().join("layers"));
    let interpreter = |root: &Path| match &plan.base_image {
        None => find_interpreter(
            root,
            &plan.base.python,
            &plan.base.debian_arch,
            &plan.base.triplet,
        ),
        Some(f) => find_interpreter_at(
            root,
            &f.python,
            &f.prefix,
            &plan.base.debian_arch,
            &plan.base.triplet,
        ),
    };

    // Every wheel, hash-checked, in the content-addressed cache.
    let file_roots: Vec<PathBuf> = std::iter::once(options.project_dir.clone())
        .chain(options.allowed_file_roots.iter().cloned())
        .collect();
    let downloaded = download_all(ctx, &plan.wheels, &file_roots)?;
    // Sdists become wheels in the sandboxed build environment (cached).
    let built_wheels = build_sdists(ctx, options, &base.options, &project, &plan, &downloaded)?;
    let links = ctx.cache.temp_dir()?;
    let mut named = Vec::new();
    for (pin, path) in plan.wheels.iter().zip(&downloaded) {
        let built = built_wheels
            .iter()
            .find(|b| pin.from_sdist && b.package == pin.name);
        let (path, filename) = match built {
            Some(b) => (&b.path, &b.filename),
            None => (path, &pin.filename),
        };
        let link = links.path().join(filename);
        if std::fs::hard_link(path, &link).is_err() {
            fs_err::copy(path, &link).map_err(io_err("copy", path))?;
        }
        let size = fs_err::metadata(&link)
            .map_err(io_err("read", &link))?
            .len();
        named.push((pin, link, size));
    }
    // Large wheels (numpy, torch…) get layers of their own, so a change
    // elsewhere in the lock never re-uploads them. A wheel is large by its
    // own size alone, so the split does not move when another entry changes.
    let mut large: Vec<usize> = (0..named.len())
        .filter(|&i| named[i].2 >= options.large_wheel_bytes)
        .collect();
    large.sort_by(|&a, &b| named[b].2.cmp(&named[a].2).then(a.cmp(&b)));
    large.truncate(options.max_wheel_layers);
    large.sort();
    let venv_key = |tag: &str| {
        let mut key = Sha256::new();
        key.update(format!(
            "{tag}\0{}\0{}\0{}\0{}\0{:?}\0{}\0",
            plan.venv,
            python_path,
            plan.python_full_version,
            options.compile,
            options.base.compression,
            options.base.epoch
        ));
        key
    };
    let install = |root: &Path,
                   wheels: &[&PathBuf],
                   pins: &[GitPin],
                   skeleton: bool|
     -> Result<(), BuildError> {
        let venv = venv(root);
        if skeleton {
            lockship_wheel::write_venv_skeleton(&venv)?;
        }
        for wheel in wheels {
            lockship_wheel::install_wheel(wheel, &venv)?;
        }
        for pin in pins {
            let wheel = git::pack(ctx.cache, pin, links.path())?;
            lockship_wheel::install_wheel(&wheel, &venv)?;
        }
        if options.compile {
            ctx.reporter.phase("compiling bytecode");
            compile(
                root,
                &venv.site_packages(),
                interpreter(&base_tree),
                &project.lockship.sandbox_limits,
            )?;
        }
        Ok(())
    };
    let mut wheel_layers = Vec::new();
    for &i in &large {
        let (pin, path, _) = &named[i];
        let mut key = venv_key("lockship-wheel-v1");
        key.update(format!(
            "{}\0{}\0",
            pin.filename,
            wheel_sha(pin, &built_wheels)
        ));
        let (layer, hit) = layers.get_or_build(&hex::encode(key.finalize()), |out| {
            let staging = ctx.cache.temp_dir().map_err(layer_err)?;
            ctx.reporter.phase(&format!("installing {}", pin.filename));
            install(staging.path(), &[path], &[], false).map_err(layer_err)?;
            lockship_layer::write_layer(staging.path(), &layer_options, out)
        })?;
        wheel_layers.push((pin.name.clone(), layer, hit));
    }

    // The rest of the third-party venv.
    let mut key = venv_key("lockship-venv-v2");
    let rest: Vec<usize> = (0..named.len()).filter(|i| !large.contains(i)).collect();
    for &i in &rest {
        key.update(format!(
            "{}\0{}\0",
            named[i].0.filename,
            wheel_sha(named[i].0, &built_wheels)
        ));
    }
    for pin in &plan.git {
        key.update(format!(
            "git\0{}\0{}\0{:?}\0",
            pin.url,
            git::content_key(pin)?,
            pin.subdirectory
        ));
    }
    let (deps_layer, deps_hit) = layers.get_or_build(&hex::encode(key.finalize()), |out| {
        let staging = ctx.cache.temp_dir().map_err(layer_err)?;
        ctx.reporter.phase(&format!(
            "installing {} wheels",
            rest.len() + plan.git.len()
        ));
        let wheels: Vec<&PathBuf> = rest.iter().map(|&i| &named[i].1).collect();
        install(staging.path(), &wheels, &plan.git, true).map_err(layer_err)?;
        ctx.reporter.phase("writing the dependencies layer");
        lockship_layer::write_layer(staging.path(), &layer_options, out)
    })?;

    // libdeps: the venv's native code against the base; what is missing
    // comes from the suite's packages, in a layer of its own.
    let mut venv_layers: Vec<&lockship_layer::Layer> = vec![&deps_layer];
    venv_layers.extend(wheel_layers.iter().map(|(_, layer, _)| layer));
    let (missing, scanned) = syslibs::scan_layers(
        ctx,
        &base_tree,
        &base.tree_key,
        &venv_layers,
        std::slice::from_ref(&plan.venv),
    )?;
    let mut libdeps = Libdeps {
        scanned,
        ..Libdeps::default()
    };
    let mut syslib_packages: Vec<String> = project.lockship.system_packages.clone();
    let mut syslibs_layer = None;
    if !missing.is_empty() || !syslib_packages.is_empty() {
        let no_suite = plan.base_image.as_ref().filter(|f| f.suite.is_none());
        if let Some(f) = no_suite {
            if !missing.is_empty() {
                return Err(BuildError::BaseLacksLibraries {
                    source_ref: f.source.clone(),
                    missing,
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
        let opened;
        let repo = match &base.repository {
            Some(r) => r,
            None => {
                opened = lockship_runtime::open_repository(ctx, &base.options)?;
                &opened
            }
        };
        if !missing.is_empty() {
            ctx.reporter
                .phase("looking up libraries in the Contents index");
            let contents = repo.contents(ctx.fetcher, ctx.cache, "main", ctx.reporter)?;
            libdeps = syslibs::map_to_packages(&contents, missing, scanned);
            if !libdeps.unresolved.is_empty() {
                return Err(BuildError::UnresolvedLibraries {
                    missing: libdeps.unresolved.clone(),
                    suite: plan.base.python.suite.to_string(),
                });
            }
            syslib_packages.extend(libdeps.packages.keys().cloned());
        }
        syslib_packages.sort();
        syslib_packages.dedup();
        syslibs_layer = syslibs::build_layer(
            ctx,
            repo,
            &base.options,
            &plan.base,
            &base_tree,
            &base.tree_key,
            &syslib_packages,
            &layer_options,
            &layers,
        )?;
    }

    // The project itself.
    let scratch = ctx.cache.temp_dir()?;
    let packed = if plan.project_install == "package" {
        Some(projectpkg::pack_wheel(&project, scratch.path())?)
    } else {
        None
    };
    let mut key = Sha256::new();
    key.update(format!(
        "lockship-project-v1\0{}\0{}\0{}\0{}\0{:?}\0{}\0",
        plan.venv,
        python_path,
        plan.python_full_version,
        options.compile,
        options.base.compression,
        options.base.epoch
    ));
    match &packed {
        Some(wheel) => key.update(fs_err::read(wheel).map_err(io_err("read", wheel))?),
        None => {
            let staging = scratch.path().join("copy");
            projectpkg::copy_to_app(&project, &staging)?;
            for entry in walkdir::WalkDir::new(&staging)
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                let rel = entry.path().strip_prefix(&staging).unwrap_or(entry.path());
                if entry.file_type().is_file() {
                    key.update(rel.to_string_lossy().as_bytes());
                    key.update(fs_err::read(entry.path()).map_err(io_err("read", entry.path()))?);
                } else if entry.file_type().is_symlink() {
                    // A link kept in /app: its name and target.
                    key.update(rel.to_string_lossy().as_bytes());
                    key.update(b"\0->");
                    let target =
                        fs_err::read_link(entry.path()).map_err(io_err("read", entry.path()))?;
                    key.update(target.to_string_lossy().as_bytes());
                }
            }
        }
    }
    let (project_layer, project_hit) =
        layers.get_or_build(&hex::encode(key.finalize()), |out| {
            let staging = ctx.cache.temp_dir().map_err(layer_err)?;
            fs_err::create_dir_all(staging.path().join("app"))
                .map_err(|e| layer_err(BuildError::from(lockship_fetch::FetchError::Io(e))))?;
            let venv = venv(staging.path());
            let mut dirs = Vec::new();
            match &packed {
                Some(wheel) => {
                    lockship_wheel::install_wheel(wheel, &venv).map_err(layer_err)?;
                    dirs.push(venv.site_packages());
                }
                None => {
                    projectpkg::copy_to_app(&project, staging.path()).map_err(layer_err)?;
                    dirs.push("/app".to_string());
                }
            }
            if options.compile {
                for dir in &dirs {
                    compile(
                        staging.path(),
                        dir,
                        interpreter(&base_tree),
                        &project.lockship.sandbox_limits,
                    )
                    .map_err(layer_err)?;
                }
            }
            lockship_layer::write_layer(staging.path(), &layer_options, out)
        })?;
    ctx.reporter.phase("");

    let mut cached = vec![("base".to_string(), base.cached)];
    if let Some((_, hit, _)) = &syslibs_layer {
        cached.push(("system libraries".to_string(), *hit));
    }
    cached.extend(
        wheel_layers
            .iter()
            .map(|(name, _, hit)| (format!("wheel:{name}"), *hit)),
    );
    cached.push(("dependencies".to_string(), deps_hit));
    cached.push(("project".to_string(), project_hit));
    let wheel_layers = wheel_layers
        .into_iter()
        .map(|(name, layer, _)| (name, layer))
        .collect();
    let system_packages = syslibs_layer
        .as_ref()
        .map(|(_, _, pins)| pins.clone())
        .unwrap_or_default();
    let mut base_image = base.image.clone();
    if let Some((layer, _, pins)) = syslibs_layer {
        base_image.layers.push(layer);
        base_image.history.push(History {
            created_by: format!(
                "lockship build: system libraries: {}",
                pins.iter()
                    .map(|p| format!("{}={}", p.name, p.version))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            comment: Some("found by libdeps and [tool.lockship] system-packages".to_string()),
            empty_layer: false,
        });
    }
    let image = describe(
        &plan,
        options,
        base_image,
        wheel_layers,
        deps_layer,
        project_layer,
    );
    Ok(BuiltImage {
        image,
        plan,
        cached,
        libdeps,
        system_packages,
        built_wheels,
    })
}

/// The hash of the wheel a pin installs: the pin's own, or the built one's.
fn wheel_sha<'a>(pin: &'a WheelPin, built: &'a [lockship_sdist::BuiltWheel]) -> &'a str {
    built
        .iter()
        .find(|b| pin.from_sdist && b.package == pin.name)
        .map(|b| b.sha256.as_str())
        .unwrap_or(&pin.sha256)
}

/// Looks up files a failed sdist build missed in the suite's Contents index
/// (opened on first use).
struct ContentsLookup<'a> {
    ctx: &'a Context<'a>,
    base: &'a lockship_runtime::BaseOptions,
}

impl lockship_sdist::PackageLookup for ContentsLookup<'_> {
    fn packages_for(
        &self,
        missing: &[lockship_sdist::Missing],
    ) -> Result<Vec<Vec<String>>, lockship_sdist::SdistError> {
        use lockship_debian::FileQuery;
        use lockship_sdist::Missing;
        let repo = lockship_runtime::open_repository(self.ctx, self.base)?;
        let contents =
            repo.contents(self.ctx.fetcher, self.ctx.cache, "main", self.ctx.reporter)?;
        let (_, triplet) = lockship_runtime::debian_arch(&self.base.platform)?;
        let queries: Vec<Vec<FileQuery>> = missing
            .iter()
            .map(|m| match m {
                Missing::Header(h) => vec![FileQuery::Header(h.clone())],
                Missing::LinkerLib(l) => vec![FileQuery::LinkerLib(l.clone())],
                Missing::Program(p) => vec![FileQuery::Executable(p.clone())],
                Missing::PkgConfig(m) => vec![
                    FileQuery::Path(format!("usr/lib/{triplet}/pkgconfig/{m}.pc")),
                    FileQuery::Path(format!("usr/share/pkgconfig/{m}.pc")),
                    FileQuery::Path(format!("usr/lib/pkgconfig/{m}.pc")),
                ],
            })
            .collect();
        let flat: Vec<FileQuery> = queries.iter().flatten().cloned().collect();
        let found = contents.search(&flat)?;
        Ok(queries
            .iter()
            .map(|qs| {
                let mut packages: Vec<String> = Vec::new();
                for q in qs {
                    for (fq, hits) in &found {
                        if fq == q {
                            for hit in hits {
                                for p in &hit.packages {
                                    if !packages.contains(p) {
                                        packages.push(p.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                packages
            })
            .collect())
    }
}

/// Builds every sdist of the plan into a wheel (or takes it from the cache).
fn build_sdists(
    ctx: &Context,
    options: &BuildOptions,
    base_options: &BaseOptions,
    project: &Project,
    plan: &ImagePlan,
    downloaded: &[PathBuf],
) -> Result<Vec<lockship_sdist::BuiltWheel>, BuildError> {
    let mut out = Vec::new();
    // A Debian build environment matches only Debian's own Python.
    if let Some(f) = plan
        .base_image
        .as_ref()
        .filter(|f| !f.debian_python || f.suite.is_none())
    {
        if let Some(pin) = plan.wheels.iter().find(|p| p.from_sdist) {
            return Err(BuildError::SdistOnForeignBase {
                package: pin.name.clone(),
                version: pin.version.clone(),
                python: f.python.clone(),
                libc: f.libc.clone(),
            });
        }
    }
    let mut packages = project.lockship.build_packages.clone();
    packages.extend(options.build_packages.iter().cloned());
    packages.sort();
    packages.dedup();
    let mut sdist_options =
        lockship_sdist::SdistOptions::new(lockship_runtime::buildenv::BuildEnvOptions {
            base: base_options.clone(),
            packages,
        });
    sdist_options.auto_packages = options.auto_build_packages;
    sdist_options.limits = sandbox_limits(&project.lockship.sandbox_limits, sdist_options.limits);
    sdist_options.index_urls = plan.index_urls.clone();
    sdist_options.env_vars = plan
        .build_env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lookup = ContentsLookup {
        ctx,
        base: base_options,
    };
    for (pin, path) in plan.wheels.iter().zip(downloaded) {
        if !pin.from_sdist {
            continue;
        }
        let request = lockship_sdist::SdistRequest {
            name: pin.name.clone(),
            version: pin.version.clone(),
            sdist: path.clone(),
            filename: pin.filename.clone(),
            sha256: pin.sha256.clone(),
        };
        out.push(lockship_sdist::build_wheel(
            ctx,
            &sdist_options,
            &request,
            &lookup,
        )?);
    }
    Ok(out)
}

/// The sandbox's limits: `[tool.lockship.sandbox-limits]` over `defaults`.
fn sandbox_limits(
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

fn compile(
    root: &Path,
    dir: &str,
    interpreter: Option<lockship_runtime::compile::Interpreter>,
    limits: &lockship_project::SandboxLimits,
) -> Result<(), BuildError> {
    match interpreter {
        Some(interp) => {
            let mut options = CompileOptions::default();
            options.limits = sandbox_limits(limits, options.limits);
            compile_dirs_with(root, &interp, &[dir.to_string()], &options)?;
            Ok(())
        }
        // No interpreter for a foreign architecture: the image runs without
        // bytecode (slower starts), which `lockship base` reports the same way.
        None => Ok(()),
    }
}

fn layer_err(e: impl Into<BuildError>) -> lockship_layer::LayerError {
    let e: BuildError = e.into();
    match e.hint() {
        Some(h) => lockship_layer::LayerError::Build(format!("{e}\nhint: {h}")),
        None => lockship_layer::LayerError::Build(e.to_string()),
    }
}

/// Downloads every wheel (four at a time) into the cache, hash-checked and
/// held to its declared size; a `file://` URL may only read under `file_roots`.
fn download_all(
    ctx: &Context,
    wheels: &[WheelPin],
    file_roots: &[PathBuf],
) -> Result<Vec<PathBuf>, BuildError> {
    let mut out: Vec<Option<Result<PathBuf, BuildError>>> =
        (0..wheels.len()).map(|_| None).collect();
    for (chunk_pins, chunk_out) in wheels.chunks(4).zip(out.chunks_mut(4)) {
        std::thread::scope(|scope| {
            for (pin, slot) in chunk_pins.iter().zip(chunk_out.iter_mut()) {
                scope.spawn(move || {
                    let result = url::Url::parse(&pin.url)
                        .map_err(|e| BuildError::Io {
                            action: "parse the URL of",
                            path: PathBuf::from(&pin.url),
                            source: std::io::Error::other(e),
                        })
                        .and_then(|url| {
                            let request = lockship_fetch::Download {
                                expected_size: pin.size,
                                allowed_file_roots: Some(file_roots),
                                ..lockship_fetch::Download::new(&url, &pin.sha256)
                            };
                            ctx.fetcher
                                .download(&request, ctx.cache, ctx.reporter)
                                .map_err(BuildError::from)
                        });
                    *slot = Some(result);
                });
            }
        });
    }
    out.into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect()
}

/// The base layer unpacked once into the cache (its interpreter compiles
/// bytecode; libdeps looks up libraries in it), so its interpreter can
/// compile bytecode for the layers above it.
pub fn base_tree(ctx: &Context, layer: &lockship_layer::Layer) -> Result<PathBuf, BuildError> {
    let dir = ctx
        .cache
        .keyed_dir("base-tree", layer.diff_id.trim_start_matches("sha256:"));
    if dir.is_dir() {
        return Ok(dir);
    }
    let tmp = ctx.cache.temp_dir()?;
    let reader = lockship_layer::open_layer_tar(&layer.path)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive
        .unpack(tmp.path())
        .map_err(io_err("unpack", &layer.path))?;
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, &dir) {
        let _ = std::fs::remove_dir_all(&kept);
        if !dir.is_dir() {
            return Err(io_err("rename", &dir)(e));
        }
    }
    Ok(dir)
}

/// The image: the base's layer, the venv, the project, and the config.
fn describe(
    plan: &ImagePlan,
    options: &BuildOptions,
    base: Image,
    wheel_layers: Vec<(String, lockship_layer::Layer)>,
    deps: lockship_layer::Layer,
    project: lockship_layer::Layer,
) -> Image {
    let mut image = base;
    for (name, layer) in wheel_layers {
        image.layers.push(layer);
        image.history.push(History {
            created_by: format!("lockship build: the {name} wheel (a layer of its own)"),
            comment: None,
            empty_layer: false,
        });
    }
    image.layers.push(deps);
    image.layers.push(project);
    image.history.push(History {
        created_by: format!(
            "lockship build: {} wheels from {} into {}",
            plan.wheels.len(),
            plan.lock_kind,
            plan.venv
        ),
        comment: None,
        empty_layer: false,
    });
    image.history.push(History {
        created_by: format!(
            "lockship build: project {} ({})",
            plan.project, plan.project_install
        ),
        comment: None,
        empty_layer: false,
    });
    let config = &mut image.config;
    config.user = Some(plan.config.user.clone());
    config.env = plan.config.env.clone();
    config.entrypoint = Some(plan.config.entrypoint.clone());
    config.cmd = (!plan.config.cmd.is_empty()).then(|| plan.config.cmd.clone());
    config.working_dir = Some(plan.config.workdir.clone());
    // A base image's ports stay exposed; lockship's own base exposes none.
    config
        .exposed_ports
        .extend(plan.config.ports.iter().cloned().collect::<BTreeSet<_>>());
    config.labels.extend(plan.config.labels.clone());
    image.annotations.insert(
        "org.opencontainers.image.title".into(),
        plan.project.clone(),
    );
    if let Some(version) = &plan.version {
        image
            .annotations
            .insert("org.opencontainers.image.version".into(), version.clone());
    }
    if let Some(rev) = git_output(&options.project_dir, &["rev-parse", "HEAD"]) {
        image
            .annotations
            .insert("org.opencontainers.image.revision".into(), rev);
    }
    if let Some(source) = git_output(&options.project_dir, &["remote", "get-url", "origin"]) {
        image.annotations.insert(
            "org.opencontainers.image.source".into(),
            without_credentials(&source),
        );
    }
    image
}

/// A remote URL with any `user:password@` removed.
fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_authority() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// What git says about the project's checkout, when it is one.
fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_annotations_carry_no_credentials() {
        assert_eq!(
            super::without_credentials("https://user:token@git.invalid/org/app.git"),
            "https://git.invalid/org/app.git"
        );
        assert_eq!(
            super::without_credentials("git@git.invalid:org/app.git"),
            "git@git.invalid:org/app.git"
        );
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
