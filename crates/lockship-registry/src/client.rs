//! The HTTP side: scheme choice, authentication, retries.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use lockship_fetch::{NoReporter, Reporter};
use reqwest::blocking::{Body, Response};
use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::{self, Challenge, Credential, Lookup, RegistryCredential, TokenResponse};
use crate::RegistryError;

/// Settings for [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host[:port]` or `host`) spoken to over plain HTTP. Loopback registries
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) always are; everything else uses HTTPS.
    pub insecure_registries: Vec<String>,
    /// Explicit credentials, each for one registry; they win over Docker's `config.json`
    /// for that registry and are never sent to any other.
    pub credentials: Vec<RegistryCredential>,
    /// Docker's client config; `None` means `$DOCKER_CONFIG/config.json` or
    /// `$HOME/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    /// Upload blobs in chunks of this many bytes (PATCH with `Content-Range`). `None`: blobs
    /// up to [`ClientOptions::monolithic_limit`] go in one PUT, larger ones in 16 MiB chunks.
    pub chunk_size: Option<u64>,
    /// Blobs up to this size are uploaded in one request when no chunk size is set.
    pub monolithic_limit: u64,
    /// How many times a failed request (5xx, 429, timeout, connection reset) or upload
    /// session is tried again.
    pub retries: u32,
    /// The first back-off delay; it doubles after each failure.
    pub backoff: Duration,
    /// Connect timeout, and the time allowed for a request that moves no blob.
    pub timeout: Duration,
    /// PEM certificates trusted besides the system store and `SSL_CERT_FILE` (e.g. a
    /// private registry's CA).
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            credentials: Vec::new(),
            docker_config: None,
            chunk_size: None,
            monolithic_limit: 64 * 1024 * 1024,
            retries: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
            extra_ca_pem: None,
        }
    }
}

/// How a registry wants to be authenticated, learnt from its first 401.
#[derive(Debug, Default)]
struct RegistryAuth {
    challenge: Option<Challenge>,
    lookup: Option<Lookup>,
    tokens: HashMap<String, String>,
    /// A token realm the credentials were kept from (plain HTTP on another host).
    withheld_from: Option<String>,
}

/// A registry client (push and pull). Cheap to share by reference across threads.
pub struct Client {
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) options: ClientOptions,
    pub(crate) reporter: Arc<dyn Reporter>,
    docker_config: Option<PathBuf>,
    auth: Mutex<HashMap<String, RegistryAuth>>,
    schemes: Mutex<HashMap<String, &'static str>>,
}

/// One request, rebuildable for retries (`body` is called once per attempt).
pub(crate) struct Req<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<&'a dyn Fn() -> Result<Body, RegistryError>>,
    /// The token scope, e.g. `repository:team/app:pull,push`.
    pub(crate) scope: String,
    /// Whether transient failures are retried here (idempotent requests only).
    pub(crate) retry: bool,
    /// Overrides the request timeout (for requests that move blobs).
    pub(crate) timeout: Option<Duration>,
}

impl<'a> Req<'a> {
    pub(crate) fn new(method: Method, url: Url, scope: String) -> Req<'a> {
        Req {
            method,
            url,
            headers: Vec::new(),
            body: None,
            scope,
            retry: true,
            timeout: None,
        }
    }
}

impl Client {
    /// Build a client. Trusts the system store, `SSL_CERT_FILE` and
    /// [`ClientOptions::extra_ca_pem`].
    pub fn new(options: ClientOptions) -> Result<Client, RegistryError> {
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(concat!("lockship/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.timeout)
            .timeout(options.timeout)
            .pool_idle_timeout(Duration::from_secs(30));
        // As lockship-fetch does: rustls-native-certs reads the system store (and
        // SSL_CERT_FILE); add SSL_CERT_FILE explicitly too, so a bundle that holds only a
        // private CA works.
        let mut pems: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            let file = PathBuf::from(file);
            let pem = fs_err::read(&file)
                .map_err(|e| RegistryError::Client(format!("cannot read `SSL_CERT_FILE`: {e}")))?;
            pems.push((format!("`SSL_CERT_FILE` (`{}`)", file.display()), pem));
        }
        if let Some(pem) = &options.extra_ca_pem {
            pems.push(("the extra CA certificates".into(), pem.clone()));
        }
        for (what, pem) in pems {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| RegistryError::Client(format!("{what} is not a PEM bundle: {e}")))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| RegistryError::Client(e.to_string()))?;
        let docker_config = options
            .docker_config
            .clone()
            .or_else(auth::default_docker_config);
        Ok(Client {
            http,
            options,
            reporter: Arc::new(NoReporter),
            docker_config,
            auth: Mutex::new(HashMap::new()),
            schemes: Mutex::new(HashMap::new()),
        })
    }

