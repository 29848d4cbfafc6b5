//! Wheel file names (PEP 427) and distribution-name normalisation (PEP 503).

use crate::WheelError;

/// A parsed wheel file name:
/// `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
///
/// Each tag field may hold a compressed set (`py2.py3`); the sets are kept
/// split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// The distribution name as written (underscores, not normalised).
    pub name: String,
    /// The version as written.
    pub version: String,
    /// The optional build tag (starts with a digit).
    pub build: Option<String>,
    /// Python tags, for example `cp311` or `py3`.
    pub python: Vec<String>,
    /// ABI tags, for example `cp311`, `abi3` or `none`.
    pub abi: Vec<String>,
    /// Platform tags, for example `manylinux_2_17_x86_64` or `any`.
    pub platform: Vec<String>,
}

impl WheelFilename {
    /// Parses a wheel file name (just the name, not a path).
    pub fn parse(filename: &str) -> Result<WheelFilename, WheelError> {
        let invalid = |reason: &str| WheelError::InvalidFilename {
            filename: filename.to_string(),
            reason: reason.to_string(),
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| invalid("it does not end in `.whl`"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, tags) = match parts.as_slice() {
            [n, v, py, abi, plat] => (*n, *v, None, [*py, *abi, *plat]),
            [n, v, b, py, abi, plat] => (*n, *v, Some(*b), [*py, *abi, *plat]),
            _ => return Err(invalid("it does not have five or six `-`-separated parts")),
        };
        if name.is_empty() || version.is_empty() {
            return Err(invalid("the name or version is empty"));
        }
        // PEP 508 names, escaped as in file names (`-` becomes `_`): the
        // name ends up in install paths, so nothing else is accepted.
        let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge(name.chars().next())
            || !edge(name.chars().last())
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(invalid(
                "the name is not a distribution name (letters, digits, `_` and `.`)",
            ));
        }
        if let Some(b) = build {
            if !b.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(invalid("the build tag does not start with a digit"));
            }
        }
        let split = |s: &str| -> Result<Vec<String>, WheelError> {
            let set: Vec<String> = s.split('.').map(str::to_string).collect();
            if set.iter().any(String::is_empty) {
                return Err(invalid("a compatibility tag is empty"));
            }
            Ok(set)
        };
        Ok(WheelFilename {
            name: name.to_string(),
            version: version.to_string(),
            build: build.map(str::to_string),
            python: split(tags[0])?,
            abi: split(tags[1])?,
            platform: split(tags[2])?,
        })
    }

    /// Every `python-abi-platform` tag triple this file declares.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str, &str)> + '_ {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |plat| (py.as_str(), abi.as_str(), plat.as_str()))
            })
        })
    }

    /// The leading number of the build tag (0 without one); a higher build
    /// wins between otherwise equal wheels.
    pub fn build_number(&self) -> u64 {
        self.build
            .as_deref()
            .map(|b| {
                let digits: String = b.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap_or(0)
            })
            .unwrap_or(0)
    }
}

/// Normalises a distribution name per PEP 503: lowercase, runs of `-`, `_`
/// and `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compressed_tag_sets_and_build_tags() {
        let f = WheelFilename::parse("six-1.16.0-1local-py2.py3-none-any.whl").unwrap();
        assert_eq!(f.name, "six");
        assert_eq!(f.build.as_deref(), Some("1local"));
        assert_eq!(f.build_number(), 1);
        assert_eq!(f.python, ["py2", "py3"]);
        assert_eq!(f.tags().count(), 2);
    }

    #[test]
    fn refuses_malformed_names() {
        for bad in [
            "six-1.16.0.tar.gz",
            "six-1.16.0-py3-none.whl",
            "six-1.16.0-x-py3-none-any.whl",
            "six-1.16.0-py3..py2-none-any.whl",
            "..-1.0-py3-none-any.whl",
            "a b-1.0-py3-none-any.whl",
            "_x-1.0-py3-none-any.whl",
        ] {
            assert!(
                matches!(
                    WheelFilename::parse(bad),
                    Err(WheelError::InvalidFilename { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize_name("Foo.Bar__baz-"), "foo-bar-baz");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
    }
}
