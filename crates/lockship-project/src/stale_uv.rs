//! Whether a `uv.lock` still matches `pyproject.toml`, decided as
//! `uv lock --check` decides it (uv-resolver's `Lock::satisfies`).
//!
//! Requirements are compared as sets after the normalisation uv applies
//! (`normalize_requirement`): extras sorted, markers parsed and simplified
//! against the lock's `requires-python`, and `[tool.uv.sources]` applied, so
//! that a dependency with a Git, path, URL or workspace source is compared
//! by its name, extras, marker and kind of source, since uv drops its
//! version specifier when it lowers the source. Compared:
//!
//! - the member's `requires-dist` with `[project]` dependencies and
//!   optional dependencies (each with `extra == '<name>'` added), unless
//!   `dependencies` is dynamic;
//! - `provides-extras` with the names of `[project.optional-dependencies]`;
//! - `requires-dev` with `[dependency-groups]` (`include-group` followed)
//!   plus `[tool.uv] dev-dependencies` as group `dev`, empty groups left out
//!   on both sides; for a project without `[project]`, the lock's
//!   `[manifest]` groups;
//! - `[manifest]` `constraints` and `overrides` with `[tool.uv]`
//!   `constraint-dependencies` and `override-dependencies`, which uv reads
//!   from the workspace root's `pyproject.toml` only (a member's own are
//!   ignored);
//! - `[manifest] members` with the workspace's members.
//!
//! A member's `[tool.uv.sources]` are the workspace root's, overridden
//! name by name by its own, as uv merges them.
//!
//! A dependency whose source in `[tool.uv.sources]` is a list (sources
//! chosen by marker) is compared by name only, since uv splits it into one
//! requirement per source.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::str::FromStr;

use uv_pep508::uv_pep440::{Version, VersionSpecifiers};
use uv_pep508::MarkerTree;

use crate::model::Lock;
use crate::{normalize_name, Project, ProjectFormat, Requirement};

/// How requirements are put into comparable form for one project and lock.
struct Normalizer {
    lower: Option<Bound<Version>>,
    upper: Option<Bound<Version>>,
    /// `[tool.uv.sources]`: name -> the source in comparable form
    /// ([`source_of`]), `None` for an index source, or `Some("*")` for a list.
    sources: BTreeMap<String, Option<String>>,
    /// Whether empty groups count (uv.lock revision 1 and later).
    empty_groups: bool,
}

/// The `pyproject.toml` that holds the workspace-wide `[tool.uv]`
/// settings: the workspace root's, for a member below it.
struct WorkspaceSettings {
    path: std::path::PathBuf,
    raw: toml::Table,
}

impl WorkspaceSettings {
    fn of(project: &Project) -> WorkspaceSettings {
        let own = || WorkspaceSettings {
            path: project.pyproject.clone(),
            raw: project.raw.clone(),
        };
        let Some(ws) = project
            .workspace
            .as_ref()
            .filter(|_| project.is_member_below_root())
        else {
            return own();
        };
        let path = ws.root.join("pyproject.toml");
        // The root was read when the workspace was found; should it have
        // gone since, the member's own settings are all there is.
        match crate::error::read(&path).and_then(|t| crate::error::parse_toml(&path, &t)) {
            Ok(raw) => WorkspaceSettings { path, raw },
            Err(_) => own(),
        }
    }
}

impl Normalizer {
    fn new(lock: &Lock, project: &Project, settings: &WorkspaceSettings) -> Self {
        let (lower, upper) = lock
            .requires_python
            .as_deref()
            .and_then(|r| VersionSpecifiers::from_str(r).ok())
            .map(|specs| {
                let ranges = uv_pep508::uv_pep440::release_specifiers_to_ranges(specs);
                match ranges.bounding_range() {
                    Some((lo, hi)) => (Some(lo.cloned()), Some(hi.cloned())),
                    None => (None, None),
                }
            })
            .unwrap_or((None, None));
        let mut sources = BTreeMap::new();
        let tables = [&settings.raw, &project.raw].map(|raw| {
            tool_uv(raw)
                .and_then(|t| t.get("sources"))
                .and_then(|s| s.as_table())
        });
        for (name, source) in tables.into_iter().flatten().flatten() {
            let kind = match source {
                toml::Value::Table(t) => source_of(t),
                _ => Some("*".to_string()),
            };
            sources.insert(normalize_name(name), kind);
        }
        Self {
            lower,
            upper,
            sources,
            empty_groups: lock.manifest.revision >= 1,
        }
    }

    fn marker(&self, marker: MarkerTree) -> Option<String> {
        let marker = match (&self.lower, &self.upper) {
            (Some(lo), Some(hi)) => marker.simplify_python_versions(lo.as_ref(), hi.as_ref()),
            _ => marker,
        };
        marker.try_to_string()
    }

