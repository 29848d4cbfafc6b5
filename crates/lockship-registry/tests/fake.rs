//! A fake registry on loopback (std `TcpListener`): Bearer token auth, injected 500s and a
//! 416, and a record of every request.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;
use lockship_registry::{Client, PushOptions, Reference, RegistryError};

#[derive(Default)]
struct State {
    log: Vec<String>,
    blobs: HashMap<String, Vec<u8>>,
    uploads: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    next: u32,
    fail_next_put: bool,
    fail_next_patch: bool,
    refuse_next_patch: bool,
}

struct Fake {
    port: u16,
    state: Arc<Mutex<State>>,
}

const TOKEN: &str = "tok-123";

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, port, &state));
            }
        });
        Fake { port, state }
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(stream: TcpStream, port: u16, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
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
            reader.read_line(&mut h).unwrap();
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
        reader.read_exact(&mut body).unwrap();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let query: HashMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let mut st = state.lock().unwrap();
        st.log.push(format!("{method} {path}"));

        if path == "/token" {
            // alice:pw
            let ok = headers.get("authorization").map(String::as_str) == Some("Basic YWxpY2U6cHc=");
            if ok && query.get("service") == Some(&"fake") {
                respond(
                    &mut stream,
                    "200 OK",
                    &[],
                    format!(r#"{{"access_token":"{TOKEN}"}}"#).as_bytes(),
                );
            } else {
                respond(&mut stream, "401 Unauthorized", &[], b"{}");
            }
            continue;
        }
        if headers.get("authorization") != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:x:pull""#
            );
            respond(
                &mut stream,
                "401 Unauthorized",
                &[("WWW-Authenticate", challenge)],
                b"",
            );
            continue;
        }
        let rest = path.strip_prefix("/v2/").unwrap_or("");
        if rest.is_empty() {
            respond(&mut stream, "200 OK", &[], b"{}");
        } else if let Some((repo, digest)) = rest.split_once("/blobs/sha256:") {
            let _ = repo;
            let key = format!("sha256:{digest}");
            match st.blobs.get(&key) {
                Some(b) if method == "GET" => respond(&mut stream, "200 OK", &[], &b.clone()),
                Some(b) => {
                    let n = b.len();
                    // HEAD: headers only.
                    let _ = stream.write_all(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").as_bytes(),
                    );
                }
                None => respond(&mut stream, "404 Not Found", &[], b""),
            }
        } else if let Some((repo, id)) = rest.split_once("/blobs/uploads/") {
            let upload_url = |id: &str| format!("/v2/{repo}/blobs/uploads/{id}");
            match method.as_str() {
                "POST" => {
                    st.next += 1;
                    let id = format!("u{}", st.next);
                    st.uploads.insert(id.clone(), Vec::new());
                    respond(
                        &mut stream,
                        "202 Accepted",
                        &[("Location", upload_url(&id))],
                        b"",
                    );
                }
                "PATCH" => {
                    if st.fail_next_patch {
                        st.fail_next_patch = false;
                        respond(&mut stream, "500 Internal Server Error", &[], b"");
                        continue;
                    }
                    let refuse = std::mem::take(&mut st.refuse_next_patch);
                    let Some(data) = st.uploads.get_mut(id) else {
                        respond(&mut stream, "404 Not Found", &[], b"");
                        continue;
                    };
                    let start: usize = headers["content-range"]
                        .split('-')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    if refuse {
                        // Pretend an earlier chunk was lost.
                        data.truncate(data.len().saturating_sub(3));
                    }
                    if refuse || start != data.len() {
                        respond(&mut stream, "416 Range Not Satisfiable", &[], b"");
                        continue;
                    }
                    data.extend_from_slice(&body);
                    let range = format!("0-{}", data.len() - 1);
                    respond(
                        &mut stream,
                        "202 Accepted",
                        &[("Location", upload_url(id)), ("Range", range)],
                        b"",
                    );
                }
                "GET" => {
                    let n = st.uploads.get(id).map_or(0, Vec::len);
                    let range = format!("0-{}", n.saturating_sub(1));
                    respond(
                        &mut stream,
                        "204 No Content",
                        &[("Location", upload_url(id)), ("Range", range)],
                        b"",
                    );
                }
                "PUT" => {
                    if st.fail_next_put {
                        st.fail_next_put = false;
                        st.uploads.remove(id);
                        respond(&mut stream, "500 Internal Server Error", &[], b"");
                        continue;
                    }
                    let Some(mut data) = st.uploads.remove(id) else {
                        respond(&mut stream, "404 Not Found", &[], b"");
                        continue;
                    };
                    data.extend_from_slice(&body);
                    let digest = query["digest"].replace("%3A", ":");
                    if sha256(&data) != digest {
                        respond(&mut stream, "400 Bad Request", &[], br#"{"errors":[{"code":"DIGEST_INVALID","message":"digest mismatch"}]}"#);
                        continue;
                    }
                    st.blobs.insert(digest, data);
                    respond(&mut stream, "201 Created", &[], b"");
                }
                _ => respond(&mut stream, "405 Method Not Allowed", &[], b""),
            }
        } else if let Some((repo, reference)) = rest.split_once("/manifests/") {
            let key = format!("{repo}:{reference}");
            match method.as_str() {
                "PUT" => {
                    let ct = headers.get("content-type").cloned().unwrap_or_default();
                    let digest = sha256(&body);
                    st.manifests.insert(key, (ct.clone(), body.clone()));
                    st.manifests.insert(format!("{repo}:{digest}"), (ct, body));
                    respond(
                        &mut stream,
                        "201 Created",
                        &[("Docker-Content-Digest", digest)],
                        b"",
                    );
                }
                _ => match st.manifests.get(&key).cloned() {
                    Some((ct, b)) => respond(
                        &mut stream,
                        "200 OK",
                        &[("Content-Type", ct), ("Docker-Content-Digest", sha256(&b))],
                        &b,
                    ),
                    None => respond(&mut stream, "404 Not Found", &[], b""),
                },
            }
        } else {
            respond(&mut stream, "404 Not Found", &[], b"");
        }
    }
}

