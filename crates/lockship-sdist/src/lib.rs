//! Builds sdists into wheels, for packages that ship no wheel for the target.
//!
//! The build follows PEP 517 (pip is the front end: it reads the sdist's
//! `[build-system]`, installs its build requirements in isolation and calls
//! the backend), inside [`lockship_sandbox`] whose root is a
//! [`lockship_runtime::buildenv`] tree of the runtime's own Debian suite and
//! architecture, so the wheel links against the same libraries the image
//! has. The sandbox has the build environment read-only, a writable
//! `/build` (the sdist and the wheel's output) and `/tmp`, an empty
//! environment but the build's own variables, user 65532, and
//! [`lockship_sandbox::Limits`]. It shares the host's network, because pip
//! fetches the build requirements from the index inside; index URLs go in
//! without their user and password, so no credential enters the sandbox. Wheels are cached under the sdist's hash, the suite, architecture,
//! Python and build packages: a second build, or another project, reuses
//! them without compiling.
//!
//! Build packages need not be named by hand ([`SdistOptions::auto_packages`],
//! on by default): the table of well-known packages ([`known`]) and what the
//! sdist states about itself ([`metadata`]) come first; then each failed
//! build's log is read ([`diagnose()`]) and the Debian packages that ship the
//! missing files ([`ContentsLookup`]) are added and the build retried, at
//! most [`MAX_PACKAGE_ROUNDS`] times. Each package added is returned in
//! [`BuiltWheel::added_packages`] with the line that asked for it.
//!
//! ```no_run
//! use lockship_sdist::{build_wheel, NoLookup, SdistOptions, SdistRequest};
//! use lockship_runtime::{buildenv::BuildEnvOptions, BaseOptions, Context, PythonRuntime};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fetcher = lockship_fetch::Fetcher::new(Default::default())?;
//! let cache = lockship_fetch::Cache::open("/tmp/lockship-cache")?;
//! let ctx = Context { fetcher: &fetcher, cache: &cache, reporter: &lockship_fetch::NoReporter };
//! let base = BaseOptions::new(
//!     PythonRuntime::lookup("3.11")?,
//!     "linux/amd64".parse()?,
//!     url::Url::parse("http://127.0.0.1:8080/debian")?,
//! );
//! let options = SdistOptions::new(BuildEnvOptions { base, packages: vec!["libpq-dev".into()] });
//! let request = SdistRequest {
//!     name: "psycopg2".into(),
//!     version: "2.9.10".into(),
//!     sdist: "cache/sha256/0000".into(),
//!     filename: "psycopg2-2.9.10.tar.gz".into(),
//!     sha256: "0000".into(),
//! };
//! let wheel = build_wheel(&ctx, &options, &request, &NoLookup)?;
//! println!("{} {}", wheel.filename, wheel.sha256);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Errors carry the log lines and file lists a user needs; they are made once
// per failed run, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod diagnose;
mod discover;
mod error;
pub mod known;
mod lookup;
pub mod metadata;
mod offline;

use std::path::{Path, PathBuf};
use std::time::Instant;

use lockship_runtime::buildenv::{build_env, BuildEnvOptions};
use lockship_runtime::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use diagnose::{diagnose, Diagnosis, Missing};
pub use discover::{AddedBy, AddedPackage, MAX_PACKAGE_ROUNDS};
use error::io_err;
pub use error::{MissingFile, SdistError};
pub use lockship_sandbox::{Limits, Sandbox};
pub use lookup::ContentsLookup;
use offline::OfflineBuild;

/// How to build.
#[derive(Debug, Clone)]
pub struct SdistOptions {
    /// The build environment: the runtime's Python, platform and mirror,
    /// and the `build-packages`.
    pub env: BuildEnvOptions,
    /// Find build packages without help (the default; `--build-packages
    /// none` turns it off): the table of well-known packages and the sdist's
    /// own metadata before the first build, then, while a build fails on
    /// missing files that Debian packages ship, those packages added and the
    /// build retried, at most `max_package_rounds` times.
    pub auto_packages: bool,
    /// The bound of the discovery loop ([`MAX_PACKAGE_ROUNDS`] by default).
    pub max_package_rounds: usize,
    /// The package indexes build requirements come from (the first is the
    /// main one).
    pub index_urls: Vec<String>,
    /// `SOURCE_DATE_EPOCH` for the build.
    pub epoch: u64,
    /// More environment for the build (`[tool.lockship] build-env`).
    pub env_vars: Vec<(String, String)>,
    /// The sandbox's limits (defaults: [`Limits::default`], an hour of wall
    /// time, 8 GiB of address space per process, 4096 processes).
    pub limits: Limits,
}

