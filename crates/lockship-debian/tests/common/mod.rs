//! Test fixtures: generated OpenPGP keys, clear-signed files, `.deb`
//! archives and a tiny signed repository served from a `file://` URL.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::packet::Signature;
use pgp::ser::Serialize;
use pgp::types::Password;
use sha2::{Digest, Sha256};

/// A fresh Ed25519 key that certifies with its primary and has a signing
/// subkey (like Debian's archive keys).
pub fn generate_key(user: &str) -> SignedSecretKey {
    let subkey = SubkeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_sign(true)
        .build()
        .unwrap();
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(format!("{user} <{user}@example.invalid>"))
        .subkey(subkey)
        .build()
        .unwrap();
    params.generate(rand::thread_rng()).unwrap()
}

pub fn public(key: &SignedSecretKey) -> SignedPublicKey {
    key.to_public_key()
}

/// Binary OpenPGP packets of several public keys, like a `.gpg` keyring.
pub fn binary_keyring(keys: &[&SignedSecretKey]) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        out.extend(public(key).to_bytes().unwrap());
    }
    out
}

/// An ASCII-armored public key.
pub fn armored_key(key: &SignedSecretKey) -> String {
    public(key)
        .to_armored_string(ArmorOptions::default())
        .unwrap()
}

/// One signature over `text`, by the signing subkey or the primary key.
pub fn signature(key: &SignedSecretKey, text: &str, with_subkey: bool) -> Signature {
    let msg = if with_subkey {
        CleartextSignedMessage::sign(
            rand::thread_rng(),
            text,
            &key.secret_subkeys[0].key,
            &Password::empty(),
        )
    } else {
        CleartextSignedMessage::sign(
            rand::thread_rng(),
            text,
            &key.primary_key,
            &Password::empty(),
        )
    }
    .unwrap();
    msg.signatures()[0].clone()
}

/// A clear-signed message over `text` carrying a signature from each key
/// (made with their signing subkeys).
pub fn clearsign(keys: &[&SignedSecretKey], text: &str) -> String {
    let sigs: Vec<Signature> = keys.iter().map(|k| signature(k, text, true)).collect();
    CleartextSignedMessage::new_many(text, |_| Ok(sigs))
        .unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A member of a test `.deb`'s data archive. Paths are written into the tar
/// header verbatim (so `./`, `..` and absolute paths can be tested).
#[derive(Clone, Debug)]
pub enum Entry {
    Dir(&'static str, u32),
    File(&'static str, &'static [u8], u32),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Fifo(&'static str),
}

fn raw_header(
    path: &str,
    kind: tar::EntryType,
    size: u64,
    mode: u32,
    link: Option<&str>,
) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    {
        let old = header.as_old_mut();
        assert!(path.len() < 100);
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    header
}

pub fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            Entry::Dir(p, mode) => {
                let h = raw_header(p, tar::EntryType::Directory, 0, *mode, None);
                builder.append(&h, std::io::empty()).unwrap();
            }
            Entry::File(p, data, mode) => {
                let h = raw_header(p, tar::EntryType::Regular, data.len() as u64, *mode, None);
                builder.append(&h, *data).unwrap();
            }
            Entry::Symlink(p, target) => {
                let h = raw_header(p, tar::EntryType::Symlink, 0, 0o777, Some(target));
                builder.append(&h, std::io::empty()).unwrap();
            }
            Entry::Hardlink(p, target) => {
                let h = raw_header(p, tar::EntryType::Link, 0, 0o644, Some(target));
                builder.append(&h, std::io::empty()).unwrap();
            }
            Entry::Fifo(p) => {
                let h = raw_header(p, tar::EntryType::Fifo, 0, 0o644, None);
                builder.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

#[derive(Clone, Copy, Debug)]
pub enum Compression {
    None,
    Gz,
    Xz,
    Zst,
}

impl Compression {
    fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gz => ".gz",
            Compression::Xz => ".xz",
            Compression::Zst => ".zst",
        }
    }
}

pub fn compress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => bytes.to_vec(),
        Compression::Gz => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        }
        Compression::Zst => zstd::encode_all(bytes, 3).unwrap(),
    }
}

