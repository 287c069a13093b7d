//! # 17.6 · A forgotten `JoinHandle`
//!
//! `JoinHandle` is not `#[must_use]`: dropping it detaches the task without a warning. One task
//! returns an error, another panics; the program says "saved" and goes on, having learnt of neither
//! (the error leaves no trace at all; the panic only reaches the panic hook). Awaiting the handles
//! gives both back: `Err(e)` and `JoinError::is_panic()`. Each failure counts itself when raised
//! and when the program reads it ([`Failures`]), so "0 of 2 learnt of" is measured. Upstream: JS
//! demo 1, a fire-and-forget rejection; C++'s discarded `std::future` blocks in its destructor, a
//! dropped `JoinHandle` does not. Threads twin: the same file name, a detached thread killed at
//! exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::sleep;
use tracing::{error, info};

use crate::failure::{Failure, Failures};

/// Report parts saved by background tasks: one fails with an error, one panics.
pub const PARTS: [&str; 2] = ["summary.pdf", "charts.pdf"];

/// Saves one part. `summary.pdf` fails (an error); `charts.pdf` hits a bug (a panic whose payload
/// is the counted [`Failure`]).
pub async fn save_part(
    part: &'static str,
    started: Arc<AtomicUsize>,
    failures: Arc<Failures>,
) -> Result<(), Failure> {
    started.fetch_add(1, Ordering::SeqCst);
    sleep(Duration::from_millis(10)).await;
    match part {
        "summary.pdf" => Err(failures.raise(format!("{part}: disk full"))),
        _ => std::panic::panic_any(failures.raise(format!("{part}: chart index 7 out of range"))),
    }
}

/// What the program learnt about its background tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct HandleReport {
    pub started: usize,
    /// Failures raised, counted by the tasks.
    pub raised: usize,
    /// Failures the program itself read (not the panic hook), in the order it read them.
    pub learnt: Vec<String>,
}

impl HandleReport {
    /// The same measure for the mistake and the fix, once the program believes it is done.
    fn measure(started: &AtomicUsize, failures: &Failures) -> Self {
        HandleReport {
            started: started.load(Ordering::SeqCst),
            raised: failures.raised(),
            learnt: failures.read(),
        }
    }
}

/// The mistake: spawn and drop the handle. No warning (`JoinHandle` is not `#[must_use]`), and
/// nothing comes back: the error is dropped with the task's output, the panic is caught by the
/// runtime and kept in a handle nobody holds.
pub async fn forgotten_handles() -> HandleReport {
    let (started, failures) = (Arc::new(AtomicUsize::new(0)), Failures::new());
    let metrics = tokio::runtime::Handle::current().metrics();
    let alive_before = metrics.num_alive_tasks();
    for part in PARTS {
        tokio::spawn(save_part(part, started.clone(), failures.clone()));
    }
    // The program goes on, and after a while (the tasks need 10 ms) believes it is done.
    sleep(Duration::from_millis(50)).await;
    info!("forgotten handles: \"report saved\" (so the program believes)");
    // For the measure, not the program: the detached tasks are counted out by the runtime, so
    // that every failure has happened before what was learnt is counted, on a busy machine too.
    while metrics.num_alive_tasks() > alive_before {
        sleep(Duration::from_millis(1)).await;
    }
    HandleReport::measure(&started, &failures)
}

/// The fix: keep the handles and await them; an error is `Ok(Err(e))`, a panic `Err(JoinError)`
/// whose payload `into_panic` gives back.
pub async fn awaited_handles() -> HandleReport {
    let (started, failures) = (Arc::new(AtomicUsize::new(0)), Failures::new());
    let handles: Vec<_> = PARTS
        .iter()
        .map(|&part| tokio::spawn(save_part(part, started.clone(), failures.clone())))
        .collect();
    for handle in handles {
        // Read first, log after: a log macro skips its arguments when its level is off.
        let learnt = match handle.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("error: {}", e.read()),
            Err(e) if e.is_panic() => match e.into_panic().downcast::<Failure>() {
                Ok(failure) => format!("panic: {}", failure.read()),
                Err(_) => "a panic of another kind".to_string(),
            },
            Err(e) => format!("cancelled: {e}"),
        };
        error!("awaited handle: {learnt}");
    }
    HandleReport::measure(&started, &failures)
}

/// Panics counted by the panic hook: the only place the forgotten task's panic shows up.
pub static PANICS_SEEN_BY_HOOK: AtomicUsize = AtomicUsize::new(0);

/// A panic hook that logs a panic as one `ERROR` line (not Rust's default multi-line message with a
/// backtrace) and counts it: lesson 6 shows that nothing else hears of the forgotten task's panic.
pub fn log_and_count_panics() {
    std::panic::set_hook(Box::new(|info| {
        PANICS_SEEN_BY_HOOK.fetch_add(1, Ordering::SeqCst);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<Failure>()
            .map(|f| f.peek().to_string())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        error!("panic hook: a task panic, {message}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_handle_loses_the_error_and_the_panic_and_awaiting_finds_both() {
        let forgotten = forgotten_handles().await;
        assert_eq!((forgotten.started, forgotten.raised), (2, 2));
        assert!(forgotten.learnt.is_empty(), "{forgotten:?}");
        let kept = awaited_handles().await;
        assert_eq!((kept.started, kept.raised), (2, 2));
        assert_eq!(
            kept.learnt,
            [
                "summary.pdf: disk full",
                "charts.pdf: chart index 7 out of range"
            ]
        );
    }
}
