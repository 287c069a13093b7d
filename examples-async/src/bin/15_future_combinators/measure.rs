//! Measuring one combinator (how long it took, what became of the jobs it did not wait for), and
//! the run of every combinator of the lesson, over futures and over spawned tasks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::jobs::{Launch, Ledger};
use crate::report::{Row, describe};
use crate::*;

/// The jobs still unfinished when the combinator returned, and what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rest {
    pub(crate) unfinished: usize,
    /// Dropped before their end (counted when the combinator returned).
    pub(crate) cancelled: usize,
    /// Side effects of the rest that happened after the combinator returned.
    pub(crate) side_effects: usize,
    /// When (since the start) that was counted: once every job's delay had passed.
    pub(crate) counted_at: Duration,
}

/// Starts `jobs` as `launch` says, runs `combinator` over them and measures it; then waits until
/// every job would have finished and counts what the rest did meanwhile.
pub(crate) async fn measure<const N: usize, T, F>(
    jobs: [Job; N],
    launch: Launch,
    combinator: impl FnOnce([JobFuture; N]) -> F,
) -> (T, Duration, Rest)
where
    F: Future<Output = T>,
{
    let ledger = Arc::new(Ledger::default());
    let tracker = TaskTracker::new();
    let start = Instant::now();
    let futures = jobs.map(|job| launch.start(job, &ledger, &tracker));
    let output = combinator(futures).await;
    let took = start.elapsed();
    let finished_at_return = ledger.finished.load(Ordering::SeqCst);
    let cancelled = ledger.cancelled.load(Ordering::SeqCst);
    // Spawned jobs that outlived the combinator are tracked: wait for them to end by themselves.
    // Dropped ones no longer exist: wait out the slowest delay, long enough for any to have ended.
    tracker.close();
    tracker.wait().await;
    let slowest = jobs.iter().map(|j| j.delay).max().unwrap_or_default();
    sleep_until(start + slowest).await;
    let rest = Rest {
        unfinished: ledger.started.load(Ordering::SeqCst) - finished_at_return,
        cancelled,
        side_effects: ledger.finished.load(Ordering::SeqCst) - finished_at_return,
        counted_at: start.elapsed(),
    };
    (output, took, rest)
}

pub(crate) fn delay_of(jobs: &[Job], name: &str) -> Duration {
    jobs.iter()
        .find(|j| j.name == name)
        .map(|j| j.delay)
        .expect("a job of this scenario")
}

/// Runs every combinator of the lesson, the cancelling ones over futures and over spawned tasks.
pub(crate) async fn run_all() -> Vec<Row> {
    let mut rows = Vec::new();

    info!("--- all: tokio::join! ---");
    let (results, took, rest) = measure(TASKS, Launch::Futures, all).await;
    rows.push(Row {
        combinator: "all (join!)",
        launch: Launch::Futures,
        outcome: format!("{}/3 ok", results.iter().filter(|r| r.is_ok()).count()),
        took,
        ideal: delay_of(&TASKS, "task-3"),
        ideal_is: "the slowest",
        rest,
    });

    for launch in [Launch::Futures, Launch::Spawned] {
        info!(
            "--- fail-fast all: try_join_all over {} ---",
            launch.label()
        );
        let (result, took, rest) = measure(TASKS_ONE_FAILS, launch, fail_fast_all).await;
        rows.push(Row {
            combinator: "fail-fast all (try_join_all)",
            launch,
            outcome: match result {
                Ok(names) => format!("Ok({})", names.join(", ")),
                Err(e) => format!("Err({e})"),
            },
            took,
            ideal: delay_of(&TASKS_ONE_FAILS, "task-2"),
            ideal_is: "the first error",
            rest,
        });
    }

    for launch in [Launch::Futures, Launch::Spawned] {
        info!("--- race: select! over {} and a timer ---", launch.label());
        let (winner, took, rest) = measure(RACERS, launch, |j| race(j, RACE_TIMER)).await;
        rows.push(Row {
            combinator: "race (select!)",
            launch,
            outcome: describe(winner),
            took,
            ideal: delay_of(&RACERS, "A").min(RACE_TIMER),
            ideal_is: "the winner",
            rest,
        });
    }

    for launch in [Launch::Futures, Launch::Spawned] {
        info!(
            "--- race against a timer: timeout over {} ---",
            launch.label()
        );
        let (winner, took, rest) = measure(SLOW, launch, |j| with_deadline(j, DEADLINE)).await;
        rows.push(Row {
            combinator: "timeout",
            launch,
            outcome: describe(winner),
            took,
            ideal: delay_of(&SLOW, "C").min(DEADLINE),
            ideal_is: "the timer",
            rest,
        });
    }

    for launch in [Launch::Futures, Launch::Spawned] {
        info!("--- any: select_ok over {} ---", launch.label());
        let (result, took, rest) = measure(ANY, launch, any).await;
        rows.push(Row {
            combinator: "any (select_ok)",
            launch,
            outcome: describe(Winner::Job(result)),
            took,
            ideal: delay_of(&ANY, "Y"),
            ideal_is: "the first success",
            rest,
        });
    }

    info!("--- any, every job fails: select_ok, then FuturesUnordered ---");
    let (result, took, rest) = measure(ALL_FAIL, Launch::Futures, any).await;
    rows.push(Row {
        combinator: "any (select_ok), all fail",
        launch: Launch::Futures,
        outcome: describe(Winner::Job(result)),
        took,
        ideal: delay_of(&ALL_FAIL, "R"),
        ideal_is: "the last failure",
        rest,
    });
    let (result, took, rest) = measure(ALL_FAIL, Launch::Futures, any_every_error).await;
    rows.push(Row {
        combinator: "any (FuturesUnordered), all fail",
        launch: Launch::Futures,
        outcome: match result {
            Ok(winner) => format!("{winner} won"),
            Err(errors) => format!(
                "every error: {}",
                errors
                    .iter()
                    .map(Failed::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        took,
        ideal: delay_of(&ALL_FAIL, "R"),
        ideal_is: "the last failure",
        rest,
    });

    info!("--- all-settled: join_all of Results ---");
    let (outcomes, took, rest) = measure(SETTLED, Launch::Futures, all_settled).await;
    rows.push(Row {
        combinator: "all-settled (join_all)",
        launch: Launch::Futures,
        outcome: format!(
            "{}/{} succeeded",
            outcomes.iter().filter(|o| o.is_ok()).count(),
            outcomes.len()
        ),
        took,
        ideal: delay_of(&SETTLED, "O"),
        ideal_is: "the slowest",
        rest,
    });
    rows
}
