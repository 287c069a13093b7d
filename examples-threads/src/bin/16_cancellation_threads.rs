//! # 16 · Cancellation, with threads: only the thread itself can stop, when it looks
//!
//! The same scenario as `examples-async/src/bin/16_cancellation.rs`, with OS threads. There, a future
//! is cancelled from outside by dropping it, at any `.await`. **A thread cannot be cancelled from
//! outside** (std has no `Thread::cancel`, and killing one would leave its locks held and its
//! memory half-written): it can only be *asked*, and it stops when it next looks. So every
//! cancellation here is cooperative, and its cost is the time to the next look, measured.
//!
//! What it shows, each step measured beside its ideal:
//! 1. **A sleep that can be aborted**: the "sleep" is `recv_timeout` on a channel; another thread
//!    sends on it after 200 ms and the sleeper wakes at once. A channel that already holds the
//!    cancel returns at once (JS's `throwIfAborted`). A `thread::sleep` could not be woken.
//! 2. **A timeout on the result is not a cancellation** (C++'s `future_timed_wait.cpp` demo 4, and
//!    `AbortSignal.timeout`): `recv_timeout(300 ms)` on the result of 1000 ms of work gives up at
//!    300 ms; the worker does not know and finishes its 1000 ms anyway. The async twin can drop the
//!    work with the wait; here there is no such thing. (Upstream's C++ says the result must be
//!    collected "to avoid UB in the future destructor": there is no UB, a `std::async` future's
//!    destructor just blocks until the work ends. A dropped Rust `JoinHandle` detaches instead.)
//! 3. **A blocking call cannot be interrupted**: a worker's GET to the local test server
//!    (`/delay/1000`) is asked to stop after 150 ms; it sees the request only when the call returns
//!    at 1000 ms: **850 ms of latency to stop**, against 0 for the async twin, which drops the
//!    request. The only cooperative fix is a deadline given to the call up front (ureq's
//!    `timeout_global`), which is a timeout, not a cancel.
//! 4. **A group of threads**: three workers wait between chunks with `recv_timeout` on a
//!    crossbeam channel; dropping the sender disconnects every receiver at once (the thread version
//!    of a `CancellationToken` with child tokens), so they stop within a few ms. Three more do
//!    100 ms blocking steps and check an `AtomicBool` between them: they stop up to one step late
//!    (measured). Every worker holds a guard whose `Drop` counts: all dropped, none leaked.
//!
//! **The difference**, in one line: async cancels *at any `.await`, from outside, by dropping*;
//! threads stop *at the points the thread's own code checks*, and a blocking call is not one. The
//! flip side: a thread's `read_line` is never abandoned half-way, so the async twin's step 7
//! (data lost when a `select!` branch is dropped) has no counterpart here, unless a timeout is put
//! on the read.
//!
//! Upstream: `src/js/asynchrony/16_abort_controller.js`, `src/cpp/asynchrony/future_timed_wait.cpp`
//! (demo 4: an atomic flag still false at the timeout, true after `get`). Seed: "Asynchrony vs
//! Multithreading".
//!
//! Run: `cargo run -p examples-threads --bin 16_cancellation_threads` (about 2.5 s; no flags but
//! `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- 1. a 2000 ms sleep, cancelled by another thread after 200 ms ---
//!   0.209s  INFO [main] sleep: Cancelled after 209 ms
//!   0.209s  INFO [main] with the cancel already sent: Cancelled after 0.00 ms
//!   0.209s  INFO [main] --- 2. recv_timeout(300 ms) on the result of 1000 ms of work ---
//!   0.513s  INFO [main] waiting: gave up after 304 ms; the work done: false
//!   1.210s  INFO [main] worker: finished anyway after 1000 ms
//!   1.210s  INFO [main] --- 3. a blocking GET /delay/1000, asked to stop after 150 ms ---
//!   1.360s  INFO [main] asking the fetcher to stop
//!   2.278s  INFO [fetcher] fetcher: the call returned Ok(200) after 1068 ms; asked to stop: true
//!   2.278s  INFO [main] --- 4. 3 waiting workers cancelled by closing a channel, 3 stepping ones by a flag ---
//!   2.529s  INFO [worker-2] worker 2: cancelled after 2 chunks
//!   2.529s  INFO [worker-0] worker 0: cancelled after 2 chunks
//!   2.529s  INFO [worker-1] worker 1: cancelled after 2 chunks
//!   2.579s  INFO [worker-3] worker 3: saw the flag after 3 steps
//!   2.579s  INFO [worker-5] worker 5: saw the flag after 3 steps
//!   2.579s  INFO [worker-4] worker 4: saw the flag after 3 steps
//!
//! Summary
//!   1. sleep 2000 ms (recv_timeout on a channel): cancelled after 209 ms (ideal 200 ms); cancel already sent: cancelled after 0.00 ms (ideal 0)
//!   2. recv_timeout 300 ms on 1000 ms of work: gave up after 304 ms (ideal 300 ms), the work done then: no; the worker finished anyway after 1000 ms (a timeout is not a cancellation)
//!   3. blocking GET /delay/1000 asked to stop after 150 ms: the call returned (status 200) after 1068 ms: latency to stop 918 ms (the async twin drops the request at the cancel)
//!   4. group cancelled at 250 ms: 3/3 waiting workers stopped at 251 ms, 0.37 ms after the channel closed (ideal 0); 3/3 stepping workers at 301 ms, 50 ms after the flag (at most one step, 100 ms); guards dropped 6 of 6 (none leaked)
//!   a thread stops where it looks: 0.37 ms after the cancel when waiting on a channel, 50 ms at the end of a blocking step, 918 ms after a blocking call (async: at the next .await, by dropping the future)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, out, parse_args};
use tracing::info;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// 1. A sleep that can be aborted: recv_timeout on a channel
// ---------------------------------------------------------------------------------------------

