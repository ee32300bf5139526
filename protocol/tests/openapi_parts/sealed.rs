//! Samples of the encrypted account's bodies (`wire::sealed`), every optional field filled.

use base64::Engine as _;
use serde_json::{Number, Value, json};
use steel_protocol::ErrorCode;
use steel_protocol::wire::*;

use super::{at, device_id, hash};

fn key(seed: u8) -> Key32 {
    Key32([seed; 32])
}

fn sealed() -> Sealed {
    Sealed {
        sealed_path: SealedBytes::new(vec![1; 61]).expect("bytes"),
        sealed_manifest: SealedBytes::new(vec![2; 93]).expect("bytes"),
        manifest_version: 3,
        blob_id: key(9),
    }
}

fn rejected() -> SealedRejected {
    SealedRejected {
        path_key: "AB".into(),
        code: ErrorCode::InvalidPathKey.into(),
        message: "path_key must be 64 lowercase hex characters".into(),
    }
}

fn conflict() -> SealedConflict {
    SealedConflict {
        path_key: key(1),
        base_version: 2,
        server_version: 3,
        content_hash: Some(hash("a")),
        size_bytes: Some(256),
        is_deleted: false,
        updated_at: Some(at()),
        updated_by: Some(device_id()),
        download_url: Some("https://bucket.invalid/get".into()),
        sealed: Some(sealed()),
    }
}

fn versioned() -> SealedVersioned {
    SealedVersioned {
        path_key: key(1),
        version: 3,
        content_hash: hash("a"),
    }
}

fn tombstone() -> SealedTombstone {
    SealedTombstone {
        path_key: key(2),
        version: 4,
        deleted_at: Some(at()),
        sealed: Some(sealed()),
    }
}

fn v(value: serde_json::Result<Value>) -> Value {
    value.expect("serialize")
}

