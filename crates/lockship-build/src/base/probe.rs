//! Probing an unpacked base for what the venv must match: the CPython
//! (`python3.X` on the image's `PATH`, its prefix and full version), the C
//! library (glibc's version, or musl), the architecture, and the Debian suite
//! when there is one (for the system-libraries layer).

use std::path::{Component, Path, PathBuf};

use lockship_oci::Platform;
use lockship_runtime::DebPin;
use lockship_wheel::{Libc, WheelTarget};
use serde::Serialize;

use super::pull::PulledBase;
use crate::BuildError;

/// What the build learned about a base image by looking inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseFacts {
    /// Where the image came from, and its manifest digest.
    pub source: String,
    /// `sha256:…` of its manifest.
    pub manifest_digest: String,
    /// The interpreter the venv runs on, e.g. `/usr/local/bin/python3.12`.
    pub python: String,
    /// Its installation prefix (`/usr/local`).
    pub prefix: String,
    /// `3.12`.
    pub python_version: String,
    /// `3.12.7`.
    pub python_full_version: String,
    /// `glibc 2.36` or `musl 1.2`.
    pub libc: String,
    /// `/etc/os-release` `ID` and `VERSION_CODENAME` (`debian bookworm`).
    pub os: String,
    /// The Debian suite, when the base is Debian (system libraries come from it).
    pub suite: Option<String>,
    /// Whether the interpreter is Debian's own (`python3.X-minimal` installed at `/usr/bin`):
    /// only then can sdists be built in a Debian build environment that matches it.
    pub debian_python: bool,
    /// The base's `PATH`.
    pub path_var: String,
    /// Whether it has a CA bundle at lockship's `SSL_CERT_FILE` path.
    pub has_ca_bundle: bool,
    /// The base config's `Env`.
    #[serde(skip)]
    pub env: Vec<String>,
    /// The Debian packages the base's dpkg database lists.
    #[serde(skip)]
    pub packages: Vec<DebPin>,
    /// The C library, for wheel tags.
    #[serde(skip)]
    pub libc_kind: Option<Libc>,
}

impl BaseFacts {
    /// `(3, 12)`.
    pub fn version(&self) -> (u8, u8) {
        let (a, b) = self.python_version.split_once('.').unwrap_or(("3", "0"));
        (a.parse().unwrap_or(3), b.parse().unwrap_or(0))
    }

    /// The wheel tags this base accepts.
    pub fn wheel_target(&self, debian_arch: &str) -> WheelTarget {
        let python = self.version();
        WheelTarget {
            python,
            abi: format!("cp{}{}", python.0, python.1),
            arch: super::wheel_arch(debian_arch),
            libc: self.libc_kind.unwrap_or(Libc::Glibc {
                major: 2,
                minor: 17,
            }),
        }
    }

    /// Whether the base's C library is musl.
    pub fn is_musl(&self) -> bool {
        matches!(self.libc_kind, Some(Libc::Musl { .. }))
    }
}

