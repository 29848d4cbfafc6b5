//! Signed Release files (`InRelease`).

use std::collections::BTreeMap;

use pgp::composed::CleartextSignedMessage;
use pgp::packet::Signature;

use crate::deb822;
use crate::{DebianError, Keyring};

/// The size and SHA-256 of a file listed in a Release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSum {
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// A parsed Release file whose signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `Origin` (e.g. `Debian`).
    pub origin: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `Suite` (e.g. `stable`).
    pub suite: String,
    /// `Codename` (e.g. `bookworm`).
    pub codename: String,
    /// `Version` (e.g. `12.10`).
    pub version: Option<String>,
    /// `Date`, as written (RFC 2822).
    pub date: Option<String>,
    /// `Valid-Until`, as written (RFC 2822), if any. Not enforced here.
    pub valid_until: Option<String>,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Components`.
    pub components: Vec<String>,
    /// `Acquire-By-Hash: yes`: indexes are also published under
    /// `by-hash/SHA256/<hash>` next to them.
    pub acquire_by_hash: bool,
    /// The `SHA256` list: path relative to `dists/SUITE/` to its sum.
    pub sha256: BTreeMap<String, FileSum>,
}

impl Release {
    /// Whether `name` is this release's suite or codename.
    pub fn is_named(&self, name: &str) -> bool {
        self.suite == name || self.codename == name
    }
}

/// Verifies a clear-signed `InRelease` file against `keyring`, then parses
/// the signed text (never anything outside the signature).
///
/// Signatures by keys that are not in the keyring are skipped; one valid
/// signature by a key (primary or subkey) in the keyring suffices. `origin`
/// (the URL) names the file in errors.
pub fn verify_inrelease(
    bytes: &[u8],
    keyring: &Keyring,
    origin: &str,
) -> Result<Release, DebianError> {
    let text = verify_cleartext(bytes, keyring, origin)?;
    parse_release(&text, origin)
}

/// Verifies a clear-signed message and returns the signed text with `\n`
/// line endings.
pub(crate) fn verify_cleartext(
    bytes: &[u8],
    keyring: &Keyring,
    origin: &str,
) -> Result<String, DebianError> {
    let bad = |key_ids: Vec<String>, reason: String| DebianError::BadSignature {
        origin: origin.to_string(),
        key_ids,
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| bad(Vec::new(), "the file is not UTF-8 text".to_string()))?;
    let (message, _headers) = CleartextSignedMessage::from_string(text).map_err(|e| {
        bad(
            Vec::new(),
            format!("the file is not an OpenPGP clear-signed message ({e})"),
        )
    })?;
    let signed = message.signed_text();
    let mut seen = Vec::new();
    for signature in message.signatures() {
        seen.extend(issuers(signature));
        if verifies(signature, keyring, signed.as_bytes()) {
            return Ok(signed.replace("\r\n", "\n"));
        }
    }
    seen.sort();
    seen.dedup();
    let reason = if message.signatures().is_empty() {
        "the message carries no signature".to_string()
    } else {
        format!(
            "none of its {} signature(s) is valid and made by a key in the keyring ({} key(s))",
            message.signatures().len(),
            keyring.len()
        )
    };
    Err(bad(seen, reason))
}

fn verifies(signature: &Signature, keyring: &Keyring, data: &[u8]) -> bool {
    keyring.keys.iter().any(|key| {
        if signature.verify(&key.primary_key, data).is_ok() {
            return true;
        }
        key.public_subkeys.iter().any(|subkey| {
            // Only subkeys that the primary key really bound to itself count.
            signature.verify(&subkey.key, data).is_ok()
                && subkey.verify_bindings(&key.primary_key).is_ok()
        })
    })
}

fn issuers(signature: &Signature) -> Vec<String> {
    let mut ids: Vec<String> = signature
        .issuer_fingerprint()
        .into_iter()
        .map(|fp| format!("{fp:X}"))
        .collect();
    if ids.is_empty() {
        ids = signature
            .issuer_key_id()
            .into_iter()
            .map(|id| hex::encode_upper(id.as_ref()))
            .collect();
    }
    ids
}

/// Parses the (already verified) text of a Release file.
pub fn parse_release(text: &str, origin: &str) -> Result<Release, DebianError> {
    let stanzas = deb822::parse(text, origin)?;
    let Some(stanza) = stanzas.first() else {
        return Err(DebianError::Parse {
            origin: origin.to_string(),
            line: 1,
            reason: "the Release file is empty".to_string(),
        });
    };
    let optional = |f: &str| stanza.get(f).map(str::to_string);
    let words = |f: &str| -> Vec<String> {
        stanza
            .raw(f)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let suite = optional("Suite");
    let codename = optional("Codename");
    let (suite, codename) = match (suite, codename) {
        (Some(s), Some(c)) => (s, c),
        (Some(s), None) => (s.clone(), s),
        (None, Some(c)) => (c.clone(), c),
        (None, None) => {
            return Err(DebianError::MissingField {
                origin: origin.to_string(),
                stanza: "Release".to_string(),
                field: "Suite".to_string(),
            })
        }
    };
    let mut sha256 = BTreeMap::new();
    for (n, line) in stanza.lines("SHA256").enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let parsed = match parts.as_slice() {
            [hash, size, path]
                if hash.len() == 64 && hash.bytes().all(|c| c.is_ascii_hexdigit()) =>
            {
                size.parse::<u64>().ok().map(|size| {
                    (
                        path.to_string(),
                        FileSum {
                            size,
                            sha256: hash.to_ascii_lowercase(),
                        },
                    )
                })
            }
            _ => None,
        };
        let Some((path, sum)) = parsed else {
            return Err(DebianError::Parse {
                origin: origin.to_string(),
                line: stanza.line,
                reason: format!("entry {} of `SHA256` is malformed: `{line}`", n + 1),
            });
        };
        sha256.insert(path, sum);
    }
    if sha256.is_empty() {
        return Err(DebianError::MissingField {
            origin: origin.to_string(),
            stanza: "Release".to_string(),
            field: "SHA256".to_string(),
        });
    }
    Ok(Release {
        origin: optional("Origin"),
        label: optional("Label"),
        version: optional("Version"),
        date: optional("Date"),
        valid_until: optional("Valid-Until"),
        architectures: words("Architectures"),
        components: words("Components"),
        acquire_by_hash: stanza
            .get("Acquire-By-Hash")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        suite,
        codename,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian
Label: Debian
Suite: stable
Version: 12.10
Codename: bookworm
Date: Sat, 15 Mar 2025 10:01:25 UTC
Acquire-By-Hash: yes
Architectures: all amd64 arm64 armhf
Components: main contrib non-free-firmware non-free
Description: Debian 12.10 Released 15 March 2025
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 2e3d2ba42a4e3ecbb9ae1e7b2a1c6b2d9b2c1d2e3f4a5b6c7d8e9f0a1b2c3d4e  20 main/binary-amd64/Packages.xz
 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 300 main/binary-amd64/Packages
";

    #[test]
    fn parses_release_fields_and_sums() {
        let r = parse_release(RELEASE, "Release").unwrap();
        assert_eq!(r.suite, "stable");
        assert_eq!(r.codename, "bookworm");
        assert!(r.is_named("bookworm") && r.is_named("stable") && !r.is_named("trixie"));
        assert_eq!(r.origin.as_deref(), Some("Debian"));
        assert_eq!(r.version.as_deref(), Some("12.10"));
        assert!(r.acquire_by_hash);
        assert_eq!(r.architectures, vec!["all", "amd64", "arm64", "armhf"]);
        assert_eq!(r.components.len(), 4);
        assert_eq!(r.sha256.len(), 2);
        let sum = &r.sha256["main/binary-amd64/Packages"];
        assert_eq!(sum.size, 300);
        assert_eq!(sum.sha256, "a".repeat(64));
    }

    #[test]
    fn malformed_sums_and_missing_fields_are_errors() {
        let bad = RELEASE.replace(" 300 main", " x main");
        assert!(matches!(
            parse_release(&bad, "R").unwrap_err(),
            DebianError::Parse { .. }
        ));
        let no_suite = RELEASE
            .replace("Suite: stable\n", "")
            .replace("Codename: bookworm\n", "");
        assert!(matches!(
            parse_release(&no_suite, "R").unwrap_err(),
            DebianError::MissingField { field, .. } if field == "Suite"
        ));
        let cut = RELEASE.split("SHA256:").next().unwrap();
        assert!(matches!(
            parse_release(cut, "R").unwrap_err(),
            DebianError::MissingField { field, .. } if field == "SHA256"
        ));
    }

    #[test]
    fn unsigned_text_is_refused() {
        let keyring = Keyring::from_keys(Vec::new());
        let err =
            verify_inrelease(RELEASE.as_bytes(), &keyring, "file:///r/InRelease").unwrap_err();
        match err {
            DebianError::BadSignature { origin, reason, .. } => {
                assert_eq!(origin, "file:///r/InRelease");
                assert!(reason.contains("clear-signed"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
