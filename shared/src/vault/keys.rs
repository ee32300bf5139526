//! The rules of an account's key slots (README "Key slots"), pure, for `PUT /vault/keys`
//! and `POST /vault/migration` and for the simulation's model server: which ETag
//! `If-Match` names, whether a request's slots and keyring are well formed (their public
//! headers as `steel-crypto` lays them out: the server never opens one), what a replacement
//! from an expected version does to the stored state, and when a stale ETag is only the
//! retry of a write that already won. The database layer stores what these decide.

use std::collections::HashSet;

use base64::Engine as _;
use steel_crypto::seal::{FORMAT_VERSION, SEALED_HEADER_LEN, TAG_LEN};
use steel_crypto::slot::{KeySlot, SLOT_LEN, SlotKind};
use steel_protocol::wire::{
    KEY_SLOT_BYTES, KeySlotEntry, KeySlotKind, MAX_KEY_SLOTS, MAX_KEYRING_BYTES, PutKeysRequest,
};

use crate::error::{ApiError, ErrorCode};

/// A keyring's plaintext: name key, dedup key, entry count, then 68 bytes per generation
/// (README "Keys").
const KEYRING_FIXED: usize = 32 + 32 + 4;
const KEYRING_ENTRY: usize = 4 + 32 + 32;
/// The shortest keyring: one older generation.
const MIN_KEYRING_BYTES: usize = SEALED_HEADER_LEN + KEYRING_FIXED + KEYRING_ENTRY + TAG_LEN;

const _: () = assert!(KEY_SLOT_BYTES == SLOT_LEN, "the protocol's slot length");

/// One slot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSlot {
    pub id: [u8; 16],
    /// `passphrase` or `recovery_code`.
    pub kind: String,
    pub slot: Vec<u8>,
}

/// An account's keys: version 0 (no slots, no keyring) while it is plaintext.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    pub version: i64,
    pub slots: Vec<StoredSlot>,
    pub keyring: Option<Vec<u8>>,
    /// Slots stored by `POST /vault/migration`: the account is still plaintext until the
    /// switch ([`super::migration`]).
    pub migrating: bool,
}

impl Keys {
    pub fn encrypted(&self) -> bool {
        self.version > 0 && !self.migrating
    }
}

/// What a replacement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// Replaced: the new version.
    Done(i64),
    /// Another write came first: nothing changed.
    Stale,
    /// A first replacement on an account that has notes, not asked to start a migration:
    /// nothing changed (`POST /vault/migration` starts one).
    VaultNotEmpty,
}

/// What a first replacement (from version 0) makes of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// `PUT /vault/keys`: encrypted now, only for an account without notes.
    Encrypted,
    /// `POST /vault/migration`: slots stored, the account stays plaintext until the switch.
    Migrating,
}

/// What a replacement of the slots from version `expected` does, on an account whose keys
/// are at `current` and that `has_notes` (as `db::keys::replace` decides it under the
/// user's lock): a first write of [`First::Encrypted`] only on an account without notes,
/// then only from the current version.
pub fn decide_replace(current: i64, expected: i64, has_notes: bool, first: First) -> Replaced {
    if expected == 0 && first == First::Encrypted && has_notes {
        return Replaced::VaultNotEmpty;
    }
    if current != expected {
        return Replaced::Stale;
    }
    match current.checked_add(1) {
        Some(next) => Replaced::Done(next),
        None => Replaced::Stale,
    }
}

/// The refusal of a write whose ETag is stale: 412.
pub fn stale() -> ApiError {
    ApiError::PreconditionFailed {
        code: ErrorCode::PreconditionFailed,
        message: "the key slots changed since this ETag was read: GET /vault/keys again, \
                  then send the change with the new ETag"
            .into(),
    }
}

/// Whether `current` is exactly what this write (from version `expected`) makes: the one
/// replacement after `expected`, with these slots and keyring (and, for a first write, the
/// mode it sets). Then a 412 would only tell a retry that its own write won.
pub fn is_retry_of(
    current: &Keys,
    expected: i64,
    slots: &[StoredSlot],
    keyring: Option<&[u8]>,
    first: First,
) -> bool {
    let mode_matches = expected != 0 || current.migrating == (first == First::Migrating);
    expected.checked_add(1) == Some(current.version)
        && current.slots == slots
        && current.keyring.as_deref() == keyring
        && mode_matches
}

/// The ETag of the state at `version`: a strong ETag, `"v<version>"`.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The version `If-Match` names: `None` when it names no state this server issued (412 once
/// the body is valid). Missing, or `*` (which would overwrite whatever is there), is 428.
pub fn if_match(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let required = || ApiError::PreconditionRequired {
        code: ErrorCode::PreconditionRequired,
        message: "PUT /vault/keys needs If-Match with the etag of GET /vault/keys (\"*\" is \
                  not accepted)"
            .into(),
    };
    let raw = raw.map(str::trim).ok_or_else(required)?;
    if raw.is_empty() || raw == "*" {
        return Err(required());
    }
    // Exactly `"v<digits>"` as issued, no leading zeros; anything else matches nothing.
    let digits = raw
        .strip_prefix("\"v")
        .and_then(|r| r.strip_suffix('"'))
        .filter(|d| {
            !d.is_empty()
                && d.len() <= 18
                && d.bytes().all(|b| b.is_ascii_digit())
                && (d == &"0" || !d.starts_with('0'))
        });
    Ok(digits.and_then(|d| d.parse::<i64>().ok()))
}

