//! `Project → ImagePlan`: what goes into the image, decided before any wheel
//! is downloaded. The plan is the build's input: every later step reads it
//! (and the [`Base`] it was made on), never `[tool.lockship]` again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockship_project::{Lock, LockKind, Project, ProjectKind, SandboxLimits};
use lockship_runtime::Context;
use lockship_wheel::{IndexClient, IndexUrl, WheelTarget};
use serde::{Serialize, Serializer};
use url::Url;

use crate::base::{Base, BaseFacts};
use crate::git::{self, GitPin, PinSource};
use crate::options::BuildOptions;
use crate::pins::{pin_wheel, WheelPin};
use crate::{projectpkg, BuildError};

/// The image's run-time settings, merged from `[tool.lockship]` and flags.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// `Entrypoint`: `[tool.lockship] command`, else inferred (a console
    /// script, `python3 -m` a `__main__` module); empty when nothing was
    /// found (the plan then warns).
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `User`.
    pub user: String,
    /// `WorkingDir`.
    pub workdir: String,
    /// `Env`, in order (`KEY=value`, as the image config holds it).
    pub env: Vec<String>,
    /// `ExposedPorts` (`8000/tcp`).
    pub ports: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
}

/// How the project itself goes into the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectInstall {
    /// Built into a wheel (it has a build backend) and installed into the venv.
    Package,
    /// Copied to `/app` (no build backend), on `PYTHONPATH`.
    Copy,
}

impl std::fmt::Display for ProjectInstall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProjectInstall::Package => "package",
            ProjectInstall::Copy => "copy",
        })
    }
}

/// Everything `lockship build` will put in the image.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// The project's name.
    pub project: String,
    /// The project's version.
    pub version: Option<String>,
    /// The project directory.
    pub project_dir: PathBuf,
    /// The lockfile read.
    pub lockfile: PathBuf,
    /// Its kind (shown as its usual file name, `uv.lock`).
    #[serde(serialize_with = "lock_kind_name")]
    pub lock_kind: LockKind,
    /// The runtime base (Debian packages).
    pub base: lockship_runtime::BasePlan,
    /// The base interpreter's full version (`3.11.2`).
    pub python_full_version: String,
    /// Which Python lockship's runtime has, from whom and why (`None` on a
    /// `--base-image`, which brings its own, checked against the same
    /// declarations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<lockship_python::PythonChoice>,
    /// The wheel tags accepted, best first (abridged).
    pub target: String,
    /// What the wheels must fit (`target` is its description).
    #[serde(skip)]
    pub wheel_target: WheelTarget,
    /// The base's Python as `(3, 11)`.
    #[serde(skip)]
    pub python_version: (u8, u8),
    /// The interpreter the venv runs on (`/usr/bin/python3.11`).
    #[serde(skip)]
    pub python_path: String,
    /// The virtualenv's path in the image.
    pub venv: String,
    /// Third-party wheels, sorted by name.
    pub wheels: Vec<WheelPin>,
    /// Dependencies from git (packed on the host at the pinned commit) and from local paths.
    pub git: Vec<GitPin>,
    /// How the project itself is installed: `package` (into the venv) or `copy` (to /app).
    pub project_install: ProjectInstall,
    /// Run-time settings.
    pub config: RunConfig,
    /// `[tool.lockship] system-packages`: Debian packages for the system-libraries layer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// `[tool.lockship] build-packages`: more Debian packages for sdist builds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_packages: Vec<String>,
    /// `[tool.lockship] build-env`: environment of sdist builds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub build_env: BTreeMap<String, String>,
    /// `[tool.lockship.sandbox-limits]`: limits of the sdist and compile sandbox.
    #[serde(skip)]
    pub sandbox_limits: SandboxLimits,
    /// The package indexes (sdist builds take their build requirements from them).
    #[serde(skip)]
    pub index_urls: Vec<String>,
    /// `--base-image`: what the build found inside the image it stands on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_image: Option<BaseFacts>,
    /// Things the user should know (a musl base, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the image says about itself (OCI labels and annotations).
    #[serde(skip_serializing_if = "crate::ImageMetadata::is_empty")]
    pub metadata: crate::ImageMetadata,
}

impl ImagePlan {
    /// The image's Python as `(3, 11)`.
    pub fn python_version(&self) -> (u8, u8) {
        self.python_version
    }