/// Builds a `.deb` with the given control file text and data entries.
pub fn build_deb(
    control: &str,
    md5sums: Option<&str>,
    data: &[Entry],
    compression: Compression,
) -> Vec<u8> {
    let mut control_tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, text: &str| {
        let h = raw_header(
            name,
            tar::EntryType::Regular,
            text.len() as u64,
            0o644,
            None,
        );
        control_tar.append(&h, text.as_bytes()).unwrap();
    };
    add("./", "");
    add("./control", control);
    if let Some(m) = md5sums {
        add("./md5sums", m);
    }
    add("./conffiles", "/etc/test.conf\n\n");
    let control_tar = control_tar.into_inner().unwrap();
    let data_tar = tar_bytes(data);

    let mut ar = ar::Builder::new(Vec::new());
    let mut member = |name: String, bytes: Vec<u8>| {
        let header = ar::Header::new(name.into_bytes(), bytes.len() as u64);
        ar.append(&header, bytes.as_slice()).unwrap();
    };
    member("debian-binary".into(), b"2.0\n".to_vec());
    member(
        format!("control.tar{}", compression.suffix()),
        compress(&control_tar, compression),
    );
    member(
        format!("data.tar{}", compression.suffix()),
        compress(&data_tar, compression),
    );
    ar.into_inner().unwrap()
}

/// A package for the fake repository.
pub struct FakePackage {
    pub name: &'static str,
    pub version: &'static str,
    /// Extra control fields, each ending in a newline (`Depends: x\n`).
    pub fields: &'static str,
    pub data: Vec<Entry>,
}

pub fn control_text(p: &FakePackage) -> String {
    format!(
        "Package: {}\nVersion: {}\nArchitecture: amd64\nMaintainer: Test <test@example.invalid>\n{}Description: test package\n",
        p.name, p.version, p.fields
    )
}

pub struct FakeRepo {
    pub root: PathBuf,
    pub mirror: url::Url,
    pub packages_xz: PathBuf,
    /// `dists/SUITE/main/Contents-amd64.gz`, listing the packages' files.
    pub contents_gz: PathBuf,
}

/// The Contents text of `packages`: one line per regular file or symbolic
/// link, sorted, in the `path<spaces>section/package` layout.
pub fn contents_text(packages: &[FakePackage]) -> String {
    let mut lines = Vec::new();
    for p in packages {
        let section = if p.name.starts_with("lib") {
            "libs"
        } else {
            "misc"
        };
        for entry in &p.data {
            if let Entry::File(path, ..) | Entry::Symlink(path, _) = entry {
                let path = path.trim_start_matches("./");
                lines.push(format!("{path:<55} {section}/{}\n", p.name));
            }
        }
    }
    lines.sort();
    lines.concat()
}

/// Writes a repository under `root`: `pool/`, `dists/SUITE/main/binary-amd64/Packages{,.xz}`,
/// `dists/SUITE/main/Contents-amd64.gz`, and `dists/SUITE/InRelease` signed
/// by `signers`.
pub fn fake_repo(
    root: &Path,
    suite: &str,
    signers: &[&SignedSecretKey],
    packages: &[FakePackage],
) -> FakeRepo {
    let mut index = String::new();
    for p in packages {
        let control = control_text(p);
        let deb = build_deb(&control, None, &p.data, Compression::Xz);
        let first = &p.name[..1];
        let rel = format!(
            "pool/main/{first}/{}/{}_{}_amd64.deb",
            p.name, p.name, p.version
        );
        let path = root.join(&rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, &deb).unwrap();
        index.push_str(&control);
        index.push_str(&format!(
            "Filename: {rel}\nSize: {}\nSHA256: {}\n\n",
            deb.len(),
            sha256(&deb)
        ));
    }
    let dists = root.join("dists").join(suite);
    let bin = dists.join("main/binary-amd64");
    fs_err::create_dir_all(&bin).unwrap();
    let xz = compress(index.as_bytes(), Compression::Xz);
    fs_err::write(bin.join("Packages"), &index).unwrap();
    fs_err::write(bin.join("Packages.xz"), &xz).unwrap();
    let contents = compress(contents_text(packages).as_bytes(), Compression::Gz);
    fs_err::write(dists.join("main/Contents-amd64.gz"), &contents).unwrap();
    let release = format!(
        "Origin: Test\nLabel: Test\nSuite: {suite}\nCodename: {suite}\nDate: Sat, 15 Mar 2025 10:01:25 UTC\n\
         Architectures: amd64 arm64\nComponents: main contrib\nDescription: test\nSHA256:\n \
         {} {} main/binary-amd64/Packages\n {} {} main/binary-amd64/Packages.xz\n \
         {} {} main/Contents-amd64.gz\n",
        sha256(index.as_bytes()),
        index.len(),
        sha256(&xz),
        xz.len(),
        sha256(&contents),
        contents.len()
    );
    fs_err::write(dists.join("InRelease"), clearsign(signers, &release)).unwrap();
    FakeRepo {
        root: root.to_path_buf(),
        mirror: url::Url::from_directory_path(root).unwrap(),
        packages_xz: bin.join("Packages.xz"),
        contents_gz: dists.join("main/Contents-amd64.gz"),
    }
}
