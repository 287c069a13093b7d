//! # 17.4 · A future created and never awaited
//!
//! Rust's futures are lazy: `flaky_op(i);` does nothing at all, not even fail. The compiler warns
//! (quoted at [`never_awaited`]); the count of operations that ran is 0, and the one that must fail
//! is never seen failing: the failures are counted where they are raised ([`Failures`]), so "0
//! raised" is measured, not assumed. JS's promises run anyway and their errors vanish; here the
//! work itself vanishes. Upstream JS's `flakyOp` never fails (`failProb = 0`), so its demo shows
//! nothing: ours fails for real (op 2), and only the fixed version sees it. Upstream JS demo 2,
//! `forEach(async ...)`, does not compile in Rust (`for_each` wants a closure that returns `()`,
//! not a future); the version that does, `{ flaky_op(i); }`, is this one, as is JS demo 3, the
//! forgotten `await`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use tokio::time::sleep;

use crate::failure::{Failure, Failures};

/// How many operations start, in [`never_awaited`] and [`awaited`].
pub const OPS: u32 = 4;
/// The operation that fails for real.
pub const FAILING_OP: u32 = 2;

/// An operation that really fails (op [`FAILING_OP`]), unlike upstream's `flakyOp`. It counts its
/// runs in `ran`, at its first line: a run that never started leaves the count alone. Its failure
/// is counted where it is raised.
pub async fn flaky_op(
    i: u32,
    ran: Arc<AtomicUsize>,
    failures: Arc<Failures>,
) -> Result<u32, Failure> {
    ran.fetch_add(1, Ordering::SeqCst);
    sleep(Duration::from_millis(20)).await;
    if i == FAILING_OP {
        Err(failures.raise(format!("op {i}: quote service unavailable")))
    } else {
        Ok(i)
    }
}

/// How many operations ran, how many failed, and the failures the caller saw (read).
#[derive(Debug, Clone, PartialEq)]
pub struct OpsReport {
    pub ran: usize,
    pub raised: usize,
    pub seen: Vec<String>,
}

impl OpsReport {
    /// What the counters say once the caller is done: the same measure for the mistake and the fix.
    fn measure(ran: &AtomicUsize, failures: &Failures) -> Self {
        OpsReport {
            ran: ran.load(Ordering::SeqCst),
            raised: failures.raised(),
            seen: failures.read(),
        }
    }
}

/// The mistake: the futures are created and dropped. Without the `allow`, rustc 1.95 says:
///
/// ```text
/// warning: unused implementer of `Future` that must be used
///   --> src/main.rs:11:9
///    |
/// 11 |         flaky_op(i);
///    |         ^^^^^^^^^^^
///    |
///    = note: futures do nothing unless you `.await` or poll them
///    = note: `#[warn(unused_must_use)]` (part of `#[warn(unused)]`) on by default
/// ```
///
/// The `allow` is here because the workspace builds with warnings as errors; remove it to see the
/// warning. Nothing runs: no request, no error, nothing to catch.
pub async fn never_awaited() -> OpsReport {
    let (ran, failures) = (Arc::new(AtomicUsize::new(0)), Failures::new());
    for i in 0..OPS {
        #[allow(unused_must_use)]
        flaky_op(i, ran.clone(), failures.clone());
    }
    OpsReport::measure(&ran, &failures)
}

/// The fix: await them (together), and read every result.
pub async fn awaited() -> OpsReport {
    let (ran, failures) = (Arc::new(AtomicUsize::new(0)), Failures::new());
    let results = join_all((0..OPS).map(|i| flaky_op(i, ran.clone(), failures.clone()))).await;
    for failure in results.into_iter().filter_map(Result::err) {
        failure.read();
    }
    OpsReport::measure(&ran, &failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::time_async;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_never_awaited_never_runs_and_its_failure_is_never_raised() {
        let (dropped, took) = time_async(never_awaited()).await;
        assert_eq!(
            dropped,
            OpsReport {
                ran: 0,
                raised: 0,
                seen: vec![]
            }
        );
        assert_eq!(took, Duration::ZERO, "nothing waited either");
        let (kept, took) = time_async(awaited()).await;
        assert_eq!(kept.ran, OPS as usize);
        assert_eq!(kept.raised, 1);
        assert_eq!(kept.seen, ["op 2: quote service unavailable"]);
        assert_eq!(took, ms(20));
    }

    // The measure is not fixed: the same counters show a failure that ran and was never read, as
    // JS's fire-and-forget promises lose theirs (here a spawned task nobody awaits).
    #[tokio::test(start_paused = true)]
    async fn the_counters_see_a_failure_raised_and_never_read() {
        let (ran, failures) = (Arc::new(AtomicUsize::new(0)), Failures::new());
        for i in 0..OPS {
            tokio::spawn(flaky_op(i, ran.clone(), failures.clone()));
        }
        sleep(Duration::from_millis(50)).await;
        let report = OpsReport::measure(&ran, &failures);
        assert_eq!((report.ran, report.raised), (OPS as usize, 1));
        assert!(report.seen.is_empty(), "{report:?}");
    }
}
