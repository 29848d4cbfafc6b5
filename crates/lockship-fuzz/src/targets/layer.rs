//! Layer blobs: compression sniffing, decompression and the tar stream.

use std::io::Read;

use lockship_layer::{open_layer_tar, unpack_layer};

use super::{gzip, tar_of, Scratch, TarItem};

/// How many decompressed bytes one run reads at most. A random input that
/// decompresses further is a decompression bomb, which the callers bound by
/// the declared sizes; the target only checks the reader itself.
const READ_CAP: u64 = 64 * 1024 * 1024;

/// A layer blob (plain tar, gzip or zstd, told by its magic): every entry's
/// header, path, link name, extensions and content.
pub fn layer_tar(data: &[u8]) {
    let scratch = Scratch::new();
    let blob = scratch.file("blob", data);
    let Ok(reader) = open_layer_tar(&blob) else {
        return;
    };
    let mut archive = tar::Archive::new(reader.take(READ_CAP));
    let Ok(entries) = archive.entries() else {
        return;
    };
    for entry in entries {
        let Ok(mut entry) = entry else {
            return;
        };
        let _ = entry.path();
        let _ = entry.link_name();
        let _ = entry.header().entry_type();
        let _ = entry.header().mode();
        if let Ok(Some(extensions)) = entry.pax_extensions() {
            for extension in extensions.flatten() {
                let _ = extension.key();
            }
        }
        if std::io::copy(&mut entry, &mut std::io::sink()).is_err() {
            return;
        }
    }
}

/// A layer flattened over a tree with whiteouts (as a `--base-image` is
/// unpacked). Besides not panicking, nothing may change outside the tree:
/// a canary directory next to it is checked after every run.
pub fn layer_unpack(data: &[u8]) {
    let scratch = Scratch::new();
    let canary = scratch.file("canary/keep.txt", CANARY);
    let root = scratch.dir("root");
    std::fs::create_dir_all(root.join("etc")).expect("a scratch tree");
    std::fs::write(root.join("etc/motd"), b"base\n").expect("a scratch tree");
    let _ = unpack_layer(data, "fuzz-layer", &root, DIFF_ID);
    let mut outside: Vec<String> = std::fs::read_dir(scratch.path())
        .expect("the scratch directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    outside.sort();
    assert_eq!(
        outside,
        ["canary", "root"],
        "a layer wrote next to the tree"
    );
    let kept: Vec<_> = std::fs::read_dir(canary.parent().expect("a parent"))
        .expect("the canary directory")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(kept.len(), 1, "a layer changed the canary directory");
    assert_eq!(
        std::fs::symlink_metadata(&canary)
            .map(|m| m.file_type().is_file())
            .ok(),
        Some(true),
        "a layer replaced the canary file"
    );
    assert_eq!(
        std::fs::read(&canary).ok().as_deref(),
        Some(CANARY),
        "a layer changed the canary file"
    );
}

const CANARY: &[u8] = b"canary\n";
/// A diff_id no fuzzed layer has: every run unpacks, then reports the mismatch.
const DIFF_ID: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Layers that try to leave the tree: through a symlink to the canary,
/// whiteouts through it, `..` entries, and hard links out.
pub(crate) fn hostile_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds();
    out.push(tar_of(&[
        TarItem::Symlink("esc", "../canary"),
        TarItem::File("esc/.wh.keep.txt", b"", 0o644),
        TarItem::File("esc/new.txt", b"x", 0o644),
        TarItem::Dir("esc/dir/"),
        TarItem::File("esc/dir/.wh..wh..opq", b"", 0o644),
    ]));
    out.push(tar_of(&[
        TarItem::Dir("a/"),
        TarItem::Symlink("a/up", "../.."),
        TarItem::File("a/up/canary/keep.txt", b"changed", 0o644),
        TarItem::Hardlink("a/link", "../canary/keep.txt"),
        TarItem::File(".wh...", b"", 0o644),
        TarItem::File("etc/.wh.motd", b"", 0o644),
    ]));
    out
}

/// Layers built here: plain, gzip and zstd, with whiteouts, links, a long
/// name and PAX headers.
pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let long = format!("usr/lib/{}/module.py", "d".repeat(120));
    let plain = tar_of(&[
        TarItem::Dir("usr/"),
        TarItem::Dir("usr/bin/"),
        TarItem::File("usr/bin/python3", b"\x7fELF\x02\x01\x01", 0o755),
        TarItem::Symlink("usr/bin/python", "python3"),
        TarItem::Hardlink("usr/bin/python3.11", "usr/bin/python3"),
        TarItem::File("etc/.wh.motd", b"", 0o644),
        TarItem::File("var/cache/.wh..wh..opq", b"", 0o644),
    ]);
    let mut with_long = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_mtime(0);
    with_long
        .append_data(&mut header, &long, &b"x=1"[..])
        .expect("writing to memory");
    let mut pax = tar::Builder::new(Vec::new());
    pax.append_pax_extensions([
        ("path", &b"opt/venv/bin/\xc3\xa9"[..]),
        ("linkpath", &b"../lib"[..]),
        ("SCHILY.xattr.user.x", &b"1"[..]),
    ])
    .expect("writing to memory");
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    header.set_mtime(0);
    header.set_path("placeholder").expect("a short path");
    header.set_link_name("placeholder").expect("a short path");
    header.set_cksum();
    pax.append(&header, &[][..]).expect("writing to memory");
    let with_long = with_long.into_inner().expect("writing to memory");
    let pax = pax.into_inner().expect("writing to memory");
    let zstd = zstd_frame(&plain);
    vec![gzip(&plain), zstd, plain, with_long, pax]
}

/// A zstd frame of `bytes`, stored raw (no compression), as the spec
/// defines it: magic, a frame header with the content size, raw blocks.
fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header: single segment, 4-byte content size.
    out.push(0b1010_0000);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    let mut chunks = bytes.chunks(64 * 1024).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u32::from(chunks.peek().is_none());
        // Block header: last flag, type 0 (raw), size.
        let header = last | ((chunk.len() as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_are_readable_layers() {
        for (i, seed) in seeds().into_iter().enumerate() {
            let scratch = Scratch::new();
            let blob = scratch.file("blob", &seed);
            let mut archive = tar::Archive::new(open_layer_tar(&blob).unwrap());
            let mut count = 0;
            for entry in archive.entries().unwrap() {
                entry.unwrap();
                count += 1;
            }
            assert!(count > 0, "seed {i} has no entries");
        }
    }
}
