//! `POST /vault/packs`: the blobs named by their hashes, as a few presigned pack objects
//! with their indexes (see [`crate::packs`]). Charged to the download budget like a pull:
//! one token per hash.

use crate::auth::{admit, verify};
use crate::budget::Charge;
use crate::domain::ContentHash;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::packs::{self, MAX_HASHES_PER_PACKS_REQUEST};
use crate::runtime::VaultState;
use steel_protocol::wire::PacksRequest;

/// The request's hashes, parsed: a malformed one refuses the whole request (400
/// `invalid_content_hash`), as do more than [`MAX_HASHES_PER_PACKS_REQUEST`] (400
/// `too_many_files`).
pub fn parse_hashes(raw: &[String]) -> Result<Vec<ContentHash>, ApiError> {
    if raw.len() > MAX_HASHES_PER_PACKS_REQUEST {
        return Err(ApiError::bad_request(
            ErrorCode::TooManyFiles,
            format!(
                "at most {MAX_HASHES_PER_PACKS_REQUEST} hashes per packs request, got {}",
                raw.len()
            ),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, h)| {
            ContentHash::parse(h).map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidContentHash,
                    format!("hashes[{i}] is not a SHA-256 in lowercase hex (64 characters)"),
                )
            })
        })
        .collect()
}

pub async fn handle(state: &VaultState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let claimed = verify(app, &request)?;
    let body: PacksRequest = request.json()?;
    let wanted = parse_hashes(&body.hashes)?;
    let caller = admit(app, claimed, Charge::downloads(wanted.len())).await?;
    let answer = packs::answer(
        &app.db,
        &state.storage,
        caller.user_id,
        &wanted,
        chrono::Utc::now(),
    )
    .await?;
    ApiResponse::ok(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_checked_before_any_work() {
        let good = ContentHash::of(b"a").to_hex();
        let cases: Vec<(&str, Vec<String>, Option<ErrorCode>)> = vec![
            ("none", vec![], None),
            ("one good", vec![good.clone()], None),
            ("a repeat is fine", vec![good.clone(), good.clone()], None),
            (
                "upper case",
                vec![good.to_uppercase()],
                Some(ErrorCode::InvalidContentHash),
            ),
            (
                "short",
                vec!["ab".into()],
                Some(ErrorCode::InvalidContentHash),
            ),
            (
                "empty",
                vec![String::new()],
                Some(ErrorCode::InvalidContentHash),
            ),
            (
                "one too many",
                vec![good.clone(); MAX_HASHES_PER_PACKS_REQUEST + 1],
                Some(ErrorCode::TooManyFiles),
            ),
            (
                "at the limit",
                vec![good; MAX_HASHES_PER_PACKS_REQUEST],
                None,
            ),
        ];
        for (what, raw, expect) in cases {
            let got = parse_hashes(&raw).map(|v| v.len()).map_err(|e| e.code());
            match expect {
                None => assert_eq!(got, Ok(raw.len()), "{what}"),
                Some(code) => assert_eq!(got, Err(code), "{what}"),
            }
        }
    }
}
