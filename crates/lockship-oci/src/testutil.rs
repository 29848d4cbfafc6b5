//! Test helpers: small real layers and images. Used by unit tests and (through `#[path]`)
//! by the integration tests, so only public APIs are used here.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use lockship_layer::{Compression, Layer};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Write a layer blob holding `files` (path, contents) into `dir` and describe it.
pub fn make_layer(dir: &Path, files: &[(&str, &[u8])], compression: Compression) -> Layer {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o755);
        header.set_mtime(1_700_000_000);
        header.set_uid(0);
        header.set_gid(0);
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
        Compression::Zstd => zstd::encode_all(&tar[..], 3).unwrap(),
        Compression::None => tar.clone(),
    };
    let digest = sha256(&blob);
    let path = dir.join(format!("{}.layer", &digest[7..19]));
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

/// An image with two small layers (gzip, then `second`) stored in `dir`.
pub fn two_layer_image(dir: &Path, second: Compression) -> lockship_oci::Image {
    let base = make_layer(
        dir,
        &[
            ("usr/local/bin/python3", b"#!/bin/false\n"),
            ("etc/os-release", b"ID=lockship\n"),
        ],
        Compression::Gzip,
    );
    let app = make_layer(dir, &[("app/main.py", b"print('hi')\n")], second);
    lockship_oci::Image {
        platform: "linux/amd64".parse().unwrap(),
        config: lockship_oci::ImageConfig {
            user: Some("65532".into()),
            env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
            entrypoint: Some(vec!["/usr/local/bin/python3".into()]),
            cmd: Some(vec!["/app/main.py".into()]),
            working_dir: Some("/app".into()),
            labels: BTreeMap::from([("org.opencontainers.image.title".into(), "test".into())]),
            exposed_ports: ["8000/tcp".to_string()].into(),
            stop_signal: None,
        },
        layers: vec![base, app],
        history: vec![
            lockship_oci::History::layer("lockship: base"),
            lockship_oci::History::empty("lockship: config"),
            lockship_oci::History::layer("lockship: app"),
        ],
        created: 1_700_000_000,
        annotations: BTreeMap::new(),
    }
}