    /// Report upload and download progress to `reporter` (the library never prints).
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Client {
        self.reporter = reporter;
        self
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether `registry` may be spoken to over plain HTTP (it is probed: HTTPS is used when it
    /// answers over HTTPS).
    pub fn is_plain_http(&self, registry: &str) -> bool {
        let host = host_of(registry);
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        loopback
            || self
                .options
                .insecure_registries
                .iter()
                .any(|r| r == registry || r == host)
    }

    /// `http(s)://registry/v2/`. A registry that may speak plain HTTP is probed: HTTPS when it
    /// answers over HTTPS, else HTTP (as Docker does for insecure registries).
    pub(crate) fn base_url(&self, registry: &str) -> Result<Url, RegistryError> {
        let scheme = if self.is_plain_http(registry) {
            self.probe_scheme(registry)
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{registry}/v2/")).map_err(|e| {
            RegistryError::InvalidReference {
                input: registry.into(),
                reason: format!("not a usable registry address: {e}"),
            }
        })
    }

    /// Whether `url` is on the registry's own origin: its host and port, over HTTPS (or plain
    /// HTTP when the registry may use it). Only such requests carry the registry's
    /// `Authorization`; upload locations and redirects elsewhere get none, as with Docker.
    pub(crate) fn is_registry_origin(&self, registry: &str, url: &Url) -> bool {
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => self.is_plain_http(registry),
            _ => false,
        };
        scheme_ok
            && Url::parse(&format!("{}://{registry}/", url.scheme()))
                .is_ok_and(|own| own.origin() == url.origin())
    }

    /// Whether the registry's credentials may go to token realm `realm`: over HTTPS, or over
    /// plain HTTP when the realm has the registry's own host name (the same name, not another
    /// name for the same address) and the registry itself may use plain HTTP.
    pub(crate) fn realm_may_get_credentials(&self, registry: &str, realm: &Url) -> bool {
        match realm.scheme() {
            "https" => true,
            "http" => {
                self.is_plain_http(registry)
                    && realm
                        .host_str()
                        .is_some_and(|h| h.eq_ignore_ascii_case(host_of(registry)))
            }
            _ => false,
        }
    }

