//! # 15 · Future combinators: all, fail-fast all, race, timeout, any, all-settled, and who gets cancelled
//!
//! JavaScript has four promise combinators (`Promise.all`, `race`, `any`, `allSettled`); Rust has the
//! same four and more, as macros and functions over futures. Each runs here on the same scenario as
//! upstream's: jobs that succeed or fail after a chosen delay (upstream's 100-800 ms scaled to
//! 50-300 ms).
//!
//! What it shows (every elapsed time printed beside its ideal):
//! - **all**: `tokio::join!` (a fixed set) or `futures::future::join_all` (a list) ends with the
//!   slowest job (250 ms).
//! - **fail-fast all**: `futures::future::try_join_all` (or `tokio::try_join!`) ends at the first
//!   error (100 ms), as `Promise.all` does when a promise rejects.
//! - **race**: `tokio::select!` ends with the first job to finish (100 ms), or with a timer, if the
//!   timer is faster; `tokio::time::timeout` is exactly that race: a job against a timer (100 ms).
//! - **any**: `futures::future::select_ok` ends with the first success (150 ms), skipping failures;
//!   when all fail it keeps only the *last* error, where JS's `AggregateError` lists every one, so a
//!   `FuturesUnordered` drained by hand (`any_every_error`) is shown beside it.
//! - **all-settled**: there is no special combinator: make every outcome a value (`Result`) and
//!   `join_all` them; "2/3 succeeded".
//! - **What Rust does differently: the losers are dropped, and a dropped future is cancelled.** When
//!   `try_join_all` returns its error, when `select!` or `timeout` or `select_ok` has its winner, the
//!   futures still running are dropped, at their `.await`: their remaining code never runs. Counted
//!   here: each job has a side effect at its end (a row written, a mail sent), and a guard that
//!   counts a job dropped before it got there. Over plain futures the rest has **0 side effects**,
//!   however long one waits. JS lets the losers run on (upstream: "task 3 keeps running").
//! - **A spawned task is not cancelled by dropping its `JoinHandle`**: dropping the handle detaches
//!   the task. The very same combinators over `JoinHandle`s behave like JS: the rest runs to its
//!   end, and its side effects happen after the combinator has returned (measured: at the slowest
//!   job's delay). To stop a spawned task, `abort()` it (example 16 is about cancelling).
//!
//! Upstream: `src/js/asynchrony/15_promise_combinators.js` (race A 200 / B 600 / timeout 400; C 800
//! vs a 300 ms timeout; any: X rejects, Y wins, all-reject; all: task 2 rejects and "task 3 keeps
//! running"; allSettled M / N / O). Added here: Z, a slower success in `any`, so that `any` has a
//! loser to cancel; each combinator also over spawned tasks. Seed: "Asynchrony" > the Async Call row
//! (`asyncio.gather`, `Promise.all`). Threads twin:
//! `examples-threads/src/bin/15_future_combinators_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 15_future_combinators` (no flags but `--help`, about 3 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.252s  INFO [main] --- fail-fast all: try_join_all over futures ---
//!   0.303s  INFO [main] task-1: succeeded after 50 ms
//!   0.353s  INFO [main] task-2: failed after 100 ms
//!   0.353s  INFO [main] task-3: dropped after 102 ms of its 250 ms: cancelled, its side effect will never happen
//!   0.503s  INFO [main] --- fail-fast all: try_join_all over spawned ---
//!   0.554s  INFO [main] task-1: succeeded after 50 ms
//!   0.604s  INFO [main] task-2: failed after 100 ms
//!   0.755s  INFO [main] task-3: succeeded after 250 ms
//!   ...
//!
//! Summary
//!   all (join!) over futures: 3/3 ok after 251 ms (ideal 250 ms, the slowest)
//!   fail-fast all (try_join_all) over futures: Err(task-2 failed) after 102 ms (ideal 100 ms, the first error); the rest: 1 unfinished, 1 cancelled, 0 side effects by 251 ms: dropped, i.e. cancelled (JS runs them on)
//!   fail-fast all (try_join_all) over spawned: Err(task-2 failed) after 101 ms (ideal 100 ms, the first error); the rest: 1 unfinished, 0 cancelled, 1 side effects by 252 ms: ran to the end, as in JS
//!   race (select!) over futures: A won after 101 ms (ideal 100 ms, the winner); the rest: 1 unfinished, 1 cancelled, 0 side effects by 302 ms: dropped, i.e. cancelled (JS runs them on)
//!   race (select!) over spawned: A won after 104 ms (ideal 100 ms, the winner); the rest: 1 unfinished, 0 cancelled, 1 side effects by 302 ms: ran to the end, as in JS
//!   timeout over futures: the timer won after 102 ms (ideal 100 ms, the timer); the rest: 1 unfinished, 1 cancelled, 0 side effects by 306 ms: dropped, i.e. cancelled (JS runs them on)
//!   timeout over spawned: the timer won after 101 ms (ideal 100 ms, the timer); the rest: 1 unfinished, 0 cancelled, 1 side effects by 301 ms: ran to the end, as in JS
//!   any (select_ok) over futures: Y won after 151 ms (ideal 150 ms, the first success); the rest: 1 unfinished, 1 cancelled, 0 side effects by 302 ms: dropped, i.e. cancelled (JS runs them on)
//!   any (select_ok) over spawned: Y won after 152 ms (ideal 150 ms, the first success); the rest: 1 unfinished, 0 cancelled, 1 side effects by 301 ms: ran to the end, as in JS
//!   any (select_ok), all fail over futures: Err(R failed) after 152 ms (ideal 150 ms, the last failure)
//!   any (FuturesUnordered), all fail over futures: every error: P failed, Q failed, R failed after 151 ms (ideal 150 ms, the last failure)
//!   all-settled (join_all) over futures: 2/3 succeeded after 151 ms (ideal 150 ms, the slowest)
//!   over futures: 4 of 4 losers cancelled, 0 side effects after the combinator returned
//!   over spawned tasks: 0 of 4 losers cancelled, 4 side effects after the combinator returned (as in JS)
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args};
use futures::future::{self, BoxFuture, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::task::TaskTracker;
use tracing::info;

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
/// What a combinator gets: a job's future, boxed so that both ways of starting it (below) have one
/// type. A `Pin<Box<..>>` is `Unpin`, which `select_ok` needs.
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

// --- The jobs, and the two ways of starting them -------------------------------------------------

/// Counts, for one combinator's run, what its jobs did. Shared with spawned tasks, hence the atomics.
#[derive(Default)]
struct Ledger {
    started: AtomicUsize,
    /// Side effects: jobs that reached their end (success or failure).
    finished: AtomicUsize,
    /// Jobs dropped before their end: cancelled at an `.await`.
    cancelled: AtomicUsize,
}

/// A job in progress. If it is dropped before [`Running::finish`], its future was dropped at an
/// `.await`: the job was cancelled, and `Drop` counts it. (This is also how cleanup on cancel works
/// in Rust: destructors run.)
struct Running {
    job: Job,
    ledger: Arc<Ledger>,
    since: Instant,
    finished: bool,
}

impl Running {
    fn finish(&mut self) {
        self.finished = true;
        self.ledger.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.ledger.cancelled.fetch_add(1, Ordering::SeqCst);
            info!(
                "{}: dropped after {} of its {}: cancelled, its side effect will never happen",
                self.job.name,
                fmt_duration(self.since.elapsed()),
                fmt_duration(self.job.delay)
            );
        }
    }
}

