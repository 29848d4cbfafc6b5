//! Writing a staged tree as one deterministic layer blob.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use crate::{Compression, Layer, LayerError, LayerOptions, Ownership};

/// Tar block size.
const BLOCK: usize = 512;
/// Names and link targets this long or longer go into a GNU long-name entry.
const NAME_FIELD: usize = 100;
/// Buffer between the tar writer and the compressor.
const TAR_BUFFER: usize = 256 * 1024;
/// Buffer between the compressor and the file.
const FILE_BUFFER: usize = 256 * 1024;
/// Chunk in which file contents are copied (always filled, so the compressor
/// sees the same write sizes on every machine).
const COPY_CHUNK: usize = 64 * 1024;

/// Write the tree under `root` as one layer blob into `out_dir` (created if
/// needed).
///
/// The tar stream is hashed (`diff_id`), compressed, hashed again (`digest`)
/// and written to a temporary file in `out_dir`, which is then renamed to
/// `out_dir/<digest hex>`; nothing is read twice. The root itself gets no
/// entry. See the crate documentation for what is normalised.
///
/// # Errors
///
/// [`LayerError::NotADirectory`] if `root` is not a directory,
/// [`LayerError::UnsupportedFileType`] for sockets, FIFOs and devices,
/// [`LayerError::InvalidLevel`] for a level the compressor does not take,
/// [`LayerError::FileChanged`] if a file changes size while it is read, and
/// [`LayerError::Io`] / [`LayerError::Walk`] for I/O failures.
pub fn write_layer(
    root: &Path,
    options: &LayerOptions,
    out_dir: &Path,
) -> Result<Layer, LayerError> {
    let meta = fs_err::metadata(root).map_err(LayerError::io(root))?;
    if !meta.is_dir() {
        return Err(LayerError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let level = checked_level(root, options)?;
    fs_err::create_dir_all(out_dir).map_err(LayerError::io(out_dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".layer-")
        .suffix(".partial")
        .tempfile_in(out_dir)
        .map_err(LayerError::io(out_dir))?;
    let tmp_path = tmp.path().to_path_buf();
    let out_err = LayerError::io(&tmp_path);

    let file = BufWriter::with_capacity(FILE_BUFFER, tmp.as_file_mut());
    let encoder = Encoder::new(options.compression, level, HashWriter::new(file))
        .map_err(LayerError::io(&tmp_path))?;
    let tar_out = BufWriter::with_capacity(TAR_BUFFER, HashWriter::new(encoder));
    let mut tar = TarWriter {
        out: tar_out,
        out_path: &tmp_path,
        buf: vec![0; COPY_CHUNK],
    };
    write_entries(root, options, &mut tar)?;
    let tar_out = tar.finish()?;

    let (encoder, diff_id, uncompressed_size) = tar_out
        .into_inner()
        .map_err(|e| LayerError::io(&tmp_path)(e.into_error()))?
        .finish();
    let (file, digest, size) = encoder
        .finish()
        .map_err(LayerError::io(&tmp_path))?
        .finish();
    let file = file
        .into_inner()
        .map_err(|e| LayerError::io(&tmp_path)(e.into_error()))?;
    // Blobs are content-addressed and read by other tools: make them readable
    // whatever the umask (temporary files start as 0600).
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(out_err)?;

    let hex = hex::encode(digest);
    let path = out_dir.join(&hex);
    tmp.persist(&path)
        .map_err(|e| LayerError::io(&path)(e.error))?;
    Ok(Layer {
        path,
        digest: format!("sha256:{hex}"),
        diff_id: format!("sha256:{}", hex::encode(diff_id)),
        size,
        uncompressed_size,
        compression: options.compression,
    })
}

/// The level to use, or an error if the compressor does not take it.
fn checked_level(root: &Path, options: &LayerOptions) -> Result<i32, LayerError> {
    let compression = options.compression;
    let level = options.level.unwrap_or_else(|| compression.default_level());
    let ok = match compression {
        Compression::Gzip => (0..=9).contains(&level),
        Compression::Zstd => zstd::compression_level_range().contains(&level),
        Compression::None => true,
    };
    if ok {
        Ok(level)
    } else {
        Err(LayerError::InvalidLevel {
            path: root.to_path_buf(),
            level,
            compression,
        })
    }
}

/// Walks `root` in sorted order and writes one entry per path.
fn write_entries<W: Write>(
    root: &Path,
    options: &LayerOptions,
    tar: &mut TarWriter<'_, W>,
) -> Result<(), LayerError> {
    let overrides: HashMap<&[u8], &Ownership> = options
        .overrides
        .iter()
        .map(|(k, v)| (normalise_key(k), v))
        .collect();
    // (dev, inode) of multiply-linked files -> the in-layer name of the first one.
    let mut first_links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let walk = WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()));
    for entry in walk {
        let entry = entry.map_err(|e| walk_err(root, e))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| walk_err(root, e))?;
        let name = layer_name(root, path);
        let file_type = meta.file_type();

        let mut header = Header::new_gnu();
        header.set_mtime(options.mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        header.set_device_major(0).map_err(LayerError::io(path))?;
        header.set_device_minor(0).map_err(LayerError::io(path))?;
        let mode = if file_type.is_dir() {
            header.set_entry_type(EntryType::Directory);
            0o755
        } else if file_type.is_symlink() {
            header.set_entry_type(EntryType::Symlink);
            0o777
        } else if file_type.is_file() {
            header.set_entry_type(EntryType::Regular);
            if meta.mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            }
        } else {
            return Err(LayerError::UnsupportedFileType {
                path: path.to_path_buf(),
            });
        };
        header.set_mode(mode);
        if let Some(own) = overrides.get(name.as_slice()) {
            header.set_uid(own.uid.into());
            header.set_gid(own.gid.into());
            if let Some(mode) = own.mode {
                header.set_mode(mode & 0o7777);
            }
        }

        if file_type.is_dir() {
            let mut dir_name = name;
            dir_name.push(b'/');
            tar.entry(&mut header, &dir_name, None)?;
        } else if file_type.is_symlink() {
            let target = fs_err::read_link(path).map_err(LayerError::io(path))?;
            tar.entry(&mut header, &name, Some(target.as_os_str().as_bytes()))?;
        } else if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = first_links.get(&key) {
                header.set_entry_type(EntryType::Link);
                tar.entry(&mut header, &name, Some(first))?;
            } else {
                tar.file(&mut header, &name, path)?;
                first_links.insert(key, name);
            }
        } else {
            tar.file(&mut header, &name, path)?;
        }
    }
    Ok(())
}

