//! `pyproject.toml`: PEP 621 `[project]`, PEP 735 `[dependency-groups]`,
//! `[build-system]`, `[tool.poetry]`, `[tool.uv]` and `[tool.lockship]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::settings::{LockshipSettings, UvConfig};
use crate::{marker, normalize_name, ProjectError};

/// Which table declares the project's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProjectFormat {
    /// PEP 621 `[project]` (uv, PDM, Hatch, Poetry 2, setuptools, ...).
    Pep621,
    /// `[tool.poetry]` without `[project]` (Poetry 1).
    Poetry,
    /// Neither: `pyproject.toml` holds only tool settings, or is absent.
    Bare,
}

/// Whether the project is itself a package or only an application around
/// its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProjectKind {
    /// A package: `[project]` (or `[tool.poetry]`), built and installed.
    Package,
    /// An application: no `[project]` or `[tool.poetry]` table, uv's
    /// `[tool.uv] package = false`, Poetry's `package-mode = false`, or no
    /// `pyproject.toml` at all. Its lock supplies every dependency and its
    /// files are copied to `/app`; nothing is built or installed for it.
    Application,
}

/// The uv workspace a project is a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// The workspace root: the directory whose `pyproject.toml` has
    /// `[tool.uv.workspace]`, and which holds `uv.lock`.
    pub root: PathBuf,
    /// Every member, by normalised name, with its directory (the root's own
    /// project included when it has one).
    pub members: BTreeMap<String, PathBuf>,
}

/// A declared dependency, from `[project]`, `[dependency-groups]` or `[tool.poetry]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The package name, normalised as PEP 503 says.
    pub name: String,
    /// The extras it asks for.
    pub extras: BTreeSet<String>,
    /// The version constraint as written (PEP 440, or Poetry syntax in `[tool.poetry]`).
    pub specifier: Option<String>,
    /// A direct URL (`name @ url`, or Poetry's `git`/`url`/`path` keys).
    pub url: Option<String>,
    /// The environment marker (Poetry's `python` key becomes one too).
    pub marker: Option<String>,
}

/// `[build-system]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BuildSystem {
    /// The requirements of the build backend.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The backend object, e.g. `hatchling.build`.
    pub build_backend: Option<String>,
    /// Directories added to `sys.path` to find an in-tree backend.
    #[serde(default)]
    pub backend_path: Vec<String>,
}

/// What `[tool.poetry]` says beyond dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PoetryConfig {
    /// `packages = [{ include = "app", from = "src" }]`.
    pub packages: Vec<PoetryInclude>,
    /// `[[tool.poetry.source]]`.
    pub sources: Vec<PoetrySource>,
}

/// One `[tool.poetry] packages` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoetryInclude {
    /// The package or module to include.
    pub include: String,
    /// The directory it lives in, relative to the project.
    pub from: Option<String>,
}

/// One `[[tool.poetry.source]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoetrySource {
    /// Its name, which `source = "..."` on a dependency refers to.
    pub name: String,
    /// Its URL (absent for the built-in default index).
    pub url: Option<Url>,
    /// `primary`, `supplemental`, `explicit`, ...
    pub priority: Option<String>,
}