    /// The interpreter the venv runs on (`/usr/bin/python3.11`).
    pub fn python_path(&self) -> String {
        self.python_path.clone()
    }
}

fn lock_kind_name<S: Serializer>(kind: &LockKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.file_name())
}

/// Reads the project (the `--package` member of a uv workspace, when given)
/// and its lock (a workspace member's is the root's), checking the lock is fresh.
pub(crate) fn load(options: &BuildOptions) -> Result<(Project, Lock), BuildError> {
    let project = Project::load_package(&options.project_dir, options.package.as_deref())?;
    let lock = project.load_lock(&options.lock)?;
    Ok((project, lock))
}

/// `Project → ImagePlan`, with no wheel downloaded.
pub fn plan(ctx: &Context, options: &BuildOptions) -> Result<ImagePlan, BuildError> {
    let (project, lock) = load(options)?;
    let (python, options) = choose_python(ctx, options, &project, &lock)?;
    let base = Base::for_plan(ctx, &options)?;
    make_plan(ctx, &options, &project, &lock, &base, python)
}

/// The Python of lockship's runtime, chosen from what the user and the
/// project declare, and the options with that runtime; a `--base-image`
/// brings its own Python (checked in [`make_plan`]).
pub(crate) fn choose_python(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<(Option<lockship_python::PythonChoice>, BuildOptions), BuildError> {
    if options.base_image.is_some() {
        return Ok((None, options.clone()));
    }
    let (choice, options) = crate::base::python::choose(ctx, options, project, lock)?;
    Ok((Some(choice), options))
}

/// `Project → ImagePlan` on `base`.
pub(crate) fn make_plan(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
    base: &Base,
    python: Option<lockship_python::PythonChoice>,
) -> Result<ImagePlan, BuildError> {
    if let Some(facts) = base.facts() {
        crate::base::python::check_base(options, project, lock, facts)?;
    }
    let target = base.wheel_target();
    let selected = lockship_project::select(lock, project, &options.selection, &base.marker_env())?;
    let indexes = indexes(options, project, lock)?;
    let index_urls: Vec<String> = indexes.iter().map(|i| i.url().to_string()).collect();
    let client = IndexClient::new(ctx.fetcher.clone(), indexes)?;
    let lock_dir = lock.path.parent().unwrap_or(Path::new("."));
    let mut wheels = Vec::new();
    let mut git = Vec::new();
    for package in selected {
        match git::pin(package, lock_dir, &options.allowed_file_roots)? {
            Some(pin) => git.push(pin),
            None => wheels.push(pin_wheel(&own_index(package, lock), &target, &client)?),
        }
    }
    wheels.sort_by(|a, b| a.name.cmp(&b.name));
    git.sort_by(|a, b| a.name.cmp(&b.name));
    let settings = &project.lockship;
    let venv = settings.venv.trim_end_matches('/').to_string();
    // An application (no `[project]`, uv's `package = false`, Poetry's
    // `package-mode = false`) is copied to /app even with a build backend.
    let has_backend = project.kind == ProjectKind::Package
        && (project.build_system.is_some() || project.poetry.is_some());
    // Files that look like secrets stay out of the image, each one named.
    let mut warnings = projectpkg::secret_warnings(project, has_backend)?;
    for pin in &git {
        let PinSource::Path { dir } = &pin.source else {
            continue;
        };
        if dir.join("pyproject.toml").is_file() {
            warnings.extend(projectpkg::secret_warnings(&Project::load(dir)?, true)?);
        }
    }
    warnings.extend(base.warnings());
    warnings.extend(lock.warnings.iter().map(ToString::to_string));
    let (config, no_command) = run_config(options, project, base, &venv, has_backend);
    warnings.extend(no_command);
    Ok(ImagePlan {
        project: projectpkg::project_name(project),
        version: project.version.clone(),
        project_dir: project.dir.clone(),
        lockfile: lock.path.clone(),
        lock_kind: lock.kind,
        python_full_version: base.python_full_version(),
        python,
        target: lockship_wheel::describe_target(&target),
        wheel_target: target,
        python_version: base.python_version(),
        python_path: base.python_path(),
        config,
        venv,
        wheels,
        git,
        project_install: if has_backend {
            ProjectInstall::Package
        } else {
            ProjectInstall::Copy
        },
        system_packages: settings.system_packages.clone(),
        build_packages: settings.build_packages.clone(),
        build_env: settings.build_env.clone(),
        sandbox_limits: settings.sandbox_limits.clone(),
        index_urls,
        base: base.debian.clone(),
        base_image: base.facts().cloned(),
        warnings,
        metadata: crate::ImageMetadata {
            description: project.description.clone(),
            licenses: project.license.clone(),
            ..options.metadata.clone()
        },
    })
}

/// The discovered (or given) index first, then the project's extra ones.
pub(crate) fn indexes(
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<Vec<IndexUrl>, BuildError> {
    let index = lockship_wheel::discover_index(
        options.index_url.as_deref(),
        &project_indexes(project, &lock.index_urls),
    )?;
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
        let url = IndexUrl::parse(url.as_str())?;
        if !indexes.iter().any(|i| i.url() == url.url()) {
            indexes.push(url);
        }
    }
    Ok(indexes)
}

/// The entrypoint when `[tool.lockship] command` is unset: the project's
/// single console script, else the one named after the project, else
/// `python3 -m` its `__main__` module. `None` when nothing fits.
fn infer_entrypoint(project: &Project, venv: &str, has_backend: bool) -> Option<Vec<String>> {
    if has_backend {
        let name = projectpkg::project_name(project);
        let script = match project.scripts.len() {
            1 => project.scripts.keys().next(),
            _ => project
                .scripts
                .keys()
                .find(|s| lockship_project::normalize_name(s) == name),
        };
        if let Some(script) = script {
            return Some(vec![format!("{venv}/bin/{script}")]);
        }
    }
    let module = projectpkg::main_module(project, has_backend)?;
    Some(vec!["python3".to_string(), "-m".to_string(), module])
}

/// The image's run-time settings: `[tool.lockship]` and flags over the
/// base's; and the warning when no command was set or found.
fn run_config(
    options: &BuildOptions,
    project: &Project,
    base: &Base,
    venv: &str,
    has_backend: bool,
) -> (RunConfig, Option<String>) {
    let settings = &project.lockship;
    let mut no_command = None;
    let entrypoint = if !settings.command.is_empty() {
        settings.command.clone()
    } else if let Some(inferred) = infer_entrypoint(project, venv, has_backend) {
        inferred
    } else if !settings.cmd.is_empty() {
        // `cmd` alone: its arguments go to the interpreter, as before.
        vec!["python3".to_string()]
    } else {
        no_command = Some(format!(
            "`{}` has no command to run: no `[tool.lockship] command`, no single console script and no `__main__` module, so the image has no entrypoint\nhint: set `command = [\"...\"]` under `[tool.lockship]` in pyproject.toml",
            projectpkg::project_name(project)
        ));
        Vec::new()
    };
    let mut ours = vec![
        format!("PATH={venv}/bin:{}", base.system_path()),
        format!("VIRTUAL_ENV={venv}"),
        "PYTHONUNBUFFERED=1".to_string(),
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
        "LANG=C.UTF-8".to_string(),
    ];
    if base.has_ca_bundle() {
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
    let mut env: Vec<String> = base
        .env()
        .iter()
        .filter(|kv| !ours.iter().any(|o| key(o) == key(kv)))
        .cloned()
        .collect();
    env.extend(ours);
    let config = RunConfig {
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
        env,
        ports: settings
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.number, p.protocol))
            .collect(),
        labels: settings.labels.clone(),
    };
    (config, no_command)
}

