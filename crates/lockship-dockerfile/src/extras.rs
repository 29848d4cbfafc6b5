//! The files that go with a Dockerfile: `.dockerignore` and `compose.yaml`.

use std::path::Path;

use lockship_project::{Dockerignore, SECRET_PATTERNS};

use crate::{DockerInput, Strategy};

/// What never belongs in the build context: VCS data, virtual
/// environments, bytecode, build outputs and tool caches; the secrets that
/// `lockship build` never copies ([`SECRET_PATTERNS`]) follow.
const IGNORED: &[&str] = &[
    ".hg",
    ".venv",
    "venv",
    "**/__pycache__",
    "**/*.pyc",
    "**/*.pyo",
    "out/",
    "target/",
    "dist/",
    "build/",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".coverage",
    "htmlcov",
    "node_modules",
    ".idea",
    ".vscode",
    "Dockerfile",
    ".dockerignore",
    "compose.yaml",
];

/// The `.dockerignore`: the lists above, minus any entry that would hide a
/// file the Dockerfile copies (matched as Docker matches it).
pub(crate) fn dockerignore(i: &DockerInput) -> String {
    let copied: Vec<&str> = i
        .source_dirs
        .iter()
        .chain(&i.manifest_files)
        .chain([&i.lock.file])
        .chain(&i.lock.dev_file)
        .map(|p| p.trim_end_matches('/'))
        .collect();
    let mut out =
        String::from("# Rendered by lockship: keeps the build context small and secret-free.\n");
    for pat in IGNORED.iter().chain(SECRET_PATTERNS) {
        let hides_a_copy = Dockerignore::from_patterns(Path::new(".dockerignore"), [*pat])
            .map(|rule| copied.iter().any(|c| rule.is_excluded(c)))
            .unwrap_or(true);
        if hides_a_copy {
            continue;
        }
        out.push_str(pat);
        out.push('\n');
    }
    out
}

fn yaml(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn yaml_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_string())
}

/// A compose file with one `dev` service: the development target, the
/// source bind-mounted over the image's copy, the ports published.
pub fn render_compose(i: &DockerInput, strategy: Strategy) -> String {
    let tag: String = i
        .project
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut out = format!(
        "# compose.yaml for {}, rendered by lockship (strategy `{}`):\n\
         # the development target, with the source bind-mounted over its copy.\n\
         services:\n  dev:\n    build:\n      context: .\n      target: development\n",
        i.project,
        strategy.name()
    );
    if !i.git_ssh.is_empty() {
        out.push_str("      ssh:\n        - default\n");
    }
    out.push_str(&format!("    image: {}\n", yaml(&format!("{tag}:dev"))));
    if !i.dev_command.is_empty() {
        out.push_str(&format!("    command: {}\n", yaml_list(&i.dev_command)));
    }
    if !i.ports.is_empty() {
        out.push_str("    ports:\n");
        for p in &i.ports {
            let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let mapping = if proto == "tcp" {
                format!("{num}:{num}")
            } else {
                format!("{num}:{num}/{proto}")
            };
            out.push_str(&format!("      - {}\n", yaml(&mapping)));
        }
    }
    if !i.env.is_empty() {
        out.push_str("    environment:\n");
        for (k, v) in &i.env {
            out.push_str(&format!("      {k}: {}\n", yaml(v)));
        }
    }
    if !i.source_dirs.is_empty() {
        out.push_str("    volumes:\n");
        for p in &i.source_dirs {
            let p = p.trim_end_matches('/');
            out.push_str(&format!(
                "      - {}\n",
                yaml(&format!("./{p}:{}/{p}", i.workdir))
            ));
        }
    }
    out
}
