//! The tamper matrix: every single-bit flip of every small object, and flips, truncations,
//! drops, duplicates, swaps and moves of blobs, and replays of manifests and paths. Each
//! must be an error, never a wrong plaintext.

use super::*;
use crate::blob::{BlobId, EncryptedBlob, HEADER_LEN, SEGMENT_LEN, decrypt_blob, encrypt_blob};
use crate::manifest::Manifest;
use crate::names::{PathKey, open_path, seal_path};
use crate::recovery::RecoveryCode;
use crate::slot::KeySlot;
use steel_protocol::Version;

const SEGMENT_CT: usize = SEGMENT_LEN + 16;

#[test]
fn every_bit_of_a_passphrase_slot() {
    let vk = fixed_vk();
    let slot = KeySlot::seal_passphrase(&vk, 0, "pw", FAST, &mut rng(20))
        .unwrap()
        .to_bytes();
    assert_eq!(
        KeySlot::parse(&slot)
            .unwrap()
            .open_passphrase("pw", &TEST_POLICY)
            .unwrap(),
        vk
    );
    for flipped in bit_flips(&slot) {
        let opened = KeySlot::parse(&flipped).and_then(|s| s.open_passphrase("pw", &TEST_POLICY));
        assert!(opened.is_err());
    }
}

#[test]
fn every_bit_of_a_recovery_slot() {
    let code = RecoveryCode::generate(&mut rng(21));
    let slot = KeySlot::seal_recovery(&fixed_vk(), 0, &code, &mut rng(22)).to_bytes();
    for flipped in bit_flips(&slot) {
        assert!(
            KeySlot::parse(&flipped)
                .and_then(|s| s.open_recovery(&code))
                .is_err()
        );
    }
}

#[test]
fn a_slot_cannot_be_relabelled() {
    let code = RecoveryCode::generate(&mut rng(23));
    let mut slot = KeySlot::seal_recovery(&fixed_vk(), 0, &code, &mut rng(24));
    slot.id[0] ^= 1;
    assert!(slot.open_recovery(&code).is_err());
    let mut slot = KeySlot::seal_recovery(&fixed_vk(), 0, &code, &mut rng(24));
    slot.generation = 1;
    assert!(slot.open_recovery(&code).is_err());
}

#[test]
fn every_bit_of_a_keyring() {
    let (vk1, _, keyring) = keys().rotate(&mut rng(25));
    for flipped in bit_flips(&keyring) {
        assert!(VaultKeys::open(&vk1, 1, Some(&flipped)).is_err());
    }
}

#[test]
fn every_bit_of_an_encrypted_path_and_another_path_key() {
    let k = keys();
    let p = path("thoughts/Secret plan.md");
    let key = PathKey::of(&k, &p);
    let sealed = seal_path(&k, &p, &mut rng(26));
    for flipped in bit_flips(&sealed) {
        assert!(open_path(&k, &key, &flipped).is_err());
    }
    let other = PathKey::of(&k, &path("thoughts/Other.md"));
    assert!(open_path(&k, &other, &sealed).is_err());
    assert!(open_path(&k, &key, &sealed[..sealed.len() - 1]).is_err());
}

#[test]
fn every_bit_of_a_manifest_and_replays() {
    let k = keys();
    let p = path("questions/Why.md");
    let key = PathKey::of(&k, &p);
    let v3 = Version::new(3).unwrap();
    let m = Manifest {
        path: p,
        blob_id: BlobId::of(&k, b"why"),
        size: 3,
        mtime_ms: 1_700_000_000_000,
    };
    let sealed = m.seal(&k, v3, &mut rng(27));
    for flipped in bit_flips(&sealed) {
        assert!(Manifest::open(&k, &key, v3, &flipped).is_err());
    }
    // Replayed at another version, or under another note.
    assert!(Manifest::open(&k, &key, Version::new(4).unwrap(), &sealed).is_err());
    assert!(Manifest::open(&k, &key, Version::new(2).unwrap(), &sealed).is_err());
    let other = PathKey::of(&k, &path("questions/How.md"));
    assert!(Manifest::open(&k, &other, v3, &sealed).is_err());
    assert_eq!(Manifest::open(&k, &key, v3, &sealed).unwrap(), m);
}

fn assert_rejected(k: &VaultKeys, id: &BlobId, bytes: &[u8], what: &str) {
    assert!(decrypt_blob(k, id, bytes).is_err(), "{what} was accepted");
}

#[test]
fn every_bit_of_a_blob_header_and_of_a_small_blob() {
    let k = keys();
    let blob = encrypt_blob(&k, b"x", &mut rng(28));
    assert_eq!(blob.bytes.len(), HEADER_LEN + 256 + 16);
    for flipped in bit_flips(&blob.bytes) {
        assert_rejected(&k, &blob.id, &flipped, "a bit flip");
    }
}

/// A blob of three segments (the last one short).
fn three_segments(seed: u64) -> (VaultKeys, EncryptedBlob) {
    let k = keys();
    let blob = encrypt_blob(
        &k,
        &pattern(2 * SEGMENT_LEN + 1000 + seed as usize),
        &mut rng(seed),
    );
    assert_eq!(blob.bytes.len().div_ceil(SEGMENT_CT), 3);
    (k, blob)
}

