//! What the maintainer scripts of a stand-in's packages would make: they
//! never run, since packages are unpacked, so the dpkg database, users and
//! groups, alternatives, system files and the CA links are made here.

use std::collections::BTreeMap;
use std::path::Path;

use lockship_layer::Ownership;

use crate::cacert::{add_ca_certs, LOCAL_CA_DIR};
use crate::debtree::FetchedTree;
use crate::error::io_err;
use crate::fsbase::{self, symlink, write_file};
use crate::{compile, ldcache, AssemblyReport, BaseOptions, BasePlan, PythonRuntime, RuntimeError};

/// The image's root home directory (as in its `/etc/passwd`).
const ROOT_HOME: &str = "/root";

/// Paths no stand-in unpacks (as the official images' dpkg configuration
/// excludes them too).
const EXCLUDED_PREFIXES: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
    "/usr/share/lintian/",
    "/usr/share/linda/",
    "/usr/share/doc-base/",
];

/// The same exclusions for packages installed later with apt.
const DPKG_EXCLUDES: &str = "\
# Written by lockship: no documentation in the image, as in the official images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/doc-base/*
";

/// The group that reads /etc/shadow.
const SHADOW_GID: u32 = 42;
/// apt's unprivileged download user.
const APT_UID: u32 = 42;
const NOGROUP: u32 = 65534;

/// Owners and modes a stand-in's layer forces.
pub(super) fn overrides() -> BTreeMap<String, Ownership> {
    let mut owners = BTreeMap::new();
    let mut set = |path: &str, uid, gid, mode| {
        owners.insert(
            path.to_string(),
            Ownership {
                uid,
                gid,
                mode: Some(mode),
            },
        );
    };
    set("tmp", 0, 0, 0o1777);
    set("var/tmp", 0, 0, 0o1777);
    set("root", 0, 0, 0o700);
    set("etc/shadow", 0, SHADOW_GID, 0o640);
    set("etc/gshadow", 0, SHADOW_GID, 0o640);
    set("var/cache/apt/archives/partial", APT_UID, 0, 0o700);
    set("var/lib/apt/lists/partial", APT_UID, 0, 0o700);
    owners
}

/// Unpacks every package and makes what maintainer scripts would.
pub(super) fn assemble(
    root: &Path,
    plan: &BasePlan,
    fetched: &FetchedTree,
    options: &BaseOptions,
) -> Result<AssemblyReport, RuntimeError> {
    let python = &plan.python;
    let mut report = AssemblyReport {
        closure_installed_bytes: fetched.installed_bytes(),
        ..AssemblyReport::default()
    };
    fsbase::merged_usr(root, &plan.debian_arch)?;
    // The official images let pip install outside a venv.
    let marker = format!("{}/EXTERNALLY-MANAGED", python.stdlib_dir());
    let keep = |_: &lockship_debian::Package, path: &str| -> bool {
        if path == marker {
            return false;
        }
        // dpkg's `path-include /usr/share/doc/*/copyright`: it also keeps
        // packages that ship nothing else on dpkg's books.
        if let Some(rest) = path.strip_prefix("/usr/share/doc/") {
            if rest.split('/').count() == 2 && rest.ends_with("/copyright") {
                return true;
            }
        }
        !EXCLUDED_PREFIXES.iter().any(|p| path.starts_with(p))
    };
    let mut status = Vec::new();
    fetched.unpack(root, &keep, &mut |package, unpacked| {
        status.push((package.name.clone(), status_stanza(&unpacked.control)));
        dpkg_lists(root, package, unpacked)
    })?;
    dpkg_database(root, &mut status)?;
    users(root, options.epoch)?;
    alternatives(root, python)?;
    system_files(root, plan, options)?;
    report.certificates = ca_certificates(root)?;
    report.certificates += add_ca_certs(root, &options.ca_certs)?;
    for cert in &options.ca_certs {
        symlink(
            root,
            &format!("/etc/ssl/certs/{}", cert.name.replace(".crt", ".pem")),
            &format!("{LOCAL_CA_DIR}/{}", cert.name),
        )?;
    }
    report.ld_cache_entries = ldcache::write_ld_so_cache(root, &plan.debian_arch, &plan.triplet)?;
    if options.compile {
        match compile::find_interpreter(root, python, &plan.debian_arch, &plan.triplet) {
            Some(interp) => {
                report.pyc_files = Some(compile::compile_dirs(
                    root,
                    &interp,
                    &[
                        python.stdlib_dir(),
                        "/usr/lib/python3/dist-packages".to_string(),
                    ],
                )?);
            }
            None => {
                report.compile_skipped = Some(format!(
                    "no interpreter can run for {}: install {} on the host to get bytecode",
                    plan.platform,
                    python.binary()
                ));
            }
        }
    } else {
        report.compile_skipped = Some("--no-compile".to_string());
    }
    report.tree_bytes = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(report)
}

