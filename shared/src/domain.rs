//! Domain types parsed at the boundary: defined once in `steel-protocol`, shared with every
//! device; re-exported here so the server's modules name them as before.

pub use steel_protocol::domain::*;
pub use steel_protocol::error::ParseError;

impl From<ParseError> for crate::error::ApiError {
    fn from(err: ParseError) -> Self {
        crate::error::ApiError::bad_request(err.code, err.message)
    }
}
