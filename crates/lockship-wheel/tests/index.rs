//! The index client against a simple-API server on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{sha256_hex, Route, Server, WheelBuilder};
use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
use lockship_wheel::{
    best_wheel, describe_target, install_wheel, write_venv_skeleton, Arch, IndexClient, IndexUrl,
    Libc, VenvLayout, WheelError, WheelTarget,
};

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 1,
        backoff: Duration::from_millis(10),
        ..FetchOptions::default()
    })
    .unwrap()
}

fn target() -> WheelTarget {
    WheelTarget {
        python: (3, 11),
        abi: "cp311".into(),
        arch: Arch::X86_64,
        libc: Libc::Glibc {
            major: 2,
            minor: 36,
        },
    }
}

fn client(indexes: &[String]) -> IndexClient {
    let indexes = indexes
        .iter()
        .map(|u| IndexUrl::parse(u).unwrap())
        .collect();
    IndexClient::with_netrc(fetcher(), indexes, None).unwrap()
}

/// A project `demo-pkg` whose wheel lives in `/files/`; the JSON page links
/// it relatively, the HTML page with a `#sha256=` fragment.
fn demo_routes(json: bool, html: bool) -> (HashMap<String, Route>, Vec<u8>) {
    let wheel = WheelBuilder::new("demo_pkg", "1.0")
        .file("demo_pkg/__init__.py", b"def main():\n    return 0\n")
        .file(
            "demo_pkg-1.0.dist-info/entry_points.txt",
            b"[console_scripts]\ndemo = demo_pkg:main\n",
        )
        .bytes();
    let sha = sha256_hex(&wheel);
    let name = "demo_pkg-1.0-py3-none-any.whl";
    let musl = "demo_pkg-1.0-cp311-cp311-musllinux_1_2_x86_64.whl";
    let mut routes = HashMap::new();
    let mut page = Route::default();
    if json {
        page.json = Some(
            format!(
                r#"{{"meta":{{"api-version":"1.1"}},"name":"demo-pkg","files":[
{{"filename":"{musl}","url":"../../files/{musl}","hashes":{{"sha256":"{}"}}}},
{{"filename":"{name}","url":"../../files/{name}","hashes":{{"sha256":"{sha}"}},"requires-python":">=3.8"}}]}}"#,
                "00".repeat(32)
            )
            .into_bytes(),
        );
    }
    if html {
        page.html = Some(
            format!(
                "<html><body>\n<a href=\"/files/{musl}\">{musl}</a>\n<a href=\"../../files/{name}#sha256={sha}\" data-requires-python=\"&gt;=3.8\">{name}</a>\n</body></html>"
            )
            .into_bytes(),
        );
    }
    routes.insert("/simple/demo-pkg/".to_string(), page);
    routes.insert(
        format!("/files/{name}"),
        Route {
            bytes: Some(wheel.clone()),
            ..Route::default()
        },
    );
    (routes, wheel)
}

#[test]
fn json_page_then_download_then_install() {
    let (routes, wheel) = demo_routes(true, true);
    let server = Server::start(routes, None);
    let client = client(&[format!("{}/simple", server.base)]);
    let files = client.files("Demo_Pkg").unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].path, "/simple/demo-pkg/");
    assert!(seen[0]
        .accept
        .as_deref()
        .unwrap()
        .starts_with("application/vnd.pypi.simple.v1+json"));
    assert_eq!(files.len(), 2);
    let wheel_file = &files[1];
    assert_eq!(
        wheel_file.url.as_str(),
        format!("{}/files/demo_pkg-1.0-py3-none-any.whl", server.base)
    );
    assert_eq!(
        wheel_file.sha256.as_deref(),
        Some(sha256_hex(&wheel).as_str())
    );
    assert_eq!(wheel_file.requires_python.as_deref(), Some(">=3.8"));

    // The musllinux wheel does not fit glibc; the pure wheel does.
    let names: Vec<String> = files.iter().map(|f| f.filename.clone()).collect();
    let (best, _) = best_wheel(&names, &target()).unwrap();
    assert_eq!(best, "demo_pkg-1.0-py3-none-any.whl");

    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let path = client
        .download(
            &wheel_file.url,
            wheel_file.sha256.as_deref().unwrap(),
            &cache,
            &NoReporter,
        )
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), wheel);

    // The cache names entries by hash; install from a copy with the wheel name.
    let named = dir.path().join(best);
    std::fs::copy(&path, &named).unwrap();
    let venv = VenvLayout {
        root: dir.path().join("stage"),
        prefix: "/opt/venv".into(),
        python: "/usr/bin/python3.11".into(),
        python_version: (3, 11),
        python_full_version: None,
    };
    write_venv_skeleton(&venv).unwrap();
    let installed = install_wheel(&named, &venv).unwrap();
    assert!(installed.files.contains(&"../../../bin/demo".to_string()));

    // A wrong hash is refused and nothing is cached under it.
    let wrong = "11".repeat(32);
    let err = client
        .download(&wheel_file.url, &wrong, &cache, &NoReporter)
        .unwrap_err();
    assert!(matches!(err, WheelError::Download { .. }), "{err}");
    assert!(cache.get(&wrong).unwrap().is_none());
}

