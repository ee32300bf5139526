//! `POST /auth/login`: a Sign in with Apple / Google identity token in, our tokens out.

use crate::auth::session::{start_session, validate_device};
use crate::db::users;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::LoginState;
use steel_protocol::wire::LoginRequest;

pub async fn handle(state: &LoginState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let body: LoginRequest = request.json()?;
    // Refuse a bad device description before doing any remote work.
    let device = body.device.map(validate_device).transpose()?;
    let printable = |n: &str| n.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if body
        .nonce
        .as_deref()
        .is_some_and(|n| n.is_empty() || n.len() > 512 || !printable(n))
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidNonce,
            "nonce must be 1 to 512 printable ASCII characters",
        ));
    }
    let identity = state
        .identity
        .verify(body.provider, &body.identity_token, body.nonce.as_deref())
        .await?;
    let user = users::find_or_create_user(
        &state.app.db,
        identity.provider,
        &identity.subject,
        identity.email.as_deref(),
    )
    .await?;
    let session = start_session(&state.app, user.id, device.as_ref()).await?;
    tracing::info!(user_id = %user.id, device_id = ?session.device_id, provider = %identity.provider, "login");
    ApiResponse::ok(&session)
}
