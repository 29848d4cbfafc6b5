//! Installs a generated 2000-file wheel and reports the time per install.
//! Run with `cargo bench -p lockship-wheel`.

use std::io::Write;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lockship_wheel::{install_wheel, write_venv_skeleton, VenvLayout};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

const FILES: usize = 2000;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wheel = dir.path().join("big-1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).expect("create wheel"));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut record = String::new();
    let mut add = |zip: &mut zip::ZipWriter<std::fs::File>, name: String, content: Vec<u8>| {
        zip.start_file(name.as_str(), options).expect("start file");
        zip.write_all(&content).expect("write");
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            URL_SAFE_NO_PAD.encode(Sha256::digest(&content)),
            content.len()
        ));
    };
    for i in 0..FILES {
        let content = format!("VALUE_{i} = {}\n", "x".repeat(i % 700)).into_bytes();
        add(&mut zip, format!("big/mod{}/m{i}.py", i % 40), content);
    }
    add(
        &mut zip,
        "big-1.0.dist-info/METADATA".into(),
        b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n".to_vec(),
    );
    add(
        &mut zip,
        "big-1.0.dist-info/WHEEL".into(),
        b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n".to_vec(),
    );
    record.push_str("big-1.0.dist-info/RECORD,,\n");
    zip.start_file("big-1.0.dist-info/RECORD", options)
        .expect("start RECORD");
    zip.write_all(record.as_bytes()).expect("write RECORD");
    zip.finish().expect("finish zip");

    let rounds = 10;
    let start = Instant::now();
    for round in 0..rounds {
        let venv = VenvLayout {
            root: dir.path().join(format!("stage{round}")),
            prefix: "/opt/venv".into(),
            python: "/usr/bin/python3.11".into(),
            python_version: (3, 11),
            python_full_version: None,
        };
        write_venv_skeleton(&venv).expect("skeleton");
        let installed = install_wheel(&wheel, &venv).expect("install");
        assert_eq!(installed.files.len(), FILES + 4);
    }
    let per = start.elapsed() / rounds;
    println!("install of a {FILES}-file wheel: {per:?} per install ({rounds} rounds)");
}
