//! Regression tests for issue 12, finding 10 (download parts) and the
//! download side of finding 4: a lock's URL and size are outside input.
//!
//! Each test crafts its hostile source at test time (an endless HTTP body
//! on 127.0.0.1, a `file://` URL to a device or through a symlink out of
//! the project) and checks that the download is refused while streaming,
//! that nothing is left in the cache, and that a canary directory beside
//! the project is untouched.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lockship_fetch::{sha256_hex, Cache, Download, FetchError, FetchOptions, Fetcher, NoReporter};
use url::Url;

fn fetcher(max_download_bytes: u64) -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 1,
        backoff: Duration::from_millis(10),
        max_download_bytes,
        ..FetchOptions::default()
    })
    .unwrap()
}

/// A project, a cache and a canary directory, side by side.
struct Scene {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    canary: PathBuf,
    cache: Cache,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        let canary = tmp.path().join("canary");
        fs_err::create_dir_all(&project).unwrap();
        fs_err::create_dir_all(&canary).unwrap();
        fs_err::write(canary.join("keep"), b"canary").unwrap();
        let cache = Cache::open(tmp.path().join("cache")).unwrap();
        Scene {
            _tmp: tmp,
            project,
            canary,
            cache,
        }
    }

    /// Nothing was stored, no temporary file was left, the canary holds
    /// what it held, and nothing appeared beside the project.
    fn assert_clean(&self) {
        for sub in ["sha256", "tmp"] {
            let left: Vec<_> = fs_err::read_dir(self.cache.root().join(sub))
                .unwrap()
                .collect();
            assert!(left.is_empty(), "cache/{sub} holds {left:?}");
        }
        let canary: Vec<_> = fs_err::read_dir(&self.canary)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(canary, ["keep"]);
        assert_eq!(fs_err::read(self.canary.join("keep")).unwrap(), b"canary");
        let mut beside: Vec<_> = fs_err::read_dir(self.project.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert_eq!(beside, ["cache", "canary", "project"]);
    }

    fn roots(&self) -> Vec<PathBuf> {
        vec![self.project.clone()]
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with an endless
/// body (no `Content-Length`), or with `content_length` announced. Returns
/// its URL and a counter of the body bytes it managed to send.
fn endless_server(content_length: Option<u64>) -> (Url, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = match content_length {
                    Some(n) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
                    ),
                    None => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string(),
                };
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![0u8; 64 * 1024];
                // Stop on our own after 1 GiB so a failing test ends.
                for _ in 0..(1 << 14) {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
            });
        }
    });
    let url = Url::parse(&format!("http://127.0.0.1:{port}/files/evil-1.0.tar.gz")).unwrap();
    (url, sent)
}

fn any_sha() -> String {
    "ab".repeat(32)
}

#[test]
fn hostile_lock_file_url_dev_zero_is_refused() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    let zero = Url::parse("file:///dev/zero").unwrap();
    let sha = any_sha();
    let roots = scene.roots();
    // From a lock: outside the project.
    let err = fetcher
        .download(
            &Download {
                expected_size: Some(18000),
                allowed_file_roots: Some(&roots),
                ..Download::new(&zero, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::FileUrlOutside { .. }), "{err:?}");
    let text = err
        .to_string()
        .replace(&scene.project.display().to_string(), "[project]");
    let real_project = std::fs::canonicalize(&scene.project).unwrap();
    let text = text.replace(&real_project.display().to_string(), "[project]");
    assert_eq!(
        text,
        "`file:///dev/zero` points to `/dev/zero`, outside the directories `file://` URLs may read (`[project]`)"
    );
    assert_eq!(
        err.hint().as_deref(),
        Some("a lock may only read local files inside the project; pass `--allow-file-urls DIR` to allow another directory")
    );
    // Even where any file is allowed, and with no size: a device is refused
    // before a byte is read.
    let err = fetcher
        .fetch_to_cache(&zero, &sha, &scene.cache, &NoReporter)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`file:///dev/zero` points to `/dev/zero`, which is not a regular file"
    );
    // A symlink inside the project that leads to the device, or to a file
    // outside the project, is resolved before the check.
    std::os::unix::fs::symlink("/dev/zero", scene.project.join("zero.tar.gz")).unwrap();
    let secret = scene.canary.join("keep");
    std::os::unix::fs::symlink(&secret, scene.project.join("evil-1.0.tar.gz")).unwrap();
    for link in ["zero.tar.gz", "evil-1.0.tar.gz"] {
        let url = Url::from_file_path(scene.project.join(link)).unwrap();
        let err = fetcher
            .download(
                &Download {
                    allowed_file_roots: Some(&roots),
                    ..Download::new(&url, &sha)
                },
                &scene.cache,
                &NoReporter,
            )
            .unwrap_err();
        assert!(
            matches!(err, FetchError::FileUrlOutside { .. }),
            "{link}: {err:?}"
        );
    }
    // A directory named by a file URL is not a regular file either.
    let dir = Url::from_directory_path(&scene.project).unwrap();
    let err = fetcher
        .download(
            &Download {
                allowed_file_roots: Some(&roots),
                ..Download::new(&dir, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::NotRegularFile { .. }), "{err:?}");
    scene.assert_clean();
}