pub fn samples() -> Vec<(&'static str, Value)> {
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![5u8; n]);
    let push_entry = SealedPushEntry {
        path_key: key(1).to_hex(),
        base_version: Number::from(2),
        blob_id: key(9).to_hex(),
        content_hash: hash("a").to_hex(),
        size_bytes: Number::from(256),
    };
    let confirm_entry = SealedConfirmEntry {
        path_key: key(1).to_hex(),
        base_version: Number::from(2),
        version: Number::from(3),
        blob_id: key(9).to_hex(),
        content_hash: hash("a").to_hex(),
        size_bytes: Number::from(256),
        sealed_path: b64(61),
        sealed_manifest: b64(93),
    };
    vec![
        ("Sealed", v(serde_json::to_value(sealed()))),
        ("SealedPushEntry", v(serde_json::to_value(&push_entry))),
        (
            "SealedPushRequest",
            v(serde_json::to_value(SealedPushRequest {
                files: vec![push_entry],
            })),
        ),
        (
            "SealedConfirmEntry",
            v(serde_json::to_value(&confirm_entry)),
        ),
        (
            "SealedConfirmRequest",
            v(serde_json::to_value(SealedConfirmRequest {
                files: vec![confirm_entry.clone()],
            })),
        ),
        (
            "SealedBulkConfirmRequest",
            v(serde_json::to_value(SealedBulkConfirmRequest {
                pack_id: "0b5d1c6e-3f7a-4b2c-9d8e-1a2b3c4d5e6f".into(),
                blobs: vec![BulkBlob {
                    content_hash: hash("a").to_hex(),
                    offset: 0,
                    length: 256,
                }],
                files: vec![confirm_entry],
            })),
        ),
        (
            "SealedDeleteRequest",
            v(serde_json::to_value(SealedDeleteRequest {
                files: vec![SealedDeleteEntry {
                    path_key: key(1).to_hex(),
                    base_version: Number::from(3),
                }],
                confirm_mass_delete: true,
            })),
        ),
        (
            "SealedPullRequest",
            v(serde_json::to_value(SealedPullRequest {
                path_keys: Some(vec![key(1).to_hex()]),
                files: None,
            })),
        ),
        (
            "SealedPullRequest",
            v(serde_json::to_value(SealedPullRequest {
                path_keys: None,
                files: Some(vec![SealedVersionRef {
                    path_key: key(1).to_hex(),
                    version: Number::from(2),
                }]),
            })),
        ),
        ("SealedRejected", v(serde_json::to_value(rejected()))),
        ("SealedConflict", v(serde_json::to_value(conflict()))),
        (
            "SealedPushResponse",
            v(serde_json::to_value(SealedPushAnswer {
                uploads: vec![
                    SealedUpload {
                        path_key: key(1),
                        base_version: 2,
                        version: 3,
                        blob_id: key(9),
                        content_hash: hash("a"),
                        size_bytes: 256,
                        upload_url: Some("https://bucket.invalid/put".into()),
                        method: Some("PUT".into()),
                        headers: Some(
                            [
                                ("content-length".to_owned(), "256".to_owned()),
                                ("x-amz-checksum-sha256".to_owned(), hash("a").to_base64()),
                            ]
                            .into(),
                        ),
                        expires_at: Some(at()),
                        deferred: false,
                    },
                    SealedUpload {
                        path_key: key(2),
                        base_version: 0,
                        version: 1,
                        blob_id: key(8),
                        content_hash: hash("b"),
                        size_bytes: 512,
                        upload_url: None,
                        method: None,
                        headers: None,
                        expires_at: None,
                        deferred: true,
                    },
                ],
                unchanged: vec![versioned()],
                conflicts: vec![conflict()],
                rejected: vec![rejected()],
            })),
        ),
        (
            "SealedConfirmResponse",
            v(serde_json::to_value(SealedConfirmAnswer {
                confirmed: vec![versioned()],
                conflicts: vec![conflict()],
                missing: vec![SealedMissing {
                    path_key: key(3),
                    content_hash: hash("b"),
                    code: ErrorCode::NotUploaded.into(),
                }],
                rejected: vec![rejected()],
            })),
        ),
        (
            "SealedPullResponse",
            v(serde_json::to_value(SealedPullAnswer {
                files: vec![SealedDownload {
                    path_key: key(1),
                    version: 3,
                    content_hash: hash("a"),
                    size_bytes: 256,
                    download_url: "https://bucket.invalid/get".into(),
                    expires_at: at(),
                    sealed: Some(sealed()),
                }],
                deleted: vec![tombstone()],
                not_found: vec![key(4)],
                rejected: vec![rejected()],
            })),
        ),
        (
            "SealedDeleteResponse",
            v(serde_json::to_value(SealedDeleteAnswer {
                deleted: vec![tombstone()],
                conflicts: vec![conflict()],
                not_found: vec![key(4)],
                rejected: vec![rejected()],
            })),
        ),
        (
            "SealedStateResponse",
            v(serde_json::to_value(SealedStateAnswer {
                files: vec![
                    SealedStateFile {
                        path_key: key(1),
                        version: 3,
                        content_hash: Some(hash("a")),
                        size_bytes: 256,
                        updated_at: at(),
                        updated_by: Some(device_id()),
                        is_deleted: false,
                        deleted_at: None,
                        sealed: Some(sealed()),
                        brief: false,
                    },
                    // The caller's own version, brief (`own=brief`).
                    SealedStateFile {
                        path_key: key(2),
                        version: 5,
                        content_hash: None,
                        size_bytes: 256,
                        updated_at: at(),
                        updated_by: Some(device_id()),
                        is_deleted: false,
                        deleted_at: None,
                        sealed: None,
                        brief: true,
                    },
                ],
                cursor: "c7".into(),
                has_more: false,
                server_time: at(),
                encrypted: true,
            })),
        ),
        (
            "SealedHistoryResponse",
            v(serde_json::to_value(SealedHistoryAnswer {
                path_key: key(1),
                versions: vec![SealedHistoryVersion {
                    version: 3,
                    content_hash: hash("a"),
                    size_bytes: 256,
                    is_deleted: false,
                    created_at: at(),
                    device: Some(DeviceRef {
                        device_id: device_id(),
                        device_name: "Mac".into(),
                        removed: false,
                    }),
                    sealed: Some(sealed()),
                }],
                next_cursor: Some("v3".into()),
            })),
        ),
        (
            "SealedDeletedResponse",
            v(serde_json::to_value(SealedDeletedAnswer {
                files: vec![SealedDeletedNote {
                    path_key: key(2),
                    version: 4,
                    deleted_at: Some(at()),
                    deleted_by: None,
                    last_version: Some(LastLive {
                        version: 3,
                        content_hash: hash("a"),
                        size_bytes: 256,
                        restorable: true,
                    }),
                    sealed: Some(sealed()),
                }],
                next_cursor: Some("d9".into()),
                encrypted: true,
            })),
        ),
        (
            "SealedRestoreRequest",
            v(serde_json::to_value(SealedRestoreRequest {
                files: vec![SealedRestoreEntry {
                    path_key: key(2).to_hex(),
                    version: Number::from(3),
                    base_version: Number::from(4),
                }],
            })),
        ),
        (
            "SealedRestoreResponse",
            v(serde_json::to_value(SealedRestoreAnswer {
                restored: vec![SealedRestored {
                    path_key: key(2),
                    version: 5,
                    content_hash: hash("a"),
                    restored_from: 3,
                    sealed: Some(sealed()),
                }],
                conflicts: vec![conflict()],
                not_found: vec![key(4)],
                rejected: vec![rejected()],
            })),
        ),
        (
            "SealedRewindResponse",
            v(serde_json::to_value(SealedRewindAnswer {
                restored: 1,
                deleted: 2,
                unchanged: 3,
                kept_newer: 4,
                skipped: vec![rejected()],
                resume: Some("r1.2.3".into()),
                has_more: true,
                encrypted: true,
            })),
        ),
        // A read answer's shape, from text: parsed types refuse what the server never sends.
        (
            "SealedVersioned",
            json!({"path_key": key(1).to_hex(), "version": 1, "content_hash": hash("a").to_hex()}),
        ),
    ]
}