/// dpkg's file list and checksums of one unpacked package.
fn dpkg_lists(
    root: &Path,
    package: &lockship_debian::Package,
    unpacked: &lockship_debian::UnpackedDeb,
) -> Result<(), RuntimeError> {
    let multi_arch_same = unpacked
        .control
        .lines()
        .any(|l| l.trim() == "Multi-Arch: same");
    let info_name = if multi_arch_same {
        format!("{}:{}", package.name, package.architecture)
    } else {
        package.name.clone()
    };
    let mut list: Vec<&str> = unpacked.files.iter().map(String::as_str).collect();
    if !list.contains(&"/.") {
        list.insert(0, "/.");
    }
    let mut text = list.join("\n");
    text.push('\n');
    write_file(
        root,
        &format!("/var/lib/dpkg/info/{info_name}.list"),
        text.as_bytes(),
    )?;
    if let Some(sums) = &unpacked.md5sums {
        write_file(
            root,
            &format!("/var/lib/dpkg/info/{info_name}.md5sums"),
            sums.as_bytes(),
        )?;
    }
    Ok(())
}

/// A package's control stanza, marked installed, as dpkg's status has it.
fn status_stanza(control: &str) -> String {
    let mut stanza = String::new();
    for line in control.trim_end().lines() {
        if line.trim().is_empty() {
            continue;
        }
        stanza.push_str(line);
        stanza.push('\n');
        if line.starts_with("Package:") {
            stanza.push_str("Status: install ok installed\n");
        }
    }
    stanza
}

/// `/var/lib/dpkg`: one `status` file with every package, the empty files
/// dpkg expects, and the `ldconfig` trigger libc-bin declares.
fn dpkg_database(root: &Path, status: &mut [(String, String)]) -> Result<(), RuntimeError> {
    status.sort();
    let text: Vec<&str> = status.iter().map(|(_, s)| s.as_str()).collect();
    let mut text = text.join("\n");
    text.push('\n');
    write_file(root, "/var/lib/dpkg/status", text.as_bytes())?;
    for empty in [
        "/var/lib/dpkg/available",
        "/var/lib/dpkg/diversions",
        "/var/lib/dpkg/statoverride",
        "/var/lib/dpkg/triggers/Unincorp",
        "/var/lib/dpkg/triggers/File",
    ] {
        write_file(root, empty, b"")?;
    }
    write_file(root, "/var/lib/dpkg/info/format", b"1\n")?;
    if status.iter().any(|(name, _)| name == "libc-bin") {
        write_file(
            root,
            "/var/lib/dpkg/triggers/ldconfig",
            b"libc-bin/noawait\n",
        )?;
    }
    for dir in ["/var/lib/dpkg/updates", "/var/lib/dpkg/alternatives"] {
        mkdir(root, dir)?;
    }
    write_file(
        root,
        "/etc/dpkg/dpkg.cfg.d/lockship-excludes",
        DPKG_EXCLUDES.as_bytes(),
    )
}

fn mkdir(root: &Path, path: &str) -> Result<(), RuntimeError> {
    let dest = root.join(path.trim_start_matches('/'));
    fs_err::create_dir_all(&dest).map_err(io_err("create", &dest))
}

