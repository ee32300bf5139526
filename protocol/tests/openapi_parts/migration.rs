//! Samples of the migration's bodies (`wire::migration`), every optional field filled.

use std::collections::BTreeMap;

use serde_json::{Number, Value, json};
use steel_protocol::ErrorCode;
use steel_protocol::wire::*;

use super::{at, hash, path};

fn v<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("json")
}

fn source() -> SourceRef {
    SourceRef {
        path: path("Notes/Café.md"),
        version: 3,
    }
}

pub fn samples() -> Vec<(&'static str, Value)> {
    vec![
        ("VaultMode", v(VaultMode::Migrating)),
        ("SourceRef", v(source())),
        (
            "MigrationResponse",
            v(MigrationAnswer {
                mode: VaultMode::Migrating,
                live_notes: 2,
                staged: 1,
                missing: vec![source()],
            }),
        ),
        (
            "StageEntry",
            v(StageEntry {
                path: "Notes/Café.md".into(),
                version: Number::from(3),
                path_key: "ab".repeat(32),
                blob_id: "cd".repeat(32),
                content_hash: hash("c").to_hex(),
                size_bytes: Number::from(256),
                sealed_path: "AQID".into(),
                sealed_manifest: "BAUG".into(),
            }),
        ),
        (
            "StageRequest",
            json!({"files": [v(StageEntry {
                path: "a.md".into(),
                version: Number::from(1),
                path_key: "ab".repeat(32),
                blob_id: "cd".repeat(32),
                content_hash: hash("a").to_hex(),
                size_bytes: Number::from(16),
                sealed_path: "AQID".into(),
                sealed_manifest: "BAUG".into(),
            })]}),
        ),
        (
            "StageResponse",
            v(StageAnswer {
                staged: vec![source()],
                uploads: vec![StageUpload {
                    path: path("b.md"),
                    content_hash: hash("b"),
                    size_bytes: 48,
                    upload_url: "https://bucket.invalid/put".into(),
                    method: "PUT".into(),
                    headers: BTreeMap::from([
                        ("x-amz-checksum-sha256".into(), "abc=".into()),
                        ("content-length".into(), "48".into()),
                    ]),
                    expires_at: at(),
                }],
                stale: vec![StaleStage {
                    path: path("c.md"),
                    version: 1,
                    current: 2,
                }],
                rejected: vec![Rejected::new(
                    "bad//path",
                    ErrorCode::InvalidPath,
                    "path must not contain an empty segment",
                )],
            }),
        ),
        (
            "StageRejected",
            v(Rejected::new(
                "d.md",
                ErrorCode::ContentMismatch,
                "the bucket holds this content_hash with another size_bytes",
            )),
        ),
        (
            "SwitchResponse",
            v(SwitchAnswer {
                notes: 2,
                cursor: 9,
            }),
        ),
    ]
}
