//! uv workspaces: finding the root from a member, listing the members, and
//! narrowing the root's `uv.lock` to one member (as `uv sync --package`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dockerignore::Dockerignore;
use crate::model::{Lock, PackageSource};
use crate::{normalize_name, Project, ProjectError, Workspace};

/// How deep below the root member directories are looked for.
const MAX_MEMBER_DEPTH: usize = 8;

/// `[tool.uv.workspace]` of a parsed `pyproject.toml`: (members, exclude).
fn workspace_globs(raw: &toml::Table) -> Option<(Vec<String>, Vec<String>)> {
    let ws = raw.get("tool")?.get("uv")?.get("workspace")?.as_table()?;
    let list = |key: &str| -> Vec<String> {
        ws.get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim_end_matches('/').to_string())
            .collect()
    };
    Some((list("members"), list("exclude")))
}

fn globs(pyproject: &Path, patterns: &[String]) -> Result<Dockerignore, ProjectError> {
    Dockerignore::from_patterns(pyproject, patterns.iter().map(String::as_str))
}

fn relative(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

fn read_table(path: &Path) -> Result<toml::Table, ProjectError> {
    let text = crate::error::read(path)?;
    crate::error::parse_toml(path, &text)
}

/// The uv workspace `project` belongs to: the nearest directory at or above
/// it whose `pyproject.toml` has `[tool.uv.workspace]`, when its `members`
/// globs (less `exclude`) match the project's directory. `None` when there
/// is no such directory, or the nearest one does not include the project.
pub(crate) fn discover(project: &Project) -> Result<Option<Workspace>, ProjectError> {
    let start = fs_err::canonicalize(&project.dir).map_err(|source| ProjectError::Io {
        path: project.dir.clone(),
        source,
    })?;
    for dir in start.ancestors() {
        let pyproject = dir.join("pyproject.toml");
        if !pyproject.is_file() {
            continue;
        }
        let table = if dir == start {
            project.raw.clone()
        } else {
            // A directory above the project that is not readable as a
            // pyproject is no workspace root for it.
            match read_table(&pyproject) {
                Ok(table) => table,
                Err(_) => continue,
            }
        };
        let Some((members, exclude)) = workspace_globs(&table) else {
            continue;
        };
        let (members, exclude) = (globs(&pyproject, &members)?, globs(&pyproject, &exclude)?);
        let rel = relative(&start, dir).unwrap_or_default();
        let included =
            rel.is_empty() || (members.matches_exactly(&rel) && !exclude.matches_exactly(&rel));
        if !included {
            return Ok(None);
        }
        let mut found = BTreeMap::new();
        if let Some(name) = project_name(&table) {
            found.insert(name, dir.to_path_buf());
        }
        list_members(dir, dir, 0, &members, &exclude, &mut found)?;
        return Ok(Some(Workspace {
            root: dir.to_path_buf(),
            members: found,
        }));
    }
    Ok(None)
}

fn project_name(table: &toml::Table) -> Option<String> {
    table
        .get("project")?
        .get("name")?
        .as_str()
        .map(normalize_name)
}

/// Directories below `root` (not through links, not hidden) that the
/// member globs match, with a `pyproject.toml` naming a project.
fn list_members(
    root: &Path,
    dir: &Path,
    depth: usize,
    members: &Dockerignore,
    exclude: &Dockerignore,
    found: &mut BTreeMap<String, PathBuf>,
) -> Result<(), ProjectError> {
    if depth >= MAX_MEMBER_DEPTH {
        return Ok(());
    }
    let io = |source| ProjectError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = fs_err::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || name.starts_with('.') || name == "node_modules" || name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        let rel = relative(&path, root).unwrap_or_default();
        let pyproject = path.join("pyproject.toml");
        if members.matches_exactly(&rel) && !exclude.matches_exactly(&rel) && pyproject.is_file() {
            if let Some(name) = project_name(&read_table(&pyproject)?) {
                found.entry(name).or_insert(path.clone());
            }
        }
        list_members(root, &path, depth + 1, members, exclude, found)?;
    }
    Ok(())
}

impl Project {
    /// Read the member `package` of the uv workspace at (or above) `dir`,
    /// as `uv sync --package <name>` chooses one; with `None`, the same as
    /// [`Project::load`].
    pub fn load_package(dir: &Path, package: Option<&str>) -> Result<Project, ProjectError> {
        let project = Project::load(dir)?;
        let Some(name) = package.map(normalize_name) else {
            return Ok(project);
        };
        if project.name.as_deref() == Some(name.as_str()) {
            return Ok(project);
        }
        let Some(workspace) = &project.workspace else {
            return Err(ProjectError::UnknownMember {
                root: project.dir.clone(),
                package: name,
                known: project.name.clone().into_iter().collect(),
            });
        };
        match workspace.members.get(&name) {
            Some(member_dir) => Project::load(member_dir),
            None => Err(ProjectError::UnknownMember {
                root: workspace.root.clone(),
                package: name,
                known: workspace.members.keys().cloned().collect(),
            }),
        }
    }

    /// Whether this project is a workspace member other than the root.
    pub(crate) fn is_member_below_root(&self) -> bool {
        let Some(ws) = &self.workspace else {
            return false;
        };
        fs_err::canonicalize(&self.dir).is_ok_and(|d| d != ws.root)
    }

    /// For a member below the workspace root, make its own entry in the
    /// root's `uv.lock` the lock's root, so that [`crate::select`] walks
    /// exactly its dependency closure; other members it depends on stay
    /// packages with a [`PackageSource::Path`] relative to the root.
    pub(crate) fn narrow_to_member(&self, lock: &mut Lock) -> Result<(), ProjectError> {
        if !self.is_member_below_root() {
            return Ok(());
        }
        let Some(name) = &self.name else {
            return Ok(());
        };
        let Some((dir, entry)) = lock.members.get(name).cloned() else {
            return Err(ProjectError::StaleLock {
                lockfile: lock.path.clone(),
                reason: format!("it has no entry for the workspace member `{name}`"),
                hint: "run `uv lock` in the workspace root".into(),
            });
        };
        lock.root = Some(entry);
        lock.packages.retain(|p| {
            !(p.name == *name
                && matches!(&p.source, PackageSource::Path { path, .. } if *path == dir))
        });
        Ok(())
    }
}
