//! Every output is written, then read back by the one validator.

#[path = "../src/testutil.rs"]
mod testutil;

use std::io::Read;
use std::path::{Path, PathBuf};

use lockship_layer::Compression;
use lockship_oci::{
    open_image_layers, open_platform_layers, validate, write_index_output, write_output, Image,
    OciError, Output, Platform,
};
use testutil::two_layer_image;

const TAG: &str = "lockship/python:3.11";

fn outputs(dir: &Path) -> Vec<Output> {
    vec![
        Output::OciDir(dir.join("layout")),
        Output::OciArchive(dir.join("oci.tar")),
        Output::DockerArchive(dir.join("docker.tar")),
    ]
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn tar_names(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    tar::Archive::new(file)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_output_validates() {
    for second in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let dir = tempfile::tempdir().unwrap();
        let image = two_layer_image(dir.path(), second);
        for output in outputs(dir.path()) {
            let summary = write_output(&image, &output, Some(TAG)).unwrap();
            assert_eq!(summary.path, output.path());
            assert!(summary.bytes > 0);
            let images = validate(&output).unwrap_or_else(|e| panic!("{output}: {e}"));
            assert_eq!(images.len(), 1);
            let v = &images[0];
            assert_eq!(v.manifest_digest, summary.digest, "{output}");
            assert_eq!(v.platform, Platform::linux_amd64());
            assert_eq!(v.tags, vec![TAG.to_string()], "{output}");
            assert_eq!(v.config.config.working_dir.as_deref(), Some("/app"));
            assert_eq!(v.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
            assert_eq!(v.config, image.config_document(), "{output}");
            assert_eq!(v.config_digest, image.config_digest(), "{output}");
            let diff_ids: Vec<&str> = image.layers.iter().map(|l| l.diff_id.as_str()).collect();
            let got: Vec<&str> = v.layers.iter().map(|l| l.diff_id.as_str()).collect();
            assert_eq!(got, diff_ids);
            let docker_unzstd =
                matches!(output, Output::DockerArchive(_)) && second == Compression::Zstd;
            if docker_unzstd {
                // zstd is stored uncompressed for old engines: the manifest changes.
                assert_ne!(summary.digest, image.digest());
                assert_eq!(
                    v.layers[1].media_type,
                    "application/vnd.oci.image.layer.v1.tar"
                );
                assert_eq!(v.layers[1].digest, image.layers[1].diff_id);
                assert_eq!(v.layers[1].size, image.layers[1].uncompressed_size);
            } else {
                assert_eq!(summary.digest, image.digest(), "{output}");
                assert_eq!(v.layers[1].media_type, image.layers[1].media_type());
                assert_eq!(v.layers[1].digest, image.layers[1].digest);
            }
        }
    }
}

#[test]
fn oci_layout_has_the_expected_files() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Gzip);
    let layout = dir.path().join("layout");
    write_output(&image, &Output::OciDir(layout.clone()), Some(TAG)).unwrap();
    assert_eq!(listing(&layout), ["blobs", "index.json", "oci-layout"]);
    assert_eq!(
        std::fs::read_to_string(layout.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    // config + manifest + 2 layers
    assert_eq!(listing(&layout.join("blobs/sha256")).len(), 4);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let m = &index["manifests"][0];
    assert_eq!(m["digest"], image.digest().as_str());
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], TAG);
    assert_eq!(m["platform"]["architecture"], "amd64");
}

