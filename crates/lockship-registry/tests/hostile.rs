//! Hostile registries (issue 12, findings 5 and 6): small HTTP servers on 127.0.0.1, written
//! here, that record which requests carried `Authorization` and answer with lies.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use lockship_fetch::Cache;
use lockship_registry::{
    Client, Descriptor, FetchedManifest, ImageManifest, PushOptions, Reference, RegistryError,
    MAX_MANIFEST_SIZE,
};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
}

struct Request {
    method: String,
    /// Path and query.
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    fn authorization(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
}

enum Body {
    Bytes(Vec<u8>),
    /// Up to `max` bytes of `x`, written until the client hangs up; `Content-Length` is
    /// `declared` (absent: the body ends when the connection closes).
    Endless {
        declared: Option<u64>,
        max: u64,
    },
}

struct Answer {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Body,
}

fn answer(status: &'static str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Body::Bytes(body.to_vec()),
    }
}

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes written by `Body::Endless` answers, and whether the last one ended.
    written: Arc<AtomicU64>,
    endless_done: Arc<AtomicBool>,
}

impl Server {
    fn start(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let endless_done = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let server = Server {
            port,
            seen: Arc::clone(&seen),
            written: Arc::clone(&written),
            endless_done: Arc::clone(&endless_done),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                let seen = Arc::clone(&seen);
                let written = Arc::clone(&written);
                let endless_done = Arc::clone(&endless_done);
                std::thread::spawn(move || {
                    connection(stream, &*handler, &seen, &written, &endless_done)
                });
            }
        });
        server
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until an endless answer has stopped, then gives the bytes it wrote.
    fn endless_written(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.endless_done.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the endless answer never stopped"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.written.load(Ordering::SeqCst)
    }
}

