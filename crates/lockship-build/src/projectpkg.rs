//! The project's own code, packed as a pure-Python wheel so that the same
//! installer that lays out third-party wheels installs it (entry points,
//! RECORD, INSTALLER), or copied to /app when the project has no build backend.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use lockship_project::Project;
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::BuildError;

/// Names never copied from a project directory.
const ALWAYS_IGNORED: &[&str] = &[
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "node_modules",
    ".idea",
    ".vscode",
    "dist",
    "build",
    ".coverage",
    ".DS_Store",
];

/// Patterns from `.dockerignore`: each line is a name, a relative path, or a
/// `*.ext` glob; `#` comments and `!` exceptions are read (exceptions win).
#[derive(Debug, Default)]
pub(crate) struct Ignore {
    patterns: Vec<String>,
    exceptions: Vec<String>,
}

impl Ignore {
    pub(crate) fn load(dir: &Path) -> Ignore {
        let mut ignore = Ignore::default();
        if let Ok(text) = std::fs::read_to_string(dir.join(".dockerignore")) {
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let line = line.trim_start_matches("./").trim_end_matches('/');
                match line.strip_prefix('!') {
                    Some(exception) => ignore.exceptions.push(exception.to_string()),
                    None => ignore
                        .patterns
                        .push(line.trim_start_matches("**/").to_string()),
                }
            }
        }
        ignore
    }

    fn matches(pattern: &str, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if let Some(ext) = pattern.strip_prefix('*') {
            return name.ends_with(ext);
        }
        rel == pattern || name == pattern || rel.starts_with(&format!("{pattern}/"))
    }

    /// Whether a path relative to the project directory is left out.
    pub(crate) fn ignored(&self, rel: &str) -> bool {
        let builtin = rel.split('/').any(|c| ALWAYS_IGNORED.contains(&c)) || rel.ends_with(".pyc");
        let listed = self.patterns.iter().any(|p| Self::matches(p, rel));
        (builtin || listed) && !self.exceptions.iter().any(|p| Self::matches(p, rel))
    }
}

