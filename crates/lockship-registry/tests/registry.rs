//! Push and pull against the reference registry (Debian's `docker-registry`).

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use lockship_fetch::{Cache, Reporter};
use lockship_registry::{
    Blob, Client, PushOptions, Reference, RegistryError, MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_MANIFEST,
};

/// Pull everything back and check every digest.
fn verify_pulled(client: &Client, reference: &Reference, image: &lockship_oci::Image) {
    let fetched = client.fetch_manifest(reference).unwrap();
    assert_eq!(fetched.digest, image.digest());
    assert_eq!(fetched.bytes, image.manifest_json());
    let resolved = client.resolve_image(reference, &image.platform).unwrap();
    assert_eq!(resolved.layers.len(), image.layers.len());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    for (desc, layer) in resolved.layers.iter().zip(&image.layers) {
        assert_eq!(desc.digest, layer.digest);
        assert_eq!(desc.media_type, layer.media_type());
        let path = client.fetch_blob_to_cache(reference, desc, &cache).unwrap();
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(&layer.path).unwrap()
        );
    }
    let config = client.fetch_config(&resolved).unwrap();
    assert_eq!(config.env_var("PYTHON_VERSION"), Some("3.12.4"));
    assert_eq!(config.architecture, image.platform.architecture);
    assert_eq!(config.rootfs.diff_ids.len(), image.layers.len());
}

#[test]
fn push_pull_round_trip_then_second_push_uploads_nothing() {
    let Some((registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path(), "round-trip", "linux/amd64");
    let client = Client::new(options(dir.path())).unwrap();
    let target = registry.reference("team/app:1.2");

    let first = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(first.digest, image.digest());
    assert_eq!(first.uploaded_blobs, 3);
    let expected: u64 =
        image.layers.iter().map(|l| l.size).sum::<u64>() + image.config_json().len() as u64;
    assert_eq!(first.uploaded_bytes, expected);
    verify_pulled(&client, &target, &image);

    let second = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(second.digest, image.digest());
    assert_eq!(second.uploaded_bytes, 0);
    assert_eq!(second.skipped_blobs, 3);
    eprintln!(
        "first push: {} bytes in {} blobs; second push: {} bytes, {} skipped",
        first.uploaded_bytes, first.uploaded_blobs, second.uploaded_bytes, second.skipped_blobs
    );

    // By digest too.
    let by_digest = target.with_digest(&image.digest());
    assert_eq!(
        client.fetch_manifest(&by_digest).unwrap().bytes,
        image.manifest_json()
    );

    // A third-party reader agrees.
    if let Some(raw) = skopeo_manifest(&target.to_string(), None) {
        assert_eq!(sha256(&raw), image.digest());
    }

    // Not found is an error naming the reference.
    let missing = registry.reference("team/app:nope");
    let err = client.fetch_manifest(&missing).unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("team/app:nope"));
}

