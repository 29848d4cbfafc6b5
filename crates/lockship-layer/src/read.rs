//! Reading layer blobs back: decompression and digests.

use std::io::{self, Cursor, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Compression, LayerError};

/// gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// zstd frame magic bytes.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The compression of a blob, told by its first bytes: gzip (`1f 8b`), zstd
/// (`28 b5 2f fd`), anything else is taken as a plain tar.
pub fn sniff_compression(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Decompress a layer blob into a reader of its tar stream.
///
/// The compression is told by the blob's magic bytes (see
/// [`sniff_compression`]), so a [`crate::Layer`] is not needed. Errors while
/// reading the stream later come from the returned reader.
///
/// # Errors
///
/// [`LayerError::Io`] if the blob cannot be opened or its start read, or if
/// the zstd decoder cannot be set up.
pub fn open_layer_tar(path: &Path) -> Result<Box<dyn Read>, LayerError> {
    let file = fs_err::File::open(path).map_err(LayerError::io(path))?;
    decompress(file).map_err(LayerError::io(path))
}

/// A reader of the tar stream inside a layer blob read from `src`, the
/// compression told by the first bytes. gzip blobs may hold several members
/// (as `pigz` writes them), zstd blobs several frames.
pub(crate) fn decompress<'a>(mut src: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut prefix = [0u8; 4];
    let got = crate::write::fill(&mut src, &mut prefix)?;
    let stream = Cursor::new(prefix[..got].to_vec()).chain(src);
    Ok(match sniff_compression(&prefix[..got]) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream)?),
        Compression::None => Box::new(stream),
    })
}

/// Digest of a file as `sha256:<hex>`.
///
/// # Errors
///
/// [`LayerError::Io`] if the file cannot be read.
pub fn file_digest(path: &Path) -> Result<String, LayerError> {
    let mut file = fs_err::File::open(path).map_err(LayerError::io(path))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(LayerError::io(path))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}
