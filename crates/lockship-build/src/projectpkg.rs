//! The project's own code, packed as a pure-Python wheel so that the same
//! installer that lays out third-party wheels installs it (entry points,
//! RECORD, INSTALLER), or copied to /app when the project has no build backend.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use lockship_project::{Dockerignore, Project, SECRET_PATTERNS};
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::BuildError;

/// Names never copied from a project directory, at any depth (a
/// `.dockerignore` exception can put one back).
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
    "*.pyc",
];

/// What decides which of a project's files are packed: lockship's own
/// exclusions, then the project's `.dockerignore` (Docker's semantics), then
/// the secret guard ([`lockship_project::SECRET_PATTERNS`]).
#[derive(Debug)]
pub(crate) struct Filter {
    /// The built-in exclusions followed by the project's rules.
    rules: Dockerignore,
    /// The project's own rules: their exceptions let a secret in.
    user: Dockerignore,
    secrets: Dockerignore,
    include_secrets: bool,
}

impl Filter {
    pub(crate) fn load(project: &Project) -> Result<Filter, BuildError> {
        let builtin = Path::new("lockship's built-in exclusions");
        let anywhere: Vec<String> = ALWAYS_IGNORED.iter().map(|n| format!("**/{n}")).collect();
        let mut rules = Dockerignore::from_patterns(builtin, anywhere.iter().map(String::as_str))?;
        let user = Dockerignore::load(&project.dir)?;
        rules.extend(user.clone());
        Ok(Filter {
            rules,
            user,
            secrets: Dockerignore::from_patterns(builtin, SECRET_PATTERNS.iter().copied())?,
            include_secrets: project.lockship.include_secrets,
        })
    }

    /// Whether a path relative to the project directory is left out.
    pub(crate) fn ignored(&self, rel: &str) -> bool {
        self.rules.is_excluded(rel)
    }

    /// Whether a path that is not left out still stays out because it looks
    /// like a secret: unless `include-secrets` is set, or an exception names
    /// it (or the secret directory it is in).
    fn withheld(&self, rel: &str) -> bool {
        if self.include_secrets || !self.secrets.is_excluded(rel) {
            return false;
        }
        let mut prefix = String::new();
        for part in rel.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.secrets.is_excluded(&prefix) && self.user.names(&prefix) {
                return false;
            }
        }
        true
    }
}

/// One thing the image gets from the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Staged {
    /// A regular file: its bytes come from `source`.
    File { source: PathBuf, dest: String },
    /// A symlink kept as one; `target` is relative and stays in the project.
    Link { target: String, dest: String },
}

/// A walk of project files, refusing anything that resolves outside the
/// (canonical) project directory.
struct Walk<'a> {
    project: &'a Path,
    filter: &'a Filter,
    /// Pack what an in-project link points at (a wheel holds no links) rather
    /// than the link itself.
    follow: bool,
    out: Vec<Staged>,
    /// Files left out because they look like secrets, and for a link, what
    /// it points at.
    withheld: Vec<(String, Option<String>)>,
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Why a path that resolves to `resolved` is refused; `written`: the link's
/// target as written, for a symlink.
fn outside(written: Option<&Path>, resolved: &Path) -> String {
    match written {
        Some(w) if w == resolved => {
            format!("it is a symlink to `{}`, outside the project", w.display())
        }
        Some(w) => format!(
            "it is a symlink to `{}`, outside the project (it resolves to `{}`)",
            w.display(),
            resolved.display()
        ),
        None => format!(
            "it resolves to `{}`, outside the project",
            resolved.display()
        ),
    }
}

fn refuse(project: &Path, path: &Path, reason: String) -> BuildError {
    BuildError::ProjectPath {
        path: path.to_path_buf(),
        project: project.to_path_buf(),
        reason,
    }
}

