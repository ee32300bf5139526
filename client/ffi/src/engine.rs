//! [`SyncEngine`]: one vault folder, its session and its syncs, for an app.
//!
//! The engine owns a Tokio runtime (two worker threads): every entry point, async or not,
//! runs its work there, so none needs a runtime of the caller's (no "no reactor running",
//! whether called from the app's main thread, a coroutine or a Swift task). Async methods
//! are `suspend` in Kotlin and `async` in Swift; a cancelled call stops waiting but the work
//! it started finishes (a sync is never cut in half by the app). Syncs of one engine run one
//! at a time. `close()` (Kotlin's `AutoCloseable`, Swift's deinit) stops the runtime and
//! joins its threads.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steel_sync::crypt::Crypt;
use steel_sync::store::Store;
use steel_sync::sync::guard::MissingNotes;
use steel_sync::vault_key::store::{KeyStore, open_kept};
use steel_sync::{Api, ScanConfig, Session, SyncError, Syncer};
use tokio::runtime::{Handle, Runtime};

use crate::debounce::{DEBOUNCE, Debouncer, worth_a_sync};
use crate::encryption::{STORE_FAILED, VaultKeyStore, key_store_of};
use crate::error::EngineError;
use crate::status::{EngineStatus, ObservationHandle, StatusBoard, StatusObserver, SyncProgress};
use crate::tokens::{TokenStore, Tokens};
use crate::types::{DeviceInfo, IdentityProvider, SignedIn, SyncReport};

/// How long `close()` waits for the engine's threads to stop.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The sync engine of one vault folder.
#[derive(uniffi::Object)]
pub struct SyncEngine {
    runtime: Mutex<Option<Runtime>>,
    handle: Handle,
    pub(crate) inner: Arc<Inner>,
}

/// What the engine's tasks share (never the runtime itself, so no task can hold the last
/// reference to it).
pub(crate) struct Inner {
    pub vault: PathBuf,
    api_url: String,
    pub device: DeviceInfo,
    pub tokens: Tokens,
    /// Where the unlocked vault key of an encrypted account is kept (the app's store).
    pub key_store: Box<dyn KeyStore>,
    /// `None` while signed out.
    pub syncer: tokio::sync::Mutex<Option<Syncer>>,
    /// The syncer's API client, reachable while a sync holds the syncer.
    api: Mutex<Option<Arc<Api>>>,
    pub status: Arc<StatusBoard>,
    debounce: Debouncer,
}

pub(crate) fn signed_out() -> EngineError {
    EngineError::SignedOut {
        reason: "not signed in".into(),
    }
}