fn bad(code: ErrorCode, message: String) -> ApiError {
    ApiError::bad_request(code, message)
}

/// The request's slots and keyring as bytes, every header checked.
pub fn validate(body: &PutKeysRequest) -> Result<(Vec<StoredSlot>, Option<Vec<u8>>), ApiError> {
    if body.slots.is_empty() {
        return Err(bad(
            ErrorCode::NoKeySlots,
            "slots: an encrypted account keeps at least one key slot (the last slot that \
             opens the vault cannot be removed)"
                .into(),
        ));
    }
    if body.slots.len() > MAX_KEY_SLOTS {
        return Err(bad(
            ErrorCode::TooManyKeySlots,
            format!("slots: at most {MAX_KEY_SLOTS} key slots"),
        ));
    }
    let mut seen = HashSet::new();
    let mut slots = Vec::with_capacity(body.slots.len());
    let mut generation = None;
    for (i, entry) in body.slots.iter().enumerate() {
        let (slot, slot_generation) = validate_slot(i, entry)?;
        if !seen.insert(slot.id) {
            return Err(bad(
                ErrorCode::DuplicateKeySlot,
                format!("slots[{i}].id: {} is listed twice", entry.id),
            ));
        }
        if *generation.get_or_insert(slot_generation) != slot_generation {
            return Err(bad(
                ErrorCode::KeyGenerationMismatch,
                format!(
                    "slots[{i}]: every slot must wrap the same key generation (this one \
                     wraps {slot_generation}, slots[0] wraps {})",
                    generation.unwrap_or_default()
                ),
            ));
        }
        slots.push(slot);
    }
    let generation = generation.unwrap_or_default();
    let keyring = match &body.keyring {
        None if generation == 0 => None,
        None => {
            return Err(bad(
                ErrorCode::KeyGenerationMismatch,
                format!("keyring: the slots wrap generation {generation}, which needs its keyring"),
            ));
        }
        Some(text) => Some(validate_keyring(text, generation)?),
    };
    Ok((slots, keyring))
}