fn walk_err(root: &Path, source: walkdir::Error) -> LayerError {
    let path = source.path().unwrap_or(root).to_path_buf();
    LayerError::Walk { path, source }
}

/// The in-layer name of `path` (below `root`): components joined by `/`.
fn layer_name(root: &Path, path: &Path) -> Vec<u8> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut name = Vec::with_capacity(rel.as_os_str().len());
    for component in rel.components() {
        if let Component::Normal(part) = component {
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(part.as_bytes());
        }
    }
    name
}

/// An override key as an in-layer name: no leading `/` or `./`, no trailing `/`.
fn normalise_key(key: &str) -> &[u8] {
    let mut key = key;
    loop {
        if let Some(rest) = key.strip_prefix("./") {
            key = rest;
        } else if let Some(rest) = key.strip_prefix('/') {
            key = rest;
        } else {
            break;
        }
    }
    OsStr::new(key.trim_end_matches('/')).as_bytes()
}

/// Writes tar entries (GNU format, with GNU long names) to `out`.
struct TarWriter<'a, W: Write> {
    out: W,
    out_path: &'a Path,
    buf: Vec<u8>,
}

impl<W: Write> TarWriter<'_, W> {
    fn out_err(&self) -> impl FnOnce(io::Error) -> LayerError {
        LayerError::io(self.out_path)
    }

    /// Writes `header` for an entry named `name` (and linking to `link`, for
    /// links), preceded by GNU long-name entries where the fields are too short.
    /// The header's size must already be set.
    fn header(
        &mut self,
        header: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
    ) -> Result<(), LayerError> {
        if name.len() >= NAME_FIELD {
            self.long_name(EntryType::GNULongName, name)?;
        }
        let old = header.as_old_mut();
        let n = name.len().min(NAME_FIELD);
        old.name[..n].copy_from_slice(&name[..n]);
        if let Some(link) = link {
            if link.len() >= NAME_FIELD {
                self.long_name(EntryType::GNULongLink, link)?;
            }
            let old = header.as_old_mut();
            let n = link.len().min(NAME_FIELD);
            old.linkname[..n].copy_from_slice(&link[..n]);
        }
        header.set_cksum();
        self.out
            .write_all(header.as_bytes())
            .map_err(self.out_err())
    }

    /// An entry without contents (directory, symlink, hard link).
    fn entry(
        &mut self,
        header: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
    ) -> Result<(), LayerError> {
        self.header(header, name, link)
    }

    /// A GNU `././@LongLink` entry carrying a long name or link target.
    fn long_name(&mut self, kind: EntryType, value: &[u8]) -> Result<(), LayerError> {
        let mut header = Header::new_gnu();
        let tag = b"././@LongLink";
        header.as_old_mut().name[..tag.len()].copy_from_slice(tag);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(value.len() as u64 + 1);
        header.set_entry_type(kind);
        header.set_cksum();
        let err = self.out_err();
        let mut write = || -> io::Result<()> {
            self.out.write_all(header.as_bytes())?;
            self.out.write_all(value)?;
            self.out.write_all(&[0])?;
            pad(&mut self.out, value.len() as u64 + 1)
        };
        write().map_err(err)
    }

    /// A regular file with its contents, read from `path`.
    fn file(&mut self, header: &mut Header, name: &[u8], path: &Path) -> Result<(), LayerError> {
        let mut file = fs_err::File::open(path).map_err(LayerError::io(path))?;
        let size = file.metadata().map_err(LayerError::io(path))?.len();
        header.set_size(size);
        self.header(header, name, None)?;
        let changed = || LayerError::FileChanged {
            path: path.to_path_buf(),
            expected: size,
        };
        let mut remaining = size;
        while remaining > 0 {
            let want = remaining.min(self.buf.len() as u64) as usize;
            let got = fill(&mut file, &mut self.buf[..want]).map_err(LayerError::io(path))?;
            if got < want {
                return Err(changed());
            }
            self.out
                .write_all(&self.buf[..got])
                .map_err(LayerError::io(self.out_path))?;
            remaining -= got as u64;
        }
        if fill(&mut file, &mut self.buf[..1]).map_err(LayerError::io(path))? != 0 {
            return Err(changed());
        }
        pad(&mut self.out, size).map_err(self.out_err())
    }

    /// Ends the archive with two zero blocks and returns the writer.
    fn finish(mut self) -> Result<W, LayerError> {
        self.out
            .write_all(&[0; 2 * BLOCK])
            .map_err(LayerError::io(self.out_path))?;
        Ok(self.out)
    }
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
pub(crate) fn fill(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Zero padding after `len` bytes of contents, up to the next block.
fn pad(out: &mut impl Write, len: u64) -> io::Result<()> {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 {
        Ok(())
    } else {
        out.write_all(&[0; BLOCK][..BLOCK - rem])
    }
}

/// A writer that hashes and counts what goes through it.
pub(crate) struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> HashWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the SHA-256 and the byte count of what was written.
    pub(crate) fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One of the three blob encodings.
pub(crate) enum Encoder<W: Write> {
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    /// An encoder with a fixed, machine-independent header.
    pub(crate) fn new(compression: Compression, level: i32, inner: W) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => {
                // No file name, no comment, mtime 0 and OS byte 255 ("unknown"):
                // what flate2 writes by default, spelled out so it stays so.
                let level = flate2::Compression::new(level.clamp(0, 9) as u32);
                Encoder::Gzip(
                    flate2::GzBuilder::new()
                        .mtime(0)
                        .operating_system(255)
                        .write(inner, level),
                )
            }
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(inner, level)?;
                encoder.include_checksum(false)?;
                Encoder::Zstd(encoder)
            }
            Compression::None => Encoder::None(inner),
        })
    }

    /// Ends the stream and returns the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::None(w) => Ok(w),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::None(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::None(w) => w.flush(),
        }
    }
}
