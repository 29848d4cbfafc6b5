//! What glibc's `ld.so` searches: the per-machine default directories, the
//! dynamic string tokens, and `/etc/ld.so.conf`.

use std::path::{Path, PathBuf};

use goblin::elf::header::EM_386;

use crate::fs::{normalize, Filesystem};
use crate::scan::Warning;

/// What the loader knows about one machine and class.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineInfo {
    /// The Debian multiarch triplet.
    pub triplet: Option<&'static str>,
    /// The value of `$PLATFORM` (`AT_PLATFORM`).
    pub platform: Option<&'static str>,
    /// The dynamic loader's soname and canonical path.
    pub loader: Option<(&'static str, &'static str)>,
}

/// The row of [`lockship_target::TARGETS`] for this machine and class.
pub(crate) fn machine_info(machine: u16, class64: bool) -> MachineInfo {
    let target = lockship_target::by_elf(machine, class64);
    MachineInfo {
        triplet: target.map(|t| t.triplet),
        platform: target.and_then(|t| t.elf).map(|elf| elf.at_platform),
        loader: target
            .and_then(|t| t.glibc_loader)
            .map(|loader| (loader.name, loader.path)),
    }
}

/// The loader's built-in directories, searched last.
pub(crate) fn default_dirs(machine: u16, class64: bool) -> Vec<PathBuf> {
    let info = machine_info(machine, class64);
    let mut dirs = Vec::new();
    if let Some(triplet) = info.triplet {
        dirs.push(format!("/lib/{triplet}"));
        dirs.push(format!("/usr/lib/{triplet}"));
    }
    if class64 {
        dirs.push("/lib64".to_string());
        dirs.push("/usr/lib64".to_string());
    } else if machine == EM_386 {
        dirs.push("/lib32".to_string());
        dirs.push("/usr/lib32".to_string());
    }
    dirs.extend(["/lib", "/usr/lib", "/usr/local/lib"].map(String::from));
    dirs.into_iter().map(PathBuf::from).collect()
}

/// The values `$LIB` may take: glibc has one, but which one depends on how
/// it was built (Debian: `lib/<triplet>`; Fedora: `lib64`), so try each.
fn lib_values(machine: u16, class64: bool) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(triplet) = machine_info(machine, class64).triplet {
        values.push(format!("lib/{triplet}"));
    }
    values.push(if class64 { "lib64" } else { "lib" }.to_string());
    values
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also in `${...}` form) of one
/// `DT_RPATH`/`DT_RUNPATH` entry into absolute in-image directories. Relative
/// entries (relative to the process's working directory) give nothing.
pub(crate) fn expand(entry: &str, origin: &Path, machine: u16, class64: bool) -> Vec<PathBuf> {
    let info = machine_info(machine, class64);
    let mut results = vec![String::new()];
    let mut rest = entry;
    while let Some(pos) = rest.find('$') {
        let (literal, after) = rest.split_at(pos);
        results.iter_mut().for_each(|r| r.push_str(literal));
        let after = &after[1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let values: Vec<String> = match name {
            "ORIGIN" => vec![origin.to_string_lossy().into_owned()],
            "LIB" => lib_values(machine, class64),
            "PLATFORM" => match info.platform {
                Some(p) => vec![p.to_string()],
                None => return Vec::new(),
            },
            // glibc leaves an unknown token as it is.
            _ => {
                let consumed = &rest[pos..rest.len() - tail.len()];
                vec![consumed.to_string()]
            }
        };
        results = results
            .iter()
            .flat_map(|r| values.iter().map(move |v| format!("{r}{v}")))
            .collect();
        rest = tail;
    }
    results.iter_mut().for_each(|r| r.push_str(rest));
    results
        .into_iter()
        .filter(|r| r.starts_with('/'))
        .map(|r| normalize(Path::new(&r)))
        .collect()
}

/// The directories `/etc/ld.so.conf` (and what it includes) lists, in order.
pub(crate) fn ld_so_conf_dirs(fs: &Filesystem, warnings: &mut Vec<Warning>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut seen = Vec::new();
    read_conf(
        fs,
        Path::new("/etc/ld.so.conf"),
        &mut dirs,
        &mut seen,
        warnings,
    );
    let mut unique = Vec::new();
    for d in dirs {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique
}

fn read_conf(
    fs: &Filesystem,
    path: &Path,
    dirs: &mut Vec<PathBuf>,
    seen: &mut Vec<PathBuf>,
    warnings: &mut Vec<Warning>,
) {
    let Some(real) = fs.canonicalize(path) else {
        return;
    };
    if seen.contains(&real) || seen.len() > 256 {
        return;
    }
    seen.push(real);
    let Some(host) = fs.host_path(path) else {
        return;
    };
    let text = match std::fs::read(&host) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => {
            warnings.push(Warning {
                path: path.to_path_buf(),
                message: format!("Cannot read the loader configuration: {err}"),
            });
            return;
        }
    };
    let conf_dir = path.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pattern in words {
                    let pattern = conf_dir.join(pattern);
                    for file in glob(fs, &pattern) {
                        read_conf(fs, &file, dirs, seen, warnings);
                    }
                }
            }
            Some("hwcap") => {}
            _ => {
                // ldconfig also accepts `dir=type`; the type is obsolete.
                let dir = line.split('=').next().unwrap_or(line).trim();
                if dir.starts_with('/') {
                    dirs.push(normalize(Path::new(dir)));
                }
            }
        }
    }
}

