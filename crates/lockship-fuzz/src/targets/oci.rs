//! OCI images on disk, as a `--base-image` from `oci:`, `oci-archive:` or
//! `docker-archive:` is read: `index.json`, manifests, configs, the
//! archives around them, and `docker save`'s `manifest.json`.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use lockship_layer::{write_layer, Compression, LayerOptions};
use lockship_oci::{
    open_image_layers, read_platform_image, validate, write_output, History, Image, ImageConfig,
    Output, Platform, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};

use super::{digest, Scratch};

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Decompressed bytes read from all layers of one run, at most.
const READ_CAP: u64 = 16 * 1024 * 1024;

/// A small image made by lockship itself, in every form the targets need.
struct Fixture {
    index: Vec<u8>,
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    oci_archive: Vec<u8>,
    docker_archive: Vec<u8>,
    legacy_docker: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let scratch = Scratch::new();
    let tree = scratch.dir("tree");
    std::fs::create_dir_all(tree.join("app")).expect("a fixture tree");
    std::fs::write(tree.join("app/main.py"), b"print('fuzz')\n").expect("a fixture tree");
    std::os::unix::fs::symlink("main.py", tree.join("app/run.py")).expect("a fixture tree");
    let layer = write_layer(
        &tree,
        &LayerOptions::new(Compression::None, 0),
        &scratch.dir("blobs"),
    )
    .expect("the fixture layer");
    let image = Image {
        platform: Platform::linux_amd64(),
        config: ImageConfig {
            env: vec!["PATH=/usr/bin".into(), "PYTHON_VERSION=3.11.9".into()],
            entrypoint: Some(vec!["python3".into()]),
            working_dir: Some("/app".into()),
            ..ImageConfig::default()
        },
        layers: vec![layer.clone()],
        history: vec![History::layer("fuzz")],
        created: 0,
        annotations: BTreeMap::new(),
    };
    let write = |output: Output| {
        write_output(&image, &output, Some("fuzz:1")).expect("the fixture image");
        output
    };
    let dir = write(Output::OciDir(scratch.path().join("layout")));
    let oci_archive = write(Output::OciArchive(scratch.path().join("image.tar")));
    let docker_archive = write(Output::DockerArchive(scratch.path().join("docker.tar")));
    let read = |p: &std::path::Path| std::fs::read(p).expect("the fixture image");
    let layer_bytes = read(&layer.path);
    let config = image.config_json();
    let legacy_docker = super::tar_of(&[
        super::TarItem::File(
            "manifest.json",
            format!(
                r#"[{{"Config":"config.json","RepoTags":["fuzz:1"],"Layers":["{}/layer.tar"]}}]"#,
                layer.digest_hex()
            )
            .as_bytes(),
            0o644,
        ),
        super::TarItem::File("config.json", &config, 0o644),
        super::TarItem::File(
            &format!("{}/layer.tar", layer.digest_hex()),
            &layer_bytes,
            0o644,
        ),
    ]);
    Fixture {
        index: read(&dir.path().join("index.json")),
        manifest: image.manifest_json(),
        config,
        layer: layer_bytes,
        oci_archive: read(oci_archive.path()),
        docker_archive: read(docker_archive.path()),
        legacy_docker,
    }
}

/// Reads an output back the ways a build does: the validator, the platform
/// image with its layer readers, and the decompressed layers.
fn read_back(output: &Output) {
    let _ = validate(output);
    if let Ok((_, readers)) = read_platform_image(output, &Platform::linux_amd64()) {
        drain(readers);
    }
    if let Ok(readers) = open_image_layers(output) {
        drain(readers);
    }
}

fn drain(readers: Vec<Box<dyn Read>>) {
    let mut left = READ_CAP;
    for reader in readers {
        match std::io::copy(&mut reader.take(left), &mut std::io::sink()) {
            Ok(n) => left -= n.min(left),
            Err(_) => return,
        }
    }
}

