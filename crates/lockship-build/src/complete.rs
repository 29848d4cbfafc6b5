//! Complete locks: every installed distribution's own `Requires-Dist`,
//! with its markers evaluated for the target, must be satisfied by the
//! selected set. A hand-written `requirements.txt` that pins the top of the
//! tree only is caught here, before the image is built, instead of with
//! `No module named …` at run time.
//!
//! Metadata comes from each wheel's `METADATA`; from an sdist's `PKG-INFO`
//! when it is Metadata 2.2 or later with a static `Requires-Dist`; from a
//! path (or already fetched git) dependency's `pyproject.toml`. A package
//! whose metadata is dynamic or not at hand is still present for the others,
//! but its own dependencies are not checked (the caller gets a note).
//!
//! Extras follow the requirements: the project's selected extras, then
//! every `pkg[extra]` an active requirement asks for (a package asking for
//! its own extras included), until nothing new is asked.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use lockship_project::{MarkerEnv, Project, Requirement, Selection};
use uv_normalize::ExtraName;
use uv_pep440::{Version, VersionSpecifiers};
use uv_pep508::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree, VersionOrUrl};

use crate::git::GitPin;
use crate::{BuildError, WheelPin};

/// The most bytes of a `METADATA` or `PKG-INFO` read.
const MAX_METADATA_BYTES: u64 = 8 << 20;

/// A requirement of one selected distribution that the selected set does
/// not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfied {
    /// The distribution that requires it.
    pub dependent: String,
    /// The requirement as its metadata writes it.
    pub requirement: String,
    /// The required package, normalised.
    pub package: String,
    /// The version selected, when the package is there at a version the
    /// requirement excludes; `None` when it is missing.
    pub found: Option<String>,
}

/// The problems, one clause each, for the error message.
pub(crate) fn describe(problems: &[Unsatisfied]) -> String {
    problems
        .iter()
        .map(|p| match &p.found {
            None => format!(
                "`{}` is missing (`{}` requires `{}`)",
                p.package, p.dependent, p.requirement
            ),
            Some(v) => format!(
                "`{}` {v} does not satisfy `{}` (required by `{}`)",
                p.package, p.requirement, p.dependent
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One requirement, parsed.
#[derive(Debug, Clone)]
struct Req {
    name: String,
    extras: Vec<ExtraName>,
    specifier: Option<VersionSpecifiers>,
    marker: MarkerTree,
    text: String,
}

impl Req {
    /// A `Requires-Dist` value; `None` when it is not PEP 508.
    fn parse(text: &str) -> Option<Req> {
        let r = uv_pep508::Requirement::<uv_pep508::VerbatimUrl>::from_str(text).ok()?;
        Some(Req {
            name: lockship_project::normalize_name(r.name.as_ref()),
            extras: r.extras.to_vec(),
            specifier: match r.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(s)) => Some(s),
                _ => None,
            },
            marker: r.marker,
            text: text.trim().to_string(),
        })
    }

    /// A requirement of `pyproject.toml`: a specifier that is not PEP 440
    /// (Poetry's `^1.2`) checks the name only.
    fn from_project(r: &Requirement) -> Option<Req> {
        let marker = match r.marker.as_deref().map(str::trim) {
            None | Some("") => MarkerTree::TRUE,
            Some(m) => MarkerTree::from_str(m).ok()?,
        };
        let specifier = r
            .specifier
            .as_deref()
            .and_then(|s| VersionSpecifiers::from_str(s).ok());
        let extras: Vec<ExtraName> = r
            .extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        let mut text = r.name.clone();
        if !r.extras.is_empty() {
            text.push_str(&format!(
                "[{}]",
                r.extras.iter().cloned().collect::<Vec<_>>().join(",")
            ));
        }
        if let Some(s) = &r.specifier {
            text.push_str(s);
        }
        if let Some(m) = &r.marker {
            text.push_str(&format!("; {m}"));
        }
        Some(Req {
            name: r.name.clone(),
            extras,
            specifier,
            marker,
            text,
        })
    }
}

/// One distribution of the set, as the check sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dist {
    /// Its version, when known and PEP 440.
    version: Option<Version>,
    /// Its requirements (`None`: not known, so not checked).
    requires: Option<Vec<Req>>,
    /// Requirements per extra, for a `pyproject.toml` that lists them apart.
    by_extra: BTreeMap<String, Vec<Req>>,
}

impl Dist {
    fn from_metadata(meta: &CoreMetadata, fallback_version: &str) -> Dist {
        let version = meta.version.as_deref().unwrap_or(fallback_version);
        Dist {
            version: Version::from_str(version.trim()).ok(),
            requires: Some(
                meta.requires_dist
                    .iter()
                    .filter_map(|r| Req::parse(r))
                    .collect(),
            ),
            by_extra: BTreeMap::new(),
        }
    }

    fn from_project(project: &Project, groups: &[String]) -> Dist {
        let reqs = |list: &[Requirement]| list.iter().filter_map(Req::from_project).collect();
        let mut requires: Vec<Req> = reqs(&project.dependencies);
        for group in groups {
            if let Some(list) = project.dependency_groups.get(group) {
                requires.extend(reqs(list));
            }
        }
        Dist {
            version: project
                .version
                .as_deref()
                .and_then(|v| Version::from_str(v).ok()),
            requires: Some(requires),
            by_extra: project
                .optional_dependencies
                .iter()
                .map(|(e, list)| (e.clone(), reqs(list)))
                .collect(),
        }
    }

    /// Its requirements that hold in `env` with `extras` active.
    fn active<'a>(
        &'a self,
        env: &'a MarkerEnvironment,
        extras: &'a BTreeSet<ExtraName>,
    ) -> impl Iterator<Item = &'a Req> + 'a {
        let active: Vec<ExtraName> = extras.iter().cloned().collect();
        let by_extra = extras
            .iter()
            .filter_map(|e| self.by_extra.get(e.as_ref()))
            .flatten();
        self.requires
            .iter()
            .flatten()
            .chain(by_extra)
            .filter(move |r| r.marker.evaluate(env, &active))
    }
}

