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
    let wanted = normalize_version(version);
    let release: Vec<&IndexFile> = files
        .iter()
        .filter(|f| belongs_to(&f.filename, &name, &wanted))
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
        return normalize_name(&wheel.name) == name && normalize_version(&wheel.version) == version;
    }
    // Source archives: `{name}-{version}.tar.gz` / `.zip`, for the error's list.
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"));
    match stem.and_then(|s| s.rsplit_once('-')) {
        Some((n, v)) => normalize_name(n) == name && normalize_version(v) == version,
        None => false,
    }
}

fn normalize_version(version: &str) -> String {
    let v = version.trim().to_ascii_lowercase();
    v.strip_prefix('v').map(str::to_string).unwrap_or(v)
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
}