/// Users and groups as base-passwd's and apt's maintainer scripts make them,
/// with their shadow files (password changes dated at the epoch).
fn users(root: &Path, epoch: u64) -> Result<(), RuntimeError> {
    let master = |name: &str, fallback: &str| -> String {
        std::fs::read_to_string(root.join("usr/share/base-passwd").join(name))
            .unwrap_or_else(|_| fallback.to_string())
    };
    let mut passwd = master(
        "passwd.master",
        "root:x:0:0:root:/root:/bin/bash\n\
         daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    let mut group = master(
        "group.master",
        "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n",
    );
    // base-passwd's masters leave root's shell as /bin/sh; Debian's
    // installer and the official images give root bash.
    passwd = passwd.replacen(
        "root:x:0:0:root:/root:/bin/sh\n",
        "root:x:0:0:root:/root:/bin/bash\n",
        1,
    );
    if !passwd.ends_with('\n') {
        passwd.push('\n');
    }
    if !passwd.lines().any(|l| l.starts_with("_apt:")) {
        passwd.push_str(&format!(
            "_apt:x:{APT_UID}:{NOGROUP}::/nonexistent:/usr/sbin/nologin\n"
        ));
    }
    if !group.ends_with('\n') {
        group.push('\n');
    }
    let days = epoch / 86_400;
    let shadow: String = passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|name| format!("{name}:*:{days}:0:99999:7:::\n"))
        .collect();
    let gshadow: String = group
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|name| format!("{name}:*::\n"))
        .collect();
    write_file(root, "/etc/passwd", passwd.as_bytes())?;
    write_file(root, "/etc/group", group.as_bytes())?;
    write_file(root, "/etc/shadow", shadow.as_bytes())?;
    write_file(root, "/etc/gshadow", gshadow.as_bytes())?;
    // Root's dot files in the image's root home, as base-files' postinst copies them.
    for (from, name) in [("dot.bashrc", ".bashrc"), ("dot.profile", ".profile")] {
        if let Ok(text) = std::fs::read(root.join("usr/share/base-files").join(from)) {
            write_file(root, &format!("{ROOT_HOME}/{name}"), &text)?;
        }
    }
    Ok(())
}

/// Alternatives the packages' maintainer scripts register: `(name, link,
/// candidates by preference)`. Only those with an installed candidate are
/// made.
const ALTERNATIVES: &[(&str, &str, &[&str])] = &[
    ("awk", "/usr/bin/awk", &["/usr/bin/mawk", "/usr/bin/gawk"]),
    ("nawk", "/usr/bin/nawk", &["/usr/bin/mawk", "/usr/bin/gawk"]),
    ("which", "/usr/bin/which", &["/usr/bin/which.debianutils"]),
    ("cc", "/usr/bin/cc", &["/usr/bin/gcc"]),
    ("c++", "/usr/bin/c++", &["/usr/bin/g++"]),
    ("c89", "/usr/bin/c89", &["/usr/bin/c89-gcc"]),
    ("c99", "/usr/bin/c99", &["/usr/bin/c99-gcc"]),
    (
        "cpp",
        "/usr/bin/cpp",
        &["/usr/bin/cpp-12", "/usr/bin/cpp-14"],
    ),
    ("lzma", "/usr/bin/lzma", &["/usr/bin/xz"]),
    ("unlzma", "/usr/bin/unlzma", &["/usr/bin/unxz"]),
    ("lzcat", "/usr/bin/lzcat", &["/usr/bin/xzcat"]),
    (
        "pinentry",
        "/usr/bin/pinentry",
        &["/usr/bin/pinentry-curses"],
    ),
    ("rmt", "/usr/sbin/rmt", &["/usr/sbin/rmt-tar"]),
];

/// The alternatives, the `/bin/sh` link, and the `python`/`pip` links of the
/// official images.
fn alternatives(root: &Path, python: &PythonRuntime) -> Result<(), RuntimeError> {
    let exists = |p: &str| {
        root.join(p.trim_start_matches('/'))
            .symlink_metadata()
            .is_ok()
    };
    for (name, link, candidates) in ALTERNATIVES {
        if exists(link) {
            continue;
        }
        let Some(target) = candidates.iter().find(|c| exists(c)) else {
            continue;
        };
        symlink(root, link, &format!("/etc/alternatives/{name}"))?;
        symlink(root, &format!("/etc/alternatives/{name}"), target)?;
        write_file(
            root,
            &format!("/var/lib/dpkg/alternatives/{name}"),
            format!("auto\n{link}\n\n{target}\n10\n\n").as_bytes(),
        )?;
    }
    if !exists("/usr/bin/sh") {
        symlink(root, "/usr/bin/sh", "dash")?;
    }
    if !exists("/usr/bin/pkg-config") && exists("/usr/bin/pkgconf") {
        symlink(root, "/usr/bin/pkg-config", "pkgconf")?;
    }
    let binary = python.binary();
    if !exists(&format!("/usr/bin/{binary}")) {
        return Err(RuntimeError::Incomplete {
            path: format!("/usr/bin/{binary}"),
        });
    }
    if !exists("/usr/bin/python3") {
        symlink(root, "/usr/bin/python3", &binary)?;
    }
    symlink(root, "/usr/local/bin/python", &format!("/usr/bin/{binary}"))?;
    if exists("/usr/bin/pip3") {
        symlink(root, "/usr/local/bin/pip", "/usr/bin/pip3")?;
    }
    if exists("/usr/bin/python3-config") {
        symlink(
            root,
            "/usr/local/bin/python-config",
            "/usr/bin/python3-config",
        )?;
    }
    Ok(())
}

