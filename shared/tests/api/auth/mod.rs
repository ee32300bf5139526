//! Login, refresh, device registration and the bearer check, against a real Postgres and a
//! real local JWKS server holding a test RSA key.

mod bearer;
mod identity_tokens;
mod login;
mod refresh;
mod register;
mod samples;

use crate::support::Answer;

/// Asserts a login was refused for its identity token, as every such refusal looks.
fn refused(answer: &Answer) {
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert_eq!(answer.code(), "invalid_identity_token", "{:?}", answer.body);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
}
