//! Python versions, requests and constraints, parsed once into types.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use uv_pep440::{Version, VersionSpecifiers};

use crate::PythonError;

/// A CPython release: `3.12.7`, or a preview such as `3.15.0rc1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyVersion {
    /// The major version (3).
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch release.
    pub patch: u64,
    /// A pre-release suffix (`a1`, `b4`, `rc1`), `None` for a final release.
    pub pre: Option<String>,
}

impl PyVersion {
    /// A final release.
    pub fn new(major: u64, minor: u64, patch: u64) -> PyVersion {
        PyVersion {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    /// The upstream version of a Debian package version, e.g.
    /// `3.11.2-6+deb12u6` → `3.11.2`, `3.14.0~rc1-1` → `3.14.0rc1`.
    pub fn from_debian(version: &str) -> Option<PyVersion> {
        let upstream = version.split_once(':').map_or(version, |(_, v)| v);
        let upstream = upstream.split('-').next()?.replace('~', "");
        PyVersion::from_str(&upstream).ok()
    }

    /// `X.Y`.
    pub fn minor_string(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Whether this is a final release.
    pub fn is_final(&self) -> bool {
        self.pre.is_none()
    }

    /// The PEP 440 form, for checking against specifiers.
    pub(crate) fn pep440(&self) -> Version {
        Version::from_str(&self.to_string()).expect("a PyVersion is a PEP 440 version")
    }

    /// `(kind, number)` of the pre-release, ordered `a` < `b` < `rc` < final.
    fn pre_key(&self) -> (u8, u64) {
        match &self.pre {
            None => (3, 0),
            Some(p) => {
                let (kind, digits) = if let Some(d) = p.strip_prefix("rc") {
                    (2, d)
                } else if let Some(d) = p.strip_prefix('b') {
                    (1, d)
                } else {
                    (0, p.strip_prefix('a').unwrap_or(p))
                };
                (kind, digits.parse().unwrap_or(0))
            }
        }
    }
}

impl Ord for PyVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch, self.pre_key()).cmp(&(
            other.major,
            other.minor,
            other.patch,
            other.pre_key(),
        ))
    }
}

impl PartialOrd for PyVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            f.write_str(pre)?;
        }
        Ok(())
    }
}

impl Serialize for PyVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for PyVersion {
    type Err = ();

    /// `X.Y.Z`, optionally followed by `aN`, `bN` or `rcN`.
    fn from_str(s: &str) -> Result<PyVersion, ()> {
        let mut parts = s.splitn(3, '.');
        let major = number(parts.next().ok_or(())?)?;
        let minor = number(parts.next().ok_or(())?)?;
        let rest = parts.next().ok_or(())?;
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let patch = number(&rest[..split])?;
        let pre = &rest[split..];
        let pre = if pre.is_empty() {
            None
        } else {
            let digits = pre
                .strip_prefix("rc")
                .or_else(|| pre.strip_prefix('a'))
                .or_else(|| pre.strip_prefix('b'))
                .ok_or(())?;
            number(digits)?;
            Some(pre.to_string())
        };
        Ok(PyVersion {
            major,
            minor,
            patch,
            pre,
        })
    }
}

/// A decimal number of at most 4 digits, with no sign or leading `+`.
fn number(s: &str) -> Result<u64, ()> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    s.parse().map_err(|_| ())
}

/// What a user asked for: a minor version, or an exact patch release.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PythonRequest {
    /// `3.12`: the newest patch release a provider has.
    Minor {
        /// The major version (3).
        major: u64,
        /// The minor version.
        minor: u64,
    },
    /// `3.12.7` or `cpython-3.12.7`: exactly this release.
    Exact(PyVersion),
}

impl PythonRequest {
    /// Parses `3.12`, `3.12.7`, `cpython-3.12.7` (also `cpython3.12`,
    /// `cpython@3.12` and `python3.12`, as uv and pyenv write them).
    /// `source_name` names where it comes from in the error.
    pub fn parse(value: &str, source_name: &str) -> Result<PythonRequest, PythonError> {
        Self::parse_inner(value.trim()).ok_or_else(|| PythonError::BadRequest {
            value: value.chars().take(80).collect(),
            source_name: source_name.to_string(),
        })
    }

    fn parse_inner(value: &str) -> Option<PythonRequest> {
        let bare = ["cpython-", "cpython@", "cpython", "python"]
            .iter()
            .find_map(|p| value.strip_prefix(p))
            .unwrap_or(value);
        if bare.matches('.').count() == 1 {
            let (major, minor) = bare.split_once('.')?;
            let (major, minor) = (number(major).ok()?, number(minor).ok()?);
            return (major == 3).then_some(PythonRequest::Minor { major, minor });
        }
        let version = PyVersion::from_str(bare).ok()?;
        (version.major == 3).then_some(PythonRequest::Exact(version))
    }

