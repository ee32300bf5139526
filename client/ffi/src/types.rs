//! The records and enums the apps see: the device, the stored session, the sync report.
//! Each converts from the library's own type; the library keeps no UniFFI types.

use chrono::{DateTime, Utc};
use steel_sync::Session;

/// The app's platform, as the server records the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Platform {
    Ios,
    Macos,
    Android,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Macos => "macos",
            Platform::Android => "android",
        }
    }
}

/// This device: its name as the person sees it on their other devices, and its platform.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    pub name: String,
    pub platform: Platform,
}

/// Who signed the person in: the identity token is Sign in with Apple's or Google's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum IdentityProvider {
    Apple,
    Google,
}

impl IdentityProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::Apple => "apple",
            IdentityProvider::Google => "google",
        }
    }
}

/// Which APNs environment a push token belongs to (ignored for Android's FCM tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PushEnvironment {
    Sandbox,
    Production,
}

impl PushEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            PushEnvironment::Sandbox => "sandbox",
            PushEnvironment::Production => "production",
        }
    }
}

/// The signed-in session as the app's `TokenStore` keeps it (in the Keychain or the Android
/// Keystore). Opaque to the app apart from `userId` and `deviceId`; save it whole.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoredSession {
    pub api_url: String,
    pub user_id: String,
    pub device_id: Option<String>,
    pub device_name: String,
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires, in Unix seconds; the engine refreshes it a minute
    /// before (and saves the new pair through the `TokenStore` first).
    pub access_expires_at: i64,
}

impl From<&Session> for StoredSession {
    fn from(s: &Session) -> Self {
        StoredSession {
            api_url: s.api_url.clone(),
            user_id: s.user_id.clone(),
            device_id: s.device_id.clone(),
            device_name: s.device_name.clone(),
            access_token: s.access_token.clone(),
            refresh_token: s.refresh_token.clone(),
            access_expires_at: s.access_expires_at.timestamp(),
        }
    }
}

impl StoredSession {
    /// The library's session, for the API at `api_url` (the engine's, whatever the stored
    /// one says: the app decides which server it talks to).
    pub fn into_session(self, api_url: &str) -> Session {
        Session {
            api_url: api_url.trim_end_matches('/').to_owned(),
            user_id: self.user_id,
            device_id: self.device_id,
            device_name: self.device_name,
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            access_expires_at: DateTime::<Utc>::from_timestamp(self.access_expires_at, 0)
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        }
    }
}

/// Who is signed in, after `signIn`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedIn {
    pub user_id: String,
    pub device_id: Option<String>,
}

/// Both sides changed a note and the changes could not be combined: the server's version is
/// at `path`, this device's was kept beside it at `copy`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictCopy {
    pub path: String,
    pub copy: String,
}

/// A note the server refused, and why (`code` is the server's: `case_conflict`,
/// `quota_exceeded`, `invalid_path`, ...).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteError {
    pub path: String,
    pub code: String,
    pub message: String,
}

/// What one sync did. Paths are vault paths (`thoughts/Idea.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub pushed: Vec<String>,
    pub pulled: Vec<String>,
    /// Deleted here because they were deleted on another device.
    pub deleted_here: Vec<String>,
    /// Deleted on the server because they were deleted here.
    pub deleted_on_server: Vec<String>,
    /// Both sides changed them; the changes were combined line by line.
    pub merged: Vec<String>,
    pub conflict_copies: Vec<ConflictCopy>,
    /// Notes missing here whose deletion was held back as a mass delete: ask the person,
    /// then `allowMassDelete()` or `restoreMissing()`. Empty when nothing is held.
    pub held_deletes: Vec<String>,
    /// How many notes this vault had synced before (what `heldDeletes` is a share of).
    pub known_notes: u64,
    /// Changed here while the sync ran: the next sync takes them.
    pub deferred: Vec<String>,
    /// Notes the server refused, each with its reason.
    pub note_errors: Vec<NoteError>,
}

impl From<steel_sync::SyncReport> for SyncReport {
    fn from(r: steel_sync::SyncReport) -> Self {
        SyncReport {
            pushed: r.pushed,
            pulled: r.pulled,
            deleted_here: r.deleted_local,
            deleted_on_server: r.deleted_remote,
            merged: r.merged,
            conflict_copies: r
                .conflict_copies
                .into_iter()
                .map(|(path, copy)| ConflictCopy { path, copy })
                .collect(),
            held_deletes: r.held,
            known_notes: r.known as u64,
            deferred: r.deferred,
            note_errors: r
                .rejected
                .into_iter()
                .map(|x| NoteError {
                    path: x.path,
                    code: x.code,
                    message: x.message,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_survives_the_round_trip_through_the_app() {
        let session = Session {
            api_url: "https://old.example".into(),
            user_id: "u1".into(),
            device_id: Some("d1".into()),
            device_name: "Pixel".into(),
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_expires_at: DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let stored = StoredSession::from(&session);
        assert_eq!(stored.access_expires_at, 1_800_000_000);
        let back = stored.into_session("https://api.example/");
        // The engine's API wins over the stored one.
        assert_eq!(back.api_url, "https://api.example");
        assert_eq!(back.access_expires_at, session.access_expires_at);
        assert_eq!(
            (back.user_id, back.device_id, back.refresh_token),
            ("u1".into(), Some("d1".into()), "r".into())
        );
    }

    #[test]
    fn the_report_names_each_kind_of_change() {
        let r = steel_sync::SyncReport {
            pushed: vec!["a.md".into()],
            pulled: vec!["b.md".into()],
            deleted_local: vec!["c.md".into()],
            deleted_remote: vec!["d.md".into()],
            merged: vec!["e.md".into()],
            conflict_copies: vec![("f.md".into(), "f (conflict X 2026-12-07).md".into())],
            rejected: vec![steel_sync::Rejection {
                path: "G.md".into(),
                code: "case_conflict".into(),
                message: "g.md exists".into(),
            }],
            deferred: vec!["h.md".into()],
            held: vec!["i.md".into()],
            known: 7,
            rounds: 2,
            ..steel_sync::SyncReport::default()
        };
        let out = SyncReport::from(r);
        assert_eq!(out.deleted_here, ["c.md"]);
        assert_eq!(out.deleted_on_server, ["d.md"]);
        assert_eq!(out.conflict_copies[0].copy, "f (conflict X 2026-12-07).md");
        assert_eq!(out.note_errors[0].code, "case_conflict");
        assert_eq!((out.held_deletes.len(), out.known_notes), (1, 7));
    }
}
