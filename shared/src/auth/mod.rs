//! Authentication: our own access and refresh tokens, the identity tokens of Sign in with
//! Apple and Google (verified against their JWKS), the bearer check of every endpoint, and
//! the session (token pair and device) that login, refresh and register start.

pub mod bearer;
pub mod identity;
pub mod jwks;
pub mod session;
pub mod tokens;

pub use bearer::{Caller, admit, authenticate, authenticate_within, verify};
pub use identity::{IdentityVerifier, VerifiedIdentity};
pub use tokens::TokenIssuer;

/// What the bearer check and a new session need of a function's state. The runtime's
/// `AppState` provides it, so authentication does not import the layer that wires it.
pub trait AuthContext {
    fn tokens(&self) -> &TokenIssuer;
    fn db(&self) -> &sqlx::PgPool;
    /// The request budgets in force (`None`: `REQUEST_BUDGETS=false`).
    fn budgets(&self) -> Option<crate::budget::Budgets>;
    /// The time the budgets refill by (injected in tests).
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}
