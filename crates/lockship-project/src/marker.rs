//! The target environment, and marker evaluation against it.

use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use uv_normalize::{ExtraName, GroupName};
use uv_pep508::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

use crate::ProjectError;

/// The environment an image runs in, as PEP 508 markers see it.
///
/// [`MarkerEnv::linux`] fills in everything a CPython on Linux reports; the
/// fields are public so any of them can be changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkerEnv {
    /// `python_full_version`, e.g. `3.11.9`; `python_version` is derived from it.
    pub python_full_version: String,
    /// `implementation_name`, e.g. `cpython`.
    pub implementation_name: String,
    /// `platform_python_implementation`, e.g. `CPython`.
    pub platform_python_implementation: String,
    /// `sys_platform`, e.g. `linux`.
    pub sys_platform: String,
    /// `platform_machine`: `x86_64`, `aarch64` or `armv7l`.
    pub platform_machine: String,
    /// `os_name`, e.g. `posix`.
    pub os_name: String,
    /// `platform_system`, e.g. `Linux`.
    pub platform_system: String,
    /// `platform_release` (the kernel release; empty when unknown).
    pub platform_release: String,
    /// `platform_version` (empty when unknown).
    pub platform_version: String,
}

impl MarkerEnv {
    /// CPython `python_full_version` on Linux, on the machine `platform_machine`
    /// (`x86_64`, `aarch64`, `armv7l`).
    pub fn linux(python_full_version: &str, platform_machine: &str) -> Self {
        Self {
            python_full_version: python_full_version.to_string(),
            implementation_name: "cpython".into(),
            platform_python_implementation: "CPython".into(),
            sys_platform: "linux".into(),
            platform_machine: platform_machine.to_string(),
            os_name: "posix".into(),
            platform_system: "Linux".into(),
            platform_release: String::new(),
            platform_version: String::new(),
        }
    }

    /// `python_version`: the first two components of `python_full_version`.
    pub fn python_version(&self) -> String {
        self.python_full_version
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".")
    }

    pub(crate) fn to_uv(&self) -> Result<MarkerEnvironment, ProjectError> {
        let python_version = self.python_version();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &self.implementation_name,
            implementation_version: &self.python_full_version,
            os_name: &self.os_name,
            platform_machine: &self.platform_machine,
            platform_python_implementation: &self.platform_python_implementation,
            platform_release: &self.platform_release,
            platform_system: &self.platform_system,
            platform_version: &self.platform_version,
            python_full_version: &self.python_full_version,
            python_version: &python_version,
            sys_platform: &self.sys_platform,
        })
        .map_err(|_| ProjectError::InvalidPythonVersion {
            version: self.python_full_version.clone(),
        })
    }
}

/// Evaluates markers of one file against one environment.
pub(crate) struct Evaluator<'a> {
    pub env: MarkerEnvironment,
    pub path: &'a Path,
}

impl Evaluator<'_> {
    /// Whether `marker` (of `package`) holds with `extras` active; no marker holds.
    pub fn holds(
        &self,
        package: &str,
        marker: Option<&str>,
        extras: &[String],
    ) -> Result<bool, ProjectError> {
        let Some(tree) = self.parse(package, marker)? else {
            return Ok(true);
        };
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        Ok(tree.evaluate(&self.env, &extras))
    }

    /// PEP 751 evaluation, with `extras` and `dependency_groups` as sets.
    pub fn holds_pep751(
        &self,
        package: &str,
        marker: Option<&str>,
        extras: &[String],
        groups: &[String],
    ) -> Result<bool, ProjectError> {
        let Some(tree) = self.parse(package, marker)? else {
            return Ok(true);
        };
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        let groups: Vec<GroupName> = groups
            .iter()
            .filter_map(|g| GroupName::from_str(g).ok())
            .collect();
        Ok(tree.evaluate_pep751(&self.env, &extras, &groups))
    }

    fn parse(
        &self,
        package: &str,
        marker: Option<&str>,
    ) -> Result<Option<MarkerTree>, ProjectError> {
        match marker.map(str::trim) {
            None | Some("") => Ok(None),
            Some(m) => parse_marker(self.path, package, m).map(Some),
        }
    }
}

/// Parse a marker, naming the file and package in the error.
pub(crate) fn parse_marker(
    path: &Path,
    package: &str,
    marker: &str,
) -> Result<MarkerTree, ProjectError> {
    MarkerTree::from_str(marker).map_err(|e| ProjectError::Marker {
        path: path.to_path_buf(),
        package: package.to_string(),
        marker: marker.to_string(),
        message: e.to_string(),
    })
}

