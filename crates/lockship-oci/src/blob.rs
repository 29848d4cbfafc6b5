//! Small helpers for blobs: hashing, digest strings, decompression by magic bytes.

use std::io::{self, BufReader, Read};

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of some bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a `sha256:<hex>` digest, if it is well-formed.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// Hash everything a reader yields: (`sha256:<hex>`, byte count).
pub(crate) fn hash_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), total))
}

/// The compression a blob's first bytes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Magic {
    Gzip,
    Zstd,
    Plain,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

fn sniff(head: &[u8]) -> Magic {
    if head.starts_with(GZIP_MAGIC) {
        Magic::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Magic::Zstd
    } else {
        Magic::Plain
    }
}

/// Look at the first bytes of a blob and tell its compression.
pub(crate) fn sniff_reader(reader: impl Read) -> io::Result<Magic> {
    let mut head = Vec::with_capacity(4);
    reader.take(4).read_to_end(&mut head)?;
    Ok(sniff(&head))
}

/// A reader of the uncompressed tar inside a layer blob (gzip, zstd or plain).
pub(crate) fn decompressing_reader<'a>(
    reader: impl Read + 'a,
) -> io::Result<(Magic, Box<dyn Read + 'a>)> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut head = Vec::with_capacity(4);
    (&mut reader).take(4).read_to_end(&mut head)?;
    let magic = sniff(&head);
    let whole = io::Cursor::new(head).chain(reader);
    Ok((magic, wrap(magic, whole)?))
}

fn wrap<'a>(magic: Magic, reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match magic {
        Magic::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Magic::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        Magic::Plain => Box::new(reader),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn digests_and_hex() {
        let d = sha256_digest(b"");
        assert_eq!(
            d,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256_hex(&d).unwrap().len(), 64);
        assert!(sha256_hex("sha256:XYZ").is_none());
        assert!(sha256_hex("sha512:e3b0").is_none());
        assert_eq!(hash_reader(&b""[..]).unwrap(), (d, 0));
    }

    #[test]
    fn decompresses_by_magic() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        for (blob, magic) in [
            (gz, Magic::Gzip),
            (zst, Magic::Zstd),
            (data.clone(), Magic::Plain),
        ] {
            assert_eq!(sniff_reader(&blob[..]).unwrap(), magic);
            let (m, mut r) = decompressing_reader(&blob[..]).unwrap();
            assert_eq!(m, magic);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }
}
