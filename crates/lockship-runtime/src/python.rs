//! Which Debian suite carries which Python.

use serde::Serialize;

use crate::RuntimeError;

/// A Python minor version that lockship can assemble, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonRuntime {
    /// `3.11`
    pub version: &'static str,
    /// The Debian suite (codename) that ships it as its default Python.
    pub suite: &'static str,
    /// The Debian release number of that suite, for /etc/os-release.
    pub debian_version: &'static str,
}

/// Every supported Python, oldest first.
pub const SUPPORTED: &[PythonRuntime] = &[
    PythonRuntime {
        version: "3.11",
        suite: "bookworm",
        debian_version: "12",
    },
    PythonRuntime {
        version: "3.13",
        suite: "trixie",
        debian_version: "13",
    },
];

impl PythonRuntime {
    /// Looks up `3.11` (or `3.11.4`, or `python3.11`).
    pub fn lookup(requested: &str) -> Result<PythonRuntime, RuntimeError> {
        let trimmed = requested.trim().trim_start_matches("python");
        let minor: String = trimmed.split('.').take(2).collect::<Vec<_>>().join(".");
        SUPPORTED
            .iter()
            .find(|p| p.version == minor)
            .cloned()
            .ok_or_else(|| RuntimeError::UnknownPython {
                requested: requested.to_string(),
                available: SUPPORTED.iter().map(|p| p.version.to_string()).collect(),
            })
    }

    /// `python3.11`
    pub fn binary(&self) -> String {
        format!("python{}", self.version)
    }

    /// `/usr/lib/python3.11`
    pub fn stdlib_dir(&self) -> String {
        format!("/usr/lib/python{}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_versions_to_suites() {
        assert_eq!(PythonRuntime::lookup("3.11").unwrap().suite, "bookworm");
        assert_eq!(PythonRuntime::lookup("3.13.1").unwrap().suite, "trixie");
        assert_eq!(PythonRuntime::lookup("python3.13").unwrap().suite, "trixie");
    }

    #[test]
    fn unknown_version_lists_the_available_ones() {
        let err = PythonRuntime::lookup("3.7").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Python `3.7` is not available; lockship can assemble 3.11, 3.13"
        );
    }
}