/// Expands `*`, `?` and `[...]` in any component of an absolute in-image
/// pattern, sorted as glob(3) sorts.
pub(crate) fn glob(fs: &Filesystem, pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for component in normalize(pattern).components().skip(1) {
        let part = component.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &current {
            if part.contains(['*', '?', '[']) {
                for name in fs.read_dir(base) {
                    let name_s = name.to_string_lossy();
                    if !name_s.starts_with('.') && wildmatch(part.as_bytes(), name_s.as_bytes()) {
                        next.push(base.join(&name));
                    }
                }
            } else {
                next.push(base.join(part.as_ref()));
            }
        }
        current = next;
    }
    current.sort();
    current.into_iter().filter(|p| fs.is_file(p)).collect()
}

/// fnmatch(3) without flags: `*`, `?` and bracket expressions.
fn wildmatch(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|i| wildmatch(&pattern[1..], &name[i..])),
        Some(b'?') => !name.is_empty() && wildmatch(&pattern[1..], &name[1..]),
        Some(b'[') => {
            let Some(close) = pattern.iter().skip(2).position(|&b| b == b']') else {
                return name.first() == Some(&b'[') && wildmatch(&pattern[1..], &name[1..]);
            };
            let set = &pattern[1..close + 2];
            let (negate, set) = match set.first() {
                Some(b'!') | Some(b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let Some(&c) = name.first() else {
                return false;
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && wildmatch(&pattern[close + 3..], &name[1..])
        }
        Some(&p) => name.first() == Some(&p) && wildmatch(&pattern[1..], &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::header::EM_X86_64;

    fn ex(entry: &str) -> Vec<String> {
        expand(entry, Path::new("/opt/venv/lib/pkg"), EM_X86_64, true)
            .into_iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    #[test]
    fn tokens_expand() {
        assert_eq!(ex("$ORIGIN/../pkg.libs"), ["/opt/venv/lib/pkg.libs"]);
        assert_eq!(ex("${ORIGIN}/lib"), ["/opt/venv/lib/pkg/lib"]);
        assert_eq!(ex("/opt/$LIB"), ["/opt/lib/x86_64-linux-gnu", "/opt/lib64"]);
        assert_eq!(ex("/p/${PLATFORM}/x"), ["/p/x86_64/x"]);
        assert_eq!(ex("/p/$UNKNOWN/x"), ["/p/$UNKNOWN/x"]);
        assert!(ex("relative/dir").is_empty());
    }

    #[test]
    fn wildmatch_works() {
        assert!(wildmatch(b"*.conf", b"libc.conf"));
        assert!(!wildmatch(b"*.conf", b"libc.conf.bak"));
        assert!(wildmatch(b"x86_64-?inux.conf", b"x86_64-linux.conf"));
        assert!(wildmatch(b"[a-c]x", b"bx"));
        assert!(!wildmatch(b"[!a-c]x", b"bx"));
    }

    #[test]
    fn default_dirs_for_x86_64() {
        let dirs: Vec<String> = default_dirs(EM_X86_64, true)
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib64",
                "/usr/lib64",
                "/lib",
                "/usr/lib",
                "/usr/local/lib"
            ]
        );
    }
}
