//! `lockship bench`: every Dockerfile strategy built with `docker build`, beside
//! `lockship build` with a cold and a warm cache, on copies of the projects.
//! The measuring happens here; statistics, tables and charts are
//! `lockship-bench`'s.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use lockship_bench::{
    change_code, copy_tree, definitions, interleave, iso_date, link_tree, write_outputs, Machine,
    Metric, Report, Samples, LOCKSHIP_COLD, LOCKSHIP_WARM, RELOCK,
};
use serde_json::Value;

use crate::cli::{BenchArgs, GlobalArgs};

/// Small pure-Python packages without dependencies; the first one the lock
/// lacks is the "new dependency".
const NEW_DEPENDENCIES: &[&str] = &["six", "iniconfig", "toml", "idna"];

/// How a project's lock gets one more dependency.
#[derive(Debug, Clone)]
enum Relock {
    /// Append a pinned, hashed line to a requirements file, from the index.
    Requirements { file: String },
    /// `uv add --no-sync`.
    Uv(PathBuf),
    /// `poetry add --lock`.
    Poetry(PathBuf),
}

struct Env {
    lockship: PathBuf,
    docker: Option<PathBuf>,
    out: PathBuf,
    work: PathBuf,
    warm_cache: PathBuf,
    index: Option<String>,
    quiet: bool,
    keep_images: bool,
    images: Vec<String>,
    samples: Samples,
    notes: Vec<String>,
}

struct Project {
    name: String,
    pristine: PathBuf,
    python: String,
    new_dependency: Option<String>,
    relock: Option<Relock>,
    /// The base-only cache template for lockship's install step.
    base_only: PathBuf,
    locked_set: PathBuf,
}

