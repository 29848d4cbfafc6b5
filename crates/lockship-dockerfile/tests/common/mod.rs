//! The three representative inputs the tests render.
#![allow(dead_code)]

use lockship_dockerfile::{DockerInput, LockInput, LockKind, ProjectInstall, Strategy};

pub const INDEX: &str = "http://127.0.0.1:3141/simple";

fn pinned(mut i: DockerInput) -> DockerInput {
    i.index_url = Some(INDEX.to_string());
    i.tool_versions.uv = Some("0.9.5".to_string());
    i.tool_versions.poetry = Some("2.1.3".to_string());
    i.tool_versions.poetry_plugin_export = Some("1.9.0".to_string());
    i
}

/// A Poetry FastAPI app on port 8000, run by uvicorn.
pub fn poetry_fastapi() -> DockerInput {
    let mut i = DockerInput::new(
        "fastapi-app",
        "3.11",
        LockInput::new(LockKind::Poetry, "poetry.lock"),
    );
    i.version = Some("0.1.0".to_string());
    i.groups = vec!["dev".to_string()];
    i.source_dirs = vec!["README.md".to_string(), "src".to_string()];
    i.cmd = [
        "uvicorn",
        "fastapi_app.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    .map(String::from)
    .to_vec();
    i.dev_command = [
        "uvicorn",
        "fastapi_app.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--reload",
    ]
    .map(String::from)
    .to_vec();
    i.ports = vec!["8000/tcp".to_string()];
    i.env = vec![("APP_ENV".to_string(), "production".to_string())];
    i.labels.insert(
        "org.opencontainers.image.title".to_string(),
        "fastapi-app".to_string(),
    );
    pinned(i)
}

/// A requirements.txt app using psycopg2 from its sdist: libpq-dev to build, libpq5 to run.
pub fn requirements_psycopg() -> DockerInput {
    let mut lock = LockInput::new(LockKind::Requirements, "requirements.txt");
    lock.hashes = true;
    lock.dev_file = Some("requirements-dev.txt".to_string());
    let mut i = DockerInput::new("pg-worker", "3.12", lock);
    i.manifest_files = Vec::new();
    i.project_install = ProjectInstall::Copy;
    i.source_dirs = vec!["app.py".to_string(), "worker".to_string()];
    i.cmd = ["python", "app.py"].map(String::from).to_vec();
    i.runtime_packages = vec!["libpq5".to_string()];
    i.build_packages = vec!["libpq-dev".to_string()];
    i.needs_compiler = true;
    pinned(i)
}

/// A uv CLI app with a console-script entrypoint and a private git dependency.
pub fn uv_cli() -> DockerInput {
    let mut i = DockerInput::new("tool-cli", "3.11", LockInput::new(LockKind::Uv, "uv.lock"));
    i.version = Some("1.2.0".to_string());
    i.groups = vec!["dev".to_string(), "lint".to_string()];
    i.source_dirs = vec!["README.md".to_string(), "src".to_string()];
    i.entrypoint = vec!["tool-cli".to_string()];
    i.cmd = vec!["--help".to_string()];
    i.git_ssh = vec!["git.example.internal".to_string()];
    i.user = "app".to_string();
    pinned(i)
}

/// Every input, named.
pub fn inputs() -> Vec<(&'static str, DockerInput)> {
    vec![
        ("poetry_fastapi", poetry_fastapi()),
        ("requirements_psycopg", requirements_psycopg()),
        ("uv_cli", uv_cli()),
    ]
}

/// Every strategy × input that renders.
pub fn all_rendered() -> Vec<(String, Strategy, DockerInput, lockship_dockerfile::Rendered)> {
    let mut v = Vec::new();
    for (name, input) in inputs() {
        for s in Strategy::ALL {
            let r = lockship_dockerfile::render(&input, s).expect("renders");
            v.push((format!("{name}-{}", s.name()), s, input.clone(), r));
        }
    }
    v
}