/// The files of the project's importable code: `(absolute source, path in site-packages)`.
pub(crate) fn project_files(project: &Project) -> Result<Vec<(PathBuf, String)>, BuildError> {
    let name = project_name(project);
    let import = name.replace('-', "_");
    let mut roots: Vec<(PathBuf, String)> = Vec::new();
    if let Some(poetry) = project.poetry.as_ref().filter(|p| !p.packages.is_empty()) {
        for include in &poetry.packages {
            let base = project.dir.join(include.from.as_deref().unwrap_or(""));
            roots.push((base.join(&include.include), include.include.clone()));
        }
    } else {
        for candidate in [
            format!("src/{import}"),
            import.clone(),
            format!("src/{import}.py"),
            format!("{import}.py"),
        ] {
            let path = project.dir.join(&candidate);
            if path.exists() {
                let rel = candidate.trim_start_matches("src/").to_string();
                roots.push((path, rel));
                break;
            }
        }
    }
    if roots.is_empty() || roots.iter().any(|(p, _)| !p.exists()) {
        return Err(BuildError::ProjectCode {
            project: name,
            dir: project.dir.clone(),
            reason: format!(
                "looked for `src/{import}/`, `{import}/`, `src/{import}.py` and `{import}.py`"
            ),
        });
    }
    let ignore = Ignore::load(&project.dir);
    let mut files = Vec::new();
    for (root, rel) in roots {
        if root.is_file() {
            files.push((root, rel));
            continue;
        }
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry.map_err(|e| BuildError::Io {
                action: "read",
                path: root.clone(),
                source: e.into(),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let inner = entry.path().strip_prefix(&root).expect("under root");
            let in_project = entry.path().strip_prefix(&project.dir).unwrap_or(inner);
            if ignore.ignored(&in_project.to_string_lossy()) {
                continue;
            }
            files.push((
                entry.path().to_path_buf(),
                format!("{rel}/{}", inner.to_string_lossy()),
            ));
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(files)
}

/// The project's normalised name.
pub(crate) fn project_name(project: &Project) -> String {
    project.name.clone().unwrap_or_else(|| {
        project
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "app".into())
    })
}

fn record_hash(bytes: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
    )
}

/// Packs the project as `NAME-VERSION-py3-none-any.whl` in `out_dir`, with
/// its console and GUI scripts as entry points. Deterministic bytes.
pub(crate) fn pack_wheel(project: &Project, out_dir: &Path) -> Result<PathBuf, BuildError> {
    let name = project_name(project);
    let dist = name.replace('-', "_");
    let version = project.version.clone().unwrap_or_else(|| "0".into());
    let dist_info = format!("{dist}-{version}.dist-info");
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for (source, rel) in project_files(project)? {
        let bytes = fs_err::read(&source).map_err(io_err("read", &source))?;
        entries.push((rel, bytes));
    }
    entries.push((
        format!("{dist_info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
    ));
    entries.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: lockship\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));
    let mut entry_points = String::new();
    for (section, scripts) in [
        ("console_scripts", &project.scripts),
        ("gui_scripts", &project.gui_scripts),
    ] {
        if !scripts.is_empty() {
            entry_points.push_str(&format!("[{section}]\n"));
            for (script, target) in scripts {
                entry_points.push_str(&format!("{script} = {target}\n"));
            }
        }
    }
    if !entry_points.is_empty() {
        entries.push((
            format!("{dist_info}/entry_points.txt"),
            entry_points.into_bytes(),
        ));
    }
    let mut record = String::new();
    for (path, bytes) in &entries {
        record.push_str(&format!("{path},{},{}\n", record_hash(bytes), bytes.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    entries.push((format!("{dist_info}/RECORD"), record.into_bytes()));

    let path = out_dir.join(format!("{dist}-{version}-py3-none-any.whl"));
    let file = fs_err::File::create(&path).map_err(io_err("create", &path))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, bytes) in &entries {
        zip.start_file(name.as_str(), options)
            .map_err(|e| io_err("write", &path)(std::io::Error::other(e)))?;
        zip.write_all(bytes).map_err(io_err("write", &path))?;
    }
    zip.finish()
        .map_err(|e| io_err("write", &path)(std::io::Error::other(e)))?;
    Ok(path)
}

/// Copies a project without a build backend to `{root}/app`.
pub(crate) fn copy_to_app(project: &Project, root: &Path) -> Result<usize, BuildError> {
    let ignore = Ignore::load(&project.dir);
    let mut count = 0;
    for entry in walkdir::WalkDir::new(&project.dir).sort_by_file_name() {
        let entry = entry.map_err(|e| BuildError::Io {
            action: "read",
            path: project.dir.clone(),
            source: e.into(),
        })?;
        let rel = entry
            .path()
            .strip_prefix(&project.dir)
            .expect("under the project");
        let rel_text = rel.to_string_lossy();
        if rel_text.is_empty() || ignore.ignored(&rel_text) || !entry.file_type().is_file() {
            continue;
        }
        let dest = root.join("app").join(rel);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        fs_err::copy(entry.path(), &dest).map_err(io_err("copy", entry.path()))?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::Ignore;

    #[test]
    fn dockerignore_and_builtins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".dockerignore"),
            "tests\n*.log\n!keep.log\n# c\n",
        )
        .unwrap();
        let ignore = Ignore::load(dir.path());
        assert!(ignore.ignored("tests/test_app.py"));
        assert!(ignore.ignored("src/app/debug.log"));
        assert!(!ignore.ignored("src/app/keep.log"));
        assert!(ignore.ignored("src/app/__pycache__/x.cpython-311.pyc"));
        assert!(ignore.ignored(".venv/lib/x.py"));
        assert!(!ignore.ignored("src/app/main.py"));
    }
}