fn segments(blob: &[u8]) -> Vec<&[u8]> {
    blob[HEADER_LEN..].chunks(SEGMENT_CT).collect()
}

fn assemble(header: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = header.to_vec();
    parts.iter().for_each(|p| out.extend_from_slice(p));
    out
}

#[test]
fn bit_flips_in_every_segment() {
    let (k, blob) = three_segments(29);
    let mut positions = Vec::new();
    let mut start = HEADER_LEN;
    for segment in segments(&blob.bytes) {
        let end = start + segment.len();
        // The first bytes, the tag (last 16 bytes), and a spread across the middle.
        positions.extend(start..start + 4);
        positions.extend(end - 16..end);
        positions.extend((start..end).step_by(segment.len() / 16 + 1));
        start = end;
    }
    for at in positions {
        for bit in [0, 7] {
            let mut flipped = blob.bytes.clone();
            flipped[at] ^= 1 << bit;
            assert_rejected(&k, &blob.id, &flipped, "a bit flip in a segment");
        }
    }
}

#[test]
fn truncation_at_every_segment_boundary_and_near_the_end() {
    let (k, blob) = three_segments(30);
    let len = blob.bytes.len();
    let mut cuts = vec![
        0,
        HEADER_LEN - 1,
        HEADER_LEN,
        HEADER_LEN + SEGMENT_CT,
        HEADER_LEN + 2 * SEGMENT_CT,
    ];
    cuts.extend(len - 40..len);
    for cut in cuts {
        assert_rejected(&k, &blob.id, &blob.bytes[..cut], "a truncated blob");
    }
    let mut longer = blob.bytes.clone();
    longer.push(0);
    assert_rejected(&k, &blob.id, &longer, "a blob with a byte appended");
}

#[test]
fn dropped_duplicated_and_swapped_segments() {
    let (k, blob) = three_segments(31);
    let header = &blob.bytes[..HEADER_LEN];
    let [a, b, c] = segments(&blob.bytes)[..] else {
        panic!("three segments")
    };
    assert_eq!(
        decrypt_blob(&k, &blob.id, &assemble(header, &[a, b, c]))
            .unwrap()
            .len(),
        2 * SEGMENT_LEN + 1031
    );
    for (parts, what) in [
        (vec![a, c], "a dropped middle segment"),
        (vec![b, c], "a dropped first segment"),
        (vec![a, b], "a dropped last segment"),
        (vec![a, a, b, c], "a duplicated segment"),
        (vec![a, b, b, c], "a duplicated segment"),
        (vec![b, a, c], "swapped segments"),
        (vec![a, b, c, c], "a duplicated last segment"),
    ] {
        assert_rejected(&k, &blob.id, &assemble(header, &parts), what);
    }
}

#[test]
fn swapped_headers_moved_blobs_and_other_vaults() {
    let (k, one) = three_segments(32);
    let (_, two) = three_segments(33);
    let (h1, h2) = (&one.bytes[..HEADER_LEN], &two.bytes[..HEADER_LEN]);
    let swapped = assemble(h2, &segments(&one.bytes));
    assert_rejected(
        &k,
        &one.id,
        &swapped,
        "blob one's body under blob two's header",
    );
    assert_rejected(
        &k,
        &two.id,
        &swapped,
        "blob one's body under blob two's header and id",
    );
    assert_rejected(
        &k,
        &two.id,
        &assemble(h1, &segments(&two.bytes)),
        "a swapped header",
    );
    assert_rejected(
        &k,
        &two.id,
        &one.bytes,
        "a blob moved under another blob id",
    );
    // The same content in another vault has another id and does not open here.
    let other = VaultKeys::generation0(&SecretKey::from_bytes([7; 32]));
    let theirs = encrypt_blob(&other, &pattern(2 * SEGMENT_LEN + 1032), &mut rng(32));
    assert_ne!(theirs.id, one.id);
    assert_rejected(&k, &theirs.id, &theirs.bytes, "another vault's blob");
    assert_rejected(
        &k,
        &one.id,
        &theirs.bytes,
        "another vault's blob under our id",
    );
}

/// A device holding the wrap and metadata keys but another dedup or name key (a bug or a
/// forgery): the AEAD opens, and the keyed-hash checks still refuse the result.
#[test]
fn keyed_hash_checks_after_decryption() {
    let k = keys();
    let mut forger = k.clone();
    forger.dedup = SecretKey::from_bytes([1; 32]);
    forger.name = SecretKey::from_bytes([2; 32]);
    let blob = encrypt_blob(&forger, b"forged", &mut rng(34));
    assert_eq!(
        decrypt_blob(&k, &blob.id, &blob.bytes),
        Err(crate::CryptoError::BlobIdMismatch)
    );
    let p = path("thoughts/Forged.md");
    let forged_key = PathKey::of(&forger, &p);
    let sealed = seal_path(&forger, &p, &mut rng(35));
    assert!(matches!(
        open_path(&k, &forged_key, &sealed),
        Err(crate::CryptoError::Malformed { .. })
    ));
    let m = Manifest {
        path: p,
        blob_id: blob.id,
        size: 6,
        mtime_ms: 0,
    };
    let v = Version::new(1).unwrap();
    let sealed = m.seal(&forger, v, &mut rng(36));
    assert!(Manifest::open(&k, &forged_key, v, &sealed).is_err());
}
