//! Whether a lockfile still matches `pyproject.toml`.
//!
//! - `uv.lock`: the project's `[package.metadata] requires-dist` (and
//!   `requires-dev`) are compared, requirement by requirement, with
//!   `[project]` dependencies, optional dependencies and dependency groups.
//!   Specifiers and markers are compared after parsing, so formatting and
//!   uv's marker rewriting do not count as changes. Sources (`git = ...`) are
//!   not compared.
//! - `poetry.lock`: `metadata.content-hash` is recomputed as Poetry 2.5 does
//!   (SHA-256 of `json.dumps(relevant_sections, sort_keys=True)` over
//!   `[project]` `requires-python`/`dependencies`/`optional-dependencies`,
//!   `[dependency-groups]`, and `[tool.poetry]` `dependencies`, `source`,
//!   `extras`, `dev-dependencies`, `group`), which for a `[tool.poetry]`-only
//!   project is also Poetry 1's hash. A lock without a content-hash is
//!   checked by dependency names instead.
//!   The project's own entry's edges (`dependencies`, `optional-dependencies`,
//!   `dev-dependencies`), which are what [`crate::select`] walks, must name
//!   only packages `pyproject.toml` declares in the same place: an edge it
//!   does not declare would install a package nobody asked for.
//! - `pylock.toml` and `requirements.txt` carry no record of their inputs:
//!   only main dependencies without a marker are checked to be present.

use std::collections::BTreeSet;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use uv_pep508::MarkerTree;

use crate::model::{Lock, LockKind};
use crate::{Project, ProjectError, ProjectFormat, Requirement};

impl Lock {
    /// Refuse a lock that no longer matches `project` with
    /// [`ProjectError::StaleLock`]; see the module docs for what is compared.
    pub fn check_fresh(&self, project: &Project) -> Result<(), ProjectError> {
        let reason = match self.kind {
            LockKind::Uv => self.uv_difference(project),
            LockKind::Poetry => self.poetry_difference(project),
            LockKind::Pylock | LockKind::Requirements => self.names_difference(project, false),
        };
        match reason {
            None => Ok(()),
            Some(reason) => Err(ProjectError::StaleLock {
                lockfile: self.path.clone(),
                reason,
                hint: format!("run `{}`", self.kind.lock_command()),
            }),
        }
    }

