//! Property tests: random contents and paths round trip, and path keys are equal exactly
//! when the protocol's case keys are (`casefold(NFC(a)) == casefold(NFC(b))`).

use proptest::prelude::*;

use super::*;
use crate::blob::{BlobId, decrypt_blob, encrypt_blob};
use crate::manifest::Manifest;
use crate::names::{PathKey, open_path, seal_path};
use steel_protocol::Version;

/// Pieces that make case twins, NFC/NFD twins and near misses likely in few cases:
/// composed and decomposed accents, final and medial sigma, the Kelvin and Ångström signs,
/// dotted capital I, sharp s, ligatures.
const PIECES: &[&str] = &[
    "a", "A", "e", "E", "\u{e9}", "\u{c9}", "e\u{301}", "E\u{301}", "\u{212b}", "\u{c5}",
    "A\u{30a}", "\u{e5}", "\u{212a}", "k", "K", "\u{130}", "i", "I", "\u{3a3}", "\u{3c3}",
    "\u{3c2}", "\u{df}", "ss", "SS", "\u{fb01}", "fi", " ", ".md", "/",
];

fn piece_path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..8).prop_map(|v| v.concat())
}

fn valid(raw: &str) -> Option<steel_protocol::VaultPath> {
    steel_protocol::VaultPath::parse(raw).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn contents_round_trip(content in prop::collection::vec(any::<u8>(), 0..140_000), seed: u64) {
        let k = keys();
        let blob = encrypt_blob(&k, &content, &mut rng(seed));
        prop_assert_eq!(blob.id, BlobId::of(&k, &content));
        prop_assert_eq!(decrypt_blob(&k, &blob.id, &blob.bytes).unwrap(), content);
    }

    #[test]
    fn paths_and_manifests_round_trip(raw in "[^/\u{0}-\u{1f}\\\\]{1,40}(/[^/\u{0}-\u{1f}\\\\]{1,40}){0,3}", seed: u64, size: u64, mtime_ms: i64, version in 1i64..1_000_000) {
        let Some(p) = valid(&raw) else { return Ok(()) };
        let k = keys();
        let key = PathKey::of(&k, &p);
        prop_assert_eq!(open_path(&k, &key, &seal_path(&k, &p, &mut rng(seed))).unwrap(), p.clone());
        let m = Manifest { path: p, blob_id: BlobId::of(&k, raw.as_bytes()), size, mtime_ms };
        let v = Version::new(version).unwrap();
        prop_assert_eq!(Manifest::open(&k, &key, v, &m.seal(&k, v, &mut rng(seed))).unwrap(), m);
    }

    #[test]
    fn path_keys_equal_exactly_when_case_keys_are(a in piece_path(), b in piece_path()) {
        let (Some(pa), Some(pb)) = (valid(&a), valid(&b)) else { return Ok(()) };
        let k = keys();
        let same_case_key = pa.case_key() == pb.case_key();
        prop_assert_eq!(PathKey::of(&k, &pa) == PathKey::of(&k, &pb), same_case_key);
        // Twins by construction: the other case and the other normalization form.
        for twin in [a.to_uppercase(), a.to_lowercase(), unicode_normalization::UnicodeNormalization::nfd(a.as_str()).collect()] {
            if let Some(pt) = valid(&twin) {
                prop_assert_eq!(PathKey::of(&k, &pt) == PathKey::of(&k, &pa), pt.case_key() == pa.case_key());
            }
        }
    }
}
