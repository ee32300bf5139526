//! `/vault/migration`: turning end-to-end encryption on for a vault that has notes (README
//! "Turning encryption on for an existing vault"). Plaintext calls: the account stays
//! plaintext until the switch.

use reqwest::Method;
use steel_protocol::wire::{
    KeysAnswer, MigrationAnswer, PutKeysRequest, StageAnswer, StageEntry, StageRequest,
    SwitchAnswer,
};

use super::Api;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// `POST /vault/migration` with `If-Match: etag` (`"v0"`): stores the first slots, the
    /// account still plaintext.
    pub async fn start_migration(&self, etag: &str, body: &PutKeysRequest) -> Result<KeysAnswer> {
        self.call_with(
            Op::Migration,
            Method::POST,
            "/vault/migration",
            Some(body),
            &[("if-match", etag)],
        )
        .await
    }

    /// `GET /vault/migration`: the account's mode and what is left to stage.
    pub async fn migration(&self) -> Result<MigrationAnswer> {
        self.call(Op::Migration, Method::GET, "/vault/migration", None::<&()>)
            .await
    }

    /// `POST /vault/migration/stage`.
    pub async fn stage(&self, files: Vec<StageEntry>) -> Result<StageAnswer> {
        let body = StageRequest { files };
        self.call(
            Op::Migration,
            Method::POST,
            "/vault/migration/stage",
            Some(&body),
        )
        .await
    }

    /// `POST /vault/migration/switch`.
    pub async fn switch_to_encrypted(&self) -> Result<SwitchAnswer> {
        self.call(
            Op::Migration,
            Method::POST,
            "/vault/migration/switch",
            None::<&()>,
        )
        .await
    }

    /// `DELETE /vault/migration`: abandons it; the account is plaintext again.
    pub async fn abandon_migration(&self) -> Result<MigrationAnswer> {
        self.call(
            Op::Migration,
            Method::DELETE,
            "/vault/migration",
            None::<&()>,
        )
        .await
    }
}
