//! Samples of the plaintext bodies, every optional field filled.

use super::*;

pub fn samples() -> Vec<(&'static str, Value)> {
    let v = |x: serde_json::Result<Value>| x.expect("serialize");
    let user: UserId = "0b6a3c2d-1e4f-4a5b-8c7d-9e0f1a2b3c4d"
        .parse()
        .expect("uuid");
    let entry = FileEntry::new(&path("a.md"), Version::new(3).expect("v"), hash("a"), 10);
    vec![
        (
            "ErrorBody",
            v(serde_json::to_value(steel_protocol::error::ErrorBody {
                error: steel_protocol::error::ErrorDetail {
                    code: ErrorCode::InvalidCursor.as_str().into(),
                    message: "cursor is not one this server issued".into(),
                    details: None,
                },
            })),
        ),
        (
            "MassDeleteHeld",
            v(serde_json::to_value(steel_protocol::error::ErrorBody {
                error: steel_protocol::error::ErrorDetail {
                    code: ErrorCode::MassDeleteHeld.as_str().into(),
                    message: "held".into(),
                    details: Some(v(serde_json::to_value(MassDelete {
                        deleted_last_hour: 3,
                        requested: 60,
                        live: 2,
                    }))),
                },
            })),
        ),
        (
            "LoginRequest",
            v(serde_json::to_value(LoginRequest {
                provider: Provider::Apple,
                identity_token: "eyJ.a.b".into(),
                nonce: Some("n-0123456789".into()),
                device: Some(DeviceInput {
                    device_name: "Ada's iPhone".into(),
                    platform: Platform::Ios,
                    push_token: Some("ab".repeat(32)),
                    push_environment: Some(PushEnvironment::Sandbox),
                }),
            })),
        ),
        (
            "RefreshRequest",
            v(serde_json::to_value(RefreshRequest {
                refresh_token: "r".repeat(43),
            })),
        ),
        ("DeviceRecord", v(serde_json::to_value(device_record()))),
        (
            "DeviceResponse",
            v(serde_json::to_value(RegisterAnswer {
                device: device_record(),
            })),
        ),
        (
            "TokenResponse",
            v(serde_json::to_value(TokenAnswer {
                access_token: "eyJ.a.b".into(),
                refresh_token: "r".repeat(43),
                token_type: "Bearer".into(),
                expires_in: 3600,
                user_id: user,
                device_id: Some(device_id()),
                device: Some(device_record()),
            })),
        ),
        (
            "AccountResponse",
            v(serde_json::to_value(AccountAnswer {
                user_id: user,
                email: Some("ada@example.com".into()),
                provider: Provider::Google,
                created_at: at(),
                vault_size: 100,
                quota_bytes: 1 << 30,
                file_count: 3,
                stored_bytes: 120,
                retention: Retention {
                    history_days: 365,
                    deleted_days: 90,
                },
                devices: vec![AccountDevice {
                    device: device_record(),
                    current: true,
                }],
            })),
        ),
        (
            "LogoutRequest",
            v(serde_json::to_value(LogoutRequest {
                refresh_token: Some("r".repeat(43)),
                all_devices: true,
            })),
        ),
        (
            "LogoutResponse",
            v(serde_json::to_value(LogoutAnswer {
                revoked_tokens: 2,
                all_devices: false,
            })),
        ),
        (
            "DeleteAccountRequest",
            v(serde_json::to_value(DeleteAccountRequest {
                confirm: "DELETE".into(),
            })),
        ),
        (
            "DeleteAccountResponse",
            v(serde_json::to_value(DeleteAccountAnswer {
                deleted: true,
                objects_deleted: 7,
                purge_complete: true,
            })),
        ),
        (
            "HistoryResponse",
            v(serde_json::to_value(HistoryAnswer {
                path: path("a.md"),
                versions: vec![HistoryVersion {
                    version: 2,
                    content_hash: hash("a"),
                    size_bytes: 1,
                    is_deleted: false,
                    created_at: at(),
                    device: Some(device_ref()),
                }],
                next_cursor: Some("h2".into()),
            })),
        ),
        (
            "DeletedResponse",
            v(serde_json::to_value(DeletedAnswer {
                files: vec![DeletedNote {
                    path: path("gone.md"),
                    version: 5,
                    deleted_at: Some(at()),
                    deleted_by: Some(device_ref()),
                    last_version: Some(LastLive {
                        version: 4,
                        content_hash: hash("g"),
                        size_bytes: 3,
                        restorable: true,
                    }),
                }],
                next_cursor: Some("d5".into()),
            })),
        ),
        (
            "RestoreRequest",
            v(serde_json::to_value(RestoreRequest {
                files: Some(vec![RestoreEntry {
                    path: "a.md".into(),
                    version: Number::from(2),
                    base_version: Number::from(4),
                }]),
                ..RestoreRequest::default()
            })),
        ),
        (
            "RestoreRequest",
            v(serde_json::to_value(RestoreRequest {
                as_of: Some("2026-12-06T10:00:00Z".into()),
                prefix: Some("Notes/".into()),
                remove_newer: true,
                resume: Some("r1.9.4".into()),
                limit: Some(Number::from(500)),
                ..RestoreRequest::default()
            })),
        ),
        (
            "RestoreResponse",
            v(serde_json::to_value(RestoreAnswer {
                restored: vec![Restored {
                    path: path("a.md"),
                    version: 5,
                    content_hash: hash("a"),
                    restored_from: 2,
                }],
                conflicts: vec![conflict()],
                not_found: vec![path("nope.md")],
                rejected: vec![rejected()],
            })),
        ),
        (
            "RewindResponse",
            v(serde_json::to_value(RewindAnswer {
                restored: 3,
                deleted: 1,
                unchanged: 9,
                kept_newer: 2,
                skipped: vec![Rejected::new("x.md", ErrorCode::ContentGone, "gone")],
                resume: Some("r1.9.4".into()),
                has_more: true,
            })),
        ),
        ("FileEntry", v(serde_json::to_value(entry.clone()))),
        (
            "FilesRequest",
            v(serde_json::to_value(FilesRequest { files: vec![entry] })),
        ),
        (
            "PullRequest",
            v(serde_json::to_value(PullRequest {
                paths: Some(vec!["a.md".into()]),
                files: None,
            })),
        ),
        (
            "PullRequest",
            v(serde_json::to_value(PullRequest {
                paths: None,
                files: Some(vec![VersionRef {
                    path: "a.md".into(),
                    version: Number::from(2),
                }]),
            })),
        ),
        (
            "DeleteRequest",
            v(serde_json::to_value(DeleteRequest {
                files: vec![DeleteEntry::new(&path("a.md"), Version::new(4).expect("v"))],
                confirm_mass_delete: true,
            })),
        ),
        ("Rejected", v(serde_json::to_value(rejected()))),
        ("Conflict", v(serde_json::to_value(conflict()))),
        (
            "PushResponse",
            v(serde_json::to_value(PushAnswer {
                uploads: vec![
                    Upload {
                        path: path("a.md"),
                        base_version: 3,
                        content_hash: hash("a"),
                        size_bytes: 10,
                        upload_url: Some("https://bucket.invalid/put".into()),
                        method: Some("PUT".into()),
                        headers: Some(BTreeMap::from([
                            ("content-length".to_owned(), "10".to_owned()),
                            ("x-amz-checksum-sha256".to_owned(), hash("a").to_base64()),
                        ])),
                        expires_at: Some(at()),
                        deferred: false,
                    },
                    Upload {
                        path: path("b.md"),
                        base_version: 0,
                        content_hash: hash("b"),
                        size_bytes: 12,
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
            "ConfirmResponse",
            v(serde_json::to_value(ConfirmAnswer {
                confirmed: vec![versioned()],
                conflicts: vec![conflict()],
                missing: vec![Missing {
                    path: path("b.md"),
                    content_hash: hash("b"),
                    code: ErrorCode::NotUploaded.into(),
                }],
                rejected: vec![rejected()],
            })),
        ),
        (
            "PacksRequest",
            v(serde_json::to_value(PacksRequest {
                hashes: vec![hash("a").to_hex(), hash("b").to_hex()],
            })),
        ),
        (
            "PacksResponse",
            v(serde_json::to_value(PacksAnswer {
                packs: vec![Pack {
                    download_url: "https://bucket.invalid/packs/1".into(),
                    expires_at: at(),
                    size_bytes: 30,
                    blobs: vec![
                        PackedBlob {
                            content_hash: hash("a"),
                            offset: 0,
                            length: 10,
                        },
                        PackedBlob {
                            content_hash: hash("b"),
                            offset: 10,
                            length: 20,
                        },
                    ],
                }],
                remaining: vec![hash("c")],
                unpacked: vec![hash("d")],
            })),
        ),
        (
            "PullResponse",
            v(serde_json::to_value(PullAnswer {
                files: vec![Download {
                    path: path("a.md"),
                    version: 4,
                    content_hash: hash("a"),
                    size_bytes: 10,
                    download_url: "https://bucket.invalid/get".into(),
                    expires_at: at(),
                }],
                deleted: vec![tombstone()],
                not_found: vec![path("nope.md")],
                rejected: vec![rejected()],
            })),
        ),
        (
            "DeleteResponse",
            v(serde_json::to_value(DeleteAnswer {
                deleted: vec![tombstone()],
                conflicts: vec![conflict()],
                not_found: vec![path("nope.md")],
                rejected: vec![rejected()],
            })),
        ),
        (
            "KeysResponse",
            v(serde_json::to_value(KeysAnswer {
                encrypted: true,
                migrating: false,
                slots: vec![KeySlotEntry {
                    id: "5c4d78ef5f12a5c98e751b1d02e8217c".into(),
                    kind: KeySlotKind::RecoveryCode,
                    slot: "A".repeat(168),
                }],
                keyring: Some("AQ==".into()),
                etag: "\"v3\"".into(),
            })),
        ),
        (
            "PutKeysRequest",
            v(serde_json::to_value(PutKeysRequest {
                slots: vec![KeySlotEntry {
                    id: "d0ae31cc9049de918c7b2ee14ef2ce48".into(),
                    kind: KeySlotKind::Passphrase,
                    slot: "A".repeat(168),
                }],
                keyring: None,
            })),
        ),
        (
            "StateResponse",
            v(serde_json::to_value(StateAnswer {
                files: vec![StateFile {
                    path: path("a.md"),
                    version: 4,
                    content_hash: hash("a"),
                    size_bytes: 10,
                    updated_at: at(),
                    updated_by: Some(device_id()),
                    is_deleted: true,
                    deleted_at: Some(at()),
                }],
                cursor: "c42".into(),
                has_more: false,
                server_time: at(),
            })),
        ),
    ]
}