/// `to` relative to the directory `from` (both `/`-separated, relative to
/// the same root, no `..`).
fn relative(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

impl Walk<'_> {
    /// Walks the directory `real` (canonical, inside the project), seen as
    /// `rel` in the project and packed at `dest`. `stack` holds the
    /// directories being walked, to catch link loops.
    fn dir(
        &mut self,
        real: &Path,
        rel: &str,
        dest: &str,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), BuildError> {
        let mut names: Vec<std::ffi::OsString> = fs_err::read_dir(real)
            .map_err(io_err("read", real))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read", real))?;
        names.sort();
        for name in names {
            let path = real.join(&name);
            let name = name.to_string_lossy();
            let (rel, dest) = (join(rel, &name), join(dest, &name));
            let meta = fs_err::symlink_metadata(&path).map_err(io_err("read", &path))?;
            if self.filter.ignored(&rel) {
                // Left out; an exception may still put back something below.
                if meta.is_dir() && self.filter.rules.may_reinclude_below(&rel) {
                    self.dir(&path, &rel, &dest, stack)?;
                }
                continue;
            }
            if meta.is_dir() {
                self.dir(&path, &rel, &dest, stack)?;
            } else if self.filter.withheld(&rel) {
                self.withheld.push((rel, None));
            } else if meta.file_type().is_symlink() {
                self.link(&path, &rel, &dest, stack)?;
            } else if meta.is_file() {
                self.out.push(Staged::File { source: path, dest });
            }
        }
        Ok(())
    }

    /// A symlink at `path`: refused unless it resolves inside the project.
    fn link(
        &mut self,
        path: &Path,
        rel: &str,
        dest: &str,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), BuildError> {
        let written = fs_err::read_link(path).map_err(io_err("read", path))?;
        let Ok(resolved) = std::fs::canonicalize(path) else {
            return Err(refuse(
                self.project,
                path,
                format!(
                    "it is a symlink to `{}`, which does not exist",
                    written.display()
                ),
            ));
        };
        let Ok(inner) = resolved.strip_prefix(self.project) else {
            return Err(refuse(
                self.project,
                path,
                outside(Some(&written), &resolved),
            ));
        };
        let inner = inner.to_string_lossy().replace('\\', "/");
        if !self.follow {
            let parent = rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            self.out.push(Staged::Link {
                target: relative(parent, &inner),
                dest: dest.to_string(),
            });
            return Ok(());
        }
        // What the link points at is packed under its name: only what the
        // project would pack itself.
        if !inner.is_empty() && self.filter.ignored(&inner) {
            return Ok(());
        }
        if self.filter.withheld(&inner) {
            self.withheld.push((rel.to_string(), Some(inner)));
            return Ok(());
        }
        if resolved.is_dir() {
            if stack.iter().any(|d| d.starts_with(&resolved)) {
                return Err(refuse(
                    self.project,
                    path,
                    format!(
                        "it is a symlink to `{}`, a directory it is itself inside (a loop)",
                        written.display()
                    ),
                ));
            }
            stack.push(resolved.clone());
            let walked = self.dir(&resolved, rel, dest, stack);
            stack.pop();
            walked
        } else {
            self.out.push(Staged::File {
                source: resolved,
                dest: dest.to_string(),
            });
            Ok(())
        }
    }
}

fn canonical_project(project: &Project) -> Result<PathBuf, BuildError> {
    std::fs::canonicalize(&project.dir).map_err(io_err("read", &project.dir))
}

/// Where the project's importable code is: `(path, path in site-packages)`.
fn package_roots(project: &Project) -> Result<Vec<(PathBuf, String)>, BuildError> {
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
            if fs_err::symlink_metadata(&path).is_ok() {
                let rel = candidate.trim_start_matches("src/").to_string();
                roots.push((path, rel));
                break;
            }
        }
    }
    if roots.is_empty()
        || roots
            .iter()
            .any(|(p, _)| fs_err::symlink_metadata(p).is_err())
    {
        return Err(BuildError::ProjectCode {
            project: name,
            dir: project.dir.clone(),
            reason: format!(
                "looked for `src/{import}/`, `{import}/`, `src/{import}.py` and `{import}.py`"
            ),
        });
    }
    Ok(roots)
}

/// What a walk packs, and the secrets it left out.
type Walked = (Vec<Staged>, Vec<(String, Option<String>)>);

/// The walk of the project's importable code (links followed inside the
/// project, refused when they leave it).
fn package_walk(project: &Project, roots: Vec<(PathBuf, String)>) -> Result<Walked, BuildError> {
    let canonical = canonical_project(project)?;
    let filter = Filter::load(project)?;
    let mut walk = Walk {
        project: &canonical,
        filter: &filter,
        follow: true,
        out: Vec::new(),
        withheld: Vec::new(),
    };
    for (root, dest) in roots {
        let resolved = std::fs::canonicalize(&root).map_err(|_| {
            let written = std::fs::read_link(&root).unwrap_or_default();
            refuse(
                &canonical,
                &root,
                format!(
                    "it is a symlink to `{}`, which does not exist",
                    written.display()
                ),
            )
        })?;
        if !resolved.starts_with(&canonical) {
            let written = std::fs::read_link(&root).ok();
            return Err(refuse(
                &canonical,
                &root,
                outside(written.as_deref(), &resolved),
            ));
        }
        let rel = root
            .strip_prefix(&project.dir)
            .map(|r| lockship_project::dockerignore::clean(&r.to_string_lossy()))
            .unwrap_or_default();
        if resolved.is_file() {
            walk.out.push(Staged::File {
                source: resolved,
                dest,
            });
        } else {
            let mut stack = vec![resolved.clone()];
            walk.dir(&resolved, &rel, &dest, &mut stack)?;
        }
    }
    Ok((walk.out, walk.withheld))
}

