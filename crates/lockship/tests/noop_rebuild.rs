//! No work when nothing changed: a rebuild of the same inputs is answered
//! from the last build's record with the same digest and no network
//! request; a one-file change rebuilds only the project layer.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;

/// A proxy on 127.0.0.1 that counts the requests it gets and refuses each.
struct CountingProxy {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl CountingProxy {
    fn start() -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        CountingProxy { port, requests }
    }

    /// `cmd` with every request sent through this proxy.
    fn route<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        let url = format!("http://127.0.0.1:{}", self.port);
        for var in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ] {
            cmd.env(var, &url);
        }
        cmd.env_remove("NO_PROXY").env_remove("no_proxy")
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn build(project: &Path, out: &Path) -> Command {
    let mut cmd = lockship();
    cmd.arg("build")
        .arg(project)
        .arg("--json")
        .arg("--output")
        .arg(format!("oci:{}", out.display()));
    cmd
}

fn summary(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_slice(&run_ok(cmd).stdout).unwrap()
}

fn rebuilt(summary: &serde_json::Value) -> Vec<String> {
    summary["cached"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["cached"].as_bool().unwrap())
        .map(|c| c["layer"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_rebuild_of_unchanged_inputs_has_the_same_digest_and_no_network_request() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("fastapi-app", dir.path());
    let first = summary(&mut build(&project, &dir.path().join("first")));
    let digest = first["digest"].as_str().unwrap().to_string();

    // Nothing changed: through a proxy that refuses everything, the same
    // image, into a new layout, with no request made.
    let proxy = CountingProxy::start();
    let again = summary(proxy.route(&mut build(&project, &dir.path().join("again"))));
    assert_eq!(again["digest"], digest);
    assert!(rebuilt(&again).is_empty(), "{again}");
    assert_eq!(proxy.requests(), 0, "a no-op rebuild used the network");
    run_ok(lockship().args([
        "validate",
        &format!("oci:{}", dir.path().join("again").display()),
    ]));

    // The proxy does catch a build that goes out: `--refresh` does.
    let err = run_err(
        proxy
            .route(&mut build(&project, &dir.path().join("refreshed")))
            .arg("--refresh"),
    );
    assert!(proxy.requests() > 0, "the proxy saw nothing:\n{err}");

    // One file of code changed: only the project layer is rebuilt.
    let main = project.join("src/fastapi_app/main.py");
    let mut code = std::fs::read_to_string(&main).unwrap();
    // A line no earlier run wrote: the test cache is shared between runs.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    code.push_str(&format!("\n# one more line, {nonce}\n"));
    std::fs::write(&main, code).unwrap();
    let changed = summary(&mut build(&project, &dir.path().join("changed")));
    assert_ne!(changed["digest"], digest);
    assert_eq!(rebuilt(&changed), ["project"], "{changed}");
}
