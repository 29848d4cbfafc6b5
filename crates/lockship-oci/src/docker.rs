//! Loading an image into the local Docker engine, through its API on a unix socket.
//!
//! A minimal HTTP/1.1 client over [`std::os::unix::net::UnixStream`]: one request per
//! connection (`Connection: close`), `Content-Length` bodies, chunked or sized responses.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::archive::normalize_tag;
use crate::{write_output, Image, OciError, Output};

/// The socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Responses larger than this are cut (the engine's load answers are a few lines).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The Docker engine socket: `DOCKER_HOST=unix://PATH`, else `/var/run/docker.sock`.
pub fn docker_socket() -> Result<PathBuf, OciError> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(OciError::UnsupportedDockerHost { host }),
        },
        _ => Ok(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// True if a Docker engine answers `GET /_ping` with `OK` on [`docker_socket`].
pub fn docker_available() -> bool {
    let Ok(socket) = docker_socket() else {
        return false;
    };
    if !socket.exists() {
        return false;
    }
    matches!(
        request(&socket, "GET", "/_ping", None, Some(Duration::from_secs(5))),
        Ok(resp) if resp.status == 200 && resp.body.trim_ascii() == b"OK"
    )
}

/// Load `image` into the local Docker engine as `tag` (`POST /images/load`).
///
/// The image is written as a docker-archive to a temporary file, which is streamed to the
/// engine. An error object in the engine's JSON answer becomes [`OciError::DockerLoad`]; no
/// engine on the socket is [`OciError::NoDockerEngine`].
pub fn load_into_docker(image: &Image, tag: &str) -> Result<(), OciError> {
    let tag = normalize_tag(tag)?;
    let socket = docker_socket()?;
    if !socket.exists() {
        return Err(OciError::NoDockerEngine {
            socket,
            reason: "the socket does not exist".to_string(),
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("lockship-load-")
        .tempdir()
        .map_err(OciError::io(std::env::temp_dir()))?;
    let archive = dir.path().join("image.tar");
    write_output(image, &Output::DockerArchive(archive.clone()), Some(&tag))?;
    let len = fs_err::metadata(&archive)
        .map_err(OciError::io(&archive))?
        .len();
    let mut file = fs_err::File::open(&archive).map_err(OciError::io(&archive))?;
    let body = Body {
        content_type: "application/x-tar",
        len,
        reader: &mut file,
    };
    let resp = request(&socket, "POST", "/images/load?quiet=1", Some(body), None)?;
    if resp.status != 200 {
        return Err(api_error(&socket, "POST /images/load", &resp));
    }
    // A JSON stream: {"stream": "Loaded image: ..."} or {"errorDetail": {...}, "error": "..."}.
    for value in serde_json::Deserializer::from_slice(&resp.body).into_iter::<serde_json::Value>() {
        let Ok(value) = value else { break };
        let error = value
            .get("errorDetail")
            .and_then(|d| d.get("message"))
            .or_else(|| value.get("error"))
            .and_then(|m| m.as_str());
        if let Some(message) = error {
            return Err(OciError::DockerLoad {
                tag,
                message: message.to_string(),
            });
        }
    }
    Ok(())
}

/// Give an image the engine holds as `source` one more name, `target`
/// (`POST /images/{source}/tag`), as `docker tag` does: a second `-t` costs no
/// second load.
pub fn tag_in_docker(source: &str, target: &str) -> Result<(), OciError> {
    let source = normalize_tag(source)?;
    let target = normalize_tag(target)?;
    let socket = docker_socket()?;
    // `normalize_tag` leaves `REPO:TAG`, the tag after the last `:`.
    let (repo, tag) = target.rsplit_once(':').unwrap_or((&target, "latest"));
    let query = |s: &str| {
        s.replace('%', "%25")
            .replace('/', "%2F")
            .replace(':', "%3A")
    };
    let path = format!(
        "/images/{source}/tag?repo={}&tag={}",
        query(repo),
        query(tag)
    );
    let resp = request(&socket, "POST", &path, None, Some(Duration::from_secs(60)))?;
    if !(200..300).contains(&resp.status) {
        return Err(api_error(
            &socket,
            &format!("POST /images/{source}/tag"),
            &resp,
        ));
    }
    Ok(())
}

pub(crate) struct Body<'a> {
    pub(crate) content_type: &'static str,
    pub(crate) len: u64,
    pub(crate) reader: &'a mut dyn Read,
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

fn api_error(socket: &Path, request: &str, resp: &Response) -> OciError {
    let message = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).trim().to_string());
    OciError::DockerApi {
        socket: socket.to_path_buf(),
        request: request.to_string(),
        status: resp.status,
        message,
    }
}

/// One HTTP/1.1 request on the engine socket.
pub(crate) fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Body<'_>>,
    timeout: Option<Duration>,
) -> Result<Response, OciError> {
    let request_line = format!("{method} {path}");
    let broken = |e: io::Error| OciError::DockerApi {
        socket: socket.to_path_buf(),
        request: request_line.clone(),
        status: 0,
        message: e.to_string(),
    };
    let stream = UnixStream::connect(socket).map_err(|e| OciError::NoDockerEngine {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    })?;
    stream.set_read_timeout(timeout).map_err(broken)?;
    stream.set_write_timeout(timeout).map_err(broken)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: lockship\r\nConnection: close\r\n"
    );
    match &body {
        Some(b) => head.push_str(&format!(
            "Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
            b.content_type, b.len
        )),
        None => head.push_str("Content-Length: 0\r\n\r\n"),
    }
    let sent = (|| -> io::Result<()> {
        let mut writer = io::BufWriter::with_capacity(256 * 1024, &stream);
        writer.write_all(head.as_bytes())?;
        if let Some(b) = body {
            let copied = io::copy(&mut b.reader.take(b.len), &mut writer)?;
            if copied != b.len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "request body ended early",
                ));
            }
        }
        writer.flush()
    })();
    // The engine may answer (and close) before taking the whole body: read its answer first.
    let response = read_response(BufReader::new(&stream));
    match (sent, response) {
        (_, Ok(resp)) => Ok(resp),
        (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(broken(e)),
    }
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    reader.by_ref().take(64 * 1024).read_line(&mut line)?;
    if !line.ends_with('\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated HTTP response",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parse an HTTP/1.1 response: status line, headers, and a chunked, sized or until-EOF body.
pub(crate) fn read_response(mut reader: impl BufRead) -> io::Result<Response> {
    let status_line = read_line(&mut reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| bad(format!("bad status line `{status_line}`")))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header `{line}`")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length `{value}`")))?,
            );
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let line = read_line(&mut reader)?;
            let size_hex = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| bad(format!("bad chunk size `{line}`")))?;
            if size == 0 {
                // Trailers until the empty line; tolerate a connection closed right away.
                while let Ok(l) = read_line(&mut reader) {
                    if l.is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(bad("response body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let crlf = read_line(&mut reader)?;
            if !crlf.is_empty() {
                return Err(bad("chunk not followed by CRLF"));
            }
        }
    } else if let Some(len) = length {
        if len > MAX_BODY {
            return Err(bad("response body too large"));
        }
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        reader.take(MAX_BODY as u64).read_to_end(&mut body)?;
    }
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_response() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
            5\r\n{\"a\":\r\n3;ext=1\r\n 1}\r\n0\r\n\r\n";
        let resp = read_response(&raw[..]).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"{\"a\": 1}");
    }

    #[test]
    fn parses_sized_and_eof_responses() {
        let resp =
            read_response(&b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nabEXTRA"[..])
                .unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (404, &b"ab"[..]));
        let resp = read_response(&b"HTTP/1.0 200 OK\r\n\r\nOK"[..]).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"OK"[..]));
    }

    #[test]
    fn rejects_broken_responses() {
        assert!(read_response(&b"garbage\r\n\r\n"[..]).is_err());
        assert!(read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..]).is_err());
        assert!(
            read_response(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..])
                .is_err()
        );
        assert!(read_response(&b"HTTP/1.1 200 OK\r\nContent-Le"[..]).is_err());
    }

    #[test]
    fn api_errors_carry_the_engine_message() {
        let resp = Response {
            status: 500,
            body: br#"{"message":"no space left"}"#.to_vec(),
        };
        let err = api_error(
            Path::new("/var/run/docker.sock"),
            "POST /images/load",
            &resp,
        );
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(err.to_string().contains("`500`"), "{err}");
    }

    #[test]
    fn missing_socket_is_no_engine() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let err = request(&socket, "GET", "/_ping", None, None).unwrap_err();
        assert!(matches!(err, OciError::NoDockerEngine { .. }), "{err}");
        assert!(err.hint().unwrap().contains("docker-archive:FILE"));
    }

    /// Talks to a fake engine on a socket of our own: the request is well-formed, and an error
    /// object in the JSON stream is a load failure.
    #[test]
    fn fake_engine_load_error_is_reported() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let request_line = read_line(&mut reader).unwrap();
            let mut length = 0u64;
            loop {
                let line = read_line(&mut reader).unwrap();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    length = v.parse().unwrap();
                }
            }
            let mut body = Vec::new();
            reader.take(length).read_to_end(&mut body).unwrap();
            let answer = r#"{"errorDetail":{"message":"bad layer"},"error":"bad layer"}"#;
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{answer}\r\n0\r\n\r\n",
                answer.len()
            )
            .unwrap();
            (request_line, body)
        });
        let image_dir = tempfile::tempdir().unwrap();
        let image =
            crate::testutil::two_layer_image(image_dir.path(), lockship_layer::Compression::Zstd);
        let err = with_docker_host(&socket, || load_into_docker(&image, "lockship/test:fake"))
            .unwrap_err();
        let (request_line, body) = server.join().unwrap();
        assert_eq!(request_line, "POST /images/load?quiet=1 HTTP/1.1");
        // The body is a docker-archive tar.
        let names: Vec<String> = tar::Archive::new(&body[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
        assert!(
            matches!(&err, OciError::DockerLoad { tag, message } if tag == "lockship/test:fake" && message == "bad layer"),
            "{err}"
        );
    }

    /// Run `f` with `DOCKER_HOST` pointing at `socket`. Tests that read `DOCKER_HOST` hold
    /// this lock so that they do not see each other's value.
    fn with_docker_host<T>(socket: &Path, f: impl FnOnce() -> T) -> T {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let old = std::env::var_os("DOCKER_HOST");
        std::env::set_var("DOCKER_HOST", format!("unix://{}", socket.display()));
        let out = f();
        match old {
            Some(v) => std::env::set_var("DOCKER_HOST", v),
            None => std::env::remove_var("DOCKER_HOST"),
        }
        out
    }

    static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn docker_host_must_be_a_unix_socket() {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let old = std::env::var_os("DOCKER_HOST");
        std::env::set_var("DOCKER_HOST", "tcp://127.0.0.1:2375");
        let result = docker_socket();
        match old {
            Some(v) => std::env::set_var("DOCKER_HOST", v),
            None => std::env::remove_var("DOCKER_HOST"),
        }
        let err = result.unwrap_err();
        assert!(matches!(err, OciError::UnsupportedDockerHost { .. }));
        assert!(err.to_string().contains("`tcp://127.0.0.1:2375`"));
    }

    /// Against the real engine: load a one-layer image (one static file), check it exists,
    /// delete it. Skipped without an engine, except on CI.
    #[test]
    fn loads_into_real_docker_engine() {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if !docker_available() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("no Docker engine on CI (CI=true): the docker load test must run there");
            }
            eprintln!("skipping: no Docker engine");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let layer = crate::testutil::make_layer(
            dir.path(),
            &[("hello.txt", b"hello from lockship\n")],
            lockship_layer::Compression::Zstd,
        );
        let image = Image {
            platform: crate::Platform::host(),
            config: crate::ImageConfig {
                cmd: Some(vec!["/hello.txt".into()]),
                ..Default::default()
            },
            layers: vec![layer],
            history: vec![crate::History::layer("lockship test")],
            created: 1_700_000_000,
            annotations: Default::default(),
        };
        let tag = format!("lockship-test/oci-load:t{}", std::process::id());
        load_into_docker(&image, &tag).unwrap();
        let socket = docker_socket().unwrap();
        let resp = request(&socket, "GET", &format!("/images/{tag}/json"), None, None).unwrap();
        let deleted = request(
            &socket,
            "DELETE",
            &format!("/images/{tag}?force=1"),
            None,
            None,
        );
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let info: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(
            info["RepoTags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == tag.as_str()),
            "{info}"
        );
        assert_eq!(info["Config"]["Cmd"][0], "/hello.txt");
        assert_eq!(
            info["RootFS"]["Layers"][0],
            image.layers[0].diff_id.as_str()
        );
        assert_eq!(deleted.unwrap().status, 200);
    }
}
