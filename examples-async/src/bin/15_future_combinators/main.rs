//! # 15 · Future combinators: all, fail-fast all, race, timeout, any, all-settled, and who gets cancelled
//!
//! JavaScript has four promise combinators (`Promise.all`, `race`, `any`, `allSettled`); Rust has the
//! same four and more, as macros and functions over futures. Each runs here on the same scenario as
//! upstream's: jobs that succeed or fail after a chosen delay (upstream's 100-800 ms scaled to
//! 50-300 ms). Every elapsed time is printed beside its ideal.
//! - **all**: `tokio::join!` (a fixed set) or `futures::future::join_all` (a list) ends with the
//!   slowest job (250 ms). **fail-fast all**: `try_join_all` (or `tokio::try_join!`) ends at the
//!   first error (100 ms), as `Promise.all` does when a promise rejects.
//! - **race**: `tokio::select!` ends with the first job to finish (100 ms), or with a timer, if the
//!   timer is faster; `tokio::time::timeout` is exactly that race: a job against a timer (100 ms).
//! - **any**: `futures::future::select_ok` ends with the first success (150 ms), skipping failures;
//!   when all fail it keeps only the *last* error, where JS's `AggregateError` lists every one, so a
//!   `FuturesUnordered` drained by hand (`any_every_error`) is shown beside it.
//! - **all-settled**: no special combinator: make every outcome a value (`Result`) and `join_all`.
//! - **What Rust does differently: the losers are dropped, and a dropped future is cancelled**, at
//!   its `.await`: over plain futures the rest has **0 side effects**, however long one waits (JS
//!   lets the losers run on). **A spawned task is not cancelled by dropping its `JoinHandle`**: over
//!   `JoinHandle`s the rest runs to its end, as in JS (`jobs.rs` counts both; example 16 cancels).
//!   `measure.rs` times each combinator and runs them all; `report.rs` prints the summary.
//!
//! Upstream: `src/js/asynchrony/15_promise_combinators.js` (race A 200 / B 600 / timeout 400; C 800
//! vs a 300 ms timeout; any: X rejects, Y wins, all-reject; all: task 2 rejects and "task 3 keeps
//! running"; allSettled M / N / O). Added here: Z, a slower success in `any`, so that `any` has a
//! loser to cancel; each combinator also over spawned tasks. Seed: "Asynchrony" > the Async Call row
//! (`asyncio.gather`, `Promise.all`). Threads twin:
//! `examples-threads/src/bin/15_future_combinators_threads/`.
//!
//! Run: `cargo run -p examples-async --bin 15_future_combinators` (no flags but `--help`, about 3 s).
//! Output of a real run: `docs/output/15_future_combinators.txt`.

mod jobs;
mod measure;
mod report;

use std::fmt;
use std::time::Duration;

use clap::Parser;
use common::{init_logging, parse_args};
use futures::future::{self, BoxFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::sleep;

use measure::run_all;

const fn ok(name: &'static str, delay_ms: u64) -> Job {
    Job {
        name,
        delay: Duration::from_millis(delay_ms),
        fails: false,
    }
}

const fn fail(name: &'static str, delay_ms: u64) -> Job {
    Job {
        name,
        delay: Duration::from_millis(delay_ms),
        fails: true,
    }
}

/// all: three jobs that succeed.
const TASKS: [Job; 3] = [ok("task-1", 50), ok("task-2", 100), ok("task-3", 250)];
/// fail-fast all: the same three, task-2 fails. task-3 is the rest: unfinished at the error.
const TASKS_ONE_FAILS: [Job; 3] = [ok("task-1", 50), fail("task-2", 100), ok("task-3", 250)];
/// race: A wins, B loses, the timer (200 ms) comes between them.
const RACERS: [Job; 2] = [ok("A", 100), ok("B", 300)];
const RACE_TIMER: Duration = Duration::from_millis(200);
/// timeout: C is slower than its deadline.
const SLOW: [Job; 1] = [ok("C", 300)];
const DEADLINE: Duration = Duration::from_millis(100);
/// any: X fails first, Y is the first success, Z the loser.
const ANY: [Job; 3] = [fail("X", 50), ok("Y", 150), ok("Z", 300)];
/// any, when every job fails.
const ALL_FAIL: [Job; 3] = [fail("P", 50), fail("Q", 100), fail("R", 150)];
/// all-settled: one of three fails.
const SETTLED: [Job; 3] = [ok("M", 50), fail("N", 100), ok("O", 150)];

/// A job of the scenario: after `delay` it succeeds with its name or fails.
#[derive(Debug, Clone, Copy)]
struct Job {
    name: &'static str,
    delay: Duration,
    fails: bool,
}

/// Why a job failed: it names the job (JS rejects with `new Error("Task 2 failed")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failed(&'static str);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.0)
    }
}

