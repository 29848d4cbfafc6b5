//! The plain-data input: what the caller knows about the project and its image plan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything a Dockerfile needs to know about a project, filled by the
/// caller from lockship's image plan. All paths in the build context are
/// relative to the project directory; `venv` and `workdir` are paths inside
/// the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerInput {
    /// The project's name.
    pub project: String,
    /// The project's version, when it has one.
    pub version: Option<String>,
    /// The Python minor version, e.g. `3.11`.
    pub python: String,
    /// The lock file and its kind.
    pub lock: LockInput,
    /// Files the dependency install needs besides the lock, copied with it
    /// before the source (usually `["pyproject.toml"]`; may be empty for a
    /// requirements.txt project without one).
    pub manifest_files: Vec<String>,
    /// Dependency groups installed in the `development` target (e.g. `dev`).
    pub groups: Vec<String>,
    /// How the project itself gets into the image.
    pub project_install: ProjectInstall,
    /// Project paths copied for the project layer (e.g. `src`, `app.py`).
    pub source_dirs: Vec<String>,
    /// The virtual environment inside the image, e.g. `/opt/venv`.
    pub venv: String,
    /// The working directory inside the image, e.g. `/app`.
    pub workdir: String,
    /// The user the container runs as: `65532` or a name.
    pub user: String,
    /// The entrypoint, exec form.
    pub entrypoint: Vec<String>,
    /// The command, exec form.
    pub cmd: Vec<String>,
    /// Extra environment of the final image.
    pub env: Vec<(String, String)>,
    /// Exposed ports, e.g. `8000/tcp`.
    pub ports: Vec<String>,
    /// Labels of the final image.
    pub labels: BTreeMap<String, String>,
    /// Debian run-time packages (e.g. `libpq5`), installed in run-time stages.
    pub runtime_packages: Vec<String>,
    /// Debian build packages (e.g. `libpq-dev`), installed in builder stages only.
    pub build_packages: Vec<String>,
    /// Environment of the stages that install (`[tool.lockship] build-env`:
    /// a package's build switches).
    #[serde(default)]
    pub build_env: BTreeMap<String, String>,
    /// Some locked package builds from an sdist, so builders need a compiler.
    pub needs_compiler: bool,
    /// Hosts of private git dependencies, fetched over SSH with the
    /// builder's agent (`RUN --mount=type=ssh`).
    pub git_ssh: Vec<String>,
    /// The package index used inside the build, emitted as a build argument
    /// default; `None` leaves the installers' own default.
    pub index_url: Option<String>,
    /// Versions of the installers put into builder stages.
    pub tool_versions: ToolVersions,
    /// The base images.
    pub base_images: BaseImages,
    /// The `development` target's command (e.g. with `--reload`); empty
    /// means the production command.
    pub dev_command: Vec<String>,
}

/// The project's lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInput {
    /// Which tool wrote it.
    pub kind: LockKind,
    /// Its path relative to the project, e.g. `uv.lock`.
    pub file: String,
    /// requirements.txt only: the development requirements file (e.g.
    /// `requirements-dev.txt`) installed in the `development` target.
    pub dev_file: Option<String>,
    /// requirements.txt only: every requirement carries `--hash`, so pip
    /// installs it with `--require-hashes`.
    pub hashes: bool,
}

/// The kind of a lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// `uv.lock`, installed with `uv sync --frozen`.
    Uv,
    /// `poetry.lock`, installed with `poetry install`.
    Poetry,
    /// A PEP 751 `pylock.toml`, installed with `uv pip install -r`.
    Pylock,
    /// A pinned `requirements.txt`, installed with pip.
    Requirements,
}

/// How the project itself is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectInstall {
    /// It has a build backend: installed into the venv as a package
    /// (non-editable in production, editable in development).
    Package,
    /// Its files are copied to the working directory, on `PYTHONPATH`.
    Copy,
}

/// Versions of the installers the builders pip-install; `None` installs the
/// newest and warns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersions {
    /// uv, e.g. `0.9.5`.
    pub uv: Option<String>,
    /// Poetry, e.g. `2.1.3`.
    pub poetry: Option<String>,
    /// poetry-plugin-export, needed only where a Poetry lock is exported.
    pub poetry_plugin_export: Option<String>,
}

/// The base images the strategies name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImages {
    /// The slim image, e.g. `python:3.11-slim`.
    pub slim: String,
    /// The full image with compilers and headers, e.g. `python:3.11`.
    pub full: String,
    /// lockship's own shell-less base image; `recommended` runs on it when given.
    pub distroless: Option<String>,
}

impl BaseImages {
    /// The official images for a Python minor version: `python:X-slim` and `python:X`.
    pub fn official(python: &str) -> Self {
        BaseImages {
            slim: format!("python:{python}-slim"),
            full: format!("python:{python}"),
            distroless: None,
        }
    }
}

impl DockerInput {
    /// An input with lockship's defaults: a venv in `/opt/venv`, the app in
    /// `/app`, user 65532, the official images, `pyproject.toml` next to the
    /// lock and the project installed as a package. Fill in the rest.
    pub fn new(project: &str, python: &str, lock: LockInput) -> Self {
        DockerInput {
            project: project.to_string(),
            version: None,
            python: python.to_string(),
            lock,
            manifest_files: vec!["pyproject.toml".to_string()],
            groups: Vec::new(),
            project_install: ProjectInstall::Package,
            source_dirs: Vec::new(),
            venv: "/opt/venv".to_string(),
            workdir: "/app".to_string(),
            user: "65532".to_string(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
            runtime_packages: Vec::new(),
            build_packages: Vec::new(),
            build_env: BTreeMap::new(),
            needs_compiler: false,
            git_ssh: Vec::new(),
            index_url: None,
            tool_versions: ToolVersions::default(),
            base_images: BaseImages::official(python),
            dev_command: Vec::new(),
        }
    }
}

impl LockInput {
    /// A lock of `kind` at `file`, without a dev file or hashes.
    pub fn new(kind: LockKind, file: &str) -> Self {
        LockInput {
            kind,
            file: file.to_string(),
            dev_file: None,
            hashes: false,
        }
    }
}