/// An OCI layout directory holding `oci-layout`, `index.json` and `blobs`.
fn layout(scratch: &Scratch, index: &[u8], blobs: &[&[u8]]) -> Output {
    scratch.file("layout/oci-layout", OCI_LAYOUT);
    scratch.file("layout/index.json", index);
    for blob in blobs {
        let hex = digest(blob);
        let hex = hex.trim_start_matches("sha256:");
        scratch.file(&format!("layout/blobs/sha256/{hex}"), blob);
    }
    Output::OciDir(scratch.path().join("layout"))
}

fn descriptor(media_type: &str, bytes: &[u8], platform: bool) -> String {
    let platform = if platform {
        r#","platform":{"architecture":"amd64","os":"linux"}"#
    } else {
        ""
    };
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{}","size":{}{platform}}}"#,
        digest(bytes),
        bytes.len()
    )
}

/// An `index.json`, over the fixture's manifest, config and layer.
pub fn oci_index(data: &[u8]) {
    let f = fixture();
    let scratch = Scratch::new();
    let output = layout(&scratch, data, &[&f.manifest, &f.config, &f.layer]);
    read_back(&output);
}

/// An image manifest, with the fixture's config and layer.
pub fn oci_manifest(data: &[u8]) {
    let f = fixture();
    let scratch = Scratch::new();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[{}]}}"#,
        descriptor(MEDIA_TYPE_MANIFEST, data, true)
    );
    let output = layout(&scratch, index.as_bytes(), &[data, &f.config, &f.layer]);
    read_back(&output);
}

/// An image config, with the fixture's layer.
pub fn oci_config(data: &[u8]) {
    let f = fixture();
    let scratch = Scratch::new();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_MANIFEST}","config":{},"layers":[{}]}}"#,
        descriptor(MEDIA_TYPE_CONFIG, data, false),
        descriptor(LAYER_TAR, &f.layer, false)
    );
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[{}]}}"#,
        descriptor(MEDIA_TYPE_MANIFEST, manifest.as_bytes(), true)
    );
    let output = layout(
        &scratch,
        index.as_bytes(),
        &[manifest.as_bytes(), data, &f.layer],
    );
    read_back(&output);
}

/// An `oci-archive:` file (a tar of a layout).
pub fn oci_archive(data: &[u8]) {
    let scratch = Scratch::new();
    let output = Output::OciArchive(scratch.file("image.tar", data));
    read_back(&output);
}

/// A `docker-archive:` file: Docker 25's OCI layout with `manifest.json`, or
/// an older `docker save` with `manifest.json` only.
pub fn docker_archive(data: &[u8]) {
    let scratch = Scratch::new();
    let output = Output::DockerArchive(scratch.file("docker.tar", data));
    read_back(&output);
}

pub(crate) fn index_seeds() -> Vec<Vec<u8>> {
    vec![fixture().index.clone()]
}

pub(crate) fn manifest_seeds() -> Vec<Vec<u8>> {
    vec![fixture().manifest.clone()]
}

pub(crate) fn config_seeds() -> Vec<Vec<u8>> {
    vec![fixture().config.clone()]
}

pub(crate) fn archive_seeds() -> Vec<Vec<u8>> {
    vec![fixture().oci_archive.clone()]
}

pub(crate) fn docker_seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    vec![f.docker_archive.clone(), f.legacy_docker.clone()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_images_validate() {
        let f = fixture();
        let scratch = Scratch::new();
        let checks = [
            layout(&scratch, &f.index, &[&f.manifest, &f.config, &f.layer]),
            Output::OciArchive(scratch.file("a.tar", &f.oci_archive)),
            Output::DockerArchive(scratch.file("d.tar", &f.docker_archive)),
        ];
        for output in &checks {
            let images = validate(output).unwrap_or_else(|e| panic!("{output}: {e}"));
            assert_eq!(images.len(), 1);
        }
        let legacy = Output::DockerArchive(scratch.file("legacy.tar", &f.legacy_docker));
        let (image, _) = read_platform_image(&legacy, &Platform::linux_amd64()).unwrap();
        assert_eq!(image.layers.len(), 1);
    }
}
