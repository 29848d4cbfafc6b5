//! Keyring loading and InRelease verification with generated keys (offline).

mod common;

use common::*;
use lockship_debian::{verify_inrelease, DebianError, Keyring};
use pgp::composed::CleartextSignedMessage;
use pgp::types::KeyDetails;

const RELEASE: &str = "Origin: Test
Suite: stable
Codename: testcode
Architectures: amd64
Components: main
SHA256:
 0000000000000000000000000000000000000000000000000000000000000000 12 main/binary-amd64/Packages
";

fn keyring_of(keys: &[&pgp::composed::SignedSecretKey]) -> Keyring {
    Keyring::from_bytes(&binary_keyring(keys)).unwrap()
}

#[test]
fn keyrings_load_from_binary_and_armored_files() {
    let a = generate_key("a");
    let b = generate_key("b");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("keys.gpg");
    fs_err::write(&bin, binary_keyring(&[&a, &b])).unwrap();
    let keyring = Keyring::load(&bin).unwrap();
    assert_eq!(keyring.len(), 2);
    assert_eq!(
        keyring.fingerprints(),
        vec![
            format!("{:X}", a.fingerprint()),
            format!("{:X}", b.fingerprint())
        ]
    );
    let asc = dir.path().join("key.asc");
    fs_err::write(&asc, armored_key(&a)).unwrap();
    assert_eq!(Keyring::load(&asc).unwrap().len(), 1);
}

#[test]
fn unusable_keyrings_name_the_file_and_hint_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gpg");
    fs_err::write(&junk, b"this is not a key").unwrap();
    let err = Keyring::load(&junk).unwrap_err();
    assert!(matches!(err, DebianError::Keyring { .. }), "{err:?}");
    assert!(err.to_string().contains("junk.gpg"), "{err}");
    assert!(err.hint().unwrap().contains("--keyring"));
    let missing = dir.path().join("missing.gpg");
    let err = Keyring::load(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.gpg"), "{err}");
}

#[test]
fn a_subkey_signature_verifies_and_the_signed_text_is_parsed() {
    let key = generate_key("archive");
    let signed = clearsign(&[&key], RELEASE);
    let release = verify_inrelease(signed.as_bytes(), &keyring_of(&[&key]), "test").unwrap();
    assert_eq!(release.suite, "stable");
    assert_eq!(release.codename, "testcode");
    assert_eq!(release.sha256["main/binary-amd64/Packages"].size, 12);
}

#[test]
fn a_primary_key_signature_verifies() {
    let key = generate_key("archive");
    let sig = signature(&key, RELEASE, false);
    let signed = CleartextSignedMessage::new_many(RELEASE, |_| Ok(vec![sig]))
        .unwrap()
        .to_armored_string(Default::default())
        .unwrap();
    verify_inrelease(signed.as_bytes(), &keyring_of(&[&key]), "test").unwrap();
}

#[test]
fn one_known_signature_among_unknown_ones_suffices() {
    let known = generate_key("known");
    let unknown = generate_key("unknown");
    let signed = clearsign(&[&unknown, &known], RELEASE);
    verify_inrelease(signed.as_bytes(), &keyring_of(&[&known]), "test").unwrap();
}

#[test]
fn signatures_by_unknown_keys_are_refused_with_their_ids() {
    let known = generate_key("known");
    let unknown = generate_key("unknown");
    let signed = clearsign(&[&unknown], RELEASE);
    let err = verify_inrelease(
        signed.as_bytes(),
        &keyring_of(&[&known]),
        "file:///x/InRelease",
    )
    .unwrap_err();
    match &err {
        DebianError::BadSignature {
            origin, key_ids, ..
        } => {
            assert_eq!(origin, "file:///x/InRelease");
            let subkey_fp = format!("{:X}", unknown.secret_subkeys[0].key.fingerprint());
            assert_eq!(key_ids, &vec![subkey_fp]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.hint().is_some());
}

#[test]
fn tampered_text_is_refused() {
    let key = generate_key("archive");
    let signed = clearsign(&[&key], RELEASE);
    let keyring = keyring_of(&[&key]);
    // Flip one byte of the signed text.
    let tampered = signed.replacen("Codename: testcode", "Codename: tustcode", 1);
    assert_ne!(tampered, signed);
    let err = verify_inrelease(tampered.as_bytes(), &keyring, "test").unwrap_err();
    assert!(matches!(err, DebianError::BadSignature { .. }), "{err:?}");
    // Unsigned text appended after the signature is not accepted either.
    let appended = format!("{signed}\nSuite: evil\n");
    assert!(verify_inrelease(appended.as_bytes(), &keyring, "test").is_err());
}

#[test]
fn an_unbound_subkey_does_not_count() {
    // A keyring holding a key whose signing subkey was grafted from another key:
    // the binding signature does not verify, so its signatures are refused.
    let owner = generate_key("owner");
    let thief = generate_key("thief");
    let mut grafted = public(&owner);
    grafted.public_subkeys = public(&thief).public_subkeys;
    let keyring = Keyring::from_keys(vec![grafted]);
    let signed = clearsign(&[&thief], RELEASE);
    assert!(matches!(
        verify_inrelease(signed.as_bytes(), &keyring, "test").unwrap_err(),
        DebianError::BadSignature { .. }
    ));
    // With the real key in place it verifies.
    let keyring = Keyring::from_keys(vec![public(&thief)]);
    verify_inrelease(signed.as_bytes(), &keyring, "test").unwrap();
}
