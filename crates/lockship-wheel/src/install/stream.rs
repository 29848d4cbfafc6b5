//! Streaming one wheel entry to its destination: bounded by the size its
//! zip header declares, checked against its `RECORD` line as it streams,
//! with a `#!python` shebang rewritten for scripts.

use std::io::{self, BufRead, Read, Write};

use crate::record::{HashingWriter, RecordLine};

/// Reads at most `left` bytes from `inner`, then fails if there is more:
/// a zip entry is never decompressed past the size its header declares,
/// whatever the zip reader does.
pub(super) struct Bounded<R> {
    pub(super) inner: R,
    pub(super) left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One more byte would pass the bound: look for it.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "the entry is larger than its declared size",
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Copies `source` into `sink` in chunks.
fn pump(
    source: &mut dyn Read,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), Streamed> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]).map_err(Streamed::Write)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Streamed::Read(e)),
        }
    }
}

/// How streaming one entry failed.
pub(super) enum Streamed {
    Read(io::Error),
    Write(io::Error),
    Mismatch(String),
}

/// Streams one entry from `source` into `out`, checking it against its
/// `RECORD` line; with `shebang`, rewrites a `#!python` first line of the
/// output to that interpreter. Returns the SHA-256 (base64) and size of
/// what was written.
pub(super) fn stream_entry(
    source: &mut impl BufRead,
    out: std::fs::File,
    line: &RecordLine,
    shebang: Option<&str>,
) -> Result<(String, u64), Streamed> {
    let Some(python) = shebang else {
        let mut writer = HashingWriter::new(io::BufWriter::new(out), line);
        pump(source, &mut |b| writer.write_all(b))?;
        let (digests, size) = writer.finish().map_err(Streamed::Write)?;
        digests.check(line, size).map_err(Streamed::Mismatch)?;
        return Ok((digests.sha256_b64, size));
    };
    let mut head = Vec::new();
    source
        .take(4096)
        .read_until(b'\n', &mut head)
        .map_err(Streamed::Read)?;
    let mut check = HashingWriter::new(io::sink(), line);
    let plain = RecordLine {
        hash: None,
        size: None,
    };
    let mut writer = HashingWriter::new(io::BufWriter::new(out), &plain);
    check.write_all(&head).map_err(Streamed::Write)?;
    writer
        .write_all(&rewrite_shebang(head, python))
        .map_err(Streamed::Write)?;
    pump(source, &mut |b| {
        check.write_all(b)?;
        writer.write_all(b)
    })?;
    let (digests, size) = check.finish().map_err(Streamed::Write)?;
    digests.check(line, size).map_err(Streamed::Mismatch)?;
    let (written, written_size) = writer.finish().map_err(Streamed::Write)?;
    Ok((written.sha256_b64, written_size))
}

/// Replaces a `#!python` (or `#!pythonw`) first line with `#!{python}`.
pub(super) fn rewrite_shebang(content: Vec<u8>, python: &str) -> Vec<u8> {
    if !content.starts_with(b"#!python") {
        return content;
    }
    let line_end = content
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(content.len());
    let first = &content[..line_end];
    let rest_of_line = first.strip_prefix(b"#!python").unwrap_or_default();
    let rest_of_line = rest_of_line.strip_prefix(b"w").unwrap_or(rest_of_line);
    if !(rest_of_line.is_empty() || rest_of_line == b"\r" || rest_of_line.starts_with(b" ")) {
        return content;
    }
    let mut out = format!("#!{python}").into_bytes();
    out.extend_from_slice(rest_of_line);
    out.extend_from_slice(&content[line_end..]);
    out
}