#[test]
fn archives_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Zstd);
    for (a, b) in [
        (
            Output::OciArchive(dir.path().join("a.tar")),
            Output::OciArchive(dir.path().join("b.tar")),
        ),
        (
            Output::DockerArchive(dir.path().join("c.tar")),
            Output::DockerArchive(dir.path().join("d.tar")),
        ),
    ] {
        let sa = write_output(&image, &a, Some(TAG)).unwrap();
        let sb = write_output(&image, &b, Some(TAG)).unwrap();
        // Writing over an existing archive gives the same bytes again.
        let sa2 = write_output(&image, &a, Some(TAG)).unwrap();
        assert_eq!(sa.digest, sb.digest);
        assert_eq!(sa.digest, sa2.digest);
        assert_eq!(sa.bytes, sb.bytes);
        let bytes_a = std::fs::read(a.path()).unwrap();
        assert_eq!(bytes_a, std::fs::read(b.path()).unwrap(), "{a} vs {b}");
        assert_eq!(sa.bytes, bytes_a.len() as u64);
    }
    // Entries are sorted and owned by root with the image's mtime.
    let file = std::fs::File::open(dir.path().join("c.tar")).unwrap();
    let mut archive = tar::Archive::new(file);
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.mtime().unwrap(), image.created);
        names.push(entry.path().unwrap().to_string_lossy().into_owned());
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"manifest.json".to_string()));
    assert!(names.contains(&"index.json".to_string()));
    assert!(names.contains(&"oci-layout".to_string()));
    // No temp or scratch files are left next to the outputs.
    assert!(
        listing(dir.path()).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        listing(dir.path())
    );
}

#[test]
fn docker_archive_manifest_json_points_at_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Zstd);
    let out = Output::DockerArchive(dir.path().join("docker.tar"));
    write_output(&image, &out, Some("app")).unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(out.path()).unwrap());
    let mut manifest = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            let mut s = String::new();
            entry.read_to_string(&mut s).unwrap();
            manifest = Some(serde_json::from_str::<serde_json::Value>(&s).unwrap());
        }
    }
    let manifest = manifest.expect("manifest.json");
    let entry = &manifest[0];
    assert_eq!(entry["RepoTags"][0], "app:latest");
    assert_eq!(
        entry["Config"],
        format!("blobs/sha256/{}", &image.config_digest()[7..])
    );
    // gzip layer kept as is, zstd layer stored as its uncompressed tar.
    assert_eq!(
        entry["Layers"][0],
        format!("blobs/sha256/{}", &image.layers[0].digest[7..])
    );
    assert_eq!(
        entry["Layers"][1],
        format!("blobs/sha256/{}", &image.layers[1].diff_id[7..])
    );
    let v = validate(&out).unwrap();
    assert_eq!(v[0].tags, ["app:latest"]);
}

/// Flip one byte of a file (or, in a tar, of the entry `name`).
fn flip_byte(path: &Path, name: Option<&str>) {
    let mut bytes = std::fs::read(path).unwrap();
    let offset = match name {
        None => bytes.len() / 2,
        Some(name) => {
            let mut archive = tar::Archive::new(&bytes[..]);
            let entry = archive
                .entries()
                .unwrap()
                .map(|e| e.unwrap())
                .find(|e| e.path().unwrap().to_str() == Some(name))
                .unwrap();
            (entry.raw_file_position() + entry.size() / 2) as usize
        }
    };
    bytes[offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn tampered_blobs_fail_validation_naming_the_blob() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Gzip);
    let layer_blob = format!("blobs/sha256/{}", &image.layers[1].digest[7..]);
    let config_blob = format!("blobs/sha256/{}", &image.config_digest()[7..]);
    for output in outputs(dir.path()) {
        for blob in [&layer_blob, &config_blob] {
            write_output(&image, &output, Some(TAG)).unwrap();
            validate(&output).unwrap();
            match &output {
                Output::OciDir(layout) => {
                    // The layer blob may be a hard link to the build's file: replace, don't edit.
                    let path = layout.join(blob);
                    let copy = std::fs::read(&path).unwrap();
                    std::fs::remove_file(&path).unwrap();
                    std::fs::write(&path, copy).unwrap();
                    flip_byte(&path, None);
                }
                Output::OciArchive(p) | Output::DockerArchive(p) => flip_byte(p, Some(blob)),
            }
            let err = validate(&output).unwrap_err();
            let OciError::Invalid { what, path } = &err else {
                panic!("{output}: {err}")
            };
            assert_eq!(path, output.path());
            assert!(what.contains(blob.as_str()), "{output}: {what}");
            assert!(err.hint().is_some());
            assert!(open_image_layers(&output).is_ok() || blob == &config_blob);
        }
    }
}

