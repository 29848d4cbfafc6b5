//! The files a runtime needs that no package provides as-is: users, links,
//! the CA bundle, /tmp, os-release and the dynamic linker's cache.

use std::collections::BTreeMap;
use std::path::Path;

use fs_err as fs;

use crate::error::io_err;
use crate::{PythonRuntime, RuntimeError};
use lockship_layer::Ownership;

/// The unprivileged user every lockship image runs as (as in distroless).
pub const NONROOT_UID: u32 = 65532;

/// Where the CA bundle lives, as `SSL_CERT_FILE` says.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Writes `contents` to the in-image path `path` under `root`.
pub(crate) fn write_file(root: &Path, path: &str, contents: &[u8]) -> Result<(), RuntimeError> {
    let dest = root.join(path.trim_start_matches('/'));
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    if dest.symlink_metadata().is_ok() {
        fs::remove_file(&dest).map_err(io_err("replace", &dest))?;
    }
    fs::write(&dest, contents).map_err(io_err("write", &dest))
}

/// Creates a symlink at in-image `path` pointing at `target` (replacing what is there).
pub(crate) fn symlink(root: &Path, path: &str, target: &str) -> Result<(), RuntimeError> {
    let dest = root.join(path.trim_start_matches('/'));
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    if dest.symlink_metadata().is_ok() {
        fs::remove_file(&dest).map_err(io_err("replace", &dest))?;
    }
    std::os::unix::fs::symlink(target, &dest).map_err(io_err("link", &dest))
}

fn mkdir(root: &Path, path: &str) -> Result<(), RuntimeError> {
    let dest = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(&dest).map_err(io_err("create", &dest))
}

/// The merged-/usr links of modern Debian: /bin, /sbin, /lib (and /lib64
/// where the loader lives there: amd64) point into /usr. Unpacking already maps package paths into /usr.
pub fn merged_usr(root: &Path, debian_arch: &str) -> Result<(), RuntimeError> {
    for dir in ["bin", "sbin", "lib"] {
        mkdir(root, &format!("usr/{dir}"))?;
        symlink(root, dir, &format!("usr/{dir}"))?;
    }
    if lockship_target::by_debian_arch(debian_arch).is_some_and(|t| t.has_lib64()) {
        mkdir(root, "usr/lib64")?;
        symlink(root, "lib64", "usr/lib64")?;
    }
    Ok(())
}

/// `python3` and `python` next to `python3.X`.
pub fn python_links(root: &Path, python: &PythonRuntime) -> Result<(), RuntimeError> {
    let bin = python.binary();
    if !root.join("usr/bin").join(&bin).exists() {
        return Err(RuntimeError::Incomplete {
            path: format!("/usr/bin/{bin}"),
        });
    }
    symlink(root, "/usr/bin/python3", &bin)?;
    symlink(root, "/usr/bin/python", "python3")
}

/// Users, groups, home directories and /tmp. Their owners and modes are
/// set by [`users_and_dirs_overrides`] in the layer.
pub fn users_and_dirs(root: &Path) -> Result<(), RuntimeError> {
    write_file(
        root,
        "/etc/passwd",
        format!(
            "root:x:0:0:root:/root:/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
             nonroot:x:{NONROOT_UID}:{NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n"
        )
        .as_bytes(),
    )?;
    write_file(
        root,
        "/etc/group",
        format!("root:x:0:\nnogroup:x:65534:\nnonroot:x:{NONROOT_UID}:\n").as_bytes(),
    )?;
    write_file(
        root,
        "/etc/nsswitch.conf",
        b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
    )?;
    for dir in ["/tmp", "/var/tmp", "/root", "/home/nonroot"] {
        mkdir(root, dir)?;
    }
    Ok(())
}

/// The owners and modes of the directories [`users_and_dirs`] makes.
pub fn users_and_dirs_overrides() -> BTreeMap<String, Ownership> {
    let mut owners = BTreeMap::new();
    owners.insert(
        "tmp".into(),
        Ownership {
            uid: 0,
            gid: 0,
            mode: Some(0o1777),
        },
    );
    owners.insert(
        "var/tmp".into(),
        Ownership {
            uid: 0,
            gid: 0,
            mode: Some(0o1777),
        },
    );
    owners.insert(
        "root".into(),
        Ownership {
            uid: 0,
            gid: 0,
            mode: Some(0o700),
        },
    );
    owners.insert(
        "home/nonroot".into(),
        Ownership {
            uid: NONROOT_UID,
            gid: NONROOT_UID,
            mode: Some(0o700),
        },
    );
    owners
}

/// Applets linked to busybox in a `--debug` image.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "ls", "cat", "cp", "mv", "rm", "mkdir", "env", "ps", "id", "find", "grep", "head",
    "tail", "less", "vi", "wget", "nc", "du", "df", "which", "stat", "top",
];