    /// `(major, minor)`.
    pub fn minor_pair(&self) -> (u64, u64) {
        match self {
            PythonRequest::Minor { major, minor } => (*major, *minor),
            PythonRequest::Exact(v) => (v.major, v.minor),
        }
    }

    /// Whether `version` is what this asks for.
    pub fn matches(&self, version: &PyVersion) -> bool {
        match self {
            PythonRequest::Minor { major, minor } => {
                version.major == *major && version.minor == *minor
            }
            PythonRequest::Exact(v) => v == version,
        }
    }
}

impl fmt::Display for PythonRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PythonRequest::Minor { major, minor } => write!(f, "{major}.{minor}"),
            PythonRequest::Exact(v) => v.fmt(f),
        }
    }
}

impl Serialize for PythonRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The request in a `.python-version` file (uv's and pyenv's format): the
/// first line that is a CPython version. Blank lines, `#` comments and lines
/// naming other interpreters (`pypy3.10`, `system`) are skipped.
pub fn parse_python_version_file(text: &str) -> Option<PythonRequest> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(PythonRequest::parse_inner)
}

/// Reads `.python-version` in `dir`, when there is one (see
/// [`parse_python_version_file`]).
pub fn read_python_version_file(
    dir: &std::path::Path,
) -> Result<Option<PythonRequest>, PythonError> {
    let path = dir.join(".python-version");
    match fs_err::read_to_string(&path) {
        Ok(text) => Ok(parse_python_version_file(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PythonError::io(&path)(e)),
    }
}

/// Where a version constraint is declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConstraintSource {
    /// `[project] requires-python` in `pyproject.toml`.
    Pyproject,
    /// `python` in `[tool.poetry.dependencies]`.
    Poetry,
    /// The lock's own `requires-python` (`uv.lock`, `poetry.lock`'s
    /// `python-versions`, `pylock.toml`).
    Lock {
        /// The lock's file name, e.g. `uv.lock`.
        file: String,
    },
    /// The `Requires-Python` of a pinned package's files (the simple
    /// index's `data-requires-python`, PEP 691's `requires-python`), for a
    /// lock that records no files of its own (`requirements.txt`).
    Package {
        /// The package's normalised name.
        name: String,
        /// Its pinned version.
        version: String,
    },
}

/// A declared range of Python versions.
#[derive(Debug, Clone, Serialize)]
pub struct PythonConstraint {
    /// Where it is declared.
    pub source: ConstraintSource,
    /// The constraint as written.
    pub text: String,
    /// Alternatives (Poetry's `||`); each a PEP 440 specifier set.
    #[serde(skip)]
    alternatives: Vec<VersionSpecifiers>,
}

impl PythonConstraint {
    /// A PEP 440 specifier set (`requires-python`; `python-versions` of a
    /// lock written by Poetry goes through [`PythonConstraint::poetry`]).
    pub fn pep440(source: ConstraintSource, text: &str) -> Result<PythonConstraint, PythonError> {
        let specifiers =
            VersionSpecifiers::from_str(text.trim()).map_err(|e| PythonError::BadConstraint {
                value: text.chars().take(120).collect(),
                source_name: source_name(&source),
                reason: e.to_string(),
            })?;
        Ok(PythonConstraint {
            source,
            text: text.trim().to_string(),
            alternatives: vec![specifiers],
        })
    }

    /// A constraint in the syntax its source uses: Poetry's for
    /// [`ConstraintSource::Poetry`] and `poetry.lock`, PEP 440 for the rest,
    /// falling back to Poetry's (a `requires-python` that lockship-project
    /// took from `[tool.poetry.dependencies]` is written in it).
    pub fn parse(source: ConstraintSource, text: &str) -> Result<PythonConstraint, PythonError> {
        let poetry = match &source {
            ConstraintSource::Poetry => true,
            ConstraintSource::Lock { file } => file == "poetry.lock",
            ConstraintSource::Pyproject | ConstraintSource::Package { .. } => false,
        };
        if poetry {
            return PythonConstraint::poetry(source, text);
        }
        PythonConstraint::pep440(source.clone(), text)
            .or_else(|e| PythonConstraint::poetry(source, text).map_err(|_| e))
    }