/// The indexes a project uses: `[tool.lockship]`, then `[tool.uv]`, then poetry
/// sources, then the lock's own; the first is the one discovery may override.
/// The package as pinning sees it: poetry records an index only for a
/// package from a non-default source (supplemental, explicit), which no
/// other index may stand in for; the other formats record the default index,
/// which the user's index settings (a mirror) replace.
fn own_index<'p>(
    package: &'p lockship_project::LockedPackage,
    lock: &Lock,
) -> std::borrow::Cow<'p, lockship_project::LockedPackage> {
    use lockship_project::PackageSource;
    match &package.source {
        PackageSource::Registry { index: Some(_) } if lock.kind != LockKind::Poetry => {
            let mut own = package.clone();
            own.source = PackageSource::Registry { index: None };
            std::borrow::Cow::Owned(own)
        }
        _ => std::borrow::Cow::Borrowed(package),
    }
}

pub(crate) fn project_indexes(project: &Project, lock_indexes: &[Url]) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    out.extend(project.lockship.index_url.iter().cloned());
    out.extend(project.lockship.extra_index_urls.iter().cloned());
    out.extend(project.uv.index_url.iter().cloned());
    out.extend(
        project
            .uv
            .index
            .iter()
            .filter(|i| !i.explicit)
            .map(|i| i.url.clone()),
    );
    out.extend(project.uv.extra_index_url.iter().cloned());
    // Poetry: only primary sources (no priority, `primary`, the old
    // `default`) stand in for the default index; `supplemental` and
    // `explicit` ones serve just the packages the lock records them for.
    if let Some(poetry) = &project.poetry {
        out.extend(
            poetry
                .sources
                .iter()
                .filter(|s| {
                    matches!(
                        s.priority.as_deref(),
                        None | Some("primary") | Some("default")
                    )
                })
                .filter_map(|s| s.url.clone()),
        );
    }
    out.extend(lock_indexes.iter().cloned());
    out.dedup();
    out
}