/// The files of the project's importable code: `(absolute source, path in site-packages)`.
pub(crate) fn project_files(project: &Project) -> Result<Vec<(PathBuf, String)>, BuildError> {
    let (staged, _) = package_walk(project, package_roots(project)?)?;
    let mut files: Vec<(PathBuf, String)> = staged
        .into_iter()
        .filter_map(|s| match s {
            Staged::File { source, dest } => Some((source, dest)),
            Staged::Link { .. } => None,
        })
        .collect();
    files.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(files)
}

/// Everything of a project without a build backend, for `/app`: links
/// inside the project are kept as links.
fn app_walk(project: &Project) -> Result<Walked, BuildError> {
    let canonical = canonical_project(project)?;
    let filter = Filter::load(project)?;
    let mut walk = Walk {
        project: &canonical,
        filter: &filter,
        follow: false,
        out: Vec::new(),
        withheld: Vec::new(),
    };
    let mut stack = vec![canonical.clone()];
    walk.dir(&canonical, "", "", &mut stack)?;
    Ok((walk.out, walk.withheld))
}

/// One warning per file left out of the project layer because it looks
/// like a secret. `package`: the project is packed as a wheel (only its
/// code) rather than copied to `/app`. A package whose code cannot be found
/// gives none: the build says so.
pub(crate) fn secret_warnings(project: &Project, package: bool) -> Result<Vec<String>, BuildError> {
    let withheld = if package {
        match package_roots(project) {
            Ok(roots) => package_walk(project, roots)?.1,
            Err(BuildError::ProjectCode { .. }) => Vec::new(),
            Err(e) => return Err(e),
        }
    } else {
        app_walk(project)?.1
    };
    Ok(withheld
        .into_iter()
        .map(|(rel, target)| {
            let (what, name) = match &target {
                Some(target) => (format!("`{rel}` (a link to `{target}`)"), target),
                None => (format!("`{rel}`"), &rel),
            };
            format!(
                "{what} in `{}` looks like a secret and is left out of the image: set `include-secrets = true` under `[tool.lockship]`, or add `!{name}` to `.dockerignore`, to copy it",
                project.dir.display()
            )
        })
        .collect())
}

/// The project's module with a `__main__.py`, for `python3 -m`: for a
/// package, its importable root (`src/pkg/__main__.py`); for a copied app,
/// the one top-level directory of the project that has one.
pub(crate) fn main_module(project: &Project, package: bool) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    if package {
        for (path, rel) in package_roots(project).ok()? {
            if path.join("__main__.py").is_file() {
                found.push(rel.trim_end_matches('/').replace('/', "."));
            }
        }
    } else {
        let filter = Filter::load(project).ok()?;
        for entry in fs_err::read_dir(&project.dir).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir
                && !name.starts_with('.')
                && !filter.ignored(&name)
                && entry.path().join("__main__.py").is_file()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                found.push(name);
            }
        }
    }
    found.sort();
    (found.len() == 1).then(|| found.remove(0))
}

/// The project's normalised name.
pub(crate) fn project_name(project: &Project) -> String {
    // An application has no name of its own: its directory's (`.` resolved).
    project.name.clone().unwrap_or_else(|| {
        let dir = std::fs::canonicalize(&project.dir).unwrap_or_else(|_| project.dir.clone());
        dir.file_name()
            .map(|n| lockship_project::normalize_name(&n.to_string_lossy()))
            .filter(|n| !n.is_empty())
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
    let (staged, _) = app_walk(project)?;
    let app = root.join("app");
    for item in &staged {
        let (Staged::File { dest, .. } | Staged::Link { dest, .. }) = item;
        let dest = app.join(dest);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        match item {
            Staged::File { source, .. } => {
                fs_err::copy(source, &dest).map_err(io_err("copy", source))?;
            }
            Staged::Link { target, .. } => {
                fs_err::os::unix::fs::symlink(target, &dest).map_err(io_err("create", &dest))?;
            }
        }
    }
    Ok(staged.len())
}

#[cfg(test)]
#[path = "projectpkg_tests.rs"]
mod tests;
