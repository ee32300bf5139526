//! A code inside an answer's per-file entry (`rejected[].code`, `missing[].code`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// An [`ErrorCode`] as a per-file entry carries it. A device built before the server learnt
/// a new code still reads the rest of the answer: the unknown code stays as its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Code {
    Known(ErrorCode),
    Other(String),
}

impl Code {
    pub fn as_str(&self) -> &str {
        match self {
            Code::Known(code) => code.as_str(),
            Code::Other(text) => text,
        }
    }

    pub fn known(&self) -> Option<ErrorCode> {
        match self {
            Code::Known(code) => Some(*code),
            Code::Other(_) => None,
        }
    }
}

impl From<ErrorCode> for Code {
    fn from(code: ErrorCode) -> Self {
        Code::Known(code)
    }
}

impl PartialEq<ErrorCode> for Code {
    fn eq(&self, other: &ErrorCode) -> bool {
        self.known() == Some(*other)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes_read_back() {
        let known: Code = serde_json::from_str(r#""case_conflict""#).expect("json");
        assert_eq!(known, ErrorCode::CaseConflict);
        let other: Code = serde_json::from_str(r#""some_future_code""#).expect("json");
        assert_eq!(other, Code::Other("some_future_code".into()));
        assert_eq!(other.known(), None);
        assert_eq!(
            serde_json::to_string(&Code::from(ErrorCode::QuotaExceeded)).expect("json"),
            r#""quota_exceeded""#
        );
    }
}