#[cfg(test)]
mod entrypoint_tests {
    use super::*;

    fn load(toml: &str, files: &[&str]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), toml).unwrap();
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let project = Project::load(dir.path()).unwrap();
        (dir, project)
    }

    const PACKAGE: &str = "[project]\nname = \"my-app\"\nversion = \"1\"\n\
        [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";

    #[test]
    fn only_primary_poetry_sources_stand_in_for_the_default_index() {
        let poetry = |priority: &str| {
            format!(
                "[tool.poetry]\nname = \"a\"\nversion = \"1\"\n\
                 [tool.poetry.dependencies]\npython = \">=3.11\"\n\
                 [[tool.poetry.source]]\nname = \"extra\"\nurl = \"http://127.0.0.1:1/simple/\"\n{priority}"
            )
        };
        for priority in ["priority = \"supplemental\"\n", "priority = \"explicit\"\n"] {
            let (_d, p) = load(&poetry(priority), &[]);
            assert!(project_indexes(&p, &[]).is_empty(), "{priority}");
        }
        for priority in ["", "priority = \"primary\"\n"] {
            let (_d, p) = load(&poetry(priority), &[]);
            let urls = project_indexes(&p, &[]);
            assert_eq!(urls.len(), 1, "{priority}");
            assert_eq!(urls[0].as_str(), "http://127.0.0.1:1/simple/");
        }
    }

    #[test]
    fn a_single_console_script_is_the_entrypoint() {
        let toml = format!("{PACKAGE}[project.scripts]\nserve = \"my_app:main\"\n");
        let (_d, p) = load(&toml, &["src/my_app/__main__.py"]);
        assert_eq!(
            infer_entrypoint(&p, "/opt/venv", true).unwrap(),
            ["/opt/venv/bin/serve"]
        );
    }

    #[test]
    fn of_several_scripts_the_one_named_after_the_project_wins() {
        let toml = format!(
            "{PACKAGE}[project.scripts]\nmy_app = \"my_app:main\"\nother = \"my_app:other\"\n"
        );
        let (_d, p) = load(&toml, &["src/my_app/__init__.py"]);
        assert_eq!(
            infer_entrypoint(&p, "/opt/venv", true).unwrap(),
            ["/opt/venv/bin/my_app"]
        );
        let toml = format!("{PACKAGE}[project.scripts]\na = \"m:a\"\nb = \"m:b\"\n");
        let (_d, p) = load(&toml, &["src/my_app/__init__.py"]);
        assert_eq!(infer_entrypoint(&p, "/opt/venv", true), None);
    }

    #[test]
    fn a_main_module_runs_with_python_dash_m() {
        let (_d, p) = load(PACKAGE, &["src/my_app/__main__.py"]);
        assert_eq!(
            infer_entrypoint(&p, "/opt/venv", true).unwrap(),
            ["python3", "-m", "my_app"]
        );
        let (_d, app) = load("[tool.lockship]\n", &["worker/__main__.py"]);
        assert_eq!(
            infer_entrypoint(&app, "/opt/venv", false).unwrap(),
            ["python3", "-m", "worker"]
        );
        // Scripts of a copied app are never installed: not an entrypoint.
        let toml = "[project]\nname = \"x\"\nversion = \"1\"\n[project.scripts]\nx = \"x:main\"\n";
        let (_d, copied) = load(toml, &[]);
        assert_eq!(infer_entrypoint(&copied, "/opt/venv", false), None);
    }
}
