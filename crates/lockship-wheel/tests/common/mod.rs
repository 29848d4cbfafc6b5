//! Test helpers: wheels built with the zip crate, and a tiny HTTP/1.1
//! server on 127.0.0.1.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// One archive entry.
enum Item {
    File {
        name: String,
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        name: String,
        target: String,
    },
    Dir {
        name: String,
    },
}

/// Builds a wheel; `RECORD` is generated from the entries unless replaced.
pub struct WheelBuilder {
    pub name: String,
    pub version: String,
    items: Vec<Item>,
    unrecorded: Vec<String>,
    record: Option<String>,
    /// The version in the `.dist-info` directory name, when it differs.
    dist_info_version: Option<String>,
}

impl WheelBuilder {
    pub fn new(name: &str, version: &str) -> Self {
        WheelBuilder {
            name: name.into(),
            version: version.into(),
            items: Vec::new(),
            unrecorded: Vec::new(),
            record: None,
            dist_info_version: None,
        }
    }

    pub fn dist_info(&self) -> String {
        let version = self.dist_info_version.as_ref().unwrap_or(&self.version);
        format!("{}-{version}.dist-info", self.name)
    }

    /// Names the `.dist-info` directory with another version than the
    /// file name's.
    pub fn dist_info_version(mut self, version: &str) -> Self {
        self.dist_info_version = Some(version.into());
        self
    }

    /// A directory entry (`name/`).
    pub fn dir(mut self, name: &str) -> Self {
        self.items.push(Item::Dir { name: name.into() });
        self
    }

    pub fn file(mut self, name: &str, content: &[u8]) -> Self {
        self.items.push(Item::File {
            name: name.into(),
            content: content.into(),
            mode: 0o644,
        });
        self
    }

    pub fn exec_file(mut self, name: &str, content: &[u8]) -> Self {
        self.items.push(Item::File {
            name: name.into(),
            content: content.into(),
            mode: 0o755,
        });
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.items.push(Item::Symlink {
            name: name.into(),
            target: target.into(),
        });
        self
    }

    /// An entry left out of the generated `RECORD`.
    pub fn unrecorded(mut self, name: &str, content: &[u8]) -> Self {
        self.unrecorded.push(name.into());
        self.file(name, content)
    }

    /// Replaces the generated `RECORD`.
    pub fn record(mut self, record: &str) -> Self {
        self.record = Some(record.into());
        self
    }

    /// The `RECORD` that would be generated.
    pub fn generated_record(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            let (name, content) = match item {
                Item::File { name, content, .. } => (name.as_str(), content.as_slice()),
                Item::Symlink { name, target } => (name.as_str(), target.as_bytes()),
                Item::Dir { .. } => continue,
            };
            if self.unrecorded.iter().any(|u| u == name) {
                continue;
            }
            out.push_str(&record_line(name, content));
        }
        out.push_str(&format!("{}/RECORD,,\n", self.dist_info()));
        out
    }

    pub fn filename(&self) -> String {
        format!("{}-{}-py3-none-any.whl", self.name, self.version)
    }

    /// Writes the wheel into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        std::fs::write(&path, self.bytes()).unwrap();
        path
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        let di = self.dist_info();
        let mut all: Vec<&Item> = self.items.iter().collect();
        let metadata = Item::File {
            name: format!("{di}/METADATA"),
            content: format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                self.name, self.version
            )
            .into_bytes(),
            mode: 0o644,
        };
        let wheel = Item::File {
            name: format!("{di}/WHEEL"),
            content:
                b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                    .to_vec(),
            mode: 0o644,
        };
        let has = |n: &str| {
            self.items
                .iter()
                .any(|i| matches!(i, Item::File { name, .. } if name == n))
        };
        if !has(&format!("{di}/METADATA")) {
            all.push(&metadata);
        }
        if !has(&format!("{di}/WHEEL")) {
            all.push(&wheel);
        }
        let mut record = self
            .record
            .clone()
            .unwrap_or_else(|| self.generated_record());
        if self.record.is_none() {
            for extra in [&metadata, &wheel] {
                if let Item::File { name, content, .. } = extra {
                    if !has(name) {
                        record.insert_str(0, &record_line(name, content));
                    }
                }
            }
        }
        for item in all {
            match item {
                Item::File {
                    name,
                    content,
                    mode,
                } => {
                    zip.start_file(name.as_str(), options.unix_permissions(*mode))
                        .unwrap();
                    zip.write_all(content).unwrap();
                }
                Item::Symlink { name, target } => {
                    zip.add_symlink(name.as_str(), target.as_str(), options)
                        .unwrap();
                }
                Item::Dir { name } => {
                    zip.add_directory(name.as_str(), options).unwrap();
                }
            }
        }
        zip.start_file(format!("{di}/RECORD"), options).unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }
}

pub fn record_line(name: &str, content: &[u8]) -> String {
    format!(
        "{name},sha256={},{}\n",
        URL_SAFE_NO_PAD.encode(Sha256::digest(content)),
        content.len()
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A response: JSON and/or HTML bodies chosen by the `Accept` header, or
/// plain bytes.
#[derive(Clone, Default)]
pub struct Route {
    pub json: Option<Vec<u8>>,
    pub html: Option<Vec<u8>>,
    pub bytes: Option<Vec<u8>>,
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub accept: Option<String>,
    pub authorization: Option<String>,
}

pub struct Server {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Serves `routes` (path → route); with `basic_auth` (`user:pass`),
    /// every request without it gets 401.
    pub fn start(routes: HashMap<String, Route>, basic_auth: Option<&str>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let expected_auth = basic_auth.map(|a| format!("Basic {}", STANDARD.encode(a)));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let mut headers = HashMap::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let request = Seen {
                    path: path.clone(),
                    accept: headers.get("accept").cloned(),
                    authorization: headers.get("authorization").cloned(),
                };
                log.lock().unwrap().push(request.clone());
                let (status, content_type, body): (&str, &str, Vec<u8>) =
                    if expected_auth.is_some() && request.authorization != expected_auth {
                        ("401 Unauthorized", "text/plain", b"no".to_vec())
                    } else {
                        match routes.get(&path) {
                            None => ("404 Not Found", "text/plain", b"missing".to_vec()),
                            Some(route) => {
                                let wants_json = request
                                    .accept
                                    .as_deref()
                                    .is_some_and(|a| a.contains("vnd.pypi.simple.v1+json"));
                                if let (true, Some(json)) = (wants_json, &route.json) {
                                    (
                                        "200 OK",
                                        "application/vnd.pypi.simple.v1+json",
                                        json.clone(),
                                    )
                                } else if let Some(html) = &route.html {
                                    ("200 OK", "text/html; charset=utf-8", html.clone())
                                } else if let Some(bytes) = &route.bytes {
                                    ("200 OK", "application/octet-stream", bytes.clone())
                                } else {
                                    ("406 Not Acceptable", "text/plain", Vec::new())
                                }
                            }
                        }
                    };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
                let _ = stream.flush();
                let mut rest = [0u8; 0];
                let _ = reader.read(&mut rest);
            }
        });
        Server { base, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Every file, directory and symlink under `root`: path, mode and content
/// (or link target), sorted, for byte-for-byte tree comparisons.
pub fn tree(root: &Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        let content = if meta.file_type().is_symlink() {
            std::fs::read_link(entry.path())
                .unwrap()
                .display()
                .to_string()
                .into_bytes()
        } else if meta.is_file() {
            std::fs::read(entry.path()).unwrap()
        } else {
            Vec::new()
        };
        out.push((rel, meta.permissions().mode() & 0o7777, content));
    }
    out
}