#[test]
fn bearer_tokens_retries_and_resumed_chunks() {
    let fake = Fake::start();
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path(), "fake", "linux/amd64");
    let target = Reference::parse(&format!("127.0.0.1:{}/team/app:1", fake.port)).unwrap();

    let mut opts = options(dir.path());
    opts.credentials = vec![cred(&target.registry, "alice", "pw")];
    let client = Client::new(opts.clone()).unwrap();
    // A 500 on the first blob PUT: the upload session is restarted and succeeds.
    fake.state.lock().unwrap().fail_next_put = true;
    let report = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(report.digest, image.digest());
    let log = fake.log();
    assert!(log.iter().any(|l| l == "GET /token"), "{log:?}");
    let posts = log.iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(posts, 4, "3 blobs + 1 restarted session: {log:?}");
    let fetched = client.fetch_manifest(&target).unwrap();
    assert_eq!(fetched.digest, image.digest());

    // Chunked: a 500 on a PATCH, then a 416; both resume from the session's Range.
    let data = noise(5000, 3);
    let layer = make_layer(
        dir.path(),
        &[("d", &data)],
        lockship_layer::Compression::Gzip,
    );
    let chunked = image_with(vec![layer.clone()], "linux/amd64");
    {
        let mut st = fake.state.lock().unwrap();
        st.fail_next_patch = true;
        st.log.clear();
    }
    let mut chunk_opts = opts.clone();
    chunk_opts.chunk_size = Some(700);
    let client = Client::new(chunk_opts).unwrap();
    // The 416 fires on the first PATCH after the 500.
    fake.state.lock().unwrap().refuse_next_patch = true;
    let other = target.with_tag("chunked");
    let report = client
        .push_image(&chunked, &other, &PushOptions::default())
        .unwrap();
    assert_eq!(report.digest, chunked.digest());
    let st = fake.state.lock().unwrap();
    assert_eq!(
        st.blobs.get(&layer.digest).map(Vec::len),
        Some(layer.size as usize)
    );
    assert!(
        st.log
            .iter()
            .any(|l| l.starts_with("GET /v2/team/app/blobs/uploads/")),
        "{:?}",
        st.log
    );
    drop(st);

    // Wrong password: the token endpoint refuses; the error names the registry.
    let mut wrong = opts.clone();
    wrong.credentials = vec![cred(&target.registry, "alice", "bad")];
    let err = Client::new(wrong)
        .unwrap()
        .fetch_manifest(&target)
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(err
        .to_string()
        .contains(&format!("127.0.0.1:{}", fake.port)));
}
