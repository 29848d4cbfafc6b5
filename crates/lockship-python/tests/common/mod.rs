//! Test fixtures: python-build-standalone releases built at test time and
//! served from 127.0.0.1.
//!
//! [`standard_entries`] lays out an archive exactly as a release's
//! `install_only_stripped` asset is laid out (one top directory `python/`
//! holding `bin/python3.X`, `lib/libpython3.X.so.1.0`, `lib/python3.X/...`,
//! `include/`, `share/`), with placeholders for the interpreter, library
//! and stdlib modules: these tests check the download, hashes, unpacking and
//! pruning, and never run what they unpack. [`Release::publish`] writes the
//! archives and their `SHA256SUMS` (`"{sha256}  {name}\n"`, sorted by name)
//! under `<root>/<tag>/`, and [`serve`] serves `<root>` over HTTP.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// One archive entry, with its path written as raw bytes (so hostile names
/// can be made).
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir(String),
    /// A regular file with its bytes and mode.
    File(String, Vec<u8>, u32),
    /// A symlink to a target.
    Symlink(String, String),
    /// A hard link to another entry.
    HardLink(String, String),
    /// A FIFO.
    Fifo(String),
}

/// Placeholder content of a file these tests never run: no real
/// interpreter is put under another version's name (the end-to-end tests in
/// the `lockship` crate build archives from real interpreters, labelled
/// with their true versions).
fn placeholder(what: &str) -> Vec<u8> {
    format!("placeholder {what}, never run\n").into_bytes()
}

