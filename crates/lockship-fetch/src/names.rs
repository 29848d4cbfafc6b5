//! File names that come from outside (a lockfile, an index page) and end up
//! as path components in the cache or a build directory.
//!
//! A hostile lock or index can name a file `/some/dir/evil` or
//! `../../etc/x`; joined to a directory, such a name writes anywhere. Every
//! name from outside passes [`check_file_name`] (a plain base name) or
//! [`check_dist_filename`] (a plain base name that also looks like a wheel
//! or an sdist) before it is used, and is refused otherwise.

use crate::FetchError;

/// The longest file name accepted, in bytes (`NAME_MAX` on Linux).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// The archive suffixes of source distributions: PEP 625's `.tar.gz`, and
/// the legacy ones older sdists still use.
pub const SDIST_SUFFIXES: [&str; 6] = [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"];

/// What kind of distribution a file name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistKind {
    /// A wheel (`name-version(-build)?-python-abi-platform.whl`).
    Wheel,
    /// A source distribution (`name-version.tar.gz` and the legacy suffixes).
    Sdist,
}

/// Checks that `name` is a plain base name: not empty, not `.` or `..`, no
/// `/`, `\`, NUL or other control characters, at most
/// [`MAX_FILE_NAME_BYTES`] long.
pub fn check_file_name(name: &str) -> Result<(), FetchError> {
    let bad = |reason: &'static str| {
        Err(FetchError::UnsafeFileName {
            name: shown(name),
            reason,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name == "." || name == ".." {
        return bad("is a directory reference, not a file name");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("is a path, not a plain file name");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a NUL or control character");
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return bad("is longer than 255 bytes");
    }
    Ok(())
}

/// Checks that `name` is a plain base name ([`check_file_name`]) made of the
/// characters distribution file names use (ASCII letters and digits, `.`,
/// `_`, `-`, `+`, `!`) and shaped like a wheel or an sdist, and says which.
pub fn check_dist_filename(name: &str) -> Result<DistKind, FetchError> {
    check_file_name(name)?;
    let bad = |reason: &'static str| {
        Err(FetchError::UnsafeFileName {
            name: shown(name),
            reason,
        })
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '!'))
    {
        return bad("has characters no wheel or sdist file name has");
    }
    if name.starts_with(['.', '-']) {
        return bad("starts with `.` or `-`");
    }
    if let Some(stem) = name.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(5..=6).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return bad("is not a wheel file name (`name-version-python-abi-platform.whl`)");
        }
        return Ok(DistKind::Wheel);
    }
    let Some(stem) = SDIST_SUFFIXES.iter().find_map(|s| name.strip_suffix(s)) else {
        return bad("is neither a wheel (`.whl`) nor an sdist (`.tar.gz`, `.zip`)");
    };
    match stem.rsplit_once('-') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() => Ok(DistKind::Sdist),
        _ => bad("is not an sdist file name (`name-version.tar.gz`)"),
    }
}

/// Whether `hex` is a SHA-256 in hex (64 hex digits, either case).
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A name as shown in an error: control characters escaped, cut at 120
/// characters so a hostile megabyte-long name does not flood the terminal.
pub(crate) fn shown(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_paths_do_not() {
        for ok in ["six-1.16.0-py2.py3-none-any.whl", "a", "x.tar.gz", "..a"] {
            check_file_name(ok).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "/some/dir/evil",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_file_name(&"a".repeat(256)).is_err());
        check_file_name(&"a".repeat(255)).unwrap();
    }

    #[test]
    fn dist_names_must_look_like_wheels_or_sdists() {
        assert_eq!(
            check_dist_filename("six-1.16.0-py2.py3-none-any.whl").unwrap(),
            DistKind::Wheel
        );
        assert_eq!(
            check_dist_filename("torch-2.3.0+cpu-1-cp311-cp311-linux_x86_64.whl").unwrap(),
            DistKind::Wheel
        );
        for sdist in [
            "psycopg2-2.9.10.tar.gz",
            "Django-1.0.zip",
            "ruamel.yaml-0.18.6.tar.gz",
            "a-1!2.0.tar.bz2",
        ] {
            assert_eq!(
                check_dist_filename(sdist).unwrap(),
                DistKind::Sdist,
                "{sdist}"
            );
        }
        for bad in [
            "evil",
            "/some/dir/evil",
            "x.whl",
            "a-1-py3-none.whl",
            "a-1-py3--any.whl",
            "noversion.tar.gz",
            "a b-1.tar.gz",
            "-a-1.tar.gz",
            "setup.exe",
        ] {
            assert!(check_dist_filename(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shown_names_are_escaped_and_cut() {
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown(&"x".repeat(500)).chars().count(), 121);
    }
}
