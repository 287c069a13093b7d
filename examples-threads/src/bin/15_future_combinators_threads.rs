//! # 15 · Future combinators, with threads: the same outcomes over `JoinHandle`s and a channel, and no loser stops
//!
//! The same scenario as `examples-async/src/bin/15_future_combinators.rs` (upstream's
//! `15_promise_combinators.js`, its 100-800 ms scaled to 50-300 ms): jobs that succeed or fail after
//! a chosen delay, each on its own thread, combined as JS's `Promise.all`, `race`, `any` and
//! `allSettled`.
//!
//! What it shows (every elapsed time printed beside its ideal):
//! - **all** and **all-settled**: `join` every `JoinHandle`, in order; ends with the slowest job.
//! - **The first result wins through a channel.** Every job sends its outcome on one channel as it
//!   ends, so the receiver sees outcomes in completion order: fail-fast all is
//!   `results.iter().collect::<Result<Vec<_>, _>>()` (it stops at the first `Err`), any is "the
//!   first `Ok`" (and when all fail, every error, as JS's `AggregateError`).
//! - **race and timeout**: `crossbeam_channel::select!` between the results and `after(d)`, a
//!   channel that delivers one message after `d`: whichever is ready first wins.
//! - **What differs from the async twin: a thread cannot be cancelled.** When a combinator has its
//!   answer, the other threads keep running to their end: their side effects all happen (counted:
//!   the same ledger as the twin, whose guard would count a job stopped before its end: it never
//!   does). That is JS's behaviour, and the twin's over spawned tasks; over plain futures the twin
//!   cancels them. The only way to stop a thread early is to ask it (a flag or a channel it checks:
//!   example 16), and a thread asleep in a blocking call cannot even be asked.
//! - Dropping a `JoinHandle` detaches the thread (as dropping tokio's detaches a task): nothing
//!   waits for it, yet it runs on. The program waits for the stragglers only to count them.
//!
//! Upstream: `src/js/asynchrony/15_promise_combinators.js` (race A 200 / B 600 / timeout 400; C 800
//! vs a 300 ms timeout; any: X rejects, Y wins, all-reject; all: task 2 rejects and "task 3 keeps
//! running"; allSettled M / N / O); Z, a slower success in `any`, is added as in the twin. Seed:
//! "Asynchrony vs Multithreading"; C++ `std::async` futures have no `when_any`/`when_all` either.
//!
//! Run: `cargo run -p examples-threads --bin 15_future_combinators_threads` (no flags but
//! `--help`, about 2 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.251s  INFO [main] --- fail-fast all: the first Err through the channel ---
//!   0.302s  INFO [task-1] task-1: succeeded after 50 ms
//!   0.352s  INFO [task-2] task-2: failed after 100 ms
//!   0.502s  INFO [task-3] task-3: succeeded after 250 ms
//!   0.502s  INFO [main] --- race: select! over the channel and after() ---
//!   0.602s  INFO [A] A: succeeded after 100 ms
//!   0.803s  INFO [B] B: succeeded after 300 ms
//!   0.804s  INFO [main] --- race against a timer: select! with after() ---
//!   1.104s  INFO [C] C: succeeded after 300 ms
//!   ...
//!
//! Summary
//!   all (join each): 3/3 ok after 251 ms (ideal 250 ms, the slowest)
//!   fail-fast all (channel): Err(task-2 failed) after 101 ms (ideal 100 ms, the first error); the rest: 1 unfinished, 0 cancelled, 1 side effects by 251 ms: ran to the end: a thread cannot be cancelled
//!   race (select!): A won after 101 ms (ideal 100 ms, the winner); the rest: 1 unfinished, 0 cancelled, 1 side effects by 302 ms: ran to the end: a thread cannot be cancelled
//!   timeout (select! + after): the timer won after 100 ms (ideal 100 ms, the timer); the rest: 1 unfinished, 0 cancelled, 1 side effects by 301 ms: ran to the end: a thread cannot be cancelled
//!   any (channel): Y won after 151 ms (ideal 150 ms, the first success); the rest: 1 unfinished, 0 cancelled, 1 side effects by 301 ms: ran to the end: a thread cannot be cancelled
//!   any (channel), all fail: every error: P failed, Q failed, R failed after 151 ms (ideal 150 ms, the last failure)
//!   all-settled (join each): 2/3 succeeded after 151 ms (ideal 150 ms, the slowest)
//!   losers: 4 unfinished when their combinator returned, 0 cancelled, 4 side effects after it (the async twin over futures: all cancelled, 0 side effects)
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args};
use crossbeam_channel::{Receiver, Sender, after, select};
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