    fn probe_scheme(&self, registry: &str) -> &'static str {
        if let Some(s) = self
            .schemes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(registry)
        {
            return s;
        }
        // `/v2/` answers 200 or 401; an HTTPS server asked in plain HTTP answers 400.
        let ask = |scheme: &str| {
            self.http
                .get(format!("{scheme}://{registry}/v2/"))
                .send()
                .ok()
                .map(|r| r.status())
        };
        let good = |s: Option<StatusCode>| {
            s.is_some_and(|s| s.is_success() || s == StatusCode::UNAUTHORIZED)
        };
        let chosen = if good(ask("https")) {
            "https"
        } else {
            match ask("http") {
                s if good(s) => "http",
                // Something answers plain HTTP with an error: it speaks HTTPS but the TLS
                // handshake failed; let the request say why. Not remembered.
                Some(_) => return "https",
                // Nothing answers now: not remembered either.
                None => return "http",
            }
        };
        self.schemes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(registry.to_string(), chosen);
        chosen
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.options.backoff * 2u32.saturating_pow(attempt.saturating_sub(1).min(10))
    }

    /// Send `req` to `registry`, answering auth challenges and retrying transient failures
    /// (when `req.retry`). Returns any response that is not a 401 or a retried failure; the
    /// caller judges its status.
    pub(crate) fn send(&self, registry: &str, req: &Req) -> Result<Response, RegistryError> {
        let mut attempt = 1;
        let mut auth_tries = 0;
        // Only the registry's own origin gets its credentials or tokens.
        let own = self.is_registry_origin(registry, &req.url);
        loop {
            let authorization = if own {
                self.authorization(registry, &req.scope)?
            } else {
                None
            };
            let mut builder = self.http.request(req.method.clone(), req.url.clone());
            for (name, value) in &req.headers {
                builder = builder.header(*name, value);
            }
            if let Some(auth) = &authorization {
                builder = builder.header(AUTHORIZATION, auth);
            }
            if let Some(body) = req.body {
                builder = builder.body(body()?);
            }
            if let Some(t) = req.timeout {
                builder = builder.timeout(t);
            }
            let failure = match builder.send() {
                Ok(resp) if own && resp.status() == StatusCode::UNAUTHORIZED => {
                    auth_tries += 1;
                    let challenge = resp
                        .headers()
                        .get_all(WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .find_map(auth::parse_challenge);
                    if auth_tries > 2 || challenge.is_none() {
                        return Err(self.unauthorized(registry, Some(&req.scope)));
                    }
                    if !self.learn_challenge(registry, challenge, authorization.is_some()) {
                        return Err(self.unauthorized(registry, Some(&req.scope)));
                    }
                    continue;
                }
                Ok(resp)
                    if req.retry
                        && (resp.status().is_server_error()
                            || resp.status() == StatusCode::TOO_MANY_REQUESTS)
                        && attempt <= self.options.retries =>
                {
                    None
                }
                Ok(resp) => return Ok(resp),
                Err(e) if req.retry && attempt <= self.options.retries => Some(e),
                Err(e) => {
                    return Err(RegistryError::Unreachable {
                        registry: registry.into(),
                        method: req.method.to_string(),
                        url: req.url.to_string(),
                        attempts: attempt,
                        source: e,
                    })
                }
            };
            drop(failure);
            std::thread::sleep(self.backoff(attempt));
            attempt += 1;
        }
    }

    /// Record a challenge. Returns false when retrying cannot help (the same challenge after
    /// credentials were already sent).
    fn learn_challenge(
        &self,
        registry: &str,
        challenge: Option<Challenge>,
        sent_auth: bool,
    ) -> bool {
        let mut map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        let state = map.entry(registry.to_string()).or_default();
        let same_kind = matches!(
            (&state.challenge, &challenge),
            (Some(Challenge::Basic), Some(Challenge::Basic))
                | (
                    Some(Challenge::Bearer { .. }),
                    Some(Challenge::Bearer { .. })
                )
        );
        if sent_auth && same_kind {
            if let Some(Challenge::Bearer { .. }) = &challenge {
                // The token may have expired or lack a scope: fetch a fresh one once.
                if !state.tokens.is_empty() {
                    state.tokens.clear();
                    state.challenge = challenge;
                    return true;
                }
            }
            return false;
        }
        state.challenge = challenge;
        state.tokens.clear();
        true
    }

    fn credentials(&self, registry: &str) -> Result<Lookup, RegistryError> {
        {
            let map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(lookup) = map.get(registry).and_then(|s| s.lookup.clone()) {
                return Ok(lookup);
            }
        }
        let lookup = auth::lookup(
            registry,
            &self.options.credentials,
            self.docker_config.as_deref(),
        )?;
        let mut map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(registry.to_string()).or_default().lookup = Some(lookup.clone());
        Ok(lookup)
    }

    fn unauthorized(&self, registry: &str, scope: Option<&str>) -> RegistryError {
        let lookup = self.credentials(registry).unwrap_or_default();
        let withheld_from = {
            let map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            map.get(registry).and_then(|s| s.withheld_from.clone())
        };
        RegistryError::Unauthorized {
            registry: registry.into(),
            scope: scope.map(str::to_string),
            sent_credentials: lookup.credential.is_some() && withheld_from.is_none(),
            looked: lookup.looked,
            withheld_from,
        }
    }

    /// The `Authorization` header for a request, if the registry asked for one.
    fn authorization(&self, registry: &str, scope: &str) -> Result<Option<String>, RegistryError> {
        let challenge = {
            let map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            let Some(state) = map.get(registry) else {
                return Ok(None);
            };
            if let Some(token) = state.tokens.get(scope) {
                return Ok(Some(format!("Bearer {token}")));
            }
            state.challenge.clone()
        };
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials(registry)?.credential.map(basic)),
            Some(Challenge::Bearer {
                realm,
                service,
                scope: challenge_scope,
            }) => {
                let token = self.fetch_token(
                    registry,
                    &realm,
                    service.as_deref(),
                    scope,
                    challenge_scope.as_deref(),
                )?;
                let mut map = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                map.entry(registry.to_string())
                    .or_default()
                    .tokens
                    .insert(scope.to_string(), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// GET a token from the challenge's realm for `scope` (plus the challenge's own scope).
    fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        challenge_scope: Option<&str>,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm).map_err(|e| RegistryError::BadResponse {
            registry: registry.into(),
            what: "an auth challenge".into(),
            message: format!("realm `{realm}` is not a URL: {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = service {
                q.append_pair("service", service);
            }
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                q.append_pair("scope", s);
            }
            if let Some(extra) = challenge_scope.filter(|c| !scope.split(' ').any(|s| s == *c)) {
                q.append_pair("scope", extra);
            }
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RegistryError::BadResponse {
                registry: registry.into(),
                what: "an auth challenge".into(),
                message: format!("realm `{realm}` is not an HTTP or HTTPS URL"),
            });
        }
        // Docker and go-containerregistry send the credentials to any realm; lockship asks a
        // realm it may not trust with them anonymously, and says so if that is refused.
        let mut credential = self.credentials(registry)?.credential;
        let withheld = credential.is_some() && !self.realm_may_get_credentials(registry, &url);
        if withheld {
            credential = None;
        }
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(registry.to_string())
            .or_default()
            .withheld_from = withheld.then(|| realm.to_string());
        let mut attempt = 1;
        loop {
            let mut builder = self.http.get(url.clone());
            if let Some(c) = &credential {
                builder = builder.header(AUTHORIZATION, basic(c.clone()));
            }
            match builder.send() {
                Ok(resp) if resp.status().is_success() => {
                    let mut body = Vec::new();
                    // A token answer is small; a realm that sends more is cut off.
                    let _ = resp.take(MAX_TOKEN_ANSWER).read_to_end(&mut body);
                    let parsed: TokenResponse =
                        serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                            registry: registry.into(),
                            what: format!("GET {realm}"),
                            message: format!("the token answer is not JSON: {e}"),
                        })?;
                    return parsed
                        .into_token()
                        .ok_or_else(|| RegistryError::BadResponse {
                            registry: registry.into(),
                            what: format!("GET {realm}"),
                            message: "the answer has neither `token` nor `access_token`".into(),
                        });
                }
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED
                        || resp.status() == StatusCode::FORBIDDEN =>
                {
                    return Err(self.unauthorized(registry, Some(scope)));
                }
                Ok(resp) if resp.status().is_server_error() && attempt <= self.options.retries => {}
                Ok(resp) => {
                    return Err(status_error(registry, "GET", &url, resp));
                }
                Err(_) if attempt <= self.options.retries => {}
                Err(e) => {
                    return Err(RegistryError::Unreachable {
                        registry: registry.into(),
                        method: "GET".into(),
                        url: realm.into(),
                        attempts: attempt,
                        source: e,
                    })
                }
            }
            std::thread::sleep(self.backoff(attempt));
            attempt += 1;
        }
    }
}