type JobResult = Result<&'static str, Failed>;
/// What a combinator gets: a job's future, boxed so that both ways of starting it (`jobs.rs`) have
/// one type. `select_ok` needs it `Unpin`: free to be moved after it was first polled (it moves the
/// futures still running back out to its caller); a compiler-made future is not, but a
/// `Pin<Box<..>>` is, since moving the box leaves the future itself where it is, on the heap.
type JobFuture = BoxFuture<'static, JobResult>;

// --- The combinators: JS on the left, Rust on the right --------------------------------------------

/// `Promise.all` of jobs that all succeed: `tokio::join!` polls the three together and ends when the
/// slowest is done. Nothing is spawned: the three run inside this one future.
async fn all([a, b, c]: [JobFuture; 3]) -> [JobResult; 3] {
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}

/// `Promise.all` with a rejection: ends at the first `Err`. The futures still running are dropped
/// when it returns (cancelled); JS's promises would run on.
async fn fail_fast_all(jobs: [JobFuture; 3]) -> Result<Vec<&'static str>, Failed> {
    future::try_join_all(jobs).await
}

/// Who won a race against a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Winner {
    Job(JobResult),
    Timer,
}

/// `Promise.race([A, B, timeout])`: the first branch to complete wins; `select!` drops the others.
/// `biased;` polls the branches in the order written, so a tie (both ready in the same poll) goes to
/// the job listed first, not to a coin toss: the outcome is the same on every run.
async fn race([a, b]: [JobFuture; 2], timer: Duration) -> Winner {
    tokio::select! {
        biased;
        r = a => Winner::Job(r),
        r = b => Winner::Job(r),
        () = sleep(timer) => Winner::Timer,
    }
}

/// The race of one job against a timer has its own function: `timeout` returns `Err(Elapsed)` if
/// the timer wins, and drops the job.
async fn with_deadline([c]: [JobFuture; 1], deadline: Duration) -> Winner {
    match tokio::time::timeout(deadline, c).await {
        Ok(r) => Winner::Job(r),
        Err(_elapsed) => Winner::Timer,
    }
}

/// `Promise.any`: the first success; failures are skipped until none is left. `select_ok` hands back
/// the futures still running with the winner: dropping them cancels them.
async fn any(jobs: [JobFuture; 3]) -> JobResult {
    let (winner, rest) = future::select_ok(jobs).await?;
    drop(rest); // written out for the reader: this is where the losers are cancelled
    Ok(winner)
}

/// `Promise.any` with JS's `AggregateError`: `select_ok` keeps only the last error, so to report
/// every failure, drain the jobs in completion order and keep the errors.
async fn any_every_error(jobs: [JobFuture; 3]) -> Result<&'static str, Vec<Failed>> {
    let mut pending: FuturesUnordered<JobFuture> = jobs.into_iter().collect();
    let mut errors = Vec::new();
    while let Some(outcome) = pending.next().await {
        match outcome {
            Ok(winner) => return Ok(winner), // `pending` is dropped: the rest is cancelled
            Err(e) => errors.push(e),
        }
    }
    Err(errors)
}

/// `Promise.allSettled`: a `Result` is already "an outcome as a value", so `join_all` is enough. It
/// never ends early, so it never cancels anything.
async fn all_settled(jobs: [JobFuture; 3]) -> Vec<JobResult> {
    future::join_all(jobs).await
}

/// `--help` text: what the example demonstrates. No flags: the schedule is fixed so every figure has
/// an exact ideal.
#[derive(Parser, Debug)]
#[command(
    about = "15 · Future combinators: join!, try_join_all, select!, timeout, select_ok and all-settled \
             on jobs that succeed or fail after a delay; the losers of futures are dropped (cancelled), \
             spawned tasks run on as in JS",
    long_about = None
)]
struct Args {}

// One thread: the jobs only wait on timers.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let rows = run_all().await;
    report::print(&rows);
    Ok(())
}

#[cfg(test)]
mod tests;