/// One job: wait `delay`, then do its side effect and succeed or fail.
async fn run_job(job: Job, ledger: Arc<Ledger>) -> JobResult {
    ledger.started.fetch_add(1, Ordering::SeqCst);
    let mut running = Running {
        job,
        ledger,
        since: Instant::now(),
        finished: false,
    };
    sleep(job.delay).await; // a dropped future stops here, for good
    running.finish(); // the side effect
    info!(
        "{}: {} after {}",
        job.name,
        if job.fails { "failed" } else { "succeeded" },
        fmt_duration(job.delay)
    );
    if job.fails {
        Err(Failed(job.name))
    } else {
        Ok(job.name)
    }
}

/// How the jobs handed to a combinator are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launch {
    /// The job's future itself: it runs only while the combinator polls it, and dies with it.
    Futures,
    /// `tokio::spawn`ed (through a `TaskTracker`, so the program can wait for stragglers) and the
    /// combinator gets a future of its `JoinHandle`: dropping that detaches the task, not cancels it.
    Spawned,
}

impl Launch {
    fn start(self, job: Job, ledger: &Arc<Ledger>, tracker: &TaskTracker) -> JobFuture {
        let ledger = ledger.clone();
        match self {
            Launch::Futures => run_job(job, ledger).boxed(),
            Launch::Spawned => {
                // Spawned here, at once: like a JS promise it runs whether or not anyone awaits it.
                let handle = tracker.spawn(run_job(job, ledger));
                async move { handle.await.expect("jobs neither panic nor get aborted") }.boxed()
            }
        }
    }