/// How an abortable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Cancelled,
}

/// JS's `abortableSleep(ms, signal)` for a thread: wait on the cancel channel for at most
/// `duration`. A message, or the sender gone, is the cancel; a timeout means the sleep finished.
fn abortable_sleep(duration: Duration, cancel: &mpsc::Receiver<()>) -> Ended {
    match cancel.recv_timeout(duration) {
        Err(RecvTimeoutError::Timeout) => Ended::Finished,
        Ok(()) | Err(RecvTimeoutError::Disconnected) => Ended::Cancelled,
    }
}

#[derive(Debug)]
struct SleepFigures {
    ended: Ended,
    after: Duration,
    pre_cancelled: Ended,
    pre_cancelled_after: Duration,
}

const LONG_SLEEP: Duration = ms(2000);
const USER_ABORT: Duration = ms(200);

fn demo_abort_a_sleep() -> anyhow::Result<SleepFigures> {
    info!("--- 1. a 2000 ms sleep, cancelled by another thread after 200 ms ---");
    let (cancel, cancelled) = mpsc::channel();
    let start = Instant::now();
    let ended = thread::scope(|s| -> anyhow::Result<Ended> {
        thread::Builder::new()
            .name("user".into())
            .spawn_scoped(s, move || {
                thread::sleep(USER_ABORT);
                // `let _`: if the sleeper had already given up, there is no one left to tell.
                let _ = cancel.send(());
            })?;
        Ok(abortable_sleep(LONG_SLEEP, &cancelled))
    })?;
    let after = start.elapsed();
    info!("sleep: {ended:?} after {}", fmt_duration(after));

    // The sender is gone (the user thread ended): every later wait on this channel ends at once.
    let start = Instant::now();
    let pre_cancelled = abortable_sleep(LONG_SLEEP, &cancelled);
    let pre_cancelled_after = start.elapsed();
    info!(
        "with the cancel already sent: {pre_cancelled:?} after {}",
        fmt_duration(pre_cancelled_after)
    );
    Ok(SleepFigures {
        ended,
        after,
        pre_cancelled,
        pre_cancelled_after,
    })
}