    /// Poetry's syntax: `^3.11`, `~3.11`, `>=3.11,<4.0`, `3.11.*`, `*`,
    /// alternatives joined with `||`.
    pub fn poetry(source: ConstraintSource, text: &str) -> Result<PythonConstraint, PythonError> {
        let bad = |reason: String| PythonError::BadConstraint {
            value: text.chars().take(120).collect(),
            source_name: source_name(&source),
            reason,
        };
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let mut parts = Vec::new();
            for c in alternative
                .split(|ch: char| ch == ',' || ch.is_whitespace())
                .filter(|c| !c.is_empty())
            {
                parts.extend(poetry_one(c).map_err(&bad)?);
            }
            let specifiers =
                VersionSpecifiers::from_str(&parts.join(",")).map_err(|e| bad(e.to_string()))?;
            alternatives.push(specifiers);
        }
        if alternatives.is_empty() {
            return Err(bad("it is empty".into()));
        }
        Ok(PythonConstraint {
            source,
            text: text.trim().to_string(),
            alternatives,
        })
    }

    /// Whether `version` satisfies this constraint. Pre-releases are
    /// compared by their release numbers (`3.15.0rc1` is in `>=3.15`).
    pub fn contains(&self, version: &PyVersion) -> bool {
        let v = PyVersion::new(version.major, version.minor, version.patch).pep440();
        self.alternatives.iter().any(|s| s.contains(&v))
    }

    /// Whether some patch release of `major.minor` satisfies this constraint.
    pub fn allows_minor(&self, major: u64, minor: u64) -> bool {
        (0..=99).any(|patch| self.contains(&PyVersion::new(major, minor, patch)))
    }

    /// `requires-python >=3.13 in pyproject.toml`, for messages.
    pub fn describe(&self) -> String {
        match &self.source {
            ConstraintSource::Pyproject => {
                format!("requires-python {} in pyproject.toml", self.text)
            }
            ConstraintSource::Poetry => {
                format!("python {} in [tool.poetry.dependencies]", self.text)
            }
            ConstraintSource::Lock { file } => format!("requires-python {} in {file}", self.text),
            ConstraintSource::Package { name, version } => {
                format!("{name} {version} requires Python {}", self.text)
            }
        }
    }

    /// Any of several PEP 440 specifier sets, e.g. the `Requires-Python`
    /// of each file of one release: a version is allowed when one of them
    /// allows it. Empty texts allow every version.
    pub fn any_of(
        source: ConstraintSource,
        texts: &[&str],
    ) -> Result<PythonConstraint, PythonError> {
        let mut alternatives = Vec::new();
        let mut shown: Vec<String> = Vec::new();
        for text in texts {
            let one = PythonConstraint::pep440(source.clone(), text)?;
            if !shown.contains(&one.text) {
                shown.push(one.text);
                alternatives.extend(one.alternatives);
            }
        }
        if alternatives.is_empty() {
            alternatives.push(VersionSpecifiers::empty());
        }
        Ok(PythonConstraint {
            source,
            text: shown.join(" || "),
            alternatives,
        })
    }
}

fn source_name(source: &ConstraintSource) -> String {
    match source {
        ConstraintSource::Pyproject => "`requires-python` in pyproject.toml".into(),
        ConstraintSource::Poetry => "`python` in `[tool.poetry.dependencies]`".into(),
        ConstraintSource::Lock { file } => format!("`requires-python` in {file}"),
        ConstraintSource::Package { name, version } => {
            format!("`Requires-Python` of {name} {version}")
        }
    }
}

