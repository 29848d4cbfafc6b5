//! Which locked packages a target environment needs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::marker::Evaluator;
use crate::model::{Dep, Lock, LockKind, LockedPackage, PackageSource};
use crate::{normalize_name, MarkerEnv, Project, ProjectError, Requirement};

/// What to install besides the project's main dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Dependency groups to add (`--with dev`).
    pub groups: BTreeSet<String>,
    /// Add every group the project defines.
    pub all_groups: bool,
    /// Extras of the project to add.
    pub extras: BTreeSet<String>,
}

/// The packages of `lock` that `project` needs in `env`, sorted by name.
///
/// Graph locks (`uv.lock`, `poetry.lock`) are walked from the project's main
/// dependencies, plus the selected groups and extras, through each package's
/// edges, keeping an edge only when its marker holds (`extra == "x"` holds
/// when the edge comes from a package installed with extra `x`). Flat locks
/// (`requirements.txt`, `pylock.toml`) keep every package whose marker holds;
/// `pylock.toml` markers may test `extras` and `dependency_groups` (PEP 751),
/// and with no group asked for, the lock's `default-groups` apply. A package
/// named like the project is left out: the project is installed from its
/// directory. `Pipfile.lock` and `pdm.lock` (whose entries name their
/// groups) keep every package of group `default` or of a group (or, for
/// PDM, an extra) asked for, whose marker holds; a `pdm.lock` without
/// groups is walked as a graph.
pub fn select<'l>(
    lock: &'l Lock,
    project: &Project,
    selection: &Selection,
    env: &MarkerEnv,
) -> Result<Vec<&'l LockedPackage>, ProjectError> {
    let eval = Evaluator {
        env: env.to_uv()?,
        path: &lock.path,
    };
    let (groups, extras) = checked(lock, project, selection)?;
    let grouped = lock.packages.iter().any(|p| !p.groups.is_empty());
    let selected: Vec<&LockedPackage> = match lock.kind {
        LockKind::Pipenv | LockKind::Pdm if grouped || lock.kind == LockKind::Pipenv => {
            // Flat locks whose entries name their groups: PDM's extras are
            // groups too.
            let mut active: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
            active.extend(extras.iter().map(String::as_str));
            active.insert("default");
            let mut out = Vec::new();
            for p in &lock.packages {
                if project.name.as_deref() == Some(p.name.as_str())
                    || !p.groups.iter().any(|g| active.contains(g.as_str()))
                {
                    continue;
                }
                if eval.holds(&p.name, p.marker.as_deref(), &[])? {
                    if p.version.is_none() && matches!(p.source, PackageSource::Registry { .. }) {
                        return Err(ProjectError::invalid(
                            &lock.path,
                            &format!("package `{}`", p.name),
                            "it is not pinned (`*`): the lock was made where its marker was false, but the target needs it",
                        ));
                    }
                    out.push(p);
                }
            }
            out
        }
        LockKind::Uv | LockKind::Poetry | LockKind::Pdm | LockKind::Pipenv => {
            walk(lock, project, &groups, &extras, &eval)?
        }
        LockKind::Requirements | LockKind::Pylock => {
            let groups: Vec<String> = if groups.is_empty() {
                lock.default_groups.clone()
            } else {
                groups.into_iter().collect()
            };
            let extras: Vec<String> = extras.into_iter().collect();
            let mut out = Vec::new();
            for p in &lock.packages {
                if project.name.as_deref() == Some(p.name.as_str()) {
                    continue;
                }
                if eval.holds_pep751(&p.name, p.marker.as_deref(), &extras, &groups)? {
                    out.push(p);
                }
            }
            out
        }
    };
    let mut selected = selected;
    selected.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(selected)
}

/// The normalised groups and extras asked for, each known to the project.
fn checked(
    lock: &Lock,
    project: &Project,
    selection: &Selection,
) -> Result<(BTreeSet<String>, BTreeSet<String>), ProjectError> {
    let mut known_groups: BTreeSet<String> = project.dependency_groups.keys().cloned().collect();
    let mut known_extras: BTreeSet<String> =
        project.optional_dependencies.keys().cloned().collect();
    known_groups.extend(lock.declared.0.iter().map(|g| normalize_name(g)));
    known_extras.extend(lock.declared.1.iter().map(|e| normalize_name(e)));
    if let Some(root) = &lock.root {
        known_groups.extend(root.groups.keys().cloned());
        known_extras.extend(root.optional_dependencies.keys().cloned());
    }
    let groups = if selection.all_groups {
        known_groups.clone()
    } else {
        selection.groups.iter().map(|g| normalize_name(g)).collect()
    };
    for group in &groups {
        if !known_groups.contains(group) {
            return Err(ProjectError::UnknownGroup {
                pyproject: project.pyproject.clone(),
                group: group.clone(),
                known: known_groups.into_iter().collect(),
            });
        }
    }
    let extras: BTreeSet<String> = selection.extras.iter().map(|e| normalize_name(e)).collect();
    for extra in &extras {
        if !known_extras.contains(extra) {
            return Err(ProjectError::UnknownExtra {
                pyproject: project.pyproject.clone(),
                extra: extra.clone(),
                known: known_extras.into_iter().collect(),
            });
        }
    }
    Ok((groups, extras))
}

