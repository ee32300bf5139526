//! Request bodies of an end-to-end encrypted account, parsed per file (README "Encrypted
//! notes on the server"), and which mode a body is written for. A note of an encrypted
//! account is keyed by its path key: the server stores the key's 64 hex characters where a
//! plaintext note has its path (a valid [`VaultPath`] whose case key is itself), so the
//! rules and the database work on it unchanged.

use std::collections::HashSet;

use serde_json::Value;
use steel_protocol::wire::{
    Key32, SealedBytes, SealedConfirmEntry, SealedDeleteEntry, SealedPushEntry, SealedRejected,
};

use crate::domain::{ContentHash, VaultPath, Version};
use crate::error::{ApiError, ErrorCode};
use crate::vault::answer::Rejected;
use crate::vault::request::{parse_base, parse_size, parse_version};
use crate::vault::rules::{Content, Decision, Proposal};

/// The mode a request body is written for, when it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Plain,
    Sealed,
}

/// Which mode `body` is written for: a `path_keys` list or a file with `path_key` is
/// encrypted, a `paths` list or a file with `path` plaintext; `None` when it does not say
/// (not JSON, no files), and the account's mode then parses it.
pub fn shape_of(body: &[u8]) -> Option<Shape> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.contains_key("path_keys") {
        return Some(Shape::Sealed);
    }
    if object.contains_key("paths") {
        return Some(Shape::Plain);
    }
    let files = object.get("files")?.as_array()?;
    files.iter().filter_map(Value::as_object).find_map(|f| {
        if f.contains_key("path_key") {
            Some(Shape::Sealed)
        } else if f.contains_key("path") {
            Some(Shape::Plain)
        } else {
            None
        }
    })
}

/// Refuses a body written for the other mode: 409 `vault_encrypted` or `vault_not_encrypted`.
pub fn check_mode(encrypted: bool, body: &[u8]) -> Result<(), ApiError> {
    match (encrypted, shape_of(body)) {
        (true, Some(Shape::Plain)) => Err(ApiError::conflict(
            ErrorCode::VaultEncrypted,
            "this account is end-to-end encrypted: name notes by path_key and send the \
             sealed fields (README, \"Encrypted notes on the server\")",
        )),
        (false, Some(Shape::Sealed)) => Err(ApiError::conflict(
            ErrorCode::VaultNotEncrypted,
            "this account is not end-to-end encrypted: name notes by path",
        )),
        _ => Ok(()),
    }
}

/// The path under which the server keeps the note of `key`.
pub fn path_of(key: &Key32) -> VaultPath {
    VaultPath::parse(&key.to_hex()).expect("64 hex characters are a vault path")
}

/// The path key of a note of an encrypted account, from the path it is kept under.
pub fn key_of(path: &VaultPath) -> Result<Key32, ApiError> {
    Key32::parse_as(path.as_str(), ErrorCode::InvalidPathKey, "path_key").map_err(|_| {
        ApiError::internal(anyhow::anyhow!(
            "a note of an encrypted account has a plaintext path"
        ))
    })
}

/// A plaintext-shaped refusal (from the shared parsers) in the encrypted shape.
pub fn sealed_rejected(r: Rejected) -> SealedRejected {
    SealedRejected {
        path_key: r.path,
        code: r.code,
        message: r.message,
    }
}

/// One note a sealed pull asks for: its path key, the path it is kept under, and the
/// version asked for (`None`: the current one).
pub type PullWanted = (Key32, VaultPath, Option<i64>);

