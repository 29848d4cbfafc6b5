//! Extra certificate authorities (`--ca-cert`), for every flavor of base:
//! appended to the CA bundle and placed in `/usr/local/share/ca-certificates/`,
//! for builds behind a TLS-intercepting proxy.

use std::collections::BTreeSet;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::fsbase::{self, write_file};
use crate::{BaseOptions, RuntimeError};

/// An extra certificate authority to trust (`--ca-cert`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaCert {
    /// The file name it gets under `/usr/local/share/ca-certificates/`
    /// (ends in `.crt`).
    pub name: String,
    /// The PEM text: only its `CERTIFICATE` blocks, each ending in a newline.
    pub pem: String,
}

impl CaCert {
    /// A certificate named after `file_name` (its stem, made safe, plus
    /// `.crt`) from the PEM text `text`. Returns `None` when `text` has no
    /// `-----BEGIN CERTIFICATE-----` block.
    pub fn from_pem(file_name: &str, text: &str) -> Option<CaCert> {
        let mut pem = String::new();
        let mut inside = false;
        for line in text.lines() {
            let line = line.trim_end();
            if line == "-----BEGIN CERTIFICATE-----" {
                inside = true;
            }
            if inside {
                pem.push_str(line);
                pem.push('\n');
            }
            if line == "-----END CERTIFICATE-----" {
                inside = false;
            }
        }
        if pem.is_empty() || inside {
            return None;
        }
        let stem = file_name
            .rsplit('/')
            .next()
            .unwrap_or(file_name)
            .trim_end_matches(".crt")
            .trim_end_matches(".pem");
        let mut name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() || name.starts_with('.') {
            name.insert_str(0, "ca");
        }
        name.push_str(".crt");
        Some(CaCert { name, pem })
    }

    /// SHA-256 of the PEM text, hex.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.pem.as_bytes()))
    }
}

/// Where `--ca-cert` certificates go, as `update-ca-certificates` expects.
pub const LOCAL_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// Appends `certs` to the CA bundle and writes each to [`LOCAL_CA_DIR`].
/// Returns how many were added. Duplicate names keep the first.
pub fn add_ca_certs(root: &Path, certs: &[CaCert]) -> Result<usize, RuntimeError> {
    if certs.is_empty() {
        return Ok(0);
    }
    let bundle_path = root.join(fsbase::CA_BUNDLE.trim_start_matches('/'));
    let mut bundle = std::fs::read(&bundle_path).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with(b"\n") {
        bundle.push(b'\n');
    }
    let mut seen = BTreeSet::new();
    for cert in certs {
        if !seen.insert(cert.name.as_str()) {
            continue;
        }
        write_file(
            root,
            &format!("{LOCAL_CA_DIR}/{}", cert.name),
            cert.pem.as_bytes(),
        )?;
        bundle.extend_from_slice(cert.pem.as_bytes());
    }
    write_file(root, fsbase::CA_BUNDLE, &bundle)?;
    Ok(seen.len())
}

/// The `--ca-cert NAME` part of a history line.
pub(crate) fn ca_cert_args(certs: &[CaCert]) -> String {
    certs
        .iter()
        .map(|c| format!(" --ca-cert {}", c.name))
        .collect()
}

/// `NAME=sha256:HEX` of each `--ca-cert`, space-separated.
pub(crate) fn ca_cert_annotation(options: &BaseOptions) -> String {
    options
        .ca_certs
        .iter()
        .map(|c| format!("{}=sha256:{}", c.name, c.sha256()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nmore\n";

    #[test]
    fn ca_cert_keeps_only_certificate_blocks() {
        let cert = CaCert::from_pem("dir/My Proxy.pem", PEM).unwrap();
        assert_eq!(cert.name, "My_Proxy.crt");
        assert_eq!(
            cert.pem,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
        assert!(CaCert::from_pem("x.crt", "not a cert").is_none());
        assert!(CaCert::from_pem("x.crt", "-----BEGIN CERTIFICATE-----\nAA\n").is_none());
    }

    #[test]
    fn ca_certs_are_appended_to_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), fsbase::CA_BUNDLE, b"A").unwrap();
        let cert = CaCert::from_pem("proxy.crt", PEM).unwrap();
        assert_eq!(add_ca_certs(dir.path(), &[cert.clone(), cert]).unwrap(), 1);
        let bundle =
            std::fs::read_to_string(dir.path().join("etc/ssl/certs/ca-certificates.crt")).unwrap();
        assert_eq!(
            bundle,
            "A\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
        assert!(dir
            .path()
            .join("usr/local/share/ca-certificates/proxy.crt")
            .is_file());
    }
}
