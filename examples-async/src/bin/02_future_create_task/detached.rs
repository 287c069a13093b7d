//! A future that is never awaited never runs; a task whose handle is dropped still does.
//!
//! Dropping a `JoinHandle` detaches the task: it does not cancel it, and unlike a discarded C++
//! `std::async` future, it does not block. The summary prints both flags.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::sleep;
use tracing::info;

/// How long warming the cache takes.
const WARM_CACHE_DELAY: Duration = Duration::from_millis(50);

/// Warms a cache and raises `warmed` when done.
async fn warm_cache(warmed: Arc<AtomicBool>) {
    info!("warm_cache: started");
    sleep(WARM_CACHE_DELAY).await;
    warmed.store(true, Ordering::SeqCst);
    info!("warm_cache: done");
}

/// Returns whether (a) a future that was never awaited and (b) a task whose `JoinHandle` was dropped
/// at once did their work, after waiting twice as long as the work takes.
pub async fn never_awaited_vs_detached() -> (bool, bool) {
    let future_warmed = Arc::new(AtomicBool::new(false));
    let task_warmed = Arc::new(AtomicBool::new(false));
    {
        // Kept alive for the whole wait, so it is not dropped early: it is simply never polled.
        let _never_awaited = warm_cache(future_warmed.clone());
        // The handle is dropped on this line: the task is detached, and runs to the end anyway.
        drop(tokio::spawn(warm_cache(task_warmed.clone())));
        sleep(WARM_CACHE_DELAY * 2).await;
    }
    (
        future_warmed.load(Ordering::SeqCst),
        task_warmed.load(Ordering::SeqCst),
    )
}
