//! Whether a lockfile still matches `pyproject.toml`.
//!
//! - `uv.lock`: as `uv lock --check` decides it; see [`crate::stale_uv`].
//!   The project's own entry's edges must also name only declared packages.
//! - `poetry.lock`: `metadata.content-hash` is recomputed as Poetry 2.5 does
//!   (SHA-256 of `json.dumps(relevant_sections, sort_keys=True)` over
//!   `[project]` `requires-python`/`dependencies`/`optional-dependencies`,
//!   `[dependency-groups]`, and `[tool.poetry]` `dependencies`, `source`,
//!   `extras`, `dev-dependencies`, `group`), which for a `[tool.poetry]`-only
//!   project is also Poetry 1's hash. A lock without a content-hash is
//!   checked by dependency names instead.
//! - `pdm.lock`: `metadata.content_hash` is recomputed as PDM does
//!   ([`crate::pdm_lock::content_hashes`]); without one, by names.
//! - `Pipfile.lock`: `_meta.hash.sha256` is recomputed from the `Pipfile`
//!   next to it as pipenv does ([`crate::pipfile_lock::content_hashes`]);
//!   with no `Pipfile` there, by names.
//! - `pylock.toml` and `requirements.txt` carry no record of their inputs:
//!   only main dependencies without a marker are checked to be present.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::model::{Lock, LockKind};
use crate::{Project, ProjectError, Requirement};

impl Lock {
    /// Refuse a lock that no longer matches `project` with
    /// [`ProjectError::StaleLock`]; see the module docs for what is compared.
    pub fn check_fresh(&self, project: &Project) -> Result<(), ProjectError> {
        let reason = match self.kind {
            LockKind::Uv => self.uv_difference(project),
            LockKind::Poetry => self.poetry_difference(project),
            LockKind::Pdm => self.pdm_difference(project),
            LockKind::Pipenv => self.pipenv_difference(project)?,
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

    fn pdm_difference(&self, project: &Project) -> Option<String> {
        let Some(hash) = &self.content_hash else {
            return self.names_difference(project, true);
        };
        let expected = crate::pdm_lock::content_hashes(&project.raw);
        (!expected.contains(hash)).then(|| {
            format!(
                "its content_hash `sha256:{hash}` is not the hash of `pyproject.toml` (`sha256:{}`)",
                expected[0]
            )
        })
    }

    /// The Pipfile next to the lock, hashed as pipenv does; no Pipfile, no check.
    fn pipenv_difference(&self, project: &Project) -> Result<Option<String>, ProjectError> {
        let pipfile = crate::dir_of(&self.path).join("Pipfile");
        let (Some(hash), true) = (&self.content_hash, pipfile.is_file()) else {
            return Ok(self.names_difference(project, false));
        };
        let text = crate::error::read(&pipfile)?;
        let table: toml::Table = crate::error::parse_toml(&pipfile, &text)?;
        let expected = crate::pipfile_lock::content_hashes(&table, self.pipfile_sources.as_ref());
        Ok((!expected.contains(hash)).then(|| {
            format!(
                "its `_meta.hash.sha256` `{hash}` is not the hash of `{}` (`{}`)",
                pipfile.display(),
                expected[0]
            )
        }))
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

/// The content hashes Poetry accepts for this `pyproject.toml`: the one it
/// writes (with `[dependency-groups]`), then the one without them that it
/// still reads. This follows `Locker._get_content_hash` of Poetry 2.5, whose
/// result for a `[tool.poetry]`-only project is also Poetry 1's.
pub(crate) fn poetry_content_hashes(raw: &toml::Table) -> Vec<String> {
    let mut hashes = vec![python_json_sha256(
        &poetry_relevant_content(raw, true),
        false,
    )];
    let without = python_json_sha256(&poetry_relevant_content(raw, false), false);
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

pub(crate) fn to_json(value: &toml::Value) -> serde_json::Value {
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
/// `", "` and `": "` separators (`","` and `":"` when `compact`), non-ASCII
/// escaped as `\uXXXX`.
pub(crate) fn python_json_sha256(value: &serde_json::Value, compact: bool) -> String {
    let mut out = String::new();
    python_json_with(value, &mut out, compact);
    hex::encode(Sha256::digest(out.as_bytes()))
}

#[cfg(test)]
fn python_json(value: &serde_json::Value, out: &mut String) {
    python_json_with(value, out, false)
}

fn python_json_with(value: &serde_json::Value, out: &mut String, compact: bool) {
    use serde_json::Value;
    let (item, key) = if compact { (",", ":") } else { (", ", ": ") };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => python_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                python_json_with(v, out, compact);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                python_string(k, out);
                out.push_str(key);
                python_json_with(&o[k], out, compact);
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
