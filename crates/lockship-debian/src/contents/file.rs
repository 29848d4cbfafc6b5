//! The Contents file's format (a free-text header, then `path packages`
//! lines) and the derived index of shared libraries kept in the cache.

use std::borrow::Cow;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use lockship_fetch::Cache;

use super::{normalize, LibFile, FORMAT_VERSION, HEADER_MAX_LINES, LIBS_FILE, MAGIC};
use crate::DebianError;

/// Package names of a qualified list (`libs/libpq5,libdevel/libpq-dev`),
/// without sections, in order, without duplicates.
pub(super) fn package_names(list: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for qualified in list.split(',') {
        let name = qualified.trim().rsplit('/').next().unwrap_or("");
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// Splits a Contents line into `(path, qualified_packages)`: the package
/// list is the last whitespace-separated field, the path everything before.
pub(super) fn parse_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_end();
    let at = line.rfind([' ', '\t'])?;
    let path = normalize(line[..at].trim_end());
    let packages = &line[at + 1..];
    if path.is_empty() || packages.is_empty() {
        return None;
    }
    Some((path, packages))
}

/// Whether a line ends the free-text header of old Contents files.
pub(super) fn is_header_end(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("FILE") && words.next() == Some("LOCATION") && words.next().is_none()
}

/// Calls `f(path, qualified_packages)` for every entry read from `reader`,
/// skipping a leading free-text header and lines without a package list.
pub(super) fn for_each_entry(
    mut reader: impl BufRead,
    origin: &str,
    format: &str,
    mut f: impl FnMut(&str, &str),
) -> Result<(), DebianError> {
    let mut emit = |line: &str| {
        if let Some((path, packages)) = parse_line(line) {
            f(path, packages);
        }
    };
    // The first lines are held back until it is known whether they are a
    // header (a `FILE LOCATION` line follows them) or entries.
    let mut held: Option<Vec<String>> = Some(Vec::new());
    let mut buf = Vec::with_capacity(512);
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| DebianError::Decompress {
                origin: origin.to_string(),
                format: format.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        let line: Cow<str> = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        match held.take() {
            None => emit(line),
            Some(_) if is_header_end(line) => {}
            Some(mut lines) => {
                lines.push(line.to_string());
                if lines.len() < HEADER_MAX_LINES {
                    held = Some(lines);
                } else {
                    lines.iter().for_each(|l| emit(l));
                }
            }
        }
    }
    for line in held.into_iter().flatten() {
        emit(&line);
    }
    Ok(())
}

/// The first line of a derived index file.
pub(super) fn libs_header(sha256: &str, count: usize) -> String {
    format!("{MAGIC}\t{FORMAT_VERSION}\t{sha256}\t{count}")
}

/// Loads a derived index; `None` when it is missing, for another file, or
/// damaged (it is then derived again).
pub(super) fn load_libs(path: &Path, sha256: &str) -> Option<Vec<LibFile>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header = lines.next()?;
    let count: usize = header
        .strip_prefix(&format!("{MAGIC}\t{FORMAT_VERSION}\t{sha256}\t"))?
        .parse()
        .ok()?;
    let mut libs = Vec::with_capacity(count);
    for line in lines {
        let mut fields = line.split('\t');
        let (Some(basename), Some(path), Some(packages), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        libs.push(LibFile {
            basename: basename.to_string(),
            path: path.to_string(),
            packages: packages.split(',').map(str::to_string).collect(),
        });
    }
    (libs.len() == count).then_some(libs)
}

/// Writes a derived index to a temporary file in the cache, then renames it
/// into place.
pub(super) fn store_libs(
    cache: &Cache,
    path: &Path,
    sha256: &str,
    libs: &[LibFile],
) -> Result<(), DebianError> {
    let staging = cache.temp_dir().map_err(|e| DebianError::Io {
        path: cache.root().join("tmp"),
        source: std::io::Error::other(e),
    })?;
    let tmp = staging.path().join(LIBS_FILE);
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(out, "{}", libs_header(sha256, libs.len()))?;
        for lib in libs {
            writeln!(
                out,
                "{}\t{}\t{}",
                lib.basename,
                lib.path,
                lib.packages.join(",")
            )?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    write().map_err(DebianError::io(&tmp))?;
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(DebianError::io(dir))?;
    }
    fs_err::rename(&tmp, path).map_err(DebianError::io(path))
}
