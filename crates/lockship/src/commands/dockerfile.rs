//! `lockship dockerfile`: the same ImagePlan `lockship build` uses, rendered as a
//! Dockerfile in one of the seeds' strategies. Nothing is built: the
//! run-time packages come from `lockship_build::analyze`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use lockship_build::{analyze, Analysis, BuildOptions, ImagePlan};
use lockship_dockerfile::{
    render, BaseImages, DockerInput, LockInput, LockKind, ProjectInstall, Strategy, ToolVersions,
};

use super::Tools;
use crate::cli::DockerfileArgs;
use crate::settings::{self, Environment, GlobalSettings, RuntimeSettings};

pub fn run(args: DockerfileArgs, global: &GlobalSettings, env: &Environment) -> Result<ExitCode> {
    if args.list_strategies {
        for s in Strategy::ALL {
            println!("{:<26} {}", s.name(), s.describe());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let strategy: Strategy = args.strategy.parse()?;
    // Refused before any work, so nothing is downloaded for a run that
    // could not write.
    let writes = written_files(&args);
    if !args.force {
        refuse_overwrite(&writes)?;
    }
    let project = lockship_project::Project::load(&args.project)?;
    let request = settings::python_request(args.python.as_deref(), &project);
    let python = settings::python_runtime(request.as_deref())?;
    let runtime = RuntimeSettings::resolve(&args.runtime, env)?;
    let mut options =
        BuildOptions::new(args.project.clone(), runtime.base_options(python.clone())?);
    options.python_request = request;
    options.index_url = args.index_url.clone();
    options.build_packages = args.build_packages.clone();
    let tools = Tools::open(global, true)?;
    // The plan and what libdeps finds in the plan's wheels, unpacked into a
    // scratch tree: no sdist is built, no venv installed, no layer written.
    let analysis = analyze(&tools.ctx(), &options)?;
    // `python:X.Y-slim` for the X.Y the build chose from the project's declarations.
    let (major, minor) = analysis.plan.python_version();
    let chosen = format!("{major}.{minor}");
    let input = docker_input(&args, &project, &analysis, &chosen)?;
    let mut rendered = render(&input, strategy)?;
    if args.compose {
        rendered = rendered.with_compose(&input, strategy);
    }
    if !global.quiet {
        for note in analysis.notes() {
            eprintln!("note: {note}");
        }
    }
    for w in analysis.warnings() {
        eprintln!("warning: {w}");
    }
    for w in &rendered.warnings {
        eprintln!("warning: {w}");
    }
    if args.write || args.compose {
        let dir = &args.project;
        let texts = [
            Some(&rendered.dockerfile),
            Some(&rendered.dockerignore),
            rendered.compose.as_ref(),
        ];
        for (path, text) in writes.iter().zip(texts) {
            if let Some(text) = text {
                write_file(path, text)?;
            }
        }
        if !global.quiet {
            eprintln!(
                "wrote {}/Dockerfile ({}){}; build with{} `docker build {}`",
                dir.display(),
                strategy.name(),
                if rendered.compose.is_some() {
                    ", .dockerignore and compose.yaml"
                } else {
                    " and .dockerignore"
                },
                if rendered.needs_buildkit {
                    " DOCKER_BUILDKIT=1"
                } else {
                    ""
                },
                dir.display()
            );
        }
    } else {
        print!("{}", rendered.dockerfile);
    }
    Ok(ExitCode::SUCCESS)
}

/// The files `--write` (and `--compose`) write: `Dockerfile`,
/// `.dockerignore`, then `compose.yaml` with `--compose`.
fn written_files(args: &DockerfileArgs) -> Vec<PathBuf> {
    if !(args.write || args.compose) {
        return Vec::new();
    }
    let mut names = vec!["Dockerfile", ".dockerignore"];
    if args.compose {
        names.push("compose.yaml");
    }
    names.iter().map(|n| args.project.join(n)).collect()
}

/// Fails, naming them and `--force`, when any of `paths` exists (a link
/// too, even a dangling one): nothing is written then.
fn refuse_overwrite(paths: &[PathBuf]) -> Result<()> {
    let existing: Vec<String> = paths
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| format!("`{}`", p.display()))
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    let one = existing.len() == 1;
    bail!(
        "{} already {}; nothing was written\nhint: pass `--force` to overwrite {}, or leave out `--write` and `--compose` to print the Dockerfile",
        existing.join(", "),
        if one { "exists" } else { "exist" },
        if one { "it" } else { "them" },
    )
}

/// Writes through a temporary file and a rename.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("lockship-tmp");
    std::fs::write(&tmp, text).with_context(|| format!("Cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("Cannot write `{}`", path.display()))
}

/// What the Dockerfile renderer needs, from the plan and the run-time
/// packages the analysis found.
fn docker_input(
    args: &DockerfileArgs,
    project: &lockship_project::Project,
    analysis: &Analysis,
    python: &str,
) -> Result<DockerInput> {
    let plan: &ImagePlan = &analysis.plan;
    let lock_file = plan
        .lockfile
        .strip_prefix(&plan.project_dir)
        .unwrap_or(&plan.lockfile)
        .to_string_lossy()
        .into_owned();
    let kind = match plan.lock_kind {
        lockship_project::LockKind::Uv => LockKind::Uv,
        lockship_project::LockKind::Poetry => LockKind::Poetry,
        lockship_project::LockKind::Pylock => LockKind::Pylock,
        _ => LockKind::Requirements,
    };
    let mut lock = LockInput::new(kind, &lock_file);
    if kind == LockKind::Requirements {
        let text = std::fs::read_to_string(&plan.lockfile).unwrap_or_default();
        lock.hashes = text.contains("--hash=");
        for dev in ["requirements-dev.txt", "dev-requirements.txt"] {
            if plan.project_dir.join(dev).exists() {
                lock.dev_file = Some(dev.to_string());
            }
        }
    }
    let mut input = DockerInput::new(&plan.project, python, lock);
    input.version = plan.version.clone();
    input.project_install = if plan.project_install == lockship_build::ProjectInstall::Package {
        ProjectInstall::Package
    } else {
        ProjectInstall::Copy
    };
    input.source_dirs = source_entries(&plan.project_dir, &lock_file)?;
    input.venv = plan.venv.clone();
    input.workdir = plan.config.workdir.clone();
    input.user = plan.config.user.clone();
    input.entrypoint = plan.config.entrypoint.clone();
    input.cmd = plan.config.cmd.clone();
    // PATH and VIRTUAL_ENV are the renderer's business; the rest carries over.
    input.env = plan
        .config
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| {
            !matches!(
                *k,
                "PATH"
                    | "VIRTUAL_ENV"
                    | "SSL_CERT_FILE"
                    | "PYTHONUNBUFFERED"
                    | "PYTHONDONTWRITEBYTECODE"
                    | "PYTHONPATH"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    input.ports = plan.config.ports.clone();
    input.labels = plan.config.labels.clone();
    // libdeps' (ELF needs and run-time loads), those the build packages
    // name for sdists not built, and `system-packages`: sorted, unique.
    input.runtime_packages = analysis.package_names();
    // The plan's and `--build-packages`, with those the sdists' builds use.
    input.build_packages = analysis.build_packages.clone();
    input.build_env = plan.build_env.clone();
    input.needs_compiler = plan.wheels.iter().any(|w| w.from_sdist);
    input.git_ssh = plan.git.iter().filter_map(|g| ssh_host(&g.url())).collect();
    input.git_ssh.sort();
    input.git_ssh.dedup();
    input.index_url = plan.index_urls.first().cloned();
    input.groups = if args.dev_groups.is_empty() {
        let text = std::fs::read_to_string(&project.pyproject).unwrap_or_default();
        let has_dev = project.dependency_groups.contains_key("dev")
            || text.contains("[tool.poetry.group.dev");
        if has_dev {
            vec!["dev".to_string()]
        } else {
            Vec::new()
        }
    } else {
        args.dev_groups.clone()
    };
    input.tool_versions = ToolVersions {
        uv: Some(args.uv_version.clone()),
        poetry: Some(args.poetry_version.clone()),
        poetry_plugin_export: Some("1.9.0".to_string()),
    };
    let mut bases = BaseImages::official(python);
    if let Some(slim) = &args.base_image {
        bases.slim = slim.clone();
    }
    if let Some(full) = &args.builder_image {
        bases.full = full.clone();
    }
    bases.distroless = args.distroless_image.clone();
    input.base_images = bases;
    input.dev_command = dev_command(&input.entrypoint, &input.cmd);
    Ok(input)
}

/// The host of an SSH git URL (`git@host:org/repo`, `ssh://git@host/...`).
fn ssh_host(url: &str) -> Option<String> {
    let url = url.trim_start_matches("git+");
    if let Some(rest) = url.strip_prefix("ssh://") {
        let host = rest.split('/').next()?;
        return Some(host.rsplit('@').next()?.split(':').next()?.to_string());
    }
    if !url.contains("://") {
        let (user_host, _) = url.split_once(':')?;
        return Some(user_host.rsplit('@').next()?.to_string());
    }
    None
}

/// The app's command with auto-reload, for the development target.
fn dev_command(entrypoint: &[String], cmd: &[String]) -> Vec<String> {
    let mut all: Vec<String> = entrypoint.iter().chain(cmd).cloned().collect();
    let program = all
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
    match program.as_deref() {
        Some("uvicorn") | Some("gunicorn") if !all.iter().any(|a| a == "--reload") => {
            all.push("--reload".to_string());
            all
        }
        _ => Vec::new(),
    }
}

/// The project's top-level files and directories a build needs: everything
/// but the lock and manifest (copied first, for the dependency layer),
/// VCS, caches, virtualenvs and outputs.
fn source_entries(dir: &Path, lock_file: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("Cannot read `{}`", dir.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let skip = name.starts_with('.')
            || name == lock_file
            || name == "pyproject.toml"
            || matches!(
                name.as_str(),
                "Dockerfile" | "compose.yaml" | "docker-compose.yml" | "out" | "target" | "dist" | "build" | "__pycache__" | "node_modules" | "tests" | "requirements-dev.txt" | "dev-requirements.txt"
            )
            || name.ends_with(".egg-info")
            // Keys never enter a build context (the .dockerignore says so too).
            || name.starts_with("id_rsa")
            || name.starts_with("id_ed25519")
            || name.starts_with("id_ecdsa")
            || name.ends_with(".pem")
            || name.ends_with(".key");
        if !skip {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