impl SdistOptions {
    /// Defaults: build packages found without help, pip's own index, the
    /// runtime's epoch.
    pub fn new(env: BuildEnvOptions) -> SdistOptions {
        SdistOptions {
            epoch: env.base.epoch,
            env,
            auto_packages: true,
            max_package_rounds: MAX_PACKAGE_ROUNDS,
            index_urls: Vec::new(),
            env_vars: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// One sdist to build.
#[derive(Debug, Clone)]
pub struct SdistRequest {
    /// The package's normalised name.
    pub name: String,
    /// Its locked version.
    pub version: String,
    /// The sdist, hash-checked, on disk.
    pub sdist: PathBuf,
    /// Its file name (`psycopg2-2.9.10.tar.gz`).
    pub filename: String,
    /// Its SHA-256, as locked.
    pub sha256: String,
}

/// A wheel built from an sdist.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuiltWheel {
    /// The package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The sdist's file name.
    pub sdist: String,
    /// The sdist's SHA-256.
    pub sdist_sha256: String,
    /// The wheel, in the cache.
    pub path: PathBuf,
    /// Its file name.
    pub filename: String,
    /// Its SHA-256, recorded when it was built.
    pub sha256: String,
    /// The suite, architecture and Python it was built for.
    pub suite: String,
    /// Debian architecture.
    pub debian_arch: String,
    /// `3.11`.
    pub python: String,
    /// The build packages beyond the standard set (with the ones added).
    pub build_packages: Vec<String>,
    /// The build packages lockship added, each with the line that asked
    /// for it (pin them in `[tool.lockship] build-packages`).
    #[serde(default)]
    pub added_packages: Vec<AddedPackage>,
    /// How long the build took, in seconds.
    pub build_seconds: f64,
    /// Whether it came from the cache (nothing was compiled).
    #[serde(skip)]
    pub cached: bool,
}

/// Finds the Debian packages that ship files a failed build missed.
pub trait PackageLookup {
    /// For each missing file, the packages that ship it, best first.
    fn packages_for(&self, missing: &[Missing]) -> Result<Vec<Vec<String>>, SdistError>;

    /// For each name, whether the suite has a package of that name (the
    /// table's guesses are checked before they are added). By default,
    /// every name is taken to exist.
    fn packages_exist(&self, names: &[String]) -> Result<Vec<bool>, SdistError> {
        Ok(vec![true; names.len()])
    }
}

/// A lookup that knows nothing (the error then names no package).
pub struct NoLookup;

impl PackageLookup for NoLookup {
    fn packages_for(&self, missing: &[Missing]) -> Result<Vec<Vec<String>>, SdistError> {
        Ok(vec![Vec::new(); missing.len()])
    }
}

/// The cache key of a built wheel.
fn wheel_key(options: &SdistOptions, request: &SdistRequest) -> String {
    let mut packages = options.env.packages.clone();
    packages.sort();
    packages.dedup();
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-sdist-v2\0{}\0{}\0{}\0{}\0{}\0{}\0",
        request.sha256,
        options.env.base.python.suite,
        options.env.base.platform,
        options.env.base.python.version,
        packages.join(","),
        options.auto_packages,
    ));
    for (k, v) in &options.env_vars {
        h.update(format!("env\0{k}\0{v}\0"));
    }
    if options.auto_packages {
        // The first guesses follow the table: a changed table builds again.
        h.update(format!("table\0{}\0", known::TABLE));
    }
    hex::encode(h.finalize())
}

/// The wheel of a cached build, if there is one.
pub fn cached_wheel(
    ctx: &Context,
    options: &SdistOptions,
    request: &SdistRequest,
) -> Option<BuiltWheel> {
    let dir = ctx
        .cache
        .keyed_dir("sdist-wheels", &wheel_key(options, request));
    let record: BuiltWheel =
        serde_json::from_slice(&std::fs::read(dir.join("record.json")).ok()?).ok()?;
    let path = dir.join(&record.filename);
    let bytes = std::fs::read(&path).ok()?;
    (lockship_fetch::sha256_hex(&bytes) == record.sha256).then_some(BuiltWheel {
        path,
        cached: true,
        ..record
    })
}