/// What else the check knows of the set.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Names there at any version (the project, workspace members).
    pub present: BTreeSet<String>,
    /// Names whose version the project overrides (`[tool.uv]
    /// override-dependencies`, PDM's resolution overrides): a dependent's
    /// own specifier for them is replaced, so only their presence counts.
    pub overridden: BTreeSet<String>,
}

/// The requirements of `dists` that the set does not satisfy. `root` names
/// the distribution whose extras `root_extras` are selected.
pub(crate) fn unsatisfied(
    dists: &BTreeMap<String, Dist>,
    root: Option<(&str, &BTreeSet<ExtraName>)>,
    known: &Known,
    env: &MarkerEnvironment,
) -> Vec<Unsatisfied> {
    let mut extras: BTreeMap<&str, BTreeSet<ExtraName>> = dists
        .keys()
        .map(|k| (k.as_str(), BTreeSet::new()))
        .collect();
    if let Some((name, selected)) = root {
        if let Some(set) = extras.get_mut(name) {
            set.extend(selected.iter().cloned());
        }
    }
    // Extras spread along active requirements until nothing new is asked.
    loop {
        let mut asked: Vec<(&str, ExtraName)> = Vec::new();
        for (name, dist) in dists {
            for req in dist.active(env, &extras[name.as_str()]) {
                if let Some((target, _)) = dists.get_key_value(&req.name) {
                    asked.extend(req.extras.iter().map(|e| (target.as_str(), e.clone())));
                }
            }
        }
        let mut changed = false;
        for (target, extra) in asked {
            changed |= extras.get_mut(target).is_some_and(|s| s.insert(extra));
        }
        if !changed {
            break;
        }
    }
    let mut out = Vec::new();
    for (name, dist) in dists {
        for req in dist.active(env, &extras[name.as_str()]) {
            if &req.name == name || known.present.contains(&req.name) {
                continue;
            }
            let found = match dists.get(&req.name) {
                None => None,
                Some(_) if known.overridden.contains(&req.name) => continue,
                Some(d) => match (&d.version, &req.specifier) {
                    (Some(v), Some(s)) if !s.contains(v) => Some(v.to_string()),
                    _ => continue,
                },
            };
            let problem = Unsatisfied {
                dependent: name.clone(),
                requirement: req.text.clone(),
                package: req.name.clone(),
                found,
            };
            if !out.contains(&problem) {
                out.push(problem);
            }
        }
    }
    out
}

/// What the check reads.
pub(crate) struct Inputs<'a> {
    /// The plan's wheels (and sdists).
    pub wheels: &'a [WheelPin],
    /// The plan's git and path dependencies.
    pub git: &'a [GitPin],
    /// The lockfile and its kind, for the error.
    pub lock: (&'a Path, lockship_project::LockKind),
    pub project: &'a Project,
    pub selection: &'a Selection,
    pub env: &'a MarkerEnv,
    /// The plan's files, in the order of `plan.wheels`.
    pub downloaded: &'a [PathBuf],
    pub cache: &'a lockship_fetch::Cache,
}

