//! Turning encryption on for a vault with notes (README "Turning encryption on for an
//! existing vault"), decided without I/O: which staged copies a stage request may keep, and
//! which live notes still lack a copy of their current version (what blocks the switch),
//! whether a switch may go ahead, and the refusals a stage, switch or abort answers. The
//! database layer ([`crate::db::migration`]) loads the rows and writes what this decides;
//! the simulation's model server decides with the same functions.

use std::collections::HashMap;

use steel_protocol::ParseError;
use steel_protocol::wire::{Key32, SealedBytes, StageEntry, VaultMode};

use crate::domain::{ContentHash, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::vault::answer::Rejected;
use crate::vault::request::{PathParser, parse_size, parse_version};
use crate::vault::sealed::KeyParser;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plaintext,
    Migrating,
    Encrypted,
}

impl Mode {
    /// The mode of an account from its `vault_keys.migrating` (`None`: no keys row).
    pub fn of(migrating: Option<bool>) -> Mode {
        match migrating {
            None => Mode::Plaintext,
            Some(true) => Mode::Migrating,
            Some(false) => Mode::Encrypted,
        }
    }

    /// As the wire names it.
    pub fn wire(self) -> VaultMode {
        match self {
            Mode::Plaintext => VaultMode::Plaintext,
            Mode::Migrating => VaultMode::Migrating,
            Mode::Encrypted => VaultMode::Encrypted,
        }
    }
}

/// 409 for a stage, switch or abort of an account that is not migrating.
pub fn not_migrating(mode: Mode) -> ApiError {
    match mode {
        Mode::Encrypted => ApiError::conflict(
            ErrorCode::VaultEncrypted,
            "this account is already end-to-end encrypted: there is no migration to stage, \
             switch or abandon, and nothing turns it back to plaintext",
        ),
        _ => ApiError::conflict(
            ErrorCode::NotMigrating,
            "this account is not turning encrypted: start with POST /vault/migration",
        ),
    }
}

/// Whether a switch may go ahead on an account in `mode` with `live_notes` live notes, of
/// which `staged` have a staged copy of their current version: only while it migrates and
/// only when every live note has one. The refusal changes nothing.
pub fn decide_switch(mode: Mode, live_notes: i64, staged: i64) -> Result<(), ApiError> {
    if mode != Mode::Migrating {
        return Err(not_migrating(mode));
    }
    if staged == live_notes {
        return Ok(());
    }
    Err(incomplete(live_notes, staged))
}

/// 409 `migration_incomplete`: `live_notes - staged` live notes lack a staged copy of their
/// current version.
pub fn incomplete(live_notes: i64, staged: i64) -> ApiError {
    ApiError::conflict(
        ErrorCode::MigrationIncomplete,
        format!(
            "{} of {live_notes} live notes have no staged copy of their current version (a \
             note edited since it was staged needs a new copy): GET /vault/migration lists \
             them; stage them and switch again. Nothing changed",
            live_notes.saturating_sub(staged),
        ),
    )
}

/// A plaintext note's current row, as far as staging cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub version: i64,
    pub is_deleted: bool,
}

/// One copy a device asks to stage: the plaintext version it encrypts and its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size: i64,
}

/// One encrypted copy of a plaintext note's version, parsed from a stage request: what
/// the switch makes the note's version 1 of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedCopy {
    pub copy: Copy,
    /// 64 lowercase hex characters.
    pub path_key: String,
    /// 64 lowercase hex characters.
    pub blob_id: String,
    pub sealed_path: Vec<u8>,
    pub sealed_manifest: Vec<u8>,
}

