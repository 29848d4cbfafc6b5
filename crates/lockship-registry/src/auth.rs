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

/// Credentials given explicitly (for example on the command line) for one registry. They
/// are sent to that registry (and its token realm) only, never to another.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredential {
    /// `host[:port]` of the registry, as in image references (`127.0.0.1:5000`).
    pub registry: String,
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RegistryCredential({}, {}, ***)",
            self.registry, self.username
        )
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

/// Look for credentials for `registry`: explicit ones for that registry first, then
/// `config.json`'s `auths`, its `credHelpers[registry]`, then its `credsStore`.
pub(crate) fn lookup(
    registry: &str,
    explicit: &[RegistryCredential],
    config_path: Option<&Path>,
) -> Result<Lookup, RegistryError> {
    let mut out = Lookup::default();
    if let Some(c) = explicit
        .iter()
        .find(|c| c.registry.eq_ignore_ascii_case(registry))
    {
        out.looked
            .push(format!("the explicit credentials (user `{}`)", c.username));
        out.credential = Some(Credential {
            username: c.username.clone(),
            password: c.password.clone(),
        });
        return Ok(out);
    }
    if explicit.is_empty() {
        out.looked.push("explicit credentials (none given)".into());
    } else {
        let named: Vec<String> = explicit
            .iter()
            .map(|c| format!("`{}`", c.registry))
            .collect();
        out.looked.push(format!(
            "explicit credentials (given only for {})",
            named.join(", ")
        ));
    }
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

/// One challenge of a `WWW-Authenticate` header, as far as a registry client uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// `Basic realm=...`: the registry itself takes `user:password`.
    Basic,
    /// `Bearer realm=...,service=...,scope=...`: a token is fetched from `realm`.
    Bearer {
        /// The token endpoint (a URL, not checked here).
        realm: String,
        /// The `service` parameter, passed back to the token endpoint.
        service: Option<String>,
        /// The `scope` the registry asked for.
        scope: Option<String>,
    },
}

/// The first challenge of a `WWW-Authenticate` header value that a registry client can
/// answer (`Basic`, or `Bearer` with a `realm`); `None` when there is none. Never panics,
/// whatever the input (it is written by the registry).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    parse_challenges(header).into_iter().next()
}

