//! # 15 · Future combinators, with threads: the same outcomes over `JoinHandle`s and a channel, and a loser stops only if asked
//!
//! The same scenario as `examples-async/src/bin/15_future_combinators/` (upstream's
//! `15_promise_combinators.js`, its 100-800 ms scaled to 50-300 ms): jobs that succeed or fail after
//! a chosen delay, each on its own thread, combined as JS's `Promise.all`, `race`, `any` and
//! `allSettled`. Every elapsed time is printed beside its ideal.
//! - **all** and **all-settled**: `join` every `JoinHandle`, in order; ends with the slowest job.
//! - **The first result wins through a channel.** Every job sends its outcome on one channel as it
//!   ends, so the receiver sees outcomes in completion order: fail-fast all is
//!   `results.iter().collect::<Result<Vec<_>, _>>()` (it stops at the first `Err`), any is "the
//!   first `Ok`" (and when all fail, every error, as JS's `AggregateError`).
//! - **race and timeout**: `crossbeam_channel::select!` between the results and `after(d)`, a
//!   channel that delivers one message after `d`: whichever is ready first wins.
//! - **What differs from the async twin: a thread cannot be cancelled.** When a combinator has its
//!   answer, a thread blocked in its work runs to its end: its side effect happens (counted), as
//!   in JS and over the twin's spawned tasks. A thread that waits where it can hear (a stop
//!   channel, closed once the answer is in) returns early, as the twin's dropped futures do: the
//!   same guard counts both (`jobs.rs`; example 16 is about asking threads to stop).
//! - Dropping a `JoinHandle` detaches the thread (as dropping tokio's detaches a task): nothing
//!   waits for it, yet it runs on. `measure.rs` waits for the stragglers only to count them.
//!
//! Upstream: `src/js/asynchrony/15_promise_combinators.js` (race A 200 / B 600 / timeout 400; C 800
//! vs a 300 ms timeout; any: X rejects, Y wins, all-reject; all: task 2 rejects and "task 3 keeps
//! running"; allSettled M / N / O); Z, a slower success in `any`, is added as in the twin. Seed:
//! "Asynchrony vs Multithreading"; C++ `std::async` futures have no `when_any`/`when_all` either.
//!
//! Run: `cargo run -p examples-threads --bin 15_future_combinators_threads` (no flags but
//! `--help`, about 3 s). Output of a real run: `docs/output/15_future_combinators_threads.txt`.

mod jobs;
mod measure;
mod report;

use std::fmt;
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Parser;
use common::{init_logging, parse_args};
use crossbeam_channel::{Receiver, after, select};

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

/// A joined job's outcome. `all` and all-settled wait for every job, so none was asked to stop.
fn joined(handle: JoinHandle<Option<JobResult>>) -> JobResult {
    handle
        .join()
        .expect("jobs do not panic")
        .expect("a job ends with an outcome unless asked to stop")
}

// --- The combinators: JS on the left, threads on the right ---------------------------------------

/// `Promise.all` of jobs that all succeed: join the handles one by one. The total is the slowest
/// job, not the sum: the threads all run meanwhile, joining only collects.
fn all(handles: [JoinHandle<Option<JobResult>>; 3]) -> [JobResult; 3] {
    handles.map(joined)
}

/// `Promise.all` with a rejection: take outcomes as they arrive and stop at the first `Err`
/// (`collect` into a `Result` does exactly that). The names come in completion order, where JS keeps
/// the input order. It cannot stop the threads still running; `measure` asks them to, after it.
fn fail_fast_all(results: Receiver<JobResult>) -> Result<Vec<&'static str>, Failed> {
    results.iter().collect()
}

/// Who won a race against a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Winner {
    Job(JobResult),
    Timer,
}

/// `Promise.race([A, B, timeout])`: the first message on either channel wins. `after(timer)` is a
/// channel that delivers once, `timer` from now. The losing threads are not stopped by it.
fn race(results: Receiver<JobResult>, timer: Duration) -> Winner {
    select! {
        recv(results) -> outcome => Winner::Job(outcome.expect("a job sends before it ends")),
        recv(after(timer)) -> _ => Winner::Timer,
    }
}

/// One job against a timer: the same `select!` (`results.recv_timeout(deadline)` says it in one call).
fn with_deadline(results: Receiver<JobResult>, deadline: Duration) -> Winner {
    select! {
        recv(results) -> outcome => Winner::Job(outcome.expect("a job sends before it ends")),
        recv(after(deadline)) -> _ => Winner::Timer,
    }
}

/// `Promise.any`: the first `Ok` through the channel; if every job fails, every error (JS's
/// `AggregateError`), in the order they arrived.
fn any(results: Receiver<JobResult>) -> Result<&'static str, Vec<Failed>> {
    let mut errors = Vec::new();
    for outcome in results {
        match outcome {
            Ok(winner) => return Ok(winner),
            Err(e) => errors.push(e),
        }
    }
    Err(errors)
}

/// `Promise.allSettled`: join every handle, in input order; each outcome is a `Result` value.
fn all_settled(handles: [JoinHandle<Option<JobResult>>; 3]) -> Vec<JobResult> {
    handles.into_iter().map(joined).collect()
}

/// `--help` text: what the example demonstrates. No flags: the schedule is fixed so every figure has
/// an ideal.
#[derive(Parser, Debug)]
#[command(
    about = "15 · Future combinators with threads: all, fail-fast all, race, timeout, any and \
             all-settled over JoinHandles and a channel (crossbeam select! with after); the losing threads \
             run to the end, or stop early only where they wait on a stop channel",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let rows = run_all()?;
    report::print(&rows);
    Ok(())
}

#[cfg(test)]
mod tests;