    fn canonical(
        &self,
        name: &str,
        extras: &BTreeSet<String>,
        specifier: Option<&str>,
        source: Option<&str>,
        marker: MarkerTree,
    ) -> String {
        let mut out = normalize_name(name);
        if !extras.is_empty() {
            let extras: BTreeSet<String> = extras.iter().map(|e| normalize_name(e)).collect();
            out.push_str(&format!(
                "[{}]",
                extras.into_iter().collect::<Vec<_>>().join(",")
            ));
        }
        match source {
            Some(kind) => out.push_str(&format!(" @ {kind}")),
            None => {
                if let Some(spec) = specifier.filter(|s| !s.trim().is_empty()) {
                    let mut parts: Vec<String> = match VersionSpecifiers::from_str(spec) {
                        Ok(specs) => specs.iter().map(ToString::to_string).collect(),
                        Err(_) => vec![spec.to_string()],
                    };
                    parts.sort();
                    out.push(' ');
                    out.push_str(&parts.join(","));
                }
            }
        }
        if let Some(m) = self.marker(marker) {
            out.push_str(" ; ");
            out.push_str(&m);
        }
        out
    }

    /// A declared requirement, with `extra` (an optional dependency's
    /// extra) added to its marker; `None` when it is compared by name only.
    fn declared(&self, r: &Requirement, extra: Option<&str>) -> Option<String> {
        let mut marker = marker_tree(r.marker.as_deref());
        if let Some(extra) = extra {
            marker = marker.and(marker_tree(Some(&format!("extra == '{extra}'"))));
        }
        let source = match self.sources.get(&r.name) {
            Some(Some(s)) if s == "*" => return None,
            Some(source) => source.clone(),
            None => r.url.as_deref().map(url_kind),
        };
        Some(self.canonical(
            &r.name,
            &r.extras,
            r.specifier.as_deref(),
            source.as_deref(),
            marker,
        ))
    }

    /// Canonical forms of lock requirement tables, leaving out `skip` names.
    fn locked(&self, entries: &[toml::Value], skip: &BTreeSet<String>) -> BTreeSet<String> {
        entries
            .iter()
            .filter_map(|e| {
                let t = e.as_table()?;
                let name = normalize_name(t.get("name")?.as_str()?);
                if skip.contains(&name) {
                    return None;
                }
                let extras = t
                    .get("extras")
                    .and_then(|x| x.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let source = source_of(t);
                let specifier = t.get("specifier").and_then(|s| s.as_str());
                let marker = marker_tree(t.get("marker").and_then(|m| m.as_str()));
                Some(self.canonical(&name, &extras, specifier, source.as_deref(), marker))
            })
            .collect()
    }

    /// Declared requirements as a set, and the names compared by name only.
    fn declared_set<'r>(
        &self,
        reqs: impl Iterator<Item = (&'r Requirement, Option<&'r str>)>,
    ) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut set = BTreeSet::new();
        let mut by_name = BTreeSet::new();
        for (r, extra) in reqs {
            match self.declared(r, extra) {
                Some(c) => {
                    set.insert(c);
                }
                None => {
                    by_name.insert(r.name.clone());
                }
            }
        }
        (set, by_name)
    }
}

/// A source table (`[tool.uv.sources]` entry, or the source keys of a
/// requirement in uv.lock) in comparable form: `git <repository>?<sorted
/// rev/branch/tag/subdirectory>`, `url <url>`, or `path` (paths are written
/// relative to different directories, so only their kind is compared);
/// `None` for an index.
fn source_of(t: &toml::Table) -> Option<String> {
    let get = |k: &str| t.get(k).and_then(|v| v.as_str());
    if let Some(git) = get("git") {
        let git = git.strip_prefix("git+").unwrap_or(git);
        let git = git.split('#').next().unwrap_or_default();
        let (repo, query) = git.split_once('?').unwrap_or((git, ""));
        let mut params: BTreeSet<String> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(str::to_string)
            .collect();
        for key in ["rev", "branch", "tag", "subdirectory"] {
            if let Some(v) = get(key) {
                params.insert(format!("{key}={v}"));
            }
        }
        let params: Vec<String> = params.into_iter().collect();
        return Some(format!(
            "git {}?{}",
            repo.trim_end_matches('/'),
            params.join("&")
        ));
    }
    if let Some(url) = get("url") {
        return Some(format!("url {url}"));
    }
    ["path", "directory", "editable", "virtual", "workspace"]
        .iter()
        .any(|k| t.contains_key(*k))
        .then(|| "path".to_string())
}