    fn uv_difference(&self, project: &Project) -> Option<String> {
        if let Some(reason) = self.root_edges_difference(project) {
            return Some(reason);
        }
        if project.format != ProjectFormat::Pep621 {
            return None;
        }
        let root = self.root.as_ref()?;
        if let Some(requires_dist) = &root.requires_dist {
            let mut declared = BTreeSet::new();
            for r in &project.dependencies {
                declared.insert(canonical(
                    &r.name,
                    &r.extras,
                    r.specifier.as_deref(),
                    marker_tree(r.marker.as_deref()),
                ));
            }
            for (extra, reqs) in &project.optional_dependencies {
                let Ok(extra_marker) = MarkerTree::from_str(&format!("extra == '{extra}'")) else {
                    continue;
                };
                for r in reqs {
                    let m = marker_tree(r.marker.as_deref()).and(extra_marker);
                    declared.insert(canonical(&r.name, &r.extras, r.specifier.as_deref(), m));
                }
            }
            if let Some(reason) =
                set_difference(&declared, &locked_set(requires_dist), "`[project]`")
            {
                return Some(reason);
            }
        }
        let requires_dev = root.requires_dev.as_ref()?;
        for (group, reqs) in &project.dependency_groups {
            let declared: BTreeSet<String> = reqs.iter().map(canonical_req).collect();
            let locked = requires_dev
                .get(group)
                .map(|v| locked_set(v))
                .unwrap_or_default();
            if let Some(reason) = set_difference(&declared, &locked, &format!("group `{group}`")) {
                return Some(reason);
            }
        }
        None
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
        let uv_dev = uv_dev_dependencies(&project.raw);
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

    fn poetry_difference(&self, project: &Project) -> Option<String> {
        let Some(hash) = &self.content_hash else {
            return self.names_difference(project, true);
        };
        let expected = poetry_content_hashes(&project.raw);
        (!expected.contains(hash)).then(|| {
            format!(
                "its content-hash `{hash}` is not the hash of `pyproject.toml` (`{}`)",
                expected[0]
            )
        })
    }

    /// Declared names missing from the lock: main dependencies without a
    /// marker, and with `everything`, extras and groups as well.
    fn names_difference(&self, project: &Project, everything: bool) -> Option<String> {
        let locked: BTreeSet<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        let mut declared: Vec<&Requirement> = project.dependencies.iter().collect();
        if everything {
            declared.extend(project.optional_dependencies.values().flatten());
            declared.extend(project.dependency_groups.values().flatten());
        } else {
            declared.retain(|r| r.marker.is_none());
        }
        declared
            .iter()
            .find(|r| !locked.contains(r.name.as_str()) && Some(&r.name) != project.name.as_ref())
            .map(|r| {
                format!(
                    "`{}` is declared in `pyproject.toml` but not locked",
                    r.name
                )
            })
    }
}

/// The names in `[tool.uv] dev-dependencies` (uv locks them as group `dev`).
fn uv_dev_dependencies(raw: &toml::Table) -> BTreeSet<String> {
    raw.get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|t| t.get("dev-dependencies"))
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter_map(|r| uv_pep508::Requirement::<uv_pep508::VerbatimUrl>::from_str(r).ok())
        .map(|r| r.name.to_string())
        .collect()
}

fn marker_tree(marker: Option<&str>) -> MarkerTree {
    marker
        .and_then(|m| MarkerTree::from_str(m).ok())
        .unwrap_or_default()
}

/// `name[extras] specifiers ; marker`, with specifiers sorted and the marker
/// in uv's canonical form.
fn canonical(
    name: &str,
    extras: &BTreeSet<String>,
    specifier: Option<&str>,
    marker: MarkerTree,
) -> String {
    let mut out = crate::normalize_name(name);
    if !extras.is_empty() {
        let extras: BTreeSet<String> = extras.iter().map(|e| crate::normalize_name(e)).collect();
        out.push_str(&format!(
            "[{}]",
            extras.into_iter().collect::<Vec<_>>().join(",")
        ));
    }
    if let Some(spec) = specifier.filter(|s| !s.trim().is_empty()) {
        let mut parts: Vec<String> = match uv_pep508::uv_pep440::VersionSpecifiers::from_str(spec) {
            Ok(specs) => specs.iter().map(ToString::to_string).collect(),
            Err(_) => vec![spec.to_string()],
        };
        parts.sort();
        out.push(' ');
        out.push_str(&parts.join(","));
    }
    if let Some(m) = marker.try_to_string() {
        out.push_str(" ; ");
        out.push_str(&m);
    }
    out
}

fn canonical_req(r: &Requirement) -> String {
    canonical(
        &r.name,
        &r.extras,
        r.specifier.as_deref(),
        marker_tree(r.marker.as_deref()),
    )
}

/// Canonical forms of uv.lock `requires-dist` entries.
fn locked_set(entries: &[toml::Value]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| {
            let t = e.as_table()?;
            let name = t.get("name")?.as_str()?;
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
            let specifier = t.get("specifier").and_then(|s| s.as_str());
            let marker = marker_tree(t.get("marker").and_then(|m| m.as_str()));
            Some(canonical(name, &extras, specifier, marker))
        })
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

