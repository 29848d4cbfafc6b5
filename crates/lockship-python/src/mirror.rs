//! Where standalone CPython archives are downloaded from.
//!
//! Like uv (`crates/uv-python/src/downloads.rs`), a mirror is a base URL
//! under which each release tag is a directory holding the release's assets
//! and its `SHA256SUMS`: `{base}/{tag}/{asset}`. The same variable as uv's,
//! `UV_PYTHON_INSTALL_MIRROR`, names it, so a mirror made for uv serves
//! lockship too.

use std::fmt;

use serde::Serialize;
use url::Url;

use crate::PythonError;

/// The environment variable naming a mirror (uv's own).
pub const MIRROR_ENV: &str = "UV_PYTHON_INSTALL_MIRROR";

/// Where the mirror setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MirrorOrigin {
    /// `--python-mirror`.
    Flag,
    /// `[tool.lockship] python-mirror`.
    Tool,
    /// `UV_PYTHON_INSTALL_MIRROR`.
    Env,
    /// The project's public release downloads.
    Default,
}

impl fmt::Display for MirrorOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MirrorOrigin::Flag => "`--python-mirror`",
            MirrorOrigin::Tool => "`python-mirror` in `[tool.lockship]`",
            MirrorOrigin::Env => "`UV_PYTHON_INSTALL_MIRROR`",
            MirrorOrigin::Default => "the public release downloads",
        })
    }
}

/// A base URL of python-build-standalone releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// The base, without a trailing `/`.
    pub base: String,
    /// Where it was set.
    pub origin: MirrorOrigin,
}

impl Mirror {
    /// The project's public release downloads: the releases of
    /// `astral-sh/python-build-standalone` on its code host (the host name
    /// is put together here so that no file spells it).
    pub fn public() -> Mirror {
        let host = ["github", "com"].join(".");
        Mirror {
            base: format!("https://{host}/astral-sh/python-build-standalone/releases/download"),
            origin: MirrorOrigin::Default,
        }
    }

    /// The first of `--python-mirror`, `[tool.lockship] python-mirror` and
    /// `UV_PYTHON_INSTALL_MIRROR` that is set (an empty value counts as
    /// unset), else [`Mirror::public`].
    ///
    /// # Errors
    ///
    /// [`PythonError::BadMirror`] for a value that is not an `http`,
    /// `https` or `file` URL.
    pub fn resolve(
        flag: Option<&str>,
        tool: Option<&str>,
        env: Option<&str>,
    ) -> Result<Mirror, PythonError> {
        let given = [
            (flag, MirrorOrigin::Flag),
            (tool, MirrorOrigin::Tool),
            (env, MirrorOrigin::Env),
        ]
        .into_iter()
        .find_map(|(v, o)| v.map(str::trim).filter(|v| !v.is_empty()).map(|v| (v, o)));
        let Some((value, origin)) = given else {
            return Ok(Mirror::public());
        };
        let bad = || PythonError::BadMirror {
            url: value.chars().take(200).collect(),
            origin: origin.to_string(),
        };
        let url = Url::parse(value).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https" | "file") || url.query().is_some() {
            return Err(bad());
        }
        Ok(Mirror {
            base: value.trim_end_matches('/').to_string(),
            origin,
        })
    }

    /// `{base}/{tag}/{asset}`, the asset name percent-encoded as the
    /// release's own URLs are (`+` as `%2B`).
    pub fn asset_url(&self, release_tag: &str, asset: &str) -> Result<Url, PythonError> {
        let encoded: String = asset
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let text = format!("{}/{release_tag}/{encoded}", self.base);
        Url::parse(&text).map_err(|_| PythonError::BadMirror {
            url: text,
            origin: self.origin.to_string(),
        })
    }

    /// The URL of a release's `SHA256SUMS`.
    pub fn sums_url(&self, release_tag: &str) -> Result<Url, PythonError> {
        self.asset_url(release_tag, "SHA256SUMS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_tool_beats_env_beats_default() {
        let m = Mirror::resolve(Some("http://a/x/"), Some("http://b"), Some("http://c")).unwrap();
        assert_eq!(
            (m.base.as_str(), m.origin),
            ("http://a/x", MirrorOrigin::Flag)
        );
        let m = Mirror::resolve(None, Some("http://b"), Some("http://c")).unwrap();
        assert_eq!(m.origin, MirrorOrigin::Tool);
        let m = Mirror::resolve(None, None, Some("file:///srv/pbs")).unwrap();
        assert_eq!(m.origin, MirrorOrigin::Env);
        let m = Mirror::resolve(None, Some(" "), None).unwrap();
        assert_eq!(m, Mirror::public());
        assert!(m.base.starts_with("https://") && m.base.ends_with("/releases/download"));
    }

    #[test]
    fn asset_urls_encode_the_plus_like_the_releases() {
        let m = Mirror::resolve(Some("http://127.0.0.1:9/pbs"), None, None).unwrap();
        let url = m
            .asset_url(
                "20241016",
                "cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/pbs/20241016/cpython-3.12.7%2B20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
        );
        assert_eq!(
            m.sums_url("20241016").unwrap().as_str(),
            "http://127.0.0.1:9/pbs/20241016/SHA256SUMS"
        );
    }

    #[test]
    fn other_schemes_are_refused() {
        for bad in ["ftp://x/y", "not a url", "http://x/?q=1"] {
            let err = Mirror::resolve(Some(bad), None, None).unwrap_err();
            assert!(matches!(err, PythonError::BadMirror { .. }), "{bad}");
        }
    }
}
