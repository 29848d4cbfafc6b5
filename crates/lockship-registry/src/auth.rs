//! Credentials (explicit, Docker's `config.json`, credential helpers) and the
//! `WWW-Authenticate` challenges of the distribution spec's token authentication.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use crate::RegistryError;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, ***)", self.username)
    }
}

/// The result of looking for credentials: what was found, and where it was looked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    pub(crate) credential: Option<Credential>,
    pub(crate) looked: Vec<String>,
}

/// The default Docker client config: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
pub fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// `https://host:5000/v1/` → `host:5000`.
fn normalize_key(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// Look for credentials for `registry`: explicit ones first, then `config.json`'s `auths`,
/// its `credHelpers[registry]`, then its `credsStore`.
pub(crate) fn lookup(
    registry: &str,
    explicit: Option<&(String, String)>,
    config_path: Option<&Path>,
) -> Result<Lookup, RegistryError> {
    let mut out = Lookup::default();
    if let Some((user, password)) = explicit {
        out.looked
            .push(format!("the explicit credentials (user `{user}`)"));
        out.credential = Some(Credential {
            username: user.clone(),
            password: password.clone(),
        });
        return Ok(out);
    }
    out.looked.push("explicit credentials (none given)".into());
    let Some(path) = config_path else {
        out.looked
            .push("Docker config (no `DOCKER_CONFIG` or `HOME`)".into());
        return Ok(out);
    };
    let shown = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.looked.push(format!("`{shown}` (not present)"));
            return Ok(out);
        }
        Err(e) => {
            return Err(RegistryError::Credentials {
                registry: registry.into(),
                source_name: format!("`{shown}`"),
                message: e.to_string(),
            })
        }
    };
    let config: DockerConfig =
        serde_json::from_slice(&text).map_err(|e| RegistryError::Credentials {
            registry: registry.into(),
            source_name: format!("`{shown}`"),
            message: format!("not valid JSON: {e}"),
        })?;

    let entry = config
        .auths
        .iter()
        .find(|(k, _)| normalize_key(k) == registry)
        .map(|(_, v)| v);
    match entry
        .map(|e| decode_entry(registry, &shown, e))
        .transpose()?
    {
        Some(Some(credential)) => {
            out.looked.push(format!("`{shown}` auths (found)"));
            out.credential = Some(credential);
            return Ok(out);
        }
        _ => out.looked.push(format!("`{shown}` auths (no entry)")),
    }
    if let Some(helper) = config.cred_helpers.get(registry) {
        if let Some(credential) = run_helper(registry, helper)? {
            out.looked
                .push(format!("credHelpers: `docker-credential-{helper}` (found)"));
            out.credential = Some(credential);
            return Ok(out);
        }
        out.looked.push(format!(
            "credHelpers: `docker-credential-{helper}` (nothing)"
        ));
    }
    if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        if let Some(credential) = run_helper(registry, store)? {
            out.looked
                .push(format!("credsStore: `docker-credential-{store}` (found)"));
            out.credential = Some(credential);
            return Ok(out);
        }
        out.looked
            .push(format!("credsStore: `docker-credential-{store}` (nothing)"));
    }
    Ok(out)
}

fn decode_entry(
    registry: &str,
    shown: &str,
    entry: &AuthEntry,
) -> Result<Option<Credential>, RegistryError> {
    let bad = |message: String| RegistryError::Credentials {
        registry: registry.into(),
        source_name: format!("`{shown}`"),
        message,
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| bad(format!("the `auth` of `{registry}` is not base64: {e}")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| bad(format!("the `auth` of `{registry}` is not UTF-8")))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| bad(format!("the `auth` of `{registry}` is not `user:password`")))?;
        return Ok(Some(Credential {
            username: user.into(),
            password: password.into(),
        }));
    }
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credential {
            username: user.clone(),
            password: password.clone(),
        }));
    }
    if let Some(token) = &entry.identity_token {
        // Identity tokens are OAuth2 refresh tokens; registries that accept them at the
        // token endpoint also take them as a password for `<token>`.
        return Ok(Some(Credential {
            username: "<token>".into(),
            password: token.clone(),
        }));
    }
    Ok(None)
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Run `docker-credential-NAME get` with the registry on stdin.
fn run_helper(registry: &str, name: &str) -> Result<Option<Credential>, RegistryError> {
    let program = format!("docker-credential-{name}");
    let fail = |message: String| RegistryError::Credentials {
        registry: registry.into(),
        source_name: format!("`{program}`"),
        message,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is judged by its exit status.
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| fail(format!("it failed: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let said = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!(
            "it exited with {}: {}",
            output.status,
            said.trim()
        )));
    }
    let parsed: HelperOutput = serde_json::from_str(stdout.trim())
        .map_err(|e| fail(format!("its output is not the expected JSON: {e}")))?;
    if parsed.username.is_empty() && parsed.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential {
        username: parsed.username,
        password: parsed.secret,
    }))
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=...`
    Basic,
    /// `Bearer realm=...,service=...,scope=...`
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value. Unknown schemes give `None`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `a="x,y", b=z` → {a: "x,y", b: "z"} (keys lowercased).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// The token endpoint's answer: `token` or `access_token`.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenResponse {
    pub(crate) fn into_token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge_with_commas_in_scope() {
        let c = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn reads_config_auths_in_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"https://127.0.0.1:5000/v1/":{{"auth":"{auth}"}},
                    "localhost:6000":{{"username":"bob","password":"pw"}}}}}}"#
            ),
        )
        .unwrap();
        let l = lookup("127.0.0.1:5000", None, Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().username, "alice");
        let l = lookup("localhost:6000", None, Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().password, "pw");
        let l = lookup("localhost:7000", None, Some(&path)).unwrap();
        assert!(l.credential.is_none());
        assert!(l.looked.iter().any(|s| s.contains("config.json")));
        let explicit = ("u".to_string(), "p".to_string());
        let l = lookup("localhost:6000", Some(&explicit), Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().username, "u");
    }

    #[test]
    fn missing_helper_is_a_credentials_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"credsStore":"lockship-test-no-such-helper"}"#).unwrap();
        let err = lookup("localhost:1", None, Some(&path)).unwrap_err();
        assert!(matches!(err, RegistryError::Credentials { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("docker-credential-lockship-test-no-such-helper"));
    }
}