#[test]
fn cross_repository_mount_instead_of_upload() {
    let Some((registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path(), "mount", "linux/amd64");
    let client = Client::new(options(dir.path())).unwrap();
    let base = registry.reference("base/python:3.12");
    client
        .push_image(&image, &base, &PushOptions::default())
        .unwrap();

    let other = registry.reference("team/other:1");
    let options = PushOptions {
        mount_from: vec!["no/such-repo".into(), "base/python".into()],
    };
    let report = client.push_image(&image, &other, &options).unwrap();
    assert_eq!(report.mounted_blobs, 3, "{report:?}");
    assert_eq!(report.uploaded_bytes, 0);
    verify_pulled(&client, &other, &image);
}

#[test]
fn chunked_upload_with_tiny_chunks() {
    let Some((registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = noise(10_000, 7);
    let big = make_layer(
        dir.path(),
        &[("data.bin", &data)],
        lockship_layer::Compression::Gzip,
    );
    let image = image_with(vec![big], "linux/arm64");
    let mut opts = options(dir.path());
    opts.chunk_size = Some(1000);
    let client = Client::new(opts).unwrap();
    let target = registry.reference("chunked/app:1");
    let report = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(report.uploaded_blobs, 2);
    assert_eq!(report.digest, image.digest());
    verify_pulled(&client, &target, &image);
}

#[test]
fn multi_platform_index_matches_the_oci_output() {
    let Some((registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let images = vec![
        small_image(dir.path(), "idx", "linux/amd64"),
        small_image(dir.path(), "idx", "linux/arm64"),
    ];
    let client = Client::new(options(dir.path())).unwrap();
    let target = registry.reference("multi/app:1");
    let report = client
        .push_index(&images, &target, &PushOptions::default())
        .unwrap();
    // The base layer is shared: uploaded once, skipped once.
    assert_eq!(report.skipped_blobs, 1);
    let out: lockship_oci::Output = format!("oci:{}", dir.path().join("layout").display())
        .parse()
        .unwrap();
    let written = lockship_oci::write_index_output(&images, &out, None).unwrap();
    assert_eq!(report.digest, written.digest);
    let fetched = client.fetch_manifest(&target).unwrap();
    assert!(fetched.is_index());
    assert_eq!(fetched.digest, written.digest);
    for image in &images {
        let resolved = client.resolve_image(&target, &image.platform).unwrap();
        assert_eq!(resolved.manifest.digest, image.digest());
    }
    let err = client
        .resolve_image(&target, &lockship_oci::Platform::linux_arm_v7())
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::PlatformNotFound { .. }),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("linux/arm64"));
}

#[test]
fn docker_media_types_are_kept_when_re_pushing() {
    let Some((registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let layer = make_layer(
        dir.path(),
        &[("etc/hostname", b"x\n")],
        lockship_layer::Compression::Gzip,
    );
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PYTHON_VERSION=3.11.9"]},"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let config_blob = Blob::from_bytes(config, MEDIA_TYPE_DOCKER_CONFIG);
    let layer_blob = Blob {
        digest: layer.digest.clone(),
        size: layer.size,
        media_type: MEDIA_TYPE_DOCKER_LAYER_GZIP.into(),
        source: lockship_registry::BlobSource::File(layer.path.clone()),
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_DOCKER_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_DOCKER_CONFIG, "digest": config_blob.digest, "size": config_blob.size},
        "layers": [{"mediaType": MEDIA_TYPE_DOCKER_LAYER_GZIP, "digest": layer.digest, "size": layer.size}],
    });
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap();
    let client = Client::new(options(dir.path())).unwrap();
    let base = registry.reference("docker/base:1");
    client
        .push_manifest(
            &base,
            &[layer_blob, config_blob],
            &manifest,
            MEDIA_TYPE_DOCKER_MANIFEST,
            &PushOptions::default(),
        )
        .unwrap();

    let pulled = client
        .resolve_image(&base, &lockship_oci::Platform::linux_amd64())
        .unwrap();
    assert_eq!(pulled.manifest.media_type, MEDIA_TYPE_DOCKER_MANIFEST);
    assert_eq!(pulled.layers[0].media_type, MEDIA_TYPE_DOCKER_LAYER_GZIP);
    let config = client.fetch_config(&pulled).unwrap();
    assert_eq!(config.env_var("PYTHON_VERSION"), Some("3.11.9"));

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    for d in pulled.layers.iter().chain([&pulled.config]) {
        client.fetch_blob_to_cache(&base, d, &cache).unwrap();
    }
    let copy = registry.reference("docker/copy:1");
    let report = client
        .push_manifest(
            &copy,
            &pulled.blobs_in(&cache),
            &pulled.manifest.bytes,
            &pulled.manifest.media_type,
            &PushOptions::default(),
        )
        .unwrap();
    assert_eq!(report.digest, pulled.manifest.digest);
    let again = client.fetch_manifest(&copy).unwrap();
    assert_eq!(again.media_type, MEDIA_TYPE_DOCKER_MANIFEST);
    assert_eq!(again.bytes, manifest);
}

#[test]
fn tls_with_private_ca_and_basic_auth() {
    let Some((registry, Some(tls))) = Registry::start(true, &[("alice", "wonderland")]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path(), "tls", "linux/amd64");
    let target = registry.reference("secure/app:1");

    // Right credentials, CA given explicitly.
    let mut opts = options(dir.path());
    opts.extra_ca_pem = Some(tls.ca_pem.clone());
    opts.credentials = vec![cred(&registry.host(), "alice", "wonderland")];
    let client = Client::new(opts.clone()).unwrap();
    let report = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(report.digest, image.digest());
    verify_pulled(&client, &target, &image);
    if let Some(raw) = skopeo_manifest(&target.to_string(), Some("alice:wonderland")) {
        assert_eq!(sha256(&raw), image.digest());
    }

    // Credentials from a Docker config file.
    let config = dir.path().join("docker-config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths":{{"https://{}":{{"username":"alice","password":"wonderland"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let mut from_config = opts.clone();
    from_config.credentials = Vec::new();
    from_config.docker_config = Some(config.clone());
    let client = Client::new(from_config).unwrap();
    assert_eq!(
        client.fetch_manifest(&target).unwrap().digest,
        image.digest()
    );

    // Wrong password: the error names the registry and where credentials were looked for.
    let mut wrong = opts.clone();
    wrong.credentials = vec![cred(&registry.host(), "alice", "nope")];
    let err = Client::new(wrong)
        .unwrap()
        .push_image(&image, &target, &PushOptions::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                sent_credentials: true,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains(&registry.host()), "{msg}");
    assert!(msg.contains("explicit credentials"), "{msg}");
    assert!(err.hint().unwrap().contains("refused"));

    // No credentials anywhere.
    let mut none = opts.clone();
    none.credentials = Vec::new();
    let err = Client::new(none)
        .unwrap()
        .fetch_manifest(&target)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                sent_credentials: false,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("no-docker-config.json` (not present)"),
        "{msg}"
    );
    assert!(err.hint().unwrap().contains("needs credentials"));

    // Without the CA, TLS fails with a clear error.
    let mut no_ca = opts.clone();
    no_ca.extra_ca_pem = None;
    no_ca.insecure_registries = Vec::new();
    let err = Client::new(no_ca)
        .unwrap()
        .fetch_manifest(&target)
        .unwrap_err();
    assert!(err.to_string().contains(&registry.host()), "{err}");
}

/// Kills the registry on the first upload progress of the blob it watches.
struct KillOnUpload {
    blob: String,
    pid: Mutex<Option<u32>>,
}

impl Reporter for KillOnUpload {
    fn download_progress(&self, name: &str, _bytes: u64) {
        if name == self.blob {
            if let Some(pid) = self.pid.lock().unwrap().take() {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}

#[test]
fn registry_killed_mid_push_then_rerun_completes() {
    let Some((mut registry, _)) = Registry::start(false, &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = noise(8 * 1024 * 1024, 42);
    let big = make_layer(
        dir.path(),
        &[("big.bin", &data)],
        lockship_layer::Compression::None,
    );
    let mut image = small_image(dir.path(), "killed", "linux/amd64");
    image.layers.push(big.clone());
    let target = registry.reference("crash/app:1");
    let reporter = Arc::new(KillOnUpload {
        blob: format!("blob {}", &big.digest[7..19]),
        pid: Mutex::new(registry.pid()),
    });
    let mut opts = options(dir.path());
    opts.chunk_size = Some(1024 * 1024);
    opts.retries = 1;
    let client = Client::new(opts.clone()).unwrap().with_reporter(reporter);
    let err = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{msg}");
    assert!(msg.contains(&registry.host()), "{msg}");
    assert!(err.hint().unwrap().contains("is up and reachable"));

    registry.restart();
    let client = Client::new(opts).unwrap();
    let report = client
        .push_image(&image, &target, &PushOptions::default())
        .unwrap();
    assert_eq!(report.digest, image.digest());
    // The small blobs were stored before the crash.
    assert!(report.skipped_blobs >= 2, "{report:?}");
    verify_pulled(&client, &target, &image);
}