#[uniffi::export]
impl SyncEngine {
    /// Opens the engine on `vault_dir` (created if missing) against the API at
    /// `api_base_url`. Reads the session from `token_store`: signed in if it holds one.
    /// `key_store` keeps the vault key of an end-to-end encrypted account (null: in memory,
    /// until the engine closes).
    #[uniffi::constructor(default(key_store = None))]
    pub fn new(
        vault_dir: String,
        api_base_url: String,
        device: DeviceInfo,
        token_store: Arc<dyn TokenStore>,
        key_store: Option<Arc<dyn VaultKeyStore>>,
    ) -> Result<Arc<Self>, EngineError> {
        let vault = PathBuf::from(vault_dir);
        std::fs::create_dir_all(&vault).map_err(|e| EngineError::LocalStorage {
            reason: format!("{}: {e}", vault.display()),
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("steel-sync")
            .enable_all()
            .build()
            .map_err(|e| EngineError::Internal {
                reason: format!("could not start the engine's threads: {e}"),
            })?;
        let inner = Arc::new(Inner {
            vault,
            api_url: api_base_url.trim_end_matches('/').to_owned(),
            device,
            tokens: Tokens::new(token_store),
            key_store: key_store_of(key_store),
            syncer: tokio::sync::Mutex::new(None),
            api: Mutex::new(None),
            status: StatusBoard::new(),
            debounce: Debouncer::new(DEBOUNCE),
        });
        if let Some(stored) = inner.tokens.load()? {
            let _entered = runtime.enter();
            let syncer = inner.open_syncer(stored.into_session(&inner.api_url))?;
            if let Ok(mut slot) = inner.syncer.try_lock() {
                *slot = Some(syncer);
            }
        }
        Ok(Arc::new(SyncEngine {
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            inner,
        }))
    }

    /// The status now (observers hear every change).
    pub fn status(&self) -> EngineStatus {
        self.inner.status.current()
    }

    /// `observer` hears the current status at once, then every change, on an engine thread,
    /// until the handle is cancelled or closed.
    pub fn observe_status(&self, observer: Arc<dyn StatusObserver>) -> Arc<ObservationHandle> {
        self.inner.status.observe(observer)
    }

    /// Signs in with an identity token (Sign in with Apple or Google) and registers this
    /// device; the session goes to the `TokenStore`.
    pub async fn sign_in(
        &self,
        provider: IdentityProvider,
        identity_token: String,
    ) -> Result<SignedIn, EngineError> {
        self.run(move |inner| async move { inner.sign_in(provider, identity_token).await })
            .await
    }

    /// Ends the session on the server (its refresh tokens revoked) and here (the
    /// `TokenStore` cleared). The notes stay in the folder. Signed out here even when the
    /// server could not be told (the error then says why).
    pub async fn sign_out(&self) -> Result<(), EngineError> {
        self.run(|inner| async move { inner.sign_out().await })
            .await
    }

    /// Syncs now (after any sync already running), and reports what it did.
    pub async fn sync_now(&self) -> Result<SyncReport, EngineError> {
        self.run(|inner| async move { inner.sync(MissingNotes::Guarded).await })
            .await
    }

    /// The app's file watcher saw `path` (absolute, or relative to the vault) change: a sync
    /// follows 2 seconds after the last such call. Its outcome reaches the status observers.
    pub fn on_local_file_changed(&self, path: String) {
        if !worth_a_sync(&self.inner.vault, &path) {
            return;
        }
        let inner = self.inner.clone();
        self.inner.debounce.poke(&self.handle, async move {
            let _ = inner.sync(MissingNotes::Guarded).await;
        });
    }

    /// A push notification said notes changed on another device: syncs now. The paths are
    /// informational (the sync reads every change since its cursor, which covers them).
    pub async fn on_push_notification_received(
        &self,
        changed_paths: Vec<String>,
    ) -> Result<SyncReport, EngineError> {
        let _ = changed_paths;
        self.sync_now().await
    }

    /// The person's answer to a held mass delete: delete those notes everywhere.
    pub async fn allow_mass_delete(&self) -> Result<SyncReport, EngineError> {
        self.run(|inner| async move { inner.sync(MissingNotes::DeleteAll).await })
            .await
    }

    /// The person's answer to a held mass delete: bring the missing notes back here.
    pub async fn restore_missing(&self) -> Result<SyncReport, EngineError> {
        self.run(|inner| async move { inner.sync(MissingNotes::Restore).await })
            .await
    }
}

impl SyncEngine {
    /// Runs `job` on the engine's runtime and waits for it. A panic in it is an
    /// `EngineError.Internal`, never an unwind into the app.
    pub(crate) async fn run<T, F>(
        &self,
        job: impl FnOnce(Arc<Inner>) -> F,
    ) -> Result<T, EngineError>
    where
        F: Future<Output = Result<T, EngineError>> + Send + 'static,
        T: Send + 'static,
    {
        match self.handle.spawn(job(self.inner.clone())).await {
            Ok(result) => result,
            Err(e) => Err(EngineError::Internal {
                reason: if e.is_panic() {
                    "the operation panicked (a bug)".into()
                } else {
                    "the engine was closed".into()
                },
            }),
        }
    }
}

impl Drop for SyncEngine {
    fn drop(&mut self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(runtime) = runtime {
            // Waiting for threads is not allowed inside a runtime (a Rust caller's): there
            // the threads are only told to stop.
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(CLOSE_WAIT);
            }
        }
    }
}

impl Inner {
    /// The syncer of a session: tokens refreshed go to the app's store; progress goes to
    /// the status observers; an unlocked vault key (kept in the key store for this
    /// account) encrypts and checks everything it sends and receives.
    fn open_syncer(&self, session: Session) -> Result<Syncer, EngineError> {
        let kept =
            open_kept(self.key_store.as_ref(), &session.user_id).map_err(|e| self.explain(e))?;
        let mut api = Api::new(session, None).with_session_sink(self.tokens.sink());
        if let Some(unlocked) = kept {
            let crypt = Crypt::new(unlocked.keys, Some(Store::open(&self.vault)?))?;
            api = api.with_crypt(Arc::new(crypt));
        }
        let config = scan_config(&Store::open(&self.vault)?)?;
        let mut syncer = Syncer::open(&self.vault, api, &self.device.name, config)?;
        *self.api.lock().unwrap_or_else(|e| e.into_inner()) = Some(syncer.api_handle());
        let status = self.status.clone();
        syncer.on_progress(move |p| {
            status.set(EngineStatus::Syncing {
                progress: SyncProgress::from(p),
            })
        });
        Ok(syncer)
    }

