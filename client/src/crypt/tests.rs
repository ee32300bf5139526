//! The checks of [`super::open_sealed`] and [`super::open_blob`]: each way a server could
//! lie about a version is refused, the honest answer opens.

use steel_crypto::blob::BlobRandom;
use steel_crypto::{SecretKey, VaultKeys, encrypt_blob_with, seal_path_with};
use steel_protocol::wire::{Key32, Sealed, SealedBytes};

use super::*;

fn keys() -> VaultKeys {
    VaultKeys::generation0(&SecretKey::from_bytes([7; 32]))
}

fn path(raw: &str) -> VaultPath {
    VaultPath::parse(raw).expect("path")
}

/// The sealed fields of `raw` with `content`, its manifest sealed as `version`.
fn sealed(
    keys: &VaultKeys,
    raw: &str,
    content: &[u8],
    version: i64,
) -> (Key32, Sealed, EncryptedBlob) {
    let p = path(raw);
    let blob = encrypt_blob_with(
        keys,
        content,
        &BlobRandom::generate(&mut crate::vault_key::os_rng().expect("rng")),
    );
    let manifest = Manifest {
        path: p.clone(),
        blob_id: blob.id,
        size: content.len() as u64,
        mtime_ms: 1,
    };
    let sealed = Sealed {
        sealed_path: SealedBytes::new(seal_path_with(keys, &p, &[1; 24])).expect("path"),
        sealed_manifest: SealedBytes::new(manifest.seal_with(
            keys,
            Version::new(version).expect("v"),
            &[2; 24],
        ))
        .expect("manifest"),
        manifest_version: version,
        blob_id: Key32(blob.id.0),
    };
    (Key32(PathKey::of(keys, &p).0), sealed, blob)
}

#[test]
fn a_version_opens_only_as_it_was_sealed() {
    let k = keys();
    let (key, good, _) = sealed(&k, "Notes/a.md", b"alpha", 3);
    let (other_key, other, _) = sealed(&k, "Notes/b.md", b"beta", 3);
    let opened = open_sealed(&k, &key, 3, Some(&good)).expect("opens");
    assert_eq!(opened.path, path("Notes/a.md"));
    // A restore names its source's manifest version, below its own: accepted.
    assert!(open_sealed(&k, &key, 9, Some(&good)).is_ok());

    let with = |f: &dyn Fn(&mut Sealed)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, Key32, i64, Option<Sealed>)> = vec![
        ("no sealed fields", key, 3, None),
        ("under another path key", other_key, 3, Some(good.clone())),
        (
            "another note's path",
            key,
            3,
            Some(with(&|s| s.sealed_path = other.sealed_path.clone())),
        ),
        (
            "another note's manifest",
            key,
            3,
            Some(with(&|s| s.sealed_manifest = other.sealed_manifest.clone())),
        ),
        (
            "another blob id",
            key,
            3,
            Some(with(&|s| s.blob_id = other.blob_id)),
        ),
        ("a manifest of a newer version", key, 2, Some(good.clone())),
        (
            "a manifest claimed for another version",
            key,
            4,
            Some(with(&|s| s.manifest_version = 4)),
        ),
        (
            "a manifest version of 0",
            key,
            3,
            Some(with(&|s| s.manifest_version = 0)),
        ),
    ];
    for (what, key, version, s) in cases {
        assert!(
            open_sealed(&k, &key, version, s.as_ref()).is_err(),
            "{what}"
        );
    }
}

#[test]
fn a_blob_opens_only_with_its_bytes() {
    let k = keys();
    let (key, s, blob) = sealed(&k, "a.md", b"alpha", 1);
    let (_, _, other) = sealed(&k, "b.md", b"beta", 1);
    let opened = open_sealed(&k, &key, 1, Some(&s)).expect("opens");
    let expect = |bytes: &[u8]| Expected {
        opened: opened.clone(),
        content_hash: ContentHash::of(bytes),
    };
    assert_eq!(
        open_blob(&k, &expect(&blob.bytes), &blob.bytes).expect("opens"),
        b"alpha"
    );

    let mut flipped = blob.bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    // Changed behind S3's back: the hash the server answered no longer matches.
    assert!(open_blob(&k, &expect(&blob.bytes), &flipped).is_err());
    // Changed and its hash with it (a lying server): the AEAD refuses it.
    assert!(open_blob(&k, &expect(&flipped), &flipped).is_err());
    // Another note's blob, with its own hash: the blob id refuses it.
    assert!(open_blob(&k, &expect(&other.bytes), &other.bytes).is_err());
}

#[test]
fn a_sealed_note_is_known_by_its_plaintext_hash() {
    let k = keys();
    let crypt = Crypt::new(k, None).expect("crypt");
    let p = path("a.md");
    // An unknown blob id stands in for itself: no plaintext hash equals it.
    let other = BlobId::from_hex(&"ab".repeat(32)).expect("id");
    assert_eq!(crypt.engine_hash(&other), ContentHash::of_digest(other.0));
    let (_, blob_id, _, _) = crypt.seal_note(&p, b"alpha");
    let id = BlobId::from_hex(&blob_id).expect("id");
    // Known from the moment it is sealed (a blob id names one plaintext, whatever the
    // server does with the push: a lost confirm answer must not lose it; sim seed 100113).
    assert_eq!(crypt.engine_hash(&id).to_hex(), hash_bytes(b"alpha"));
    assert_eq!(
        crypt.done("a.md").as_deref(),
        Some(hash_bytes(b"alpha").as_str())
    );
    assert_eq!(crypt.engine_hash(&id).to_hex(), hash_bytes(b"alpha"));
}