#[test]
fn html_fallback_when_the_index_has_no_json() {
    let (routes, wheel) = demo_routes(false, true);
    let server = Server::start(routes, None);
    let client = client(&[format!("{}/simple/", server.base)]);
    let files = client.files("demo-pkg").unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0].url.as_str(),
        format!(
            "{}/files/demo_pkg-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
            server.base
        )
    );
    assert_eq!(files[0].sha256, None);
    assert_eq!(
        files[1].sha256.as_deref(),
        Some(sha256_hex(&wheel).as_str())
    );
    assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8"));
    // Under a musl target, only the musllinux wheel fits and outranks py3-none-any.
    let musl = WheelTarget {
        libc: Libc::Musl { major: 1, minor: 2 },
        ..target()
    };
    let names: Vec<String> = files.iter().map(|f| f.filename.clone()).collect();
    assert_eq!(best_wheel(&names, &musl).unwrap().0, &names[0]);
}

#[test]
fn first_index_that_knows_the_package_wins() {
    let (routes, _) = demo_routes(true, false);
    let empty = Server::start(HashMap::new(), None);
    let full = Server::start(routes, None);
    let client = client(&[
        format!("{}/simple/", empty.base),
        format!("{}/simple/", full.base),
    ]);
    assert_eq!(client.files("demo-pkg").unwrap().len(), 2);
    assert_eq!(empty.seen().len(), 1);

    let err = client.files("absent").unwrap_err();
    assert!(
        matches!(&err, WheelError::PackageNotFound { package, .. } if package == "absent"),
        "{err}"
    );
    assert!(err.to_string().contains(&empty.base), "{err}");
}

#[test]
fn credentials_from_the_url_are_sent_and_redacted() {
    let (routes, wheel) = demo_routes(true, false);
    let server = Server::start(routes, Some("alice:s3cr@t"));
    let host = server.base.trim_start_matches("http://");

    let anonymous = client(&[format!("{}/simple/", server.base)]);
    let err = anonymous.files("demo-pkg").unwrap_err();
    assert!(
        matches!(err, WheelError::IndexStatus { status: 401, .. }),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("netrc"));

    let with_auth = client(&[format!("http://alice:s3cr%40t@{host}/simple/")]);
    assert!(!format!("{:?}", with_auth.indexes()).contains("s3cr"));
    let files = with_auth.files("demo-pkg").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let path = with_auth
        .download(&files[1].url, &sha256_hex(&wheel), &cache, &NoReporter)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), wheel);
    assert!(
        server
            .seen()
            .iter()
            .filter(|s| s.authorization.is_some())
            .count()
            >= 2
    );
}

#[test]
fn credentials_from_netrc() {
    let (routes, _) = demo_routes(false, true);
    let server = Server::start(routes, Some("bob:pw"));
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1\n  login bob\n  password pw\n").unwrap();
    let index = IndexUrl::parse(&format!("{}/simple/", server.base)).unwrap();
    let client = IndexClient::with_netrc(fetcher(), vec![index], Some(&netrc)).unwrap();
    assert_eq!(client.files("demo-pkg").unwrap().len(), 2);
}

#[test]
fn no_compatible_wheel_error_names_package_version_and_target() {
    let target = WheelTarget {
        arch: Arch::Aarch64,
        ..target()
    };
    let available = vec!["x-2.0-cp311-cp311-manylinux_2_17_x86_64.whl".to_string()];
    assert_eq!(best_wheel(&available, &target), None);
    let err = WheelError::NoCompatibleWheel {
        package: "x".into(),
        version: "2.0".into(),
        target: describe_target(&target),
        available,
    };
    insta::assert_snapshot!(format!("{err}\nhint: {}", err.hint().unwrap()), @r#"
No wheel of `x` `2.0` fits the target: CPython 3.11 (`cp311`) on linux aarch64 with glibc 2.36 (platform tags `manylinux_2_36_aarch64` down to `manylinux_2_17_aarch64`, or pure-Python `py3-none-any`)
hint: available files: x-2.0-cp311-cp311-manylinux_2_17_x86_64.whl; pick another version or another `--platform`
"#);
}
