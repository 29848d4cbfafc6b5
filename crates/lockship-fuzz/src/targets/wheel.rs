//! Wheels and index pages: file names, `RECORD`, the zip archive and its
//! installation, simple-API pages (PEP 691 JSON, PEP 503 HTML).

use std::io::{Cursor, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lockship_wheel::{
    install_wheel, parse_html_page, parse_json_page, InstalledDist, VenvLayout, WheelError,
    WheelFilename,
};
use url::Url;
use zip::write::SimpleFileOptions;

use super::{text, Scratch};

/// A wheel's file name (PEP 427, with PEP 425/600/656 tags).
pub fn wheel_filename(data: &[u8]) {
    if let Ok(name) = WheelFilename::parse(&text(data)) {
        let _ = name.tags().count();
        let _ = name.build_number();
    }
}

/// A wheel's `RECORD` file.
pub fn wheel_record(data: &[u8]) {
    let _ = lockship_wheel::fuzzing::parse_record(&text(data));
}

/// A wheel archive, installed into a fresh staged virtualenv: the zip
/// container, `WHEEL`, `METADATA`, `RECORD`, `entry_points.txt`, `.data`.
pub fn wheel_zip(data: &[u8]) {
    let scratch = Scratch::new();
    let _ = install_in(&scratch, data);
}

/// Installs the wheel `data` into a staged virtualenv under `scratch`.
fn install_in(scratch: &Scratch, data: &[u8]) -> Result<InstalledDist, WheelError> {
    let wheel = scratch.file("fuzz-1.0-py3-none-any.whl", data);
    let venv = VenvLayout {
        root: scratch.dir("root"),
        prefix: "/opt/venv".into(),
        python: "/usr/bin/python3.11".into(),
        python_version: (3, 11),
        python_full_version: Some("3.11.2".into()),
    };
    install_wheel(&wheel, &venv)
}

fn page_url() -> Url {
    Url::parse("http://127.0.0.1:1/simple/fuzz/").expect("a valid URL")
}

/// A PEP 691 JSON project page.
pub fn index_json(data: &[u8]) {
    let _ = parse_json_page(data, &page_url());
}

/// A PEP 503 HTML project page.
pub fn index_html(data: &[u8]) {
    let _ = parse_html_page(&text(data), &page_url());
}

// ---------------------------------------------------------------------------------------------
// Generated seeds.

enum Member<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
}

/// Wheels built here, each with a `RECORD` that matches: a pure package
/// with a console script, `.data` scripts and headers, and a symlink.
pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let wheel = b"Wheel-Version: 1.0\nGenerator: fuzz\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let metadata = b"Metadata-Version: 2.1\nName: fuzz\nVersion: 1.0\n";
    let entry_points = b"[console_scripts]\nfuzz = fuzz.cli:main\nfuzz-gui = fuzz:run [extra]\n";
    vec![
        zip_of(
            &[
                Member::File("fuzz/__init__.py", b"def run():\n    pass\n"),
                Member::File("fuzz/cli.py", b"def main():\n    return 0\n"),
                Member::File("fuzz-1.0.dist-info/WHEEL", wheel),
                Member::File("fuzz-1.0.dist-info/METADATA", metadata),
                Member::File("fuzz-1.0.dist-info/entry_points.txt", entry_points),
            ],
            zip::CompressionMethod::Stored,
        ),
        zip_of(
            &[
                Member::File("fuzz/__init__.py", b""),
                Member::File("fuzz/data.bin", &[0u8; 300]),
                Member::File("fuzz-1.0.data/scripts/fuzz-tool", b"#!python\nprint(1)\n"),
                Member::File("fuzz-1.0.data/headers/fuzz.h", b"int fuzz(void);\n"),
                Member::File("fuzz-1.0.data/data/share/fuzz/x.txt", b"x\n"),
                Member::Symlink("fuzz/alias.py", "__init__.py"),
                Member::File("fuzz-1.0.dist-info/WHEEL", wheel),
                Member::File("fuzz-1.0.dist-info/METADATA", metadata),
            ],
            zip::CompressionMethod::Deflated,
        ),
    ]
}

/// A zip of `members` plus a `RECORD` listing each with its hash and size.
fn zip_of(members: &[Member<'_>], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut record = String::new();
    for member in members {
        match member {
            Member::File(name, bytes) => {
                zip.start_file(*name, options).expect("writing to memory");
                zip.write_all(bytes).expect("writing to memory");
                record.push_str(&record_line(name, bytes));
            }
            Member::Symlink(name, target) => {
                zip.add_symlink(*name, *target, options)
                    .expect("writing to memory");
                record.push_str(&record_line(name, target.as_bytes()));
            }
        }
    }
    record.push_str("fuzz-1.0.dist-info/RECORD,,\n");
    zip.start_file("fuzz-1.0.dist-info/RECORD", options)
        .expect("writing to memory");
    zip.write_all(record.as_bytes()).expect("writing to memory");
    zip.finish().expect("writing to memory").into_inner()
}

fn record_line(name: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(bytes));
    format!("{name},sha256={hash},{}\n", bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_generated_wheel_installs() {
        let seed = seeds().remove(0);
        let scratch = Scratch::new();
        let installed = install_in(&scratch, &seed).expect("the seed is a good wheel");
        assert_eq!(installed.name, "fuzz");
        assert!(scratch
            .path()
            .join("root/opt/venv/lib/python3.11/site-packages/fuzz/cli.py")
            .is_file());
    }
}