/// A path inside the tree, refusing `..` and absolute escapes.
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The in-image path `in_image` leads to through its symlinks (absolute
/// links taken inside the tree), when it exists.
fn resolve_in(root: &Path, in_image: &str) -> Option<String> {
    let on_disk = lockship_runtime::compile::resolve_in_tree(root, in_image)?;
    let rel = on_disk.strip_prefix(root).ok()?;
    Some(format!("/{}", rel.to_string_lossy()))
}

/// `python3.12` → `(3, 12)`.
fn python_minor(file_name: &str) -> Option<(u8, u8)> {
    let rest = file_name.strip_prefix("python")?;
    let (a, b) = rest.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Looks inside the tree for the interpreter, the C library and the OS.
pub(crate) fn probe(
    tree: &Path,
    pulled: &PulledBase,
    platform: &Platform,
    want_python: Option<&str>,
) -> Result<BaseFacts, BuildError> {
    let fail = |reason: String| BuildError::BaseImage {
        source_ref: pulled.source.clone(),
        reason,
    };
    let config_arch = pulled.config.architecture.as_str();
    if config_arch != platform.architecture {
        return Err(fail(format!(
            "it is a `{config_arch}` image, and the build is for {platform}"
        )));
    }
    let (os_id, codename) = os_release(tree);
    let libc = probe_libc(tree, platform);
    // The interpreter: `python3` on the image's PATH, else any python3.X there.
    let path_var = pulled
        .config
        .env_var("PATH")
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .to_string();
    let mut found: Vec<(String, (u8, u8))> = Vec::new();
    for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
        if let Some(real) = resolve_in(tree, &format!("{dir}/python3")) {
            let name = real.rsplit('/').next().unwrap_or("");
            if let Some(v) = python_minor(name) {
                found.push((real.clone(), v));
            }
        }
        if let Some(on_disk) = inside(tree, Path::new(dir)) {
            if let Ok(read) = std::fs::read_dir(on_disk) {
                let mut names: Vec<String> = read
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for name in names {
                    if let Some(v) = python_minor(&name) {
                        if let Some(real) = resolve_in(tree, &format!("{dir}/{name}")) {
                            if !found.iter().any(|(p, _)| *p == real) {
                                found.push((real, v));
                            }
                        }
                    }
                }
            }
        }
    }
    let wanted = want_python.map(|w| {
        let w = w.trim().trim_start_matches("python");
        w.split('.').take(2).collect::<Vec<_>>().join(".")
    });
    let chosen = match &wanted {
        Some(w) => found
            .iter()
            .find(|(_, v)| format!("{}.{}", v.0, v.1) == *w)
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "the build asks for Python {w}, and the image has {}",
                    if found.is_empty() {
                        "no python3.X on its PATH".to_string()
                    } else {
                        found
                            .iter()
                            .map(|(p, v)| format!("{}.{} (`{p}`)", v.0, v.1))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            })?,
        None => found
            .first()
            .cloned()
            .ok_or_else(|| fail(format!("no `python3.X` on its PATH (`{path_var}`)")))?,
    };
    let (python, (major, minor)) = chosen;
    let bin_dir = Path::new(&python)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr/bin".into());
    let prefix = Path::new(&bin_dir)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr".into());
    let stdlib = format!("{prefix}/lib/python{major}.{minor}");
    if !inside(tree, Path::new(&stdlib)).is_some_and(|p| p.join("os.py").is_file()) {
        return Err(fail(format!(
            "`{python}` has no standard library at `{stdlib}` (is it CPython?)"
        )));
    }
    let packages = dpkg_packages(tree);
    let debian_python = prefix == "/usr"
        && packages
            .iter()
            .any(|p| p.name == format!("python{major}.{minor}-minimal"));
    let full = pulled
        .config
        .env_var("PYTHON_VERSION")
        .filter(|v| v.starts_with(&format!("{major}.{minor}.")))
        .map(str::to_string)
        .or_else(|| {
            packages
                .iter()
                .find(|p| p.name == format!("python{major}.{minor}-minimal"))
                .map(|p| super::upstream_version(&p.version))
        })
        .or_else(|| sysconfig_version(tree, &stdlib, major, minor))
        .unwrap_or_else(|| format!("{major}.{minor}.0"));
    let libc_text = match &libc {
        Some(Libc::Glibc { major, minor }) => format!("glibc {major}.{minor}"),
        Some(Libc::Musl { major, minor }) => format!("musl {major}.{minor}"),
        None => return Err(fail(
            "it has no C library lockship knows (neither glibc's `libc.so.6` nor musl's loader)"
                .into(),
        )),
    };
    let suite = (os_id == "debian")
        .then(|| codename.clone())
        .filter(|c| lockship_runtime::SUPPORTED.iter().any(|p| p.suite == c));
    Ok(BaseFacts {
        source: pulled.source.clone(),
        manifest_digest: pulled.manifest_digest.clone(),
        python,
        prefix,
        python_version: format!("{major}.{minor}"),
        python_full_version: full,
        libc: libc_text,
        os: format!("{os_id} {codename}").trim().to_string(),
        suite,
        debian_python,
        has_ca_bundle: resolve_in(tree, lockship_runtime::fsbase::CA_BUNDLE).is_some(),
        env: pulled.config.config.env.clone(),
        path_var,
        packages,
        libc_kind: libc,
    })
}