/// A Python project: its `pyproject.toml`, read into types.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// The project directory.
    pub dir: PathBuf,
    /// Its `pyproject.toml`.
    pub pyproject: PathBuf,
    /// Which table declares it.
    pub format: ProjectFormat,
    /// A package, or an application around its lock.
    pub kind: ProjectKind,
    /// The uv workspace it belongs to, when it is a member of one (the
    /// workspace root itself included).
    pub workspace: Option<Workspace>,
    /// Its name, normalised.
    pub name: Option<String>,
    /// Its version, as written.
    pub version: Option<String>,
    /// Its one-line `description`.
    pub description: Option<String>,
    /// Its `license` when it is an SPDX expression (PEP 639, or Poetry's
    /// `license = "MIT"`); a `{ text = ... }` or `{ file = ... }` table is not one.
    pub license: Option<String>,
    /// `requires-python` (or Poetry's `python` dependency), as written.
    pub requires_python: Option<String>,
    /// Main dependencies.
    pub dependencies: Vec<Requirement>,
    /// Extra name -> its dependencies (Poetry: `[tool.poetry.extras]`).
    pub optional_dependencies: BTreeMap<String, Vec<Requirement>>,
    /// Group name -> its dependencies, with `include-group` resolved; PEP 735
    /// groups, Poetry groups, and Poetry's `dev-dependencies` as `dev`.
    pub dependency_groups: BTreeMap<String, Vec<Requirement>>,
    /// `[project.scripts]` (or `[tool.poetry.scripts]`): name -> `module:function`.
    pub scripts: BTreeMap<String, String>,
    /// `[project.gui-scripts]`.
    pub gui_scripts: BTreeMap<String, String>,
    /// `[build-system]`.
    pub build_system: Option<BuildSystem>,
    /// `[tool.poetry]` beyond dependencies, when present.
    pub poetry: Option<PoetryConfig>,
    /// `[tool.uv]` index settings.
    pub uv: UvConfig,
    /// `[tool.lockship]`.
    pub lockship: LockshipSettings,
    /// The raw document, for the lock staleness checks.
    #[serde(skip)]
    pub(crate) raw: toml::Table,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPep621 {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    license: Option<toml::Value>,
    requires_python: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scripts: BTreeMap<String, String>,
    #[serde(default)]
    gui_scripts: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GroupEntry {
    Requirement(String),
    Include {
        #[serde(rename = "include-group")]
        include_group: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawPoetry {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    license: Option<toml::Value>,
    #[serde(default)]
    dependencies: toml::Table,
    #[serde(default)]
    dev_dependencies: toml::Table,
    #[serde(default)]
    group: BTreeMap<String, RawPoetryGroup>,
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scripts: BTreeMap<String, toml::Value>,
    #[serde(default)]
    packages: Vec<PoetryInclude>,
    #[serde(default)]
    source: Vec<PoetrySource>,
}

#[derive(Deserialize, Default)]
struct RawPoetryGroup {
    #[serde(default)]
    dependencies: toml::Table,
}

#[derive(Deserialize, Default)]
struct RawTool {
    poetry: Option<RawPoetry>,
    #[serde(default)]
    uv: UvConfig,
    #[serde(default)]
    lockship: LockshipSettings,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPyproject {
    project: Option<RawPep621>,
    #[serde(default)]
    dependency_groups: BTreeMap<String, Vec<GroupEntry>>,
    build_system: Option<BuildSystem>,
    #[serde(default)]
    tool: RawTool,
}

impl Project {
    /// Read `dir/pyproject.toml`. A directory without one is an
    /// [`ProjectKind::Application`] whose lock names every dependency; a
    /// directory that is neither a project nor holds a lockfile is refused
    /// with [`ProjectError::NoPyproject`]. When the project is a member of a
    /// uv workspace, [`Project::workspace`] says where its root is.
    pub fn load(dir: &Path) -> Result<Self, ProjectError> {
        let path = dir.join("pyproject.toml");
        let mut project = if path.is_file() {
            let text = crate::error::read(&path)?;
            Self::from_str_at(dir, &path, &text)?
        } else {
            let has_lock = crate::LOCKFILES
                .iter()
                .any(|(name, _)| dir.join(name).is_file())
                || crate::requirements::any_requirements_file(dir);
            if !has_lock {
                return Err(ProjectError::NoPyproject {
                    dir: dir.to_path_buf(),
                });
            }
            Self::from_str_at(dir, &path, "")?
        };
        project.workspace = crate::workspace::discover(&project)?;
        Ok(project)
    }

    fn from_str_at(dir: &Path, path: &Path, text: &str) -> Result<Self, ProjectError> {
        let table: toml::Table = crate::error::parse_toml(path, text)?;
        crate::settings::check_lockship_keys(path, text, &table)?;
        let raw: RawPyproject = crate::error::parse_toml(path, text)?;
        let RawTool {
            poetry,
            uv,
            lockship,
        } = raw.tool;
        let format = match (&raw.project, &poetry) {
            (Some(_), _) => ProjectFormat::Pep621,
            (None, Some(_)) => ProjectFormat::Poetry,
            (None, None) => ProjectFormat::Bare,
        };
        let kind = application_kind(&table, format);
        let mut project = Project {
            dir: dir.to_path_buf(),
            pyproject: path.to_path_buf(),
            format,
            kind,
            workspace: None,
            name: None,
            version: None,
            description: None,
            license: None,
            requires_python: None,
            dependencies: Vec::new(),
            optional_dependencies: BTreeMap::new(),
            dependency_groups: BTreeMap::new(),
            scripts: BTreeMap::new(),
            gui_scripts: BTreeMap::new(),
            build_system: raw.build_system,
            poetry: None,
            uv,
            lockship,
            raw: table,
        };
        if let Some(p) = raw.project {
            project.name = p.name.as_deref().map(normalize_name);
            project.version = p.version;
            project.description = p.description;
            project.license = p
                .license
                .as_ref()
                .and_then(|l| l.as_str())
                .map(str::to_string);
            project.requires_python = p.requires_python;
            project.dependencies = pep508_all(path, &p.dependencies)?;
            for (extra, reqs) in &p.optional_dependencies {
                let reqs = pep508_all(path, reqs)?;
                project
                    .optional_dependencies
                    .insert(normalize_name(extra), reqs);
            }
            project.scripts = p.scripts;
            project.gui_scripts = p.gui_scripts;
        }
        project.dependency_groups = resolve_groups(path, &raw.dependency_groups)?;
        if let Some(poetry) = poetry {
            read_poetry(&mut project, path, poetry)?;
        }
        Ok(project)
    }

    /// The names of the dependency groups the project defines.
    pub fn group_names(&self) -> Vec<String> {
        self.dependency_groups.keys().cloned().collect()
    }
}

fn read_poetry(project: &mut Project, path: &Path, poetry: RawPoetry) -> Result<(), ProjectError> {
    let pep621 = project.format == ProjectFormat::Pep621;
    if project.name.is_none() {
        project.name = poetry.name.as_deref().map(normalize_name);
    }
    if project.version.is_none() {
        project.version = poetry.version.clone();
    }
    if project.description.is_none() {
        project.description = poetry.description.clone();
    }
    if project.license.is_none() {
        project.license = poetry
            .license
            .as_ref()
            .and_then(|l| l.as_str())
            .map(str::to_string);
    }
    let (main, optional) = poetry_deps(path, &poetry.dependencies)?;
    if project.requires_python.is_none() {
        project.requires_python = poetry
            .dependencies
            .get("python")
            .and_then(|v| v.as_str())
            .map(str::to_string);
    }
    if !pep621 || project.dependencies.is_empty() {
        project.dependencies = main;
    }
    for (extra, names) in &poetry.extras {
        let names: BTreeSet<String> = names.iter().map(|n| normalize_name(n)).collect();
        let reqs = optional
            .iter()
            .filter(|r| names.contains(&r.name))
            .cloned()
            .collect();
        project
            .optional_dependencies
            .insert(normalize_name(extra), reqs);
    }
    if !poetry.dev_dependencies.is_empty() {
        let (dev, _) = poetry_deps(path, &poetry.dev_dependencies)?;
        project
            .dependency_groups
            .entry("dev".into())
            .or_default()
            .extend(dev);
    }
    for (group, g) in &poetry.group {
        let (deps, _) = poetry_deps(path, &g.dependencies)?;
        project
            .dependency_groups
            .entry(normalize_name(group))
            .or_default()
            .extend(deps);
    }
    if project.scripts.is_empty() {
        for (name, value) in &poetry.scripts {
            let target = match value {
                toml::Value::String(s) => Some(s.clone()),
                toml::Value::Table(t) => t
                    .get("reference")
                    .and_then(|r| r.as_str())
                    .map(str::to_string),
                _ => None,
            };
            if let Some(target) = target {
                project.scripts.insert(name.clone(), target);
            }
        }
    }
    project.poetry = Some(PoetryConfig {
        packages: poetry.packages,
        sources: poetry.source,
    });
    Ok(())
}

/// Whether `pyproject.toml` makes the project an application: no project
/// table, `[tool.uv] package = false`, or Poetry's `package-mode = false`.
fn application_kind(raw: &toml::Table, format: ProjectFormat) -> ProjectKind {
    let flag = |tool: &str, key: &str| {
        raw.get("tool")
            .and_then(|t| t.get(tool))
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_bool())
    };
    let not_a_package = format == ProjectFormat::Bare
        || flag("uv", "package") == Some(false)
        || flag("poetry", "package-mode") == Some(false);
    if not_a_package {
        ProjectKind::Application
    } else {
        ProjectKind::Package
    }
}

/// Parse PEP 508 strings.
fn pep508_all(path: &Path, reqs: &[String]) -> Result<Vec<Requirement>, ProjectError> {
    reqs.iter().map(|r| pep508(path, r)).collect()
}

pub(crate) fn pep508(path: &Path, text: &str) -> Result<Requirement, ProjectError> {
    let req = uv_pep508::Requirement::<uv_pep508::VerbatimUrl>::from_str(text).map_err(|e| {
        ProjectError::Requirement {
            path: path.to_path_buf(),
            requirement: text.to_string(),
            message: e.message.to_string(),
        }
    })?;
    let (specifier, url) = match &req.version_or_url {
        None => (None, None),
        Some(uv_pep508::VersionOrUrl::VersionSpecifier(s)) => (Some(s.to_string()), None),
        Some(uv_pep508::VersionOrUrl::Url(u)) => (
            None,
            Some(u.given().map_or_else(|| u.to_string(), str::to_string)),
        ),
    };
    Ok(Requirement {
        name: req.name.to_string(),
        extras: req.extras.iter().map(ToString::to_string).collect(),
        specifier,
        url,
        marker: req.marker.try_to_string(),
    })
}

/// Resolve PEP 735 groups, following `include-group`.
fn resolve_groups(
    path: &Path,
    groups: &BTreeMap<String, Vec<GroupEntry>>,
) -> Result<BTreeMap<String, Vec<Requirement>>, ProjectError> {
    let by_name: BTreeMap<String, &Vec<GroupEntry>> =
        groups.iter().map(|(k, v)| (normalize_name(k), v)).collect();
    fn walk(
        path: &Path,
        by_name: &BTreeMap<String, &Vec<GroupEntry>>,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<Requirement>,
    ) -> Result<(), ProjectError> {
        if stack.iter().any(|s| s == name) {
            return Err(ProjectError::GroupCycle {
                pyproject: path.to_path_buf(),
                group: name.to_string(),
            });
        }
        let entries = by_name.get(name).ok_or_else(|| {
            ProjectError::invalid(
                path,
                "dependency-groups",
                format!("`include-group = \"{name}\"` names no group"),
            )
        })?;
        stack.push(name.to_string());
        for entry in entries.iter() {
            match entry {
                GroupEntry::Requirement(r) => out.push(pep508(path, r)?),
                GroupEntry::Include { include_group } => {
                    walk(path, by_name, &normalize_name(include_group), stack, out)?
                }
            }
        }
        stack.pop();
        Ok(())
    }
    let mut resolved = BTreeMap::new();
    for name in by_name.keys() {
        let mut out = Vec::new();
        walk(path, &by_name, name, &mut Vec::new(), &mut out)?;
        resolved.insert(name.clone(), out);
    }
    Ok(resolved)
}

/// Read a Poetry dependency table into (non-optional, optional) requirements.
fn poetry_deps(
    path: &Path,
    table: &toml::Table,
) -> Result<(Vec<Requirement>, Vec<Requirement>), ProjectError> {
    let mut main = Vec::new();
    let mut optional = Vec::new();
    for (name, value) in table {
        if name == "python" {
            continue;
        }
        let entries: Vec<&toml::Value> = match value {
            toml::Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for entry in entries {
            let (req, is_optional) = poetry_dep(path, name, entry)?;
            if is_optional {
                optional.push(req);
            } else {
                main.push(req);
            }
        }
    }
    Ok((main, optional))
}

fn poetry_dep(
    path: &Path,
    name: &str,
    value: &toml::Value,
) -> Result<(Requirement, bool), ProjectError> {
    let mut req = Requirement {
        name: normalize_name(name),
        extras: BTreeSet::new(),
        specifier: None,
        url: None,
        marker: None,
    };
    let table = match value {
        toml::Value::String(s) => {
            req.specifier = Some(s.clone());
            return Ok((req, false));
        }
        toml::Value::Table(t) => t,
        _ => {
            return Err(ProjectError::invalid(
                path,
                &format!("tool.poetry.dependencies.{name}"),
                "expected a version string or a table",
            ))
        }
    };
    let get = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_string);
    req.specifier = get("version");
    req.url = get("git")
        .map(|git| {
            let mut url = format!("git+{git}");
            if let Some(rev) = get("rev").or_else(|| get("tag")).or_else(|| get("branch")) {
                url.push_str(&format!("@{rev}"));
            }
            if let Some(sub) = get("subdirectory") {
                url.push_str(&format!("#subdirectory={sub}"));
            }
            url
        })
        .or_else(|| get("url"))
        .or_else(|| get("path"));
    if let Some(extras) = table.get("extras").and_then(|v| v.as_array()) {
        req.extras = extras
            .iter()
            .filter_map(|e| e.as_str())
            .map(normalize_name)
            .collect();
    }
    let mut markers = Vec::new();
    if let Some(python) = get("python")
        .as_deref()
        .and_then(marker::poetry_python_marker)
    {
        markers.push(python);
    }
    if let Some(m) = get("markers") {
        markers.push(m);
    }
    req.marker = match markers.len() {
        0 => None,
        1 => markers.pop(),
        _ => Some(
            markers
                .iter()
                .map(|m| format!("({m})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    };
    let optional = table
        .get("optional")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok((req, optional))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Project, ProjectError> {
        Project::from_str_at(Path::new("."), Path::new("pyproject.toml"), text)
    }

    #[test]
    fn include_group_is_followed_and_cycles_are_refused() {
        let p = load(
            "[project]\nname='a'\n[dependency-groups]\ntest=['pytest>=8']\ndev=[{include-group='test'}, 'ruff']\n",
        )
        .unwrap();
        let dev: Vec<&str> = p.dependency_groups["dev"]
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(dev, ["pytest", "ruff"]);
        let err = load("[project]\nname='a'\n[dependency-groups]\na=[{include-group='b'}]\nb=[{include-group='a'}]\n")
            .unwrap_err();
        assert!(matches!(err, ProjectError::GroupCycle { .. }), "{err}");
    }

    #[test]
    fn bad_requirement_names_the_file() {
        let err = load("[project]\nname='a'\ndependencies=['requests >=']\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid requirement `requests >=` in `pyproject.toml`"),
            "{err}"
        );
        let bare = load("[build-system]\nrequires=[]\n").unwrap();
        assert_eq!(
            (bare.format, bare.kind),
            (ProjectFormat::Bare, ProjectKind::Application)
        );
    }

    #[test]
    fn apps_without_a_package_are_applications() {
        let uv = load("[project]\nname='a'\nversion='1'\n[tool.uv]\npackage=false\n").unwrap();
        assert_eq!(uv.kind, ProjectKind::Application);
        let poetry =
            load("[tool.poetry]\nname='a'\npackage-mode=false\n[tool.poetry.dependencies]\npython='^3.11'\n")
                .unwrap();
        assert_eq!(poetry.kind, ProjectKind::Application);
        let package = load("[project]\nname='a'\nversion='1'\n").unwrap();
        assert_eq!(package.kind, ProjectKind::Package);
    }

    #[test]
    fn misspelt_lockship_setting_names_the_line() {
        let err = load("[project]\nname = 'a'\n\n[tool.lockship]\ncomand = ['a']\n").unwrap_err();
        let ProjectError::UnknownSetting {
            line,
            key,
            suggestion,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*line, Some(5));
        assert_eq!(key, "comand");
        assert_eq!(suggestion.as_deref(), Some("command"));
    }

    #[test]
    fn poetry_tables_are_read() {
        let p = load(
            r#"
[tool.poetry]
name = "My_App"
version = "1.0"
packages = [{ include = "app", from = "src" }]
[tool.poetry.dependencies]
python = "^3.10"
requests = { version = "^2.31", extras = ["socks"] }
tomli = { version = "*", python = "<3.11" }
pywin32 = { version = "306", markers = "sys_platform == 'win32'" }
uvloop = { version = "^0.19", optional = true }
lib = { git = "https://git.invalid/lib.git", rev = "v1" }
[tool.poetry.extras]
fast = ["uvloop"]
[tool.poetry.dev-dependencies]
pytest = "^8"
[tool.poetry.group.lint.dependencies]
ruff = "*"
[tool.poetry.scripts]
app = "app.main:run"
[[tool.poetry.source]]
name = "internal"
url = "http://127.0.0.1:8080/simple/"
priority = "supplemental"
"#,
        )
        .unwrap();
        insta::assert_json_snapshot!(p);
    }
}
