//! Issue 14, items 6, 7 and 10 through `lockship build`: a requirements
//! file of direct URL wheels served from 127.0.0.1 (made at test time)
//! installs with its hashes checked; one that misses a dependency fails
//! naming it, its dependent and the requirement; one whose host does not
//! answer fails early, naming the host and the packages.

mod common;
#[path = "../../lockship-wheel/tests/common/mod.rs"]
mod wheels;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use wheels::{sha256_hex, Route, Server, WheelBuilder};

/// A wheel of `name` whose METADATA lists `requires`.
fn wheel(name: &str, version: &str, requires: &[&str]) -> (String, Vec<u8>) {
    let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    for r in requires {
        metadata.push_str(&format!("Requires-Dist: {r}\n"));
    }
    let builder = WheelBuilder::new(name, version)
        .file(&format!("{name}/__init__.py"), b"")
        .file(
            &format!("{name}-{version}.dist-info/METADATA"),
            metadata.as_bytes(),
        );
    (builder.filename(), builder.bytes())
}

/// A project of one hashed requirements file naming `wheels` by URL under `base`.
fn project(dir: &Path, base: &str, wheels: &[(String, Vec<u8>)]) -> std::path::PathBuf {
    let project = dir.join("app");
    std::fs::create_dir_all(&project).unwrap();
    let mut text = String::new();
    for (filename, bytes) in wheels {
        let name = filename.split('-').next().unwrap();
        text.push_str(&format!(
            "{name} @ {base}/{filename} \\\n    --hash=sha256:{}\n",
            sha256_hex(bytes)
        ));
    }
    std::fs::write(project.join("requirements.txt"), text).unwrap();
    std::fs::write(project.join("main.py"), "print('hi')\n").unwrap();
    project
}

fn serve(wheels: &[(String, Vec<u8>)]) -> Server {
    let routes: HashMap<String, Route> = wheels
        .iter()
        .map(|(f, b)| {
            let route = Route {
                bytes: Some(b.clone()),
                ..Route::default()
            };
            (format!("/files/{f}"), route)
        })
        .collect();
    Server::start(routes, None)
}

fn build(project: &Path, out: &Path) -> std::process::Command {
    let mut cmd = lockship();
    cmd.arg("build")
        .arg(project)
        .arg("--output")
        .arg(format!("oci:{}", out.display()));
    cmd
}

/// searxng's case: a hand-written requirements file without a transitive
/// pin built an image that failed at run time. Now the build stops, and
/// with the pin added it installs the direct URL wheels.
#[test]
fn an_incomplete_requirements_file_is_refused_and_a_complete_one_installs() {
    if !online() {
        return;
    }
    let flask = wheel(
        "flask",
        "3.0.3",
        &["Werkzeug>=3.0.0", "itsdangerous>=2.1.2"],
    );
    let itsdangerous = wheel("itsdangerous", "2.2.0", &[]);
    let werkzeug = wheel(
        "werkzeug",
        "3.0.4",
        &["MarkupSafe>=2.1.1 ; python_version < '3'"],
    );
    let all = [flask.clone(), itsdangerous.clone(), werkzeug.clone()];
    let server = serve(&all);
    let base = format!("{}/files", server.base);
    let dir = tempfile::tempdir().unwrap();

    let incomplete = project(
        &dir.path().join("incomplete"),
        &base,
        &[flask, itsdangerous],
    );
    let err = run_err(&mut build(&incomplete, &dir.path().join("out1")));
    assert!(
        err.contains("`werkzeug` is missing (`flask` requires `Werkzeug>=3.0.0`)"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("uv pip compile"),
        "{err}"
    );
    assert!(!dir.path().join("out1").exists());

    let complete = project(&dir.path().join("complete"), &base, &all);
    run_ok(&mut build(&complete, &dir.path().join("out2")));
    let paths = image_paths(&format!("oci:{}", dir.path().join("out2").display()));
    for package in ["flask", "itsdangerous", "werkzeug"] {
        assert!(
            paths
                .iter()
                .any(|p| p.ends_with(&format!("site-packages/{package}/__init__.py"))),
            "{package} is not in the image"
        );
    }
}

/// chia's case: a source this machine cannot reach fails the build early,
/// naming the source and the packages that need it.
#[test]
fn an_unreachable_host_is_named_with_its_packages_before_any_download() {
    if !online() {
        return;
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}/files");
    let dir = tempfile::tempdir().unwrap();
    let project = project(
        dir.path(),
        &base,
        &[
            wheel("zstd", "1.5.7", &[]),
            wheel("miniupnpc", "2.2.8", &[]),
        ],
    );
    let err = run_err(&mut build(&project, &dir.path().join("out")));
    assert!(
        err.contains(&format!(
            "Cannot reach the host `http://127.0.0.1:{port}`, which `miniupnpc`, `zstd` need"
        )),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}