fn decode(text: &str, max: usize) -> Option<Vec<u8>> {
    // Bounded before decoding: base64 is 4 characters per 3 bytes.
    if text.len() > max.div_ceil(3) * 4 {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// One slot: 32 lowercase hex characters of id, base64 of exactly 126 bytes, magic and
/// format version, and the kind and id inside matching the ones it is listed under.
fn validate_slot(i: usize, entry: &KeySlotEntry) -> Result<(StoredSlot, u32), ApiError> {
    let invalid = |why: String| bad(ErrorCode::InvalidKeySlot, format!("slots[{i}]: {why}"));
    let id_ok = entry.id.len() == 32
        && entry
            .id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let id: [u8; 16] = hex::decode(&entry.id)
        .ok()
        .filter(|_| id_ok)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| invalid("id must be 32 lowercase hex characters (the slot's id)".into()))?;
    let bytes = decode(&entry.slot, SLOT_LEN)
        .filter(|b| b.len() == SLOT_LEN)
        .ok_or_else(|| invalid(format!("slot must be the base64 of {SLOT_LEN} bytes")))?;
    let parsed = KeySlot::parse(&bytes)
        .map_err(|e| invalid(format!("slot is not a version-1 key slot ({e})")))?;
    let kind = match parsed.kind {
        SlotKind::Passphrase => KeySlotKind::Passphrase,
        SlotKind::RecoveryCode => KeySlotKind::RecoveryCode,
    };
    if kind != entry.kind {
        return Err(invalid(format!(
            "kind is {} but the slot is a {} slot",
            entry.kind.as_str(),
            kind.as_str()
        )));
    }
    if parsed.id != id {
        return Err(invalid("id is not the id inside the slot".into()));
    }
    Ok((
        StoredSlot {
            id,
            kind: kind.as_str().to_owned(),
            slot: bytes,
        },
        parsed.generation,
    ))
}

/// The keyring: base64, a sealed object of format 1 whose length is a keyring's, of the
/// slots' generation (> 0).
fn validate_keyring(text: &str, generation: u32) -> Result<Vec<u8>, ApiError> {
    let invalid = |why: String| bad(ErrorCode::InvalidKeyring, format!("keyring: {why}"));
    let bytes = decode(text, MAX_KEYRING_BYTES)
        .filter(|b| (MIN_KEYRING_BYTES..=MAX_KEYRING_BYTES).contains(&b.len()))
        .ok_or_else(|| {
            invalid(format!(
                "must be the base64 of {MIN_KEYRING_BYTES}..{MAX_KEYRING_BYTES} bytes"
            ))
        })?;
    if bytes[0] != FORMAT_VERSION
        || !(bytes.len() - MIN_KEYRING_BYTES).is_multiple_of(KEYRING_ENTRY)
    {
        return Err(invalid("is not a version-1 sealed keyring".into()));
    }
    let keyring_generation = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    if keyring_generation != generation {
        return Err(bad(
            ErrorCode::KeyGenerationMismatch,
            format!(
                "keyring: it is of generation {keyring_generation}, the slots wrap {generation}"
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_only_issued_etags() {
        assert_eq!(if_match(Some("\"v0\"")).expect("ok"), Some(0));
        assert_eq!(if_match(Some(" \"v12\" ")).expect("ok"), Some(12));
        for other in [
            "v1",
            "\"v01\"",
            "W/\"v1\"",
            "\"v1\", \"v2\"",
            "\"v\"",
            "\"v-1\"",
        ] {
            assert_eq!(if_match(Some(other)).expect("ok"), None, "{other}");
        }
        assert_eq!(
            if_match(Some(&format!("\"v{}\"", "9".repeat(19)))).expect("ok"),
            None
        );
        for missing in [None, Some(""), Some("*")] {
            assert_eq!(
                if_match(missing).expect_err("428").status(),
                428,
                "{missing:?}"
            );
        }
        assert_eq!(etag(3), "\"v3\"");
    }

    #[test]
    fn only_the_writes_own_result_makes_a_stale_etag_a_retry() {
        let slot = |b: u8| StoredSlot {
            id: [b; 16],
            kind: "passphrase".into(),
            slot: vec![b; 4],
        };
        let keys = |version, slots: Vec<StoredSlot>, keyring: Option<Vec<u8>>, migrating| Keys {
            version,
            slots,
            keyring,
            migrating,
        };
        let (enc, mig) = (First::Encrypted, First::Migrating);
        let mine = [slot(1), slot(2)];
        let ring = Some(&[9u8; 3][..]);
        type Case<'a> = (Keys, i64, Option<&'a [u8]>, First, bool, &'a str);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (keys(3, mine.to_vec(), Some(vec![9; 3]), false), 2, ring, enc, true, "its own result"),
            (keys(4, mine.to_vec(), Some(vec![9; 3]), false), 2, ring, enc, false, "a write came after"),
            (keys(2, mine.to_vec(), Some(vec![9; 3]), false), 2, ring, enc, false, "not written (version)"),
            (keys(3, vec![slot(1)], Some(vec![9; 3]), false), 2, ring, enc, false, "other slots"),
            (keys(3, vec![slot(2), slot(1)], Some(vec![9; 3]), false), 2, ring, enc, false, "other order"),
            (keys(3, mine.to_vec(), None, false), 2, ring, enc, false, "other keyring"),
            (keys(1, mine.to_vec(), None, false), 0, None, enc, true, "a first write"),
            (keys(1, mine.to_vec(), None, true), 0, None, enc, false, "a migration's first write"),
            (keys(1, mine.to_vec(), None, true), 0, None, mig, true, "a migration's own"),
            (keys(3, mine.to_vec(), None, true), 2, None, enc, true, "mode is not a later write's"),
            (keys(i64::MIN, mine.to_vec(), None, false), i64::MAX, None, enc, false, "no overflow"),
        ];
        for (current, expected, keyring, first, want, why) in cases {
            assert_eq!(
                is_retry_of(current, *expected, &mine, *keyring, *first),
                *want,
                "{why}"
            );
        }
    }

    #[test]
    fn a_replacement_wins_only_from_the_current_version() {
        let (enc, mig) = (First::Encrypted, First::Migrating);
        #[rustfmt::skip]
        let cases = [
            (0, 0, false, enc, Replaced::Done(1), "the first slots of an empty account"),
            (0, 0, true, enc, Replaced::VaultNotEmpty, "an account with notes"),
            (3, 0, true, enc, Replaced::VaultNotEmpty, "notes, whatever the version"),
            (0, 0, true, mig, Replaced::Done(1), "a migration's first slots"),
            (1, 0, false, enc, Replaced::Stale, "another device set it up first"),
            (2, 2, true, enc, Replaced::Done(3), "a later write, notes or not"),
            (3, 2, false, enc, Replaced::Stale, "a stale etag"),
            (2, 3, false, enc, Replaced::Stale, "an etag from the future"),
            (i64::MAX, i64::MAX, false, enc, Replaced::Stale, "no overflow"),
        ];
        for (current, expected, notes, first, want, why) in cases {
            assert_eq!(
                decide_replace(current, expected, notes, first),
                want,
                "{why}"
            );
        }
    }

    #[test]
    fn keyring_lengths_follow_the_format() {
        // Generation 1 carries generation 0's keys: 29 + 68 + 68 + 16 bytes.
        assert_eq!(MIN_KEYRING_BYTES, 181);
    }
}
