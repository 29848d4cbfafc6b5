//! Finding the default package index without naming any registry here:
//! flags, environment, the project, pip's configuration, then the local
//! pip's own default.

use std::path::PathBuf;
use std::process::Command;

use url::Url;

use crate::{IndexUrl, WheelError};

/// Where [`discover_index_from`] looks, so tests (and callers with their own
/// settings) can replace the machine's environment.
#[derive(Debug, Clone, Default)]
pub struct IndexSources {
    /// `UV_INDEX_URL`.
    pub uv_index_url: Option<String>,
    /// `PIP_INDEX_URL`.
    pub pip_index_url: Option<String>,
    /// pip configuration files, lowest precedence first; the last one with
    /// `[global] index-url` wins.
    pub pip_config_files: Vec<PathBuf>,
    /// The interpreter asked for pip's built-in default (`python3`), or
    /// `None` to skip that step.
    pub python: Option<String>,
}

impl IndexSources {
    /// The sources of this machine: the two environment variables,
    /// `/etc/xdg/pip/pip.conf`, `/etc/pip.conf`, `~/.pip/pip.conf`,
    /// `$XDG_CONFIG_HOME/pip/pip.conf` (default `~/.config`), then
    /// `PIP_CONFIG_FILE`; and `python3`.
    pub fn from_env() -> IndexSources {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut files = vec![
            PathBuf::from("/etc/xdg/pip/pip.conf"),
            PathBuf::from("/etc/pip.conf"),
        ];
        if let Some(home) = &home {
            files.push(home.join(".pip").join("pip.conf"));
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        if let Some(config_home) = config_home {
            files.push(config_home.join("pip").join("pip.conf"));
        }
        if let Some(file) = var("PIP_CONFIG_FILE") {
            files.push(PathBuf::from(file));
        }
        IndexSources {
            uv_index_url: var("UV_INDEX_URL"),
            pip_index_url: var("PIP_INDEX_URL"),
            pip_config_files: files,
            python: Some("python3".to_string()),
        }
    }
}

/// The default index: `flag`, else `UV_INDEX_URL`, else `PIP_INDEX_URL`,
/// else the project's first index, else pip's configuration, else the
/// default of the local pip (asked through `python3`).
pub fn discover_index(flag: Option<&str>, project_indexes: &[Url]) -> Result<IndexUrl, WheelError> {
    discover_index_from(flag, project_indexes, &IndexSources::from_env())
}

/// [`discover_index`] with explicit sources.
pub fn discover_index_from(
    flag: Option<&str>,
    project_indexes: &[Url],
    sources: &IndexSources,
) -> Result<IndexUrl, WheelError> {
    if let Some(flag) = flag {
        return IndexUrl::parse(flag);
    }
    if let Some(url) = sources
        .uv_index_url
        .as_deref()
        .or(sources.pip_index_url.as_deref())
    {
        return IndexUrl::parse(url);
    }
    if let Some(url) = project_indexes.first() {
        return IndexUrl::parse(url.as_str());
    }
    let mut from_config = None;
    for file in &sources.pip_config_files {
        if let Ok(text) = fs_err::read_to_string(file) {
            if let Some(url) = pip_config_index_url(&text) {
                from_config = Some(url);
            }
        }
    }
    if let Some(url) = from_config {
        return IndexUrl::parse(&url);
    }
    let Some(python) = &sources.python else {
        return Err(WheelError::IndexDiscovery {
            reason: "no flag, environment variable, project index or pip configuration names one"
                .to_string(),
        });
    };
    let output = Command::new(python)
        .args([
            "-c",
            "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
        ])
        .output()
        .map_err(|e| WheelError::IndexDiscovery {
            reason: format!("cannot run `{python}` to ask pip for its default: {e}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let url = stdout.lines().map(str::trim).find(|l| !l.is_empty());
    match url {
        Some(url) if output.status.success() => IndexUrl::parse(url),
        _ => Err(WheelError::IndexDiscovery {
            reason: format!(
                "`{python}` has no pip to ask for its default index ({})",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no output")
                    .trim()
            ),
        }),
    }
}

/// `[global] index-url` (or `index_url`) of a pip configuration file.
fn pip_config_index_url(text: &str) -> Option<String> {
    let mut in_global = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_global = section.trim() == "global";
            continue;
        }
        if !in_global {
            continue;
        }
        if let Some((key, value)) = line.split_once(['=', ':']) {
            if matches!(key.trim(), "index-url" | "index_url") && !value.trim().is_empty() {
                found = Some(value.trim().to_string());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(dir: &std::path::Path) -> IndexSources {
        IndexSources {
            uv_index_url: None,
            pip_index_url: None,
            pip_config_files: vec![dir.join("etc.conf"), dir.join("user.conf")],
            python: None,
        }
    }

    #[test]
    fn precedence_flag_env_project_config() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("etc.conf"),
            "[install]\nindex-url = http://127.0.0.1:7/wrong/\n[global]\nindex-url = http://127.0.0.1:1/etc/\n",
        )
        .unwrap();
        fs_err::write(
            dir.path().join("user.conf"),
            "[global]\n# index-url = http://127.0.0.1:8/commented/\nindex_url: http://127.0.0.1:2/user\n",
        )
        .unwrap();
        let mut s = sources(dir.path());
        let project = [Url::parse("http://127.0.0.1:3/project/").unwrap()];
        let found = |flag, project: &[Url], s: &IndexSources| {
            discover_index_from(flag, project, s).unwrap().to_string()
        };
        assert_eq!(found(None, &[], &s), "http://127.0.0.1:2/user/");
        assert_eq!(found(None, &project, &s), "http://127.0.0.1:3/project/");
        s.pip_index_url = Some("http://127.0.0.1:4/pip/".into());
        assert_eq!(found(None, &project, &s), "http://127.0.0.1:4/pip/");
        s.uv_index_url = Some("http://127.0.0.1:5/uv/".into());
        assert_eq!(found(None, &project, &s), "http://127.0.0.1:5/uv/");
        assert_eq!(
            found(Some("http://127.0.0.1:6/flag"), &project, &s),
            "http://127.0.0.1:6/flag/"
        );
    }

    #[test]
    fn asks_the_local_pip_last() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3");
        fs_err::write(
            &fake,
            "#!/bin/sh\necho http://127.0.0.1:9/from-pip/simple/\n",
        )
        .unwrap();
        fs_err::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut s = sources(dir.path());
        s.python = Some(fake.display().to_string());
        assert_eq!(
            discover_index_from(None, &[], &s).unwrap().to_string(),
            "http://127.0.0.1:9/from-pip/simple/"
        );

        s.python = Some(dir.path().join("missing").display().to_string());
        let err = discover_index_from(None, &[], &s).unwrap_err();
        assert!(matches!(err, WheelError::IndexDiscovery { .. }));
        assert!(err.hint().unwrap().contains("UV_INDEX_URL"));
    }

    /// The real local pip, when there is one: its default is an HTTPS
    /// simple-API root. (No host name is written here on purpose.)
    #[test]
    fn the_local_pip_default_is_an_https_simple_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sources(dir.path());
        s.python = Some("python3".to_string());
        match discover_index_from(None, &[], &s) {
            Ok(index) => {
                assert_eq!(index.url().scheme(), "https");
                assert!(index.url().path().ends_with("/simple/"), "{index}");
            }
            Err(e) => eprintln!("skipping: {e}"),
        }
    }
}
