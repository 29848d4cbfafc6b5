//! Test helpers: the reference registry (Debian's `docker-registry`), certificates, small
//! images.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lockship_layer::{Compression, Layer};
use sha2::{Digest, Sha256};

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The registry binary and `htpasswd`, installed with apt when running as root. `None` (with
/// a visible message) when they cannot be had; under `CI=true` that is a failure.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let find = || Some((on_path("docker-registry")?, on_path("htpasswd")?));
    if find().is_none() && is_root() {
        INSTALL.call_once(|| {
            let _ = Command::new("apt-get")
                .arg("update")
                .stdout(Stdio::null())
                .status();
            let _ = Command::new("apt-get")
                .args(["install", "-y", "docker-registry", "apache2-utils"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status();
        });
    }
    let found = find();
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("docker-registry and htpasswd are required under CI=true (apt-get install docker-registry apache2-utils)");
        }
        eprintln!(
            "SKIPPED: docker-registry or htpasswd not found and cannot be installed (not root)"
        );
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// TLS material for a registry on 127.0.0.1, made with the `openssl` CLI.
pub struct Tls {
    pub ca_pem: Vec<u8>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_tls(dir: &Path) -> Tls {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl CLI");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=lockship test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Tls {
        ca_pem: std::fs::read(dir.join("ca.pem")).unwrap(),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    binary: PathBuf,
    child: Option<Child>,
    tls: bool,
}

impl Registry {
    /// Start a registry on 127.0.0.1 (plain HTTP unless `tls`; htpasswd auth with `users`).
    pub fn start(tls: bool, users: &[(&str, &str)]) -> Option<(Registry, Option<Tls>)> {
        let (binary, htpasswd) = tools()?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: lockship-test\n",
            storage.display()
        );
        let tls_material = tls.then(|| make_tls(dir.path()));
        if let Some(t) = &tls_material {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
        }
        if !users.is_empty() {
            let file = dir.path().join("htpasswd");
            let mut text = String::new();
            for (user, password) in users {
                let out = Command::new(&htpasswd)
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                text.push_str(String::from_utf8_lossy(&out.stdout).trim());
                text.push('\n');
            }
            std::fs::write(&file, text).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: lockship-test\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut registry = Registry {
            port,
            dir,
            binary,
            child: None,
            tls,
        };
        registry.restart();
        Some((registry, tls_material))
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn reference(&self, repo_tag: &str) -> lockship_registry::Reference {
        lockship_registry::Reference::parse(&format!("{}/{repo_tag}", self.host())).unwrap()
    }

    /// (Re)start on the same port and storage; waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .unwrap();
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The pid of the running registry (to kill it from another thread).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Write a layer blob holding `files` into `dir` and describe it.
pub fn make_layer(dir: &Path, files: &[(&str, &[u8])], compression: Compression) -> Layer {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_size(contents.len() as u64);
        builder.append_data(&mut header, path, *contents).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let blob = match compression {
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        }
        Compression::None => tar.clone(),
        Compression::Zstd => panic!("not used in these tests"),
    };
    let digest = sha256(&blob);
    let path = dir.join(&digest[7..]);
    std::fs::write(&path, &blob).unwrap();
    Layer {
        path,
        digest,
        diff_id: sha256(&tar),
        size: blob.len() as u64,
        uncompressed_size: tar.len() as u64,
        compression,
    }
}

/// Pseudo-random, incompressible bytes (xorshift).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A small image: a base layer and an app layer whose content depends on `name`.
pub fn small_image(dir: &Path, name: &str, platform: &str) -> lockship_oci::Image {
    let base = make_layer(
        dir,
        &[
            ("usr/local/bin/python3", b"#!/bin/false\n"),
            ("etc/os-release", b"ID=lockship\n"),
        ],
        Compression::Gzip,
    );
    let main = format!("print('hello from {name} on {platform}')\n");
    let app = make_layer(dir, &[("app/main.py", main.as_bytes())], Compression::Gzip);
    image_with(vec![base, app], platform)
}

pub fn image_with(layers: Vec<Layer>, platform: &str) -> lockship_oci::Image {
    lockship_oci::Image {
        platform: platform.parse().unwrap(),
        config: lockship_oci::ImageConfig {
            env: vec![
                "PATH=/usr/local/bin:/usr/bin:/bin".into(),
                "PYTHON_VERSION=3.12.4".into(),
            ],
            entrypoint: Some(vec!["/usr/local/bin/python3".into()]),
            cmd: Some(vec!["/app/main.py".into()]),
            ..Default::default()
        },
        history: Vec::new(),
        layers,
        created: 1_700_000_000,
        annotations: BTreeMap::new(),
    }
}

/// Client options for tests: fast back-off, no user Docker config.
pub fn options(dir: &Path) -> lockship_registry::ClientOptions {
    lockship_registry::ClientOptions {
        docker_config: Some(dir.join("no-docker-config.json")),
        backoff: Duration::from_millis(20),
        retries: 2,
        timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

/// A third-party check with skopeo, when it is on PATH: the raw manifest digest.
pub fn skopeo_manifest(reference: &str, creds: Option<&str>) -> Option<Vec<u8>> {
    on_path("skopeo")?;
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.arg(format!("--creds={c}"));
    }
    let out = cmd.arg(format!("docker://{reference}")).output().ok()?;
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

/// Explicit credentials for one registry.
pub fn cred(registry: &str, user: &str, password: &str) -> lockship_registry::RegistryCredential {
    lockship_registry::RegistryCredential {
        registry: registry.into(),
        username: user.into(),
        password: password.into(),
    }
}