// --- The combinators: JS on the left, threads on the right ---------------------------------------

/// `Promise.all` of jobs that all succeed: join the handles one by one. The total is the slowest
/// job, not the sum: the threads all run meanwhile, joining only collects.
fn all(handles: [JoinHandle<JobResult>; 3]) -> [JobResult; 3] {
    handles.map(|h| h.join().expect("jobs do not panic"))
}

/// `Promise.all` with a rejection: take outcomes as they arrive and stop at the first `Err`
/// (`collect` into a `Result` does exactly that). The names come in completion order, where JS keeps
/// the input order. The threads still running are not stopped: they cannot be.
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
/// channel that delivers once, `timer` from now. The losing threads run on regardless.
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
fn all_settled(handles: [JoinHandle<JobResult>; 3]) -> Vec<JobResult> {
    handles
        .into_iter()
        .map(|h| h.join().expect("jobs do not panic"))
        .collect()
}

// --- The jobs ------------------------------------------------------------------------------------

/// Counts, for one combinator's run, what its jobs did (the twin's ledger, unchanged).
#[derive(Default)]
struct Ledger {
    started: AtomicUsize,
    /// Side effects: jobs that reached their end (success or failure).
    finished: AtomicUsize,
    /// Jobs stopped before their end. A thread cannot be, so this stays 0: measured, not assumed.
    cancelled: AtomicUsize,
}

/// A job in progress; its `Drop` counts a job that never reached [`Running::finish`]. In the async
/// twin that happens when a combinator drops a loser; here only a panic could do it.
struct Running {
    ledger: Arc<Ledger>,
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
        }
    }
}

/// One job on its own thread: wait `delay`, do its side effect, send the outcome, return it.
fn run_job(job: Job, ledger: Arc<Ledger>, results: Sender<JobResult>) -> JobResult {
    ledger.started.fetch_add(1, Ordering::SeqCst);
    let mut running = Running {
        ledger,
        finished: false,
    };
    thread::sleep(job.delay); // nothing can interrupt this
    running.finish(); // the side effect
    info!(
        "{}: {} after {}",
        job.name,
        if job.fails { "failed" } else { "succeeded" },
        fmt_duration(job.delay)
    );
    let outcome = if job.fails {
        Err(Failed(job.name))
    } else {
        Ok(job.name)
    };
    // The combinator may have stopped listening (it has its answer): not an error for the job.
    let _ = results.send(outcome);
    outcome
}

// --- Measuring one combinator --------------------------------------------------------------------

/// The jobs still unfinished when the combinator returned, and what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rest {
    unfinished: usize,
    /// Stopped before their end (counted when the combinator returned).
    cancelled: usize,
    /// Side effects of the rest that happened after the combinator returned.
    side_effects: usize,
    /// When (since the start) that was counted: when the last job thread had ended.
    counted_at: Duration,
}

impl Rest {
    fn verdict(&self) -> &'static str {
        if self.side_effects == self.unfinished && self.cancelled == 0 {
            "ran to the end: a thread cannot be cancelled"
        } else {
            "SOME STOPPED EARLY"
        }
    }
}

/// One combinator's run, printed as one summary line.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    combinator: &'static str,
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
            "{}: {} after {} (ideal {}, {})",
            self.combinator,
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

/// What a combinator gets: every job's `JoinHandle` (input order) and the channel their outcomes
/// arrive on (completion order). Each combinator uses one of the two and drops the other.
struct Started<const N: usize> {
    handles: [JoinHandle<JobResult>; N],
    results: Receiver<JobResult>,
}

