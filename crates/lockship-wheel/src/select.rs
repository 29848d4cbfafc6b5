//! Choosing the file to install for one pinned release.

use crate::{best_wheel, describe_target, normalize_name, IndexFile, Priority, WheelError};
use crate::{WheelFilename, WheelTarget};

/// Picks the best wheel of `package` `version` for `target` among an index's
/// files. Yanked files stay eligible: an exact pin may use them (PEP 592).
/// Names and versions compare after normalisation (case, `-`/`_`/`.`, a
/// leading `v`); no other PEP 440 equivalence is applied.
///
/// When nothing fits, the error names the package, the version, the target
/// and every file of that release.
pub fn select_wheel<'a>(
    files: &'a [IndexFile],
    package: &str,
    version: &str,
    target: &WheelTarget,
) -> Result<(&'a IndexFile, Priority), WheelError> {
    let name = normalize_name(package);
    let release: Vec<&IndexFile> = files
        .iter()
        .filter(|f| belongs_to(&f.filename, &name, version))
        .collect();
    let names: Vec<String> = release.iter().map(|f| f.filename.clone()).collect();
    match best_wheel(&names, target) {
        Some((chosen, priority)) => {
            let file = release
                .iter()
                .find(|f| &f.filename == chosen)
                .copied()
                .ok_or_else(|| no_wheel(package, version, target, &names))?;
            Ok((file, priority))
        }
        None => Err(no_wheel(package, version, target, &names)),
    }
}

fn no_wheel(package: &str, version: &str, target: &WheelTarget, names: &[String]) -> WheelError {
    WheelError::NoCompatibleWheel {
        package: package.to_string(),
        version: version.to_string(),
        target: describe_target(target),
        available: names.to_vec(),
    }
}

/// Whether a file name (wheel or source archive) is of `name` `version`.
fn belongs_to(filename: &str, name: &str, version: &str) -> bool {
    if let Ok(wheel) = WheelFilename::parse(filename) {
        return normalize_name(&wheel.name) == name && same_version(&wheel.version, version);
    }
    // Source archives: `{name}-{version}.tar.gz` / `.zip`, for the error's list.
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"));
    match stem.and_then(|s| s.rsplit_once('-')) {
        Some((n, v)) => normalize_name(n) == name && same_version(v, version),
        None => false,
    }
}

fn normalize_version(version: &str) -> String {
    let v = version.trim().to_ascii_lowercase();
    v.strip_prefix('v').map(str::to_string).unwrap_or(v)
}

/// Whether two version strings name the same release, by PEP 440 (`4.6`
/// and `4.6.0`, `1.0rc1` and `1.0.0-rc.1`); strings that are not PEP 440
/// versions are compared as written (case and a leading `v` aside).
pub fn same_version(a: &str, b: &str) -> bool {
    use std::str::FromStr;
    match (
        uv_pep440::Version::from_str(a.trim()),
        uv_pep440::Version::from_str(b.trim()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => normalize_version(a) == normalize_version(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arch, Libc};

    fn file(name: &str) -> IndexFile {
        IndexFile {
            filename: name.to_string(),
            url: url::Url::parse(&format!("http://127.0.0.1:1/f/{name}")).unwrap(),
            sha256: None,
            requires_python: None,
            yanked: false,
            yanked_reason: None,
            size: None,
        }
    }

    #[test]
    fn picks_within_the_pinned_release_only() {
        let target = WheelTarget {
            python: (3, 11),
            abi: "cp311".into(),
            arch: Arch::X86_64,
            libc: Libc::Glibc {
                major: 2,
                minor: 36,
            },
        };
        let files = [
            file("Demo.Pkg-2.0-py3-none-any.whl"),
            file("demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
            file("demo_pkg-1.0-py3-none-any.whl"),
            file("demo_pkg-1.0.tar.gz"),
            file("other-1.0-py3-none-any.whl"),
        ];
        let (chosen, _) = select_wheel(&files, "demo-pkg", "1.0", &target).unwrap();
        assert_eq!(chosen.filename, files[1].filename);
        // `1.0.0` is the same release as `1.0`.
        let (chosen, _) = select_wheel(&files, "demo-pkg", "1.0.0", &target).unwrap();
        assert_eq!(chosen.filename, files[1].filename);
        // A release the index does not list at all says so.
        let err = select_wheel(&files, "demo-pkg", "1.5", &target).unwrap_err();
        assert!(err.to_string().contains("lists no file"), "{err}");
        assert!(err.hint().unwrap().contains("--index-url"), "{err}");
        let (chosen, _) = select_wheel(&files, "DEMO_PKG", "2.0", &target).unwrap();
        assert_eq!(chosen.filename, files[0].filename);

        let arm = WheelTarget {
            arch: Arch::Aarch64,
            ..target
        };
        let only_native = [files[1].clone(), files[3].clone()];
        let err = select_wheel(&only_native, "demo-pkg", "1.0", &arm).unwrap_err();
        match &err {
            WheelError::NoCompatibleWheel {
                package,
                version,
                available,
                ..
            } => {
                assert_eq!((package.as_str(), version.as_str()), ("demo-pkg", "1.0"));
                assert_eq!(available.len(), 2);
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("aarch64"), "{err}");
    }

    #[test]
    fn versions_are_equal_by_pep_440_not_by_spelling() {
        assert!(same_version("4.6", "4.6.0"));
        assert!(same_version("1.0RC1", "1.0rc1"));
        assert!(same_version("v2.1", "2.1"));
        assert!(!same_version("4.6", "4.6.1"));
        assert!(!same_version("4.6", "4.6.post1"));
        assert!(same_version("not-a-version", "NOT-A-VERSION"));
    }
}