/// /etc/shells, apt's sources and directories, /tmp and friends.
fn system_files(root: &Path, plan: &BasePlan, options: &BaseOptions) -> Result<(), RuntimeError> {
    let mut shells = String::from("# /etc/shells: valid login shells\n");
    for shell in ["sh", "bash", "rbash", "dash"] {
        if root.join("usr/bin").join(shell).symlink_metadata().is_ok() {
            shells.push_str(&format!("/bin/{shell}\n/usr/bin/{shell}\n"));
        }
    }
    write_file(root, "/etc/shells", shells.as_bytes())?;
    let mirror = options.mirror.as_str().trim_end_matches('/');
    write_file(
        root,
        "/etc/apt/sources.list.d/debian.sources",
        format!(
            "Types: deb\nURIs: {mirror}\nSuites: {}\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            plan.python.suite
        )
        .as_bytes(),
    )?;
    for dir in [
        "/tmp",
        "/var/tmp",
        "/root",
        "/home",
        "/var/log/apt",
        "/var/cache/apt/archives/partial",
        "/var/lib/apt/lists/partial",
        "/var/cache/debconf",
        "/usr/local/bin",
        "/usr/local/lib",
        "/usr/local/include",
        "/usr/local/share",
        "/usr/local/src",
        "/srv",
        "/opt",
        "/mnt",
        "/media",
        "/proc",
        "/sys",
        "/dev",
        "/run",
    ] {
        mkdir(root, dir)?;
    }
    let site = format!("/usr/local/lib/python{}/dist-packages", plan.python.version);
    mkdir(root, &site)?;
    symlink(root, "/etc/mtab", "../proc/self/mounts")?;
    write_file(root, "/etc/hostname", b"localhost\n")?;
    if root.join("usr/share/zoneinfo/Etc/UTC").exists() {
        symlink(root, "/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")?;
        write_file(root, "/etc/timezone", b"Etc/UTC\n")?;
    }
    Ok(())
}

/// What `update-ca-certificates` makes: `/etc/ca-certificates.conf`, a
/// `.pem` link per certificate and the bundle. Returns how many went in.
fn ca_certificates(root: &Path) -> Result<usize, RuntimeError> {
    let count = fsbase::ca_bundle(root)?;
    let dir = root.join("usr/share/ca-certificates");
    let mut names: Vec<String> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "crt"))
        .filter_map(|e| {
            e.path()
                .strip_prefix(&dir)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut conf = String::from(
        "# Written by lockship, as ca-certificates' configuration would be: every\n\
         # certificate of /usr/share/ca-certificates is trusted.\n",
    );
    for name in &names {
        conf.push_str(name);
        conf.push('\n');
        let base = name.rsplit('/').next().unwrap_or(name);
        symlink(
            root,
            &format!("/etc/ssl/certs/{}", base.replace(".crt", ".pem")),
            &format!("/usr/share/ca-certificates/{name}"),
        )?;
    }
    write_file(root, "/etc/ca-certificates.conf", conf.as_bytes())?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_has_one_paragraph_per_package() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = vec![
            ("b".to_string(), status_stanza("Package: b\nVersion: 1\n\n")),
            ("a".to_string(), status_stanza("Package: a\nVersion: 2\n")),
        ];
        dpkg_database(dir.path(), &mut status).unwrap();
        let text = std::fs::read_to_string(dir.path().join("var/lib/dpkg/status")).unwrap();
        assert_eq!(
            text,
            "Package: a\nStatus: install ok installed\nVersion: 2\n\n\
             Package: b\nStatus: install ok installed\nVersion: 1\n\n",
            "dpkg ends every paragraph with an empty line"
        );
    }

    #[test]
    fn users_include_apt_and_shadow() {
        let dir = tempfile::tempdir().unwrap();
        users(dir.path(), crate::DEFAULT_EPOCH).unwrap();
        let passwd = std::fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(passwd.contains("_apt:x:42:65534:"), "{passwd}");
        assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n"));
        let shadow = std::fs::read_to_string(dir.path().join("etc/shadow")).unwrap();
        assert!(shadow.contains("_apt:*:19723:0:99999:7:::"), "{shadow}");
    }
}
