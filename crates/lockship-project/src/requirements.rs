//! A pinned `requirements.txt`, as `pip-compile` and `uv pip compile` write it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use url::Url;

use crate::model::{sha256_of, Lock, LockKind, LockWarning, LockedPackage, PackageSource};
use crate::ProjectError;

/// The requirements files looked for when no lockfile is named, after
/// [`crate::LOCKFILES`], in order.
pub const REQUIREMENTS_FILES: [&str; 5] = [
    "requirements.txt",
    "requirements/main.txt",
    "requirements/prod.txt",
    "requirements/production.txt",
    "requirements/base.txt",
];

/// How deep `-r`/`-c` includes may nest.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Whether `dir` holds one of [`REQUIREMENTS_FILES`].
pub(crate) fn any_requirements_file(dir: &Path) -> bool {
    REQUIREMENTS_FILES.iter().any(|f| dir.join(f).is_file())
}

/// Whether a requirements file names anything to install besides the
/// project itself: a requirement, or an `-r`/`-c` include. A file of only
/// `.` or `-e .` lines (how some projects say "install this directory")
/// pins nothing and is no lock. An unreadable file counts as one, so that
/// reading it reports the error.
pub(crate) fn pins_anything(path: &Path) -> bool {
    let Ok(text) = crate::error::read_capped(path, crate::MAX_LOCK_BYTES) else {
        return true;
    };
    logical_lines(&text).iter().any(|(_, line)| {
        let mut tokens = line.split_whitespace();
        match tokens.next() {
            Some("-e" | "--editable") => !tokens.next().is_some_and(is_project_itself),
            Some(first) if first.starts_with("--editable=") => {
                !is_project_itself(&first["--editable=".len()..])
            }
            Some(first) if first.starts_with("-r") || first.starts_with("--requirement") => true,
            Some(first) if first.starts_with("-c") || first.starts_with("--constraint") => true,
            Some(first) if first.starts_with('-') => false,
            Some(first) => !is_project_itself(first),
            None => false,
        }
    })
}

/// Whether a requirement names the project's own directory (`.`, `./`,
/// `file:.`, with or without extras).
fn is_project_itself(token: &str) -> bool {
    let path = token.split_once('[').map_or(token, |(p, _)| p);
    matches!(path, "." | "./" | "file:." | "file:./")
}

/// Read a requirements file on its own: includes must stay in its directory.
#[cfg(test)]
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    parse_in(path, text, crate::dir_of(path))
}

/// One requirement line, before constraints apply.
struct Line {
    path: PathBuf,
    line: usize,
    req: uv_pep508::Requirement<uv_pep508::VerbatimUrl>,
    hashes: Vec<String>,
}

/// What the files read so far hold.
#[derive(Default)]
struct Reader {
    requirements: Vec<Line>,
    constraints: Vec<Line>,
    index_urls: Vec<Url>,
    stack: Vec<PathBuf>,
}

/// Read a requirements file. Every requirement must be pinned with `==` or `===`
/// (here or in a `-c` constraints file) or be a direct URL. `-r` and `-c`
/// includes are followed when they stay inside `project_dir`; `-f` and
/// editable installs other than the project itself (`-e .`) are refused.
/// Pins without a `--hash` are accepted, with a [`LockWarning`] that counts them.
pub(crate) fn parse_in(path: &Path, text: &str, project_dir: &Path) -> Result<Lock, ProjectError> {
    let mut reader = Reader::default();
    let project = fs_err::canonicalize(project_dir).map_err(|source| ProjectError::Io {
        path: project_dir.to_path_buf(),
        source,
    })?;
    reader.stack.push(canonical_or_self(path));
    read_file(&mut reader, path, text, &project, false)?;
    let mut lock = Lock {
        requires_python: None,
        index_urls: reader.index_urls,
        ..Lock::new(LockKind::Requirements, path)
    };
    let mut pins: BTreeMap<String, &Line> = BTreeMap::new();
    for c in &reader.constraints {
        pins.entry(c.req.name.to_string()).or_insert(c);
    }
    let mut seen = std::collections::BTreeSet::new();
    for line in &reader.requirements {
        let package = package_of(line, pins.get(line.req.name.as_ref()).copied())?;
        let key = (
            package.name.clone(),
            package.version.clone(),
            package.marker.clone(),
        );
        if seen.insert(key) {
            lock.packages.push(package);
        }
    }
    let unhashed = lock
        .packages
        .iter()
        .filter(|p| p.hashes.is_empty() && matches!(p.source, PackageSource::Registry { .. }))
        .count();
    if unhashed > 0 {
        lock.warnings.push(LockWarning::UnhashedPins {
            path: path.to_path_buf(),
            unhashed,
            total: lock.packages.len(),
        });
    }
    Ok(lock)
}

