//! Round trips of every object, and the clear errors: wrong passphrase, wrong recovery
//! code, a typo in a recovery code, a slot of the wrong kind or outside the KDF policy.

use super::*;
use crate::blob::{self, SEGMENT_LEN, decrypt_blob, encrypt_blob, padded_len};
use crate::error::CryptoError;
use crate::manifest::Manifest;
use crate::names::{PathKey, open_path, seal_path};
use crate::recovery::RecoveryCode;
use crate::slot::{KeySlot, SlotKind};
use steel_protocol::Version;

#[test]
fn passphrase_slot_opens_with_its_passphrase_only() {
    let vk = fixed_vk();
    let slot = KeySlot::seal_passphrase(&vk, 0, "correct horse", FAST, &mut rng(1)).unwrap();
    let parsed = KeySlot::parse(&slot.to_bytes()).unwrap();
    assert_eq!(parsed, slot);
    assert_eq!(
        parsed
            .open_passphrase("correct horse", &TEST_POLICY)
            .unwrap(),
        vk
    );
    assert_eq!(
        parsed.open_passphrase("correct horsf", &TEST_POLICY),
        Err(CryptoError::WrongPassphrase)
    );
}

#[test]
fn passphrase_is_compared_in_nfc() {
    let vk = fixed_vk();
    let slot = KeySlot::seal_passphrase(&vk, 0, "caf\u{e9}", FAST, &mut rng(2)).unwrap();
    assert_eq!(
        slot.open_passphrase("cafe\u{301}", &TEST_POLICY).unwrap(),
        vk
    );
}

#[test]
fn default_policy_refuses_weak_and_costly_slots_before_any_work() {
    let slot = KeySlot::seal_passphrase(&fixed_vk(), 0, "pw", FAST, &mut rng(3)).unwrap();
    assert!(matches!(
        slot.open_passphrase("pw", &KdfPolicy::DEFAULT),
        Err(CryptoError::KdfTooWeak {
            m_kib: 64,
            t: 1,
            p: 1
        })
    ));
    let floor = KdfPolicy::DEFAULT.floor;
    assert_eq!(KdfPolicy::DEFAULT.check(floor), Ok(()));
    assert_eq!(KdfPolicy::DEFAULT.check(KdfParams::DEFAULT), Ok(()));
    let below = |f: fn(&mut KdfParams)| {
        let mut p = floor;
        f(&mut p);
        KdfPolicy::DEFAULT.check(p)
    };
    assert!(matches!(
        below(|p| p.m_kib -= 1),
        Err(CryptoError::KdfTooWeak { .. })
    ));
    assert!(matches!(
        below(|p| p.t -= 1),
        Err(CryptoError::KdfTooWeak { .. })
    ));
    // A hostile slot asking for 4 GiB is refused instantly, not computed.
    let mut huge = slot.clone();
    huge.kdf = Some(KdfParams {
        m_kib: u32::MAX,
        t: 3,
        p: 1,
    });
    assert!(matches!(
        huge.open_passphrase("pw", &KdfPolicy::DEFAULT),
        Err(CryptoError::KdfTooCostly { .. })
    ));
}

#[test]
fn recovery_slot_opens_with_its_code_only() {
    let vk = fixed_vk();
    let code = RecoveryCode::generate(&mut rng(4));
    let slot = KeySlot::seal_recovery(&vk, 0, &code, &mut rng(5));
    let typed = code.display();
    let parsed = RecoveryCode::parse(&typed).unwrap();
    assert_eq!(
        KeySlot::parse(&slot.to_bytes())
            .unwrap()
            .open_recovery(&parsed)
            .unwrap(),
        vk
    );
    let other = RecoveryCode::generate(&mut rng(6));
    assert_eq!(
        slot.open_recovery(&other),
        Err(CryptoError::WrongRecoveryCode)
    );
    assert_eq!(
        slot.open_passphrase("x", &TEST_POLICY),
        Err(CryptoError::WrongSlotKind {
            actual: "recovery-code"
        })
    );
}

#[test]
fn recovery_code_reads_as_people_type_it() {
    let code = RecoveryCode::generate(&mut rng(7));
    let shown = code.display();
    assert_eq!(shown.len(), 41);
    assert!(shown.split('-').all(|g| g.len() == 5));
    let sloppy = shown
        .to_lowercase()
        .replace('-', " ")
        .replace('0', "o")
        .replace('1', "l");
    assert_eq!(RecoveryCode::parse(&sloppy).unwrap(), code);
    assert!(matches!(
        RecoveryCode::parse(&shown[..40]),
        Err(CryptoError::RecoveryCodeFormat(_))
    ));
    assert!(matches!(
        RecoveryCode::parse(&shown.replacen(|c: char| c.is_ascii_alphanumeric(), "U", 1)),
        Err(CryptoError::RecoveryCodeFormat(_))
    ));
}

