//! Authentication: our own access and refresh tokens, the identity tokens of Sign in with
//! Apple and Google (verified against their JWKS), and the bearer check of every endpoint.

pub mod bearer;
pub mod identity;
pub mod jwks;
pub mod tokens;

pub use bearer::{Caller, authenticate};
pub use identity::{IdentityVerifier, VerifiedIdentity};
pub use tokens::TokenIssuer;
