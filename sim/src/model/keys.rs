//! `GET /vault/keys` and `PUT /vault/keys` as `handlers/keys.rs` answers them: the same
//! pure rules from `steel_core::vault::keys` (which ETag `If-Match` names, the slots' and
//! keyring's checks, what a replacement from an expected version does, when a stale ETag is
//! only a retry of the write that won), on the model's one account.

use base64::Engine as _;
use steel_core::vault::keys::{
    First, Replaced, decide_replace, etag, if_match, is_retry_of, stale, validate,
};
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{KeySlotEntry, KeySlotKind, KeysAnswer, PutKeysRequest};

use super::{Answer, Server, api_error, parse};

impl Server {
    /// The account's keys, with their ETag.
    pub(super) fn get_keys(&self) -> Answer {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let keys = &self.keys;
        let slots = keys
            .slots
            .iter()
            .filter_map(|s| {
                Some(KeySlotEntry {
                    id: hex::encode(s.id),
                    kind: KeySlotKind::from_name(&s.kind)?,
                    slot: b64(&s.slot),
                })
            })
            .collect();
        Answer::ok(&KeysAnswer {
            encrypted: keys.encrypted(),
            migrating: keys.migrating,
            slots,
            keyring: keys.keyring.as_deref().map(b64),
            etag: etag(keys.version),
        })
    }

    /// Replaces the slots if `If-Match` names the current version (`put_first`: `first`
    /// says what a first write makes of the account, [`First::Encrypted`] for `PUT
    /// /vault/keys`, [`First::Migrating`] for `POST /vault/migration`).
    pub(super) fn put_keys(
        &mut self,
        raw_if_match: Option<&str>,
        body: &[u8],
        first: First,
    ) -> Result<Answer, Answer> {
        let expected = if_match(raw_if_match).map_err(api_error)?;
        let body: PutKeysRequest = parse(body)?;
        let (slots, keyring) = validate(&body).map_err(api_error)?;
        let expected = expected.ok_or_else(|| api_error(stale()))?;
        let has_notes = !self.files.is_empty();
        match decide_replace(self.keys.version, expected, has_notes, first) {
            Replaced::Done(version) => {
                if expected == 0 {
                    self.keys.migrating = first == First::Migrating;
                }
                self.keys.version = version;
                self.keys.slots = slots;
                self.keys.keyring = keyring;
                Ok(self.get_keys())
            }
            Replaced::Stale => {
                if is_retry_of(&self.keys, expected, &slots, keyring.as_deref(), first) {
                    Ok(self.get_keys())
                } else {
                    Err(api_error(stale()))
                }
            }
            Replaced::VaultNotEmpty => Err(Answer::error(
                409,
                ErrorCode::VaultNotEmpty,
                "this vault already has notes: turn encryption on for it with POST \
                 /vault/migration",
            )),
        }
    }
}
