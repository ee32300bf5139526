//! The engine without a server: what it does signed out, offline, with a failing token
//! store, how it reports conflict copies, and that closing it stops its threads (the Kotlin
//! tests do the same through the bindings, against the local stack).

use std::sync::{Arc, Mutex};

use steel_sync::store::{LogEntry, Store};
use steel_sync_ffi::{
    AppError, DeviceInfo, EngineError, EngineStatus, Platform, StatusObserver, StoredSession,
    SyncEngine, TokenStore,
};

#[derive(Default)]
struct Store1 {
    session: Mutex<Option<StoredSession>>,
    fail_loads: bool,
}

impl TokenStore for Store1 {
    fn load(&self) -> Result<Option<StoredSession>, AppError> {
        if self.fail_loads {
            return Err(AppError::Failed {
                reason: "keystore gone".into(),
            });
        }
        Ok(self.session.lock().unwrap().clone())
    }
    fn save(&self, session: StoredSession) -> Result<(), AppError> {
        *self.session.lock().unwrap() = Some(session);
        Ok(())
    }
    fn clear(&self) -> Result<(), AppError> {
        *self.session.lock().unwrap() = None;
        Ok(())
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<EngineStatus>>);

impl StatusObserver for Recorder {
    fn on_status(&self, status: EngineStatus) -> Result<(), AppError> {
        self.0.lock().unwrap().push(status);
        Ok(())
    }
}

fn device() -> DeviceInfo {
    DeviceInfo {
        name: "Test".into(),
        platform: Platform::Android,
    }
}

fn signed_in_store() -> Arc<Store1> {
    Arc::new(Store1 {
        session: Mutex::new(Some(StoredSession {
            api_url: "http://127.0.0.1:9".into(),
            user_id: "u".into(),
            device_id: Some("d".into()),
            device_name: "Test".into(),
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_expires_at: 4_000_000_000,
        })),
        fail_loads: false,
    })
}

fn open(dir: &std::path::Path, url: &str, store: Arc<Store1>) -> Arc<SyncEngine> {
    SyncEngine::new(
        dir.to_str().unwrap().into(),
        url.into(),
        device(),
        store,
        None,
    )
    .unwrap()
}

/// Polls `f` on the calling thread with no Tokio runtime anywhere (as the app's main thread
/// or a Kotlin coroutine does).
fn blocking<T>(f: impl std::future::Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn signed_out_every_call_says_so_and_nothing_panics_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(
        dir.path(),
        "http://127.0.0.1:9",
        Arc::new(Store1::default()),
    );
    // Called from a plain thread: the engine's own runtime does the work.
    let e = blocking(engine.sync_now()).unwrap_err();
    assert!(matches!(e, EngineError::SignedOut { .. }), "{e}");
    let e = blocking(engine.account_details()).unwrap_err();
    assert!(matches!(e, EngineError::SignedOut { .. }), "{e}");
    assert_eq!(engine.status(), EngineStatus::Idle);
}

#[tokio::test]
async fn offline_is_an_error_and_a_status() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), "http://127.0.0.1:9", signed_in_store());
    let seen = Arc::new(Recorder::default());
    let _handle = engine.observe_status(seen.clone());
    let e = engine.sync_now().await.unwrap_err();
    assert!(matches!(e, EngineError::Offline { .. }), "{e}");
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&EngineStatus::Idle));
    assert!(matches!(seen[1], EngineStatus::Syncing { .. }), "{seen:?}");
    assert_eq!(seen.last(), Some(&EngineStatus::Offline));
    // Dropped inside a runtime (a Rust caller's): no panic.
    drop(engine);
}

#[test]
fn a_token_store_that_cannot_load_stops_the_engine_opening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store1 {
        fail_loads: true,
        ..Store1::default()
    });
    let e = SyncEngine::new(
        dir.path().to_str().unwrap().into(),
        "http://x".into(),
        device(),
        store,
        None,
    )
    .err()
    .unwrap();
    assert_eq!(
        e,
        EngineError::TokenStoreFailed {
            reason: "keystore gone".into()
        }
    );
}

#[tokio::test]
async fn pending_conflicts_are_the_copies_still_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kept = "thoughts/A (conflict Mac 2026-12-07).md";
    let gone = "thoughts/B (conflict Mac 2026-12-07).md";
    store
        .apply(
            &[],
            &[
                LogEntry::conflict_copy("thoughts/A.md", kept),
                LogEntry::conflict_copy("thoughts/B.md", gone),
                LogEntry::pulled("thoughts/C.md", 2),
            ],
        )
        .unwrap();
    std::fs::create_dir_all(dir.path().join("thoughts")).unwrap();
    std::fs::write(dir.path().join(kept), "mine\n").unwrap();
    let engine = open(dir.path(), "http://127.0.0.1:9", signed_in_store());
    let pending = engine.pending_conflicts().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].path.as_str(), pending[0].copy.as_str()),
        ("thoughts/A.md", kept)
    );
}

#[test]
fn closing_engines_stops_their_threads() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), "http://127.0.0.1:9", signed_in_store()));
    let before = threads();
    for _ in 0..20 {
        let engine = open(dir.path(), "http://127.0.0.1:9", signed_in_store());
        engine.on_local_file_changed("thoughts/A.md".into());
        drop(engine);
    }
    assert!(
        threads() <= before + 1,
        "{before} threads before, {} after",
        threads()
    );
}