    async fn sign_in(
        &self,
        provider: IdentityProvider,
        identity_token: String,
    ) -> Result<SignedIn, EngineError> {
        let session = Api::login(
            &self.api_url,
            provider.as_str(),
            &identity_token,
            &self.device.name,
            self.device.platform.as_str(),
        )
        .await?;
        self.tokens.save(&session)?;
        let signed = SignedIn {
            user_id: session.user_id.clone(),
            device_id: session.device_id.clone(),
        };
        let syncer = self.open_syncer(session)?;
        *self.syncer.lock().await = Some(syncer);
        self.status.set(EngineStatus::Idle);
        Ok(signed)
    }

    async fn sign_out(&self) -> Result<(), EngineError> {
        let syncer = self.syncer.lock().await.take();
        self.api.lock().unwrap_or_else(|e| e.into_inner()).take();
        let told = match &syncer {
            Some(s) => s.api().logout().await.map(|_| ()),
            None => Ok(()),
        };
        self.tokens.clear()?;
        self.key_store.clear().map_err(|e| self.explain(e))?;
        told.map_err(|e| self.tokens.explain(e))
    }

    /// Opens the syncer again from the stored session (after an unlock or a lock), once
    /// any running sync has finished.
    pub async fn reopen(&self) -> Result<(), EngineError> {
        let mut slot = self.syncer.lock().await;
        let Some(stored) = self.tokens.load()? else {
            return Err(signed_out());
        };
        *slot = Some(self.open_syncer(stored.into_session(&self.api_url))?);
        Ok(())
    }

    /// `error` as the app sees it: the app's token store's or key store's failure when the
    /// library call failed because of one.
    pub fn explain(&self, error: SyncError) -> EngineError {
        match &error {
            SyncError::Other(m) if m.starts_with(STORE_FAILED) => EngineError::KeyStoreFailed {
                reason: m[STORE_FAILED.len()..].to_owned(),
            },
            _ => self.tokens.explain(error),
        }
    }

    /// One sync, with the person's choice about missing notes for this sync only.
    pub async fn sync(&self, missing: MissingNotes) -> Result<SyncReport, EngineError> {
        let mut slot = self.syncer.lock().await;
        let Some(syncer) = slot.as_mut() else {
            return Err(signed_out());
        };
        self.status.set(EngineStatus::Syncing {
            progress: SyncProgress::starting(),
        });
        syncer.set_missing_notes(missing);
        let result = syncer.sync().await;
        syncer.set_missing_notes(MissingNotes::Guarded);
        match result {
            Ok(report) => {
                self.status.set(EngineStatus::Idle);
                Ok(report.into())
            }
            Err(e) => {
                let error = self.explain(e);
                self.status.set(EngineStatus::after(&error));
                Err(error)
            }
        }
    }

    /// The API client of the session, without waiting for a running sync.
    pub fn api(&self) -> Result<Arc<Api>, EngineError> {
        let slot = self.api.lock().unwrap_or_else(|e| e.into_inner());
        slot.clone().ok_or_else(signed_out)
    }

    /// Signed out here: the session forgotten by the engine and by the app's store.
    pub async fn forget_session(&self) -> Result<(), EngineError> {
        self.syncer.lock().await.take();
        self.api.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.tokens.clear()
    }
}

/// The folders this vault syncs: as the CLI remembered them (`--folders`, `--all`), else
/// the seed's four.
fn scan_config(store: &Store) -> Result<ScanConfig, EngineError> {
    Ok(ScanConfig::from_stored(store.meta("folders")?.as_deref()))
}