/// The full version from the stdlib's `_sysconfigdata` or `LICENSE.txt`-free
/// sources: the `Makefile`'s `VERSION`/`PY_VERSION` is not shipped, so look for
/// `'py_version': '3.12.7'` in the build-time sysconfig data.
fn sysconfig_version(tree: &Path, stdlib: &str, major: u8, minor: u8) -> Option<String> {
    let dir = inside(tree, Path::new(stdlib))?;
    let entry = std::fs::read_dir(&dir).ok()?.flatten().find(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n.starts_with("_sysconfigdata") && n.ends_with(".py")
    })?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let needle = format!("'{major}.{minor}.");
    let at = text.find(&needle)?;
    let rest = &text[at + 1..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

fn os_release(tree: &Path) -> (String, String) {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| {
            resolve_in(tree, &format!("/{p}"))
                .and_then(|real| std::fs::read_to_string(inside(tree, Path::new(&real))?).ok())
        })
        .unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (field("ID"), field("VERSION_CODENAME"))
}

/// glibc's version from the `libc.so.6` banner, or musl from its loader.
fn probe_libc(tree: &Path, platform: &Platform) -> Option<Libc> {
    let (_, triplet) = lockship_runtime::debian_arch(platform).ok()?;
    let musl_loader = lockship_target::by_oci(&platform.architecture, platform.variant.as_deref())
        .and_then(|t| t.musl_loader);
    for dir in ["/lib", "/usr/lib"] {
        let Some(loader) = musl_loader else { break };
        if resolve_in(tree, &format!("{dir}/{loader}")).is_some() {
            let (major, minor) = musl_version(tree).unwrap_or((1, 2));
            return Some(Libc::Musl { major, minor });
        }
    }
    for dir in [
        format!("/usr/lib/{triplet}"),
        format!("/lib/{triplet}"),
        "/usr/lib64".to_string(),
        "/lib64".to_string(),
        "/usr/lib".to_string(),
        "/lib".to_string(),
    ] {
        let Some(real) = resolve_in(tree, &format!("{dir}/libc.so.6")) else {
            continue;
        };
        let bytes = std::fs::read(inside(tree, Path::new(&real))?).ok()?;
        return Some(glibc_version(&bytes).unwrap_or(Libc::Glibc {
            major: 2,
            minor: 17,
        }));
    }
    None
}

/// `… release version 2.36.` in glibc's banner string.
fn glibc_version(bytes: &[u8]) -> Option<Libc> {
    let needle = b"release version ";
    let at = bytes.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let tail: String = bytes[at..]
        .iter()
        .take(12)
        .map(|&b| b as char)
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = tail.trim_end_matches('.').split('.');
    Some(Libc::Glibc {
        major: parts.next()?.parse().ok()?,
        minor: parts.next()?.parse().ok()?,
    })
}

/// musl's version from apk's database (Alpine), when it is there.
fn musl_version(tree: &Path) -> Option<(u16, u16)> {
    let text = std::fs::read_to_string(tree.join("lib/apk/db/installed")).ok()?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "P:musl" {
            let version = lines.find_map(|l| l.strip_prefix("V:"))?;
            let mut parts = version.split(['.', '-']);
            return Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?));
        }
    }
    None
}

/// The packages dpkg says are installed (`/var/lib/dpkg/status`, and
/// distroless-style `status.d/`).
fn dpkg_packages(tree: &Path) -> Vec<DebPin> {
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string(tree.join("var/lib/dpkg/status")) {
        texts.push(t);
    }
    if let Ok(read) = std::fs::read_dir(tree.join("var/lib/dpkg/status.d")) {
        for e in read.flatten() {
            if !e.file_name().to_string_lossy().ends_with(".md5sums") {
                if let Ok(t) = std::fs::read_to_string(e.path()) {
                    texts.push(t);
                }
            }
        }
    }
    let mut out = Vec::new();
    for text in texts {
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .map(str::to_string)
            };
            let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
                continue;
            };
            if field("Status").is_some_and(|s| !s.ends_with(" installed")) {
                continue;
            }
            out.push(DebPin {
                name,
                version,
                architecture: field("Architecture").unwrap_or_default(),
                filename: String::new(),
                sha256: String::new(),
                size: 0,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}
