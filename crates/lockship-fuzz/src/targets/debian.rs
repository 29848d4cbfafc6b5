//! Debian inputs: Packages, Release, InRelease, Contents and `.deb` files.

use std::io::Write;
use std::sync::OnceLock;

use lockship_debian::{
    compare_versions, parse_packages, parse_release, resolve, unpack_deb, verify_inrelease,
    ContentsIndex, FileQuery, Keyring, PackageIndex, ResolveRequest, UnpackOptions,
};

use super::{text, Scratch};

/// The public key that signed the committed `InRelease` seed (made with
/// `gpg --quick-gen-key` for this crate only; it protects nothing).
const FUZZ_KEY: &[u8] = include_bytes!("../keys/fuzz-archive-key.asc");

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| Keyring::from_bytes(FUZZ_KEY).expect("the fuzz key parses"))
}

/// A Packages index: deb822 stanzas, relations, versions, then the index
/// (version order) and a closure from every package.
pub fn deb822_packages(data: &[u8]) {
    let Ok(packages) = parse_packages(&text(data)) else {
        return;
    };
    for pair in packages.windows(2) {
        let _ = compare_versions(&pair[0].version, &pair[1].version);
        for group in pair[0].depends.iter().flatten() {
            let _ = group.version_matches(Some(&pair[1].version));
        }
    }
    let roots: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    let index = PackageIndex::new(packages);
    for name in &roots {
        let _ = index.providers(name);
    }
    let request = ResolveRequest {
        roots,
        exclude: Default::default(),
    };
    let _ = resolve(&index, &request);
}

/// A Release file's text (what is left after the signature is checked).
pub fn deb822_release(data: &[u8]) {
    if let Ok(release) = parse_release(&text(data), "fuzz/Release") {
        let _ = release.is_named("bookworm");
    }
}

/// An `InRelease` file: OpenPGP clear-signed text, checked against a fixed
/// keyring, then parsed.
pub fn deb822_inrelease(data: &[u8]) {
    let _ = verify_inrelease(data, keyring(), "fuzz/InRelease");
}

/// A Contents file: its shared libraries, then a search of every query kind.
pub fn deb_contents(data: &[u8]) {
    let index = ContentsIndex::from_text(&text(data), "amd64");
    let _ = index.packages_for_soname("libssl.so.3");
    let _ = index.search(&[
        FileQuery::Header("postgresql/libpq-fe.h".into()),
        FileQuery::Executable("pg_config".into()),
        FileQuery::LinkerLib("-lssl".into()),
        FileQuery::Path("/usr/lib/x86_64-linux-gnu/libz.so.1".into()),
    ]);
}

/// A `.deb` archive: the `ar` container, the control and data tars, and
/// unpacking into a fresh directory.
pub fn deb_archive(data: &[u8]) {
    let scratch = Scratch::new();
    let deb = scratch.file("fuzz_1.0_amd64.deb", data);
    let dest = scratch.dir("root");
    let _ = unpack_deb(&deb, &dest, &UnpackOptions::default(), &|path: &str| {
        !path.starts_with("/usr/share/doc/")
    });
}

// ---------------------------------------------------------------------------------------------
// Generated seeds.

/// `.deb` archives built here: uncompressed and gzip members.
pub(crate) fn deb_seeds() -> Vec<Vec<u8>> {
    let control = "Package: fuzz\nVersion: 1.0\nArchitecture: amd64\nDescription: x\n";
    let control_tar = super::tar_of(&[
        super::TarItem::Dir("./"),
        super::TarItem::File("./control", control.as_bytes(), 0o644),
        super::TarItem::File(
            "./md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/fuzz\n",
            0o644,
        ),
        super::TarItem::File("./conffiles", b"/etc/fuzz.conf\n", 0o644),
    ]);
    let data_tar = super::tar_of(&[
        super::TarItem::Dir("./"),
        super::TarItem::Dir("./usr/"),
        super::TarItem::Dir("./usr/bin/"),
        super::TarItem::File("./usr/bin/fuzz", b"#!/bin/sh\necho fuzz\n", 0o755),
        super::TarItem::Dir("./etc/"),
        super::TarItem::File("./etc/fuzz.conf", b"x = 1\n", 0o644),
        super::TarItem::Symlink("./usr/bin/fuzz2", "fuzz"),
        super::TarItem::Hardlink("./usr/bin/fuzz3", "./usr/bin/fuzz"),
        super::TarItem::Dir("./lib/"),
        super::TarItem::File("./lib/libfuzz.so.1", b"\x7fELF", 0o644),
        super::TarItem::Dir("./usr/share/doc/fuzz/"),
        super::TarItem::File("./usr/share/doc/fuzz/copyright", b"none\n", 0o644),
    ]);
    vec![
        ar_of(&[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar.clone()),
            ("data.tar", data_tar.clone()),
        ]),
        ar_of(&[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", super::gzip(&control_tar)),
            ("data.tar.gz", super::gzip(&data_tar)),
        ]),
    ]
}

fn ar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut builder = ar::Builder::new(&mut out);
        for (name, bytes) in members {
            let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            header.set_mode(0o100644);
            builder
                .append(&header, bytes.as_slice())
                .expect("writing to memory");
        }
    }
    out.flush().expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_inrelease_seed_verifies() {
        let seed = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("corpus/deb822_inrelease/inrelease"),
        )
        .unwrap();
        let release = verify_inrelease(&seed, keyring(), "seed").unwrap();
        assert_eq!(release.codename, "bookworm");
    }

    #[test]
    fn the_generated_deb_seeds_unpack() {
        for seed in deb_seeds() {
            let scratch = Scratch::new();
            let deb = scratch.file("fuzz_1.0_amd64.deb", &seed);
            let dest = scratch.dir("root");
            let unpacked = unpack_deb(&deb, &dest, &UnpackOptions::default(), &|_: &str| true)
                .expect("the seed is a good .deb");
            assert_eq!(unpacked.package, "fuzz");
            assert!(dest.join("usr/bin/fuzz").is_file());
        }
    }
}