fn basic(c: Credential) -> String {
    let raw = format!("{}:{}", c.username, c.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The most bytes read from a token endpoint's answer.
const MAX_TOKEN_ANSWER: u64 = 1024 * 1024;
/// The most bytes read from an error answer.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// `host` of `host:port` / `[v6]:port`.
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry
            .split_once(']')
            .map(|(h, _)| &registry[..h.len() + 1])
            .unwrap_or(registry);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Turn an unexpected response into [`RegistryError::Status`], with the registry's message.
pub(crate) fn status_error(
    registry: &str,
    method: &str,
    url: &Url,
    resp: Response,
) -> RegistryError {
    let status = resp.status().as_u16();
    let mut raw = Vec::new();
    // Only the start of an error body is shown; a registry may send any amount.
    let _ = resp.take(MAX_ERROR_BODY).read_to_end(&mut raw);
    let body = String::from_utf8_lossy(&raw).into_owned();
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let errors = v.get("errors")?.as_array()?;
            let parts: Vec<String> = errors
                .iter()
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                    format!("{code}: {msg}")
                })
                .collect();
            Some(parts.join("; "))
        })
        .unwrap_or_else(|| {
            body.chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string()
        });
    RegistryError::Status {
        registry: registry.into(),
        method: method.into(),
        url: url.to_string(),
        status,
        detail,
    }
}

