//! Per-lock-kind install commands, and the settings every stage shares.
//!
//! Each lock is installed by its own tool: `uv.lock` with `uv sync --frozen`,
//! `poetry.lock` with `poetry install`, `pylock.toml` with
//! `uv pip install -r` (pip cannot install from it) and requirements.txt with
//! pip. Dependencies install before the source is copied, the project after
//! it with no dependencies, so a code change reuses the dependency layer.

use crate::doc::sh;
use crate::{DockerInput, LockKind, ProjectInstall, Strategy, Warning};

/// Where builders install uv and Poetry: a venv of their own, so the
/// system interpreter is never pip-installed into (PEP 668) and the app's
/// venv holds only the app.
pub(crate) const TOOLS: &str = "/opt/lockship-tools";
/// Poetry's cache, outside the image's home so it can be removed or mounted.
const POETRY_CACHE: &str = "/tmp/poetry-cache";
/// pip's cache in BuildKit strategies (`PIP_CACHE_DIR`): a cache mount, never a layer,
/// and no user's home directory.
const PIP_CACHE: &str = "/tmp/pip-cache";
/// uv's cache in BuildKit strategies (`UV_CACHE_DIR`), likewise.
const UV_CACHE: &str = "/tmp/uv-cache";
/// Where requirements exported from a lock are written.
pub(crate) const EXPORTED: &str = "/tmp/requirements.txt";
/// Where development requirements exported from a lock are written.
pub(crate) const EXPORTED_DEV: &str = "/tmp/requirements-dev.txt";