    fn label(self) -> &'static str {
        match self {
            Launch::Futures => "futures",
            Launch::Spawned => "spawned",
        }
    }
}

// --- Measuring one combinator --------------------------------------------------------------------

/// The jobs still unfinished when the combinator returned, and what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rest {
    unfinished: usize,
    /// Dropped before their end (counted when the combinator returned).
    cancelled: usize,
    /// Side effects of the rest that happened after the combinator returned.
    side_effects: usize,
    /// When (since the start) that was counted: once every job's delay had passed.
    counted_at: Duration,
}

impl Rest {
    fn verdict(&self) -> &'static str {
        if self.side_effects == 0 && self.cancelled == self.unfinished {
            "dropped, i.e. cancelled (JS runs them on)"
        } else if self.side_effects == self.unfinished && self.cancelled == 0 {
            "ran to the end, as in JS"
        } else {
            "MIXED: some cancelled, some ran on"
        }
    }
}

/// One combinator's run, printed as one summary line.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    combinator: &'static str,
    launch: Launch,
    outcome: String,
    took: Duration,
    ideal: Duration,
    /// What the ideal is: "the slowest", "the first error", ...
    ideal_is: &'static str,
    rest: Rest,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} over {}: {} after {} (ideal {}, {})",
            self.combinator,
            self.launch.label(),
            self.outcome,
            fmt_duration(self.took),
            fmt_duration(self.ideal),
            self.ideal_is
        )?;
        if self.rest.unfinished > 0 {
            write!(
                f,
                "; the rest: {} unfinished, {} cancelled, {} side effects by {}: {}",
                self.rest.unfinished,
                self.rest.cancelled,
                self.rest.side_effects,
                fmt_duration(self.rest.counted_at),
                self.rest.verdict()
            )?;
        }
        Ok(())
    }
}

