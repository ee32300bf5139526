//! The engine's status (`Idle`, `Syncing` with progress, `Offline`, `Error` with a reason)
//! and the app's observers of it. An observer hears the current status as it registers, then
//! every change, on an engine thread (post to the UI thread yourself). The handle it gets
//! back stops the observing, on `cancel()` or when it is closed.

use std::sync::{Arc, Mutex, Weak};

use steel_sync::Progress;

use crate::error::{AppError, EngineError};

/// Where a running sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Reading the vault folder (`done` of `total` notes had to be read and hashed).
    Scanning,
    /// Deciding what to do (`done`: the server's changes, `total`: notes to sync).
    Planning,
    Uploading,
    Downloading,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    pub done: u64,
    pub total: u64,
}

impl SyncProgress {
    /// Before the first step reports.
    pub fn starting() -> Self {
        SyncProgress {
            phase: SyncPhase::Scanning,
            done: 0,
            total: 0,
        }
    }
}

impl From<&Progress> for SyncProgress {
    fn from(p: &Progress) -> Self {
        let (phase, done, total) = match *p {
            Progress::Scanned { files, read } => (SyncPhase::Scanning, read, files),
            Progress::Changes { remote, actions } => (SyncPhase::Planning, remote, actions),
            Progress::Uploaded { done, total } => (SyncPhase::Uploading, done, total),
            Progress::Downloaded { done, total } => (SyncPhase::Downloading, done, total),
        };
        SyncProgress {
            phase,
            done: done as u64,
            total: total as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EngineStatus {
    /// Nothing running; the last sync (if any) succeeded.
    Idle,
    Syncing {
        progress: SyncProgress,
    },
    /// The last sync could not reach the server; the next one resumes.
    Offline,
    /// The last sync failed for another reason.
    Error {
        reason: EngineError,
    },
}

impl EngineStatus {
    /// The status after a sync that failed with `error`.
    pub fn after(error: &EngineError) -> Self {
        match error {
            EngineError::Offline { .. } => EngineStatus::Offline,
            other => EngineStatus::Error {
                reason: other.clone(),
            },
        }
    }
}

/// Implemented by the app: hears every status change.
#[uniffi::export(foreign)]
pub trait StatusObserver: Send + Sync {
    /// An exception thrown here is dropped (the engine carries on).
    fn on_status(&self, status: EngineStatus) -> Result<(), AppError>;
}

struct Observers {
    current: EngineStatus,
    next_id: u64,
    list: Vec<(u64, Arc<dyn StatusObserver>)>,
}

/// The current status and who listens.
pub(crate) struct StatusBoard {
    state: Mutex<Observers>,
}

impl StatusBoard {
    pub fn new() -> Arc<Self> {
        Arc::new(StatusBoard {
            state: Mutex::new(Observers {
                current: EngineStatus::Idle,
                next_id: 0,
                list: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Observers> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn current(&self) -> EngineStatus {
        self.lock().current.clone()
    }

    /// Records `status` and tells every observer (outside the lock, so an observer may
    /// cancel itself or read the status).
    pub fn set(&self, status: EngineStatus) {
        let listeners: Vec<Arc<dyn StatusObserver>> = {
            let mut state = self.lock();
            state.current = status.clone();
            state.list.iter().map(|(_, o)| o.clone()).collect()
        };
        for o in listeners {
            let _ = o.on_status(status.clone());
        }
    }

    pub fn observe(self: &Arc<Self>, observer: Arc<dyn StatusObserver>) -> Arc<ObservationHandle> {
        let (id, current) = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            state.list.push((id, observer.clone()));
            (id, state.current.clone())
        };
        let _ = observer.on_status(current);
        Arc::new(ObservationHandle {
            board: Arc::downgrade(self),
            id,
        })
    }

    fn remove(&self, id: u64) {
        self.lock().list.retain(|(i, _)| *i != id);
    }

    #[cfg(test)]
    pub fn observer_count(&self) -> usize {
        self.lock().list.len()
    }
}

/// Stops one observer's notifications: `cancel()`, or closing the handle. Keep it as long
/// as you want to hear the status.
#[derive(uniffi::Object)]
pub struct ObservationHandle {
    board: Weak<StatusBoard>,
    id: u64,
}

#[uniffi::export]
impl ObservationHandle {
    /// No further notifications reach this observer (one already under way may finish).
    pub fn cancel(&self) {
        if let Some(board) = self.board.upgrade() {
            board.remove(self.id);
        }
    }
}

impl Drop for ObservationHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An observer that records what it hears.
    #[derive(Default)]
    pub struct Recorder(pub Mutex<Vec<EngineStatus>>);

    impl StatusObserver for Recorder {
        fn on_status(&self, status: EngineStatus) -> Result<(), AppError> {
            self.0.lock().unwrap().push(status);
            Ok(())
        }
    }

    impl Recorder {
        pub fn seen(&self) -> Vec<EngineStatus> {
            self.0.lock().unwrap().clone()
        }
    }

    struct Failing;
    impl StatusObserver for Failing {
        fn on_status(&self, _: EngineStatus) -> Result<(), AppError> {
            Err(AppError::Failed {
                reason: "ui gone".into(),
            })
        }
    }

    #[test]
    fn an_observer_hears_the_current_status_then_each_change_until_cancelled() {
        let board = StatusBoard::new();
        let rec = Arc::new(Recorder::default());
        let handle = board.observe(rec.clone());
        board.set(EngineStatus::Syncing {
            progress: SyncProgress::starting(),
        });
        board.set(EngineStatus::Idle);
        handle.cancel();
        board.set(EngineStatus::Offline);
        assert_eq!(
            rec.seen(),
            [
                EngineStatus::Idle,
                EngineStatus::Syncing {
                    progress: SyncProgress::starting()
                },
                EngineStatus::Idle
            ]
        );
        assert_eq!(board.current(), EngineStatus::Offline);
    }

    #[test]
    fn closing_the_handle_stops_observing_and_a_failing_observer_is_ignored() {
        let board = StatusBoard::new();
        let handle = board.observe(Arc::new(Failing));
        let rec = Arc::new(Recorder::default());
        let _kept = board.observe(rec.clone());
        board.set(EngineStatus::Offline);
        assert_eq!(board.observer_count(), 2);
        drop(handle);
        assert_eq!(board.observer_count(), 1);
        assert_eq!(rec.seen(), [EngineStatus::Idle, EngineStatus::Offline]);
    }

    #[test]
    fn progress_and_failures_map_to_what_the_app_shows() {
        let p = SyncProgress::from(&Progress::Uploaded { done: 3, total: 9 });
        assert_eq!((p.phase, p.done, p.total), (SyncPhase::Uploading, 3, 9));
        let p = SyncProgress::from(&Progress::Scanned {
            files: 100,
            read: 4,
        });
        assert_eq!((p.phase, p.done, p.total), (SyncPhase::Scanning, 4, 100));
        let offline = EngineError::Offline { reason: "x".into() };
        assert_eq!(EngineStatus::after(&offline), EngineStatus::Offline);
        let quota = EngineError::QuotaExceeded { reason: "x".into() };
        assert_eq!(
            EngineStatus::after(&quota),
            EngineStatus::Error { reason: quota }
        );
    }
}