/// Builds the sdist into a wheel, or returns the cached wheel.
pub fn build_wheel(
    ctx: &Context,
    options: &SdistOptions,
    request: &SdistRequest,
    lookup: &dyn PackageLookup,
) -> Result<BuiltWheel, SdistError> {
    if let Some(found) = cached_wheel(ctx, options, request) {
        return Ok(found);
    }
    let host = lockship_runtime::compile::host_debian_arch();
    let (arch, _) = lockship_runtime::debian_arch(&options.env.base.platform)?;
    if arch != host {
        return Err(SdistError::ForeignArchitecture {
            package: request.name.clone(),
            version: request.version.clone(),
            platform: options.env.base.platform.to_string(),
            host: host.to_string(),
        });
    }
    let sandbox = Sandbox::find().map_err(|_| SdistError::NoSandbox {
        package: request.name.clone(),
    })?;
    let started = Instant::now();
    let (wheel, log_dir, env_options, added) =
        discover_and_build(ctx, options, request, &sandbox, lookup)?;
    let filename = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = fs_err::read(&wheel).map_err(io_err("read", &wheel))?;
    let mut record = BuiltWheel {
        package: request.name.clone(),
        version: request.version.clone(),
        sdist: request.filename.clone(),
        sdist_sha256: request.sha256.clone(),
        path: PathBuf::new(),
        filename: filename.clone(),
        sha256: lockship_fetch::sha256_hex(&bytes),
        suite: options.env.base.python.suite.to_string(),
        debian_arch: arch.to_string(),
        python: options.env.base.python.version.to_string(),
        build_packages: env_options.packages.clone(),
        added_packages: added,
        build_seconds: started.elapsed().as_secs_f64(),
        cached: false,
    };
    // Into the cache: a finished directory appears by one rename.
    let dir = ctx
        .cache
        .keyed_dir("sdist-wheels", &wheel_key(options, request));
    let staging = ctx.cache.temp_dir()?;
    fs_err::write(staging.path().join(&filename), &bytes)
        .map_err(io_err("write", staging.path()))?;
    let log = log_dir.path().join("build.log");
    let _ = std::fs::copy(&log, staging.path().join("build.log"));
    fs_err::write(
        staging.path().join("record.json"),
        serde_json::to_vec_pretty(&record).unwrap_or_default(),
    )
    .map_err(io_err("write", staging.path()))?;
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let kept = staging.keep();
    if let Err(e) = std::fs::rename(&kept, &dir) {
        let _ = std::fs::remove_dir_all(&kept);
        if !dir.join("record.json").is_file() {
            return Err(io_err("rename", &dir)(e));
        }
    }
    record.path = dir.join(&filename);
    Ok(record)
}

/// The build packages found so far, each with the line that asked for it.
type Found = (
    PathBuf,
    tempfile::TempDir,
    BuildEnvOptions,
    Vec<AddedPackage>,
);

/// Builds, adding build packages (first guesses, then what each failed
/// build missed) until the build passes, a round adds nothing new, or the
/// bound is reached.
fn discover_and_build(
    ctx: &Context,
    options: &SdistOptions,
    request: &SdistRequest,
    sandbox: &Sandbox,
    lookup: &dyn PackageLookup,
) -> Result<Found, SdistError> {
    let mut env_options = options.env.clone();
    let mut added: Vec<AddedPackage> = Vec::new();
    let add = |new: Vec<AddedPackage>, env: &mut BuildEnvOptions, added: &mut Vec<_>| {
        for a in new {
            ctx.reporter.phase(&format!(
                "{}: adding the build package {}",
                request.name,
                a.describe()
            ));
            env.packages.push(a.package.clone());
            added.push(a);
        }
    };
    if options.auto_packages {
        let guesses = discover::first_guesses(request, lookup, &env_options.packages)?;
        add(guesses, &mut env_options, &mut added);
    }
    let mut round = 0;
    loop {
        let failed = match build_once(ctx, options, &env_options, request, sandbox, lookup) {
            Ok((wheel, dir)) => return Ok((wheel, dir, env_options, added)),
            Err(e) => e,
        };
        let SdistError::BuildFailed {
            missing, log, tail, ..
        } = &failed
        else {
            return Err(failed);
        };
        if !options.auto_packages || missing.is_empty() {
            return Err(failed);
        }
        let new = discover::next_round(missing, &env_options.packages, round + 1);
        if new.is_empty() {
            // Nothing new to add: a file no package ships is the reason;
            // else the build's own failure stands.
            return Err(match missing.iter().find(|m| m.packages.is_empty()) {
                Some(m) => SdistError::NoPackageShips {
                    package: request.name.clone(),
                    version: request.version.clone(),
                    kind: m.kind,
                    name: m.name.clone(),
                    suite: options.env.base.python.suite.to_string(),
                    line: m.line.clone(),
                    tail: tail.clone(),
                    log: log.clone(),
                },
                None => failed,
            });
        }
        if round >= options.max_package_rounds {
            return Err(SdistError::TooManyPackageRounds {
                package: request.name.clone(),
                version: request.version.clone(),
                rounds: round,
                tried: added,
                missing: missing.clone(),
                log: log.clone(),
            });
        }
        round += 1;
        add(new, &mut env_options, &mut added);
    }
}

