//! What an sdist says about its own system needs, read before its first
//! build: the pkg-config modules its `setup.py`, `setup.cfg` or
//! `pyproject.toml` asks for, its PEP 725 `[external]` table, and the
//! well-known build requirements (`pkgconfig`) that name programs.
//!
//! Only a gzip'd tar is read (the sdist format of PEP 625), only files at the
//! top of the sdist, each at most 1 MiB: reading is bounded
//! whatever the archive holds. A file that cannot be read adds nothing; this
//! is a first guess, and the build's own log stays the authority.

use std::io::Read;
use std::path::Path;

use crate::diagnose::Missing;
use crate::known::{known_requirement, normalize};

/// The largest metadata file read (larger ones are skipped).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// How many archive entries are looked at, at most.
const MAX_ENTRIES: usize = 20_000;
/// The files read, at the top of the sdist.
const FILES: [&str; 3] = ["setup.py", "setup.cfg", "pyproject.toml"];

/// One need the sdist states, and the line that states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedNeed {
    /// What the build will look for.
    pub missing: Missing,
    /// `setup.py: pkgconfig.parse("libffi")`.
    pub line: String,
}

/// Reads the sdist's stated needs. Unreadable archives state none.
pub fn stated_needs(sdist: &Path) -> Vec<StatedNeed> {
    let Ok(file) = std::fs::File::open(sdist) else {
        return Vec::new();
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let Ok(entries) = archive.entries() else {
        return Vec::new();
    };
    let mut out: Vec<StatedNeed> = Vec::new();
    for entry in entries.take(MAX_ENTRIES) {
        let Ok(mut entry) = entry else { break };
        let Ok(path) = entry.path() else { continue };
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let name = match parts.as_slice() {
            [_, name] if FILES.contains(&name.as_str()) => name.clone(),
            _ => continue,
        };
        if entry.size() > MAX_FILE_BYTES {
            continue;
        }
        let mut text = String::new();
        if (&mut entry)
            .take(MAX_FILE_BYTES)
            .read_to_string(&mut text)
            .is_err()
        {
            continue;
        }
        for need in needs_in(&name, &text) {
            if !out.iter().any(|n| n.missing == need.missing) {
                out.push(need);
            }
        }
    }
    out
}

/// The needs one file states.
pub fn needs_in(file: &str, text: &str) -> Vec<StatedNeed> {
    let mut out = Vec::new();
    let mut push = |missing: Missing, line: &str| {
        if !out.iter().any(|n: &StatedNeed| n.missing == missing) {
            out.push(StatedNeed {
                missing,
                line: format!("{file}: {}", line.trim()),
            });
        }
    };
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for module in pkg_config_modules(line) {
            push(Missing::PkgConfig(module), line);
        }
    }
    if file == "pyproject.toml" {
        if let Ok(doc) = toml::from_str::<toml::Table>(text) {
            for (requirement, line) in build_requirements(&doc) {
                if let Some(known) = known_requirement(&requirement) {
                    for program in &known.programs {
                        push(Missing::Program(program.clone()), &line);
                    }
                }
            }
            for (module, line) in external_needs(&doc) {
                push(Missing::PkgConfig(module), &line);
            }
        }
    }
    out
}

/// pkg-config modules a line of code or configuration names:
/// `pkg-config --cflags libffi`, `["pkg-config", "--libs", "x"]`,
/// `pkgconfig.parse("x y")`, `pkgconfig.cflags('x')`.
fn pkg_config_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for call in [
        "pkgconfig.parse(",
        "pkgconfig.cflags(",
        "pkgconfig.libs(",
        "pkgconfig.exists(",
    ] {
        if let Some(i) = line.find(call) {
            if let Some(arg) = first_string_literal(&line[i + call.len()..]) {
                out.extend(
                    arg.split_whitespace()
                        .filter(|m| is_module(m))
                        .map(String::from),
                );
            }
        }
    }
    if let Some(i) = line.find("pkg-config") {
        for literal in literals_after(&line[..i], &line[i + "pkg-config".len()..]) {
            for word in literal.split_whitespace() {
                if word.starts_with('-') {
                    continue;
                }
                if is_module(word) {
                    out.push(word.to_string());
                }
            }
        }
    }
    out.retain(|m| m != "pkg-config");
    out
}

/// The string literals that hold the arguments of a `pkg-config` named in
/// a string literal: the rest of that literal (`"pkg-config --libs x"`),
/// then the literals up to the end of the list or call
/// (`["pkg-config", "--libs", "x"]`). Names of variables are not read.
fn literals_after<'a>(before: &str, rest: &'a str) -> Vec<&'a str> {
    let Some(open) = before.rfind(['"', '\'']) else {
        return Vec::new();
    };
    let quote = before[open..].chars().next().unwrap_or('"');
    let mut out = Vec::new();
    let mut tail = match rest.find(quote) {
        Some(0) => &rest[1..],
        Some(end) => {
            out.push(&rest[..end]);
            &rest[end + 1..]
        }
        None => return Vec::new(),
    };
    while let Some(next) = tail.find(['"', '\'', ']', ')']) {
        let c = tail[next..].chars().next().unwrap_or(')');
        if c == ']' || c == ')' {
            break;
        }
        let body = &tail[next + 1..];
        let Some(end) = body.find(c) else { break };
        out.push(&body[..end]);
        tail = &body[end + 1..];
    }
    out
}