/// The rendering context: input, strategy and the warnings gathered.
pub(crate) struct Ctx<'a> {
    pub(crate) i: &'a DockerInput,
    pub(crate) strategy: Strategy,
    /// Installer caches live in BuildKit cache mounts instead of being disabled.
    pub(crate) cache: bool,
    pub(crate) warnings: Vec<Warning>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(i: &'a DockerInput, strategy: Strategy) -> Self {
        Ctx {
            i,
            strategy,
            cache: strategy.uses_cache_mounts(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn kind(&self) -> LockKind {
        self.i.lock.kind
    }

    pub(crate) fn ssh(&self) -> bool {
        !self.i.git_ssh.is_empty()
    }

    pub(crate) fn package(&self) -> bool {
        self.i.project_install == ProjectInstall::Package
    }

    fn uses_uv(&self) -> bool {
        matches!(self.kind(), LockKind::Uv | LockKind::Pylock)
    }

    /// `pip` flags that keep its cache out of the image.
    fn pip_no_cache(&self) -> &'static str {
        if self.cache {
            ""
        } else {
            " --no-cache-dir"
        }
    }

    /// `ARG` lines declaring the build's package index, when there is one.
    pub(crate) fn index_args(&self) -> Vec<String> {
        let Some(url) = &self.i.index_url else {
            return Vec::new();
        };
        let mut v = vec![format!("ARG PIP_INDEX_URL={url}")];
        if self.uses_uv() {
            v.push(format!("ARG UV_INDEX_URL={url}"));
        }
        v
    }

    /// Environment of stages that install: quiet, cache-free installers.
    pub(crate) fn builder_env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        ];
        if self.cache {
            // Every stage that mounts a cache installs from this one (or is it).
            v.push(("PIP_CACHE_DIR", PIP_CACHE));
        }
        if self.uses_uv() {
            v.push(("UV_PYTHON_DOWNLOADS", "never"));
            v.push(("UV_LINK_MODE", "copy"));
            if self.cache {
                v.push(("UV_CACHE_DIR", UV_CACHE));
            } else {
                v.push(("UV_NO_CACHE", "1"));
            }
        }
        if self.kind() == LockKind::Poetry {
            v.push(("POETRY_VIRTUALENVS_CREATE", "false"));
            v.push(("POETRY_NO_INTERACTION", "1"));
            v.push(("POETRY_CACHE_DIR", POETRY_CACHE));
            if self.ssh() {
                v.push(("POETRY_SYSTEM_GIT_CLIENT", "true"));
            }
        }
        let mut v: Vec<(String, String)> = v
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if self.kind() == LockKind::Uv {
            v.push(("UV_PROJECT_ENVIRONMENT".into(), self.i.venv.clone()));
        }
        v.extend(self.i.build_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        v
    }

    /// `VIRTUAL_ENV` and `PATH` of a stage; `tools` adds the tools venv after the app's.
    pub(crate) fn path_env(&self, tools: bool) -> Vec<(String, String)> {
        let venv = &self.i.venv;
        let path = if tools && self.kind() != LockKind::Requirements {
            format!("{venv}/bin:{TOOLS}/bin:$PATH")
        } else {
            format!("{venv}/bin:$PATH")
        };
        vec![
            ("VIRTUAL_ENV".to_string(), venv.clone()),
            ("PATH".to_string(), path),
        ]
    }

    fn pin(&mut self, name: &'static str, version: Option<&String>) -> String {
        match version {
            Some(v) => sh(&format!("{name}=={v}")),
            None => {
                if !self
                    .warnings
                    .contains(&Warning::UnpinnedTool { tool: name })
                {
                    self.warnings.push(Warning::UnpinnedTool { tool: name });
                }
                name.to_string()
            }
        }
    }

    /// Mounts for the tools' pip install.
    pub(crate) fn pip_mounts(&self) -> Vec<String> {
        if self.cache && self.kind() != LockKind::Requirements {
            vec![format!("--mount=type=cache,target={PIP_CACHE}")]
        } else {
            Vec::new()
        }
    }

    /// Creates the tools venv (when the lock needs a tool) and the app's venv.
    /// `export`: Poetry also gets its export plugin.
    pub(crate) fn venv_cmds(&mut self, export: bool) -> Vec<String> {
        let mut cmds = Vec::new();
        let tv = self.i.tool_versions.clone();
        let tools: Vec<String> = match self.kind() {
            LockKind::Requirements => Vec::new(),
            LockKind::Uv | LockKind::Pylock => vec![self.pin("uv", tv.uv.as_ref())],
            LockKind::Poetry => {
                let mut t = vec![self.pin("poetry", tv.poetry.as_ref())];
                if export {
                    t.push(self.pin("poetry-plugin-export", tv.poetry_plugin_export.as_ref()));
                }
                t
            }
        };
        if !tools.is_empty() {
            cmds.push(format!("python3 -m venv {TOOLS}"));
            cmds.push(format!(
                "{TOOLS}/bin/pip install{} {}",
                self.pip_no_cache(),
                tools.join(" ")
            ));
        }
        cmds.push(format!("python3 -m venv {}", self.i.venv));
        cmds
    }

    /// Files copied before the dependency install: manifests and the lock.
    pub(crate) fn lock_files(&self) -> Vec<String> {
        let mut v = self.i.manifest_files.clone();
        v.push(self.i.lock.file.clone());
        v
    }

    /// Mounts of an install step: the installer's cache and the SSH agent.
    pub(crate) fn install_mounts(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.cache {
            let target = match self.kind() {
                LockKind::Uv | LockKind::Pylock => UV_CACHE,
                LockKind::Poetry => POETRY_CACHE,
                LockKind::Requirements => PIP_CACHE,
            };
            v.push(format!("--mount=type=cache,target={target}"));
            if self.kind() == LockKind::Poetry && self.package() {
                // Poetry projects build the project itself with pip.
                v.push(format!("--mount=type=cache,target={PIP_CACHE}"));
            }
        }
        if self.ssh() {
            v.push("--mount=type=ssh".to_string());
        }
        v
    }

    fn group_flags(&self, flag: &str) -> String {
        self.i
            .groups
            .iter()
            .map(|g| format!(" {flag} {g}"))
            .collect()
    }

    /// Installs the locked dependencies, not the project; `dev` adds the groups.
    pub(crate) fn deps_cmds(&self, dev: bool) -> Vec<String> {
        let lock = &self.i.lock.file;
        match self.kind() {
            LockKind::Uv => {
                let sel = if dev {
                    self.group_flags("--group")
                } else {
                    " --no-dev".to_string()
                };
                vec![format!("uv sync --frozen --no-install-project{sel}")]
            }
            LockKind::Poetry => {
                let sel = if dev {
                    if self.i.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" --with {}", self.i.groups.join(","))
                    }
                } else {
                    " --only main".to_string()
                };
                let mut v = vec![format!("poetry install --no-root{sel}")];
                if !self.cache {
                    v.push(format!("rm -rf {POETRY_CACHE}"));
                }
                v
            }
            LockKind::Pylock => vec![format!("uv pip install -r {lock}")],
            LockKind::Requirements => {
                let nc = self.pip_no_cache();
                match (&self.i.lock.dev_file, dev) {
                    (Some(f), true) => vec![format!("pip install{nc} -r {f}")],
                    _ => {
                        let h = if self.i.lock.hashes {
                            " --require-hashes"
                        } else {
                            ""
                        };
                        vec![format!("pip install{nc}{h} -r {lock}")]
                    }
                }
            }
        }
    }

    /// Installs the project itself, without dependencies: non-editable for
    /// production, editable for development. Nothing when it is copied.
    pub(crate) fn project_cmds(&self, dev: bool) -> Vec<String> {
        if !self.package() {
            return Vec::new();
        }
        let nc = self.pip_no_cache();
        let e = if dev { " -e" } else { "" };
        vec![match self.kind() {
            LockKind::Uv if dev => format!("uv sync --frozen{}", self.group_flags("--group")),
            LockKind::Uv => "uv sync --frozen --no-dev --no-editable".to_string(),
            LockKind::Pylock => format!("uv pip install --no-deps{e} ."),
            LockKind::Poetry | LockKind::Requirements => {
                format!("pip install{nc} --no-deps{e} .")
            }
        }]
    }

    /// Writes the lock as requirements for pip (`pip wheel`), at
    /// [`EXPORTED`] or, for `dev`, [`EXPORTED_DEV`]. `None` for
    /// requirements.txt, which pip reads as it is.
    pub(crate) fn export_cmd(&self, dev: bool) -> Option<String> {
        let out = if dev { EXPORTED_DEV } else { EXPORTED };
        match self.kind() {
            LockKind::Uv => {
                let sel = if dev {
                    self.group_flags("--group")
                } else {
                    " --no-dev".to_string()
                };
                let h = if self.ssh() { " --no-hashes" } else { "" };
                Some(format!(
                    "uv export --frozen --no-emit-project --format requirements-txt{sel}{h} -o {out}"
                ))
            }
            LockKind::Poetry => {
                let sel = if dev {
                    if self.i.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" --with {}", self.i.groups.join(","))
                    }
                } else {
                    " --only main".to_string()
                };
                let h = if self.ssh() { " --without-hashes" } else { "" };
                Some(format!(
                    "poetry export -f requirements.txt{sel}{h} -o {out}"
                ))
            }
            LockKind::Pylock | LockKind::Requirements => None,
        }
    }

    /// The requirements file `pip wheel` reads, and whether to demand hashes.
    pub(crate) fn wheel_requirements(&self, dev: bool) -> (String, bool) {
        match (self.kind(), dev) {
            (LockKind::Requirements, false) => (self.i.lock.file.clone(), self.i.lock.hashes),
            (LockKind::Requirements, true) => match &self.i.lock.dev_file {
                Some(f) => (f.clone(), false),
                None => (self.i.lock.file.clone(), self.i.lock.hashes),
            },
            (_, false) => (EXPORTED.to_string(), false),
            (_, true) => (EXPORTED_DEV.to_string(), false),
        }
    }

    /// `pip wheel` for the dependencies into `dir`. `--use-pep517`: sdists
    /// without a pyproject.toml (uwsgi) otherwise take pip's legacy
    /// `setup.py bdist_wheel` path, which fails when `wheel` is absent.
    pub(crate) fn wheel_cmds(&self, dev: bool, dir: &str) -> Vec<String> {
        let mut v: Vec<String> = self.export_cmd(dev).into_iter().collect();
        let (req, hashes) = self.wheel_requirements(dev);
        let h = if hashes { " --require-hashes" } else { "" };
        v.push(format!(
            "pip wheel{}{h} --use-pep517 --wheel-dir {dir} -r {req}",
            self.pip_no_cache()
        ));
        v
    }

    /// Precompiles the venv (and `extra` paths) to unchecked-hash .pyc:
    /// valid whatever the files' mtimes, never rewritten at run time.
    /// `-f` recompiles the timestamp .pyc installers wrote; files that do
    /// not compile (templates, Python 2 leftovers) are skipped.
    pub(crate) fn compile_cmd(&self, extra: &[&str]) -> String {
        let mut paths = vec![self.i.venv.as_str()];
        paths.extend_from_slice(extra);
        format!(
            "(python3 -m compileall -f -q --invalidation-mode unchecked-hash {} || true)",
            paths.join(" ")
        )
    }
}