/// One build in a fresh work directory. Returns the wheel and the work
/// directory (which holds `build.log`).
fn build_once(
    ctx: &Context,
    options: &SdistOptions,
    env_options: &BuildEnvOptions,
    request: &SdistRequest,
    sandbox: &Sandbox,
    lookup: &dyn PackageLookup,
) -> Result<(PathBuf, tempfile::TempDir), SdistError> {
    let env = build_env(ctx, env_options)?;
    let work = ctx.cache.temp_dir()?;
    let src = work.path().join("src");
    let out = work.path().join("out");
    for dir in [&src, &out] {
        fs_err::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    let sdist_name = request.filename.clone();
    let staged = src.join(&sdist_name);
    fs_err::copy(&request.sdist, &staged).map_err(io_err("copy", &request.sdist))?;
    // The sandbox's user must be able to write its own directories.
    make_writable(work.path())?;
    let log = work.path().join("build.log");
    let vars = sandbox_vars(options);
    ctx.reporter.phase(&format!(
        "building {} {} from its sdist",
        request.name, request.version
    ));
    let build = OfflineBuild {
        ctx,
        options,
        request,
        sandbox,
        env: &env,
        work: work.path(),
        log: &log,
        vars: &vars,
    };
    let ok = outcome_ok(build.run()?, &log, request)?;
    ctx.reporter.phase("");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let wheel = std::fs::read_dir(&out).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
    });
    let diagnosis = diagnose(&text);
    // Keep the log where the user can read it after the work dir is gone.
    let kept_log = ctx
        .cache
        .keyed_dir("sdist-logs", "all")
        .join(format!("{}-{}.log", request.name, request.version));
    if let Some(parent) = kept_log.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::copy(&log, &kept_log);
    if let Some(path) = diagnosis.escape.clone() {
        return Err(SdistError::Escape {
            package: request.name.clone(),
            version: request.version.clone(),
            path,
            log: kept_log,
        });
    }
    match (ok, wheel) {
        (true, Some(wheel)) => Ok((wheel, work)),
        (true, None) => Err(SdistError::NoWheel {
            package: request.name.clone(),
            version: request.version.clone(),
            dir: out,
        }),
        (false, _) => Err(build_failed(
            ctx,
            lookup,
            request,
            env_options,
            &diagnosis,
            &text,
            kept_log,
        )?),
    }
}

/// The environment of the sandboxes that build and fetch: a fixed set, the
/// project's variables, and the index URLs without their user and password.
fn sandbox_vars(options: &SdistOptions) -> Vec<(String, String)> {
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut vars: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin".into(),
        ),
        ("HOME".into(), "/tmp".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("SOURCE_DATE_EPOCH".into(), options.epoch.to_string()),
        ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
        ("PIP_NO_INPUT".into(), "1".into()),
        ("PIP_NO_CACHE_DIR".into(), "1".into()),
        (
            "PIP_CERT".into(),
            lockship_runtime::fsbase::CA_BUNDLE.into(),
        ),
        (
            "SSL_CERT_FILE".into(),
            lockship_runtime::fsbase::CA_BUNDLE.into(),
        ),
        ("MAKEFLAGS".into(), format!("-j{jobs}")),
        ("MAX_JOBS".into(), jobs.to_string()),
        ("CPPFLAGS".into(), String::new()),
    ];
    vars.extend(options.env_vars.iter().cloned());
    // Index URLs without their user and password: no credential enters the
    // sandbox (a private index then answers 401 to the build).
    let indexes: Vec<String> = options
        .index_urls
        .iter()
        .map(|u| without_userinfo(u))
        .collect();
    if let Some(index) = indexes.first() {
        vars.push(("PIP_INDEX_URL".into(), index.clone()));
    }
    if indexes.len() > 1 {
        vars.push(("PIP_EXTRA_INDEX_URL".into(), indexes[1..].join(" ")));
    }
    vars
}

