//! Unpacking a checked standalone archive: the flattener's rules plus the
//! prefix, then pruning.
//!
//! An archive is unpacked only after its SHA-256 matched. Even so it is
//! outside input, so before a byte is written [`scan`] reads the whole tar
//! stream and refuses any entry that is not under the top directory
//! `python/`, names a whiteout, climbs with `..`, is absolute, is a device
//! or FIFO, is a hard link to outside `python/`, or is a symlink whose target
//! is absolute or climbs out of `python/`; it also caps the entry count and
//! the unpacked size, and hashes the stream. The one flattener,
//! [`lockship_layer::unpack_layer`], then unpacks it (resolving every path
//! inside the root, never writing through a link, dropping setuid bits) and
//! checks the hash again. Last, [`check_links`] resolves every symlink of
//! the tree as the file system does and refuses one that lands outside it.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use lockship_fetch::HashingReader;

use crate::PythonError;

/// The top directory of every `install_only` archive.
pub(crate) const TOP: &str = "python";
/// The most entries an archive may hold (a release holds under 10 000).
const MAX_ENTRIES: u64 = 200_000;
/// The most bytes an archive may unpack to (a release unpacks to ~200 MB).
const MAX_UNPACKED_BYTES: u64 = 2 << 30;

/// Reads the archive at `path` and returns the `sha256:` digest of its tar
/// stream, or the first entry that would leave the prefix.
pub(crate) fn scan(path: &Path, archive: &str) -> Result<String, PythonError> {
    let bad = |reason: String| PythonError::BadArchive {
        archive: archive.to_string(),
        reason,
    };
    let stream = lockship_layer::open_layer_tar(path)?;
    let mut hashing = HashingReader::new(stream.take(MAX_UNPACKED_BYTES + 1));
    {
        let mut tar = tar::Archive::new(&mut hashing);
        let mut count = 0u64;
        for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            count += 1;
            if count > MAX_ENTRIES {
                return Err(bad(format!("it holds more than {MAX_ENTRIES} entries")));
            }
            check_entry(&entry).map_err(|(entry, reason)| PythonError::UnsafeEntry {
                archive: archive.to_string(),
                entry,
                reason,
            })?;
        }
    }
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| bad(e.to_string()))?;
    if hashing.count() > MAX_UNPACKED_BYTES {
        return Err(bad(format!(
            "it unpacks to more than {MAX_UNPACKED_BYTES} bytes"
        )));
    }
    Ok(format!("sha256:{}", hashing.hex_digest()))
}

/// The checks on one entry; `Err((entry, reason))`.
fn check_entry<R: Read>(entry: &tar::Entry<R>) -> Result<(), (String, String)> {
    let raw = entry.path_bytes();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let fail = |reason: &str| Err((shown.clone(), reason.to_string()));
    let parts = match plain_parts(Path::new(std::ffi::OsStr::from_bytes(&raw))) {
        Ok(parts) => parts,
        Err(reason) => return fail(reason),
    };
    if parts.first().map(String::as_str) != Some(TOP) {
        return fail("is outside the archive's top directory `python/`");
    }
    if parts.iter().any(|p| p.starts_with(".wh.")) {
        return fail("is a layer whiteout, which a Python archive never holds");
    }
    let kind = entry.header().entry_type();
    if kind.is_dir() || kind.is_file() || kind.is_contiguous() {
        return Ok(());
    }
    let Some(target) = entry.link_name_bytes() else {
        return fail("is a device, FIFO or other special file");
    };
    let target_text = String::from_utf8_lossy(&target).into_owned();
    let target = Path::new(std::ffi::OsStr::from_bytes(&target)).to_path_buf();
    if kind.is_hard_link() {
        return match plain_parts(&target) {
            Ok(t) if t.first().map(String::as_str) == Some(TOP) && t.len() > 1 => Ok(()),
            _ => fail(&format!(
                "is a hard link to `{target_text}`, outside `python/`"
            )),
        };
    }
    if !kind.is_symlink() {
        return fail("is a device, FIFO or other special file");
    }
    if target.has_root() {
        return fail(&format!(
            "is a symlink to the absolute path `{target_text}`"
        ));
    }
    // Lexically, from the link's directory: never above `python/` (depth
    // 1). Links through other links are checked on the tree by `check_links`.
    let mut depth = parts.len() - 1;
    for c in target.components() {
        match c {
            Component::ParentDir if depth <= 1 => {
                return fail(&format!(
                    "is a symlink to `{target_text}`, which leaves `python/`"
                ))
            }
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    Ok(())
}

/// The plain names of a path, or why it is refused.
fn plain_parts(path: &Path) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(String::from_utf8_lossy(n.as_bytes()).into_owned()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => return Err("climbs with `..`"),
        }
    }
    if out.is_empty() {
        return Err("names no file");
    }
    Ok(out)
}