/// A device that learnt `notes` (pushed them, the server agreed) with `sync.db` in `dir`.
fn learnt(dir: &std::path::Path, notes: &[(&str, &[u8])]) -> (Crypt, Vec<BlobId>) {
    let crypt = Crypt::new(keys(), Some(Store::open(dir).expect("store"))).expect("crypt");
    let ids = (notes.iter())
        .map(|(name, content)| {
            let (_, id, _, _) = crypt.seal_note(&path(name), content);
            crypt.done(name).expect("sealed");
            BlobId::from_hex(&id).expect("id")
        })
        .collect();
    (crypt, ids)
}

#[test]
fn learnt_hashes_are_written_by_a_flush_and_a_crash_costs_a_download_not_a_wrong_hash() {
    let dir = tempfile::tempdir().expect("dir");
    let (crypt, saved) = learnt(dir.path(), &[("a.md", b"alpha"), ("b.md", b"beta")]);
    crypt.flush().expect("flush");
    let (_, lost, _, _) = crypt.seal_note(&path("c.md"), b"gamma");
    crypt.done("c.md").expect("sealed");
    let lost = BlobId::from_hex(&lost).expect("id");
    // The process dies before the next flush (no destructor runs).
    std::mem::forget(crypt);
    let after = Crypt::new(keys(), Some(Store::open(dir.path()).expect("store"))).expect("crypt");
    assert_eq!(after.engine_hash(&saved[0]).to_hex(), hash_bytes(b"alpha"));
    assert_eq!(after.engine_hash(&saved[1]).to_hex(), hash_bytes(b"beta"));
    // Not written: the blob id stands in (the engine downloads the note), never a hash
    // of other content.
    assert_eq!(after.engine_hash(&lost), ContentHash::of_digest(lost.0));
}

#[test]
fn a_blob_learnt_before_the_known_ones_are_read_is_known_from_then_on() {
    let dir = tempfile::tempdir().expect("dir");
    let (crypt, saved) = learnt(dir.path(), &[("a.md", b"alpha")]);
    crypt.flush().expect("flush");
    drop(crypt);
    // A new process pushes one note: nothing read yet, the one blob learnt.
    let (crypt, fresh) = learnt(dir.path(), &[("b.md", b"beta")]);
    assert!(
        lock(&crypt.known).is_none(),
        "learning read every known blob"
    );
    // The first read takes sync.db's and the unwritten one.
    assert_eq!(crypt.engine_hash(&fresh[0]).to_hex(), hash_bytes(b"beta"));
    assert_eq!(crypt.engine_hash(&saved[0]).to_hex(), hash_bytes(b"alpha"));
    crypt.flush().expect("flush");
    let store = Store::open(dir.path()).expect("store");
    assert_eq!(store.known_blobs().expect("known").len(), 2);
}

#[test]
fn a_crypt_dropped_without_a_crash_keeps_what_it_learnt() {
    let dir = tempfile::tempdir().expect("dir");
    let (crypt, ids) = learnt(dir.path(), &[("a.md", b"alpha")]);
    // As the CLI ends: the maps left to the OS, what is unsaved still written by the drop.
    crypt.leak_caches();
    drop(crypt);
    let store = Store::open(dir.path()).expect("store");
    let known = store.known_blobs().expect("known");
    assert_eq!(known.len(), 1);
    assert_eq!(known[&ids[0].to_hex()], hash_bytes(b"alpha"));
}

#[test]
fn server_names_learnt_over_the_synced_ones_answer_as_one_map_would() {
    let p = |s: &str| VaultPath::parse(s).unwrap();
    let mut synced = Synced::default();
    synced.names.insert("idea.md".into(), p("Idea.md"));
    synced.names.insert("gone.md".into(), p("gone.md"));
    let mut names = ServerNames {
        synced: std::sync::Arc::new(synced),
        learnt: HashMap::new(),
    };
    // What sync.db says, learnt again, records nothing.
    names.learn(&p("Idea.md"), true);
    names.learn(&p("never.md"), false);
    assert!(names.learnt.is_empty());
    assert_eq!(names.get("idea.md"), Some(&p("Idea.md")));
    // A rename in letter case, a delete of a synced name, a new note: each overrides.
    names.learn(&p("idea.md"), true);
    names.learn(&p("gone.md"), false);
    names.learn(&p("New.md"), true);
    assert_eq!(names.get("idea.md"), Some(&p("idea.md")));
    assert_eq!(names.get("gone.md"), None);
    assert_eq!(names.get("new.md"), Some(&p("New.md")));
    // And back: the note made again under its synced name.
    names.learn(&p("gone.md"), true);
    assert_eq!(names.get("gone.md"), Some(&p("gone.md")));
    names.learn(&p("New.md"), false);
    assert_eq!(names.get("new.md"), None);
}