/// One Poetry constraint as PEP 440 specifiers.
fn poetry_one(c: &str) -> Result<Vec<String>, String> {
    if c == "*" {
        return Ok(Vec::new());
    }
    let caret_or_tilde = |v: &str, tilde: bool| -> Result<Vec<String>, String> {
        let parts: Vec<u64> = v
            .split('.')
            .map(|p| number(p).map_err(|_| format!("`{v}` is not a version")))
            .collect::<Result<_, _>>()?;
        let index = if tilde {
            usize::from(parts.len() > 1)
        } else {
            parts
                .iter()
                .position(|&p| p != 0)
                .unwrap_or(parts.len() - 1)
        };
        let mut upper: Vec<u64> = parts.iter().take(index + 1).copied().collect();
        upper[index] += 1;
        let upper: Vec<String> = upper.iter().map(u64::to_string).collect();
        Ok(vec![format!(">={v}"), format!("<{}", upper.join("."))])
    };
    if let Some(v) = c.strip_prefix('^') {
        return caret_or_tilde(v, false);
    }
    if c.starts_with("~=") {
        return Ok(vec![c.to_string()]);
    }
    if let Some(v) = c.strip_prefix('~') {
        return caret_or_tilde(v, true);
    }
    if [">", "<", "=", "!"].iter().any(|op| c.starts_with(op)) {
        return Ok(vec![c.to_string()]);
    }
    Ok(vec![format!("=={c}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> PythonRequest {
        PythonRequest::parse(s, "test").unwrap()
    }

    #[test]
    fn requests_in_every_accepted_spelling() {
        assert_eq!(
            req("3.12"),
            PythonRequest::Minor {
                major: 3,
                minor: 12
            }
        );
        assert_eq!(
            req("3.12.7"),
            PythonRequest::Exact(PyVersion::new(3, 12, 7))
        );
        assert_eq!(req("cpython-3.12.7"), req("3.12.7"));
        assert_eq!(req("cpython@3.12"), req("3.12"));
        assert_eq!(req(" python3.13 "), req("3.13"));
        assert_eq!(req("3.15.0rc1").to_string(), "3.15.0rc1");
    }

    #[test]
    fn other_requests_are_refused_with_a_hint() {
        for bad in [
            "3",
            "pypy-3.10",
            "2.7",
            "3.12.x",
            "3.12.7.1",
            ">=3.12",
            "",
            "3.-1",
        ] {
            let err = PythonRequest::parse(bad, "`--python`").unwrap_err();
            assert!(matches!(err, PythonError::BadRequest { .. }), "{bad}");
            assert!(err.hint().unwrap().contains("cpython-3.12.7"));
        }
    }

    #[test]
    fn python_version_file_takes_the_first_usable_line() {
        assert_eq!(
            parse_python_version_file("# pinned\n\npypy3.10\n3.12\n3.11\n"),
            Some(req("3.12"))
        );
        assert_eq!(
            parse_python_version_file("cpython-3.12.7\n"),
            Some(req("3.12.7"))
        );
        assert_eq!(parse_python_version_file("system\n"), None);
    }

    #[test]
    fn debian_versions_give_their_upstream_release() {
        assert_eq!(
            PyVersion::from_debian("3.11.2-6+deb12u6"),
            Some(PyVersion::new(3, 11, 2))
        );
        assert_eq!(
            PyVersion::from_debian("1:3.14.0~rc1-1")
                .unwrap()
                .to_string(),
            "3.14.0rc1"
        );
        assert_eq!(PyVersion::from_debian("3.13"), None);
    }

    #[test]
    fn constraints_parse_in_their_source_syntax() {
        let poetry_lock = ConstraintSource::Lock {
            file: "poetry.lock".into(),
        };
        let v = PyVersion::new(3, 12, 1);
        assert!(PythonConstraint::parse(poetry_lock, "^3.11")
            .unwrap()
            .contains(&v));
        // lockship-project merges Poetry's `python` into `requires-python`.
        assert!(
            PythonConstraint::parse(ConstraintSource::Pyproject, "^3.12")
                .unwrap()
                .contains(&v)
        );
        let err = PythonConstraint::parse(ConstraintSource::Pyproject, ">=x").unwrap_err();
        assert!(matches!(err, PythonError::BadConstraint { .. }));
    }

    #[test]
    fn python_version_file_is_read_from_the_project() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_python_version_file(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join(".python-version"), "3.12\n").unwrap();
        assert_eq!(
            read_python_version_file(dir.path()).unwrap(),
            Some(req("3.12"))
        );
    }

    #[test]
    fn versions_order_previews_before_finals() {
        let v = |s: &str| PyVersion::from_str(s).unwrap();
        assert!(v("3.15.0a1") < v("3.15.0b4"));
        assert!(v("3.15.0b4") < v("3.15.0rc1"));
        assert!(v("3.15.0rc1") < v("3.15.0"));
        assert!(v("3.12.10") > v("3.12.9"));
    }

    #[test]
    fn poetry_constraints_become_ranges() {
        let c = |s: &str| PythonConstraint::poetry(ConstraintSource::Poetry, s).unwrap();
        let v = |s: &str| PyVersion::from_str(s).unwrap();
        assert!(c("^3.11").contains(&v("3.13.1")));
        assert!(!c("^3.11").contains(&v("3.10.9")));
        assert!(c("~3.11").contains(&v("3.11.9")));
        assert!(!c("~3.11").contains(&v("3.12.0")));
        assert!(c(">=3.10,<3.13").contains(&v("3.12.7")));
        assert!(c("3.11.* || 3.13.*").contains(&v("3.13.0")));
        assert!(!c("3.11.* || 3.13.*").contains(&v("3.12.0")));
        assert!(c("*").contains(&v("3.14.0")));
        assert!(PythonConstraint::poetry(ConstraintSource::Poetry, "^three").is_err());
    }

    #[test]
    fn constraints_describe_where_they_come_from() {
        let c = PythonConstraint::pep440(ConstraintSource::Pyproject, ">=3.13,<3.14").unwrap();
        assert_eq!(
            c.describe(),
            "requires-python >=3.13,<3.14 in pyproject.toml"
        );
        assert!(c.allows_minor(3, 13));
        assert!(!c.allows_minor(3, 12));
        let err = PythonConstraint::pep440(ConstraintSource::Pyproject, ">=three").unwrap_err();
        assert!(err.to_string().contains("`>=three`"), "{err}");
    }
}
