//! One project's work copies: the pristine copy, the warm cache primed from
//! it, the Dockerfile templates, the base stand-ins, and its re-lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lockship_project::{LockKind, LockSelection};

use super::process::{nonce, run_cmd, which};
use super::Harness;
use crate::error::io_err;
use crate::{copy_tree, link_tree, BenchError, BuildSummary};

/// Small pure-Python packages without dependencies; the first one the lock
/// lacks is the "new dependency".
const NEW_DEPENDENCIES: &[&str] = &["six", "iniconfig", "toml", "idna"];

/// How a project's lock gets one more dependency.
#[derive(Debug, Clone)]
pub(super) enum Relock {
    /// Append a pinned, hashed line to a requirements file, from the index.
    Requirements { file: String },
    /// `uv add --no-sync`.
    Uv(PathBuf),
    /// `poetry add --lock`.
    Poetry(PathBuf),
}

/// One project under measurement.
pub(super) struct Project {
    pub name: String,
    pub pristine: PathBuf,
    /// `X.Y`.
    pub python: String,
    pub new_dependency: Option<String>,
    pub relock: Option<Relock>,
    /// The base-only cache template for lockship's install step.
    pub base_only: PathBuf,
    /// `name==version` of every locked wheel, for uv's install step.
    pub locked_set: PathBuf,
}

impl Project {
    /// The strategy's rendered copy.
    pub fn template(&self, strategy: &str) -> PathBuf {
        self.pristine.with_file_name(format!("template-{strategy}"))
    }

    /// A fresh copy for one round (each round starts from the same tree).
    pub fn round_dir(&self, contender: &str, from: &Path) -> Result<PathBuf, BenchError> {
        let dir = self.pristine.with_file_name(format!("run-{contender}"));
        copy_tree(from, &dir, None)?;
        Ok(dir)
    }
}

fn absolute(path: &Path) -> Result<PathBuf, BenchError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let here = std::env::current_dir().map_err(io_err("read", "."))?;
    Ok(here.join(path))
}