#[test]
fn every_single_substitution_and_adjacent_swap_is_a_typo() {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for seed in 0..4 {
        let shown: Vec<char> = RecoveryCode::generate(&mut rng(100 + seed))
            .display()
            .chars()
            .filter(|&c| c != '-')
            .collect();
        for at in 0..shown.len() {
            for c in ALPHABET.chars().filter(|&c| c != shown[at]) {
                let mut typo = shown.clone();
                typo[at] = c;
                let typo: String = typo.into_iter().collect();
                assert_eq!(
                    RecoveryCode::parse(&typo),
                    Err(CryptoError::RecoveryCodeTypo),
                    "{typo}"
                );
            }
        }
        for at in 0..31 {
            if shown[at] != shown[at + 1] {
                let mut typo = shown.clone();
                typo.swap(at, at + 1);
                let typo: String = typo.into_iter().collect();
                assert_eq!(
                    RecoveryCode::parse(&typo),
                    Err(CryptoError::RecoveryCodeTypo)
                );
            }
        }
    }
}

#[test]
fn subkeys_are_distinct_and_rotation_keeps_path_keys_and_blob_ids() {
    let k0 = keys();
    let g0 = k0.current().clone();
    let all = [
        k0.name_key(),
        k0.dedup_key(),
        &g0.meta,
        &g0.wrap,
        &fixed_vk(),
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let p = path("thoughts/Hello.md");
    let sealed_path = seal_path(&k0, &p, &mut rng(8));
    let old_blob = encrypt_blob(&k0, b"old", &mut rng(9));

    let (vk1, k1, keyring1) = k0.rotate(&mut rng(10));
    let (vk2, k2, keyring2) = k1.rotate(&mut rng(11));
    for (vk, g, keyring, expected) in [(&vk1, 1, &keyring1, &k1), (&vk2, 2, &keyring2, &k2)] {
        let opened = VaultKeys::open(vk, g, Some(keyring)).unwrap();
        assert_eq!(&opened, expected);
        assert_eq!(opened.generation(), g);
        assert_eq!(PathKey::of(&opened, &p), PathKey::of(&k0, &p));
        assert_eq!(blob::BlobId::of(&opened, b"x"), blob::BlobId::of(&k0, b"x"));
        assert_ne!(opened.current(), &g0);
        // Objects of older generations still open.
        assert_eq!(
            open_path(&opened, &PathKey::of(&k0, &p), &sealed_path).unwrap(),
            p
        );
        assert_eq!(
            decrypt_blob(&opened, &old_blob.id, &old_blob.bytes).unwrap(),
            b"old"
        );
    }
    // A keyring opens only with its own generation's VK, and only as that generation.
    assert!(VaultKeys::open(&fixed_vk(), 1, Some(&keyring1)).is_err());
    assert!(VaultKeys::open(&vk2, 1, Some(&keyring2)).is_err());
    assert!(VaultKeys::open(&vk1, 1, None).is_err());
    // Generation 0 cannot read generation 1's objects.
    let new_blob = encrypt_blob(&k1, b"new", &mut rng(12));
    assert_eq!(
        decrypt_blob(&k0, &new_blob.id, &new_blob.bytes),
        Err(CryptoError::UnknownGeneration(1))
    );
}

#[test]
fn paths_round_trip_in_their_exact_case() {
    let k = keys();
    for raw in [
        "a",
        "thoughts/Hello.md",
        "Caf\u{e9}/\u{130}stanbul.md",
        &"x/".repeat(300)[..599],
    ] {
        let p = path(raw);
        let sealed = seal_path(&k, &p, &mut rng(13));
        assert_eq!((sealed.len() - 29 - 16) % 32, 0);
        assert_eq!(open_path(&k, &PathKey::of(&k, &p), &sealed).unwrap(), p);
    }
}

#[test]
fn blobs_round_trip_at_every_size_class() {
    let k = keys();
    for len in [
        0,
        1,
        255,
        256,
        SEGMENT_LEN - 1,
        SEGMENT_LEN,
        SEGMENT_LEN + 1,
        3 * SEGMENT_LEN + 7,
    ] {
        let content = pattern(len);
        let blob = encrypt_blob(&k, &content, &mut rng(len as u64));
        let segments = padded_len(len).div_ceil(SEGMENT_LEN);
        assert_eq!(
            blob.bytes.len(),
            blob::HEADER_LEN + padded_len(len) + 16 * segments
        );
        assert_eq!(decrypt_blob(&k, &blob.id, &blob.bytes).unwrap(), content);
    }
}

#[test]
fn padding_buckets() {
    let table = [
        (0, 256),
        (255, 256),
        (256, 512),
        (65535, 65536),
        (65536, 69632),
        (65537, 69632),
        (1 << 20, 1114112),
        ((1 << 20) - 1, 1 << 20),
    ];
    for (len, padded) in table {
        assert_eq!(padded_len(len), padded, "{len}");
    }
    for len in (0..5_000_000).step_by(997) {
        let p = padded_len(len);
        assert!(
            p > len && (p as f64) <= (len + 1) as f64 * 1.0625 + 256.0,
            "{len}"
        );
    }
}

#[test]
fn manifests_round_trip() {
    let k = keys();
    let p = path("syntheses/\u{c9}t\u{e9}.md");
    let m = Manifest {
        path: p.clone(),
        blob_id: blob::BlobId::of(&k, b"content"),
        size: 7,
        mtime_ms: -1,
    };
    let v = Version::new(3).unwrap();
    let sealed = m.seal(&k, v, &mut rng(14));
    assert_eq!(
        Manifest::open(&k, &PathKey::of(&k, &p), v, &sealed).unwrap(),
        m
    );
    assert_eq!(SlotKind::Passphrase as u8, 1);
}
