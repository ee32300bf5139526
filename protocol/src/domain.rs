//! Domain types parsed at the boundary, so no raw string crosses into the logic: the same
//! types on the server and on every device.
//!
//! Each type can only hold a valid value: a `VaultPath` is canonical (NFC) and safe to use as
//! a key on every device's file system, a `ContentHash` is a SHA-256, a `Cursor` is a position
//! in one user's change sequence.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::error::{ErrorCode, ParseError};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", sqlx(transparent))]
        pub struct $name(pub Uuid);

        #[cfg(feature = "random-ids")]
        impl $name {
            pub fn new_random() -> Self {
                $name(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type!(
    /// A user account (one per provider identity).
    UserId
);
id_type!(
    /// One installation of the app on one device.
    DeviceId
);

/// Longest path, in bytes of its NFC form.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest path segment (file or folder name), in bytes: the common file-system limit.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Devices keep their local sync database here; it is never synced.
pub const LOCAL_STATE_DIR: &str = ".steel";

/// A file's path inside a vault: relative, `/`-separated, NFC-normalised.
///
/// macOS hands out NFD names while other systems use NFC; normalising here makes both
/// spellings name the same file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VaultPath(String);

impl VaultPath {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = |why: &str| ParseError::new(ErrorCode::InvalidPath, format!("path {why}"));
        if raw.is_empty() {
            return Err(invalid("must not be empty"));
        }
        // Checked on the raw input too, so a huge string is refused before normalising it.
        if raw.len() > 4 * MAX_PATH_BYTES {
            return Err(invalid(&format!("must be at most {MAX_PATH_BYTES} bytes")));
        }
        let path = nfc(raw);
        if path.len() > MAX_PATH_BYTES {
            return Err(invalid(&format!("must be at most {MAX_PATH_BYTES} bytes")));
        }
        if path.starts_with('/') {
            return Err(invalid("must be relative (no leading '/')"));
        }
        if path.contains('\\') {
            return Err(invalid("must use '/' as separator (no backslash)"));
        }
        if path.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        for segment in path.split('/') {
            match segment {
                "" => return Err(invalid("must not contain an empty segment")),
                "." | ".." => return Err(invalid("must not contain '.' or '..' segments")),
                s if s.len() > MAX_SEGMENT_BYTES => {
                    return Err(invalid(&format!(
                        "segments must be at most {MAX_SEGMENT_BYTES} bytes"
                    )));
                }
                _ => {}
            }
        }
        let first = path.split('/').next().unwrap_or_default();
        // Case-insensitive: on iOS and macOS `.Steel` is the same folder.
        if first.eq_ignore_ascii_case(LOCAL_STATE_DIR) {
            return Err(invalid("must not be inside .steel/ (local sync state)"));
        }
        Ok(VaultPath(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which paths that differ only by letter case collide, as they do on
    /// the case-insensitive file systems of iOS and macOS: the NFC path in full Unicode
    /// lower case, normalised to NFC again. The one definition the server (one live note per
    /// key) and every device (twins refused before any request; encrypted vaults' path keys)
    /// share. It depends on the Unicode tables of [`CASE_KEY_UNICODE`] and [`NFC_UNICODE`],
    /// which a test pins: a toolchain or crate update that moves them fails it.
    pub fn case_key(&self) -> String {
        // ASCII is its own NFC and lower-cases to ASCII: the same key without the
        // normaliser's walk, which was most of keying a 10,000-note vault on every sync.
        if self.0.is_ascii() {
            return self.0.to_ascii_lowercase();
        }
        full_case_key(&self.0)
    }
}

/// `raw` in NFC. The quick check answers most names (every ASCII one) without the
/// normalising walk, which was most of the cost of parsing a listing's 10,000 paths.
fn nfc(raw: &str) -> String {
    match unicode_normalization::is_nfc_quick(raw.chars()) {
        unicode_normalization::IsNormalized::Yes => raw.to_owned(),
        _ => raw.nfc().collect(),
    }
}

/// [`VaultPath::case_key`] by the Unicode tables, for any string.
fn full_case_key(path: &str) -> String {
    nfc(&path.to_lowercase())
}

/// The Unicode version of the lower-case mapping [`VaultPath::case_key`] uses (Rust's `char`
/// tables of the pinned toolchain).
pub const CASE_KEY_UNICODE: (u8, u8, u8) = char::UNICODE_VERSION;
/// The Unicode version of the NFC tables (the `unicode-normalization` crate, pinned in
/// `Cargo.lock`).
pub const NFC_UNICODE: (u8, u8, u8) = unicode_normalization::UNICODE_VERSION;

/// Pairs of paths that name one note on a case-insensitive file system (the same
/// [`VaultPath::case_key`]): the first path seen with a key, and each later one. The server
/// keeps one live note per key; a device reports these before sending anything.
pub fn case_twins<'a>(
    paths: impl IntoIterator<Item = &'a VaultPath>,
) -> Vec<(VaultPath, VaultPath)> {
    let mut first: std::collections::HashMap<String, &VaultPath> = std::collections::HashMap::new();
    let mut twins = Vec::new();
    for path in paths {
        match first.entry(path.case_key()) {
            std::collections::hash_map::Entry::Occupied(seen) if *seen.get() != path => {
                twins.push(((*seen.get()).clone(), path.clone()));
            }
            std::collections::hash_map::Entry::Occupied(_) => {}
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(path);
            }
        }
    }
    twins
}

impl TryFrom<String> for VaultPath {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        VaultPath::parse(&value)
    }
}

impl From<VaultPath> for String {
    fn from(value: VaultPath) -> Self {
        value.0
    }
}

impl fmt::Display for VaultPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of a file's bytes, as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = || {
            ParseError::new(
                ErrorCode::InvalidContentHash,
                "content_hash must be a SHA-256 as 64 lowercase hex characters",
            )
        };
        if raw.len() != 64 || !raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(raw, &mut bytes).map_err(|_| invalid())?;
        Ok(ContentHash(bytes))
    }

    pub fn of(content: &[u8]) -> Self {
        ContentHash(Sha256::digest(content).into())
    }

    pub fn of_digest(digest: [u8; 32]) -> Self {
        ContentHash(digest)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The form S3 uses for `x-amz-checksum-sha256`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn from_base64(raw: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        Some(ContentHash(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for ContentHash {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ContentHash::parse(&value)
    }
}

impl From<ContentHash> for String {
    fn from(value: ContentHash) -> Self {
        value.to_hex()
    }
}

/// A position in one user's change sequence: "I have seen every change up to here".
///
/// Opaque to clients (`"c<seq>"` on the wire) so its encoding can change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(i64);

impl Cursor {
    /// Before the first change: "give me everything".
    pub const START: Cursor = Cursor(0);

    pub fn from_seq(seq: i64) -> Self {
        Cursor(seq.max(0))
    }

    pub fn seq(self) -> i64 {
        self.0
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        raw.strip_prefix('c')
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<i64>().ok())
            .map(Cursor)
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::ResyncRequired,
                    "cursor is not one this server issued",
                )
            })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Cursor::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A file's version as a client names it: 0 is "no version" (the base of a new file),
/// the server's versions count from 1.
///
/// Bounded by 2^53 − 1, the largest integer every JSON client represents exactly: no
/// version the server hands out is ever larger, so a bigger number is a client bug, refused
/// when parsed, and [`Version::next`] can never overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(i64);

impl Version {
    /// The base of a file that does not exist yet.
    pub const NONE: Version = Version(0);
    /// 2^53 − 1 (JavaScript's `Number.MAX_SAFE_INTEGER`).
    pub const MAX: i64 = (1 << 53) - 1;

    /// A number from a request: an integer from 0 to [`Version::MAX`].
    pub fn from_json(raw: &serde_json::Number) -> Option<Self> {
        raw.as_i64().and_then(Self::new)
    }

    pub fn new(raw: i64) -> Option<Self> {
        (0..=Self::MAX).contains(&raw).then_some(Version(raw))
    }

    /// A version read back from the database (always in range: the server wrote it).
    pub fn stored(raw: i64) -> Self {
        Version(raw.clamp(0, Self::MAX))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The version a write on top of this one gets. Cannot overflow: `self` is at most
    /// [`Version::MAX`], far below `i64::MAX` (a file would need 2^53 writes to pass it).
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ParseError::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "{other:?} is not one of {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Identity provider of a user account.
    Provider, { Apple => "apple", Google => "google" }
);
text_enum!(
    /// Device platform; decides which push service reaches it.
    Platform, { Ios => "ios", Macos => "macos", Android => "android" }
);
text_enum!(
    /// Which APNs environment issued a device's push token.
    PushEnvironment, { Sandbox => "sandbox", Production => "production" }
);

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
