//! Vault request bodies, parsed per file: one bad file is refused on its own (in
//! `rejected`), never failing the others. Numbers arrive as JSON numbers and are range-checked
//! here, so no arithmetic downstream ever sees a client number it could overflow on.

use std::collections::HashSet;

use serde_json::Number;

use crate::domain::{ContentHash, VaultPath, Version};
use crate::error::{ApiError, ErrorCode};
use crate::vault::answer::Rejected;
use crate::vault::rules::{Content, Proposal};

/// Most files one request may name.
pub use steel_protocol::wire::MAX_FILES_PER_REQUEST;
pub use steel_protocol::wire::{DeleteEntry, DeleteRequest, FileEntry, FilesRequest};

pub fn check_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_FILES_PER_REQUEST {
        return Err(ApiError::bad_request(
            ErrorCode::TooManyFiles,
            format!("at most {MAX_FILES_PER_REQUEST} files per request, got {n}"),
        ));
    }
    Ok(())
}

/// Parses paths in request order, refusing a second mention of the same file.
#[derive(Default)]
pub struct PathParser {
    seen: HashSet<VaultPath>,
}

impl PathParser {
    pub fn parse(&mut self, raw: &str) -> Result<VaultPath, Rejected> {
        let path = VaultPath::parse(raw).map_err(|e| Rejected::new(raw, e.code, e.message))?;
        if !self.seen.insert(path.clone()) {
            return Err(Rejected::new(
                path.as_str(),
                ErrorCode::DuplicatePath,
                "the same file appears twice in this request",
            ));
        }
        Ok(path)
    }
}

/// A base version: 0 to 2^53 − 1 (`min` more for a delete, which names an existing version).
pub fn parse_base(path: &VaultPath, raw: &Number, min: i64) -> Result<Version, Rejected> {
    Version::from_json(raw)
        .filter(|v| v.get() >= min)
        .ok_or_else(|| {
            Rejected::new(
                path.as_str(),
                ErrorCode::InvalidBaseVersion,
                format!(
                    "base_version must be an integer from {min} to {} (got {raw})",
                    Version::MAX
                ),
            )
        })
}

/// A version to read: 1 to 2^53 − 1.
pub fn parse_version(path: &VaultPath, raw: &Number) -> Result<Version, Rejected> {
    Version::from_json(raw)
        .filter(|v| v.get() >= 1)
        .ok_or_else(|| {
            Rejected::new(
                path.as_str(),
                ErrorCode::InvalidVersion,
                format!(
                    "version must be an integer from 1 to {} (got {raw})",
                    Version::MAX
                ),
            )
        })
}

pub(crate) fn parse_size(
    path: &VaultPath,
    raw: &Number,
    max_file_bytes: u64,
) -> Result<i64, Rejected> {
    raw.as_u64()
        .filter(|size| *size <= max_file_bytes)
        .and_then(|size| i64::try_from(size).ok())
        .ok_or_else(|| {
            Rejected::new(
                path.as_str(),
                ErrorCode::InvalidSize,
                format!("size_bytes must be an integer from 0 to {max_file_bytes}"),
            )
        })
}

fn parse_entry(
    entry: &FileEntry,
    paths: &mut PathParser,
    max_file_bytes: u64,
) -> Result<Proposal, Rejected> {
    let path = paths.parse(&entry.path)?;
    let hash = ContentHash::parse(&entry.content_hash)
        .map_err(|e| Rejected::new(path.as_str(), e.code, e.message))?;
    let base = parse_base(&path, &entry.base_version, 0)?;
    let size = parse_size(&path, &entry.size_bytes, max_file_bytes)?;
    Ok(Proposal {
        path,
        base,
        content: Content { hash, size },
    })
}

/// Validates push/confirm entries: the good ones in order, and the refused ones.
pub fn parse_files(entries: &[FileEntry], max_file_bytes: u64) -> (Vec<Proposal>, Vec<Rejected>) {
    let mut paths = PathParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for entry in entries {
        match parse_entry(entry, &mut paths, max_file_bytes) {
            Ok(p) => good.push(p),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

/// Validates delete entries: a base names the version being deleted (1 or more).
pub fn parse_deletes(entries: &[DeleteEntry]) -> (Vec<(VaultPath, Version)>, Vec<Rejected>) {
    let mut paths = PathParser::default();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for entry in entries {
        let parsed = paths
            .parse(&entry.path)
            .and_then(|path| Ok((path.clone(), parse_base(&path, &entry.base_version, 1)?)));
        match parsed {
            Ok(d) => good.push(d),
            Err(r) => rejected.push(r),
        }
    }
    (good, rejected)
}

/// A `limit` query parameter: `default` when absent, else 1 to `max`.
pub fn page_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(ErrorCode::InvalidLimit, format!("limit must be 1 to {max}"))
            }),
    }
}

/// A listing's `cursor` query parameter (`<tag><number>`, as the previous page answered
/// it): the position to continue below, or `None` to start.
pub fn parse_page_cursor(raw: Option<&str>, tag: char) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    raw.strip_prefix(tag)
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "cursor is not one this listing answered",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(base: &str, size: &str) -> FileEntry {
        serde_json::from_str(&format!(
            r#"{{"path": "a.md", "base_version": {base}, "size_bytes": {size},
                "content_hash": "{}"}}"#,
            ContentHash::of(b"a").to_hex()
        ))
        .expect("entry")
    }

    fn code_of(base: &str, size: &str) -> Option<ErrorCode> {
        let (_, rejected) = parse_files(&[entry(base, size)], 100);
        rejected.first().and_then(|r| r.code.known())
    }

    #[test]
    fn base_versions_outside_what_the_server_hands_out_are_refused_per_file() {
        for bad in [
            "-1",
            "9007199254740992",
            "9223372036854775807",
            "18446744073709551615",
            "1e300",
            "1.5",
        ] {
            assert_eq!(
                code_of(bad, "1"),
                Some(ErrorCode::InvalidBaseVersion),
                "{bad}"
            );
        }
        for good in ["0", "1", "9007199254740991"] {
            assert_eq!(code_of(good, "1"), None, "{good}");
        }
    }

    #[test]
    fn sizes_outside_the_file_limit_are_refused_per_file() {
        for bad in ["-1", "101", "18446744073709551615", "2.5"] {
            assert_eq!(code_of("0", bad), Some(ErrorCode::InvalidSize), "{bad}");
        }
        assert_eq!(code_of("0", "100"), None);
    }

    #[test]
    fn a_delete_names_a_version_of_one_or_more() {
        let parse = |base: &str| {
            let entry: DeleteEntry =
                serde_json::from_str(&format!(r#"{{"path": "a.md", "base_version": {base}}}"#))
                    .expect("entry");
            parse_deletes(&[entry])
                .1
                .first()
                .and_then(|r| r.code.known())
        };
        assert_eq!(parse("0"), Some(ErrorCode::InvalidBaseVersion));
        assert_eq!(
            parse("9007199254740992"),
            Some(ErrorCode::InvalidBaseVersion)
        );
        assert_eq!(parse("1"), None);
    }
}