/// Resolves every symlink under `tree` as the file system does and refuses
/// one that lands outside `tree`. A dangling link may only name a plain
/// relative path (no `..`).
pub(crate) fn check_links(tree: &Path, archive: &str) -> Result<(), PythonError> {
    let root = fs_err::canonicalize(tree).map_err(PythonError::io(tree))?;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for child in fs_err::read_dir(&dir).map_err(PythonError::io(&dir))? {
            let path = child.map_err(PythonError::io(&dir))?.path();
            let meta = fs_err::symlink_metadata(&path).map_err(PythonError::io(&path))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if !meta.file_type().is_symlink() {
                continue;
            }
            let entry = format!(
                "{TOP}/{}",
                path.strip_prefix(&root).unwrap_or(&path).display()
            );
            let refuse = |reason: String| PythonError::UnsafeEntry {
                archive: archive.to_string(),
                entry: entry.clone(),
                reason,
            };
            match std::fs::canonicalize(&path) {
                Ok(real) if real.starts_with(&root) => {}
                Ok(_) => {
                    return Err(refuse(
                        "is a symlink that resolves outside `python/`".into(),
                    ))
                }
                Err(_) => {
                    let target = fs_err::read_link(&path).map_err(PythonError::io(&path))?;
                    if target.has_root() || target.components().any(|c| c == Component::ParentDir) {
                        return Err(refuse(format!(
                            "is a dangling symlink to `{}`",
                            target.display()
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// One pruning rule, relative to the prefix (`lib/python3.X/` written as
/// `{stdlib}`); a trailing `/` matches a directory.
#[derive(Debug, Clone, Copy)]
pub struct PruneRule {
    /// The path prefix.
    pub prefix: &'static str,
    /// Why a runtime never needs it.
    pub why: &'static str,
}

/// What is pruned from a standalone tree. The stdlib part follows
/// `lockship-runtime`'s rules for Debian's Python.
pub const PRUNE_RULES: &[PruneRule] = &[
    rule("share/", "man pages"),
    rule(
        "include/",
        "C headers; sdist builds use the unpruned tree (`InstallOptions::prune`)",
    ),
    rule("bin/idle", "the IDLE editor, which needs Tk"),
    rule("bin/pip", "pip does not belong in a runtime image"),
    rule("bin/2to3", "lib2to3 is pruned"),
    rule("lib/libpython", "the static library (`libpython*.a`)"),
    rule("lib/tcl", "Tcl's script library, for tkinter"),
    rule("lib/tk", "Tk's script library, for tkinter"),
    rule("lib/itcl", "Tcl extension, for tkinter"),
    rule("lib/thread", "Tcl extension, for tkinter"),
    rule("{stdlib}test/", "the regression test suite"),
    rule("{stdlib}idlelib/", "the IDLE editor, which needs Tk"),
    rule("{stdlib}tkinter/", "Tk bindings; Tk is not installed"),
    rule("{stdlib}turtledemo/", "turtle graphics demos"),
    rule("{stdlib}turtle.py", "needs tkinter"),
    rule("{stdlib}lib2to3/", "the 2to3 translator, deprecated"),
    rule(
        "{stdlib}ensurepip/",
        "pip does not belong in a runtime image",
    ),
    rule("{stdlib}pydoc_data/", "pydoc's topic help"),
    rule("{stdlib}unittest/test/", "unittest's own tests"),
    rule("{stdlib}ctypes/test/", "ctypes' own tests"),
    rule("{stdlib}sqlite3/test/", "sqlite3's own tests"),
    rule("{stdlib}distutils/tests/", "distutils' own tests"),
    rule("{stdlib}lib-dynload/_test", "C test helpers"),
    rule("{stdlib}lib-dynload/_ctypes_test", "C test helpers"),
    rule("{stdlib}lib-dynload/xx", "C example modules"),
    rule("{stdlib}lib-dynload/_tkinter", "Tk bindings"),
    rule(
        "{stdlib}config-3.",
        "static library and Makefile for embedding",
    ),
    rule(
        "{stdlib}site-packages/pip",
        "pip does not belong in a runtime image",
    ),
    rule(
        "{stdlib}site-packages/setuptools",
        "no installer in a runtime image",
    ),
    rule("{stdlib}site-packages/_distutils_hack", "setuptools' shim"),
    rule(
        "{stdlib}site-packages/distutils-precedence.pth",
        "setuptools' shim",
    ),
];

const fn rule(prefix: &'static str, why: &'static str) -> PruneRule {
    PruneRule { prefix, why }
}

/// Whether `rel` (relative to the prefix, `/`-terminated for a directory)
/// is pruned. Every `__pycache__` goes too: the build compiles its own
/// bytecode, and timestamp-checked files would be stale in a layer.
fn pruned(rel: &str, stdlib: &str) -> bool {
    if rel.ends_with("/__pycache__/") || rel == "__pycache__/" {
        return true;
    }
    PRUNE_RULES
        .iter()
        .any(|r| match r.prefix.strip_prefix("{stdlib}") {
            Some(rest) => rel
                .strip_prefix(stdlib)
                .is_some_and(|tail| tail.starts_with(rest)),
            None if r.prefix == "lib/libpython" => rel.starts_with(r.prefix) && rel.ends_with(".a"),
            None if r.prefix.starts_with("lib/") => {
                // Only the Tcl/Tk directories right under `lib/`.
                rel.starts_with(r.prefix) && rel.ends_with('/') && rel.matches('/').count() == 2
            }
            None => rel.starts_with(r.prefix),
        })
}

/// Removes what [`PRUNE_RULES`] names from `tree` (the prefix's content) of
/// Python `minor` (`3.12`); returns the pruned paths, sorted.
pub fn prune_tree(tree: &Path, minor: &str) -> Result<Vec<String>, PythonError> {
    let stdlib = format!("lib/python{minor}/");
    let mut removed = Vec::new();
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = tree.join(&rel_dir);
        for child in fs_err::read_dir(&dir).map_err(PythonError::io(&dir))? {
            let child = child.map_err(PythonError::io(&dir))?;
            let rel = rel_dir.join(child.file_name());
            let path = tree.join(&rel);
            let meta = fs_err::symlink_metadata(&path).map_err(PythonError::io(&path))?;
            let mut shown = rel.to_string_lossy().into_owned();
            if meta.is_dir() {
                shown.push('/');
            }
            if pruned(&shown, &stdlib) {
                if meta.is_dir() {
                    fs_err::remove_dir_all(&path).map_err(PythonError::io(&path))?;
                } else {
                    fs_err::remove_file(&path).map_err(PythonError::io(&path))?;
                }
                removed.push(shown);
            } else if meta.is_dir() {
                stack.push(rel);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::pruned;

    #[test]
    fn prune_rules_match_what_they_say() {
        let s = "lib/python3.12/";
        for gone in [
            "share/",
            "include/",
            "bin/pip3",
            "bin/idle3.12",
            "lib/libpython3.12.a",
            "lib/tcl8.6/",
            "lib/python3.12/test/",
            "lib/python3.12/config-3.12-x86_64-linux-gnu/",
            "lib/python3.12/site-packages/pip/",
            "lib/python3.12/json/__pycache__/",
            "lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so",
        ] {
            assert!(pruned(gone, s), "{gone}");
        }
        for kept in [
            "bin/python3.12",
            "lib/libpython3.12.so.1.0",
            "lib/python3.12/",
            "lib/python3.12/json/",
            "lib/python3.12/site-packages/",
            "lib/python3.12/site-packages/README.txt",
            "lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so",
            "lib/python3.12/tomllib/",
            "lib/thread.py",
        ] {
            assert!(!pruned(kept, s), "{kept}");
        }
    }
}