/// Every challenge of a `WWW-Authenticate` header value that a registry client can answer,
/// in order (`Basic realm="a", Bearer realm="b",service="c"` gives two). Unknown schemes,
/// and `Bearer` without a `realm`, are skipped. Parameter names are case-insensitive; the
/// first of a repeated parameter wins; quoted values may hold `,` and `\"`.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    for (scheme, params) in split_challenges(header) {
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => out.push(Challenge::Basic),
            "bearer" => {
                if let Some(realm) = params.get("realm") {
                    out.push(Challenge::Bearer {
                        realm: realm.clone(),
                        service: params.get("service").cloned(),
                        scope: params.get("scope").cloned(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// `Scheme k=v, k="v", Other k=v` → [(Scheme, {k: v}), (Other, {k: v})].
fn split_challenges(header: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let chars: Vec<char> = header.chars().collect();
    let n = chars.len();
    let sep = |c: char| c == ',' || c.is_whitespace();
    let token_end = |mut i: usize| {
        while i < n && !sep(chars[i]) && chars[i] != '=' {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        while i < n && sep(chars[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        i = token_end(i);
        if i == start {
            // A stray `=`: skip it and its value.
            i = read_value(&chars, i + 1).1;
            continue;
        }
        let scheme: String = chars[start..i].iter().collect();
        let mut params = BTreeMap::new();
        loop {
            let mut k = i;
            while k < n && sep(chars[k]) {
                k += 1;
            }
            if k >= n {
                i = k;
                break;
            }
            let key_end = token_end(k);
            let mut eq = key_end;
            while eq < n && (chars[eq] == ' ' || chars[eq] == '\t') {
                eq += 1;
            }
            if key_end == k || eq >= n || chars[eq] != '=' {
                if key_end == k {
                    // `=` with no name: skip the value.
                    i = read_value(&chars, eq + 1).1;
                    continue;
                }
                // A token not followed by `=`: the next challenge's scheme.
                i = k;
                break;
            }
            let key: String = chars[k..key_end].iter().collect();
            let (value, next) = read_value(&chars, eq + 1);
            params.entry(key.to_ascii_lowercase()).or_insert(value);
            i = next;
        }
        out.push((scheme, params));
    }
    out
}

/// A parameter value at `i` (after optional spaces): a quoted string with `\` escapes, or a
/// token up to `,` or white space. Returns the value and the index after it.
fn read_value(chars: &[char], mut i: usize) -> (String, usize) {
    let n = chars.len();
    while i < n && (chars[i] == ' ' || chars[i] == '\t') {
        i += 1;
    }
    let mut value = String::new();
    if i < n && chars[i] == '"' {
        i += 1;
        while i < n {
            match chars[i] {
                '\\' if i + 1 < n => {
                    value.push(chars[i + 1]);
                    i += 2;
                }
                '"' => {
                    i += 1;
                    break;
                }
                c => {
                    value.push(c);
                    i += 1;
                }
            }
        }
    } else {
        while i < n && chars[i] != ',' && !chars[i].is_whitespace() {
            value.push(chars[i]);
            i += 1;
        }
    }
    (value, i)
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
    fn parses_several_challenges_and_odd_spacing() {
        let all = parse_challenges(
            r#"Negotiate, Basic realm="a, b", BEARER  Realm = "http://h/t" , service=svc,scope="x \"y\"""#,
        );
        assert_eq!(
            all,
            vec![
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "http://h/t".into(),
                    service: Some("svc".into()),
                    scope: Some("x \"y\"".into()),
                }
            ]
        );
        // The first realm wins; a Bearer without a realm is no challenge.
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://a/", realm="http://b/""#),
            Some(Challenge::Bearer {
                realm: "https://a/".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn challenge_parser_survives_arbitrary_input() {
        // A cheap stand-in for the fuzz target: pseudo-random strings over the characters
        // that matter to the grammar, plus every prefix of a real header.
        let alphabet: Vec<char> = "Bearer Basic realm=\"\\, \t=scope\u{e9}\u{1F600}"
            .chars()
            .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (x % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse_challenges(&s);
        }
        let real =
            r#"Bearer realm="https://auth.invalid/token",service="reg",scope="repository:a:pull""#;
        for (i, _) in real.char_indices() {
            let _ = parse_challenges(&real[..i]);
        }
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
        let l = lookup("127.0.0.1:5000", &[], Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().username, "alice");
        let l = lookup("localhost:6000", &[], Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().password, "pw");
        let l = lookup("localhost:7000", &[], Some(&path)).unwrap();
        assert!(l.credential.is_none());
        assert!(l.looked.iter().any(|s| s.contains("config.json")));
        let explicit = [RegistryCredential {
            registry: "localhost:6000".into(),
            username: "u".into(),
            password: "p".into(),
        }];
        let l = lookup("localhost:6000", &explicit, Some(&path)).unwrap();
        assert_eq!(l.credential.unwrap().username, "u");
        // Explicit credentials are for their registry only.
        let l = lookup("localhost:7000", &explicit, Some(&path)).unwrap();
        assert!(l.credential.is_none());
        assert!(
            l.looked
                .iter()
                .any(|s| s.contains("given only for `localhost:6000`")),
            "{:?}",
            l.looked
        );
    }

    #[test]
    fn missing_helper_is_a_credentials_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"credsStore":"lockship-test-no-such-helper"}"#).unwrap();
        let err = lookup("localhost:1", &[], Some(&path)).unwrap_err();
        assert!(matches!(err, RegistryError::Credentials { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("docker-credential-lockship-test-no-such-helper"));
    }
}
