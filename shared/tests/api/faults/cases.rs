//! The write requests the fault suite breaks: what each needs beforehand, the request, and
//! what must hold once it (or its retry) succeeded, per README's "What a client may retry".

use serde_json::{Value, json};
use steel_core::domain::{ContentHash, UserId, VaultPath};

use crate::bulk::{pack_of, upload_pack};
use crate::support::idp::{apple_claims, id_token};
use crate::support::{Answer, TestApp, TestDevice, oracle};

use super::harness::assert_success;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Login,
    Refresh,
    Register,
    Push,
    Confirm,
    /// The same two notes as `Confirm`, through one incoming pack (bulk upload).
    BulkConfirm,
    Delete,
    Restore,
    DeleteAccount,
    /// An end-to-end encrypted account's writes (`super::sealed`).
    SealedConfirm,
    /// The same two notes as `SealedConfirm`, through one incoming pack.
    SealedBulkConfirm,
    SealedDelete,
    PutKeys,
}

impl Case {
    fn sealed(self) -> bool {
        matches!(
            self,
            Case::SealedConfirm | Case::SealedBulkConfirm | Case::SealedDelete | Case::PutKeys
        )
    }
}

/// What a case set up before its request: the caller and the request body.
pub struct Prepared {
    pub device: TestDevice,
    pub body: Value,
}

/// Two notes every vault case starts from, and what the requests write.
const OLD_A: &[u8] = b"# a\nfirst\n";
const OLD_B: &[u8] = b"# b\nfirst\n";
const NEW_A: &[u8] = b"# a\nsecond, from this device\n";
const NEW_C: &[u8] = b"# c\na new note\n";

fn entry(path: &str, base: i64, bytes: &[u8]) -> Value {
    json!({"path": path, "base_version": base,
           "content_hash": ContentHash::of(bytes).to_hex(), "size_bytes": bytes.len()})
}

impl Case {
    /// A new user (and what the request needs), made through the app while no fault is
    /// armed; every cell gets its own, so cells never see each other's rows.
    pub async fn prepare(self, app: &TestApp) -> Prepared {
        let sub = format!("faults-{}", uuid::Uuid::new_v4());
        if self.sealed() {
            return super::sealed::prepare(self, app, &sub).await;
        }
        let device = match self {
            Case::Login => {
                return Prepared {
                    device: app.new_user_device(&sub).await,
                    body: json!({"provider": "apple", "identity_token": id_token(&apple_claims(&sub)),
                                 "device": {"device_name": "Phone", "platform": "ios"}}),
                };
            }
            Case::Refresh => {
                let signed_in = app.sign_in(&sub, "Phone").await;
                return Prepared {
                    device: signed_in.device,
                    body: json!({"refresh_token": signed_in.refresh_token}),
                };
            }
            _ => app.new_user_device(&sub).await,
        };
        let body = match self {
            Case::Register => json!({"device_name": "Anna's Mac", "platform": "macos",
                                     "push_token": "ab12cd34ef56"}),
            Case::DeleteAccount => {
                app.sync_up(&device, "a.md", 0, OLD_A).await;
                json!({"confirm": "DELETE"})
            }
            Case::Push | Case::Confirm | Case::BulkConfirm | Case::Delete | Case::Restore => {
                app.sync_up(&device, "a.md", 0, OLD_A).await;
                app.sync_up(&device, "b.md", 0, OLD_B).await;
                match self {
                    Case::Push | Case::Confirm => {
                        let files =
                            json!({"files": [entry("a.md", 1, NEW_A), entry("c.md", 0, NEW_C)]});
                        if self == Case::Confirm {
                            let pushed = app.push(&device, files.clone()).await;
                            assert_eq!(pushed.status, 200, "{:?}", pushed.body);
                            for (up, bytes) in pushed.body["uploads"]
                                .as_array()
                                .expect("uploads")
                                .iter()
                                .zip([NEW_A, NEW_C])
                            {
                                let put = app.upload(up, bytes).await;
                                assert!(put.status().is_success(), "PUT {}", put.status());
                            }
                        }
                        files
                    }
                    Case::BulkConfirm => {
                        let files = json!([entry("a.md", 1, NEW_A), entry("c.md", 0, NEW_C)]);
                        let pushed = app.push(&device, json!({"files": files})).await;
                        assert_eq!(pushed.status, 200, "{:?}", pushed.body);
                        let (pack, index) = pack_of(&[NEW_A, NEW_C]);
                        let pack_id = upload_pack(app, &device, &pack).await;
                        json!({"pack_id": pack_id, "blobs": index, "files": files})
                    }
                    Case::Delete => json!({"files": [{"path": "a.md", "base_version": 1},
                                                     {"path": "b.md", "base_version": 1}]}),
                    _ => {
                        let v2 = app.sync_up(&device, "a.md", 1, NEW_A).await;
                        json!({"files": [{"path": "a.md", "version": 1, "base_version": v2}]})
                    }
                }
            }
            _ => unreachable!("{self:?} prepared above"),
        };
        Prepared { device, body }
    }

