use std::path::Path;

use lockship_fetch::{Cache, Fetcher, NoReporter};
use lockship_layer::Compression;
use lockship_runtime::{BaseOptions, PythonRuntime};

use super::*;

/// A copy of `examples/fastapi-app` (its poetry.lock loads offline).
fn project() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fastapi-app");
    let dir = tempfile::tempdir().unwrap();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        let dest = dir.path().join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
    dir
}

fn options(dir: &Path) -> BuildOptions {
    let base = BaseOptions::new(
        PythonRuntime::lookup("3.11").unwrap(),
        "linux/amd64".parse().unwrap(),
        url::Url::parse("http://127.0.0.1:9/debian").unwrap(),
    );
    BuildOptions::new(dir.to_path_buf(), base)
}

fn key_of(options: &BuildOptions) -> String {
    let platforms = [options.base.platform.clone()];
    key(&NoopInputs {
        options,
        platforms: &platforms,
        base_image: None,
    })
    .expect("the project loads")
}

#[test]
fn the_key_follows_the_code_and_the_options_but_not_what_the_layer_leaves_out() {
    let dir = project();
    let options = options(dir.path());
    let first = key_of(&options);
    assert_eq!(key_of(&options), first, "the key is stable");

    // What the project layer leaves out (lockship's own exclusions and
    // `.dockerignore`) does not count.
    let cache = dir.path().join("src/__pycache__");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("x.pyc"), b"junk").unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/test_new.py"), b"pass\n").unwrap();
    assert_eq!(key_of(&options), first);

    // One byte of code does.
    let module = walkdir::WalkDir::new(dir.path().join("src"))
        .into_iter()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "py"))
        .unwrap()
        .into_path();
    let mut code = std::fs::read(&module).unwrap();
    code.extend_from_slice(b"\n# changed\n");
    std::fs::write(&module, code).unwrap();
    let changed = key_of(&options);
    assert_ne!(changed, first);

    // So do the options and the platforms.
    let mut other = options.clone();
    other.compile = false;
    assert_ne!(key_of(&other), changed);
    let mut other = options.clone();
    other.base.compression = Compression::Zstd;
    assert_ne!(key_of(&other), changed);
    let platforms = [
        "linux/amd64".parse().unwrap(),
        "linux/arm64".parse().unwrap(),
    ];
    let both = key(&NoopInputs {
        options: &options,
        platforms: &platforms,
        base_image: None,
    });
    assert_ne!(both.as_deref(), Some(changed.as_str()));

    // `.dockerignore` counts even when it leaves itself out.
    std::fs::write(dir.path().join(".dockerignore"), b"tests\n.dockerignore\n").unwrap();
    assert_ne!(key_of(&options), changed);
}

#[test]
fn a_project_that_does_not_load_has_no_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), b"[project\n").unwrap();
    let options = options(dir.path());
    let platforms = [options.base.platform.clone()];
    let inputs = NoopInputs {
        options: &options,
        platforms: &platforms,
        base_image: None,
    };
    assert_eq!(key(&inputs), None);
}

/// A one-layer image whose blob is a file in `dir`.
fn image(dir: &Path) -> Image {
    let blob = dir.join("blob");
    std::fs::write(&blob, b"layer bytes").unwrap();
    Image {
        platform: "linux/amd64".parse().unwrap(),
        config: ImageConfig {
            user: Some("65532".into()),
            env: vec!["PATH=/usr/bin".into()],
            entrypoint: Some(vec!["app".into()]),
            exposed_ports: ["8000/tcp".to_string()].into(),
            ..Default::default()
        },
        layers: vec![Layer {
            path: blob,
            digest: format!("sha256:{}", "a".repeat(64)),
            diff_id: format!("sha256:{}", "b".repeat(64)),
            size: 11,
            uncompressed_size: 20,
            compression: Compression::Gzip,
        }],
        history: vec![History::layer("lockship: the project")],
        created: 1,
        annotations: [("k".to_string(), "v".to_string())].into(),
    }
}

#[test]
fn a_record_gives_back_the_same_image_until_a_blob_changes_or_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let fetcher = Fetcher::new(Default::default()).unwrap();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let image = image(dir.path());
    let key = "k".repeat(64);
    assert!(lookup::<String>(&ctx, &key).is_none());
    record(
        &ctx,
        &key,
        std::slice::from_ref(&image),
        &"summary".to_string(),
    )
    .unwrap();
    let hit = lookup::<String>(&ctx, &key).expect("a hit");
    assert_eq!(hit.images, vec![image.clone()]);
    assert_eq!(hit.images[0].digest(), image.digest());
    assert_eq!(hit.extra, "summary");

    // A blob of another size: a miss.
    std::fs::write(&image.layers[0].path, b"other").unwrap();
    assert!(lookup::<String>(&ctx, &key).is_none());
    std::fs::write(&image.layers[0].path, b"layer bytes").unwrap();
    assert!(lookup::<String>(&ctx, &key).is_some());

    // Older than the TTL: a miss.
    let path = record_path(&ctx, &key);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let old = SystemTime::now() - RECORD_TTL - Duration::from_secs(60);
    json["created"] = old.duration_since(UNIX_EPOCH).unwrap().as_secs().into();
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    assert!(lookup::<String>(&ctx, &key).is_none());
}