/// Whether the build succeeded; a sandbox that did not start is an error.
/// A limit the sandbox hit is noted at the end of the log.
fn outcome_ok(
    outcome: Result<lockship_sandbox::Outcome, lockship_sandbox::SandboxError>,
    log: &Path,
    request: &SdistRequest,
) -> Result<bool, SdistError> {
    Ok(match outcome {
        Ok(outcome) => {
            if let Some(limit) = outcome.limit_hit() {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
                    let _ = writeln!(f, "(stopped by the sandbox's {limit})");
                }
            }
            outcome.success()
        }
        Err(lockship_sandbox::SandboxError::Start { message, .. }) => {
            return Err(SdistError::SandboxFailed { message })
        }
        Err(e) => {
            return Err(SdistError::Sandbox {
                package: request.name.clone(),
                version: request.version.clone(),
                cause: e,
            })
        }
    })
}

/// The error of a failed build: its log's tail and, for each missing file
/// the log names, the packages that ship it.
fn build_failed(
    ctx: &Context,
    lookup: &dyn PackageLookup,
    request: &SdistRequest,
    env_options: &BuildEnvOptions,
    diagnosis: &Diagnosis,
    text: &str,
    log: PathBuf,
) -> Result<SdistError, SdistError> {
    let found = if diagnosis.missing.is_empty() {
        Vec::new()
    } else {
        ctx.reporter
            .phase("looking up the missing files in the Contents index");
        let found = lookup.packages_for(&diagnosis.missing)?;
        ctx.reporter.phase("");
        found
    };
    let missing = diagnosis
        .missing
        .iter()
        .zip(found.into_iter().chain(std::iter::repeat(Vec::new())))
        .zip(&diagnosis.lines)
        .map(|((m, packages), line)| MissingFile {
            kind: m.kind(),
            name: m.display_name(),
            packages,
            line: line.clone(),
        })
        .collect();
    Ok(SdistError::BuildFailed {
        package: request.name.clone(),
        version: request.version.clone(),
        sdist: request.filename.clone(),
        tail: tail(text, 25),
        log,
        missing,
        build_packages: env_options.packages.clone(),
    })
}

/// An index URL without its user and password (and any query token).
pub fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        // Not a URL pip could use with credentials either; keep no part
        // that looks like `user:password@`.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => host.to_string(),
            None => url.to_string(),
        },
    }
}

/// The lines that name the failure (compiler and linker errors), then the
/// last `n` lines.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let key = |l: &&&str| {
        l.contains("fatal error:")
            || l.contains("error: ")
            || l.contains("cannot find -l")
            || l.contains("executable not found")
            || l.contains(": not found")
            || l.contains("was not found in the pkg-config")
    };
    let mut out: Vec<String> = lines[..start]
        .iter()
        .filter(key)
        .take(8)
        .map(|l| format!("  | {}", l.trim_end()))
        .collect();
    if !out.is_empty() {
        out.push("  | …".to_string());
    }
    out.extend(
        lines[start..]
            .iter()
            .map(|l| format!("  | {}", l.trim_end())),
    );
    out.join("\n")
}

/// Opens the work directory to the sandbox's unprivileged user.
fn make_writable(dir: &Path) -> Result<(), SdistError> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir_simple(dir) {
        let mode = if entry.is_dir() { 0o777 } else { 0o666 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("open up", &entry))?;
    }
    Ok(())
}

fn walkdir_simple(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            if let Ok(entries) = std::fs::read_dir(&out[i]) {
                let mut children: Vec<PathBuf> =
                    entries.filter_map(Result::ok).map(|e| e.path()).collect();
                children.sort();
                out.extend(children);
            }
        }
        i += 1;
    }
    out
}