// ---------------------------------------------------------------------------------------------
// 2. A timeout on the result is not a cancellation
// ---------------------------------------------------------------------------------------------

const SLOW_WORK: Duration = ms(1000);
const WAIT_LIMIT: Duration = ms(300);

#[derive(Debug)]
struct TimeoutFigures {
    gave_up: bool,
    gave_up_after: Duration,
    done_at_give_up: bool,
    /// When the worker finished anyway, from the start.
    worker_done_after: Duration,
}

fn demo_timeout_is_not_cancellation() -> anyhow::Result<TimeoutFigures> {
    info!("--- 2. recv_timeout(300 ms) on the result of 1000 ms of work ---");
    let done = Arc::new(AtomicBool::new(false));
    let (result, received) = mpsc::channel();
    let start = Instant::now();
    let worker = {
        let done = done.clone();
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                thread::sleep(SLOW_WORK); // the work
                done.store(true, Ordering::SeqCst);
                let _ = result.send(42); // the waiter may have gone: nothing to do then
            })?
    };
    let waited = received.recv_timeout(WAIT_LIMIT);
    let gave_up_after = start.elapsed();
    let gave_up = waited.is_err();
    let done_at_give_up = done.load(Ordering::SeqCst);
    info!(
        "waiting: {} after {}; the work done: {done_at_give_up}",
        if gave_up { "gave up" } else { "got the result" },
        fmt_duration(gave_up_after)
    );
    // Nothing can stop the worker now: joining it waits for the rest of its 1000 ms.
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the worker panicked"))?;
    let worker_done_after = start.elapsed();
    info!(
        "worker: finished anyway after {}",
        fmt_duration(worker_done_after)
    );
    Ok(TimeoutFigures {
        gave_up,
        gave_up_after,
        done_at_give_up,
        worker_done_after,
    })
}

// ---------------------------------------------------------------------------------------------
// 3. A blocking call cannot be interrupted
// ---------------------------------------------------------------------------------------------

const REQUEST_MS: u64 = 1000;
const REQUEST_ABORT: Duration = ms(150);

#[derive(Debug)]
struct RequestFigures {
    /// What the call returned: a status, or an error described.
    answer: Result<u16, String>,
    asked_to_stop_after: Duration,
    stopped_after: Duration,
}

impl RequestFigures {
    fn latency_to_stop(&self) -> Duration {
        self.stopped_after.saturating_sub(self.asked_to_stop_after)
    }
}

fn demo_blocking_call(server: &TestServer) -> anyhow::Result<RequestFigures> {
    info!("--- 3. a blocking GET /delay/1000, asked to stop after 150 ms ---");
    // No proxy: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let client: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into();
    let url = server.url(&format!("/delay/{REQUEST_MS}"));
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let (answer, stopped_after) = thread::scope(|s| -> anyhow::Result<_> {
        let fetcher = thread::Builder::new()
            .name("fetcher".into())
            .spawn_scoped(s, || {
                // The thread's only chance to look at `stop` is before and after the call: inside
                // `call()` it is blocked in the OS, reading a socket.
                let answer = client
                    .get(&url)
                    .call()
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string());
                let saw_stop = stop.load(Ordering::SeqCst);
                let stopped_after = start.elapsed();
                info!(
                    "fetcher: the call returned {answer:?} after {}; asked to stop: {saw_stop}",
                    fmt_duration(stopped_after)
                );
                (answer, stopped_after)
            })?;
        thread::sleep(REQUEST_ABORT);
        stop.store(true, Ordering::SeqCst);
        info!("asking the fetcher to stop");
        fetcher
            .join()
            .map_err(|_| anyhow::anyhow!("the fetcher panicked"))
    })?;
    Ok(RequestFigures {
        answer,
        asked_to_stop_after: REQUEST_ABORT,
        stopped_after,
    })
}

// ---------------------------------------------------------------------------------------------
// 4. A group of threads: a closed channel, and a flag
// ---------------------------------------------------------------------------------------------