pub fn run(args: BenchArgs, global: &GlobalArgs) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("`--runs` must be at least 1");
    }
    let out = absolute(&args.out)?;
    let work = out.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("Cannot clear `{}`", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let docker = lockship_oci::docker_available().then(docker_client);
    let mut env = Env {
        lockship: std::env::current_exe()?,
        docker,
        warm_cache: out.join("cache/lockship-warm"),
        out: out.clone(),
        work,
        index: args.index_url.clone().or_else(|| {
            lockship_wheel::discover_index(None, &[])
                .ok()
                .map(|i| i.url().to_string())
        }),
        quiet: global.quiet || global.json,
        keep_images: args.keep_images,
        images: Vec::new(),
        samples: Samples::new(),
        notes: Vec::new(),
    };
    let strategies: Vec<String> = if args.strategies.is_empty() {
        lockship_dockerfile::Strategy::ALL
            .iter()
            .map(|s| s.name().to_string())
            .collect()
    } else {
        args.strategies.clone()
    };
    for s in &strategies {
        s.parse::<lockship_dockerfile::Strategy>()?;
    }
    if env.docker.is_none() {
        env.note("Docker is not available: only the lockship rows were measured (no Dockerfile strategy, no `ready_s`, sizes are lockship's own layer sums)");
        env.say("Docker is not available: measuring the lockship rows alone");
    }
    let uv = find_uv(&env);
    if uv.is_none() {
        env.note("uv was not found on PATH and could not be installed into a private venv: no uv install_s rows");
    }
    let started = SystemTime::now();
    for dir in &args.projects {
        let project = setup_project(&mut env, dir, &args)?;
        let mut contenders: Vec<String> = Vec::new();
        if env.docker.is_some() {
            for s in &strategies {
                match render_template(&env, &project, s) {
                    Ok(()) => contenders.push(s.clone()),
                    Err(e) => env.note(&format!(
                        "{}: `{s}` skipped, rendering failed: {e:#}",
                        project.name
                    )),
                }
            }
        }
        contenders.push(LOCKSHIP_COLD.into());
        contenders.push(LOCKSHIP_WARM.into());
        if let Some(uv) = &uv {
            match prime_uv(&env, &project, uv) {
                Ok(()) => contenders.extend(["uv-cold".to_string(), "uv-warm".to_string()]),
                Err(e) => env.note(&format!("{}: uv install skipped: {e:#}", project.name)),
            }
        }
        for (run, c) in interleave(contenders.len(), args.runs) {
            let contender = contenders[c].clone();
            env.say(&format!(
                "{} run {}/{}: {contender}",
                project.name,
                run + 1,
                args.runs
            ));
            let result = match contender.as_str() {
                LOCKSHIP_COLD => lockship_cold_round(&mut env, &project, run),
                LOCKSHIP_WARM => lockship_warm_round(&mut env, &project, run),
                "uv-cold" | "uv-warm" => {
                    uv_round(&mut env, &project, uv.as_deref().unwrap(), &contender)
                }
                strategy => docker_round(&mut env, &project, strategy, run),
            };
            if let Err(e) = result {
                env.note(&format!("{} run {}: `{contender}` failed, its remaining figures of that run are missing: {e:#}", project.name, run + 1));
            }
        }
    }
    let date = iso_date(
        started
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let report = Report {
        records: env.samples.records()?,
        machine: machine(&env, date),
        runs: args.runs,
        notes: env.notes.clone(),
        definitions: definitions(),
    };
    let written = write_outputs(&out, &report)?;
    if !env.keep_images {
        if let Some(docker) = &env.docker {
            for tag in &env.images {
                let _ = Command::new(docker).args(["rmi", "-f", tag]).output();
            }
        }
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report.records)?);
    } else if !global.quiet {
        for w in written {
            eprintln!("wrote {}", w.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl Env {
    fn say(&self, text: &str) {
        if !self.quiet {
            eprintln!("bench: {text}");
        }
    }
    fn note(&mut self, text: &str) {
        self.say(text);
        if !self.notes.iter().any(|n| n == text) {
            self.notes.push(text.to_string());
        }
    }
    fn add(&mut self, project: &Project, contender: &str, metric: Metric, value: f64) {
        self.samples.add(&project.name, contender, metric, value);
    }
    fn lockship(&self) -> Command {
        let mut cmd = Command::new(&self.lockship);
        cmd.env_remove("SOURCE_DATE_EPOCH");
        cmd
    }
    fn docker(&self) -> Result<Command> {
        Ok(Command::new(
            self.docker
                .as_ref()
                .ok_or_else(|| anyhow!("no Docker engine"))?,
        ))
    }
}

/// Debian's client when installed (a newer client earlier on PATH may refuse
/// BuildKit without its plugin), else `docker` from PATH.
fn docker_client() -> PathBuf {
    let debian = Path::new("/usr/bin/docker");
    if debian.exists() {
        debian.to_path_buf()
    } else {
        PathBuf::from("docker")
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// Runs a command, returns stdout; fails with the tail of its output.
fn run_cmd(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("Cannot start {cmd:?}"))?;
    if !out.status.success() {
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = log.lines().collect();
        bail!(
            "{:?} failed ({}):\n{}",
            cmd.get_program(),
            out.status,
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `f` and returns its result and its wall time in seconds.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

fn nonce() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn setup_project(env: &mut Env, dir: &Path, args: &BenchArgs) -> Result<Project> {
    let source = absolute(dir)?;
    let source = source
        .canonicalize()
        .with_context(|| format!("No project at `{}`", dir.display()))?;
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let root = env.work.join(&name);
    let pristine = root.join("pristine");
    let out = env.out.canonicalize().ok();
    copy_tree(&source, &pristine, out.as_deref())?;
    env.say(&format!("{name}: priming the warm cache"));
    let plan: Value = serde_json::from_str(&run_cmd(
        env.lockship()
            .arg("--cache-dir")
            .arg(&env.warm_cache)
            .arg("plan")
            .arg(&pristine),
    )?)?;
    let full = plan["python_full_version"].as_str().unwrap_or("3.11");
    let python = full.split('.').take(2).collect::<Vec<_>>().join(".");
    run_cmd(
        env.lockship()
            .arg("--cache-dir")
            .arg(&env.warm_cache)
            .args(["--quiet", "build"])
            .arg(&pristine)
            .arg("--output")
            .arg(format!("oci:{}", root.join("prime-oci").display())),
    )?;
    let wheels: Vec<String> = plan["wheels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w["name"].as_str().map(lockship_wheel::normalize_name))
                .collect()
        })
        .unwrap_or_default();
    let new_dependency = NEW_DEPENDENCIES
        .iter()
        .find(|d| !wheels.contains(&d.to_string()))
        .map(|d| d.to_string());
    let lockfile = plan["lockfile"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    let lock_name = lockfile
        .strip_prefix(&pristine)
        .unwrap_or(&lockfile)
        .to_string_lossy()
        .into_owned();
    let relock = match plan["lock_kind"].as_str().unwrap_or("") {
        "uv.lock" => find_uv(env).map(Relock::Uv),
        "poetry.lock" => which("poetry").map(Relock::Poetry),
        "pylock.toml" => None,
        _ => env
            .index
            .as_ref()
            .map(|_| Relock::Requirements { file: lock_name }),
    };
    if relock.is_none() || new_dependency.is_none() {
        env.note(&format!(
            "{name}: no way to re-lock a `{}` here (needs {}): new_dependency_s is not reported",
            plan["lock_kind"].as_str().unwrap_or("?"),
            match plan["lock_kind"].as_str() {
                Some("uv.lock") => "uv",
                Some("poetry.lock") => "poetry on PATH",
                _ => "the package index",
            }
        ));
    }
    // lockship's install step: a cache with every download and built wheel and
    // the runtime base layer, but no dependency layer.
    let base_only = root.join("cache-base-only");
    for sub in ["sha256", "keyed"] {
        if env.warm_cache.join(sub).exists() {
            link_tree(&env.warm_cache.join(sub), &base_only.join(sub))?;
        }
    }
    run_cmd(
        env.lockship()
            .arg("--cache-dir")
            .arg(&base_only)
            .args(["--quiet", "base", "--python", &python, "--output"])
            .arg(format!("oci:{}", root.join("base-oci").display())),
    )?;
    let locked: String = plan["wheels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| {
            Some(format!(
                "{}=={}\n",
                w["name"].as_str()?,
                w["version"].as_str()?
            ))
        })
        .collect();
    let locked_set = root.join("locked-set.txt");
    std::fs::write(&locked_set, locked)?;
    if env.docker.is_some() {
        ensure_standins(env, &python, &args.ca_certs)?;
    }
    Ok(Project {
        name,
        pristine,
        python,
        new_dependency,
        relock,
        base_only,
        locked_set,
    })
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// uv from PATH, else from a private venv under `--out` (made with pip once).
fn find_uv(env: &Env) -> Option<PathBuf> {
    if let Some(uv) = which("uv") {
        return Some(uv);
    }
    let venv = env.out.join("tools/uv-venv");
    let bin = venv.join("bin/uv");
    if bin.exists() {
        return Some(bin);
    }
    env.say("installing uv into a private venv under --out");
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "uv"])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(bin)
}

/// The local `python:X-slim` and `python:X` stand-ins, made by `lockship base` when missing.
fn ensure_standins(env: &Env, python: &str, cas: &[PathBuf]) -> Result<()> {
    for (flavor, tag) in [
        ("slim", format!("python:{python}-slim")),
        ("full", format!("python:{python}")),
    ] {
        let present = env
            .docker()?
            .args(["image", "inspect", &tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            continue;
        }
        env.say(&format!(
            "making the stand-in `{tag}` with `lockship base --flavor {flavor}`"
        ));
        let mut cmd = env.lockship();
        cmd.arg("--cache-dir").arg(&env.warm_cache).args([
            "--quiet", "base", "--python", python, "--flavor", flavor, "--load", &tag,
        ]);
        for ca in cas {
            cmd.arg("--ca-cert").arg(ca);
        }
        run_cmd(&mut cmd)?;
    }
    Ok(())
}

fn template(project: &Project, strategy: &str) -> PathBuf {
    project
        .pristine
        .with_file_name(format!("template-{strategy}"))
}

fn render_template(env: &Env, project: &Project, strategy: &str) -> Result<()> {
    let dir = template(project, strategy);
    copy_tree(&project.pristine, &dir, None)?;
    run_cmd(
        env.lockship()
            .arg("--cache-dir")
            .arg(&env.warm_cache)
            .args(["--quiet", "dockerfile"])
            .arg(&dir)
            .args(["--strategy", strategy, "--write"]),
    )?;
    Ok(())
}

/// A fresh copy for one round (each round starts from the same tree).
fn round_dir(project: &Project, contender: &str, from: &Path) -> Result<PathBuf> {
    let dir = project.pristine.with_file_name(format!("run-{contender}"));
    copy_tree(from, &dir, None)?;
    Ok(dir)
}

/// Adds the new dependency and re-locks; returns false when this project cannot.
fn relock(env: &Env, project: &Project, dir: &Path) -> Result<bool> {
    let (Some(relock), Some(dep)) = (&project.relock, &project.new_dependency) else {
        return Ok(false);
    };
    // A fresh comment in pyproject.toml keeps any builder's cache from
    // answering with the layer an earlier run made for the same lock.
    let pyproject = dir.join("pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject)?;
    text.push_str(&format!("\n# lockship bench: new dependency {}\n", nonce()));
    std::fs::write(&pyproject, text)?;
    match relock {
        Relock::Requirements { file } => {
            let index = env.index.as_deref().ok_or_else(|| anyhow!("no index"))?;
            let line = pinned_line(index, dep)?;
            let path = dir.join(file);
            let mut text = std::fs::read_to_string(&path)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("# lockship bench {}\n{line}", nonce()));
            std::fs::write(&path, text)?;
        }
        Relock::Uv(uv) => {
            let mut cmd = Command::new(uv);
            cmd.args(["add", "--no-sync", "--quiet", dep])
                .current_dir(dir)
                .env("UV_NATIVE_TLS", "1");
            if let Some(index) = &env.index {
                cmd.env("UV_DEFAULT_INDEX", index);
            }
            run_cmd(&mut cmd)?;
        }
        Relock::Poetry(poetry) => {
            run_cmd(
                Command::new(poetry)
                    .args(["add", "--lock", "--quiet", dep])
                    .current_dir(dir),
            )?;
        }
    }
    Ok(true)
}

/// `name==X \ --hash=sha256:…` for the newest final release with a
/// pure-Python wheel, with every file's hash of that release.
fn pinned_line(index: &str, package: &str) -> Result<String> {
    let fetcher = lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default())?;
    let client =
        lockship_wheel::IndexClient::new(fetcher, vec![lockship_wheel::IndexUrl::parse(index)?])?;
    let files = client.files(package)?;
    let listed: Vec<lockship_bench::ListedFile> = files
        .iter()
        .map(|f| (f.filename.as_str(), f.sha256.as_deref(), f.yanked))
        .collect();
    let (version, hashes) = lockship_bench::newest_pure_release(package, &listed)
        .ok_or_else(|| anyhow!("no hashed pure-Python wheel of `{package}` on the index"))?;
    Ok(lockship_bench::pinned_requirement(
        package, &version, &hashes,
    ))
}

fn docker_build(env: &Env, dir: &Path, tag: &str, no_cache: bool) -> Result<()> {
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile"))?;
    let buildkit = dockerfile.contains("RUN --mount");
    let mut cmd = env.docker()?;
    cmd.env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" })
        .arg("build");
    if no_cache {
        cmd.arg("--no-cache");
    }
    if dockerfile.to_lowercase().contains(" as production") {
        cmd.args(["--target", "production"]);
    }
    if buildkit {
        cmd.args(["--progress", "plain"]);
    }
    run_cmd(cmd.args(["-t", tag]).arg(dir))?;
    Ok(())
}

/// `docker images`' size and the layer count.
fn inspect(env: &Env, tag: &str) -> Result<(f64, f64)> {
    let text = run_cmd(env.docker()?.args([
        "image",
        "inspect",
        "--format",
        "{{.Size}} {{len .RootFS.Layers}}",
        tag,
    ]))?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>());
    match (it.next(), it.next()) {
        (Some(Ok(size)), Some(Ok(layers))) => Ok((size, layers)),
        _ => bail!("unexpected `docker image inspect` output: {text}"),
    }
}

/// The compressed size of an engine's image: `docker save`, each layer gzipped.
fn compressed(env: &Env, tag: &str) -> Result<f64> {
    let mut child = env
        .docker()?
        .args(["save", tag])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let sizes =
        lockship_bench::docker_save_sizes(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
    let status = child.wait()?;
    let sizes = sizes?;
    if !status.success() {
        bail!("`docker save {tag}` failed");
    }
    Ok(sizes.compressed_bytes as f64)
}

/// `docker create` answers: the image can be run.
fn can_run(env: &Env, tag: &str) -> Result<()> {
    let id = run_cmd(env.docker()?.args(["create", tag]))?;
    let _ = env.docker()?.args(["rm", "-f", id.trim()]).output();
    Ok(())
}

fn docker_round(env: &mut Env, project: &Project, strategy: &str, run: usize) -> Result<()> {
    let dir = round_dir(project, strategy, &template(project, strategy))?;
    let tag = format!("lockship-bench/{}:{strategy}", project.name);
    if !env.images.contains(&tag) {
        env.images.push(tag.clone());
    }
    let ((), t) = timed(|| docker_build(env, &dir, &tag, true))?;
    env.add(project, strategy, Metric::UncachedS, t);
    let (size, layers) = inspect(env, &tag)?;
    env.add(project, strategy, Metric::SizeBytes, size);
    env.add(project, strategy, Metric::Layers, layers);
    if run == 0 {
        let c = compressed(env, &tag)?;
        env.add(project, strategy, Metric::CompressedBytes, c);
    }
    let ((), t) = timed(|| docker_build(env, &dir, &tag, false))?;
    env.add(project, strategy, Metric::NoopS, t);
    change_code(&dir, nonce())?;
    let ((), t) = timed(|| docker_build(env, &dir, &tag, false))?;
    env.add(project, strategy, Metric::CodeChangeS, t);
    let (relocked, t) = timed(|| relock(env, project, &dir))?;
    if relocked {
        env.add(project, RELOCK, Metric::RelockS, t);
        let ((), t) = timed(|| docker_build(env, &dir, &tag, false))?;
        env.add(project, strategy, Metric::NewDependencyS, t);
    }
    change_code(&dir, nonce())?;
    let ((), t) = timed(|| {
        docker_build(env, &dir, &tag, false)?;
        can_run(env, &tag)
    })?;
    env.add(project, strategy, Metric::ReadyS, t);
    Ok(())
}

/// `lockship build DIR --output oci:…` with `cache`; returns its `--json` summary.
fn lockship_build(env: &Env, dir: &Path, cache: &Path, load: Option<&str>) -> Result<Value> {
    let oci = dir.with_extension("oci");
    if oci.exists() {
        std::fs::remove_dir_all(&oci)?;
    }
    let mut cmd = env.lockship();
    cmd.arg("--cache-dir")
        .arg(cache)
        .args(["--json", "build"])
        .arg(dir);
    match load {
        Some(tag) => cmd.args(["--load", tag]),
        None => cmd.arg("--output").arg(format!("oci:{}", oci.display())),
    };
    Ok(serde_json::from_str(&run_cmd(&mut cmd)?)?)
}

fn summary_sizes(env: &mut Env, project: &Project, contender: &str, summary: &Value) {
    if let Some(c) = summary["compressed_bytes"].as_f64() {
        env.add(project, contender, Metric::CompressedBytes, c);
    }
    if let Some(l) = summary["layers"].as_array() {
        env.add(project, contender, Metric::Layers, l.len() as f64);
    }
    if env.docker.is_none() {
        if let Some(u) = summary["uncompressed_bytes"].as_f64() {
            env.add(project, contender, Metric::SizeBytes, u);
        }
    }
}

fn lockship_cold_round(env: &mut Env, project: &Project, run: usize) -> Result<()> {
    let dir = round_dir(project, LOCKSHIP_COLD, &project.pristine)?;
    let cache = dir.with_file_name(format!("cache-cold-{run}"));
    let (summary, t) = timed(|| lockship_build(env, &dir, &cache, None))?;
    env.add(project, LOCKSHIP_COLD, Metric::UncachedS, t);
    summary_sizes(env, project, LOCKSHIP_COLD, &summary);
    if env.docker.is_some() {
        let tag = format!("lockship-bench/{}:{LOCKSHIP_COLD}", project.name);
        if !env.images.contains(&tag) {
            env.images.push(tag.clone());
        }
        lockship_build(env, &dir, &cache, Some(&tag))?;
        let (size, _) = inspect(env, &tag)?;
        env.add(project, LOCKSHIP_COLD, Metric::SizeBytes, size);
    }
    std::fs::remove_dir_all(&cache)?;
    Ok(())
}

fn lockship_warm_round(env: &mut Env, project: &Project, run: usize) -> Result<()> {
    let dir = round_dir(project, LOCKSHIP_WARM, &project.pristine)?;
    let cache = env.warm_cache.clone();
    lockship_build(env, &dir, &cache, None)?;
    let (summary, t) = timed(|| lockship_build(env, &dir, &cache, None))?;
    env.add(project, LOCKSHIP_WARM, Metric::NoopS, t);
    summary_sizes(env, project, LOCKSHIP_WARM, &summary);
    change_code(&dir, nonce())?;
    let (_, t) = timed(|| lockship_build(env, &dir, &cache, None))?;
    env.add(project, LOCKSHIP_WARM, Metric::CodeChangeS, t);
    let (relocked, t) = timed(|| relock(env, project, &dir))?;
    if relocked {
        env.add(project, RELOCK, Metric::RelockS, t);
        let (_, t) = timed(|| lockship_build(env, &dir, &cache, None))?;
        env.add(project, LOCKSHIP_WARM, Metric::NewDependencyS, t);
    }
    if env.docker.is_some() {
        let tag = format!("lockship-bench/{}:{LOCKSHIP_WARM}", project.name);
        if !env.images.contains(&tag) {
            env.images.push(tag.clone());
        }
        change_code(&dir, nonce())?;
        let (_, t) = timed(|| {
            lockship_build(env, &dir, &cache, Some(&tag))?;
            can_run(env, &tag)
        })?;
        env.add(project, LOCKSHIP_WARM, Metric::ReadyS, t);
        let (size, _) = inspect(env, &tag)?;
        env.add(project, LOCKSHIP_WARM, Metric::SizeBytes, size);
    }
    // The install step: every wheel and the base layer cached, no dependency layer.
    let fresh = dir.with_file_name(format!("cache-install-{run}"));
    link_tree(&project.base_only, &fresh)?;
    let (_, t) = timed(|| lockship_build(env, &project.pristine, &fresh, None))?;
    env.add(project, LOCKSHIP_WARM, Metric::InstallS, t);
    std::fs::remove_dir_all(&fresh)?;
    Ok(())
}

fn uv_install(env: &Env, project: &Project, uv: &Path, cache: &Path, target: &Path) -> Result<()> {
    if target.exists() {
        std::fs::remove_dir_all(target)?;
    }
    let mut cmd = Command::new(uv);
    cmd.args([
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--python-version",
        &project.python,
        "--target",
    ])
    .arg(target)
    .arg("-r")
    .arg(&project.locked_set)
    .env("UV_CACHE_DIR", cache)
    .env("UV_NATIVE_TLS", "1")
    .env("UV_PYTHON_DOWNLOADS", "never");
    if let Some(index) = &env.index {
        cmd.args(["--index-url", index]);
    }
    run_cmd(&mut cmd)?;
    Ok(())
}

fn prime_uv(env: &Env, project: &Project, uv: &Path) -> Result<()> {
    let target = project.pristine.with_file_name("uv-target");
    uv_install(env, project, uv, &env.out.join("cache/uv-warm"), &target)
}

fn uv_round(env: &mut Env, project: &Project, uv: &Path, contender: &str) -> Result<()> {
    let target = project
        .pristine
        .with_file_name(format!("{contender}-target"));
    let cache = if contender == "uv-warm" {
        env.out.join("cache/uv-warm")
    } else {
        project.pristine.with_file_name("uv-cold-cache")
    };
    if contender == "uv-cold" && cache.exists() {
        std::fs::remove_dir_all(&cache)?;
    }
    let ((), t) = timed(|| uv_install(env, project, uv, &cache, &target))?;
    env.add(project, contender, Metric::InstallS, t);
    if contender == "uv-cold" {
        std::fs::remove_dir_all(&cache)?;
    }
    Ok(())
}

fn machine(env: &Env, date: String) -> Machine {
    let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    });
    let kernel = run_cmd(Command::new("uname").arg("-sr"))
        .ok()
        .map(|s| s.trim().to_string());
    let docker = env
        .docker()
        .ok()
        .and_then(|mut c| run_cmd(c.args(["version", "--format", "{{.Server.Version}}"])).ok())
        .map(|s| format!("engine {}", s.trim()));
    Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_bytes,
        kernel,
        docker,
        date,
    }
}