fn to_dep(r: &Requirement) -> Dep {
    Dep {
        name: r.name.clone(),
        marker: r.marker.clone(),
        extras: r.extras.clone(),
        version: None,
    }
}

/// The project's own edges for `extras` and `groups`: from the lock's root
/// entry when it has one (uv.lock), else from `pyproject.toml`.
fn root_edges(
    lock: &Lock,
    project: &Project,
    main: bool,
    extras: &BTreeSet<String>,
    groups: &BTreeSet<String>,
) -> Vec<Dep> {
    let mut edges = Vec::new();
    if let Some(root) = &lock.root {
        if main {
            edges.extend(root.dependencies.iter().cloned());
        }
        for e in extras {
            edges.extend(
                root.optional_dependencies
                    .get(e)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        for g in groups {
            edges.extend(root.groups.get(g).into_iter().flatten().cloned());
        }
    } else {
        if main {
            edges.extend(project.dependencies.iter().map(to_dep));
        }
        for e in extras {
            edges.extend(
                project
                    .optional_dependencies
                    .get(e)
                    .into_iter()
                    .flatten()
                    .map(to_dep),
            );
        }
        for g in groups {
            edges.extend(
                project
                    .dependency_groups
                    .get(g)
                    .into_iter()
                    .flatten()
                    .map(to_dep),
            );
        }
    }
    edges
}

/// Breadth-first walk of the lock graph.
fn walk<'l>(
    lock: &'l Lock,
    project: &Project,
    groups: &BTreeSet<String>,
    extras: &BTreeSet<String>,
    eval: &Evaluator<'_>,
) -> Result<Vec<&'l LockedPackage>, ProjectError> {
    let root_name = project.name.clone().unwrap_or_default();
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    // (edge, the extras active where the edge comes from, who requires it)
    let root_extras: Vec<String> = extras.iter().cloned().collect();
    let mut queue: VecDeque<(Dep, Vec<String>, String)> =
        root_edges(lock, project, true, extras, groups)
            .into_iter()
            .map(|d| (d, root_extras.clone(), root_name.clone()))
            .collect();
    let mut base_done = BTreeSet::new();
    let mut extras_done = BTreeSet::new();
    let mut root_extras_done: BTreeSet<String> = extras.clone();
    while let Some((dep, context, required_by)) = queue.pop_front() {
        if !eval.holds(&required_by, dep.marker.as_deref(), &context)? {
            continue;
        }
        if dep.name == root_name {
            // The project requiring itself with extras (`app[test]` in a group).
            let new: BTreeSet<String> = dep.extras.difference(&root_extras_done).cloned().collect();
            root_extras_done.extend(new.iter().cloned());
            let active: Vec<String> = new.iter().cloned().collect();
            for edge in root_edges(lock, project, false, &new, &BTreeSet::new()) {
                queue.push_back((edge, active.clone(), root_name.clone()));
            }
            continue;
        }
        let index =
            pick(lock, &by_name, &dep, eval)?.ok_or_else(|| ProjectError::MissingFromLock {
                lockfile: lock.path.clone(),
                package: dep.name.clone(),
                required_by: required_by.clone(),
                lock_command: lock.kind.lock_command(),
            })?;
        let package = &lock.packages[index];
        let active: Vec<String> = dep.extras.iter().cloned().collect();
        if base_done.insert(index) {
            for edge in &package.dependencies {
                queue.push_back((edge.clone(), active.clone(), package.name.clone()));
            }
        }
        for extra in &dep.extras {
            if extras_done.insert((index, extra.clone())) {
                for edge in package
                    .optional_dependencies
                    .get(extra)
                    .into_iter()
                    .flatten()
                {
                    queue.push_back((edge.clone(), active.clone(), package.name.clone()));
                }
            }
        }
    }
    Ok(base_done.into_iter().map(|i| &lock.packages[i]).collect())
}

/// The lock entry an edge points at: the one of the edge's version when it
/// names one, else the first whose own marker holds.
fn pick(
    lock: &Lock,
    by_name: &BTreeMap<&str, Vec<usize>>,
    dep: &Dep,
    eval: &Evaluator<'_>,
) -> Result<Option<usize>, ProjectError> {
    let candidates = by_name
        .get(dep.name.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut fallback = None;
    for &i in candidates {
        let p = &lock.packages[i];
        if dep.version.is_some() && p.version != dep.version {
            continue;
        }
        if candidates.len() == 1 || eval.holds(&p.name, p.marker.as_deref(), &[])? {
            return Ok(Some(i));
        }
        fallback.get_or_insert(i);
    }
    Ok(fallback)
}