#[test]
fn missing_files_fail_validation() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Gzip);
    let out = Output::OciDir(dir.path().join("layout"));
    write_output(&image, &out, None).unwrap();
    std::fs::remove_file(out.path().join("oci-layout")).unwrap();
    let err = validate(&out).unwrap_err();
    assert!(err.to_string().contains("`oci-layout` is missing"), "{err}");
    // Without `oci-layout` it is no longer a layout, so it is not replaced.
    let err = write_output(&image, &out, None).unwrap_err();
    assert!(matches!(err, OciError::OutputDirNotLayout { .. }), "{err}");

    let out = Output::OciDir(dir.path().join("layout2"));
    write_output(&image, &out, None).unwrap();
    let blob = out
        .path()
        .join(format!("blobs/sha256/{}", &image.layers[0].digest[7..]));
    std::fs::remove_file(blob).unwrap();
    let err = validate(&out).unwrap_err();
    assert!(
        err.to_string().contains(&image.layers[0].digest[7..]),
        "{err}"
    );

    let err = validate(&Output::OciArchive(dir.path().join("nope.tar"))).unwrap_err();
    assert!(matches!(err, OciError::Io { .. }), "{err}");
}

#[test]
fn unwritable_outputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Zstd);
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let before = listing(dir.path());
    for output in outputs(&file) {
        let err = write_output(&image, &output, Some(TAG)).unwrap_err();
        assert!(
            matches!(&err, OciError::OutputParentNotDir { path } if path == &file),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("`{}`", file.display())));
        assert!(err.hint().is_some());
    }
    // A missing parent directory is created, like `docker save -o out/x.tar` users expect.
    for output in outputs(&dir.path().join("missing").join("sub")) {
        write_output(&image, &output, Some(TAG)).unwrap();
        validate(&output).unwrap();
        let _ = std::fs::remove_dir_all(dir.path().join("missing"));
    }
    // A failure halfway (a layer blob vanished) leaves nothing behind either.
    let mut broken = image.clone();
    broken.layers[1].path = dir.path().join("gone.layer");
    for output in outputs(dir.path()) {
        let err = write_output(&broken, &output, Some(TAG)).unwrap_err();
        assert!(err.to_string().contains("gone.layer"), "{err}");
    }
    // A blob that changed size after the layer was built is refused.
    let mut changed = image.clone();
    changed.layers[0].size += 1;
    let err = write_output(&changed, &outputs(dir.path())[1], None).unwrap_err();
    assert!(matches!(err, OciError::LayerChanged { .. }), "{err}");
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn existing_directories_are_replaced_only_when_they_are_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Gzip);
    let precious = dir.path().join("home");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), b"keep me").unwrap();
    let err = write_output(&image, &Output::OciDir(precious.clone()), None).unwrap_err();
    assert!(matches!(err, OciError::OutputDirNotLayout { .. }), "{err}");
    assert_eq!(
        std::fs::read(precious.join("notes.txt")).unwrap(),
        b"keep me"
    );

    let layout = Output::OciDir(dir.path().join("layout"));
    write_output(&image, &layout, Some("old:1")).unwrap();
    std::fs::write(layout.path().join("stale"), b"").unwrap();
    write_output(&image, &layout, Some(TAG)).unwrap();
    assert!(!layout.path().join("stale").exists());
    assert_eq!(validate(&layout).unwrap()[0].tags, [TAG]);
    assert!(listing(dir.path()).iter().all(|n| !n.starts_with('.')));

    let err = write_output(
        &image,
        &Output::OciArchive(layout.path().to_path_buf()),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, OciError::OutputWrongKind { .. }), "{err}");
}