/// How many guards were made and how many dropped: equal once every thread has stopped.
#[derive(Debug, Default)]
struct GuardCounts {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

/// Stands for what a worker must release however it stops. On a thread it is dropped when the
/// worker's function returns (or unwinds): the thread has to get there first.
struct Guard<'a>(&'a GuardCounts);

impl Guard<'_> {
    fn new(counts: &GuardCounts) -> Guard<'_> {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Guard(counts)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

const CHUNK: Duration = ms(100);
const WORKERS: usize = 3;
const GROUP_STOP: Duration = ms(250);

/// Waits chunk after chunk on the group's channel, which never carries a message: the wait ends
/// with a timeout (a chunk done) or with a disconnection (the group was cancelled).
fn waiting_worker(
    id: usize,
    chunk: Duration,
    cancel: crossbeam_channel::Receiver<()>,
    counts: &GuardCounts,
) -> (usize, Instant) {
    let _guard = Guard::new(counts);
    let mut chunks = 0;
    loop {
        match cancel.recv_timeout(chunk) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => chunks += 1,
            _ => {
                info!("worker {id}: cancelled after {chunks} chunks");
                return (chunks, Instant::now());
            }
        }
    }
}

/// Does 100 ms blocking steps (`thread::sleep` standing in for a computation or a blocking call)
/// and checks the flag between them: it can only stop at a step's end.
fn stepping_worker(
    id: usize,
    step: Duration,
    stop: &AtomicBool,
    counts: &GuardCounts,
) -> (usize, Instant) {
    let _guard = Guard::new(counts);
    let mut steps = 0;
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(step);
        steps += 1;
    }
    info!("worker {id}: saw the flag after {steps} steps");
    (steps, Instant::now())
}

#[derive(Debug)]
struct GroupFigures {
    by_channel_stopped: usize,
    /// From the cancel to the last worker stopped.
    by_channel_latency: Duration,
    by_flag_stopped: usize,
    by_flag_latency: Duration,
    /// From the start to the last worker of each group stopped.
    by_channel_stopped_at: Duration,
    by_flag_stopped_at: Duration,
    guards_made: usize,
    guards_dropped: usize,
}

