//! Transfers to and from S3 at most [`TRANSFER_CONCURRENCY`] at a time: the one place the
//! client runs requests side by side.

use std::future::Future;
use std::sync::Arc;

use crate::error::{Result, SyncError};

/// Parallel transfers to and from S3.
pub const TRANSFER_CONCURRENCY: usize = 16;

/// Runs `task` on every item, at most `limit` at once, and hands each success to `done` as
/// it finishes. An error does not stop the tasks already running (their results are handed
/// over, so what arrived can be recorded); the first error is answered once all are done.
pub async fn for_each_bounded<I, T, F, Fut>(
    items: impl IntoIterator<Item = I>,
    limit: usize,
    task: F,
    mut done: impl FnMut(T),
) -> Result<()>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let limiter = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for item in items {
        let (limiter, work) = (limiter.clone(), task(item));
        tasks.spawn(async move {
            let _permit = limiter.acquire_owned().await;
            work.await
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| SyncError::Other(e.to_string()))? {
            Ok(value) => done(value),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn runs_at_most_the_limit_at_once_and_hands_over_every_success() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut got = Vec::new();
        for_each_bounded(
            0..20u32,
            3,
            |i| {
                let (running, most) = (running.clone(), most.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                }
            },
            |i| got.push(i),
        )
        .await
        .unwrap();
        got.sort();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_error_is_answered_after_the_others_finished() {
        let mut got = Vec::new();
        let result = for_each_bounded(
            0..6u32,
            2,
            |i| async move {
                if i == 1 {
                    Err(SyncError::Other(format!("task {i} failed")))
                } else {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok(i)
                }
            },
            |i| got.push(i),
        )
        .await;
        assert!(matches!(result, Err(SyncError::Other(m)) if m == "task 1 failed"));
        got.sort();
        assert_eq!(got, [0, 2, 3, 4, 5]);
    }
}