/// The entries of a release archive for `version` (`3.12.7`) on `triple`.
pub fn standard_entries(version: &str, triple: &str) -> Vec<Entry> {
    let minor: String = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let nodot = minor.replace('.', "");
    let multiarch = if triple.starts_with("aarch64") {
        "aarch64-linux-gnu"
    } else {
        "x86_64-linux-gnu"
    };
    let stdlib = format!("python/lib/python{minor}");
    let interpreter = placeholder(&format!("python{minor}"));
    let libpython = placeholder(&format!("libpython{minor}.so.1.0"));
    let module = |name: &str| format!("# {name}\n").into_bytes();
    let mut e = vec![
        Entry::Dir("python/".into()),
        Entry::Dir("python/bin/".into()),
        Entry::File(format!("python/bin/python{minor}"), interpreter, 0o755),
        Entry::Symlink("python/bin/python3".into(), format!("python{minor}")),
        Entry::Symlink("python/bin/python".into(), format!("python{minor}")),
        Entry::File(
            "python/bin/pip3".into(),
            b"#!/bin/sh\n\"exec\" \"`dirname $0`/python3\" \"$0\" \"$@\"\n".to_vec(),
            0o755,
        ),
        Entry::File(
            format!("python/bin/idle{minor}"),
            b"#!python\n".to_vec(),
            0o755,
        ),
        Entry::Symlink("python/bin/idle3".into(), format!("idle{minor}")),
        Entry::Dir("python/include/".into()),
        Entry::Dir(format!("python/include/python{minor}/")),
        Entry::File(
            format!("python/include/python{minor}/Python.h"),
            b"#define Py_PYTHON_H\n".to_vec(),
            0o644,
        ),
        Entry::Dir("python/lib/".into()),
        Entry::File(
            format!("python/lib/libpython{minor}.so.1.0"),
            libpython,
            0o755,
        ),
        Entry::Symlink(
            format!("python/lib/libpython{minor}.so"),
            format!("libpython{minor}.so.1.0"),
        ),
        Entry::File(
            format!("python/lib/libpython{minor}.a"),
            b"!<arch>\n".to_vec(),
            0o644,
        ),
        Entry::Dir("python/lib/tcl8.6/".into()),
        Entry::File(
            "python/lib/tcl8.6/init.tcl".into(),
            b"# tcl\n".to_vec(),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/")),
        Entry::File(format!("{stdlib}/os.py"), module("os.py"), 0o644),
        Entry::File(
            format!("{stdlib}/_sysconfigdata__linux_{multiarch}.py"),
            b"build_time_vars = {}\n".to_vec(),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/json/")),
        Entry::File(
            format!("{stdlib}/json/__init__.py"),
            module("json/__init__.py"),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/json/__pycache__/")),
        Entry::File(
            format!("{stdlib}/json/__pycache__/__init__.cpython-{nodot}.pyc"),
            b"stale bytecode".to_vec(),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/lib-dynload/")),
        Entry::File(
            format!("{stdlib}/lib-dynload/_ssl.cpython-{nodot}-{multiarch}.so"),
            b"\x7fELF _ssl".to_vec(),
            0o755,
        ),
        Entry::File(
            format!("{stdlib}/lib-dynload/_tkinter.cpython-{nodot}-{multiarch}.so"),
            b"\x7fELF _tkinter".to_vec(),
            0o755,
        ),
        Entry::Dir(format!("{stdlib}/config-{minor}-{multiarch}/")),
        Entry::File(
            format!("{stdlib}/config-{minor}-{multiarch}/Makefile"),
            b"# Makefile\n".to_vec(),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/site-packages/")),
        Entry::File(
            format!("{stdlib}/site-packages/README.txt"),
            b"This directory exists so that 3rd party packages can be installed here.\n".to_vec(),
            0o644,
        ),
        Entry::Dir(format!("{stdlib}/site-packages/pip/")),
        Entry::File(
            format!("{stdlib}/site-packages/pip/__init__.py"),
            b"# pip\n".to_vec(),
            0o644,
        ),
        Entry::Dir("python/share/".into()),
        Entry::Dir("python/share/man/".into()),
        Entry::Dir("python/share/man/man1/".into()),
        Entry::File(
            format!("python/share/man/man1/python{minor}.1"),
            b".TH PYTHON 1\n".to_vec(),
            0o644,
        ),
    ];
    for pkg in ["test", "idlelib", "tkinter", "ensurepip"] {
        e.push(Entry::Dir(format!("{stdlib}/{pkg}/")));
        e.push(Entry::File(
            format!("{stdlib}/{pkg}/__init__.py"),
            format!("# {pkg}\n").into_bytes(),
            0o644,
        ));
    }
    e
}

/// Writes `name` into a header's name field as raw bytes, with no checks.
fn raw_name(header: &mut tar::Header, name: &str) {
    let field = &mut header.as_old_mut().name;
    assert!(name.len() < field.len(), "fixture names stay short: {name}");
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn raw_link(header: &mut tar::Header, target: &str) {
    let field = &mut header.as_old_mut().linkname;
    assert!(target.len() < field.len());
    field.fill(0);
    field[..target.len()].copy_from_slice(target.as_bytes());
}

/// A `.tar.gz` of `entries`, in order, every mtime fixed.
pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let data: &[u8] = match entry {
            Entry::Dir(p) => {
                raw_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                &[]
            }
            Entry::File(p, bytes, mode) => {
                raw_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(bytes.len() as u64);
                bytes
            }
            Entry::Symlink(p, t) | Entry::HardLink(p, t) => {
                raw_name(&mut h, p);
                raw_link(&mut h, t);
                h.set_entry_type(if matches!(entry, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                &[]
            }
            Entry::Fifo(p) => {
                raw_name(&mut h, p);
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o644);
                &[]
            }
        };
        h.set_cksum();
        builder.append(&h, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The asset name of a release archive.
pub fn asset_name(version: &str, tag: &str, triple: &str) -> String {
    format!("cpython-{version}+{tag}-{triple}-install_only_stripped.tar.gz")
}

/// Hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A release being put together: asset name → bytes.
#[derive(Default)]
pub struct Release {
    /// The assets.
    pub assets: BTreeMap<String, Vec<u8>>,
    /// Hashes to write into `SHA256SUMS` instead of the real ones.
    pub lie: BTreeMap<String, String>,
}

impl Release {
    /// Adds the standard archive of `version` for `triple`.
    pub fn standard(&mut self, version: &str, tag: &str, triple: &str) -> &mut Self {
        let bytes = tar_gz(&standard_entries(version, triple));
        self.assets.insert(asset_name(version, tag, triple), bytes);
        self
    }

    /// Writes every asset and `SHA256SUMS` under `root/tag/`.
    pub fn publish(&self, root: &Path, tag: &str) -> PathBuf {
        let dir = root.join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let mut sums = String::new();
        for (name, bytes) in &self.assets {
            std::fs::write(dir.join(name), bytes).unwrap();
            let hash = self.lie.get(name).cloned().unwrap_or_else(|| sha256(bytes));
            sums.push_str(&format!("{hash}  {name}\n"));
        }
        // Another flavour, as real releases list them all.
        sums.push_str(&format!(
            "{}  cpython-3.12.7+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz\n",
            "0".repeat(64)
        ));
        std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
        dir
    }
}

/// Serves `root` over HTTP on 127.0.0.1; returns the base URL and the log
/// of requested paths.
pub fn serve(root: PathBuf) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream, &root, &seen);
        }
    });
    (base, log)
}

fn answer(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let decoded = percent_decode(&path);
    log.lock().unwrap().push(decoded.clone());
    let file = (!decoded.contains(".."))
        .then(|| root.join(decoded.trim_start_matches('/')))
        .filter(|p| p.is_file());
    let _ = match file {
        Some(file) => {
            let body = std::fs::read(file).unwrap();
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                )
                .and_then(|_| stream.write_all(&body))
        }
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
