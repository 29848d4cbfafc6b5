//! OpenPGP keyrings of trusted archive signing keys.

use std::io::BufReader;
use std::path::Path;

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

use crate::DebianError;

/// A set of trusted OpenPGP public keys (with their subkeys).
#[derive(Debug, Clone)]
pub struct Keyring {
    pub(crate) keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Where Debian's `debian-archive-keyring` package installs the archive keys.
    pub const DEFAULT_PATH: &'static str = "/usr/share/keyrings/debian-archive-keyring.gpg";

    /// Loads a keyring file holding one or more keys, as binary OpenPGP
    /// packets (`.gpg`) or ASCII-armored (`.asc`). Keys that cannot be
    /// parsed (e.g. unsupported algorithms) are skipped; a file with no
    /// usable key is an error.
    pub fn load(path: &Path) -> Result<Keyring, DebianError> {
        let file = fs_err::File::open(path).map_err(|e| DebianError::Keyring {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_reader(BufReader::new(file)).map_err(|reason| DebianError::Keyring {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses keys from bytes (binary or ASCII-armored).
    pub fn from_bytes(bytes: &[u8]) -> Result<Keyring, DebianError> {
        Self::from_reader(bytes).map_err(|reason| DebianError::Keyring {
            path: "<memory>".into(),
            reason,
        })
    }

    /// Builds a keyring from already-parsed keys.
    pub fn from_keys(keys: Vec<SignedPublicKey>) -> Keyring {
        Keyring { keys }
    }

    fn from_reader<'a>(reader: impl std::io::BufRead + 'a) -> Result<Keyring, String> {
        let (iter, _headers) =
            SignedPublicKey::from_reader_many_buf(reader).map_err(|e| e.to_string())?;
        let mut keys = Vec::new();
        let mut first_error = None;
        for (count, key) in iter.enumerate() {
            if count > 100_000 {
                return Err("too many entries".to_string());
            }
            match key {
                Ok(key) => keys.push(key),
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if keys.is_empty() {
            return Err(match first_error {
                Some(e) => format!("no usable OpenPGP public key ({e})"),
                None => "no OpenPGP public key found".to_string(),
            });
        }
        Ok(Keyring { keys })
    }

    /// How many primary keys the keyring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The fingerprints (uppercase hex) of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.fingerprint()))
            .collect()
    }
}