/// Validates the entries of a stage request: the good copies in order, and the refused
/// entries (a bad field, or a second mention of the same note or path key).
pub fn parse_stage(
    entries: &[StageEntry],
    max_file_bytes: u64,
) -> (Vec<StagedCopy>, Vec<Rejected>) {
    let mut paths = PathParser::default();
    let mut keys = KeyParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for e in entries {
        match parse_entry(e, &mut paths, &mut keys, max_file_bytes) {
            Ok(c) => good.push(c),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

fn parse_entry(
    e: &StageEntry,
    paths: &mut PathParser,
    keys: &mut KeyParser,
    max_file_bytes: u64,
) -> Result<StagedCopy, Rejected> {
    let path = paths.parse(&e.path)?;
    let refuse = |err: ParseError| Rejected::new(path.as_str(), err.code, err.message);
    let version = parse_version(&path, &e.version)?;
    let (path_key, _) = keys.parse(&e.path_key).map_err(|r| {
        Rejected::new(
            path.as_str(),
            ErrorCode::from_wire(r.code.as_str()).unwrap_or(ErrorCode::InvalidPathKey),
            r.message,
        )
    })?;
    let blob_id =
        Key32::parse_as(&e.blob_id, ErrorCode::InvalidBlobId, "blob_id").map_err(refuse)?;
    let content_hash = ContentHash::parse(&e.content_hash).map_err(refuse)?;
    let size = parse_size(&path, &e.size_bytes, max_file_bytes)?;
    let sealed_path = SealedBytes::parse(&e.sealed_path, "sealed_path").map_err(refuse)?;
    let sealed_manifest =
        SealedBytes::parse(&e.sealed_manifest, "sealed_manifest").map_err(refuse)?;
    Ok(StagedCopy {
        copy: Copy {
            path,
            version: version.get(),
            content_hash,
            size,
        },
        path_key: path_key.to_hex(),
        blob_id: blob_id.to_hex(),
        sealed_path: sealed_path.into_bytes(),
        sealed_manifest: sealed_manifest.into_bytes(),
    })
}

/// What happens to one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageDecision {
    /// Stored (replacing an earlier copy of the note or of its path key).
    Stage,
    /// Its plaintext version is not the note's current live one: `current` is the note's
    /// version now, 0 when it is deleted or gone.
    Stale { current: i64 },
    /// Its ciphertext is not a verified blob of this size: upload it first.
    NeedsUpload,
    /// The staged copies would hold more than the quota.
    QuotaExceeded,
}

/// Decides each copy in order. `sources`: the current rows of the copies' notes; `verified`:
/// the verified blobs of their hashes (hash → size); `staged_bytes`: the bytes of the
/// account's staged copies this request does not replace. The staged copies together must
/// fit in `quota`, as the notes they become will.
pub fn decide_stage(
    copies: &[Copy],
    sources: &HashMap<VaultPath, Source>,
    verified: &HashMap<ContentHash, i64>,
    staged_bytes: i64,
    quota: u64,
) -> Vec<StageDecision> {
    let quota = i64::try_from(quota).unwrap_or(i64::MAX);
    let mut total = staged_bytes;
    copies
        .iter()
        .map(|c| {
            let current = match sources.get(&c.path) {
                Some(s) if !s.is_deleted => s.version,
                _ => 0,
            };
            if current != c.version {
                return StageDecision::Stale { current };
            }
            if verified.get(&c.content_hash) != Some(&c.size) {
                return StageDecision::NeedsUpload;
            }
            match total.checked_add(c.size).filter(|t| *t <= quota) {
                Some(t) => {
                    total = t;
                    StageDecision::Stage
                }
                None => StageDecision::QuotaExceeded,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> VaultPath {
        VaultPath::parse(p).expect("path")
    }

    fn copy(p: &str, version: i64, content: &[u8], size: i64) -> Copy {
        Copy {
            path: path(p),
            version,
            content_hash: ContentHash::of(content),
            size,
        }
    }

    #[test]
    fn each_copy_is_decided_on_its_source_its_blob_and_the_quota() {
        let sources: HashMap<VaultPath, Source> = [
            ("a.md", 3, false),
            ("b.md", 2, false),
            ("gone.md", 4, true),
            ("big.md", 1, false),
            ("c.md", 1, false),
        ]
        .into_iter()
        .map(|(p, version, is_deleted)| {
            (
                path(p),
                Source {
                    version,
                    is_deleted,
                },
            )
        })
        .collect();
        let verified: HashMap<ContentHash, i64> = [
            (ContentHash::of(b"a"), 10),
            (ContentHash::of(b"b"), 10),
            (ContentHash::of(b"big"), 80),
            (ContentHash::of(b"c"), 5),
        ]
        .into_iter()
        .collect();
        let cases: [(Copy, StageDecision); 8] = [
            (copy("a.md", 3, b"a", 10), StageDecision::Stage),
            // An older version: the note was edited since it was encrypted.
            (
                copy("b.md", 1, b"b", 10),
                StageDecision::Stale { current: 2 },
            ),
            // A newer version than the server has is stale too (never trusted).
            (
                copy("b.md", 5, b"b", 10),
                StageDecision::Stale { current: 2 },
            ),
            (
                copy("gone.md", 4, b"a", 10),
                StageDecision::Stale { current: 0 },
            ),
            (
                copy("new.md", 1, b"a", 10),
                StageDecision::Stale { current: 0 },
            ),
            // Not uploaded, or a blob of another size.
            (copy("b.md", 2, b"zz", 10), StageDecision::NeedsUpload),
            // 10 staged before + 10 (a.md) + 80 > 95.
            (copy("big.md", 1, b"big", 80), StageDecision::QuotaExceeded),
            // What a refused copy would have used is not counted: 10 + 10 + 5 <= 95.
            (copy("c.md", 1, b"c", 5), StageDecision::Stage),
        ];
        let (copies, expected): (Vec<Copy>, Vec<StageDecision>) = cases.into_iter().unzip();
        assert_eq!(decide_stage(&copies, &sources, &verified, 10, 95), expected);
        let wrong_size = [copy("a.md", 3, b"a", 11)];
        assert_eq!(
            decide_stage(&wrong_size, &sources, &verified, 0, 95),
            [StageDecision::NeedsUpload]
        );
    }

    #[test]
    fn a_switch_goes_ahead_only_while_migrating_with_every_live_note_staged() {
        let cases: [(Mode, i64, i64, Option<ErrorCode>); 7] = [
            (Mode::Migrating, 3, 3, None),
            // An empty vault has nothing to stage.
            (Mode::Migrating, 0, 0, None),
            (Mode::Migrating, 3, 2, Some(ErrorCode::MigrationIncomplete)),
            (Mode::Migrating, 3, 0, Some(ErrorCode::MigrationIncomplete)),
            (Mode::Plaintext, 0, 0, Some(ErrorCode::NotMigrating)),
            (Mode::Encrypted, 3, 3, Some(ErrorCode::VaultEncrypted)),
            (
                Mode::Migrating,
                i64::MAX,
                i64::MIN,
                Some(ErrorCode::MigrationIncomplete),
            ),
        ];
        for (mode, live, staged, expected) in cases {
            let got = decide_switch(mode, live, staged).err();
            assert_eq!(
                got.as_ref().map(ApiError::code),
                expected,
                "{mode:?} {live} {staged}"
            );
            if let Some(e) = got {
                assert_eq!(e.status(), 409);
            }
        }
        assert_eq!(Mode::of(None), Mode::Plaintext);
        assert_eq!(Mode::of(Some(true)), Mode::Migrating);
        assert_eq!(Mode::of(Some(false)), Mode::Encrypted);
        assert_eq!(Mode::Migrating.wire(), VaultMode::Migrating);
    }

    #[test]
    fn sizes_near_the_limits_do_not_overflow() {
        let sources: HashMap<VaultPath, Source> = [(
            path("a.md"),
            Source {
                version: 1,
                is_deleted: false,
            },
        )]
        .into_iter()
        .collect();
        let verified: HashMap<ContentHash, i64> =
            [(ContentHash::of(b"a"), i64::MAX)].into_iter().collect();
        let copies = [copy("a.md", 1, b"a", i64::MAX)];
        assert_eq!(
            decide_stage(&copies, &sources, &verified, 1, u64::MAX),
            [StageDecision::QuotaExceeded]
        );
        assert_eq!(
            decide_stage(&copies, &sources, &verified, 0, u64::MAX),
            [StageDecision::Stage]
        );
    }
}
