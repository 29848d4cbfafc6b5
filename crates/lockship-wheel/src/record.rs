//! `RECORD` files: parsing, writing, and checking content against them
//! while it streams.

use std::collections::HashMap;
use std::io::{self, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::install::clean_entry_name;

/// One line of the wheel's `RECORD`.
#[derive(Debug)]
pub(crate) struct RecordLine {
    pub(crate) hash: Option<(String, String)>,
    pub(crate) size: Option<u64>,
}

/// Parses `RECORD` (CSV: path, `algo=b64digest`, size).
pub(crate) fn parse_record(text: &str) -> Result<HashMap<String, RecordLine>, String> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = split_csv(line);
        let [path, hash, size] = fields.as_slice() else {
            return Err(format!("`RECORD` line `{line}` does not have three fields"));
        };
        let hash = if hash.is_empty() {
            None
        } else {
            let (algo, digest) = hash
                .split_once('=')
                .ok_or_else(|| format!("`RECORD` hash `{hash}` has no algorithm"))?;
            Some((algo.to_string(), digest.to_string()))
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(
                size.parse()
                    .map_err(|_| format!("`RECORD` size `{size}` is not a number"))?,
            )
        };
        let path = clean_entry_name(path).unwrap_or_else(|_| path.clone());
        if out.contains_key(&path) {
            return Err(format!("`RECORD` lists `{path}` twice"));
        }
        out.insert(path, RecordLine { hash, size });
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap_or(&mut String::new()).push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Digests of one file in the algorithm its `RECORD` line uses, plus
/// SHA-256 for the new `RECORD`.
pub(crate) struct Digests {
    pub(crate) sha256_b64: String,
    other_b64: Option<String>,
}

impl Digests {
    pub(crate) fn check(&self, line: &RecordLine, size: u64) -> Result<(), String> {
        let Some((algo, expected)) = &line.hash else {
            return Err("`RECORD` gives no hash".to_string());
        };
        let actual = match algo.as_str() {
            "sha256" => &self.sha256_b64,
            _ => self
                .other_b64
                .as_ref()
                .ok_or_else(|| format!("unsupported hash algorithm `{algo}`"))?,
        };
        if !same_digest(actual, expected) {
            return Err(format!("{algo} is `{actual}`, `RECORD` says `{expected}`"));
        }
        if let Some(expected_size) = line.size {
            if expected_size != size {
                return Err(format!("size is {size}, `RECORD` says {expected_size}"));
            }
        }
        Ok(())
    }
}

/// Whether a `RECORD` digest names the same bytes as `actual` (URL-safe
/// base64 without padding, as PEP 376 writes it). Some build backends write
/// the digest in hex, or with padding; those are decoded and compared as
/// bytes, so the file is still checked (pip and uv install such wheels).
fn same_digest(actual: &str, expected: &str) -> bool {
    let Ok(actual) = URL_SAFE_NO_PAD.decode(actual) else {
        return false;
    };
    let expected = expected.trim();
    let hex_form =
        expected.len() == actual.len() * 2 && expected.bytes().all(|b| b.is_ascii_hexdigit());
    let decoded = if hex_form {
        hex::decode(expected).ok()
    } else {
        URL_SAFE_NO_PAD.decode(expected.trim_end_matches('=')).ok()
    };
    decoded.is_some_and(|d| d == actual)
}

#[cfg(test)]
pub(crate) fn verify(line: &RecordLine, content: &[u8]) -> Result<(), String> {
    let mut writer = HashingWriter::new(io::sink(), line);
    writer.write_all(content).map_err(|e| e.to_string())?;
    let (digests, size) = writer.finish().map_err(|e| e.to_string())?;
    digests.check(line, size)
}

enum Other {
    None,
    Sha384(Sha384),
    Sha512(Sha512),
}

/// Writes through while hashing and counting.
pub(crate) struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
    other: Other,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W, line: &RecordLine) -> Self {
        let other = match line.hash.as_ref().map(|(a, _)| a.as_str()) {
            Some("sha384") => Other::Sha384(Sha384::new()),
            Some("sha512") => Other::Sha512(Sha512::new()),
            _ => Other::None,
        };
        HashingWriter {
            inner,
            sha256: Sha256::new(),
            other,
            size: 0,
        }
    }

    pub(crate) fn finish(mut self) -> io::Result<(Digests, u64)> {
        self.inner.flush()?;
        let other_b64 = match self.other {
            Other::None => None,
            Other::Sha384(h) => Some(URL_SAFE_NO_PAD.encode(h.finalize())),
            Other::Sha512(h) => Some(URL_SAFE_NO_PAD.encode(h.finalize())),
        };
        Ok((
            Digests {
                sha256_b64: URL_SAFE_NO_PAD.encode(self.sha256.finalize()),
                other_b64,
            },
            self.size,
        ))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        match &mut self.other {
            Other::None => {}
            Other::Sha384(h) => h.update(&buf[..n]),
            Other::Sha512(h) => h.update(&buf[..n]),
        }
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn hash_b64(content: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_round_trips() {
        assert_eq!(
            split_csv(r#""a,""b""",sha256=x,3"#),
            ["a,\"b\"", "sha256=x", "3"]
        );
        assert_eq!(csv_field("a,\"b\""), r#""a,""b""""#);
        assert_eq!(
            split_csv(&format!("{},,", csv_field("p,q"))),
            ["p,q", "", ""]
        );
    }

    #[test]
    fn record_lines_are_parsed_and_checked() {
        let record = parse_record(&format!(
            "./m.py,sha256={},5\nRECORD,,\n",
            hash_b64(b"hello")
        ))
        .unwrap();
        let line = &record["m.py"];
        assert_eq!(verify(line, b"hello"), Ok(()));
        assert!(verify(line, b"hellO").unwrap_err().contains("sha256"));
        assert!(verify(&record["RECORD"], b"")
            .unwrap_err()
            .contains("no hash"));
        assert!(parse_record("a,b\n").is_err());
        assert!(parse_record("a,md5,x\n").is_err());
        assert!(parse_record("a,sha256=x,notanumber\n").is_err());
        assert!(parse_record("a,sha256=x,1\n./a,sha256=y,1\n")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn record_digests_in_hex_or_with_padding_are_checked_as_bytes() {
        let hex_digest = hex::encode(Sha256::digest(b"hello"));
        let padded = format!("{}=", hash_b64(b"hello"));
        for digest in [hex_digest.as_str(), padded.as_str()] {
            let record = parse_record(&format!("m.py,sha256={digest},5\n")).unwrap();
            assert_eq!(verify(&record["m.py"], b"hello"), Ok(()), "{digest}");
            assert!(verify(&record["m.py"], b"hellO").is_err(), "{digest}");
        }
        let wrong = hex::encode(Sha256::digest(b"other"));
        let record = parse_record(&format!("m.py,sha256={wrong},5\n")).unwrap();
        assert!(verify(&record["m.py"], b"hello").is_err());
    }
}
