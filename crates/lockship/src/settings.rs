//! Settings merged once: flags, then environment variables, then defaults.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use url::Url;

use crate::env_vars;

/// Where the cache lives: `--cache-dir`, `LOCKSHIP_CACHE_DIR`, then the XDG cache dir.
pub fn cache_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(env_vars::LOCKSHIP_CACHE_DIR) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os(env_vars::XDG_CACHE_HOME) {
        return Ok(PathBuf::from(dir).join("lockship"));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| anyhow!("No cache directory: `HOME` is not set\nhint: pass `--cache-dir DIR` or set `LOCKSHIP_CACHE_DIR`"))?;
    Ok(PathBuf::from(home).join(".cache/lockship"))
}

/// The Debian mirror: `--debian-mirror`, `LOCKSHIP_DEBIAN_MIRROR`, then the host's apt sources.
pub fn debian_mirror(flag: Option<String>) -> Result<Url> {
    let given = flag.or_else(|| std::env::var(env_vars::LOCKSHIP_DEBIAN_MIRROR).ok());
    if let Some(text) = given {
        let text = if text.contains("://") {
            text
        } else {
            format!(
                "file://{}",
                std::fs::canonicalize(&text)
                    .with_context(|| format!(
                        "The Debian mirror `{text}` is neither a URL nor a directory"
                    ))?
                    .display()
            )
        };
        return Url::parse(&text)
            .with_context(|| format!("`{text}` is not a valid Debian mirror URL"));
    }
    match lockship_debian::mirror_from_apt_sources(std::path::Path::new("/"))? {
        Some(url) => Ok(url),
        None => Err(lockship_runtime::RuntimeError::NoMirror.into()),
    }
}

/// The keyring: `--keyring`, `LOCKSHIP_KEYRING`, then the host's Debian archive keyring.
pub fn keyring(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(env_vars::LOCKSHIP_KEYRING).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(lockship_debian::Keyring::DEFAULT_PATH))
}

/// `SOURCE_DATE_EPOCH`, else lockship's fixed default.
pub fn epoch() -> Result<u64> {
    match std::env::var(env_vars::SOURCE_DATE_EPOCH) {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().with_context(|| {
            format!("`SOURCE_DATE_EPOCH` is `{text}`, not a number of seconds\nhint: unset it, or set it to e.g. `date +%s`")
        }),
        _ => Ok(lockship_runtime::DEFAULT_EPOCH),
    }
}