/// Turn a Poetry `python = "..."` constraint (`^3.8`, `~3.9`, `>=3.8,<3.11`,
/// `3.9.*`, `||` alternatives) into a PEP 508 marker; `None` for `*`.
pub(crate) fn poetry_python_marker(constraint: &str) -> Option<String> {
    let mut alternatives = Vec::new();
    for alternative in constraint.split("||") {
        let mut parts = Vec::new();
        for c in alternative
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|c| !c.is_empty())
        {
            parts.extend(poetry_one(c));
        }
        if parts.is_empty() {
            return None; // one alternative allows everything
        }
        alternatives.push(parts.join(" and "));
    }
    match alternatives.len() {
        0 => None,
        1 => alternatives.pop(),
        _ => Some(
            alternatives
                .iter()
                .map(|a| format!("({a})"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
    }
}

fn poetry_one(c: &str) -> Vec<String> {
    let m = |op: &str, v: &str| format!("python_full_version {op} '{v}'");
    if c == "*" {
        return Vec::new();
    }
    if let Some(v) = c.strip_prefix('^') {
        let parts: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        let first_nonzero = parts
            .iter()
            .position(|&p| p != 0)
            .unwrap_or(parts.len().saturating_sub(1));
        let upper = bump(&parts, first_nonzero.min(parts.len().saturating_sub(1)));
        return vec![m(">=", v), m("<", &upper)];
    }
    if let Some(v) = c.strip_prefix("~=") {
        return vec![m("~=", v)];
    }
    if let Some(v) = c.strip_prefix('~') {
        let parts: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        let upper = bump(&parts, if parts.len() > 1 { 1 } else { 0 });
        return vec![m(">=", v), m("<", &upper)];
    }
    for op in [">=", "<=", "!=", "==", ">", "<"] {
        if let Some(v) = c.strip_prefix(op) {
            return vec![m(op, v.trim())];
        }
    }
    vec![m("==", c)]
}

/// `parts` with component `index` incremented and the rest dropped.
fn bump(parts: &[u64], index: usize) -> String {
    let mut out: Vec<u64> = parts.iter().take(index + 1).copied().collect();
    if let Some(last) = out.last_mut() {
        *last += 1;
    }
    out.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_constraints_become_markers() {
        assert_eq!(poetry_python_marker("*"), None);
        assert_eq!(
            poetry_python_marker("^3.8").as_deref(),
            Some("python_full_version >= '3.8' and python_full_version < '4'")
        );
        assert_eq!(
            poetry_python_marker("^0.2").as_deref(),
            Some("python_full_version >= '0.2' and python_full_version < '0.3'")
        );
        assert_eq!(
            poetry_python_marker("~3.9").as_deref(),
            Some("python_full_version >= '3.9' and python_full_version < '3.10'")
        );
        assert_eq!(
            poetry_python_marker(">=3.8,<3.10").as_deref(),
            Some("python_full_version >= '3.8' and python_full_version < '3.10'")
        );
        assert_eq!(
            poetry_python_marker("<3.9 || >=3.12").as_deref(),
            Some("(python_full_version < '3.9') or (python_full_version >= '3.12')")
        );
    }

    #[test]
    fn markers_evaluate_for_linux() {
        let path = Path::new("uv.lock");
        let eval = Evaluator {
            env: MarkerEnv::linux("3.11.9", "aarch64").to_uv().unwrap(),
            path,
        };
        let yes = |m: &str| eval.holds("p", Some(m), &[]).unwrap();
        assert!(yes(
            "sys_platform == 'linux' and platform_machine == 'aarch64'"
        ));
        assert!(!yes("sys_platform == 'win32'"));
        assert!(!yes("python_version < '3.10'"));
        assert!(yes("python_full_version >= '3.11.9'"));
        assert!(!yes("extra == 'socks'"));
        assert!(eval
            .holds("p", Some("extra == 'socks'"), &["socks".into()])
            .unwrap());
        let m = poetry_python_marker("^3.8").unwrap();
        assert!(yes(&m));
        assert!(!yes(&poetry_python_marker("~3.9").unwrap()));
        assert!(eval.holds("p", Some("bad marker ==="), &[]).is_err());
        assert!(MarkerEnv::linux("three", "x86_64").to_uv().is_err());
    }
}
