//! Platform secrets stay with the platform: the app keeps the session (tokens) in the
//! Keychain or the Android Keystore through a [`TokenStore`] it implements. The engine
//! reads it once when opened, saves it after sign-in and after every token refresh (before
//! the new tokens are used), and clears it on sign-out.
//!
//! A failing store is an error the app sees (`EngineException.TokenStoreFailed`), never a panic: a
//! refreshed pair that cannot be saved would be refused after a restart (the server rotates
//! refresh tokens), so the operation that refreshed it fails instead of carrying on.

use std::sync::{Arc, Mutex};

use steel_sync::api::SessionSink;
use steel_sync::{Session, SyncError};

use crate::error::{AppError, EngineError};
use crate::types::StoredSession;

/// Implemented by the app. Every method may throw (`AppException.Failed`, or any other
/// exception): the engine turns it into `EngineException.TokenStoreFailed`.
#[uniffi::export(foreign)]
pub trait TokenStore: Send + Sync {
    /// The saved session, or null when signed out.
    fn load(&self) -> Result<Option<StoredSession>, AppError>;
    /// Replaces the saved session.
    fn save(&self, session: StoredSession) -> Result<(), AppError>;
    /// Forgets the session (sign-out, account deleted).
    fn clear(&self) -> Result<(), AppError>;
}

/// The app's store, plus the last failure of a save made inside a library call (so the
/// engine can report it as the token store's, not as an unexplained library error).
pub(crate) struct Tokens {
    store: Arc<dyn TokenStore>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Tokens {
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Tokens {
            store,
            failure: Arc::new(Mutex::new(None)),
        }
    }

    pub fn load(&self) -> Result<Option<StoredSession>, EngineError> {
        Ok(self.store.load()?)
    }

    pub fn save(&self, session: &Session) -> Result<(), EngineError> {
        Ok(self.store.save(StoredSession::from(session))?)
    }

    pub fn clear(&self) -> Result<(), EngineError> {
        Ok(self.store.clear()?)
    }

    /// The hook the library calls with every refreshed session.
    pub fn sink(&self) -> SessionSink {
        let store = self.store.clone();
        let failure = self.failure.clone();
        Arc::new(move |session: &Session| {
            store.save(StoredSession::from(session)).map_err(|e| {
                let reason = e.to_string();
                *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
                SyncError::Other(format!("the app's token store failed: {reason}"))
            })
        })
    }

    /// `error` as the app sees it: the token store's failure if the library call failed
    /// because of one.
    pub fn explain(&self, error: SyncError) -> EngineError {
        let failed = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match (failed, &error) {
            (Some(reason), SyncError::Other(_)) => EngineError::TokenStoreFailed { reason },
            _ => error.into(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store in memory; `fail_saves` makes every save throw.
    #[derive(Default)]
    pub struct MemoryStore {
        pub saved: Mutex<Option<StoredSession>>,
        pub saves: Mutex<u32>,
        pub fail_saves: bool,
    }

    impl TokenStore for MemoryStore {
        fn load(&self) -> Result<Option<StoredSession>, AppError> {
            Ok(self.saved.lock().unwrap().clone())
        }
        fn save(&self, session: StoredSession) -> Result<(), AppError> {
            if self.fail_saves {
                return Err(AppError::Failed {
                    reason: "keychain locked".into(),
                });
            }
            *self.saves.lock().unwrap() += 1;
            *self.saved.lock().unwrap() = Some(session);
            Ok(())
        }
        fn clear(&self) -> Result<(), AppError> {
            *self.saved.lock().unwrap() = None;
            Ok(())
        }
    }

    pub fn session(api_url: &str) -> Session {
        StoredSession {
            api_url: api_url.into(),
            user_id: "u".into(),
            device_id: Some("d".into()),
            device_name: "test".into(),
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_expires_at: 4_000_000_000,
        }
        .into_session(api_url)
    }

    #[test]
    fn a_failed_save_in_a_refresh_is_reported_as_the_stores() {
        let tokens = Tokens::new(Arc::new(MemoryStore {
            fail_saves: true,
            ..MemoryStore::default()
        }));
        let error = (tokens.sink())(&session("http://x")).unwrap_err();
        assert_eq!(
            tokens.explain(error),
            EngineError::TokenStoreFailed {
                reason: "keychain locked".into()
            }
        );
        // Reported once: a later, unrelated failure is itself.
        assert!(matches!(
            tokens.explain(SyncError::Other("x".into())),
            EngineError::Internal { .. }
        ));
    }

    #[test]
    fn a_refreshed_session_reaches_the_store() {
        let store = Arc::new(MemoryStore::default());
        let tokens = Tokens::new(store.clone());
        (tokens.sink())(&session("http://x")).unwrap();
        assert_eq!(*store.saves.lock().unwrap(), 1);
        assert_eq!(tokens.load().unwrap().unwrap().refresh_token, "r");
    }
}
