//! Getting notes back, as `steel-sync history | deleted | restore | rewind` do: the answers
//! of the recovery endpoints as records. A restore or rewind changes the server; the next
//! sync brings the result here (the engine records what it made first, so that sync takes it
//! for a change to pull, not for this device's own lost push).

use serde::Deserialize;
use serde_json::Value;

use crate::error::EngineError;
use crate::types::NoteError;

/// One kept version of a note, newest first in a history.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, uniffi::Record)]
pub struct NoteVersion {
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    pub is_deleted: bool,
    pub size_bytes: i64,
    pub content_hash: String,
    /// The device that made it, or null (made before devices were recorded).
    #[serde(default, deserialize_with = "device_name")]
    #[serde(rename = "device")]
    pub device_name: Option<String>,
}

/// A deleted note the server can bring back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeletedNote {
    pub path: String,
    pub deleted_at: Option<String>,
    pub deleted_by: Option<String>,
    /// The version a restore brings back, when its content is still stored.
    pub restorable_version: Option<i64>,
}

/// A restore that was done: `path` is now `version`, with the content of `restoredFrom`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, uniffi::Record)]
pub struct Restored {
    pub path: String,
    pub version: i64,
    pub restored_from: i64,
}

/// What a rewind did, over all its pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct RewindSummary {
    pub restored: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub kept_newer: u64,
    /// Notes left as they are, each with the server's reason.
    pub skipped: Vec<NoteError>,
}

fn device_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let device = Option::<Value>::deserialize(d)?;
    Ok(device.and_then(|v| v["device_name"].as_str().map(str::to_owned)))
}

fn unexpected(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal {
        reason: format!("unexpected {what} answer: {e}"),
    }
}

pub fn versions(raw: Vec<Value>) -> Result<Vec<NoteVersion>, EngineError> {
    raw.into_iter()
        .map(|v| serde_json::from_value(v).map_err(|e| unexpected("history", e)))
        .collect()
}

pub fn deleted_notes(raw: Vec<Value>) -> Vec<DeletedNote> {
    raw.iter()
        .map(|f| {
            let last = &f["last_version"];
            DeletedNote {
                path: f["path"].as_str().unwrap_or_default().to_owned(),
                deleted_at: f["deleted_at"].as_str().map(str::to_owned),
                deleted_by: f["deleted_by"]["device_name"].as_str().map(str::to_owned),
                restorable_version: match last["restorable"].as_bool() {
                    Some(false) => None,
                    _ => last["version"].as_i64(),
                },
            }
        })
        .collect()
}

/// The version a restore brings back: the one asked for, else the newest with content.
pub fn version_to_restore(
    path: &str,
    history: &[NoteVersion],
    asked: Option<i64>,
) -> Result<(i64, i64), EngineError> {
    let Some(head) = history.first().map(|v| v.version) else {
        return Err(EngineError::NotFound {
            reason: format!("{path}: the server has no versions of this note"),
        });
    };
    let version = match asked {
        Some(v) => v,
        None => history
            .iter()
            .find(|v| !v.is_deleted)
            .map(|v| v.version)
            .ok_or_else(|| EngineError::NotFound {
                reason: format!("{path}: no version with content"),
            })?,
    };
    Ok((version, head))
}