fn connection(
    stream: TcpStream,
    handler: &Handler,
    seen: &Mutex<Vec<Seen>>,
    written: &AtomicU64,
    endless_done: &AtomicBool,
) {
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    // The client probes HTTPS first: hang up on a TLS handshake, so it falls back at once.
    if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if target == "/v2/" {
            // The client's scheme probe: every server here speaks the API, anonymously.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
            continue;
        }
        let request = Request {
            method,
            target,
            headers,
            body,
        };
        seen.lock().unwrap().push(Seen {
            method: request.method.clone(),
            target: request.target.clone(),
            authorization: request.authorization().map(str::to_string),
        });
        let reply = handler(&request);
        let mut head = format!("HTTP/1.1 {}\r\n", reply.status);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match reply.body {
            Body::Bytes(bytes) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                if request.method != "HEAD" && stream.write_all(&bytes).is_err() {
                    return;
                }
            }
            Body::Endless { declared, max } => {
                if let Some(n) = declared {
                    head.push_str(&format!("Content-Length: {n}\r\n"));
                }
                head.push_str("Connection: close\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0u64;
                if stream.write_all(head.as_bytes()).is_ok() {
                    while sent < max {
                        if stream.write_all(&chunk).is_err() {
                            break;
                        }
                        sent += chunk.len() as u64;
                        written.store(sent, Ordering::SeqCst);
                    }
                }
                endless_done.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn with_auth(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter().filter(|s| s.authorization.is_some()).collect()
}

/// A minimal OCI manifest (its bytes and digest).
fn manifest_bytes(config: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
        sha256(config),
        config.len()
    )
    .into_bytes()
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A registry whose token realm is `realm` (the `{port}` in it replaced by the realm
/// server's port). Manifest `team/app:1` is served to a request with `Bearer good`.
fn bearer_registry(realm: String) -> (Server, Vec<u8>) {
    let manifest = manifest_bytes(b"{}");
    let served = manifest.clone();
    let registry = Server::start(move |req| {
        if req.authorization() != Some("Bearer good") {
            let challenge = format!(r#"Bearer realm="{realm}",service="fake""#);
            return answer("401 Unauthorized", &[("WWW-Authenticate", &challenge)], b"");
        }
        if req.path() == "/v2/team/app/manifests/1" {
            return answer("200 OK", &[("Content-Type", OCI_MANIFEST)], &served);
        }
        answer("404 Not Found", &[], b"")
    });
    (registry, manifest)
}

/// A token server: `good` for alice's password, and for anonymous requests when
/// `anonymous` is set; 401 otherwise.
fn token_server(anonymous: bool) -> Server {
    Server::start(move |req| {
        let ok = match req.authorization() {
            Some(a) => a == basic("alice", "pw"),
            None => anonymous,
        };
        if ok && req.path() == "/token" {
            answer("200 OK", &[], br#"{"token":"good"}"#)
        } else {
            answer("401 Unauthorized", &[], b"{}")
        }
    })
}

#[test]
fn hostile_token_realm_over_plain_http_on_another_host_gets_no_credentials() {
    let dir = tempfile::tempdir().unwrap();

    // Finding 6a: the registry is 127.0.0.1:P1; its realm is plain HTTP on `localhost`, another
    // name for a loopback address, and another port. The token is asked for anonymously.
    let realm_server = token_server(true);
    let realm = format!("http://localhost:{}/token", realm_server.port);
    let (registry, manifest) = bearer_registry(realm.clone());
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", registry.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let fetched = Client::new(opts.clone())
        .unwrap()
        .fetch_manifest(&target)
        .unwrap();
    assert_eq!(fetched.digest, sha256(&manifest));
    let seen = realm_server.seen();
    assert!(
        seen.iter().any(|s| s.target.starts_with("/token")),
        "{seen:?}"
    );
    assert!(with_auth(&seen).is_empty(), "the realm got: {seen:?}");
    // The registry itself got the token, never the password.
    let at_registry = registry.seen();
    assert!(
        at_registry.iter().all(|s| s
            .authorization
            .as_deref()
            .is_none_or(|a| a == "Bearer good")),
        "{at_registry:?}"
    );

    // A realm that wants the credentials: refused, and the error says they were kept back.
    let strict = token_server(false);
    let strict_realm = format!("http://localhost:{}/token", strict.port);
    let (registry, _) = bearer_registry(strict_realm.clone());
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", registry.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let err = Client::new(opts)
        .unwrap()
        .fetch_manifest(&target)
        .unwrap_err();
    eprintln!("finding 6a error: {err}\nhint: {}", err.hint().unwrap());
    assert!(
        matches!(
            &err,
            RegistryError::Unauthorized {
                sent_credentials: false,
                withheld_from: Some(r),
                ..
            } if *r == strict_realm
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&target.registry), "{msg}");
    assert!(msg.contains(&strict_realm), "{msg}");
    assert!(err.hint().unwrap().contains("HTTPS"), "{:?}", err.hint());
    assert!(with_auth(&strict.seen()).is_empty(), "{:?}", strict.seen());

    // The one exception: a plain-HTTP realm on the loopback registry's own host name.
    let same = token_server(false);
    let same_realm = format!("http://127.0.0.1:{}/token", same.port);
    let (registry, manifest) = bearer_registry(same_realm);
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", registry.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let fetched = Client::new(opts).unwrap().fetch_manifest(&target).unwrap();
    assert_eq!(fetched.digest, sha256(&manifest));
    let seen = same.seen();
    assert!(
        seen.iter()
            .any(|s| s.authorization.as_deref() == Some(basic("alice", "pw").as_str())),
        "{seen:?}"
    );
}

/// State of a registry whose uploads go to another server.
#[derive(Default)]
struct Uploads {
    blobs: HashMap<String, Vec<u8>>,
    sessions: HashMap<String, Vec<u8>>,
    next: u32,
}

#[test]
fn hostile_upload_location_on_another_host_gets_no_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(Uploads::default()));

    // Finding 6b: the registry (Basic auth) sends every upload to `localhost:P2`.
    let elsewhere = {
        let state = Arc::clone(&state);
        Server::start(move |req| {
            let mut st = state.lock().unwrap();
            let id = req.path().trim_start_matches("/upload/").to_string();
            let here = req.path().to_string();
            match req.method.as_str() {
                "PATCH" => {
                    let data = st.sessions.entry(id).or_default();
                    data.extend_from_slice(&req.body);
                    let range = format!("0-{}", data.len().saturating_sub(1));
                    answer(
                        "202 Accepted",
                        &[("Location", here.as_str()), ("Range", &range)],
                        b"",
                    )
                }
                "PUT" => {
                    let mut data = st.sessions.remove(&id).unwrap_or_default();
                    data.extend_from_slice(&req.body);
                    let digest = req
                        .target
                        .split("digest=")
                        .nth(1)
                        .unwrap_or("")
                        .replace("%3A", ":");
                    if sha256(&data) != digest {
                        return answer("400 Bad Request", &[], b"digest");
                    }
                    st.blobs.insert(digest, data);
                    answer("201 Created", &[], b"")
                }
                _ => answer("405 Method Not Allowed", &[], b""),
            }
        })
    };
    let upload_host = format!("http://localhost:{}", elsewhere.port);
    let registry = {
        let state = Arc::clone(&state);
        Server::start(move |req| {
            if req.authorization() != Some(basic("alice", "pw").as_str()) {
                return answer(
                    "401 Unauthorized",
                    &[("WWW-Authenticate", r#"Basic realm="fake""#)],
                    b"",
                );
            }
            let mut st = state.lock().unwrap();
            let path = req.path();
            if let Some(digest) = path.strip_prefix("/v2/team/app/blobs/") {
                if digest.starts_with("sha256:") {
                    return if st.blobs.contains_key(digest) {
                        answer("200 OK", &[], b"")
                    } else {
                        answer("404 Not Found", &[], b"")
                    };
                }
            }
            if path == "/v2/team/app/blobs/uploads/" && req.method == "POST" {
                st.next += 1;
                let location = format!("{upload_host}/upload/u{}", st.next);
                return answer("202 Accepted", &[("Location", location.as_str())], b"");
            }
            if path.starts_with("/v2/team/app/manifests/") && req.method == "PUT" {
                let digest = sha256(&req.body);
                return answer("201 Created", &[("Docker-Content-Digest", &digest)], b"");
            }
            answer("404 Not Found", &[], b"")
        })
    };
    let image = small_image(dir.path(), "upload", "linux/amd64");
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", registry.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    // One PUT per blob, then (tiny chunks) PATCHes and a PUT.
    for chunk in [None, Some(300)] {
        state.lock().unwrap().blobs.clear();
        let mut o = opts.clone();
        o.chunk_size = chunk;
        let report = Client::new(o)
            .unwrap()
            .push_image(&image, &target, &PushOptions::default())
            .unwrap();
        assert_eq!(report.digest, image.digest());
        assert_eq!(report.uploaded_blobs, 3);
    }
    let seen = elsewhere.seen();
    assert!(seen.iter().any(|s| s.method == "PUT"), "{seen:?}");
    assert!(seen.iter().any(|s| s.method == "PATCH"), "{seen:?}");
    assert!(with_auth(&seen).is_empty(), "the upload host got: {seen:?}");
    // The registry's own requests did carry the credentials.
    assert!(
        registry
            .seen()
            .iter()
            .any(|s| s.method == "POST" && s.authorization.is_some()),
        "{:?}",
        registry.seen()
    );
}

#[test]
fn hostile_redirect_to_another_host_gets_no_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let blob = b"layer bytes".to_vec();
    let digest = sha256(&blob);

    // Finding 6b: the registry redirects blob downloads to `localhost:P2`.
    let cdn = {
        let blob = blob.clone();
        Server::start(move |_| answer("200 OK", &[], &blob))
    };
    let cdn_url = format!("http://localhost:{}/cdn/{digest}", cdn.port);
    let registry = {
        let blob = blob.clone();
        let digest = digest.clone();
        Server::start(move |req| {
            if req.authorization() != Some(basic("alice", "pw").as_str()) {
                return answer(
                    "401 Unauthorized",
                    &[("WWW-Authenticate", r#"Basic realm="fake""#)],
                    b"",
                );
            }
            match req.path() {
                p if p == format!("/v2/team/app/blobs/{digest}") => {
                    answer("307 Temporary Redirect", &[("Location", &cdn_url)], b"")
                }
                // Same origin: a redirect that keeps the credentials.
                p if p == format!("/v2/team/same/blobs/{digest}") => answer(
                    "307 Temporary Redirect",
                    &[("Location", "/v2/team/same/moved")],
                    b"",
                ),
                "/v2/team/same/moved" => answer("200 OK", &[], &blob),
                _ => answer("404 Not Found", &[], b""),
            }
        })
    };
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", registry.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let client = Client::new(opts).unwrap();
    let desc = descriptor(&digest, blob.len() as u64);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    let path = client.fetch_blob_to_cache(&target, &desc, &cache).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), blob);
    let seen = cdn.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(with_auth(&seen).is_empty(), "the CDN got: {seen:?}");

    let same = target.with_repository("team/same");
    let other_cache = tempfile::tempdir().unwrap();
    let other_cache = Cache::open(other_cache.path()).unwrap();
    client
        .fetch_blob_to_cache(&same, &desc, &other_cache)
        .unwrap();
    let moved: Vec<Seen> = registry
        .seen()
        .into_iter()
        .filter(|s| s.target == "/v2/team/same/moved")
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(moved[0].authorization.is_some(), "{moved:?}");
}

#[test]
fn hostile_base_registry_gets_no_push_target_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_bytes(b"{}");

    // Finding 6c: credentials given for the push target (A) never reach the base's registry
    // (B), even when B asks for them.
    let start = |manifest: Vec<u8>| {
        Server::start(move |req| {
            if req.authorization() != Some(basic("alice", "pw").as_str()) {
                return answer(
                    "401 Unauthorized",
                    &[("WWW-Authenticate", r#"Basic realm="fake""#)],
                    b"",
                );
            }
            answer("200 OK", &[("Content-Type", OCI_MANIFEST)], &manifest)
        })
    };
    let push_target = start(manifest.clone());
    let base = start(manifest.clone());
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", push_target.port)).unwrap();
    let base_ref = Reference::parse(&format!("127.0.0.1:{}/base/python:3", base.port)).unwrap();
    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let client = Client::new(opts).unwrap();

    let err = client.fetch_manifest(&base_ref).unwrap_err();
    eprintln!("finding 6c error: {err}\nhint: {}", err.hint().unwrap());
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                sent_credentials: false,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&base_ref.registry), "{msg}");
    assert!(
        msg.contains(&format!("given only for `{}`", target.registry)),
        "{msg}"
    );
    assert!(with_auth(&base.seen()).is_empty(), "{:?}", base.seen());

    // The push target gets them.
    assert_eq!(
        client.fetch_manifest(&target).unwrap().digest,
        sha256(&manifest)
    );
    assert!(!with_auth(&push_target.seen()).is_empty());
}

fn descriptor(digest: &str, size: u64) -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: digest.into(),
        size,
        platform: None,
        annotations: Default::default(),
    }
}

/// An image manifest value whose config descriptor is `config`.
fn image_with_config(reference: &Reference, config: Descriptor) -> ImageManifest {
    let bytes = manifest_bytes(b"{}");
    ImageManifest {
        reference: reference.with_digest(&sha256(&bytes)),
        manifest: FetchedManifest {
            digest: sha256(&bytes),
            bytes,
            media_type: OCI_MANIFEST.into(),
        },
        config,
        layers: Vec::new(),
    }
}

/// The files a failed pull left in the cache: everything but the cache's
/// own `.lock` (held while builds and prunes use it, and empty).
fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".lock") {
            continue;
        }
        if path.is_dir() {
            out.extend(files_in(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn hostile_huge_manifest_config_and_blob_are_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let half_gib = 512 * 1024 * 1024;

    // Finding 6d: a 512 MiB manifest with no `Content-Length`.
    let endless = Server::start(move |_| Answer {
        status: "200 OK",
        headers: vec![("Content-Type".into(), OCI_MANIFEST.into())],
        body: Body::Endless {
            declared: None,
            max: half_gib,
        },
    });
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", endless.port)).unwrap();
    let client = Client::new(options(dir.path())).unwrap();
    let err = client.fetch_manifest(&target).unwrap_err();
    eprintln!("finding 6d error: {err}\nhint: {}", err.hint().unwrap());
    assert!(
        matches!(err, RegistryError::TooLarge { limit, .. } if limit == MAX_MANIFEST_SIZE),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&target.to_string()), "{msg}");
    assert!(msg.contains("4 MiB"), "{msg}");
    let written = endless.endless_written();
    assert!(
        written < 64 * 1024 * 1024,
        "the server wrote {written} bytes before the client stopped reading"
    );

    // The same with a `Content-Length` that says so: refused before reading the body.
    let declared = Server::start(move |_| Answer {
        status: "200 OK",
        headers: vec![("Content-Type".into(), OCI_MANIFEST.into())],
        body: Body::Endless {
            declared: Some(half_gib),
            max: half_gib,
        },
    });
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", declared.port)).unwrap();
    let err = client.fetch_manifest(&target).unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err:?}");
    assert!(declared.endless_written() < 64 * 1024 * 1024);

    // A config: over the cap by its descriptor (no request), or over its descriptor's size.
    let config_server = Server::start(move |_| Answer {
        status: "200 OK",
        headers: Vec::new(),
        body: Body::Endless {
            declared: None,
            max: half_gib,
        },
    });
    let repo = Reference::parse(&format!("127.0.0.1:{}/team/app:1", config_server.port)).unwrap();
    let digest = sha256(b"{}");
    let huge = image_with_config(&repo, descriptor(&digest, 9 * 1024 * 1024));
    let err = client.fetch_config(&huge).unwrap_err();
    eprintln!("finding 6d config error: {err}");
    assert!(
        matches!(err, RegistryError::TooLarge { limit, .. } if limit == 8 * 1024 * 1024),
        "{err:?}"
    );
    assert!(err.to_string().contains(&digest), "{err}");
    assert!(
        config_server.seen().is_empty(),
        "{:?}",
        config_server.seen()
    );
    let lying = image_with_config(&repo, descriptor(&digest, 2));
    let err = client.fetch_config(&lying).unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the size its manifest gives"),
        "{err}"
    );

    // A layer that goes on past its descriptor's size: refused, nothing cached.
    let layer_server = Server::start(move |_| Answer {
        status: "200 OK",
        headers: Vec::new(),
        body: Body::Endless {
            declared: None,
            max: half_gib,
        },
    });
    let repo = Reference::parse(&format!("127.0.0.1:{}/team/app:1", layer_server.port)).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    let layer_digest = sha256(&vec![b'x'; 100_000]);
    let err = client
        .fetch_blob_to_cache(&repo, &descriptor(&layer_digest, 100_000), &cache)
        .unwrap_err();
    eprintln!("finding 6d layer error: {err}");
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 100_000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&layer_digest), "{err}");
    assert!(layer_server.endless_written() < 64 * 1024 * 1024);
    assert!(
        files_in(cache_dir.path()).is_empty(),
        "{:?}",
        files_in(cache_dir.path())
    );
}