impl Harness<'_> {
    /// Copies the project, primes the warm cache with one build, and makes
    /// the base-only cache, the locked set and (with Docker) the stand-ins.
    pub(super) fn setup_project(&mut self, dir: &Path) -> Result<Project, BenchError> {
        let source = absolute(dir)?
            .canonicalize()
            .map_err(|source| BenchError::NoProject {
                path: dir.to_path_buf(),
                source,
            })?;
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into());
        let root = self.work.join(&name);
        let pristine = root.join("pristine");
        let out = self.options.out.canonicalize().ok();
        copy_tree(&source, &pristine, out.as_deref())?;
        self.say(&format!("{name}: priming the warm cache"));
        let summary = self.lockship_build(
            &pristine,
            &self.warm_cache,
            Target::Oci(root.join("prime-oci")),
        )?;
        let python = summary.python_minor();
        let wheels: Vec<String> = summary
            .wheels
            .iter()
            .map(|w| lockship_project::normalize_name(&w.name))
            .collect();
        let new_dependency = NEW_DEPENDENCIES
            .iter()
            .find(|d| !wheels.contains(&d.to_string()))
            .map(|d| d.to_string());
        let relock = self.relock_of(&pristine)?;
        if relock.is_none() || new_dependency.is_none() {
            self.note(&format!(
                "{name}: no way to re-lock a `{}` here (needs {}): new_dependency_s is not reported",
                summary.lockfile,
                match summary.lockfile.as_str() {
                    "uv.lock" => "uv",
                    "poetry.lock" => "poetry on PATH",
                    _ => "the package index",
                }
            ));
        }
        // lockship's install step: a cache with every download and built wheel and
        // the runtime base layer, but no dependency layer.
        let base_only = root.join("cache-base-only");
        for sub in ["sha256", "keyed"] {
            if self.warm_cache.join(sub).exists() {
                link_tree(&self.warm_cache.join(sub), &base_only.join(sub))?;
            }
        }
        run_cmd(
            self.lockship()
                .arg("--cache-dir")
                .arg(&base_only)
                .args(["--quiet", "base", "--python", &python, "--output"])
                .arg(format!("oci:{}", root.join("base-oci").display())),
        )?;
        let locked: String = summary
            .wheels
            .iter()
            .map(|w| format!("{}=={}\n", w.name, w.version))
            .collect();
        let locked_set = root.join("locked-set.txt");
        std::fs::write(&locked_set, locked).map_err(io_err("write", &locked_set))?;
        if self.options.docker.is_some() {
            self.ensure_standins(&python)?;
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

    /// How this project's lock (the one `lockship build` finds) gets a new dependency here.
    fn relock_of(&self, pristine: &Path) -> Result<Option<Relock>, BenchError> {
        let project = lockship_project::Project::load(pristine)?;
        let (lockfile, kind) = project.find_lock(&LockSelection::Auto)?;
        let file = lockfile
            .strip_prefix(pristine)
            .unwrap_or(&lockfile)
            .to_string_lossy()
            .into_owned();
        Ok(match kind {
            LockKind::Uv => self.find_uv().map(Relock::Uv),
            LockKind::Poetry => which("poetry").map(Relock::Poetry),
            LockKind::Requirements => self
                .options
                .index
                .as_ref()
                .map(|_| Relock::Requirements { file }),
            // No tool here re-locks the others.
            _ => None,
        })
    }

    /// uv from PATH, else from a private venv under `--out` (made with pip once).
    pub(super) fn find_uv(&self) -> Option<PathBuf> {
        if let Some(uv) = which("uv") {
            return Some(uv);
        }
        let venv = self.options.out.join("tools/uv-venv");
        let bin = venv.join("bin/uv");
        if bin.exists() {
            return Some(bin);
        }
        self.say("installing uv into a private venv under --out");
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
    fn ensure_standins(&self, python: &str) -> Result<(), BenchError> {
        for (flavor, tag) in [
            ("slim", format!("python:{python}-slim")),
            ("full", format!("python:{python}")),
        ] {
            let present = self
                .docker()?
                .args(["image", "inspect", &tag])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if present {
                continue;
            }
            self.say(&format!(
                "making the stand-in `{tag}` with `lockship base --flavor {flavor}`"
            ));
            let mut cmd = self.lockship();
            cmd.arg("--cache-dir").arg(&self.warm_cache).args([
                "--quiet", "base", "--python", python, "--flavor", flavor, "--load", "-t", &tag,
            ]);
            for ca in &self.options.ca_certs {
                cmd.arg("--ca-cert").arg(ca);
            }
            run_cmd(&mut cmd)?;
        }
        Ok(())
    }

    /// The strategy's Dockerfile, written into a copy of the project.
    pub(super) fn render_template(
        &self,
        project: &Project,
        strategy: &str,
    ) -> Result<(), BenchError> {
        let dir = project.template(strategy);
        copy_tree(&project.pristine, &dir, None)?;
        run_cmd(
            self.lockship()
                .arg("--cache-dir")
                .arg(&self.warm_cache)
                .args(["--quiet", "dockerfile"])
                .arg(&dir)
                .args(["--strategy", strategy, "--write", "--force"]),
        )?;
        Ok(())
    }

    /// `lockship --json build DIR` with `cache`, into an OCI layout beside
    /// `dir` or the engine; its summary.
    pub(super) fn lockship_build(
        &self,
        dir: &Path,
        cache: &Path,
        target: Target,
    ) -> Result<BuildSummary, BenchError> {
        let mut cmd = self.lockship();
        cmd.arg("--cache-dir")
            .arg(cache)
            .args(["--json", "build"])
            .arg(dir);
        match target {
            Target::Load(tag) => cmd.args(["--load", "-t", &tag]),
            Target::Oci(oci) => {
                if oci.exists() {
                    std::fs::remove_dir_all(&oci).map_err(io_err("remove", &oci))?;
                }
                cmd.arg("--output").arg(format!("oci:{}", oci.display()))
            }
        };
        serde_json::from_str(&run_cmd(&mut cmd)?).map_err(|source| BenchError::Summary { source })
    }

    /// Adds the new dependency and re-locks; returns false when this project cannot.
    pub(super) fn relock(&self, project: &Project, dir: &Path) -> Result<bool, BenchError> {
        let (Some(relock), Some(dep)) = (&project.relock, &project.new_dependency) else {
            return Ok(false);
        };
        // A fresh comment in pyproject.toml keeps any builder's cache from
        // answering with the layer an earlier run made for the same lock.
        append(
            &dir.join("pyproject.toml"),
            &format!("\n# lockship bench: new dependency {}\n", nonce()),
        )?;
        match relock {
            Relock::Requirements { file } => {
                let index = self
                    .options
                    .index
                    .as_deref()
                    .ok_or_else(|| BenchError::NoIndex { file: file.clone() })?;
                let line = pinned_line(index, dep)?;
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
                let newline = if text.ends_with('\n') { "" } else { "\n" };
                append(
                    &path,
                    &format!("{newline}# lockship bench {}\n{line}", nonce()),
                )?;
            }
            Relock::Uv(uv) => {
                let mut cmd = Command::new(uv);
                cmd.args(["add", "--no-sync", "--quiet", dep])
                    .current_dir(dir)
                    .env("UV_NATIVE_TLS", "1");
                if let Some(index) = &self.options.index {
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
}

/// Where `lockship build` puts the image.
pub(super) enum Target {
    /// An OCI layout (replaced).
    Oci(PathBuf),
    /// The engine, under this tag.
    Load(String),
}

/// Appends `text` to the file.
fn append(path: &Path, text: &str) -> Result<(), BenchError> {
    let mut all = std::fs::read_to_string(path).map_err(io_err("read", path))?;
    all.push_str(text);
    std::fs::write(path, all).map_err(io_err("write", path))
}

/// `name==X \ --hash=sha256:…` for the newest final release with a
/// pure-Python wheel, with every file's hash of that release.
fn pinned_line(index: &str, package: &str) -> Result<String, BenchError> {
    let fetcher = lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default())?;
    let client =
        lockship_wheel::IndexClient::new(fetcher, vec![lockship_wheel::IndexUrl::parse(index)?])?;
    let files = client.files(package)?;
    let listed: Vec<crate::ListedFile> = files
        .iter()
        .map(|f| (f.filename.as_str(), f.sha256.as_deref(), f.yanked))
        .collect();
    let (version, hashes) =
        crate::newest_pure_release(package, &listed).ok_or_else(|| BenchError::NoPureWheel {
            package: package.to_string(),
        })?;
    Ok(crate::pinned_requirement(package, &version, &hashes))
}