/// The answer of a one-note restore: done, or why not.
pub fn restore_outcome(path: &str, version: i64, answer: &Value) -> Result<Restored, EngineError> {
    if let Some(done) = answer["restored"].as_array().and_then(|r| r.first()) {
        return serde_json::from_value(done.clone()).map_err(|e| unexpected("restore", e));
    }
    if let Some(c) = answer["conflicts"].as_array().and_then(|c| c.first()) {
        return Err(EngineError::Conflict {
            path: path.to_owned(),
            reason: format!(
                "changed on the server meanwhile (now v{}); restore again",
                c["server_version"]
            ),
        });
    }
    if let Some(r) = answer["rejected"].as_array().and_then(|r| r.first()) {
        return Err(EngineError::Refused {
            status: 200,
            code: r["code"].as_str().unwrap_or("rejected").to_owned(),
            reason: r["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Err(EngineError::NotFound {
        reason: format!("{path} has no version {version}"),
    })
}

pub fn rewind_summary(pages: &[Value]) -> RewindSummary {
    let sum = |key: &str| pages.iter().filter_map(|p| p[key].as_u64()).sum::<u64>();
    RewindSummary {
        restored: sum("restored"),
        deleted: sum("deleted"),
        unchanged: sum("unchanged"),
        kept_newer: sum("kept_newer"),
        skipped: pages
            .iter()
            .flat_map(|p| p["skipped"].as_array().into_iter().flatten())
            .map(|s| NoteError {
                path: s["path"].as_str().unwrap_or_default().to_owned(),
                code: s["code"].as_str().unwrap_or_default().to_owned(),
                message: s["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn history() -> Vec<NoteVersion> {
        versions(vec![
            json!({"version": 3, "content_hash": "h3", "size_bytes": 0, "is_deleted": true,
                   "created_at": "2026-12-07T01:00:00Z",
                   "device": {"device_id": "d", "device_name": "Pixel", "removed": false}}),
            json!({"version": 2, "content_hash": "h2", "size_bytes": 5, "is_deleted": false,
                   "created_at": "2026-12-07T00:00:00Z", "device": null}),
        ])
        .unwrap()
    }

    #[test]
    fn a_history_reads_with_its_devices() {
        let h = history();
        assert_eq!(h[0].device_name.as_deref(), Some("Pixel"));
        assert_eq!(h[1].device_name, None);
        assert!(h[0].is_deleted && !h[1].is_deleted);
    }

    #[test]
    fn a_restore_brings_back_the_newest_content_unless_told() {
        assert_eq!(
            version_to_restore("a.md", &history(), None).unwrap(),
            (2, 3)
        );
        assert_eq!(
            version_to_restore("a.md", &history(), Some(1)).unwrap(),
            (1, 3)
        );
        assert!(matches!(
            version_to_restore("a.md", &[], None),
            Err(EngineError::NotFound { .. })
        ));
    }

    #[test]
    fn a_restore_answer_is_done_or_a_reason() {
        let done = json!({"restored": [{"path": "a.md", "version": 4, "content_hash": "h",
                          "restored_from": 2}], "conflicts": [], "not_found": [], "rejected": []});
        assert_eq!(
            restore_outcome("a.md", 2, &done).unwrap(),
            Restored {
                path: "a.md".into(),
                version: 4,
                restored_from: 2
            }
        );
        let conflict = json!({"restored": [], "conflicts": [{"path": "a.md", "server_version": 5}],
                              "not_found": [], "rejected": []});
        assert!(matches!(
            restore_outcome("a.md", 2, &conflict),
            Err(EngineError::Conflict { .. })
        ));
        let missing =
            json!({"restored": [], "conflicts": [], "not_found": ["a.md"], "rejected": []});
        assert!(matches!(
            restore_outcome("a.md", 9, &missing),
            Err(EngineError::NotFound { .. })
        ));
    }

    #[test]
    fn deleted_notes_and_rewinds_read_as_records() {
        let notes = deleted_notes(vec![
            json!({"path": "a.md", "version": 3, "deleted_at": "2026-12-07T00:00:00Z",
                   "deleted_by": {"device_name": "Mac"},
                   "last_version": {"version": 2, "restorable": true}}),
            json!({"path": "b.md", "version": 2, "deleted_at": null, "deleted_by": null,
                   "last_version": {"version": 1, "restorable": false}}),
        ]);
        assert_eq!(notes[0].restorable_version, Some(2));
        assert_eq!(notes[0].deleted_by.as_deref(), Some("Mac"));
        assert_eq!(notes[1].restorable_version, None);
        let sum = rewind_summary(&[
            json!({"restored": 2, "deleted": 1, "unchanged": 0, "kept_newer": 0, "skipped": []}),
            json!({"restored": 1, "deleted": 0, "unchanged": 4, "kept_newer": 1,
                   "skipped": [{"path": "c.md", "code": "content_gone", "message": "gone"}]}),
        ]);
        assert_eq!(
            (sum.restored, sum.deleted, sum.unchanged, sum.kept_newer),
            (3, 1, 4, 1)
        );
        assert_eq!(sum.skipped[0].code, "content_gone");
    }
}