/// Checks that the plan's distributions satisfy each other's requirements
/// for the target; the `Ok` value is a note naming the packages whose own
/// requirements could not be read (dynamic sdist metadata, git
/// dependencies not fetched yet), if any.
pub(crate) fn check(inputs: &Inputs<'_>) -> Result<Option<String>, BuildError> {
    let Inputs {
        wheels,
        git,
        lock,
        project,
        selection,
        env,
        downloaded,
        cache,
    } = *inputs;
    let env = marker_environment(env)?;
    let mut dists: BTreeMap<String, Dist> = BTreeMap::new();
    let mut unread: Vec<String> = Vec::new();
    for (pin, path) in wheels.iter().zip(downloaded) {
        let dist = match read_pin_metadata(pin, path) {
            Some(meta) => Dist::from_metadata(&meta, &pin.version),
            None => {
                unread.push(pin.name.clone());
                Dist {
                    version: Version::from_str(&pin.version).ok(),
                    ..Dist::default()
                }
            }
        };
        dists.insert(pin.name.clone(), dist);
    }
    for pin in git {
        let dist = git_dist(cache, pin);
        if dist.requires.is_none() {
            unread.push(pin.name.clone());
        }
        dists.insert(pin.name.clone(), dist);
    }
    let mut known = Known {
        present: project
            .workspace
            .iter()
            .flat_map(|w| w.members.keys().cloned())
            .collect(),
        overridden: overridden(project),
    };
    let selected_extras: BTreeSet<ExtraName> = selection
        .extras
        .iter()
        .filter_map(|e| ExtraName::from_str(e).ok())
        .collect();
    let root = project.name.clone();
    if let Some(name) = &root {
        let groups: Vec<String> = if selection.all_groups {
            project.dependency_groups.keys().cloned().collect()
        } else {
            selection
                .groups
                .iter()
                .map(|g| lockship_project::normalize_name(g))
                .collect()
        };
        dists.insert(name.clone(), Dist::from_project(project, &groups));
        known.present.insert(name.clone());
    }
    let problems = unsatisfied(
        &dists,
        root.as_deref().map(|n| (n, &selected_extras)),
        &known,
        &env,
    );
    // pip-compile and `uv pip compile` leave pip's own tools out of a
    // requirements file unless asked (`--allow-unsafe`): their absence is
    // the lock's choice, said as a note, not a broken lock.
    let (left_out, problems): (Vec<Unsatisfied>, Vec<Unsatisfied>) =
        problems.into_iter().partition(|p| {
            lock.1 == lockship_project::LockKind::Requirements
                && p.found.is_none()
                && LEFT_OUT_BY_COMPILERS.contains(&p.package.as_str())
        });
    if !problems.is_empty() {
        return Err(BuildError::IncompleteLock {
            lockfile: lock.0.to_path_buf(),
            lock_kind: lock.1,
            problems,
        });
    }
    let mut notes = Vec::new();
    if !left_out.is_empty() {
        notes.push(format!(
            "{}: left out of the requirements file, as pip-compile does without `--allow-unsafe`, so the image has none; pin it in the file if the code imports it at run time",
            describe(&left_out)
        ));
    }
    if !unread.is_empty() {
        notes.push(format!(
            "the dependencies of {} were not checked against the lock: {} (no static metadata at hand: an sdist whose `Requires-Dist` is dynamic, or a git dependency not fetched yet)",
            if unread.len() == 1 { "one package".to_string() } else { format!("{} packages", unread.len()) },
            crate::reach::list(&unread)
        ));
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

/// The packages pip-compile (and `uv pip compile`) leave out of a
/// requirements file unless `--allow-unsafe` is given.
const LEFT_OUT_BY_COMPILERS: [&str; 4] = ["pip", "setuptools", "wheel", "distribute"];

/// The names whose versions the project (or its uv workspace root)
/// overrides: `[tool.uv] override-dependencies`, `[tool.pdm.resolution]
/// overrides`.
fn overridden(project: &Project) -> BTreeSet<String> {
    let files = std::iter::once(project.pyproject.clone()).chain(
        project
            .workspace
            .as_ref()
            .map(|w| w.root.join("pyproject.toml")),
    );
    let mut out = BTreeSet::new();
    for file in files {
        let Some(doc) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
        else {
            continue;
        };
        let tool = doc.get("tool");
        let uv = tool
            .and_then(|t| t.get("uv"))
            .and_then(|u| u.get("override-dependencies"))
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| Req::parse(r.as_str()?))
            .map(|r| r.name);
        out.extend(uv);
        let pdm = tool
            .and_then(|t| t.get("pdm"))
            .and_then(|p| p.get("resolution"))
            .and_then(|r| r.get("overrides"))
            .and_then(|o| o.as_table())
            .into_iter()
            .flat_map(|t| t.keys())
            .map(|k| lockship_project::normalize_name(k));
        out.extend(pdm);
    }
    out
}

/// A git or path dependency's requirements, from its `pyproject.toml`
/// when it is at hand.
fn git_dist(cache: &lockship_fetch::Cache, pin: &GitPin) -> Dist {
    let project = crate::git::cached_source(cache, pin)
        .filter(|dir| dir.join("pyproject.toml").is_file())
        .and_then(|dir| Project::load(&dir).ok())
        .filter(|p| p.format != lockship_project::ProjectFormat::Bare);
    match project {
        Some(p) => Dist {
            // Its version may be dynamic: any version satisfies.
            version: None,
            ..Dist::from_project(&p, &[])
        },
        None => Dist::default(),
    }
}

/// The PEP 508 environment of the target.
fn marker_environment(env: &MarkerEnv) -> Result<MarkerEnvironment, BuildError> {
    let python_version = env.python_version();
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: &env.implementation_name,
        implementation_version: &env.python_full_version,
        os_name: &env.os_name,
        platform_machine: &env.platform_machine,
        platform_python_implementation: &env.platform_python_implementation,
        platform_release: &env.platform_release,
        platform_system: &env.platform_system,
        platform_version: &env.platform_version,
        python_full_version: &env.python_full_version,
        python_version: &python_version,
        sys_platform: &env.sys_platform,
    })
    .map_err(|_| {
        BuildError::Project(lockship_project::ProjectError::InvalidPythonVersion {
            version: env.python_full_version.clone(),
        })
    })
}