fn canonical_or_self(path: &Path) -> PathBuf {
    fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The file an `-r`/`-c` line names, checked to be inside the project.
fn include_path(
    from: &Path,
    line: usize,
    value: &str,
    project: &Path,
) -> Result<PathBuf, ProjectError> {
    let outside = || ProjectError::IncludeOutsideProject {
        path: from.to_path_buf(),
        line,
        include: value.to_string(),
        project: project.to_path_buf(),
    };
    if value.contains("://") || value.contains('\0') || Path::new(value).is_absolute() {
        return Err(outside());
    }
    let base = from.parent().unwrap_or(Path::new("."));
    let joined = base.join(value);
    let resolved = fs_err::canonicalize(&joined).map_err(|source| ProjectError::Io {
        path: joined.clone(),
        source,
    })?;
    if !resolved.starts_with(project) || !resolved.is_file() {
        return Err(outside());
    }
    Ok(resolved)
}

fn read_file(
    reader: &mut Reader,
    path: &Path,
    text: &str,
    project: &Path,
    constraints: bool,
) -> Result<(), ProjectError> {
    for (line_no, line) in logical_lines(text) {
        let bad = |m: String| ProjectError::invalid(path, &format!("line {line_no}"), m);
        let mut tokens = line.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        if first.starts_with('-') && !first.starts_with("--hash") {
            let (option, inline) = match first.split_once('=') {
                Some((o, v)) => (o, Some(v.to_string())),
                None if first.len() > 2
                    && matches!(&first[..2], "-r" | "-c")
                    && !first.starts_with("--") =>
                {
                    (&first[..2], Some(first[2..].to_string()))
                }
                None => (first, None),
            };
            let value = inline.or_else(|| tokens.next().map(str::to_string));
            match option {
                "-i" | "--index-url" | "--extra-index-url" => {
                    let value = value.ok_or_else(|| bad(format!("`{option}` needs a URL")))?;
                    let url =
                        Url::parse(&value).map_err(|e| bad(format!("bad URL `{value}`: {e}")))?;
                    if option == "--extra-index-url" {
                        reader.index_urls.push(url);
                    } else {
                        reader.index_urls.insert(0, url);
                    }
                }
                "-r" | "--requirement" | "-c" | "--constraint" => {
                    let value = value.ok_or_else(|| bad(format!("`{option}` needs a file")))?;
                    let included = include_path(path, line_no, &value, project)?;
                    if reader.stack.contains(&included) {
                        return Err(bad(format!("`{value}` includes itself")));
                    }
                    if reader.stack.len() > MAX_INCLUDE_DEPTH {
                        return Err(bad(format!(
                            "includes nest deeper than {MAX_INCLUDE_DEPTH} files"
                        )));
                    }
                    let text = crate::error::read_capped(&included, crate::MAX_LOCK_BYTES)?;
                    reader.stack.push(included.clone());
                    let as_constraints = constraints || matches!(option, "-c" | "--constraint");
                    read_file(reader, &included, &text, project, as_constraints)?;
                    reader.stack.pop();
                }
                "-e" | "--editable" if value.as_deref().is_some_and(is_project_itself) => {}
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
        // The project itself is installed from its directory, not the lock.
        if is_project_itself(first) {
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
        let line = Line {
            path: path.to_path_buf(),
            line: line_no,
            req,
            hashes,
        };
        if constraints {
            reader.constraints.push(line);
        } else {
            reader.requirements.push(line);
        }
    }
    Ok(())
}

/// The pin of a requirement, if it has exactly one: `==` with no wildcard,
/// or PEP 440's arbitrary equality `===` (pip counts both as pinned, e.g.
/// for `--require-hashes`).
fn pin_of(req: &uv_pep508::Requirement<uv_pep508::VerbatimUrl>) -> Option<String> {
    use uv_pep508::uv_pep440::Operator;
    match &req.version_or_url {
        Some(uv_pep508::VersionOrUrl::VersionSpecifier(specs)) if specs.len() == 1 => specs
            .iter()
            .find(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual))
            .map(|s| s.version().to_string()),
        _ => None,
    }
}

/// A requirement line as a locked package, pinned by itself or by its constraint.
fn package_of(line: &Line, constraint: Option<&Line>) -> Result<LockedPackage, ProjectError> {
    let path = line.path.as_path();
    let req = &line.req;
    let name = req.name.to_string();
    let entry = crate::validate::Entry {
        path,
        package: &name,
    };
    let mut hashes = line.hashes.clone();
    let (version, source) = match &req.version_or_url {
        Some(uv_pep508::VersionOrUrl::Url(url)) => (
            None,
            url_source(&url.given().map_or_else(|| url.to_string(), str::to_string)),
        ),
        _ => {
            let own = pin_of(req);
            let pinned = own.clone().or_else(|| {
                let c = constraint?;
                let pin = pin_of(&c.req)?;
                // An own specifier must allow the constraint's pin.
                let allowed = match &req.version_or_url {
                    Some(uv_pep508::VersionOrUrl::VersionSpecifier(specs)) => {
                        uv_pep508::uv_pep440::Version::from_str(&pin)
                            .is_ok_and(|v| specs.contains(&v))
                    }
                    _ => true,
                };
                allowed.then_some(pin)
            });
            let version = pinned.ok_or_else(|| ProjectError::UnpinnedRequirement {
                path: path.to_path_buf(),
                line: line.line,
                requirement: req.to_string(),
            })?;
            if own.is_none() && hashes.is_empty() {
                hashes = constraint.map(|c| c.hashes.clone()).unwrap_or_default();
            }
            (Some(version), PackageSource::Registry { index: None })
        }
    };
    let hashes = hashes
        .into_iter()
        .map(|h| {
            entry
                .sha256("--hash", Some(h))
                .map(Option::unwrap_or_default)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = entry.version(version)?;
    entry.source(&source)?;
    Ok(LockedPackage {
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
    })
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
    fn unpinned_and_unknown_options_are_refused() {
        let err = parse(Path::new("requirements.txt"), "a==1\nrequests>=2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`requests>=2` at line 2 of `requirements.txt` is not pinned to one version"
        );
        assert!(
            err.hint().unwrap().contains("uv pip compile"),
            "{:?}",
            err.hint()
        );
        for unpinned in ["cryptography\n", "b==1.*\n", "c===1.0,<2\n"] {
            let err = parse(Path::new("requirements.txt"), unpinned).unwrap_err();
            assert!(
                matches!(err, ProjectError::UnpinnedRequirement { line: 1, .. }),
                "{unpinned:?}: {err}"
            );
        }
        let err = parse(Path::new("requirements.txt"), "a==1\n-f ./wheels\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unsupported option `-f` at line 2 of `requirements.txt`"
        );
        assert!(err.hint().unwrap().contains("--generate-hashes"));
    }

    const HASH: &str = "82fee1fc78add43492d3a1898bfa6d8a904cc97d8427f683ed8e798d07761aa0";

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn read(dir: &Path, file: &str) -> Result<Lock, ProjectError> {
        let path = dir.join(file);
        parse_in(&path, &std::fs::read_to_string(&path).unwrap(), dir)
    }

    #[test]
    fn includes_and_constraints_are_followed() {
        let dir = project(&[
            (
                "requirements/main.txt",
                &format!(
                    "-r base.txt\n-c constraints.txt\nflask\nidna==3.7 --hash=sha256:{HASH}\n"
                ),
            ),
            ("requirements/base.txt", "click==8.1.7\n"),
            (
                "requirements/constraints.txt",
                &format!("flask==3.0.3 --hash=sha256:{HASH}\nnot-installed==1.0\n"),
            ),
        ]);
        let lock = read(dir.path(), "requirements/main.txt").unwrap();
        let pins: Vec<String> = lock
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{}=={} {}",
                    p.name,
                    p.version.as_deref().unwrap(),
                    p.hashes.len()
                )
            })
            .collect();
        assert_eq!(pins, ["click==8.1.7 0", "flask==3.0.3 1", "idna==3.7 1"]);
        assert_eq!(
            lock.warnings,
            [LockWarning::UnhashedPins {
                path: dir.path().join("requirements/main.txt"),
                unhashed: 1,
                total: 3
            }]
        );
        assert!(lock.warnings[0].to_string().starts_with("1 of 3 packages"));
    }

    #[test]
    fn arbitrary_equality_and_spaced_pins_are_pins() {
        // `===` is PEP 440's arbitrary equality; pip counts it as a pin.
        let lock = parse(
            Path::new("requirements.txt"),
            "cryptography===48.0.1\npytest== 9.0.3\nfrappe-client==0.1.0.dev0\n",
        )
        .unwrap();
        let pins: Vec<String> = lock
            .packages
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version.as_deref().unwrap()))
            .collect();
        assert_eq!(
            pins,
            [
                "cryptography==48.0.1",
                "pytest==9.0.3",
                "frappe-client==0.1.0.dev0"
            ]
        );
    }

    #[test]
    fn fully_hashed_files_warn_nothing_and_bad_hashes_are_refused() {
        let dir = project(&[(
            "requirements.txt",
            &format!("idna==3.7 --hash=sha256:{HASH}\n"),
        )]);
        assert!(read(dir.path(), "requirements.txt")
            .unwrap()
            .warnings
            .is_empty());
        let dir = project(&[("requirements.txt", "idna==3.7 --hash=sha256:1234\n")]);
        let err = read(dir.path(), "requirements.txt").unwrap_err();
        assert!(matches!(err, ProjectError::UnsafeLockEntry { .. }), "{err}");
    }

    #[test]
    fn hostile_include_outside_the_project_is_refused() {
        let outer = project(&[("secret.txt", "a==1\n"), ("app/ok.txt", "b==2\n")]);
        let app = outer.path().join("app");
        for include in ["../secret.txt", "-r ../secret.txt", "-c ../secret.txt"] {
            let line = if include.starts_with('-') {
                include.to_string()
            } else {
                format!("-r {include}")
            };
            std::fs::write(app.join("requirements.txt"), format!("{line}\n")).unwrap();
            let err = read(&app, "requirements.txt").unwrap_err();
            assert!(
                matches!(err, ProjectError::IncludeOutsideProject { .. }),
                "{err}"
            );
        }
        let absolute = outer.path().join("secret.txt");
        std::fs::write(
            app.join("requirements.txt"),
            format!("--requirement={}\n", absolute.display()),
        )
        .unwrap();
        let err = read(&app, "requirements.txt").unwrap_err();
        assert!(
            matches!(err, ProjectError::IncludeOutsideProject { .. }),
            "{err}"
        );
        std::fs::write(
            app.join("requirements.txt"),
            "-r http://127.0.0.1:9/x.txt\n",
        )
        .unwrap();
        let err = read(&app, "requirements.txt").unwrap_err();
        assert!(
            matches!(err, ProjectError::IncludeOutsideProject { .. }),
            "{err}"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret.txt"), app.join("link.txt"))
                .unwrap();
            std::fs::write(app.join("requirements.txt"), "-r link.txt\n").unwrap();
            let err = read(&app, "requirements.txt").unwrap_err();
            assert!(
                matches!(err, ProjectError::IncludeOutsideProject { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn hostile_include_cycle_is_refused() {
        let dir = project(&[("a.txt", "-r b.txt\n"), ("b.txt", "-r a.txt\n")]);
        let err = read(dir.path(), "a.txt").unwrap_err();
        assert!(err.to_string().contains("includes itself"), "{err}");
    }
}
