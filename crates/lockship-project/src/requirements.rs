//! A pinned `requirements.txt`, as `pip-compile` and `uv pip compile` write it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use url::Url;

use crate::model::{sha256_of, Lock, LockKind, LockedPackage, PackageSource};
use crate::ProjectError;

/// Read a requirements file. Every requirement must be pinned with `==` or
/// be a direct URL; `-r`, `-c`, `-f` and editable installs other than the
/// project itself (`-e .`) are refused.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let mut lock = Lock {
        requires_python: None,
        ..Lock::new(LockKind::Requirements, path)
    };
    for (line_no, line) in logical_lines(text) {
        let bad = |m: String| ProjectError::invalid(path, &format!("line {line_no}"), m);
        let mut tokens = line.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        if first.starts_with('-') {
            let (option, inline) = match first.split_once('=') {
                Some((o, v)) => (o, Some(v.to_string())),
                None => (first, None),
            };
            let value = inline.or_else(|| tokens.next().map(str::to_string));
            match option {
                "-i" | "--index-url" | "--extra-index-url" => {
                    let value = value.ok_or_else(|| bad(format!("`{option}` needs a URL")))?;
                    let url =
                        Url::parse(&value).map_err(|e| bad(format!("bad URL `{value}`: {e}")))?;
                    if option == "--extra-index-url" {
                        lock.index_urls.push(url);
                    } else {
                        lock.index_urls.insert(0, url);
                    }
                }
                "-e" | "--editable" if matches!(value.as_deref(), Some("." | "./" | "file:.")) => {}
                "--trusted-host" => {}
                "--pre" | "--prefer-binary" | "--no-index" | "--only-binary" | "--no-binary"
                | "--require-hashes" => {}
                _ => {
                    return Err(ProjectError::UnsupportedRequirementsOption {
                        path: path.to_path_buf(),
                        line: line_no,
                        option: first.to_string(),
                    })
                }
            }
            continue;
        }
        let mut hashes = Vec::new();
        let mut requirement = Vec::new();
        for token in line.split_whitespace() {
            if let Some(hash) = token
                .strip_prefix("--hash=")
                .or_else(|| token.strip_prefix("--hash:"))
            {
                hashes.extend(sha256_of(hash));
            } else {
                requirement.push(token);
            }
        }
        let requirement = requirement.join(" ");
        let req = uv_pep508::Requirement::<uv_pep508::VerbatimUrl>::from_str(&requirement)
            .map_err(|e| ProjectError::Requirement {
                path: path.to_path_buf(),
                requirement: requirement.clone(),
                message: e.message.to_string(),
            })?;
        let name = req.name.to_string();
        let entry = crate::validate::Entry {
            path,
            package: &name,
        };
        let hashes = hashes
            .into_iter()
            .map(|h| {
                entry
                    .sha256("--hash", Some(h))
                    .map(Option::unwrap_or_default)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (version, source) = match &req.version_or_url {
            Some(uv_pep508::VersionOrUrl::VersionSpecifier(specs)) => {
                let pin = specs
                    .iter()
                    .find(|s| *s.operator() == uv_pep508::uv_pep440::Operator::Equal)
                    .filter(|_| specs.len() == 1)
                    .ok_or_else(|| bad(format!("`{name}` is not pinned with `==`")))?;
                (
                    Some(pin.version().to_string()),
                    PackageSource::Registry { index: None },
                )
            }
            Some(uv_pep508::VersionOrUrl::Url(url)) => (
                None,
                url_source(&url.given().map_or_else(|| url.to_string(), str::to_string)),
            ),
            None => return Err(bad(format!("`{name}` is not pinned with `==`"))),
        };
        let version = entry.version(version)?;
        entry.source(&source)?;
        lock.packages.push(LockedPackage {
            name,
            version,
            source,
            wheels: Vec::new(),
            sdist: None,
            hashes,
            dependencies: Vec::new(),
            optional_dependencies: BTreeMap::new(),
            marker: req.marker.try_to_string(),
            groups: Default::default(),
        });
    }
    Ok(lock)
}

/// Join `\` continuations and drop comments; yields (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let line = strip_comment(raw);
        match line.strip_suffix('\\') {
            Some(rest) => {
                current.push_str(rest);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    out.push((start, current.trim().to_string()));
                }
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        out.push((start, current.trim().to_string()));
    }
    out
}

/// A `#` starts a comment at the start of a line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

/// The source of `name @ <url>`.
fn url_source(verbatim: &str) -> PackageSource {
    if let Some(git) = verbatim.strip_prefix("git+") {
        let (rest, fragment) = git.split_once('#').unwrap_or((git, ""));
        let subdirectory = fragment
            .split('&')
            .find_map(|kv| kv.strip_prefix("subdirectory="))
            .map(str::to_string);
        // The revision follows the last `@` after the host part.
        let path_start = rest.find("://").map_or(0, |i| i + 3);
        let (url, commit) = match rest[path_start..].rfind('@') {
            Some(at) if rest[path_start..][..at].contains('/') => {
                let at = path_start + at;
                (rest[..at].to_string(), Some(rest[at + 1..].to_string()))
            }
            _ => (rest.to_string(), None),
        };
        return PackageSource::Git {
            url,
            commit,
            subdirectory,
        };
    }
    match Url::parse(verbatim) {
        Ok(url) if url.scheme() == "file" => PackageSource::Path {
            path: url
                .to_file_path()
                .unwrap_or_else(|_| PathBuf::from(url.path())),
            editable: false,
        },
        Ok(url) => PackageSource::DirectUrl { url },
        Err(_) => PackageSource::Path {
            path: PathBuf::from(verbatim),
            editable: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_continuations() {
        let lines = logical_lines("# header\na==1 \\\n    --hash=sha256:AB \\\n    --hash=sha256:cd\n    # via b\nb @ https://h.invalid/b.whl#sha256=00 # c\n");
        assert_eq!(
            lines,
            [
                (
                    2,
                    "a==1      --hash=sha256:AB      --hash=sha256:cd".to_string()
                ),
                (6, "b @ https://h.invalid/b.whl#sha256=00".to_string()),
            ]
        );
        // As in pip, a comment line ends a continuation.
        let lines = logical_lines("a==1 \\\n# note\nb==2\n");
        assert_eq!(lines, [(1, "a==1".to_string()), (3, "b==2".to_string())]);
    }

    #[test]
    fn git_urls_split_revision_and_subdirectory() {
        assert_eq!(
            url_source("git+https://git@git.invalid/org/repo.git@0123abc#subdirectory=pkg"),
            PackageSource::Git {
                url: "https://git@git.invalid/org/repo.git".into(),
                commit: Some("0123abc".into()),
                subdirectory: Some("pkg".into()),
            }
        );
        assert_eq!(
            url_source("git+https://git.invalid/org/repo.git"),
            PackageSource::Git {
                url: "https://git.invalid/org/repo.git".into(),
                commit: None,
                subdirectory: None
            }
        );
    }

    #[test]
    fn unpinned_and_includes_are_refused() {
        let err = parse(Path::new("requirements.txt"), "requests>=2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid `line 1` in `requirements.txt`: `requests` is not pinned with `==`"
        );
        let err = parse(Path::new("requirements.txt"), "a==1\n-r base.txt\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unsupported option `-r` at line 2 of `requirements.txt`"
        );
        assert!(err.hint().unwrap().contains("--generate-hashes"));
    }
}