/// The header fields of core metadata the check reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CoreMetadata {
    pub metadata_version: Option<String>,
    pub version: Option<String>,
    pub requires_dist: Vec<String>,
    pub dynamic: Vec<String>,
}

/// Parses the RFC 822 header block of `METADATA`/`PKG-INFO` (folded lines
/// joined; the body after the first blank line ignored).
pub(crate) fn parse_metadata(text: &str) -> CoreMetadata {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut meta = CoreMetadata::default();
    for (key, value) in fields {
        match key.as_str() {
            "metadata-version" => meta.metadata_version = Some(value),
            "version" if meta.version.is_none() => meta.version = Some(value),
            "requires-dist" => meta.requires_dist.push(value),
            "dynamic" => meta.dynamic.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    meta
}

/// A pin's metadata: a wheel's `METADATA`; an sdist's `PKG-INFO` when it
/// is Metadata 2.2+ and does not mark `Requires-Dist` dynamic.
fn read_pin_metadata(pin: &WheelPin, path: &Path) -> Option<CoreMetadata> {
    if !pin.from_sdist {
        return wheel_metadata(path).map(|t| parse_metadata(&t));
    }
    let meta = parse_metadata(&sdist_pkg_info(path, &pin.filename)?);
    let (major, minor) = meta
        .metadata_version
        .as_deref()?
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))?;
    let static_requires =
        (major, minor) >= (2, 2) && !meta.dynamic.iter().any(|d| d == "requires-dist");
    static_requires.then_some(meta)
}

/// The text of the wheel's `{name}-{version}.dist-info/METADATA`.
fn wheel_metadata(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut zip = zip::ZipArchive::new(file).ok()?;
    let name = names(&zip).into_iter().find(|n| {
        n.split('/').count() == 2
            && n.ends_with("/METADATA")
            && n.split('/')
                .next()
                .is_some_and(|d| d.ends_with(".dist-info"))
    })?;
    let text = read_capped(zip.by_name(&name).ok()?);
    text
}

/// The text of an sdist's top-level `PKG-INFO` (`.tar.gz` or `.zip`).
fn sdist_pkg_info(path: &Path, filename: &str) -> Option<String> {
    let top_level = |p: &str| {
        let parts: Vec<&str> = p.trim_start_matches("./").split('/').collect();
        parts.len() == 2 && parts[1] == "PKG-INFO"
    };
    let file = std::fs::File::open(path).ok()?;
    if filename.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).ok()?;
        let name = names(&zip).into_iter().find(|n| top_level(n))?;
        let text = read_capped(zip.by_name(&name).ok()?);
        return text;
    }
    if !filename.ends_with(".tar.gz") {
        return None;
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        let path = entry.path().ok()?.to_string_lossy().into_owned();
        if top_level(&path) && entry.header().entry_type().is_file() {
            return read_capped(entry);
        }
    }
    None
}

/// The names of a zip's entries.
fn names<R: Read + std::io::Seek>(zip: &zip::ZipArchive<R>) -> Vec<String> {
    zip.file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect()
}

fn read_capped(reader: impl Read) -> Option<String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_METADATA_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
#[path = "../../lockship-wheel/tests/common/mod.rs"]
pub(crate) mod wheel_fixtures;

#[cfg(test)]
#[path = "complete_tests.rs"]
mod tests;