/// A header value as a string.
pub(crate) fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["reg.internal:5000".into(), "other.internal".into()],
            ..Default::default()
        })
        .unwrap();
        for plain in [
            "127.0.0.1:5000",
            "127.8.9.1",
            "localhost:1",
            "[::1]:5000",
            "reg.internal:5000",
            "other.internal:443",
        ] {
            assert!(c.is_plain_http(plain), "{plain}");
        }
        for tls in ["reg.internal:5001", "registry.example.com", "10.0.0.1:5000"] {
            assert!(!c.is_plain_http(tls), "{tls}");
        }
        assert_eq!(
            c.base_url("registry.example.com").unwrap().as_str(),
            "https://registry.example.com/v2/"
        );
    }

    #[test]
    fn credentials_go_to_the_registry_origin_and_trusted_realms_only() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["reg.internal:5000".into()],
            ..Default::default()
        })
        .unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        // The registry's own origin: scheme it may use, same host, same port.
        assert!(c.is_registry_origin("127.0.0.1:5000", &url("http://127.0.0.1:5000/v2/x")));
        assert!(c.is_registry_origin(
            "registry.example.com",
            &url("https://registry.example.com:443/v2/")
        ));
        assert!(c.is_registry_origin(
            "REGISTRY.example.com",
            &url("https://registry.example.com/v2/")
        ));
        assert!(!c.is_registry_origin(
            "registry.example.com",
            &url("http://registry.example.com/v2/")
        ));
        assert!(!c.is_registry_origin("127.0.0.1:5000", &url("http://localhost:5000/v2/")));
        assert!(!c.is_registry_origin("127.0.0.1:5000", &url("http://127.0.0.1:5001/v2/")));
        assert!(!c.is_registry_origin("registry.example.com", &url("https://cdn.example.com/blob")));
        // Token realms: HTTPS anywhere; plain HTTP only on a plain-HTTP registry's own name.
        assert!(c.realm_may_get_credentials(
            "registry.example.com",
            &url("https://auth.example.net/token")
        ));
        assert!(!c.realm_may_get_credentials(
            "registry.example.com",
            &url("http://registry.example.com/token")
        ));
        assert!(c.realm_may_get_credentials("127.0.0.1:5000", &url("http://127.0.0.1:5001/token")));
        assert!(!c.realm_may_get_credentials("127.0.0.1:5000", &url("http://localhost:5000/token")));
        assert!(c.realm_may_get_credentials(
            "reg.internal:5000",
            &url("http://reg.internal:9000/token")
        ));
        assert!(
            !c.realm_may_get_credentials("reg.internal:5000", &url("http://auth.internal/token"))
        );
        assert!(
            !c.realm_may_get_credentials("reg.internal:5001", &url("http://reg.internal/token"))
        );
        assert!(c.realm_may_get_credentials("[::1]:5000", &url("http://[::1]:6000/token")));
        assert!(!c.realm_may_get_credentials("127.0.0.1:5000", &url("ftp://127.0.0.1/token")));
    }
}