/// A sealed pull's entries (path key, version) parsed in order: the notes asked for, and a
/// refusal for each malformed path key or version and each repeat of a note and version.
pub fn parse_pull(
    entries: Vec<(String, Option<serde_json::Number>)>,
) -> (Vec<PullWanted>, Vec<SealedRejected>) {
    let mut seen = HashSet::new();
    let (mut wanted, mut rejected) = (Vec::new(), Vec::new());
    for (raw, version) in entries {
        let parsed = Key32::parse_as(&raw, ErrorCode::InvalidPathKey, "path_key")
            .map_err(|e| SealedRejected {
                path_key: raw.clone(),
                code: e.code.into(),
                message: e.message,
            })
            .and_then(|key| {
                let path = path_of(&key);
                let version = version
                    .map(|v| parse_version(&path, &v))
                    .transpose()
                    .map_err(sealed_rejected)?
                    .map(|v| v.get());
                if !seen.insert((key, version)) {
                    return Err(refuse(
                        &raw,
                        ErrorCode::DuplicatePath,
                        "the same note (and version) appears twice in this request",
                    ));
                }
                Ok((key, path, version))
            });
        match parsed {
            Ok(w) => wanted.push(w),
            Err(r) => rejected.push(r),
        }
    }
    (wanted, rejected)
}

fn refuse(raw: &str, code: ErrorCode, message: impl Into<String>) -> SealedRejected {
    SealedRejected {
        path_key: raw.to_owned(),
        code: code.into(),
        message: message.into(),
    }
}

/// Parses path keys in request order, refusing a second mention of the same note.
#[derive(Default)]
pub struct KeyParser {
    seen: HashSet<Key32>,
}

impl KeyParser {
    pub fn parse(&mut self, raw: &str) -> Result<(Key32, VaultPath), SealedRejected> {
        let key = Key32::parse_as(raw, ErrorCode::InvalidPathKey, "path_key")
            .map_err(|e| refuse(raw, e.code, e.message))?;
        if !self.seen.insert(key) {
            return Err(refuse(
                raw,
                ErrorCode::DuplicatePath,
                "the same note appears twice in this request",
            ));
        }
        Ok((key, path_of(&key)))
    }
}

/// A push of an encrypted account, parsed: the write as the rules see it, and its blob id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedProposal {
    pub key: Key32,
    pub proposal: Proposal,
    pub blob_id: Key32,
}

fn parse_common(
    keys: &mut KeyParser,
    (path_key, base, blob_id, hash, size): (
        &str,
        &serde_json::Number,
        &str,
        &str,
        &serde_json::Number,
    ),
    max_file_bytes: u64,
) -> Result<SealedProposal, SealedRejected> {
    let (key, path) = keys.parse(path_key)?;
    let blob_id = Key32::parse_as(blob_id, ErrorCode::InvalidBlobId, "blob_id")
        .map_err(|e| refuse(path_key, e.code, e.message))?;
    let hash = ContentHash::parse(hash).map_err(|e| refuse(path_key, e.code, e.message))?;
    let base = parse_base(&path, base, 0).map_err(sealed_rejected)?;
    let size = parse_size(&path, size, max_file_bytes).map_err(sealed_rejected)?;
    Ok(SealedProposal {
        key,
        proposal: Proposal {
            path,
            base,
            content: Content { hash, size },
        },
        blob_id,
    })
}

