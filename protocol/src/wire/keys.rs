//! The key slots of an end-to-end encrypted account: `GET /vault/keys`, `PUT /vault/keys`
//! (README "Key slots"). The server stores the slots and the keyring as opaque bytes (it
//! checks only their public headers: length, magic, kind, slot id, generation); devices
//! seal and open them with `steel-crypto`.

use serde::{Deserialize, Serialize};

/// Most key slots an account may have.
pub const MAX_KEY_SLOTS: usize = 16;
/// Length of a key slot's bytes (`steel_crypto::slot::SLOT_LEN`).
pub const KEY_SLOT_BYTES: usize = 126;
/// Longest keyring, in bytes (a keyring of generation g is 113 + 68 × g bytes: this allows
/// 480 rotations).
pub const MAX_KEYRING_BYTES: usize = 32 * 1024;

/// Which secret opens a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySlotKind {
    Passphrase,
    RecoveryCode,
}

impl KeySlotKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeySlotKind::Passphrase => "passphrase",
            KeySlotKind::RecoveryCode => "recovery_code",
        }
    }

    /// The kind a stored name stands for.
    pub fn from_name(name: &str) -> Option<KeySlotKind> {
        [KeySlotKind::Passphrase, KeySlotKind::RecoveryCode]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// One key slot on the wire: `id` is the slot's 16-byte id (bytes 6..22 of the slot) as 32
/// lowercase hex characters, `slot` the slot's 126 bytes in standard base64 (with padding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySlotEntry {
    pub id: String,
    pub kind: KeySlotKind,
    pub slot: String,
}

/// The answer of `GET /vault/keys`, `PUT /vault/keys` and `POST /vault/migration`. A plaintext account: `encrypted`
/// false, no slots, no keyring. `etag` is also the `ETag` header: send it as `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysAnswer {
    pub encrypted: bool,
    /// True while the account turns encrypted (`POST /vault/migration`, README "Turning
    /// encryption on for an existing vault"): the slots are stored, `encrypted` is still
    /// false and every other route treats the account as plaintext.
    #[serde(default)]
    pub migrating: bool,
    pub slots: Vec<KeySlotEntry>,
    /// The sealed keyring in standard base64; null in generation 0.
    pub keyring: Option<String>,
    pub etag: String,
}

/// `PUT /vault/keys` (with `If-Match`): the whole new set of slots and the keyring, both
/// required (`keyring` may be null, never absent: a PUT replaces everything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutKeysRequest {
    pub slots: Vec<KeySlotEntry>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub keyring: Option<String>,
}