    /// The request, exactly the same each time it is sent.
    pub async fn send(self, app: &TestApp, p: &Prepared) -> Answer {
        if self.sealed() {
            return super::sealed::send(self, app, p).await;
        }
        let body = p.body.clone();
        match self {
            Case::Login => app.login(body).await,
            Case::Refresh => {
                app.refresh(p.body["refresh_token"].as_str().expect("rt"))
                    .await
            }
            Case::Register => app.register(&p.device, body).await,
            Case::Push => app.push(&p.device, body).await,
            Case::Confirm => app.confirm(&p.device, body).await,
            Case::BulkConfirm => bulk_confirm(app, p).await,
            Case::Delete => app.delete(&p.device, body).await,
            Case::Restore => app.restore(&p.device, body).await,
            Case::DeleteAccount => app.delete_account(&p.device, body).await,
            _ => unreachable!("{self:?} sent above"),
        }
    }

    /// What must hold after `answer`, the answer to the request sent once more after any
    /// fault: it succeeded, and the vault holds what one successful request writes.
    pub async fn check_done(self, app: &TestApp, p: &Prepared, answer: &Answer) {
        if self.sealed() {
            return super::sealed::check_done(self, app, p, answer).await;
        }
        let user = p.device.user_id;
        if self == Case::DeleteAccount {
            // A retry after a committed deletion finds no account: 401, as README says.
            let gone = answer.status == 401 && answer.code() == "invalid_token";
            assert!(
                gone || answer.status == 200,
                "{self:?}: {} {:?}",
                answer.status,
                answer.body
            );
            let rows = oracle::rows_of(&app.db, user).await;
            assert!(rows.iter().all(|(_, n)| *n == 0), "{self:?}: left {rows:?}");
            return;
        }
        assert_success(self, answer);
        match self {
            Case::Login | Case::Refresh => {
                let token = answer.body["access_token"].as_str().expect("access token");
                app.state
                    .tokens
                    .verify_access(token)
                    .expect("a valid access token");
            }
            Case::Register => {
                assert_eq!(
                    oracle::push_token(&app.db, p.device.device_id)
                        .await
                        .as_deref(),
                    Some("ab12cd34ef56")
                );
            }
            Case::Push => {
                let uploads = answer.body["uploads"].as_array().expect("uploads");
                assert_eq!(uploads.len(), 2, "{:?}", answer.body);
                assert_files(
                    app,
                    user,
                    &[("a.md", 1, Some(OLD_A)), ("b.md", 1, Some(OLD_B))],
                )
                .await;
            }
            Case::Confirm | Case::BulkConfirm => {
                let confirmed = answer.body["confirmed"].as_array().expect("confirmed");
                assert_eq!(confirmed.len(), 2, "{:?}", answer.body);
                assert_files(
                    app,
                    user,
                    &[("a.md", 2, Some(NEW_A)), ("c.md", 1, Some(NEW_C))],
                )
                .await;
            }
            Case::Delete => {
                let deleted = answer.body["deleted"].as_array().expect("deleted");
                assert_eq!(deleted.len(), 2, "{:?}", answer.body);
                assert_files(app, user, &[("a.md", 2, None), ("b.md", 2, None)]).await;
            }
            Case::Restore => {
                let restored = answer.body["restored"].as_array().expect("restored");
                assert_eq!(restored.len(), 1, "{:?}", answer.body);
                assert_files(
                    app,
                    user,
                    &[("a.md", 3, Some(OLD_A)), ("b.md", 1, Some(OLD_B))],
                )
                .await;
            }
            _ => unreachable!("{self:?} checked above"),
        }
    }
}

/// A bulk confirm as the reference client sends it: when the pack is gone (closed by a
/// confirm whose answer was lost: 404; or deleted by one that could not record its closing:
/// 409 `pack_not_uploaded`), the per-note confirm of the same files says what the server
/// holds (README "What a client may retry"). Both modes' bodies.
pub async fn bulk_confirm(app: &TestApp, p: &Prepared) -> Answer {
    let answer = app.bulk_confirm(&p.device, p.body.clone()).await;
    let gone = matches!(
        (answer.status, answer.code()),
        (404, "pack_not_found") | (409, "pack_not_uploaded")
    );
    if !gone {
        return answer;
    }
    app.confirm(&p.device, json!({"files": p.body["files"]}))
        .await
}

/// Each (path, version, bytes or deleted) is the current row of the user's vault.
async fn assert_files(app: &TestApp, user: UserId, want: &[(&str, i64, Option<&[u8]>)]) {
    for (path, version, bytes) in want {
        let row = oracle::file_row(&app.db, user, &VaultPath::parse(path).expect("path"))
            .await
            .unwrap_or_else(|| panic!("{path}: no row"));
        assert_eq!(row.version, *version, "{path}");
        assert_eq!(row.is_deleted, bytes.is_none(), "{path}");
        if let Some(bytes) = bytes {
            assert_eq!(row.content_hash, ContentHash::of(bytes), "{path}");
        }
    }
}