#[test]
fn file_url_inside_the_project_or_a_named_root_is_read() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    let body = b"an sdist".to_vec();
    let sha = sha256_hex(&body);
    let wheels = scene.project.join("wheels");
    fs_err::create_dir_all(&wheels).unwrap();
    fs_err::write(wheels.join("a-1.0.tar.gz"), &body).unwrap();
    let url = Url::from_file_path(wheels.join("a-1.0.tar.gz")).unwrap();
    let roots = scene.roots();
    let path = fetcher
        .download(
            &Download {
                expected_size: Some(body.len() as u64),
                allowed_file_roots: Some(&roots),
                ..Download::new(&url, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap();
    assert_eq!(fs_err::read(path).unwrap(), body);
    // A directory the user names (`--allow-file-urls DIR`) works the same.
    let other = scene.canary.join("keep");
    let url = Url::from_file_path(&other).unwrap();
    let sha = sha256_hex(b"canary");
    let named = vec![scene.canary.clone()];
    fetcher
        .download(
            &Download {
                allowed_file_roots: Some(&named),
                ..Download::new(&url, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap();
}

#[test]
fn hostile_download_longer_than_declared_size_stops_while_streaming() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    let (url, sent) = endless_server(None);
    let sha = any_sha();
    let err = fetcher
        .download(
            &Download {
                expected_size: Some(18000),
                ..Download::new(&url, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        format!("`{url}` sent more than the 18000 bytes its lock or index declares; the download was stopped")
    );
    assert!(err.hint().unwrap().contains("regenerate the lock"));
    // The client stopped reading: the server could only fill the socket
    // buffers, far from the gigabyte it would have sent.
    std::thread::sleep(Duration::from_millis(300));
    let n = sent.load(Ordering::SeqCst);
    assert!(n < 64 << 20, "the server sent {n} bytes");
    scene.assert_clean();
}

#[test]
fn hostile_download_announcing_more_than_declared_is_refused_before_reading() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    let (url, _) = endless_server(Some(1 << 30));
    let sha = any_sha();
    let err = fetcher
        .download(
            &Download {
                expected_size: Some(18000),
                ..Download::new(&url, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::TooLarge {
                limit: 18000,
                declared: true,
                ..
            }
        ),
        "{err:?}"
    );
    scene.assert_clean();
}

#[test]
fn hostile_download_without_size_is_capped() {
    let scene = Scene::new();
    let fetcher = fetcher(1 << 20);
    let (url, _) = endless_server(None);
    let err = fetcher
        .fetch_to_cache(&url, &any_sha(), &scene.cache, &NoReporter)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{url}` sent more than the 1048576 bytes allowed for a download of unknown size; the download was stopped")
    );
    let err = fetcher.get_bytes(&url).unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::TooLarge {
                declared: false,
                ..
            }
        ),
        "{err:?}"
    );
    scene.assert_clean();
}

#[test]
fn hostile_download_of_wrong_size_is_refused() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    let body = b"0123456789".to_vec();
    let sha = sha256_hex(&body);
    let file = scene.project.join("a-1.0.tar.gz");
    fs_err::write(&file, &body).unwrap();
    let url = Url::from_file_path(&file).unwrap();
    let roots = scene.roots();
    let fetch = |size| {
        fetcher.download(
            &Download {
                expected_size: Some(size),
                allowed_file_roots: Some(&roots),
                ..Download::new(&url, &sha)
            },
            &scene.cache,
            &NoReporter,
        )
    };
    // Shorter than declared: the hash matches, the size does not.
    let err = fetch(11).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{url}` is 10 bytes, but its lock or index declares 11")
    );
    // Longer than declared: refused from the file's size.
    let err = fetch(9).unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 9, .. }),
        "{err:?}"
    );
    scene.assert_clean();
    fetch(10).unwrap();
}

#[test]
fn hostile_digest_or_url_name_never_becomes_a_path_outside_the_cache() {
    let scene = Scene::new();
    let fetcher = fetcher(lockship_fetch::DEFAULT_MAX_DOWNLOAD_BYTES);
    // A "hash" that is a path would make the cache entry a host path.
    let evil = format!("../../{}/evil", scene.canary.display());
    let body = b"x".to_vec();
    let file = scene.project.join("x-1.0.tar.gz");
    fs_err::write(&file, &body).unwrap();
    let url = Url::from_file_path(&file).unwrap();
    let err = fetcher
        .fetch_to_cache(&url, &evil, &scene.cache, &NoReporter)
        .unwrap_err();
    assert!(matches!(err, FetchError::BadSha256 { .. }), "{err:?}");
    assert!(err
        .to_string()
        .ends_with("is not a SHA-256 (64 hex digits)"));
    // A URL whose last segment spells a path lands under its hash only.
    let (server, _) = endless_server(Some(1));
    let hostile = server
        .join(&format!("/..%2F..%2F{}%2Fevil", scene.canary.display()))
        .unwrap();
    let _ = fetcher.download(
        &Download {
            expected_size: Some(1),
            ..Download::new(&hostile, &any_sha())
        },
        &scene.cache,
        &NoReporter,
    );
    scene.assert_clean();
    // File names from outside are checked before anyone joins them.
    let abs = scene.canary.join("evil").display().to_string();
    for bad in [abs.as_str(), "../evil-1.0.tar.gz", "..", "", "a\0b.whl"] {
        let err = lockship_fetch::check_dist_filename(bad).unwrap_err();
        assert!(matches!(err, FetchError::UnsafeFileName { .. }), "{bad:?}");
    }
}
