//! The key slots of an end-to-end encrypted account (README "Key slots API"): read them with
//! their ETag, write the whole set back with `If-Match`. A write with a stale ETag is the
//! server's 412 `precondition_failed`; the caller reads again and redoes its change.

use reqwest::Method;
use steel_protocol::wire::{KeysAnswer, PutKeysRequest};

use super::Api;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// `GET /vault/keys`: the account's slots and keyring (none while it is plaintext).
    pub async fn keys(&self) -> Result<KeysAnswer> {
        self.call(Op::GetKeys, Method::GET, "/vault/keys", None::<&()>)
            .await
    }

    /// `PUT /vault/keys` with `If-Match: etag`: replaces the slots and the keyring.
    pub async fn put_keys(&self, etag: &str, body: &PutKeysRequest) -> Result<KeysAnswer> {
        self.call_with(
            Op::PutKeys,
            Method::PUT,
            "/vault/keys",
            Some(body),
            &[("if-match", etag)],
        )
        .await
    }
}
