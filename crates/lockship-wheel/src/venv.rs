//! The virtualenv layout inside the image, staged under a local directory.

use std::path::{Path, PathBuf};

use crate::WheelError;

/// Where a virtualenv lives: `prefix` is its path inside the image, `root`
/// the local staging directory that stands for the image's `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenvLayout {
    /// The staging directory; `{root}{prefix}` is where files are written.
    pub root: PathBuf,
    /// The virtualenv's path inside the image, for example `/opt/venv`.
    pub prefix: String,
    /// The base interpreter inside the image, for example
    /// `/usr/bin/python3.11`.
    pub python: String,
    /// Its version, for example `(3, 11)`.
    pub python_version: (u8, u8),
    /// Its full version for `pyvenv.cfg` (`3.11.2`), when known.
    pub python_full_version: Option<String>,
}

impl VenvLayout {
    fn prefix(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }

    /// `{prefix}/lib/python3.X/site-packages`, inside the image.
    pub fn site_packages(&self) -> String {
        let (major, minor) = self.python_version;
        format!("{}/lib/python{major}.{minor}/site-packages", self.prefix())
    }

    /// `{prefix}/bin`, inside the image.
    pub fn bin_dir(&self) -> String {
        format!("{}/bin", self.prefix())
    }

    /// `{prefix}/bin/python`, the interpreter scripts are pointed at.
    pub fn venv_python(&self) -> String {
        format!("{}/bin/python", self.prefix())
    }

    /// The directory for `.data/<category>` of distribution `dist` (inside
    /// the image), per the virtualenv's install scheme; `None` for an
    /// unknown category.
    pub fn scheme_dir(&self, category: &str, dist: &str) -> Option<String> {
        let (major, minor) = self.python_version;
        match category {
            "purelib" | "platlib" => Some(self.site_packages()),
            "scripts" => Some(self.bin_dir()),
            "headers" => Some(format!(
                "{}/include/site/python{major}.{minor}/{dist}",
                self.prefix()
            )),
            "data" => Some(self.prefix().to_string()),
            _ => None,
        }
    }

    /// Whether `in_image` is a file the virtualenv itself owns, which no
    /// wheel may replace: `pyvenv.cfg`, the `lib64` link, the interpreter
    /// links in `bin` (`python`, `python3`, `python3.X`, with a `t` or `w`
    /// suffix too) and the `activate` scripts. A script merely named
    /// `python-something` is not an interpreter and stays allowed.
    pub fn owns(&self, in_image: &str) -> bool {
        let prefix = self.prefix();
        if in_image == format!("{prefix}/pyvenv.cfg") || in_image == format!("{prefix}/lib64") {
            return true;
        }
        let Some(name) = in_image.strip_prefix(&format!("{}/", self.bin_dir())) else {
            return false;
        };
        if name.contains('/') {
            return false;
        }
        if name.starts_with("activate") {
            return true;
        }
        name.strip_prefix("python").is_some_and(|rest| {
            let rest = rest.trim_end_matches(['t', 'w']);
            rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
    }

    /// The local path that stands for `in_image` (an absolute path inside
    /// the image).
    pub fn staged(&self, in_image: &str) -> PathBuf {
        self.root.join(in_image.trim_start_matches('/'))
    }
}

/// Writes the virtualenv itself under the staging root: `pyvenv.cfg`,
/// `bin/python`, `bin/python3` and `bin/python3.X` linking to the base
/// interpreter, `lib/python3.X/site-packages/`, and `lib64 -> lib`.
/// Running it again gives the same tree.
pub fn write_venv_skeleton(venv: &VenvLayout) -> Result<(), WheelError> {
    let (major, minor) = venv.python_version;
    let prefix = venv.staged(venv.prefix.trim_end_matches('/'));
    let io = |source| WheelError::Io {
        path: prefix.clone(),
        source,
    };
    fs_err::create_dir_all(venv.staged(&venv.site_packages())).map_err(io)?;
    fs_err::create_dir_all(venv.staged(&venv.bin_dir())).map_err(io)?;
    let home = Path::new(&venv.python)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/usr/bin".to_string());
    let mut cfg = format!("home = {home}\ninclude-system-site-packages = false\n");
    if let Some(version) = &venv.python_full_version {
        cfg.push_str(&format!("version = {version}\n"));
    }
    cfg.push_str(&format!("executable = {}\n", venv.python));
    fs_err::write(prefix.join("pyvenv.cfg"), cfg).map_err(io)?;
    let bin = venv.staged(&venv.bin_dir());
    for name in [
        "python".to_string(),
        "python3".to_string(),
        format!("python{major}.{minor}"),
    ] {
        replace_symlink(&venv.python, &bin.join(name)).map_err(io)?;
    }
    replace_symlink("lib", &prefix.join("lib64")).map_err(io)?;
    Ok(())
}

/// Creates `link -> target`, replacing a file or link already there.
pub(crate) fn replace_symlink(target: &str, link: &Path) -> std::io::Result<()> {
    if fs_err::symlink_metadata(link).is_ok() {
        fs_err::remove_file(link)?;
    }
    fs_err::os::unix::fs::symlink(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_has_config_links_and_site_packages() {
        let dir = tempfile::tempdir().unwrap();
        let venv = VenvLayout {
            root: dir.path().to_path_buf(),
            prefix: "/opt/venv".into(),
            python: "/usr/bin/python3.11".into(),
            python_version: (3, 11),
            python_full_version: Some("3.11.2".into()),
        };
        write_venv_skeleton(&venv).unwrap();
        write_venv_skeleton(&venv).unwrap();
        let root = dir.path().join("opt/venv");
        insta::assert_snapshot!(fs_err::read_to_string(root.join("pyvenv.cfg")).unwrap(), @r#"
home = /usr/bin
include-system-site-packages = false
version = 3.11.2
executable = /usr/bin/python3.11
"#);
        for name in ["python", "python3", "python3.11"] {
            let target = std::fs::read_link(root.join("bin").join(name)).unwrap();
            assert_eq!(target, Path::new("/usr/bin/python3.11"));
        }
        assert_eq!(
            std::fs::read_link(root.join("lib64")).unwrap(),
            Path::new("lib")
        );
        assert!(root.join("lib/python3.11/site-packages").is_dir());
        assert_eq!(
            venv.scheme_dir("headers", "demo").unwrap(),
            "/opt/venv/include/site/python3.11/demo"
        );
        assert_eq!(venv.scheme_dir("nonsense", "demo"), None);
        for owned in [
            "/opt/venv/pyvenv.cfg",
            "/opt/venv/lib64",
            "/opt/venv/bin/python",
            "/opt/venv/bin/python3.11",
            "/opt/venv/bin/python3.13t",
            "/opt/venv/bin/pythonw",
            "/opt/venv/bin/activate.fish",
        ] {
            assert!(venv.owns(owned), "{owned}");
        }
        for free in [
            "/opt/venv/bin/python-dotenv",
            "/opt/venv/bin/demo",
            "/opt/venv/share/pyvenv.cfg",
            "/opt/venv/bin/sub/python",
        ] {
            assert!(!venv.owns(free), "{free}");
        }
    }
}
