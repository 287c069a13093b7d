//! Measuring one combinator (how long it took, what became of the jobs it did not wait for), and
//! the run of every combinator of the lesson, over blocking threads and threads asked to stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use tracing::info;

use crate::jobs::{Launch, Ledger, run_job};
use crate::report::{Row, describe, list};
use crate::*;

/// The jobs still unfinished when the combinator returned, and what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rest {
    pub(crate) unfinished: usize,
    /// Returned before their end (counted once every job thread had ended).
    pub(crate) stopped: usize,
    /// Side effects of the rest that happened after the combinator returned.
    pub(crate) side_effects: usize,
    /// When (since the start) that was counted: when the last job thread had ended.
    pub(crate) counted_at: Duration,
}

/// What a combinator gets: every job's `JoinHandle` (input order; `None` from a job asked to stop)
/// and the channel their outcomes arrive on (completion order). Each combinator uses one of the
/// two and drops the other.
pub(crate) struct Started<const N: usize> {
    pub(crate) handles: [JoinHandle<Option<JobResult>>; N],
    pub(crate) results: Receiver<JobResult>,
}

/// Starts one named thread per job, runs `combinator` over them and measures it; then closes the
/// stop channel, waits until every job thread has ended and counts what the rest did meanwhile.
pub(crate) fn measure<const N: usize, T>(
    jobs: [Job; N],
    launch: Launch,
    combinator: impl FnOnce(Started<N>) -> T,
) -> anyhow::Result<(T, Duration, Rest)> {
    let ledger = Arc::new(Ledger::default());
    let (results_tx, results) = crossbeam_channel::unbounded();
    let (stop_tx, stop) = crossbeam_channel::bounded::<()>(0);
    // Every job thread holds a clone of `alive`'s sender and drops it when it ends, so `recv` on
    // the other side fails exactly when the last job thread is gone: how the stragglers are counted.
    let (alive_tx, alive) = crossbeam_channel::bounded::<()>(0);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(N);
    for job in jobs {
        let (ledger, results_tx, alive_tx) = (ledger.clone(), results_tx.clone(), alive_tx.clone());
        let stop = stop.clone();
        handles.push(
            thread::Builder::new()
                .name(job.name.into())
                .spawn(move || {
                    let _alive = alive_tx;
                    run_job(job, launch, ledger, results_tx, stop)
                })?,
        );
    }
    // Only the job threads may hold senders: the channel closes when the last of them ends.
    drop((results_tx, alive_tx));
    let handles: [JoinHandle<Option<JobResult>>; N] = handles
        .try_into()
        .map_err(|_| anyhow::anyhow!("one handle per job"))?;
    let output = combinator(Started { handles, results });
    let took = start.elapsed();
    let finished_at_return = ledger.finished.load(Ordering::SeqCst);
    // The answer is in: ask the rest to stop. Only a thread waiting on `stop` can hear it.
    drop(stop_tx);
    while alive.recv().is_ok() {}
    let rest = Rest {
        unfinished: ledger.started.load(Ordering::SeqCst) - finished_at_return,
        stopped: ledger.stopped.load(Ordering::SeqCst),
        side_effects: ledger.finished.load(Ordering::SeqCst) - finished_at_return,
        counted_at: start.elapsed(),
    };
    Ok((output, took, rest))
}

pub(crate) fn delay_of(jobs: &[Job], name: &str) -> Duration {
    jobs.iter()
        .find(|j| j.name == name)
        .map(|j| j.delay)
        .expect("a job of this scenario")
}

/// Runs every combinator of the lesson; those that can answer before their slowest job, over both
/// kinds of thread.
pub(crate) fn run_all() -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let blocking = Launch::Blocking;

    info!("--- all: join every handle ---");
    let (results, took, rest) = measure(TASKS, blocking, |s| all(s.handles))?;
    rows.push(Row {
        combinator: "all (join each)",
        launch: blocking,
        outcome: format!("{}/3 ok", results.iter().filter(|r| r.is_ok()).count()),
        took,
        ideal: delay_of(&TASKS, "task-3"),
        ideal_is: "the slowest",
        rest,
    });

    for launch in [Launch::Blocking, Launch::AskedToStop] {
        info!(
            "--- fail-fast all: the first Err through the channel, {} ---",
            launch.label()
        );
        let (result, took, rest) = measure(TASKS_ONE_FAILS, launch, |s| fail_fast_all(s.results))?;
        rows.push(Row {
            combinator: "fail-fast all (channel)",
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

    for launch in [Launch::Blocking, Launch::AskedToStop] {
        info!(
            "--- race: select! over the channel and after(), {} ---",
            launch.label()
        );
        let (winner, took, rest) = measure(RACERS, launch, |s| race(s.results, RACE_TIMER))?;
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

    for launch in [Launch::Blocking, Launch::AskedToStop] {
        info!(
            "--- race against a timer: select! with after(), {} ---",
            launch.label()
        );
        let (winner, took, rest) = measure(SLOW, launch, |s| with_deadline(s.results, DEADLINE))?;
        rows.push(Row {
            combinator: "timeout (select! + after)",
            launch,
            outcome: describe(winner),
            took,
            ideal: delay_of(&SLOW, "C").min(DEADLINE),
            ideal_is: "the timer",
            rest,
        });
    }

    for launch in [Launch::Blocking, Launch::AskedToStop] {
        info!(
            "--- any: the first Ok through the channel, {} ---",
            launch.label()
        );
        let (result, took, rest) = measure(ANY, launch, |s| any(s.results))?;
        rows.push(Row {
            combinator: "any (channel)",
            launch,
            outcome: match result {
                Ok(winner) => format!("{winner} won"),
                Err(errors) => format!("every error: {}", list(&errors)),
            },
            took,
            ideal: delay_of(&ANY, "Y"),
            ideal_is: "the first success",
            rest,
        });
    }

    info!("--- any, every job fails ---");
    let (result, took, rest) = measure(ALL_FAIL, blocking, |s| any(s.results))?;
    rows.push(Row {
        combinator: "any (channel), all fail",
        launch: blocking,
        outcome: match result {
            Ok(winner) => format!("{winner} won"),
            Err(errors) => format!("every error: {}", list(&errors)),
        },
        took,
        ideal: delay_of(&ALL_FAIL, "R"),
        ideal_is: "the last failure",
        rest,
    });

    info!("--- all-settled: join every handle, keep every Result ---");
    let (outcomes, took, rest) = measure(SETTLED, blocking, |s| all_settled(s.handles))?;
    rows.push(Row {
        combinator: "all-settled (join each)",
        launch: blocking,
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
    Ok(rows)
}