/// A pkg-config module name as modules are named: `libxml-2.0`, `gtk+-3.0`.
fn is_module(word: &str) -> bool {
    word.len() >= 2
        && word.len() <= 64
        && word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
        && !matches!(
            word,
            "print"
                | "modversion"
                | "exists"
                | "cflags"
                | "libs"
                | "shell"
                | "check_output"
                | "subprocess"
                | "sh"
                | "os"
        )
}

fn first_string_literal(s: &str) -> Option<&str> {
    let start = s.find(['"', '\''])?;
    let quote = s[start..].chars().next()?;
    let body = &s[start + 1..];
    let end = body.find(quote)?;
    Some(&body[..end])
}

/// `[build-system] requires`: each requirement's normalised name and the
/// line it came from.
fn build_requirements(doc: &toml::Table) -> Vec<(String, String)> {
    let Some(requires) = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
    else {
        return Vec::new();
    };
    requires
        .iter()
        .filter_map(|r| r.as_str())
        .map(|r| {
            let name: String = r
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            (
                normalize(&name),
                format!("[build-system] requires = \"{r}\""),
            )
        })
        .collect()
}

/// PEP 725 `[external] build-requires` and `host-requires`:
/// `pkg:generic/NAME` names a library, which pkg-config names the same way.
fn external_needs(doc: &toml::Table) -> Vec<(String, String)> {
    let Some(external) = doc.get("external").and_then(|e| e.as_table()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["build-requires", "host-requires"] {
        let Some(items) = external.get(key).and_then(|v| v.as_array()) else {
            continue;
        };
        for item in items.iter().filter_map(|i| i.as_str()) {
            let Some(rest) = item.strip_prefix("pkg:generic/") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| !matches!(c, '@' | '?' | '#'))
                .collect();
            if is_module(&name) {
                out.push((name, format!("[external] {key} = \"{item}\"")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pkg_config_calls_in_setup_py() {
        let setup = r#"
import subprocess, pkgconfig
# pkg-config --cflags commented
flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "libffi"])
x = pkgconfig.parse("cairo gobject-2.0")
out = os.popen("pkg-config --modversion libxml-2.0").read()
"#;
        let needs = needs_in("setup.py", setup);
        let modules: Vec<&Missing> = needs.iter().map(|n| &n.missing).collect();
        assert_eq!(
            modules,
            vec![
                &Missing::PkgConfig("libffi".into()),
                &Missing::PkgConfig("cairo".into()),
                &Missing::PkgConfig("gobject-2.0".into()),
                &Missing::PkgConfig("libxml-2.0".into()),
            ]
        );
        assert!(
            needs[0].line.starts_with("setup.py: flags = subprocess"),
            "{:?}",
            needs[0]
        );
    }

    #[test]
    fn reads_known_build_requirements_and_pep_725() {
        let pyproject = r#"
[build-system]
requires = ["setuptools>=61", "PkgConfig>=1.5", "cython"]

[external]
host-requires = ["pkg:generic/libgit2@1.7", "virtual:compiler/c"]
"#;
        let needs = needs_in("pyproject.toml", pyproject);
        assert_eq!(
            needs,
            vec![
                StatedNeed {
                    missing: Missing::Program("pkg-config".into()),
                    line: "pyproject.toml: [build-system] requires = \"PkgConfig>=1.5\"".into(),
                },
                StatedNeed {
                    missing: Missing::PkgConfig("libgit2".into()),
                    line: "pyproject.toml: [external] host-requires = \"pkg:generic/libgit2@1.7\""
                        .into(),
                },
            ]
        );
    }

    #[test]
    fn names_of_variables_are_not_read_as_modules() {
        let setup = "out = subprocess.check_output(['pkg-config', '--cflags', name])\n";
        assert!(needs_in("setup.py", setup).is_empty());
    }

    #[test]
    fn plain_code_states_nothing() {
        assert!(needs_in(
            "setup.py",
            "from setuptools import setup\nsetup(name='x')\n"
        )
        .is_empty());
        assert!(needs_in("pyproject.toml", "not = [toml").is_empty());
    }

    #[test]
    fn hostile_sdist_metadata_reads_are_bounded() {
        // Not an archive, and a missing file: nothing stated, no panic.
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.tar.gz");
        std::fs::write(&junk, b"\x1f\x8b not gzip at all").unwrap();
        assert!(stated_needs(&junk).is_empty());
        assert!(stated_needs(&dir.path().join("absent.tar.gz")).is_empty());
    }
}