#[test]
fn hostile_registry_bytes_that_do_not_match_their_digest_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = b"the real layer".to_vec();
    let evil = b"the evil layer".to_vec();
    let real_digest = sha256(&real);
    let good_manifest = manifest_bytes(b"{}");
    let good_digest = sha256(&good_manifest);
    let evil_manifest = manifest_bytes(b"{\"evil\":1}");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{good_digest}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        good_manifest.len()
    );

    // Finding 5 (registry part): every blob and every manifest asked for by digest is
    // checked against that digest; the registry answers with other bytes.
    let registry = {
        let (evil, evil_manifest, index) = (evil.clone(), evil_manifest.clone(), index.clone());
        let good_digest = good_digest.clone();
        Server::start(move |req| {
            let path = req.path();
            if path.contains("/blobs/") {
                answer("200 OK", &[], &evil)
            } else if path.ends_with(&format!("/manifests/{good_digest}")) {
                answer("200 OK", &[("Content-Type", OCI_MANIFEST)], &evil_manifest)
            } else if path.ends_with("/manifests/index") {
                answer(
                    "200 OK",
                    &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                    index.as_bytes(),
                )
            } else if path.ends_with("/manifests/lying-header") {
                answer(
                    "200 OK",
                    &[
                        ("Content-Type", OCI_MANIFEST),
                        ("Docker-Content-Digest", &good_digest),
                    ],
                    &evil_manifest,
                )
            } else {
                answer("404 Not Found", &[], b"")
            }
        })
    };
    let host = format!("127.0.0.1:{}", registry.port);
    let client = Client::new(options(dir.path())).unwrap();

    // A layer: nothing lands in the cache.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    let repo = Reference::parse(&format!("{host}/team/app:1")).unwrap();
    let err = client
        .fetch_blob_to_cache(&repo, &descriptor(&real_digest, evil.len() as u64), &cache)
        .unwrap_err();
    eprintln!("finding 5 blob error: {err}");
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, actual, .. }
            if *expected == real_digest && *actual == sha256(&evil)),
        "{err:?}"
    );
    assert!(cache.get(&real_digest[7..]).unwrap().is_none());
    assert!(
        files_in(cache_dir.path()).is_empty(),
        "{:?}",
        files_in(cache_dir.path())
    );

    // A manifest by digest, directly and through an index.
    let by_digest = Reference::parse(&format!("{host}/team/app@{good_digest}")).unwrap();
    let err = client.fetch_manifest(&by_digest).unwrap_err();
    eprintln!("finding 5 manifest error: {err}");
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == good_digest),
        "{err:?}"
    );
    assert!(err.to_string().contains(&good_digest), "{err}");
    let via_index = Reference::parse(&format!("{host}/team/app:index")).unwrap();
    let err = client
        .resolve_image(&via_index, &lockship_oci::Platform::linux_amd64())
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == good_digest),
        "{err:?}"
    );
    // A tag whose `Docker-Content-Digest` does not match the bytes.
    let lying = Reference::parse(&format!("{host}/team/app:lying-header")).unwrap();
    let err = client.fetch_manifest(&lying).unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    // A config, too.
    let image = image_with_config(&repo, descriptor(&real_digest, evil.len() as u64));
    let err = client.fetch_config(&image).unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == real_digest),
        "{err:?}"
    );
}