/// Starts one named thread per job, runs `combinator` over them and measures it; then waits until
/// every job thread has ended by itself and counts what the rest did meanwhile.
fn measure<const N: usize, T>(
    jobs: [Job; N],
    combinator: impl FnOnce(Started<N>) -> T,
) -> anyhow::Result<(T, Duration, Rest)> {
    let ledger = Arc::new(Ledger::default());
    let (results_tx, results) = crossbeam_channel::unbounded();
    // Every job thread holds a clone of `alive`'s sender and drops it when it ends, so `recv` on
    // the other side fails exactly when the last job thread is gone: how the stragglers are counted.
    let (alive_tx, alive) = crossbeam_channel::bounded::<()>(0);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(N);
    for job in jobs {
        let (ledger, results_tx, alive_tx) = (ledger.clone(), results_tx.clone(), alive_tx.clone());
        handles.push(
            thread::Builder::new()
                .name(job.name.into())
                .spawn(move || {
                    let _alive = alive_tx;
                    run_job(job, ledger, results_tx)
                })?,
        );
    }
    // Only the job threads may hold senders: the channel closes when the last of them ends.
    drop((results_tx, alive_tx));
    let handles: [JoinHandle<JobResult>; N] = handles
        .try_into()
        .map_err(|_| anyhow::anyhow!("one handle per job"))?;
    let output = combinator(Started { handles, results });
    let took = start.elapsed();
    let finished_at_return = ledger.finished.load(Ordering::SeqCst);
    let cancelled = ledger.cancelled.load(Ordering::SeqCst);
    // Nothing can stop the stragglers; wait for them to end on their own, only to count them.
    while alive.recv().is_ok() {}
    let rest = Rest {
        unfinished: ledger.started.load(Ordering::SeqCst) - finished_at_return,
        cancelled,
        side_effects: ledger.finished.load(Ordering::SeqCst) - finished_at_return,
        counted_at: start.elapsed(),
    };
    Ok((output, took, rest))
}

fn delay_of(jobs: &[Job], name: &str) -> Duration {
    jobs.iter()
        .find(|j| j.name == name)
        .map(|j| j.delay)
        .expect("a job of this scenario")
}

fn describe(winner: Winner) -> String {
    match winner {
        Winner::Job(Ok(name)) => format!("{name} won"),
        Winner::Job(Err(e)) => format!("Err({e})"),
        Winner::Timer => "the timer won".to_string(),
    }
}

