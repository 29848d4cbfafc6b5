//! Which Python an image gets: the request, the constraints, the providers.
//!
//! The sources, in order: `--python`, `[tool.lockship] python`,
//! `.python-version`; then the ranges declared by `requires-python` in
//! `[project]`, Poetry's `python` dependency and the lock's own
//! `requires-python`. [`select_python`] applies the rules of issue 13:
//!
//! - a request must agree with every declared range, or the choice stops
//!   naming both;
//! - an exact patch release that no provider has is an error listing what
//!   exists, never a silent substitute;
//! - with only ranges, the candidates are the final releases inside every
//!   range for which the lock has a wheel (or sdist) for every package; of
//!   those, the newest Debian provides, else the newest standalone build;
//! - `python-source` restricts the providers to one.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::version::{PyVersion, PythonConstraint, PythonRequest};
use crate::PythonError;

/// Which provider the user forces (`--python-source`, `[tool.lockship]
/// python-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PythonSource {
    /// Debian's Python packages.
    Debian,
    /// python-build-standalone's CPython builds.
    Standalone,
}

impl FromStr for PythonSource {
    type Err = PythonError;
    fn from_str(s: &str) -> Result<PythonSource, PythonError> {
        match s.trim() {
            "debian" => Ok(PythonSource::Debian),
            "standalone" => Ok(PythonSource::Standalone),
            other => Err(PythonError::BadSource {
                value: other.chars().take(40).collect(),
            }),
        }
    }
}

/// Where a Python comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Provider {
    /// A Debian suite's `python3` packages.
    Debian {
        /// The suite, e.g. `trixie`.
        suite: String,
    },
    /// A python-build-standalone release.
    Standalone {
        /// The release tag, e.g. `20241016`.
        release_tag: String,
    },
}

impl Provider {
    /// The kind of provider.
    pub fn source(&self) -> PythonSource {
        match self {
            Provider::Debian { .. } => PythonSource::Debian,
            Provider::Standalone { .. } => PythonSource::Standalone,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Debian { suite } => write!(f, "Debian {suite}"),
            Provider::Standalone { release_tag } => {
                write!(f, "python-build-standalone {release_tag}")
            }
        }
    }
}

impl fmt::Display for PythonSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PythonSource::Debian => "debian",
            PythonSource::Standalone => "standalone",
        })
    }
}

/// One version a provider has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// The version.
    pub version: PyVersion,
    /// Who has it.
    pub provider: Provider,
}

impl Offer {
    fn shown(&self) -> String {
        format!("{} ({})", self.version, self.provider)
    }
}

/// Where a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestOrigin {
    /// `--python`.
    Flag,
    /// `[tool.lockship] python`.
    Tool,
    /// `.python-version`.
    VersionFile,
    /// The build's default, when nothing declares a version.
    Default,
}

impl RequestOrigin {
    fn describe(self, request: &PythonRequest) -> String {
        match self {
            RequestOrigin::Flag => format!("--python {request}"),
            RequestOrigin::Tool => format!("python = {request} in [tool.lockship]"),
            RequestOrigin::VersionFile => format!("{request} in .python-version"),
            RequestOrigin::Default => format!("{request}, the default; nothing declares a version"),
        }
    }
}

/// Everything the project and the user say about the Python version. The
/// caller reads the files; this crate only judges.
#[derive(Debug, Clone, Default)]
pub struct PythonInputs {
    /// `--python`.
    pub flag: Option<PythonRequest>,
    /// `[tool.lockship] python`.
    pub tool: Option<PythonRequest>,
    /// `.python-version` (see [`crate::parse_python_version_file`]).
    pub version_file: Option<PythonRequest>,
    /// `requires-python`, Poetry's `python`, the lock's `requires-python`.
    pub constraints: Vec<PythonConstraint>,
    /// What pinned packages imply ([`crate::ConstraintSource::Package`]):
    /// their files' `Requires-Python`, for a lock that records no files.
    /// They bind like `constraints`, but do not count as the project
    /// declaring a version: the default still applies when they allow it,
    /// and only those that rule a version out are named in the reason.
    pub implied: Vec<PythonConstraint>,
    /// `--python-source` or `[tool.lockship] python-source`.
    pub source: Option<PythonSource>,
    /// What to take when nothing at all declares a version (no request and
    /// no constraint); `None` takes the newest, by the range rule.
    pub default: Option<PythonRequest>,
}

impl PythonInputs {
    /// The request that wins, and where it comes from.
    pub fn request(&self) -> Option<(&PythonRequest, RequestOrigin)> {
        [
            (self.flag.as_ref(), RequestOrigin::Flag),
            (self.tool.as_ref(), RequestOrigin::Tool),
            (self.version_file.as_ref(), RequestOrigin::VersionFile),
        ]
        .into_iter()
        .find_map(|(r, o)| r.map(|r| (r, o)))
        .or_else(|| {
            if self.constraints.is_empty() {
                self.default
                    .as_ref()
                    .filter(|r| self.implied.iter().all(|c| request_agrees(r, c)))
                    .map(|r| (r, RequestOrigin::Default))
            } else {
                None
            }
        })
    }

