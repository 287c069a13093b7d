//! Deferred work runs only when asked for; a thread whose handle is dropped runs anyway.
//!
//! C++'s `std::async(std::launch::deferred, f)` is a closure: nothing runs until `get()`, and then
//! on the thread that asks, so asking takes the whole work (the nearest thing to a lazy future, and
//! as inert as an unpolled one: the async twin's "futures created early, awaited late" run has no
//! threads counterpart, since a thread starts when it is spawned). A spawned thread starts at once,
//! and dropping its `JoinHandle` detaches it (a discarded C++ `std::async` future would block in its
//! destructor instead). The summary prints both, measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::time;
use tracing::info;

/// How long warming the cache takes.
pub const WARM_CACHE_DELAY: Duration = Duration::from_millis(50);
/// How long to wait for the detached thread's work at most: far more than it takes even on a busy
/// machine, where a thread may wait a while for a core before it starts.
const PATIENCE: Duration = Duration::from_secs(2);

/// Warms a cache and raises `warmed` when done.
fn warm_cache(warmed: &AtomicBool) {
    info!("warm_cache: started");
    thread::sleep(WARM_CACHE_DELAY);
    warmed.store(true, Ordering::SeqCst);
    info!("warm_cache: done");
}

/// What became of deferred work and of a detached thread, once the detached thread's work was done.
#[derive(Debug, Clone, Copy)]
pub struct DeferredVsDetached {
    /// Whether the deferred work had run before anyone asked for its result.
    pub deferred_ran_before_get: bool,
    /// How long asking for it (`get()`) then took: the whole work, if it ran only then.
    pub get_took: Duration,
    /// Whether the thread whose `JoinHandle` was dropped at once did its work.
    pub detached_ran: bool,
}

/// C++'s `std::async(std::launch::deferred, f)` is a closure: it runs when `get()` is called, on the
/// thread that calls it. A spawned thread runs at once, even when nobody keeps its handle.
pub fn deferred_vs_detached() -> anyhow::Result<DeferredVsDetached> {
    let deferred_warmed = Arc::new(AtomicBool::new(false));
    let detached_warmed = Arc::new(AtomicBool::new(false));
    let flag = deferred_warmed.clone();
    // A description of work, like an unpolled future: nothing runs until someone calls it.
    let deferred = move || warm_cache(&flag);
    let flag = detached_warmed.clone();
    // With no handle to join, the detached thread says when it is done on a channel.
    let (done, finished) = mpsc::channel();
    // The handle is dropped on this line: the thread is detached, and runs to the end anyway.
    drop(
        thread::Builder::new()
            .name("warm-cache".into())
            .spawn(move || {
                warm_cache(&flag);
                let _ = done.send(());
            })?,
    );
    // A timeout, not a fixed sleep, so that a busy machine cannot make the detached thread look
    // idle: it returns when the work is done (about 50 ms), or gives up after `PATIENCE`.
    let _ = finished.recv_timeout(PATIENCE);
    let deferred_ran_before_get = deferred_warmed.load(Ordering::SeqCst);
    let detached_ran = detached_warmed.load(Ordering::SeqCst);
    // `get()` on a deferred future: the work runs now, here.
    let ((), get_took) = time(deferred);
    Ok(DeferredVsDetached {
        deferred_ran_before_get,
        get_took,
        detached_ran,
    })
}