/// A shell and tools for `--debug` images, all links to busybox.
pub fn busybox_links(root: &Path) -> Result<(), RuntimeError> {
    for applet in BUSYBOX_APPLETS {
        symlink(root, &format!("/usr/bin/{applet}"), "busybox")?;
    }
    Ok(())
}

/// Builds the CA bundle from the PEM files the ca-certificates package
/// ships, as its maintainer script (`update-ca-certificates`) would.
/// Returns how many certificates went in.
pub fn ca_bundle(root: &Path) -> Result<usize, RuntimeError> {
    let dir = root.join("usr/share/ca-certificates");
    let mut files: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "crt"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut bundle = Vec::new();
    for file in &files {
        let mut pem = fs::read(file).map_err(io_err("read", file))?;
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        bundle.extend_from_slice(&pem);
    }
    write_file(root, CA_BUNDLE, &bundle)?;
    Ok(files.len())
}

/// /etc/os-release, which scanners read to tell the distribution, and
/// /etc/localtime set to UTC.
pub fn os_release(root: &Path, python: &PythonRuntime) -> Result<(), RuntimeError> {
    os_release_of(root, python.version, python)
}

/// [`os_release`] naming Python `version` (a standalone CPython's) on the
/// Debian suite of `suite`.
pub fn os_release_of(
    root: &Path,
    version: &str,
    suite: &PythonRuntime,
) -> Result<(), RuntimeError> {
    let text = format!(
        "PRETTY_NAME=\"lockship Python {v} (Debian GNU/Linux {d} ({s}))\"\n\
         NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"{d}\"\nVERSION=\"{d} ({s})\"\n\
         VERSION_CODENAME={s}\n",
        v = version,
        d = suite.debian_version,
        s = suite.suite
    );
    write_file(root, "/usr/lib/os-release", text.as_bytes())?;
    symlink(root, "/etc/os-release", "../usr/lib/os-release")?;
    symlink(root, "/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")?;
    write_file(root, "/etc/timezone", b"Etc/UTC\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_bundle_concatenates_sorted_pems() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("usr/share/ca-certificates/mozilla");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("b.crt"), "B").unwrap();
        std::fs::write(certs.join("a.crt"), "A\n").unwrap();
        std::fs::write(certs.join("readme.txt"), "no").unwrap();
        assert_eq!(ca_bundle(dir.path()).unwrap(), 2);
        let bundle =
            std::fs::read_to_string(dir.path().join("etc/ssl/certs/ca-certificates.crt")).unwrap();
        assert_eq!(bundle, "A\nB\n");
    }

    #[test]
    fn users_include_nonroot_and_sticky_tmp() {
        let dir = tempfile::tempdir().unwrap();
        users_and_dirs(dir.path()).unwrap();
        let owners = users_and_dirs_overrides();
        let passwd = std::fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(passwd.contains("nonroot:x:65532:65532:"));
        assert_eq!(owners["tmp"].mode, Some(0o1777));
        assert_eq!(owners["home/nonroot"].uid, 65532);
    }
}