/// The source of a PEP 508 `name @ url`, in [`source_of`]'s form.
fn url_kind(url: &str) -> String {
    if let Some(git) = url.strip_prefix("git+") {
        let (repo, rev) = match git.rsplit_once('@') {
            Some((repo, rev)) if repo.contains("://") && !rev.contains('/') => (repo, Some(rev)),
            _ => (git, None),
        };
        let mut t = toml::Table::new();
        t.insert("git".into(), repo.into());
        if let Some(rev) = rev {
            t.insert("rev".into(), rev.into());
        }
        source_of(&t).unwrap_or_default()
    } else if url.starts_with("file:") || !url.contains("://") {
        "path".into()
    } else {
        format!("url {url}")
    }
}

fn tool_uv(raw: &toml::Table) -> Option<&toml::Table> {
    raw.get("tool")?.get("uv")?.as_table()
}

fn marker_tree(marker: Option<&str>) -> MarkerTree {
    marker
        .and_then(|m| MarkerTree::from_str(m).ok())
        .unwrap_or_default()
}

/// `[tool.uv] <key>` requirement strings of a project's own
/// `pyproject.toml`, parsed (unparsable ones left out: uv itself refuses
/// such a project).
fn uv_requirements(project: &Project, key: &str) -> Vec<Requirement> {
    uv_requirements_in(&project.pyproject, &project.raw, key)
}

fn uv_requirements_in(path: &std::path::Path, raw: &toml::Table, key: &str) -> Vec<Requirement> {
    tool_uv(raw)
        .and_then(|t| t.get(key))
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter_map(|r| crate::pyproject::pep508(path, r).ok())
        .collect()
}

fn set_difference(
    declared: &BTreeSet<String>,
    locked: &BTreeSet<String>,
    what: &str,
) -> Option<String> {
    if let Some(d) = declared.difference(locked).next() {
        return Some(format!(
            "{what} declares `{d}`, which the lock does not record"
        ));
    }
    locked
        .difference(declared)
        .next()
        .map(|l| format!("the lock records `{l}`, which {what} no longer declares"))
}

fn is_dynamic(project: &Project, field: &str) -> bool {
    project
        .raw
        .get("project")
        .and_then(|p| p.get("dynamic"))
        .and_then(|d| d.as_array())
        .is_some_and(|d| d.iter().any(|v| v.as_str() == Some(field)))
}

impl Lock {
    pub(crate) fn uv_difference(&self, project: &Project) -> Option<String> {
        if let Some(reason) = self.root_edges_difference(project) {
            return Some(reason);
        }
        let settings = WorkspaceSettings::of(project);
        let n = Normalizer::new(self, project, &settings);
        if let Some(reason) = self.manifest_difference(project, &settings, &n) {
            return Some(reason);
        }
        let groups = declared_groups(project);
        match project.format {
            ProjectFormat::Pep621 => {}
            ProjectFormat::Bare => {
                return groups_difference(&n, &groups, &self.manifest.dependency_groups)
            }
            ProjectFormat::Poetry => return None,
        }
        let root = self.root.as_ref()?;
        if let (Some(locked), false) = (
            &root.provides_extras,
            is_dynamic(project, "optional-dependencies"),
        ) {
            let locked: BTreeSet<String> = locked.iter().map(|e| normalize_name(e)).collect();
            let declared: BTreeSet<String> =
                project.optional_dependencies.keys().cloned().collect();
            if let Some(reason) =
                set_difference(&declared, &locked, "`[project.optional-dependencies]`")
            {
                return Some(reason.replace("declares `", "declares the extra `"));
            }
        }
        if let (Some(requires_dist), false) =
            (&root.requires_dist, is_dynamic(project, "dependencies"))
        {
            let reqs = project.dependencies.iter().map(|r| (r, None)).chain(
                project
                    .optional_dependencies
                    .iter()
                    .flat_map(|(extra, reqs)| reqs.iter().map(move |r| (r, Some(extra.as_str())))),
            );
            let (declared, by_name) = n.declared_set(reqs);
            let locked = n.locked(requires_dist, &by_name);
            if let Some(reason) = set_difference(&declared, &locked, "`[project]`") {
                return Some(reason);
            }
        }
        // Locks written before uv recorded `requires-dev` say nothing of groups.
        let requires_dev = root.requires_dev.as_ref()?;
        groups_difference(&n, &groups, requires_dev)
    }

