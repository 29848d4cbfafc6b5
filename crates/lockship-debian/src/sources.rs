//! Discovering the host's Debian mirror from its apt sources.

use std::path::Path;

use url::Url;

use crate::deb822;
use crate::DebianError;

/// Debian release codenames and aliases accepted as "a plain release suite".
pub const KNOWN_SUITES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "stable",
    "testing",
    "unstable",
    "oldstable",
];

/// One `deb` source from the host's apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// The archive URI, e.g. `http://HOST/debian`.
    pub uri: Url,
    /// The suites listed with it.
    pub suites: Vec<String>,
    /// The components listed with it.
    pub components: Vec<String>,
}

impl AptSource {
    /// The first suite that is a plain Debian release (no `-security`,
    /// `-updates` or `-backports` suffix, and a known codename).
    pub fn release_suite(&self) -> Option<&str> {
        self.suites
            .iter()
            .map(String::as_str)
            .find(|s| KNOWN_SUITES.contains(s))
    }
}

/// Every enabled `deb` source under `root` (normally `/`): the one-line
/// `etc/apt/sources.list` and `etc/apt/sources.list.d/*.list`, and the deb822
/// `etc/apt/sources.list.d/*.sources`, in the order apt reads them.
pub fn apt_sources(root: &Path) -> Result<Vec<AptSource>, DebianError> {
    let apt = root.join("etc/apt");
    let mut sources = Vec::new();
    let main = apt.join("sources.list");
    if let Some(text) = read_optional(&main)? {
        sources.extend(parse_one_line(&text));
    }
    let dir = apt.join("sources.list.d");
    let mut files = Vec::new();
    match fs_err::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(DebianError::io(&dir))?;
                files.push(entry.path());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DebianError::io(&dir)(e)),
    }
    files.sort();
    for file in files {
        let ext = file.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("list" | "sources")) {
            continue;
        }
        let Some(text) = read_optional(&file)? else {
            continue;
        };
        if ext == Some("list") {
            sources.extend(parse_one_line(&text));
        } else {
            sources.extend(parse_deb822(&text, &file.display().to_string())?);
        }
    }
    Ok(sources)
}

/// Discovers the Debian mirror base URL (e.g. `http://HOST/debian`) from the
/// host's apt sources under `root` (normally `/`): the first `deb` entry
/// with a plain Debian release suite (see [`KNOWN_SUITES`]). Third-party
/// repositories (suites like `nodistro`) and `-security`/`-updates` suites
/// are skipped. Returns `Ok(None)` when nothing fits.
///
/// ```no_run
/// let mirror = lockship_debian::mirror_from_apt_sources(std::path::Path::new("/")).unwrap();
/// ```
pub fn mirror_from_apt_sources(root: &Path) -> Result<Option<Url>, DebianError> {
    Ok(apt_sources(root)?
        .into_iter()
        .find(|s| s.release_suite().is_some())
        .map(|s| s.uri))
}

fn read_optional(path: &Path) -> Result<Option<String>, DebianError> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DebianError::io(path)(e)),
    }
}

/// `deb [ options ] uri suite [component ...]`; unparseable lines are
/// skipped like comments (apt itself would reject them, and then the host's
/// apt is broken anyway).
fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue; // deb-src, or garbage
        }
        let mut rest = rest.trim_start();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(end) => rest = rest[end + 1..].trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(uri) = Url::parse(uri) else { continue };
        out.push(AptSource {
            uri,
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

fn parse_deb822(text: &str, origin: &str) -> Result<Vec<AptSource>, DebianError> {
    let mut out = Vec::new();
    for stanza in deb822::parse(text, origin)? {
        let enabled = stanza
            .get("Enabled")
            .is_none_or(|v| !v.eq_ignore_ascii_case("no"));
        let words = |field: &str| -> Vec<String> {
            stanza
                .raw(field)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        if !enabled || !words("Types").iter().any(|t| t == "deb") {
            continue;
        }
        for uri in words("URIs") {
            let Ok(uri) = Url::parse(&uri) else { continue };
            out.push(AptSource {
                uri,
                suites: words("Suites"),
                components: words("Components"),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    #[test]
    fn deb822_sources_skip_third_party_and_security() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "etc/apt/sources.list.d/a-thirdparty.sources",
            "Types: deb\nURIs: https://example.invalid/node\nSuites: nodistro\nComponents: main\n",
        );
        write(
            dir.path(),
            "etc/apt/sources.list.d/debian.sources",
            "# a comment\nTypes: deb-src\nURIs: http://mirror.invalid/src\nSuites: bookworm\n\n\
             Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nEnabled: no\n\n\
             Types: deb\n# http://snapshot.invalid/archive\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
             Types: deb deb-src\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\n",
        );
        write(
            dir.path(),
            "etc/apt/sources.list.d/cloud.list",
            "deb https://example.invalid/apt cloud-sdk-bookworm main\n",
        );
        let mirror = mirror_from_apt_sources(dir.path()).unwrap().unwrap();
        assert_eq!(mirror.as_str(), "http://mirror.invalid/debian");
        let all = apt_sources(dir.path()).unwrap();
        assert_eq!(all.len(), 4);
        let chosen = all.iter().find(|s| s.release_suite().is_some()).unwrap();
        assert_eq!(chosen.release_suite(), Some("bookworm"));
        assert_eq!(chosen.components, vec!["main", "contrib"]);
    }

    #[test]
    fn one_line_sources_with_options_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "etc/apt/sources.list",
            "# deb http://commented.invalid/debian bookworm main\n\
             deb-src http://src.invalid/debian bookworm main\n\
             deb http://mirror.invalid/debian-security trixie-security main\n\
             deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.invalid/debian trixie main # trailing\n",
        );
        let mirror = mirror_from_apt_sources(dir.path()).unwrap().unwrap();
        assert_eq!(mirror.as_str(), "http://mirror.invalid/debian");
    }

    #[test]
    fn nothing_found_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(mirror_from_apt_sources(dir.path()).unwrap(), None);
        write(
            dir.path(),
            "etc/apt/sources.list.d/x.list",
            "deb https://example.invalid/apt cloud-sdk-bookworm main\n",
        );
        assert_eq!(mirror_from_apt_sources(dir.path()).unwrap(), None);
    }

    #[test]
    fn malformed_deb822_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "etc/apt/sources.list.d/bad.sources",
            "Types deb\n",
        );
        let err = mirror_from_apt_sources(dir.path()).unwrap_err();
        assert!(err.to_string().contains("bad.sources"), "{err}");
    }
}
