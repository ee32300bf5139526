//! `GET /vault/keys` and `PUT /vault/keys`: the key slots and keyring of an end-to-end
//! encrypted account, behind an ETag (README "Key slots").
//!
//! The server never opens a slot or a keyring (it has no key); it checks their public
//! headers as `steel-crypto` lays them out, so a device can trust that every stored slot is
//! a well-formed slot of the kind and id it is listed under, and that every slot wraps the
//! generation the keyring (or its absence) names: each one opens the whole vault. A PUT
//! needs `If-Match` with the ETag of the state it replaces: missing is 428, stale 412, and
//! nothing changes then. The set is never empty, so the last slot cannot be removed.

use aws_lambda_events::http::{HeaderValue, header};
use base64::Engine as _;
use steel_protocol::wire::{KeySlotEntry, KeySlotKind, KeysAnswer, PutKeysRequest};

use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::keys::{self, Keys};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
pub use crate::vault::keys::etag;
use crate::vault::keys::{if_match, is_retry_of, stale, validate};

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let charge = if request.method == "PUT" {
        Charge::WRITE
    } else {
        Charge::READ
    };
    let caller = authenticate_within(state, &request, charge).await?;
    if request.method == "PUT" {
        put(state, caller.user_id, &request).await
    } else {
        let current = keys::read(&state.db, caller.user_id).await?;
        answer(current)
    }
}

async fn put(
    state: &AppState,
    user_id: crate::domain::UserId,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    put_first(state, user_id, request, keys::First::Encrypted).await
}

/// A write of the slots, `first` saying what a first one (from `"v0"`) makes of the
/// account: `PUT /vault/keys` and `POST /vault/migration`.
pub(crate) async fn put_first(
    state: &AppState,
    user_id: crate::domain::UserId,
    request: &ApiRequest,
    first: keys::First,
) -> Result<ApiResponse, ApiError> {
    // The precondition first: a write without one is refused before its body is read.
    let expected = if_match(request.header("if-match"))?;
    let body: PutKeysRequest = request.json()?;
    let (slots, keyring) = validate(&body)?;
    let expected = expected.ok_or_else(stale)?;
    match keys::replace(
        &state.db,
        user_id,
        expected,
        &slots,
        keyring.as_deref(),
        first,
    )
    .await?
    {
        keys::Replaced::Done(_) => answer(keys::read(&state.db, user_id).await?),
        keys::Replaced::Stale => {
            // The same write sent again after its answer was lost finds its own result.
            let current = keys::read(&state.db, user_id).await?;
            if is_retry_of(&current, expected, &slots, keyring.as_deref(), first) {
                answer(current)
            } else {
                Err(stale())
            }
        }
        keys::Replaced::VaultNotEmpty => Err(ApiError::conflict(
            ErrorCode::VaultNotEmpty,
            "this vault already has notes: turn encryption on for it with POST \
             /vault/migration (README, \"Turning encryption on for an existing vault\"); \
             nothing changed",
        )),
    }
}

pub(crate) fn answer(keys: Keys) -> Result<ApiResponse, ApiError> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let tag = etag(keys.version);
    let mut response = ApiResponse::ok(&KeysAnswer {
        encrypted: keys.encrypted(),
        migrating: keys.migrating,
        slots: keys
            .slots
            .iter()
            .map(|s| {
                Ok(KeySlotEntry {
                    id: hex::encode(s.id),
                    kind: KeySlotKind::from_name(&s.kind).ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("stored slot kind {:?}", s.kind))
                    })?,
                    slot: b64(&s.slot),
                })
            })
            .collect::<Result<_, ApiError>>()?,
        keyring: keys.keyring.as_deref().map(b64),
        etag: tag.clone(),
    })?;
    response.headers.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).map_err(ApiError::internal)?,
    );
    Ok(response)
}