/// Starts `jobs` as `launch` says, runs `combinator` over them and measures it; then waits until
/// every job would have finished and counts what the rest did meanwhile.
async fn measure<const N: usize, T, F>(
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

fn delay_of(jobs: &[Job], name: &str) -> Duration {
    jobs.iter()
        .find(|j| j.name == name)
        .map(|j| j.delay)
        .expect("a job of this scenario")
}

/// Runs every combinator of the lesson, the cancelling ones over futures and over spawned tasks.
async fn run_all() -> Vec<Row> {
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

fn describe(winner: Winner) -> String {
    match winner {
        Winner::Job(Ok(name)) => format!("{name} won"),
        Winner::Job(Err(e)) => format!("Err({e})"),
        Winner::Timer => "the timer won".to_string(),
    }
}

/// Over all rows started one way: (unfinished, cancelled, side effects) of the rest.
fn totals(rows: &[Row], launch: Launch) -> (usize, usize, usize) {
    rows.iter()
        .filter(|r| r.launch == launch)
        .fold((0, 0, 0), |(u, c, s), r| {
            (
                u + r.rest.unfinished,
                c + r.rest.cancelled,
                s + r.rest.side_effects,
            )
        })
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

    out!();
    out!("Summary");
    for row in &rows {
        out!("  {row}");
    }
    let (unfinished, cancelled, side_effects) = totals(&rows, Launch::Futures);
    out!(
        "  over futures: {cancelled} of {unfinished} losers cancelled, {side_effects} side effects after the combinator returned"
    );
    let (unfinished, cancelled, side_effects) = totals(&rows, Launch::Spawned);
    out!(
        "  over spawned tasks: {cancelled} of {unfinished} losers cancelled, {side_effects} side effects after the combinator returned (as in JS)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On the paused clock every combinator ends at exactly its ideal, and the rest's side effects
    //! are counted at exactly the slowest job's delay.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn row<'a>(rows: &'a [Row], combinator: &str, launch: Launch) -> &'a Row {
        rows.iter()
            .find(|r| r.combinator == combinator && r.launch == launch)
            .unwrap_or_else(|| panic!("no row {combinator} over {launch:?}"))
    }

    #[tokio::test(start_paused = true)]
    async fn every_combinator_ends_at_exactly_its_ideal() {
        let rows = run_all().await;
        assert_eq!(rows.len(), 12);
        for r in &rows {
            assert_eq!(r.took, r.ideal, "{r}");
        }
        let took: Vec<u64> = rows.iter().map(|r| r.took.as_millis() as u64).collect();
        assert_eq!(
            took,
            [250, 100, 100, 100, 100, 100, 100, 150, 150, 150, 150, 150]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn all_waits_for_the_slowest() {
        let (results, took, rest) = measure(TASKS, Launch::Futures, all).await;
        assert_eq!(results, [Ok("task-1"), Ok("task-2"), Ok("task-3")]);
        assert_eq!(took, ms(250));
        assert_eq!(rest.unfinished, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn try_join_all_over_futures_ends_at_the_first_error_and_cancels_the_rest() {
        let (result, took, rest) = measure(TASKS_ONE_FAILS, Launch::Futures, fail_fast_all).await;
        assert_eq!(result, Err(Failed("task-2")));
        assert_eq!(took, ms(100));
        assert_eq!(
            rest,
            Rest {
                unfinished: 1,
                cancelled: 1,
                side_effects: 0,
                counted_at: ms(250),
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn try_join_all_over_spawned_tasks_ends_as_early_but_the_rest_runs_on() {
        let (result, took, rest) = measure(TASKS_ONE_FAILS, Launch::Spawned, fail_fast_all).await;
        assert_eq!(result, Err(Failed("task-2")));
        assert_eq!(took, ms(100));
        // task-3's side effect happened, at its own 250 ms: nobody waited for it, nobody stopped it.
        assert_eq!(
            rest,
            Rest {
                unfinished: 1,
                cancelled: 0,
                side_effects: 1,
                counted_at: ms(250),
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn select_gives_the_first_finisher_and_drops_the_others() {
        let (winner, took, rest) = measure(RACERS, Launch::Futures, |j| race(j, RACE_TIMER)).await;
        assert_eq!((winner, took), (Winner::Job(Ok("A")), ms(100)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 1, 0)
        );
        assert_eq!(rest.counted_at, ms(300));

        let (winner, took, rest) = measure(RACERS, Launch::Spawned, |j| race(j, RACE_TIMER)).await;
        assert_eq!((winner, took), (Winner::Job(Ok("A")), ms(100)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert_eq!(rest.counted_at, ms(300));

        // Both racers slower than the timer: the timer wins at 200 ms and both are cancelled.
        let slow = [ok("A", 250), ok("B", 300)];
        let (winner, took, rest) = measure(slow, Launch::Futures, |j| race(j, RACE_TIMER)).await;
        assert_eq!((winner, took), (Winner::Timer, ms(200)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (2, 2, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_is_a_race_against_a_timer_that_drops_a_future_but_not_a_task() {
        let (winner, took, rest) =
            measure(SLOW, Launch::Futures, |j| with_deadline(j, DEADLINE)).await;
        assert_eq!((winner, took), (Winner::Timer, ms(100)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 1, 0)
        );
        assert_eq!(rest.counted_at, ms(300));

        let (winner, took, rest) =
            measure(SLOW, Launch::Spawned, |j| with_deadline(j, DEADLINE)).await;
        assert_eq!((winner, took), (Winner::Timer, ms(100)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert_eq!(rest.counted_at, ms(300), "C ended at its own 300 ms");

        // A job faster than its deadline is not touched.
        let quick = [ok("C", 50)];
        let (winner, took, _) =
            measure(quick, Launch::Futures, |j| with_deadline(j, DEADLINE)).await;
        assert_eq!((winner, took), (Winner::Job(Ok("C")), ms(50)));
    }

    #[tokio::test(start_paused = true)]
    async fn select_ok_skips_failures_takes_the_first_success_and_drops_the_rest() {
        let (result, took, rest) = measure(ANY, Launch::Futures, any).await;
        assert_eq!((result, took), (Ok("Y"), ms(150)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 1, 0)
        );

        let (result, took, rest) = measure(ANY, Launch::Spawned, any).await;
        assert_eq!((result, took), (Ok("Y"), ms(150)));
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert_eq!(rest.counted_at, ms(300));
    }

    #[tokio::test(start_paused = true)]
    async fn when_all_fail_select_ok_keeps_the_last_error_and_the_drained_version_every_one() {
        let (result, took, _) = measure(ALL_FAIL, Launch::Futures, any).await;
        assert_eq!((result, took), (Err(Failed("R")), ms(150)));
        let (result, took, _) = measure(ALL_FAIL, Launch::Futures, any_every_error).await;
        assert_eq!(took, ms(150));
        assert_eq!(result, Err(vec![Failed("P"), Failed("Q"), Failed("R")]));
        // With a success in the list it ends there, and cancels the rest.
        let (result, took, rest) = measure(ANY, Launch::Futures, any_every_error).await;
        assert_eq!((result, took), (Ok("Y"), ms(150)));
        assert_eq!((rest.cancelled, rest.side_effects), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn all_settled_keeps_every_outcome_in_order_and_waits_for_the_slowest() {
        let (outcomes, took, rest) = measure(SETTLED, Launch::Futures, all_settled).await;
        assert_eq!(outcomes, [Ok("M"), Err(Failed("N")), Ok("O")]);
        assert_eq!(took, ms(150));
        assert_eq!(rest.unfinished, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_summary_totals_match_the_rows() {
        let rows = run_all().await;
        // Over futures: try_join's task-3, select!'s B, timeout's C, select_ok's Z.
        assert_eq!(totals(&rows, Launch::Futures), (4, 4, 0));
        assert_eq!(totals(&rows, Launch::Spawned), (4, 0, 4));
        let r = row(&rows, "fail-fast all (try_join_all)", Launch::Spawned);
        assert!(r.to_string().contains("ran to the end, as in JS"), "{r}");
        let r = row(&rows, "fail-fast all (try_join_all)", Launch::Futures);
        assert!(r.to_string().contains("dropped, i.e. cancelled"), "{r}");
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["15", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("15 · Future combinators"),
            "{help}"
        );
        let bad = Args::try_parse_from(["15", "--jobs", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
