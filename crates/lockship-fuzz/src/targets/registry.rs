//! What registries answer: `WWW-Authenticate` challenges, and manifests,
//! indexes and configs served by a loopback registry to the real client.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockship_oci::{Platform, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use lockship_registry::{Client, ClientOptions, Reference};

use super::{digest, text};

/// A `WWW-Authenticate` header value (one or several challenges).
pub fn www_authenticate(data: &[u8]) {
    let header = text(data);
    let _ = lockship_registry::parse_challenges(&header);
    let _ = lockship_registry::parse_challenge(&header);
}

/// What the loopback registry serves: the manifest for tag `latest`, and
/// manifests and blobs by digest.
#[derive(Default)]
struct Content {
    latest: Vec<u8>,
    latest_type: String,
    by_digest: HashMap<String, (Vec<u8>, String)>,
}

struct Registry {
    port: u16,
    content: Arc<Mutex<Content>>,
    client: Client,
    /// Holds the client's `config.json` path (which does not exist).
    _home: tempfile::TempDir,
}

thread_local! {
    static REGISTRY: Registry = Registry::start();
}

impl Registry {
    fn start() -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("a loopback port").port();
        let content = Arc::new(Mutex::new(Content::default()));
        let served = Arc::clone(&content);
        std::thread::Builder::new()
            .name("fuzz-registry".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = serve(stream, &served);
                }
            })
            .expect("a registry thread");
        let home = tempfile::tempdir().expect("a temporary directory");
        let options = ClientOptions {
            docker_config: Some(home.path().join("config.json")),
            retries: 0,
            backoff: Duration::ZERO,
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        };
        let client = Client::new(options).expect("a registry client");
        Registry {
            port,
            content,
            client,
            _home: home,
        }
    }
}

fn serve(stream: TcpStream, content: &Mutex<Content>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let found = {
        let content = content.lock().unwrap_or_else(|e| e.into_inner());
        if path == "/v2/" {
            Some((b"{}".to_vec(), "application/json".to_string()))
        } else if let Some(reference) = path.strip_prefix("/v2/fuzz/manifests/") {
            if reference == "latest" {
                Some((content.latest.clone(), content.latest_type.clone()))
            } else {
                content.by_digest.get(reference).cloned()
            }
        } else if let Some(d) = path.strip_prefix("/v2/fuzz/blobs/") {
            content.by_digest.get(d).cloned()
        } else {
            None
        }
    };
    let mut stream = stream;
    let (status, body, media_type) = match found {
        Some((body, media_type)) => ("200 OK", body, media_type),
        None => ("404 Not Found", Vec::new(), "text/plain".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\
         Docker-Content-Digest: {}\r\nConnection: close\r\n\r\n",
        body.len(),
        digest(&body)
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()?;
    // Let the client close first, so no reset races the body.
    let _ = reader.read(&mut [0u8; 1]);
    Ok(())
}

/// Serves `content`, then pulls `127.0.0.1:PORT/fuzz:latest` for
/// linux/amd64 the way a build does: the manifest (through an index if it
/// is one), then the config.
fn pull(content: Content) {
    REGISTRY.with(|registry| {
        *registry.content.lock().unwrap_or_else(|e| e.into_inner()) = content;
        let reference = Reference::parse(&format!("127.0.0.1:{}/fuzz:latest", registry.port))
            .expect("a valid reference");
        let client = &registry.client;
        if let Ok(image) = client.resolve_image(&reference, &Platform::linux_amd64()) {
            let _ = client.fetch_config(&image);
        }
    });
}

/// A small image the registry can always serve by digest.
struct Fixture {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
}

fn fixture() -> Fixture {
    let layer = super::gzip(&super::tar_of(&[super::TarItem::File(
        "app/main.py",
        b"print(1)\n",
        0o644,
    )]));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/usr/bin"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        digest(&flate2_decode(&layer))
    )
    .into_bytes();
    let manifest = image_manifest(&config, &layer);
    Fixture {
        manifest,
        config,
        layer,
    }
}

fn flate2_decode(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("a gzip the fixture made");
    out
}

fn image_manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_CONFIG}","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        digest(config),
        config.len(),
        digest(layer),
        layer.len()
    )
    .into_bytes()
}

fn serving(f: &Fixture) -> Content {
    let mut content = Content::default();
    content.by_digest.insert(
        digest(&f.manifest),
        (f.manifest.clone(), MEDIA_TYPE_MANIFEST.to_string()),
    );
    content.by_digest.insert(
        digest(&f.config),
        (f.config.clone(), MEDIA_TYPE_CONFIG.to_string()),
    );
    content.by_digest.insert(
        digest(&f.layer),
        (f.layer.clone(), "application/octet-stream".to_string()),
    );
    content
}

/// A manifest or index the registry sends for a tag (its media type sniffed
/// from the document, as registries set it).
pub fn registry_manifest(data: &[u8]) {
    let f = fixture();
    let mut content = serving(&f);
    content.latest = data.to_vec();
    content.latest_type = if text(data).contains("index") || text(data).contains("list") {
        MEDIA_TYPE_INDEX.to_string()
    } else {
        MEDIA_TYPE_MANIFEST.to_string()
    };
    pull(content);
}

/// An image config the registry sends, under a manifest that names it.
pub fn registry_config(data: &[u8]) {
    let f = fixture();
    let mut content = serving(&f);
    content.latest = image_manifest(data, &f.layer);
    content.latest_type = MEDIA_TYPE_MANIFEST.to_string();
    content
        .by_digest
        .insert(digest(data), (data.to_vec(), MEDIA_TYPE_CONFIG.to_string()));
    pull(content);
}

pub(crate) fn manifest_seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    let entry = |media_type: &str| {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
            digest(&f.manifest),
            f.manifest.len()
        )
    };
    vec![
        f.manifest.clone(),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[{}]}}"#,
            entry(MEDIA_TYPE_MANIFEST)
        )
        .into_bytes(),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{},{}]}}"#,
            entry("application/vnd.docker.distribution.manifest.v2+json").replace("amd64", "arm64"),
            entry("application/vnd.docker.distribution.manifest.v2+json")
        )
        .into_bytes(),
    ]
}

pub(crate) fn config_seeds() -> Vec<Vec<u8>> {
    vec![fixture().config]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_registry_serves_the_seeds() {
        let f = fixture();
        for seed in manifest_seeds() {
            let mut content = serving(&f);
            content.latest = seed;
            content.latest_type = MEDIA_TYPE_INDEX.to_string();
            REGISTRY.with(|registry| {
                *registry.content.lock().unwrap() = content;
                let reference =
                    Reference::parse(&format!("127.0.0.1:{}/fuzz:latest", registry.port)).unwrap();
                let image = registry
                    .client
                    .resolve_image(&reference, &Platform::linux_amd64())
                    .unwrap();
                let config = registry.client.fetch_config(&image).unwrap();
                assert_eq!(config.env_var("PATH"), Some("/usr/bin"));
            });
        }
    }
}
