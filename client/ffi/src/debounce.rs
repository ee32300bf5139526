//! `onLocalFileChanged`: a burst of file events becomes one sync, 2 seconds after the last
//! event (the CLI's `watch` waits the same). Only the wait is restarted by a new event; a
//! sync that has begun is never cancelled by one (the next event schedules another).

use std::future::Future;
use std::path::{Component, Path};
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// The CLI's debounce.
pub const DEBOUNCE: Duration = Duration::from_secs(2);

pub(crate) struct Debouncer {
    delay: Duration,
    waiting: Mutex<Option<JoinHandle<()>>>,
}

impl Debouncer {
    pub fn new(delay: Duration) -> Self {
        Debouncer {
            delay,
            waiting: Mutex::new(None),
        }
    }

    /// Runs `action` on `runtime` once `delay` has passed without another poke.
    pub fn poke<F>(&self, runtime: &Handle, action: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(previous) = waiting.take() {
            // Only ever aborts the sleep: the action runs in a task of its own.
            previous.abort();
        }
        let (delay, spawner) = (self.delay, runtime.clone());
        *waiting = Some(runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            spawner.spawn(action);
        }));
    }
}

/// Whether a changed path is one a sync could care about: not in a hidden folder (the
/// engine's own `.steel/` state, editors' swap files). `path` may be absolute (inside the
/// vault) or relative to it.
pub fn worth_a_sync(vault: &Path, path: &str) -> bool {
    let path = Path::new(path);
    let rel = path.strip_prefix(vault).unwrap_or(path);
    !rel.components().any(|c| match c {
        Component::Normal(s) => s.to_str().is_some_and(|s| s.starts_with('.')),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn counter() -> (
        Arc<AtomicU32>,
        impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let action = move || {
            let seen = seen.clone();
            Box::pin(async move {
                seen.fetch_add(1, Ordering::SeqCst);
            }) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
        };
        (runs, action)
    }

    async fn advance(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        // Let the spawned action run.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_one_sync_two_seconds_after_the_last() {
        let debouncer = Debouncer::new(DEBOUNCE);
        let (runs, action) = counter();
        let rt = Handle::current();
        for _ in 0..5 {
            debouncer.poke(&rt, action());
            advance(500).await;
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "still within 2 s of the last"
        );
        advance(1_400).await;
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        advance(200).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        advance(10_000).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one burst, one sync");
        debouncer.poke(&rt, action());
        advance(2_100).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn hidden_paths_do_not_start_a_sync() {
        let vault = Path::new("/data/vault");
        assert!(worth_a_sync(vault, "/data/vault/thoughts/Idea.md"));
        assert!(worth_a_sync(vault, "thoughts/Idea.md"));
        assert!(!worth_a_sync(vault, "/data/vault/.steel/sync.db"));
        assert!(!worth_a_sync(vault, "thoughts/.Idea.md.swp"));
    }
}