#[test]
fn history_must_match_layers() {
    let dir = tempfile::tempdir().unwrap();
    let mut image = two_layer_image(dir.path(), Compression::Gzip);
    image.history.retain(|h| h.empty_layer);
    let err = write_output(&image, &Output::OciDir(dir.path().join("l")), None).unwrap_err();
    assert!(
        matches!(
            err,
            OciError::HistoryMismatch {
                layers: 2,
                history: 0,
                ..
            }
        ),
        "{err}"
    );
    // No history at all is allowed.
    image.history.clear();
    let out = Output::OciDir(dir.path().join("l"));
    write_output(&image, &out, None).unwrap();
    assert!(validate(&out).unwrap()[0].tags.is_empty());
}

fn layer_file_names(reader: Box<dyn Read>) -> Vec<String> {
    tar::Archive::new(reader)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn layers_can_be_opened_from_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Zstd);
    for output in outputs(dir.path()) {
        write_output(&image, &output, None).unwrap();
        let layers = open_image_layers(&output).unwrap();
        let names: Vec<Vec<String>> = layers.into_iter().map(layer_file_names).collect();
        assert_eq!(
            names,
            vec![
                vec![
                    "usr/local/bin/python3".to_string(),
                    "etc/os-release".to_string()
                ],
                vec!["app/main.py".to_string()]
            ],
            "{output}"
        );
    }
}

fn for_platform(dir: &Path, platform: &str) -> Image {
    let mut image = two_layer_image(dir, Compression::Gzip);
    image.platform = platform.parse().unwrap();
    image
}

#[test]
fn multi_platform_index() {
    let dir = tempfile::tempdir().unwrap();
    let images = [
        for_platform(dir.path(), "linux/amd64"),
        for_platform(dir.path(), "linux/arm64"),
    ];
    for output in &outputs(dir.path())[..2] {
        let summary = write_index_output(&images, output, Some(TAG)).unwrap();
        let validated = validate(output).unwrap();
        assert_eq!(validated.len(), 2);
        assert_eq!(validated[0].platform, Platform::linux_amd64());
        assert_eq!(validated[1].platform, Platform::linux_arm64());
        assert_eq!(validated[0].manifest_digest, images[0].digest());
        assert_eq!(validated[1].manifest_digest, images[1].digest());
        assert!(validated.iter().all(|v| v.tags == [TAG]));
        assert_ne!(summary.digest, images[0].digest());

        let err = open_image_layers(output).err().unwrap();
        assert!(
            matches!(err, OciError::MultiPlatform { count: 2, .. }),
            "{err}"
        );
        let arm = open_platform_layers(output, &Platform::linux_arm64()).unwrap();
        assert_eq!(arm.len(), 2);
        let err = open_platform_layers(output, &Platform::linux_arm_v7())
            .err()
            .unwrap();
        assert!(err.to_string().contains("`linux/arm/v7`"), "{err}");
    }
    let again = write_index_output(&images, &outputs(dir.path())[1], Some(TAG)).unwrap();
    let first = std::fs::read(again.path.clone()).unwrap();
    write_index_output(
        &images,
        &Output::OciArchive(dir.path().join("again.tar")),
        Some(TAG),
    )
    .unwrap();
    assert_eq!(first, std::fs::read(dir.path().join("again.tar")).unwrap());

    let docker = &outputs(dir.path())[2];
    let err = write_index_output(&images, docker, Some(TAG)).unwrap_err();
    assert!(
        matches!(err, OciError::DockerArchiveMultiPlatform { count: 2, .. }),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("oci:"));
    // One image is fine for docker-archive.
    write_index_output(&images[..1], docker, Some(TAG)).unwrap();
    assert_eq!(validate(docker).unwrap().len(), 1);

    let dup = [images[0].clone(), images[0].clone()];
    let err = write_index_output(&dup, &outputs(dir.path())[0], None).unwrap_err();
    assert!(matches!(err, OciError::DuplicatePlatform { .. }), "{err}");
    let err = write_index_output(&[], &outputs(dir.path())[0], None).unwrap_err();
    assert!(matches!(err, OciError::NoImages { .. }), "{err}");
}