    /// An edge of the lock's root entry to a package that `pyproject.toml`
    /// does not declare there.
    fn root_edges_difference(&self, project: &Project) -> Option<String> {
        let root = self.root.as_ref()?;
        let own = project.name.as_deref();
        let names = |reqs: &[Requirement]| -> BTreeSet<String> {
            reqs.iter()
                .map(|r| crate::normalize_name(&r.name))
                .chain(own.map(str::to_string))
                .collect()
        };
        let undeclared = |edges: &[crate::Dep], declared: &BTreeSet<String>, what: &str| {
            edges.iter().find(|d| !declared.contains(&d.name)).map(|d| {
                format!(
                    "the lock's entry for the project depends on `{}` in {what}, which `pyproject.toml` does not declare",
                    d.name
                )
            })
        };
        let main = names(&project.dependencies);
        if let Some(reason) = undeclared(&root.dependencies, &main, "`dependencies`") {
            return Some(reason);
        }
        for (extra, edges) in &root.optional_dependencies {
            let declared = project
                .optional_dependencies
                .get(extra)
                .map(|reqs| names(reqs))
                .unwrap_or_default();
            let what = format!("extra `{extra}`");
            if let Some(reason) = undeclared(edges, &declared, &what) {
                return Some(reason);
            }
        }
        let uv_dev: BTreeSet<String> = uv_requirements(project, "dev-dependencies")
            .into_iter()
            .map(|r| r.name)
            .collect();
        for (group, edges) in &root.groups {
            let mut declared = project
                .dependency_groups
                .get(group)
                .map(|reqs| names(reqs))
                .unwrap_or_default();
            if group == "dev" {
                declared.extend(uv_dev.iter().cloned());
            }
            let what = format!("group `{group}`");
            if let Some(reason) = undeclared(edges, &declared, &what) {
                return Some(reason);
            }
        }
        None
    }

    fn manifest_difference(
        &self,
        project: &Project,
        settings: &WorkspaceSettings,
        n: &Normalizer,
    ) -> Option<String> {
        for (key, locked, what) in [
            (
                "constraint-dependencies",
                &self.manifest.constraints,
                "`[tool.uv] constraint-dependencies`",
            ),
            (
                "override-dependencies",
                &self.manifest.overrides,
                "`[tool.uv] override-dependencies`",
            ),
        ] {
            // uv lowers them with the workspace's sources, as dependencies.
            let reqs = uv_requirements_in(&settings.path, &settings.raw, key);
            let (declared, by_name) = n.declared_set(reqs.iter().map(|r| (r, None)));
            let locked = n.locked(locked, &by_name);
            if let Some(reason) = set_difference(&declared, &locked, what) {
                return Some(reason);
            }
        }
        let workspace = project.workspace.as_ref()?;
        if self.manifest.members.is_empty() {
            return None;
        }
        let locked: BTreeSet<String> = self
            .manifest
            .members
            .iter()
            .map(|m| normalize_name(m))
            .collect();
        let declared: BTreeSet<String> = workspace.members.keys().cloned().collect();
        set_difference(&declared, &locked, "the workspace")
            .map(|r| r.replace("declares `", "has the member `"))
    }
}

/// The project's groups as uv locks them: PEP 735 groups plus
/// `[tool.uv] dev-dependencies` in `dev`.
fn declared_groups(project: &Project) -> BTreeMap<String, Vec<Requirement>> {
    let mut groups = project.dependency_groups.clone();
    let dev = uv_requirements(project, "dev-dependencies");
    if !dev.is_empty() {
        groups.entry("dev".into()).or_default().extend(dev);
    }
    groups
}

fn groups_difference(
    n: &Normalizer,
    declared: &BTreeMap<String, Vec<Requirement>>,
    locked: &BTreeMap<String, Vec<toml::Value>>,
) -> Option<String> {
    let declared: BTreeMap<&String, &Vec<Requirement>> = declared
        .iter()
        .filter(|(_, r)| n.empty_groups || !r.is_empty())
        .collect();
    let locked: BTreeMap<String, &Vec<toml::Value>> = locked
        .iter()
        .filter(|(_, r)| n.empty_groups || !r.is_empty())
        .map(|(g, r)| (normalize_name(g), r))
        .collect();
    if let Some(g) = locked.keys().find(|g| !declared.contains_key(g)) {
        return Some(format!(
            "the lock records the dependency group `{g}`, which `pyproject.toml` no longer declares"
        ));
    }
    if let Some(g) = declared.keys().find(|g| !locked.contains_key(g.as_str())) {
        return Some(format!(
            "`pyproject.toml` declares the dependency group `{g}`, which the lock does not record"
        ));
    }
    for (group, reqs) in declared {
        let (set, by_name) = n.declared_set(reqs.iter().map(|r| (r, None)));
        let locked = locked
            .get(group)
            .map(|l| n.locked(l, &by_name))
            .unwrap_or_default();
        if let Some(reason) = set_difference(&set, &locked, &format!("group `{group}`")) {
            return Some(reason);
        }
    }
    None
}