/// Validates an encrypted push: the good entries in order, and the refused ones.
pub fn parse_push(
    entries: &[SealedPushEntry],
    max_file_bytes: u64,
) -> (Vec<SealedProposal>, Vec<SealedRejected>) {
    let mut keys = KeyParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for e in entries {
        let fields = (
            e.path_key.as_str(),
            &e.base_version,
            e.blob_id.as_str(),
            e.content_hash.as_str(),
            &e.size_bytes,
        );
        match parse_common(&mut keys, fields, max_file_bytes) {
            Ok(p) => good.push(p),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

/// A confirm of an encrypted account, parsed: the push's fields, the version the manifest
/// was sealed as, and the sealed path and manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedConfirm {
    pub write: SealedProposal,
    pub version: Version,
    pub sealed_path: SealedBytes,
    pub sealed_manifest: SealedBytes,
}

/// Validates an encrypted confirm: the good entries in order, and the refused ones.
pub fn parse_confirm(
    entries: &[SealedConfirmEntry],
    max_file_bytes: u64,
) -> (Vec<SealedConfirm>, Vec<SealedRejected>) {
    let mut keys = KeyParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for e in entries {
        let fields = (
            e.path_key.as_str(),
            &e.base_version,
            e.blob_id.as_str(),
            e.content_hash.as_str(),
            &e.size_bytes,
        );
        let parsed = parse_common(&mut keys, fields, max_file_bytes).and_then(|write| {
            let raw = e.path_key.as_str();
            let version =
                parse_version(&write.proposal.path, &e.version).map_err(sealed_rejected)?;
            let sealed_path = SealedBytes::parse(&e.sealed_path, "sealed_path")
                .map_err(|err| refuse(raw, err.code, err.message))?;
            let sealed_manifest = SealedBytes::parse(&e.sealed_manifest, "sealed_manifest")
                .map_err(|err| refuse(raw, err.code, err.message))?;
            Ok(SealedConfirm {
                write,
                version,
                sealed_path,
                sealed_manifest,
            })
        });
        match parsed {
            Ok(c) => good.push(c),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

/// Validates an encrypted delete: (key, path, base) of the good entries, and the refused ones.
pub fn parse_deletes(
    entries: &[SealedDeleteEntry],
) -> (Vec<(Key32, VaultPath, Version)>, Vec<SealedRejected>) {
    let mut keys = KeyParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for e in entries {
        let parsed = keys.parse(&e.path_key).and_then(|(key, path)| {
            let base = parse_base(&path, &e.base_version, 1).map_err(sealed_rejected)?;
            Ok((key, path, base))
        });
        match parsed {
            Ok(d) => good.push(d),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

/// The refusal of a write under a path key another live note has.
pub fn case_conflict(key: &Key32) -> SealedRejected {
    SealedRejected {
        path_key: key.to_hex(),
        code: ErrorCode::CaseConflict.into(),
        message: "another live note has this path key".into(),
    }
}

/// The refusal of a write that would take the vault over its quota.
pub fn quota_exceeded(key: &Key32, quota: u64) -> SealedRejected {
    SealedRejected {
        path_key: key.to_hex(),
        code: ErrorCode::QuotaExceeded.into(),
        message: format!("the vault would exceed its quota of {quota} bytes"),
    }
}

/// A write of an encrypted note the rules allow, against the version its manifest was
/// sealed as (`manifest_version`, the version push answered; `None` for a plaintext
/// write): a vault that moved since push would give the note another version, which the
/// manifest does not name, so the write is a conflict and nothing is written for it.
pub fn check_sealed_version(decision: Decision, manifest_version: Option<i64>) -> Decision {
    match decision {
        Decision::Write { version, .. } if manifest_version.is_some_and(|m| m != version.get()) => {
            Decision::Conflict
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_entry(key: &str, blob: &str, hash: &str, base: &str, size: &str) -> SealedPushEntry {
        serde_json::from_str(&format!(
            r#"{{"path_key": "{key}", "blob_id": "{blob}", "content_hash": "{hash}",
                "base_version": {base}, "size_bytes": {size}}}"#
        ))
        .expect("entry")
    }

    #[test]
    fn the_shape_of_a_body_says_its_mode() {
        let cases: &[(&str, Option<Shape>)] = &[
            (r#"{"files": [{"path": "a.md"}]}"#, Some(Shape::Plain)),
            (r#"{"files": [{"path_key": "ab"}]}"#, Some(Shape::Sealed)),
            (
                r#"{"files": [{}, {"path_key": "ab"}]}"#,
                Some(Shape::Sealed),
            ),
            (r#"{"paths": ["a.md"]}"#, Some(Shape::Plain)),
            (r#"{"path_keys": []}"#, Some(Shape::Sealed)),
            (r#"{"files": []}"#, None),
            (r#"{"files": 3}"#, None),
            ("not json", None),
            ("[]", None),
        ];
        for (body, shape) in cases {
            assert_eq!(shape_of(body.as_bytes()), *shape, "{body}");
        }
    }

    #[test]
    fn a_body_of_the_other_mode_is_refused_with_its_code() {
        let plain = br#"{"files": [{"path": "a.md"}]}"#;
        let sealed = br#"{"files": [{"path_key": "ab"}]}"#;
        let code = |enc, body: &[u8]| check_mode(enc, body).err().map(|e| e.code());
        assert_eq!(code(true, plain), Some(ErrorCode::VaultEncrypted));
        assert_eq!(code(false, sealed), Some(ErrorCode::VaultNotEncrypted));
        assert_eq!(code(true, sealed), None);
        assert_eq!(code(false, plain), None);
        assert_eq!(code(true, b"{}"), None);
    }

    #[test]
    fn every_bad_field_is_refused_per_file_with_its_code() {
        let key = "ab".repeat(32);
        let blob = "cd".repeat(32);
        let hash = "ef".repeat(32);
        let cases = [
            (
                push_entry("AB", &blob, &hash, "0", "1"),
                ErrorCode::InvalidPathKey,
            ),
            (
                push_entry(&"AB".repeat(32), &blob, &hash, "0", "1"),
                ErrorCode::InvalidPathKey,
            ),
            (
                push_entry(&key, "cd", &hash, "0", "1"),
                ErrorCode::InvalidBlobId,
            ),
            (
                push_entry(&key, &blob, "ef", "0", "1"),
                ErrorCode::InvalidContentHash,
            ),
            (
                push_entry(&key, &blob, &hash, "-1", "1"),
                ErrorCode::InvalidBaseVersion,
            ),
            (
                push_entry(&key, &blob, &hash, "0", "101"),
                ErrorCode::InvalidSize,
            ),
        ];
        for (entry, code) in cases {
            let (good, rejected) = parse_push(std::slice::from_ref(&entry), 100);
            assert!(good.is_empty(), "{entry:?}");
            assert_eq!(rejected[0].code.known(), Some(code), "{entry:?}");
            assert_eq!(rejected[0].path_key, entry.path_key);
        }
        let twice = [
            push_entry(&key, &blob, &hash, "0", "1"),
            push_entry(&key, &blob, &hash, "0", "1"),
        ];
        let (good, rejected) = parse_push(&twice, 100);
        assert_eq!(good.len(), 1);
        assert_eq!(rejected[0].code.known(), Some(ErrorCode::DuplicatePath));
        assert_eq!(good[0].proposal.path.as_str(), key);
    }

    #[test]
    fn a_confirm_needs_a_version_and_bounded_sealed_fields() {
        let entry = |version: &str, sealed: &str| -> SealedConfirmEntry {
            serde_json::from_str(&format!(
                r#"{{"path_key": "{}", "blob_id": "{}", "content_hash": "{}",
                    "base_version": 0, "size_bytes": 1, "version": {version},
                    "sealed_path": "{sealed}", "sealed_manifest": "AAAA"}}"#,
                "ab".repeat(32),
                "cd".repeat(32),
                "ef".repeat(32)
            ))
            .expect("entry")
        };
        let code = |e: SealedConfirmEntry| {
            parse_confirm(&[e], 100)
                .1
                .first()
                .and_then(|r| r.code.known())
        };
        assert_eq!(code(entry("1", "AAAA")), None);
        assert_eq!(code(entry("0", "AAAA")), Some(ErrorCode::InvalidVersion));
        assert_eq!(code(entry("1", "")), Some(ErrorCode::InvalidSealedField));
        assert_eq!(
            code(entry("1", "!!!!")),
            Some(ErrorCode::InvalidSealedField)
        );
        assert_eq!(
            code(entry("1", &"A".repeat(2736))),
            Some(ErrorCode::InvalidSealedField)
        );
    }

    #[test]
    fn a_write_is_a_conflict_unless_its_manifest_names_its_version() {
        let write = |v: i64| Decision::Write {
            version: Version::new(v).expect("version"),
            size_delta: 5,
        };
        let cases = [
            (write(3), Some(3), write(3), "sealed for this version"),
            (
                write(3),
                Some(2),
                Decision::Conflict,
                "sealed for an older version",
            ),
            (
                write(3),
                Some(4),
                Decision::Conflict,
                "sealed for a newer version",
            ),
            (write(3), None, write(3), "plaintext"),
            (
                Decision::Unchanged,
                Some(9),
                Decision::Unchanged,
                "nothing written",
            ),
            (
                Decision::Conflict,
                Some(3),
                Decision::Conflict,
                "already a conflict",
            ),
        ];
        for (decision, manifest, want, why) in cases {
            assert_eq!(check_sealed_version(decision, manifest), want, "{why}");
        }
    }
}
