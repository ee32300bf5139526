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