/// Starts both groups, doing `chunk`-long waits or steps, and cancels both after `stop_after`.
fn demo_group(chunk: Duration, stop_after: Duration) -> anyhow::Result<GroupFigures> {
    info!("--- 4. 3 waiting workers cancelled by closing a channel, 3 stepping ones by a flag ---");
    let start = Instant::now();
    let counts = GuardCounts::default();
    let stop = AtomicBool::new(false);
    let (cancel, cancelled) = crossbeam_channel::bounded::<()>(0);
    let (stopped, cancel_at) = thread::scope(|s| -> anyhow::Result<_> {
        let mut waiting = Vec::new();
        let mut stepping = Vec::new();
        for id in 0..WORKERS {
            let (cancelled, counts) = (cancelled.clone(), &counts);
            waiting.push(
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn_scoped(s, move || waiting_worker(id, chunk, cancelled, counts))?,
            );
        }
        for id in WORKERS..2 * WORKERS {
            let (stop, counts) = (&stop, &counts);
            stepping.push(
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn_scoped(s, move || stepping_worker(id, chunk, stop, counts))?,
            );
        }
        drop(cancelled); // the workers hold their clones
        thread::sleep(stop_after);
        let cancel_at = Instant::now();
        // Both signals at the same instant: one for each group.
        drop(cancel);
        stop.store(true, Ordering::SeqCst);
        let join = |handles: Vec<thread::ScopedJoinHandle<'_, (usize, Instant)>>| {
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("a worker panicked")))
                .collect::<anyhow::Result<Vec<_>>>()
        };
        Ok(((join(waiting)?, join(stepping)?), cancel_at))
    })?;
    let last_since = |group: &[(usize, Instant)], since: Instant| {
        group
            .iter()
            .map(|(_, at)| at.saturating_duration_since(since))
            .max()
            .unwrap_or_default()
    };
    let (by_channel, by_flag) = stopped;
    Ok(GroupFigures {
        by_channel_stopped: by_channel.len(),
        by_channel_latency: last_since(&by_channel, cancel_at),
        by_flag_stopped: by_flag.len(),
        by_flag_latency: last_since(&by_flag, cancel_at),
        by_channel_stopped_at: last_since(&by_channel, start),
        by_flag_stopped_at: last_since(&by_flag, start),
        guards_made: counts.made.load(Ordering::SeqCst),
        guards_dropped: counts.dropped.load(Ordering::SeqCst),
    })
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "16 · Cancellation with threads: cooperative only (a channel's recv_timeout, a flag, a \
             closed channel for a group); a timeout does not stop the worker; a blocking call \
             cannot be interrupted (latency to stop measured); Drop cleanup counted",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let sleep_run = demo_abort_a_sleep()?;
    let timeout_run = demo_timeout_is_not_cancellation()?;
    let server = TestServer::start()?;
    let request_run = demo_blocking_call(&server)?;
    server.shutdown();
    let group_run = demo_group(CHUNK, GROUP_STOP)?;

    let ended = |e: Ended| match e {
        Ended::Finished => "finished",
        Ended::Cancelled => "cancelled",
    };
    out!();
    out!("Summary");
    out!(
        "  1. sleep {} (recv_timeout on a channel): {} after {} (ideal {}); cancel already sent: {} after {} (ideal 0)",
        fmt_duration(LONG_SLEEP),
        ended(sleep_run.ended),
        fmt_duration(sleep_run.after),
        fmt_duration(USER_ABORT),
        ended(sleep_run.pre_cancelled),
        fmt_duration(sleep_run.pre_cancelled_after)
    );
    out!(
        "  2. recv_timeout 300 ms on 1000 ms of work: {} after {} (ideal 300 ms), the work done then: {}; the worker finished anyway after {} ({})",
        if timeout_run.gave_up {
            "gave up"
        } else {
            "got the result"
        },
        fmt_duration(timeout_run.gave_up_after),
        if timeout_run.done_at_give_up {
            "yes"
        } else {
            "no"
        },
        fmt_duration(timeout_run.worker_done_after),
        if timeout_run.gave_up && timeout_run.worker_done_after >= SLOW_WORK {
            "a timeout is not a cancellation"
        } else {
            "it stopped at the timeout"
        }
    );
    let answer = match &request_run.answer {
        Ok(status) => format!("status {status}"),
        Err(e) => format!("FAILED ({e})"),
    };
    out!(
        "  3. blocking GET /delay/{REQUEST_MS} asked to stop after {}: the call returned ({answer}) after {}: latency to stop {} (the async twin drops the request at the cancel)",
        fmt_duration(request_run.asked_to_stop_after),
        fmt_duration(request_run.stopped_after),
        fmt_duration(request_run.latency_to_stop())
    );
    out!(
        "  4. group cancelled at {}: {}/{WORKERS} waiting workers stopped at {}, {} after the channel closed (ideal 0); {}/{WORKERS} stepping workers at {}, {} after the flag (at most one step, {}); guards dropped {} of {} ({})",
        fmt_duration(GROUP_STOP),
        group_run.by_channel_stopped,
        fmt_duration(group_run.by_channel_stopped_at),
        fmt_duration(group_run.by_channel_latency),
        group_run.by_flag_stopped,
        fmt_duration(group_run.by_flag_stopped_at),
        fmt_duration(group_run.by_flag_latency),
        fmt_duration(CHUNK),
        group_run.guards_dropped,
        group_run.guards_made,
        if group_run.guards_dropped == group_run.guards_made {
            "none leaked"
        } else {
            "LEAKED"
        }
    );
    // The difference with the async twin, from the figures above: how late a thread stops depends
    // only on where its own code next looks.
    out!(
        "  a thread stops where it looks: {} after the cancel when waiting on a channel, {} at the end of a blocking step, {} after a blocking call (async: at the next .await, by dropping the future)",
        fmt_duration(group_run.by_channel_latency),
        fmt_duration(group_run.by_flag_latency),
        fmt_duration(request_run.latency_to_stop())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real threads, real clock: lower bounds are exact (nothing can stop before it is asked, or a
    //! blocking call before it returns), upper bounds generous enough for a loaded 2-core machine.
    use super::*;

    /// Runs `f` on its own thread and fails if it has not finished within 30 s: a worker that never
    /// sees its cancel would otherwise hang the test run.
    fn within_30_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("finished in time (a hang here means a cancel was not seen)")
    }

    #[test]
    fn a_channel_wait_stops_when_the_cancel_arrives_not_at_its_end() {
        let r = within_30_s(demo_abort_a_sleep).expect("threads start");
        assert_eq!(r.ended, Ended::Cancelled);
        assert!(r.after >= USER_ABORT, "{r:?}");
        assert!(r.after < ms(1500), "slept on: {r:?}");
        assert_eq!(r.pre_cancelled, Ended::Cancelled);
        assert!(r.pre_cancelled_after < ms(500), "{r:?}");
        // And an uncancelled wait runs to its end.
        let (_keep, rx) = mpsc::channel();
        assert_eq!(abortable_sleep(ms(30), &rx), Ended::Finished);
    }

    #[test]
    fn a_timeout_stops_the_wait_and_the_worker_runs_on() {
        let r = demo_timeout_is_not_cancellation().expect("threads start");
        assert!(r.gave_up, "{r:?}");
        assert!(r.gave_up_after >= WAIT_LIMIT, "{r:?}");
        assert!(!r.done_at_give_up, "{r:?}");
        assert!(r.worker_done_after >= SLOW_WORK, "{r:?}");
    }

    #[test]
    fn a_blocking_call_stops_only_when_it_returns() {
        let server = TestServer::start().expect("start the test server");
        let r = demo_blocking_call(&server).expect("threads start");
        assert_eq!(r.answer, Ok(200), "{r:?}");
        // The server answers after 1000 ms: the thread cannot have stopped before.
        assert!(r.stopped_after >= ms(REQUEST_MS), "{r:?}");
        assert!(
            r.latency_to_stop() >= ms(REQUEST_MS) - REQUEST_ABORT,
            "{r:?}"
        );
        assert!(r.stopped_after < ms(5000), "{r:?}");
    }

    #[test]
    fn a_group_stops_at_its_next_look_and_every_guard_is_dropped() {
        let r = within_30_s(|| demo_group(CHUNK, GROUP_STOP)).expect("threads start");
        assert_eq!(
            (r.by_channel_stopped, r.by_flag_stopped),
            (WORKERS, WORKERS)
        );
        assert!(r.by_channel_stopped_at >= GROUP_STOP, "{r:?}");
        assert!(r.by_flag_stopped_at >= GROUP_STOP, "{r:?}");
        // Up to a step, plus slack for a busy machine.
        assert!(r.by_flag_latency < CHUNK + ms(400), "{r:?}");
        assert_eq!(r.guards_made, 2 * WORKERS);
        assert_eq!(r.guards_dropped, r.guards_made, "a guard leaked: {r:?}");
    }

    /// With 1 s chunks and the cancel at 100 ms the two ways part clearly, on any machine: a
    /// worker waiting on the channel wakes before its chunk is over; a worker inside a blocking
    /// step cannot see the flag before the step's end.
    #[test]
    fn a_waiting_worker_wakes_at_once_a_stepping_one_only_after_its_step() {
        let step = ms(1000);
        let r = within_30_s(move || demo_group(step, ms(100))).expect("threads start");
        assert!(r.by_channel_stopped_at < step, "{r:?}");
        assert!(r.by_flag_stopped_at >= step, "{r:?}");
        assert_eq!(r.guards_dropped, 2 * WORKERS, "{r:?}");
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["16", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("16 · Cancellation"), "{help}");
        let bad = Args::try_parse_from(["16", "--bogus"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