/// The content hashes Poetry accepts for this `pyproject.toml`: the one it
/// writes (with `[dependency-groups]`), then the one without them that it
/// still reads. This follows `Locker._get_content_hash` of Poetry 2.5, whose
/// result for a `[tool.poetry]`-only project is also Poetry 1's.
pub(crate) fn poetry_content_hashes(raw: &toml::Table) -> Vec<String> {
    let mut hashes = vec![python_json_sha256(&poetry_relevant_content(raw, true))];
    let without = python_json_sha256(&poetry_relevant_content(raw, false));
    if without != hashes[0] {
        hashes.push(without);
    }
    hashes
}

fn poetry_relevant_content(raw: &toml::Table, with_groups: bool) -> serde_json::Value {
    const LEGACY: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];
    const PROJECT: [&str; 3] = ["requires-python", "dependencies", "optional-dependencies"];
    let empty = toml::Table::new();
    let table = |v: Option<&toml::Value>| v.and_then(|t| t.as_table()).unwrap_or(&empty).clone();
    let tool_poetry = table(raw.get("tool").and_then(|t| t.get("poetry")));
    let project = table(raw.get("project"));
    let groups = if with_groups {
        table(raw.get("dependency-groups"))
    } else {
        empty.clone()
    };

    let mut project_content = serde_json::Map::new();
    for key in PROJECT {
        if let Some(v) = project.get(key) {
            project_content.insert(key.to_string(), to_json(v));
        }
    }
    let mut poetry_content = serde_json::Map::new();
    for key in LEGACY.iter().chain(["group"].iter()) {
        match tool_poetry.get(*key) {
            Some(v) => {
                poetry_content.insert(key.to_string(), to_json(v));
            }
            None if LEGACY.contains(key) && project_content.is_empty() && groups.is_empty() => {
                poetry_content.insert(key.to_string(), serde_json::Value::Null);
            }
            None => {}
        }
    }
    let mut content = serde_json::Map::new();
    if !project_content.is_empty() {
        content.insert("project".into(), project_content.into());
    }
    if !groups.is_empty() {
        content.insert(
            "dependency-groups".into(),
            to_json(&toml::Value::Table(groups)),
        );
    }
    if content.is_empty() {
        return poetry_content.into();
    }
    content.insert(
        "tool".into(),
        serde_json::json!({ "poetry": poetry_content }),
    );
    content.into()
}

fn to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(to_json).collect(),
        toml::Value::Table(t) => t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    }
}

/// SHA-256 hex of `json.dumps(value, sort_keys=True)` as Python writes it:
/// `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
fn python_json_sha256(value: &serde_json::Value) -> String {
    let mut out = String::new();
    python_json(value, &mut out);
    hex::encode(Sha256::digest(out.as_bytes()))
}

fn python_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => python_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(v, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_string(k, out);
                out.push_str(": ");
                python_json(&o[k], out);
            }
            out.push('}');
        }
    }
}

fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_as_python_writes_it() {
        let v = serde_json::json!({"b": [1, true, null], "a": {"é": "tab\t\"q\" 🐍"}});
        let mut out = String::new();
        python_json(&v, &mut out);
        // python3 -c 'import json; print(json.dumps({"b": [1, True, None], "a": {"é": "tab\t\"q\" 🐍"}}, sort_keys=True))'
        assert_eq!(
            out,
            r#"{"a": {"\u00e9": "tab\t\"q\" \ud83d\udc0d"}, "b": [1, true, null]}"#
        );
    }

    #[test]
    fn poetry_one_hash_is_reproduced() {
        // The digest was computed with Python: sha256(json.dumps({"dependencies":
        // {"python": "^3.11", "requests": "^2.31"}, "source": None, "extras": None,
        // "dev-dependencies": None}, sort_keys=True).encode()).hexdigest()
        let raw: toml::Table = toml::from_str(
            "[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = \"^2.31\"\n",
        )
        .unwrap();
        assert_eq!(
            poetry_content_hashes(&raw),
            ["275deed8b37ad88cd4075f298c728769951d890bf70047162a26cd636d38c2d4".to_string()]
        );
    }
}