    /// Whether some release of `major.minor` is inside every declared and
    /// implied range.
    pub fn allows_minor(&self, major: u64, minor: u64) -> bool {
        allows_minor(self, major, minor)
    }

    /// The declared ranges, then the implied ones.
    fn all_constraints(&self) -> impl Iterator<Item = &PythonConstraint> {
        self.constraints.iter().chain(&self.implied)
    }

    fn constraints_text(&self) -> String {
        if self.constraints.is_empty() && self.implied.is_empty() {
            return "any version".into();
        }
        self.all_constraints()
            .map(PythonConstraint::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn allows(&self, version: &PyVersion) -> bool {
        self.all_constraints().all(|c| c.contains(version))
    }

    /// Why a version was chosen from the ranges: the declared ranges, and
    /// the implied ones that rule out the default or `would_be`, the offer
    /// the declared ranges alone would have chosen (at most three named).
    fn range_reason(&self, would_be: Option<&Offer>) -> String {
        let dropped_default = self
            .default
            .as_ref()
            .filter(|_| self.constraints.is_empty());
        let binding: Vec<String> = self
            .implied
            .iter()
            .filter(|c| {
                dropped_default.is_some_and(|d| !request_agrees(d, c))
                    || would_be.is_some_and(|o| !c.contains(&o.version))
            })
            .map(PythonConstraint::describe)
            .collect();
        let mut parts: Vec<String> = self
            .constraints
            .iter()
            .map(PythonConstraint::describe)
            .collect();
        parts.extend(binding.iter().take(3).cloned());
        if binding.len() > 3 {
            parts.push(format!("{} more packages", binding.len() - 3));
        }
        if parts.is_empty() {
            return "the newest available; nothing declares a version".into();
        }
        if let Some(default) = dropped_default {
            parts.push(format!("so not the default {default}"));
        }
        parts.join("; ")
    }
}

/// The Python an image gets, and why. Serialised in `--json` and shown by
/// `lockship plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonChoice {
    /// The version.
    pub version: PyVersion,
    /// Who provides it.
    pub provider: Provider,
    /// The request that decided it, when one did.
    pub request: Option<PythonRequest>,
    /// Where that request comes from.
    pub origin: Option<RequestOrigin>,
    /// One line: `Python 3.13.5 (requires-python >=3.13,<3.14 in pyproject.toml)`.
    pub reason: String,
}

impl PythonChoice {
    /// `X.Y`, e.g. for `python:X.Y-slim`.
    pub fn minor(&self) -> String {
        self.version.minor_string()
    }
}

/// Chooses the Python: the request if there is one (it must agree with
/// every range; an exact patch release must exist), else the newest final
/// release inside every range that fits the lock, Debian's first.
///
/// `offers` are the versions the providers have for the target platform:
/// Debian's per suite (the caller knows them) and the standalone builds of
/// [`crate::Catalogue::offers`]. `fits_lock` says whether every locked
/// package has a compatible wheel (or an sdist, when sdist builds are
/// allowed) for a version; it is asked only when the choice is made from
/// ranges, never against an explicit request.
///
/// # Errors
///
/// [`PythonError::Contradiction`] when the request is outside a declared
/// range, [`PythonError::NoCommonVersion`] when the ranges exclude each
/// other, [`PythonError::PatchUnavailable`] for a patch release no provider
/// has, [`PythonError::NoProvider`] when no provider has a fitting version,
/// and [`PythonError::NoCompatibleVersion`] when the lock fits none.
pub fn select_python(
    inputs: &PythonInputs,
    offers: &[Offer],
    fits_lock: &dyn Fn(&PyVersion) -> bool,
) -> Result<PythonChoice, PythonError> {
    let request = inputs.request();
    if let Some((request, origin)) = request {
        check_request(inputs, request, origin)?;
    } else if (!inputs.constraints.is_empty() || !inputs.implied.is_empty())
        && !(0..=40).any(|m| allows_minor(inputs, 3, m))
    {
        return Err(PythonError::NoCommonVersion {
            constraints: inputs.constraints_text(),
        });
    }
    let allowed: Vec<&Offer> = offers
        .iter()
        .filter(|o| inputs.source.is_none_or(|s| o.provider.source() == s))
        .collect();
    let forced = inputs.source.map(|s| s.to_string());
    let shown = |offers: &[&Offer]| -> Vec<String> {
        let mut sorted = offers.to_vec();
        sorted.sort_by(|a, b| b.version.cmp(&a.version));
        sorted.iter().map(|o| o.shown()).collect()
    };
    let Some((request, origin)) = request else {
        let candidates: Vec<&Offer> = allowed
            .iter()
            .copied()
            .filter(|o| o.version.is_final() && inputs.allows(&o.version))
            .collect();
        if candidates.is_empty() {
            return Err(PythonError::NoProvider {
                wanted: inputs.constraints_text(),
                provider: forced,
                available: shown(&allowed),
                minor: (9..=40)
                    .find(|&m| allows_minor(inputs, 3, m))
                    .map(|m| format!("3.{m}")),
            });
        }
        let fitting: Vec<&Offer> = candidates
            .iter()
            .copied()
            .filter(|o| fits_lock(&o.version))
            .collect();
        let chosen = prefer_debian(&fitting).ok_or_else(|| PythonError::NoCompatibleVersion {
            wanted: inputs.constraints_text(),
            tried: shown(&candidates),
        })?;
        let declared_only: Vec<&Offer> = allowed
            .iter()
            .copied()
            .filter(|o| o.version.is_final())
            .filter(|o| inputs.constraints.iter().all(|c| c.contains(&o.version)))
            .filter(|o| !inputs.implied.is_empty() && fits_lock(&o.version))
            .collect();
        let why = inputs.range_reason(prefer_debian(&declared_only));
        return Ok(PythonChoice {
            version: chosen.version.clone(),
            provider: chosen.provider.clone(),
            request: None,
            origin: None,
            reason: format!("Python {} ({why})", chosen.version),
        });
    };
    let matching: Vec<&Offer> = allowed
        .iter()
        .copied()
        .filter(|o| request.matches(&o.version) && inputs.allows(&o.version))
        .filter(|o| o.version.is_final() || matches!(request, PythonRequest::Exact(_)))
        .collect();
    // A minor version still in preview: its newest pre-release.
    let previews: Vec<&Offer> = allowed
        .iter()
        .copied()
        .filter(|o| request.matches(&o.version) && !o.version.is_final())
        .collect();
    let chosen = prefer_debian(&matching).or_else(|| prefer_debian(&previews));
    let Some(chosen) = chosen else {
        let (major, minor) = request.minor_pair();
        return Err(match request {
            PythonRequest::Exact(v) => {
                let same_minor: Vec<&Offer> = allowed
                    .iter()
                    .copied()
                    .filter(|o| o.version.major == major && o.version.minor == minor)
                    .collect();
                PythonError::PatchUnavailable {
                    version: v.to_string(),
                    origin: origin.describe(request),
                    provider: forced,
                    available: shown(if same_minor.is_empty() {
                        &allowed
                    } else {
                        &same_minor
                    }),
                }
            }
            PythonRequest::Minor { .. } => PythonError::NoProvider {
                wanted: origin.describe(request),
                provider: forced,
                available: shown(&allowed),
                minor: Some(format!("{major}.{minor}")),
            },
        });
    };
    Ok(PythonChoice {
        version: chosen.version.clone(),
        provider: chosen.provider.clone(),
        request: Some(request.clone()),
        origin: Some(origin),
        reason: format!("Python {} ({})", chosen.version, origin.describe(request)),
    })
}

/// Checks that a base image's Python (`version`, found in `image`) satisfies
/// the same request and constraints as a provided one would.
///
/// # Errors
///
/// [`PythonError::Contradiction`] naming the base image and what it contradicts.
pub fn check_base_python(
    inputs: &PythonInputs,
    version: &PyVersion,
    image: &str,
) -> Result<(), PythonError> {
    let base = format!("Python {version} of base image `{image}`");
    if let Some((request, origin)) = inputs.request() {
        if origin != RequestOrigin::Default && !request.matches(version) {
            return Err(PythonError::Contradiction {
                request: base,
                constraint: origin.describe(request),
            });
        }
    }
    match inputs.constraints.iter().find(|c| !c.contains(version)) {
        Some(c) => Err(PythonError::Contradiction {
            request: base,
            constraint: c.describe(),
        }),
        None => Ok(()),
    }
}

fn allows_minor(inputs: &PythonInputs, major: u64, minor: u64) -> bool {
    (0..=99).any(|patch| inputs.allows(&PyVersion::new(major, minor, patch)))
}

/// The request must agree with every declared range.
fn check_request(
    inputs: &PythonInputs,
    request: &PythonRequest,
    origin: RequestOrigin,
) -> Result<(), PythonError> {
    match inputs
        .all_constraints()
        .find(|c| !request_agrees(request, c))
    {
        Some(c) => Err(PythonError::Contradiction {
            request: origin.describe(request),
            constraint: c.describe(),
        }),
        None => Ok(()),
    }
}

/// Whether a request can be met inside a range: some release of its minor
/// version, or its exact release.
fn request_agrees(request: &PythonRequest, c: &PythonConstraint) -> bool {
    let (major, minor) = request.minor_pair();
    match request {
        PythonRequest::Minor { .. } => c.allows_minor(major, minor),
        PythonRequest::Exact(v) => c.contains(v),
    }
}

/// The newest version Debian has among `offers`, else the newest standalone.
fn prefer_debian<'a>(offers: &[&'a Offer]) -> Option<&'a Offer> {
    let newest = |source| {
        offers
            .iter()
            .copied()
            .filter(|o| o.provider.source() == source)
            .max_by(|a, b| a.version.cmp(&b.version))
    };
    newest(PythonSource::Debian).or_else(|| newest(PythonSource::Standalone))
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