#[test]
fn oci_archive_is_exactly_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let image = two_layer_image(dir.path(), Compression::Gzip);
    let layout = dir.path().join("layout");
    write_output(&image, &Output::OciDir(layout.clone()), Some(TAG)).unwrap();
    let archive = dir.path().join("oci.tar");
    write_output(&image, &Output::OciArchive(archive.clone()), Some(TAG)).unwrap();
    let mut in_dir: Vec<PathBuf> = Vec::new();
    for e in walkdir(&layout) {
        in_dir.push(e.strip_prefix(&layout).unwrap().to_path_buf());
    }
    let mut in_tar: Vec<PathBuf> = tar_names(&archive)
        .into_iter()
        .filter(|n| !n.ends_with('/'))
        .map(PathBuf::from)
        .collect();
    in_dir.sort();
    in_tar.sort();
    assert_eq!(in_dir, in_tar);
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// An image of uncompressed layers only (so its bytes depend on no compressor), for `platform`.
fn plain_image(dir: &Path, platform: &str) -> Image {
    let mut image = two_layer_image(dir, Compression::None);
    image.layers[0] = testutil::make_layer(
        dir,
        &[("usr/local/bin/python3", b"#!/bin/false\n")],
        Compression::None,
    );
    image.platform = platform.parse().unwrap();
    image
        .annotations
        .insert("org.opencontainers.image.source".into(), "app".into());
    image
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
    )
}

/// The bytes of every document lockship writes are part of some digest: they are pinned
/// here, so a change of the OCI model that reorders a field or writes an empty one shows.
#[test]
fn written_documents_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let amd64 = plain_image(dir.path(), "linux/amd64");
    let arm = plain_image(dir.path(), "linux/arm/v7");
    let single = Output::OciDir(dir.path().join("single"));
    write_output(&amd64, &single, Some(TAG)).unwrap();
    let docker = Output::DockerArchive(dir.path().join("docker.tar"));
    write_output(&amd64, &docker, Some(TAG)).unwrap();
    let multi = Output::OciDir(dir.path().join("multi"));
    let summary = write_index_output(&[amd64.clone(), arm.clone()], &multi, Some(TAG)).unwrap();
    let got = [
        ("config", amd64.config_digest()),
        ("manifest", amd64.digest()),
        ("arm manifest", arm.digest()),
        ("index blob", summary.digest),
        (
            "single index.json",
            sha256_of(&dir.path().join("single/index.json")),
        ),
        (
            "multi index.json",
            sha256_of(&dir.path().join("multi/index.json")),
        ),
        ("docker-archive", sha256_of(&dir.path().join("docker.tar"))),
    ];
    let expected = [
        (
            "config",
            "sha256:83e17d84cdfe45fac1814c43226a18666b2bbf7b3d0574d0335ae9169d3b2992",
        ),
        (
            "manifest",
            "sha256:731337b250d765904ed051c711293092d8d21a479d5657b1f3ae00e978b4b5f5",
        ),
        (
            "arm manifest",
            "sha256:9be897e95befa151b9ca99a61295188f85431ec239c69c1b1c053d0b3e3533c1",
        ),
        (
            "index blob",
            "sha256:f94a4a5fd5e253ebefcfdd89b45199f2204d9be9baf6e0454bfddc070dc7507b",
        ),
        (
            "single index.json",
            "sha256:a13a566022de4a40a18e7fe42cf2a569f82a03c8ab5932b62bca5a8294e590cb",
        ),
        (
            "multi index.json",
            "sha256:4e47b427f0600ec89c57d021d1663b000587ed9116744358caa7d85dafc0475d",
        ),
        (
            "docker-archive",
            "sha256:83b6c62b15d2f9d1cd9ba29193fb677c1b8968b02910bad737474a447a7396ff",
        ),
    ];
    assert_eq!(got.len(), expected.len());
    for ((what, digest), (_, want)) in got.iter().zip(expected) {
        assert_eq!(digest, want, "{what}");
    }
}