fn list(errors: &[Failed]) -> String {
    errors
        .iter()
        .map(Failed::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs every combinator of the lesson.
fn run_all() -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();

    info!("--- all: join every handle ---");
    let (results, took, rest) = measure(TASKS, |s| all(s.handles))?;
    rows.push(Row {
        combinator: "all (join each)",
        outcome: format!("{}/3 ok", results.iter().filter(|r| r.is_ok()).count()),
        took,
        ideal: delay_of(&TASKS, "task-3"),
        ideal_is: "the slowest",
        rest,
    });

    info!("--- fail-fast all: the first Err through the channel ---");
    let (result, took, rest) = measure(TASKS_ONE_FAILS, |s| fail_fast_all(s.results))?;
    rows.push(Row {
        combinator: "fail-fast all (channel)",
        outcome: match result {
            Ok(names) => format!("Ok({})", names.join(", ")),
            Err(e) => format!("Err({e})"),
        },
        took,
        ideal: delay_of(&TASKS_ONE_FAILS, "task-2"),
        ideal_is: "the first error",
        rest,
    });

    info!("--- race: select! over the channel and after() ---");
    let (winner, took, rest) = measure(RACERS, |s| race(s.results, RACE_TIMER))?;
    rows.push(Row {
        combinator: "race (select!)",
        outcome: describe(winner),
        took,
        ideal: delay_of(&RACERS, "A").min(RACE_TIMER),
        ideal_is: "the winner",
        rest,
    });

    info!("--- race against a timer: select! with after() ---");
    let (winner, took, rest) = measure(SLOW, |s| with_deadline(s.results, DEADLINE))?;
    rows.push(Row {
        combinator: "timeout (select! + after)",
        outcome: describe(winner),
        took,
        ideal: delay_of(&SLOW, "C").min(DEADLINE),
        ideal_is: "the timer",
        rest,
    });

    info!("--- any: the first Ok through the channel ---");
    let (result, took, rest) = measure(ANY, |s| any(s.results))?;
    rows.push(Row {
        combinator: "any (channel)",
        outcome: match result {
            Ok(winner) => format!("{winner} won"),
            Err(errors) => format!("every error: {}", list(&errors)),
        },
        took,
        ideal: delay_of(&ANY, "Y"),
        ideal_is: "the first success",
        rest,
    });

    info!("--- any, every job fails ---");
    let (result, took, rest) = measure(ALL_FAIL, |s| any(s.results))?;
    rows.push(Row {
        combinator: "any (channel), all fail",
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
    let (outcomes, took, rest) = measure(SETTLED, |s| all_settled(s.handles))?;
    rows.push(Row {
        combinator: "all-settled (join each)",
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

/// Over all rows: (unfinished, cancelled, side effects) of the rest.
fn totals(rows: &[Row]) -> (usize, usize, usize) {
    rows.iter().fold((0, 0, 0), |(u, c, s), r| {
        (
            u + r.rest.unfinished,
            c + r.rest.cancelled,
            s + r.rest.side_effects,
        )
    })
}

/// `--help` text: what the example demonstrates. No flags: the schedule is fixed so every figure has
/// an ideal.
#[derive(Parser, Debug)]
#[command(
    about = "15 · Future combinators with threads: all, fail-fast all, race, timeout, any and \
             all-settled over JoinHandles and a channel (crossbeam select! with after); the losing \
             threads cannot be stopped and run to the end",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let rows = run_all()?;

    out!();
    out!("Summary");
    for row in &rows {
        out!("  {row}");
    }
    let (unfinished, cancelled, side_effects) = totals(&rows);
    out!(
        "  losers: {unfinished} unfinished when their combinator returned, {cancelled} cancelled, {side_effects} side effects after it (the async twin over futures: all cancelled, 0 side effects)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real threads and a real clock. Outcomes are asserted exactly; times with exact lower bounds
    //! (a sleep never ends early) and upper bounds with wide margins for a loaded machine: the jobs
    //! here are slower than the program's so that "ended before the loser" has room to hold.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn all_and_all_settled_wait_for_the_slowest_and_keep_the_input_order() {
        let (results, took, rest) = measure(TASKS, |s| all(s.handles)).expect("runs");
        assert_eq!(results, [Ok("task-1"), Ok("task-2"), Ok("task-3")]);
        assert!(took >= ms(250), "{took:?}");
        assert_eq!(rest.unfinished, 0);

        let (outcomes, took, _) = measure(SETTLED, |s| all_settled(s.handles)).expect("runs");
        assert_eq!(outcomes, [Ok("M"), Err(Failed("N")), Ok("O")]);
        assert!(took >= ms(150), "{took:?}");
    }

    #[test]
    fn fail_fast_all_returns_at_the_first_error_and_the_rest_runs_to_the_end() {
        let jobs = [ok("task-1", 50), fail("task-2", 100), ok("task-3", 1500)];
        let (result, took, rest) = measure(jobs, |s| fail_fast_all(s.results)).expect("runs");
        assert_eq!(result, Err(Failed("task-2")));
        assert!(took >= ms(100) && took < ms(1500), "{took:?}");
        // task-3 could not be stopped: its side effect happened, at its own 1500 ms.
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert!(rest.counted_at >= ms(1500), "{rest:?}");
    }

    #[test]
    fn select_with_after_gives_the_first_finisher_or_the_timer_and_stops_no_thread() {
        let (winner, took, rest) =
            measure([ok("A", 100), ok("B", 1500)], |s| race(s.results, ms(1000))).expect("runs");
        assert_eq!(winner, Winner::Job(Ok("A")));
        assert!(took >= ms(100) && took < ms(1000), "{took:?}");
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert!(rest.counted_at >= ms(1500), "{rest:?}");

        let (winner, took, rest) =
            measure([ok("C", 1500)], |s| with_deadline(s.results, ms(100))).expect("runs");
        assert_eq!(winner, Winner::Timer);
        assert!(took >= ms(100) && took < ms(1500), "{took:?}");
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );
        assert!(rest.counted_at >= ms(1500), "{rest:?}");
    }

    #[test]
    fn any_skips_failures_and_when_all_fail_reports_every_error() {
        let jobs = [fail("X", 50), ok("Y", 150), ok("Z", 1500)];
        let (result, took, rest) = measure(jobs, |s| any(s.results)).expect("runs");
        assert_eq!(result, Ok("Y"));
        assert!(took >= ms(150) && took < ms(1500), "{took:?}");
        assert_eq!(
            (rest.unfinished, rest.cancelled, rest.side_effects),
            (1, 0, 1)
        );

        let (result, took, _) = measure(ALL_FAIL, |s| any(s.results)).expect("runs");
        let mut errors = result.expect_err("every job fails");
        // Completion order; a loaded machine may swap two that end 50 ms apart.
        errors.sort_by_key(|e| e.0);
        assert_eq!(errors, [Failed("P"), Failed("Q"), Failed("R")]);
        assert!(took >= ms(150), "{took:?}");
    }

    #[test]
    fn the_program_reaches_every_ideal_and_no_loser_is_stopped() {
        let rows = run_all().expect("runs");
        assert_eq!(rows.len(), 7);
        for r in &rows {
            assert!(r.took >= r.ideal, "{r}");
            assert!(r.took < r.ideal + ms(1000), "{r}");
        }
        let (unfinished, cancelled, side_effects) = totals(&rows);
        assert_eq!(cancelled, 0);
        assert_eq!(side_effects, unfinished);
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
