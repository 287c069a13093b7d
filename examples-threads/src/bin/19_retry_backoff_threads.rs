//! # 19 · Retry with backoff, with threads: blocking calls, `thread::sleep`, a breaker behind a `Mutex`
//!
//! The same scenario as `examples-async/src/bin/19_retry_backoff/main.rs`: a flaky service (the local test
//! server's `/flaky/{id}`) called through a retry loop with exponential backoff and full jitter (the
//! same seed draws the same waits as the twin), a `404` returned at once with its cause chain, a
//! deadline over all attempts, and a circuit breaker (closed, open, half-open with exactly one probe)
//! in front of the service; then the same retry with `backon`'s blocking retry.
//!
//! What differs from the async twin, and why:
//! - **The deadline is a setting of each call, not a race.** A blocking call cannot be cancelled from
//!   outside (no one can stop this thread), so each attempt is given the time left before the
//!   deadline as its own timeout (ureq's `timeout_global`), where the twin wraps it in `timeout_at`.
//! - **The wait is `thread::sleep`**: the thread does nothing else meanwhile. Fine for one caller;
//!   a thousand callers retrying at once are a thousand sleeping threads, where the twin's are a
//!   thousand timers on one thread.
//! - **The breaker is shared between threads** (`Arc`-free here: scoped threads borrow it) behind a
//!   `std::sync::Mutex`, exactly as the twin's, which only ever holds it between `.await`s. The
//!   half-open burst is five real threads released together by a `Barrier`: exactly one becomes the
//!   probe. How many of the other four fail fast depends on when each gets the lock (the probe may
//!   already have closed the breaker), so the summary counts both.
//! - **backon's blocking retry** (`BlockingRetryable`, `.sleep(thread::sleep)`) has no `adjust`, so
//!   the wait that would cross the deadline cannot be dropped: its deadline is `with_total_delay`
//!   (the sum of the waits) plus each request's timeout of the time left.
//!
//! Production crates: `backon` (both kinds), `tower`'s `retry` and `tower::limit` (async only).
//! Upstream: `src/js/asynchrony/19_retry_backoff.js`.
//!
//! Run: `cargo run -p examples-threads --bin 19_retry_backoff_threads` (about 1 s). Flags: `--seed N`
//! (default 7), `--fail-first N` (default 3).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.001s  INFO [main] 1. retry: the service fails its first 3 calls
//!   0.012s  WARN [main] GET /flaky/retry: attempt 1 failed (HTTP 503); retrying in 0.00 ms (bound 20 ms)
//!   0.016s  WARN [main] GET /flaky/retry: attempt 2 failed (HTTP 503); retrying in 12 ms (bound 40 ms)
//!   0.035s  WARN [main] GET /flaky/retry: attempt 3 failed (HTTP 503); retrying in 11 ms (bound 80 ms)
//!   0.051s  INFO [main] GET /flaky/retry: attempt 4 succeeded
//!   ...
//!   0.194s  INFO [main] 4. circuit breaker: the service fails for its first 200 ms
//!   0.209s  INFO [main] breaker: Closed -> Open
//!   0.510s  INFO [caller-0] breaker: Open -> HalfOpen
//!   0.510s  INFO [caller-1] breaker demo: burst caller 1: circuit half-open, probe in flight, not sent
//!   0.510s  INFO [caller-4] breaker demo: burst caller 4: circuit half-open, probe in flight, not sent
//!   0.511s  INFO [caller-3] breaker demo: burst caller 3: circuit half-open, probe in flight, not sent
//!   0.511s  INFO [caller-2] breaker demo: burst caller 2: circuit half-open, probe in flight, not sent
//!   0.514s  INFO [caller-0] breaker: HalfOpen -> Closed
//!   0.515s  INFO [caller-0] breaker demo: burst caller 0: went through: ok
//!   0.526s  WARN [main] GET /flaky/backon: attempt 1 failed (HTTP 503); backon retries in 35 ms (of 20 ms..40 ms)
//!   0.565s  WARN [main] GET /flaky/backon: attempt 2 failed (HTTP 503); backon retries in 49 ms (of 40 ms..80 ms)
//!   0.622s  WARN [main] GET /flaky/backon: attempt 3 failed (HTTP 503); backon retries in 137 ms (of 80 ms..160 ms)
//!   ...
//!
//! Summary
//!   retry (full jitter, seed 7): success on attempt 4 of 5
//!     waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms, 11 ms of 0..=80 ms
//!     total 50 ms (deadline 1000 ms, kept)
//!   404: gave up after 1 attempt(s) (not retryable); the error keeps its cause: GET /status/404: gave up (not retryable): attempt 1 of 5: HTTP 404
//!   deadline: gave up after 3 attempt(s) (the deadline would pass); waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms
//!     total 140 ms (deadline 150 ms, kept)
//!   breaker: Closed at 0.00 ms -> Open at 15 ms -> HalfOpen at 316 ms -> Closed at 320 ms
//!     open for 301 ms (recovery 300 ms, no probe before it)
//!     half-open burst of 5 threads: 1 probe(s) admitted (ideal 1), 4 failed fast, 0 went through after it closed
//!     10 calls, 5 sent to the service, 5 failed fast without being sent
//!   backon (its jitter, seed 7): success on attempt 4 of 5
//!     waits: 35 ms of 20..40 ms, 49 ms of 40..80 ms, 137 ms of 80..160 ms
//!     total 245 ms (deadline 1000 ms, kept)
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder};
use clap::Parser;
use common::fmt_duration;
use common::http_server::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{info, warn};
use ureq::Agent;

/// How the retry loop behaves. Upstream's demo: 5 attempts, base 20 ms, cap 200 ms (no deadline).
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    max_attempts: u32,
    base: Duration,
    cap: Duration,
    /// For all attempts and waits together, from the first attempt's start.
    deadline: Duration,
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base: Duration::from_millis(20),
    cap: Duration::from_millis(200),
    deadline: Duration::from_millis(1000),
};

/// Full jitter: the n-th wait is uniform in `[0, min(cap, base · 2^(n-1))]`, whole milliseconds,
/// from a seeded generator (the same one as the twin's, so the same seed draws the same waits).
struct FullJitter {
    rng: StdRng,
    base: Duration,
    cap: Duration,
}

impl FullJitter {
    fn new(seed: u64, policy: &RetryPolicy) -> Self {
        FullJitter {
            rng: StdRng::seed_from_u64(seed),
            base: policy.base,
            cap: policy.cap,
        }
    }

    /// The longest wait after the `failures`-th failure: the exponential curve, capped.
    fn bound(&self, failures: u32) -> Duration {
        let doubling = 2u32.saturating_pow(failures.saturating_sub(1));
        self.base.saturating_mul(doubling).min(self.cap)
    }

    /// The wait after the `failures`-th failure, and its range.
    fn next_wait(&mut self, failures: u32) -> Wait {
        let bound = self.bound(failures);
        let ms = self.rng.random_range(0..=bound.as_millis() as u64);
        Wait {
            wait: Duration::from_millis(ms),
            low: Duration::ZERO,
            bound,
            bound_excluded: false,
        }
    }
}

/// One wait of a retry loop beside the range it was drawn from: `[0, bound]` for full jitter,
/// `[low, bound)` for backon's jitter (`bound_excluded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wait {
    wait: Duration,
    low: Duration,
    bound: Duration,
    bound_excluded: bool,
}

impl Wait {
    fn in_range(&self) -> bool {
        self.low <= self.wait
            && if self.bound_excluded {
                self.wait < self.bound
            } else {
                self.wait <= self.bound
            }
    }
}

/// Why a call to the service failed. Sorting these is the retry loop's first decision.
#[derive(Debug)]
enum ServiceError {
    /// The service answered with an error status.
    Status(u16),
    /// No answer (refused, reset): the source says why.
    Transport(Box<dyn StdError + Send + Sync>),
    /// No answer before the deadline: the call's own timeout ended it.
    TimedOut,
    /// The circuit breaker is open: the call was not sent.
    BreakerOpen { retry_in: Duration },
    /// The breaker is half-open and its one probe is out: the call was not sent.
    ProbeInFlight,
}

impl ServiceError {
    /// Worth another try? A 5xx, a 429 or a 408 may pass later, and so may a call that got no
    /// answer; any other 4xx will say the same again. A breaker's refusal is final for this caller.
    fn retryable(&self) -> bool {
        match self {
            ServiceError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            ServiceError::Transport(_) => true,
            ServiceError::TimedOut
            | ServiceError::BreakerOpen { .. }
            | ServiceError::ProbeInFlight => false,
        }
    }

    /// Does this failure count against the service (the breaker's question)? Not the same as
    /// `retryable`: a timeout is not retried (the deadline has passed) but is the very thing a
    /// breaker is for, a service that does not answer; a 404 is neither. The breaker's own refusals
    /// were never sent, so they say nothing about the service.
    fn counts_against_service(&self) -> bool {
        match self {
            ServiceError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            ServiceError::Transport(_) | ServiceError::TimedOut => true,
            ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight => false,
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Status(code) => write!(f, "HTTP {code}"),
            ServiceError::Transport(_) => write!(f, "no answer"),
            ServiceError::TimedOut => write!(f, "no answer before the deadline"),
            ServiceError::BreakerOpen { retry_in } => {
                write!(
                    f,
                    "circuit open, not sent (retry in {})",
                    fmt_duration(*retry_in)
                )
            }
            ServiceError::ProbeInFlight => {
                write!(f, "circuit half-open, probe in flight, not sent")
            }
        }
    }
}

impl StdError for ServiceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ServiceError::Transport(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Why a retry loop stopped without a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GaveUp {
    NotRetryable,
    AttemptsUsedUp,
    Deadline,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GaveUp::NotRetryable => "not retryable",
            GaveUp::AttemptsUsedUp => "attempts used up",
            GaveUp::Deadline => "the deadline would pass",
        })
    }
}

/// What a retry loop did: the result, and the figures to print beside their ideal.
#[derive(Debug)]
struct Retried<T> {
    result: anyhow::Result<T>,
    gave_up: Option<GaveUp>,
    attempts: u32,
    waits: Vec<Wait>,
    total: Duration,
}

impl<T> Retried<T> {
    /// Did the deadline end an attempt that was still waiting for its answer?
    fn was_cut(&self) -> bool {
        self.result.as_ref().is_err_and(|e| {
            matches!(
                e.root_cause().downcast_ref::<ServiceError>(),
                Some(ServiceError::TimedOut)
            )
        })
    }
}

/// Calls `call(attempt, time_left)` until it succeeds, its error is not retryable,
/// `policy.max_attempts` are used up, or the deadline would pass. `time_left` is the call's own
/// timeout: the loop cannot cut a blocking call short, so the call must stop itself.
fn retry<T>(
    what: &str,
    policy: &RetryPolicy,
    jitter: &mut FullJitter,
    mut call: impl FnMut(u32, Duration) -> Result<T, ServiceError>,
) -> Retried<T> {
    let start = Instant::now();
    let deadline = start + policy.deadline;
    let mut waits = Vec::new();
    let mut attempt = 0;
    let (error, gave_up) = loop {
        attempt += 1;
        let time_left = deadline.saturating_duration_since(Instant::now());
        if time_left.is_zero() {
            break (ServiceError::TimedOut, GaveUp::Deadline);
        }
        let error = match call(attempt, time_left) {
            Ok(value) => {
                info!("{what}: attempt {attempt} succeeded");
                return Retried {
                    result: Ok(value),
                    gave_up: None,
                    attempts: attempt,
                    waits,
                    total: start.elapsed(),
                };
            }
            Err(ServiceError::TimedOut) => break (ServiceError::TimedOut, GaveUp::Deadline),
            Err(error) => error,
        };
        if !error.retryable() {
            break (error, GaveUp::NotRetryable);
        }
        if attempt >= policy.max_attempts {
            break (error, GaveUp::AttemptsUsedUp);
        }
        let wait = jitter.next_wait(attempt);
        // A wait that ends at or past the deadline leaves no time for the attempt after it.
        if Instant::now() + wait.wait >= deadline {
            break (error, GaveUp::Deadline);
        }
        warn!(
            "{what}: attempt {attempt} failed ({error}); retrying in {} (bound {})",
            fmt_duration(wait.wait),
            fmt_duration(wait.bound)
        );
        waits.push(wait);
        thread::sleep(wait.wait);
    };
    warn!("{what}: attempt {attempt} failed ({error}); giving up: {gave_up}");
    // The service's error stays the root of the chain; each context adds what the loop knew.
    let error = anyhow::Error::new(error)
        .context(format!("attempt {attempt} of {}", policy.max_attempts))
        .context(format!("{what}: gave up ({gave_up})"));
    Retried {
        result: Err(error),
        gave_up: Some(gave_up),
        attempts: attempt,
        waits,
        total: start.elapsed(),
    }
}

// ------------------------------------------------------------------------------------------------
// The circuit breaker
// ------------------------------------------------------------------------------------------------

/// The breaker's three states, as printed and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum State {
    /// Calls pass; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls fail fast until `until`.
    Open { until: Instant },
    /// One probe is out; every other call fails fast until it reports.
    HalfOpen,
}

/// A circuit breaker shared by every thread that calls one service, its state behind a
/// `std::sync::Mutex`. The lock is held to read and change the state, never during the call itself:
/// a slow call must not stop other threads from being told "open" at once.
struct Breaker {
    threshold: u32,
    recovery: Duration,
    created: Instant,
    inner: Mutex<BreakerInner>,
}

struct BreakerInner {
    state: State,
    /// Every change of state and when it happened (since the breaker was made).
    transitions: Vec<(Duration, Circuit)>,
    /// How many calls were let through as the half-open probe.
    probes: u32,
}

/// Leave to make one call, from [`Breaker::admit`]. Report how it went with [`Ticket::finish`]. A
/// probe dropped without a report (its thread panicked mid-call) counts as a failure: otherwise the
/// breaker would stay half-open forever with no probe out.
#[must_use = "report the call's outcome with `finish`, or the breaker learns nothing"]
struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

impl Breaker {
    fn new(threshold: u32, recovery: Duration) -> Self {
        Breaker {
            threshold,
            recovery,
            created: Instant::now(),
            inner: Mutex::new(BreakerInner {
                state: State::Closed { failures: 0 },
                transitions: vec![(Duration::ZERO, Circuit::Closed)],
                probes: 0,
            }),
        }
    }

    /// Each change is one assignment, so a panic elsewhere cannot leave the state half-changed: a
    /// poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transitions(&self) -> Vec<(Duration, Circuit)> {
        self.lock().transitions.clone()
    }

    fn probes(&self) -> u32 {
        self.lock().probes
    }

    /// May a call go to the service now? Closed: yes. Open: no, until the recovery time has passed;
    /// then the first caller becomes the one probe and the breaker is half-open. Half-open: no.
    /// Under the lock, so two threads cannot both see "recovery passed" and both become the probe.
    fn admit(&self) -> Result<Ticket<'_>, ServiceError> {
        let mut inner = self.lock();
        let now = Instant::now();
        let probe = match inner.state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => {
                return Err(ServiceError::BreakerOpen {
                    retry_in: until - now,
                });
            }
            State::Open { .. } => {
                self.set(&mut inner, State::HalfOpen, now);
                inner.probes += 1;
                true
            }
            State::HalfOpen => return Err(ServiceError::ProbeInFlight),
        };
        Ok(Ticket {
            breaker: self,
            probe,
            reported: false,
        })
    }

    fn record(&self, probe: bool, healthy: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        match (&mut inner.state, probe, healthy) {
            (State::Closed { failures }, false, true) => *failures = 0,
            (State::Closed { failures }, false, false) => {
                *failures += 1;
                if *failures >= self.threshold {
                    let until = now + self.recovery;
                    self.set(&mut inner, State::Open { until }, now);
                }
            }
            (State::HalfOpen, true, true) => {
                self.set(&mut inner, State::Closed { failures: 0 }, now)
            }
            (State::HalfOpen, true, false) => {
                let until = now + self.recovery;
                self.set(&mut inner, State::Open { until }, now);
            }
            // A call let in while closed that ends after the breaker opened: old news, ignored.
            _ => {}
        }
    }

    fn set(&self, inner: &mut BreakerInner, state: State, now: Instant) {
        let circuit = match state {
            State::Closed { .. } => Circuit::Closed,
            State::Open { .. } => Circuit::Open,
            State::HalfOpen => Circuit::HalfOpen,
        };
        if let Some((_, from)) = inner.transitions.last() {
            info!("breaker: {from:?} -> {circuit:?}");
        }
        inner.state = state;
        inner.transitions.push((now - self.created, circuit));
    }

    /// One call through the breaker. A 404 is the caller's mistake and says the service is up: it
    /// does not count against the service; a timeout does, though it is not retried.
    fn call<T>(&self, call: impl FnOnce() -> Result<T, ServiceError>) -> Result<T, ServiceError> {
        let ticket = self.admit()?;
        let result = call();
        ticket.finish(match &result {
            Ok(_) => true,
            Err(e) => !e.counts_against_service(),
        });
        result
    }
}

impl Ticket<'_> {
    fn finish(mut self, healthy: bool) {
        self.reported = true;
        self.breaker.record(self.probe, healthy);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.record(true, false);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The demos against the local server
// ------------------------------------------------------------------------------------------------

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "19 · Retry with backoff, with threads: exponential backoff with full jitter (seeded) \
             and thread::sleep, a deadline as each blocking call's timeout, retryable vs final \
             errors with their cause chain, a circuit breaker shared behind a Mutex that admits \
             one probe when half-open; then backon's blocking retry",
    long_about = None
)]
struct Args {
    /// Seed of the jitter: the same seed draws the same waits (as the async twin's).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How many calls the retry demos' service fails before it answers (5 or more uses up the
    /// 5 attempts).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=100))]
    fail_first: u64,
}

/// GET `url` once, giving up after `timeout`: `Ok(())` on a 2xx, a [`ServiceError`] otherwise.
fn get(agent: &Agent, url: &str, timeout: Duration) -> Result<(), ServiceError> {
    let response = agent
        .get(url)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .call();
    match response {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(ServiceError::Status(response.status().as_u16())),
        Err(ureq::Error::Timeout(_)) => Err(ServiceError::TimedOut),
        Err(e) => Err(ServiceError::Transport(Box::new(e))),
    }
}

/// `12 ms of 0..=40 ms` (full jitter), `35 ms of 20..40 ms` (backon's): each wait beside the range
/// it was drawn from, and a verdict if outside.
fn waits_line(waits: &[Wait]) -> String {
    if waits.is_empty() {
        return "none".into();
    }
    // Whole milliseconds (full jitter's) print as such; backon's waits have fractions.
    let show = |d: Duration| {
        if d.subsec_nanos().is_multiple_of(1_000_000) {
            format!("{} ms", d.as_millis())
        } else {
            fmt_duration(d)
        }
    };
    waits
        .iter()
        .map(|w| {
            let verdict = if w.in_range() { "" } else { " OUTSIDE" };
            format!(
                "{} of {}..{}{}{verdict}",
                show(w.wait),
                w.low.as_millis(),
                if w.bound_excluded { "" } else { "=" },
                show(w.bound)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `total 52 ms (deadline 1000 ms, kept, 0.00 ms past it)`: the verdict from the figures. An attempt
/// cut at the deadline ends when the timer wakes the caller up, a little after it: that is kept too,
/// and how far past it the wake-up came is printed either way, so the words do not change with the
/// run (only a total past the deadline with no attempt cut at it is `MISSED`).
fn total_line<T>(r: &Retried<T>, deadline: Duration) -> String {
    let past = r.total.saturating_sub(deadline);
    let verdict = if past.is_zero() || r.was_cut() {
        "kept"
    } else {
        "MISSED"
    };
    format!(
        "total {} (deadline {}, {verdict}, {} past it)",
        fmt_duration(r.total),
        fmt_duration(deadline),
        fmt_duration(past)
    )
}

fn outcome_line<T>(r: &Retried<T>, max_attempts: u32) -> String {
    match &r.result {
        Ok(_) => format!("success on attempt {} of {max_attempts}", r.attempts),
        Err(e) => format!("failed after {} attempt(s): {e:#}", r.attempts),
    }
}

/// The breaker demo's figures.
#[derive(Debug)]
struct BreakerRun {
    transitions: Vec<(Duration, Circuit)>,
    calls: u32,
    sent: u32,
    fast_failed: u32,
    /// The burst: probes let through, callers failed fast, callers let through after it closed.
    probes: u32,
    burst_fast_failed: u32,
    burst_after: u32,
    burst: u32,
}

/// Three failures open the breaker; a call while open fails fast; after the recovery time five
/// threads meet the half-open breaker at once: one becomes the probe, the others fail fast (or, if
/// the probe has already closed the breaker when one gets the lock, go through as normal calls).
fn breaker_demo(agent: &Agent, url: &str, breaker: &Breaker) -> BreakerRun {
    let sent = AtomicU32::new(0);
    let calls = AtomicU32::new(0);
    let fast_failed = AtomicU32::new(0);
    let one_call = || {
        calls.fetch_add(1, Ordering::Relaxed);
        let result = breaker.call(|| {
            sent.fetch_add(1, Ordering::Relaxed);
            get(agent, url, Duration::from_secs(5))
        });
        if matches!(
            result,
            Err(ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight)
        ) {
            fast_failed.fetch_add(1, Ordering::Relaxed);
        }
        result
    };
    for _ in 0..breaker.threshold {
        if let Err(e) = one_call() {
            info!("breaker demo: call failed: {e}");
        }
    }
    if let Err(e) = one_call() {
        info!("breaker demo: while open: {e}");
    }
    thread::sleep(breaker.recovery);
    let burst = 5;
    let probes_before = breaker.probes();
    let fast_before = fast_failed.load(Ordering::Relaxed);
    // Five threads, released together by the barrier so that they reach the breaker at once.
    let gate = Barrier::new(burst);
    thread::scope(|s| {
        for i in 0..burst {
            let (gate, one_call) = (&gate, &one_call);
            thread::Builder::new()
                .name(format!("caller-{i}"))
                .spawn_scoped(s, move || {
                    gate.wait();
                    match one_call() {
                        Ok(()) => info!("breaker demo: burst caller {i}: went through: ok"),
                        Err(e) => info!("breaker demo: burst caller {i}: {e}"),
                    }
                })
                .expect("the OS has a thread for a demo caller");
        }
    });
    let probes = breaker.probes() - probes_before;
    let burst_fast_failed = fast_failed.load(Ordering::Relaxed) - fast_before;
    if let Err(e) = one_call() {
        info!("breaker demo: after the probe: {e}");
    }
    BreakerRun {
        transitions: breaker.transitions(),
        calls: calls.load(Ordering::Relaxed),
        sent: sent.load(Ordering::Relaxed),
        fast_failed: fast_failed.load(Ordering::Relaxed),
        probes,
        burst_fast_failed,
        burst_after: burst as u32 - probes - burst_fast_failed,
        burst: burst as u32,
    }
}

/// The same retry as [`retry`], with backon's blocking retry: its exponential backoff with its own
/// jitter, `when` sorts the errors, `notify` logs. No `adjust` here: the deadline is the waits'
/// total (`with_total_delay`) plus each request's timeout of the time left.
fn retry_with_backon(
    what: &str,
    policy: &RetryPolicy,
    seed: u64,
    agent: &Agent,
    url: &str,
) -> Retried<()> {
    let start = Instant::now();
    let deadline = start + policy.deadline;
    let attempts = AtomicU32::new(0);
    let mut waits = Vec::new();
    let backoff = ExponentialBuilder::new()
        .with_min_delay(policy.base)
        .with_max_delay(policy.cap)
        // backon counts retries, not attempts.
        .with_max_times(policy.max_attempts as usize - 1)
        .with_total_delay(Some(policy.deadline))
        .with_jitter()
        .with_jitter_seed(seed);
    let call = || {
        attempts.fetch_add(1, Ordering::Relaxed);
        let time_left = deadline.saturating_duration_since(Instant::now());
        if time_left.is_zero() {
            return Err(ServiceError::TimedOut);
        }
        get(agent, url, time_left)
    };
    let result = call
        .retry(backoff)
        .sleep(thread::sleep)
        .when(ServiceError::retryable)
        .notify(|error, wait| {
            let n = attempts.load(Ordering::Relaxed);
            // backon's n-th wait lies in [d, 2d), d the capped exponential delay.
            let d = policy
                .base
                .saturating_mul(2u32.saturating_pow(n - 1))
                .min(policy.cap);
            warn!(
                "{what}: attempt {n} failed ({error}); backon retries in {} (of {}..{})",
                fmt_duration(wait),
                fmt_duration(d),
                fmt_duration(2 * d)
            );
            waits.push(Wait {
                wait,
                low: d,
                bound: 2 * d,
                bound_excluded: true,
            });
        })
        .call();
    let attempts = attempts.load(Ordering::Relaxed);
    let gave_up = match &result {
        Ok(()) => None,
        Err(e) if !e.retryable() => Some(GaveUp::NotRetryable),
        Err(_) if attempts >= policy.max_attempts => Some(GaveUp::AttemptsUsedUp),
        Err(_) => Some(GaveUp::Deadline),
    };
    let result = result.map_err(|e| {
        anyhow::Error::new(e)
            .context(format!("attempt {attempts} of {}", policy.max_attempts))
            .context(format!("{what}: backon gave up"))
    });
    Retried {
        result,
        gave_up,
        attempts,
        waits,
        total: start.elapsed(),
    }
}

fn main() -> anyhow::Result<()> {
    let args = common::parse_args::<Args>();
    common::init_logging();
    let server = TestServer::start()?;
    // A 503 is a response to look at, not an `Err`; no proxy can reach our 127.0.0.1.
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let fail_first = args.fail_first;

    info!("1. retry: the service fails its first {fail_first} calls");
    let mut jitter = FullJitter::new(args.seed, &POLICY);
    let url = server.url(&format!("/flaky/retry?fail_first={fail_first}"));
    let flaky = retry("GET /flaky/retry", &POLICY, &mut jitter, |_, left| {
        get(&agent, &url, left)
    });

    info!("2. not retryable: a 404");
    let url = server.url("/status/404");
    let mut jitter = FullJitter::new(args.seed, &POLICY);
    let missing = retry("GET /status/404", &POLICY, &mut jitter, |_, left| {
        get(&agent, &url, left)
    });

    info!("3. deadline: a service that always fails, slowly (40 ms), under a 150 ms deadline");
    let tight = RetryPolicy {
        max_attempts: 10,
        deadline: Duration::from_millis(150),
        ..POLICY
    };
    let url = server.url("/status/503?delay_ms=40");
    let mut jitter = FullJitter::new(args.seed, &tight);
    let late = retry("GET /status/503", &tight, &mut jitter, |_, left| {
        get(&agent, &url, left)
    });

    info!("4. circuit breaker: the service fails for its first 200 ms");
    let breaker = Breaker::new(3, Duration::from_millis(300));
    let breaker_run = breaker_demo(
        &agent,
        &server.url("/flaky/breaker?fail_for_ms=200"),
        &breaker,
    );

    info!("5. the retry of 1 with backon");
    let url = server.url(&format!("/flaky/backon?fail_first={fail_first}"));
    let backon = retry_with_backon("GET /flaky/backon", &POLICY, args.seed, &agent, &url);

    common::out!();
    common::out!("Summary");
    common::out!(
        "  retry (full jitter, seed {}): {}",
        args.seed,
        outcome_line(&flaky, POLICY.max_attempts)
    );
    common::out!("    waits: {}", waits_line(&flaky.waits));
    common::out!("    {}", total_line(&flaky, POLICY.deadline));
    common::out!(
        "  404: gave up after {} attempt(s) ({}); the error keeps its cause: {}",
        missing.attempts,
        missing.gave_up.map_or("-".into(), |g| g.to_string()),
        match &missing.result {
            Ok(()) => "no error".to_string(),
            Err(e) => format!("{e:#}"),
        }
    );
    common::out!(
        "  deadline: gave up after {} attempt(s) ({}); waits: {}",
        late.attempts,
        late.gave_up.map_or("-".into(), |g| g.to_string()),
        waits_line(&late.waits)
    );
    common::out!("    {}", total_line(&late, tight.deadline));
    let path: Vec<String> = breaker_run
        .transitions
        .iter()
        .map(|(at, c)| format!("{c:?} at {}", fmt_duration(*at)))
        .collect();
    common::out!("  breaker: {}", path.join(" -> "));
    let opened = breaker_run
        .transitions
        .iter()
        .find(|t| t.1 == Circuit::Open);
    let half = breaker_run
        .transitions
        .iter()
        .find(|t| t.1 == Circuit::HalfOpen);
    if let (Some(open), Some(half)) = (opened, half) {
        let open_for = half.0 - open.0;
        common::out!(
            "    open for {} (recovery {}, {})",
            fmt_duration(open_for),
            fmt_duration(breaker.recovery),
            if open_for >= breaker.recovery {
                "no probe before it"
            } else {
                "PROBED TOO EARLY"
            }
        );
    }
    common::out!(
        "    half-open burst of {} threads: {} probe(s) admitted (ideal 1), {} failed fast, {} went \
         through after it closed",
        breaker_run.burst,
        breaker_run.probes,
        breaker_run.burst_fast_failed,
        breaker_run.burst_after
    );
    common::out!(
        "    {} calls, {} sent to the service, {} failed fast without being sent",
        breaker_run.calls,
        breaker_run.sent,
        breaker_run.fast_failed
    );
    common::out!(
        "  backon (its jitter, seed {}): {}",
        args.seed,
        outcome_line(&backon, POLICY.max_attempts)
    );
    common::out!("    waits: {}", waits_line(&backon.waits));
    common::out!("    {}", total_line(&backon, POLICY.deadline));
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Against a fake service that returns scripted outcomes, on the real clock: the waits drawn are
    //! checked exactly (they come from the seed, not the clock); durations with bounds that hold on
    //! a busy 2-core machine (a sleep may end late, never early); the one-probe rule with a
    //! `Barrier`, so it does not depend on timing at all.
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Scheduling slack for a busy 2-core machine.
    const SLACK: Duration = Duration::from_millis(400);

    /// A fake service: each call takes `latency` (or gives up at its `time_left`, as a client's
    /// timeout would), then returns the next scripted outcome (`None`: success, `Some(code)`: that
    /// status); past the script it succeeds.
    struct Fake {
        script: Mutex<VecDeque<Option<u16>>>,
        latency: Duration,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(script: &[Option<u16>], latency: Duration) -> Self {
            Fake {
                script: Mutex::new(script.iter().copied().collect()),
                latency,
                calls: AtomicUsize::new(0),
            }
        }

        fn call(&self, time_left: Duration) -> Result<(), ServiceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.latency > time_left {
                thread::sleep(time_left);
                return Err(ServiceError::TimedOut);
            }
            thread::sleep(self.latency);
            match self
                .script
                .lock()
                .expect("not poisoned")
                .pop_front()
                .flatten()
            {
                None => Ok(()),
                Some(code) => Err(ServiceError::Status(code)),
            }
        }
    }

    /// The same numbers as the async twin's test: both draw from `StdRng` seeded with 7.
    const SEED_7_WAITS: [u64; 4] = [0, 12, 11, 87];

    #[test]
    fn the_same_seed_draws_the_same_waits_as_the_twin_each_within_its_bound() {
        let mut jitter = FullJitter::new(7, &POLICY);
        let waits: Vec<Wait> = (1..=4).map(|n| jitter.next_wait(n)).collect();
        let as_ms: Vec<u64> = waits.iter().map(|w| w.wait.as_millis() as u64).collect();
        assert_eq!(as_ms, SEED_7_WAITS);
        let bounds: Vec<u128> = waits.iter().map(|w| w.bound.as_millis()).collect();
        assert_eq!(bounds, [20, 40, 80, 160]);
        assert_eq!(jitter.bound(6), POLICY.cap);
    }

    #[test]
    fn success_on_attempt_four_after_the_seeded_waits() {
        let fake = Fake::new(&[Some(503), Some(503), Some(503)], Duration::ZERO);
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
        assert!(r.result.is_ok());
        assert_eq!((r.attempts, r.gave_up), (4, None));
        let waits: Vec<u64> = r.waits.iter().map(|w| w.wait.as_millis() as u64).collect();
        assert_eq!(waits, SEED_7_WAITS[..3]);
        let slept: Duration = r.waits.iter().map(|w| w.wait).sum();
        assert!(r.total >= slept, "{:?} < {slept:?}", r.total);
        assert!(r.total < slept + SLACK, "{:?}", r.total);
    }

    #[test]
    fn a_404_is_returned_at_once_with_its_cause_kept() {
        let fake = Fake::new(&[Some(404)], Duration::ZERO);
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
        assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::NotRetryable)));
        assert!(r.waits.is_empty());
        let error = r.result.expect_err("a 404");
        assert!(matches!(
            error.root_cause().downcast_ref::<ServiceError>(),
            Some(ServiceError::Status(404))
        ));
        assert_eq!(
            format!("{error:#}"),
            "fake: gave up (not retryable): attempt 1 of 5: HTTP 404"
        );
    }

    #[test]
    fn attempts_run_out_and_the_last_error_is_kept() {
        let fake = Fake::new(
            &[Some(429), Some(503), Some(503), Some(503), Some(502)],
            ms(1),
        );
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
        assert_eq!((r.attempts, r.gave_up), (5, Some(GaveUp::AttemptsUsedUp)));
        assert_eq!(r.waits.len(), 4);
        let error = r.result.expect_err("all failed");
        assert_eq!(error.chain().count(), 3);
        assert!(format!("{error:#}").ends_with("attempt 5 of 5: HTTP 502"));
    }

    #[test]
    fn a_hung_service_is_cut_off_at_the_deadline_by_its_own_timeout() {
        let policy = RetryPolicy {
            deadline: ms(200),
            ..POLICY
        };
        // "Hung" for 5 s: long enough to fail the bound below if the call were not given the time
        // left, short enough that such a failure is a failure, not a hang.
        let fake = Fake::new(&[], Duration::from_secs(5));
        let mut jitter = FullJitter::new(7, &policy);
        let r = retry("fake", &policy, &mut jitter, |_, left| fake.call(left));
        assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::Deadline)));
        assert!(r.total >= ms(200), "{:?}", r.total);
        assert!(r.total < ms(200) + SLACK, "{:?}", r.total);
    }

    #[test]
    fn no_wait_is_taken_that_would_end_past_the_deadline() {
        let tight = RetryPolicy {
            max_attempts: 100,
            deadline: ms(150),
            ..POLICY
        };
        for seed in 0..5 {
            let fake = Fake::new(&[Some(503); 100], ms(40));
            let mut jitter = FullJitter::new(seed, &tight);
            let r = retry("fake", &tight, &mut jitter, |_, left| fake.call(left));
            assert_eq!(r.gave_up, Some(GaveUp::Deadline), "seed {seed}");
            // The waits and the attempts' 40 ms each fit in the deadline: the loop never planned
            // past it (the measured total may still run late on a busy machine: sleeps end late).
            let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
            let planned = waits + ms(40) * (r.attempts - 1);
            assert!(planned < tight.deadline, "seed {seed}: {planned:?}");
            assert!(
                r.total < tight.deadline + SLACK,
                "seed {seed}: {:?}",
                r.total
            );
        }
    }

    fn open_it(breaker: &Breaker) {
        let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
        for _ in 0..3 {
            assert!(breaker.call(|| fake.call(ms(1000))).is_err());
        }
    }

    fn circuits(breaker: &Breaker) -> Vec<Circuit> {
        breaker.transitions().into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn the_breaker_opens_after_three_failures_fails_fast_then_probes_and_closes() {
        let breaker = Breaker::new(3, ms(100));
        open_it(&breaker);
        let fake = Fake::new(&[], Duration::ZERO);
        match breaker.call(|| fake.call(ms(1000))) {
            Err(ServiceError::BreakerOpen { retry_in }) => assert!(retry_in <= ms(100)),
            other => panic!("not failed fast: {other:?}"),
        }
        assert_eq!(
            fake.calls.load(Ordering::SeqCst),
            0,
            "nothing sent while open"
        );
        thread::sleep(ms(100));
        assert!(breaker.call(|| fake.call(ms(1000))).is_ok());
        assert_eq!(
            circuits(&breaker),
            [
                Circuit::Closed,
                Circuit::Open,
                Circuit::HalfOpen,
                Circuit::Closed
            ]
        );
        let t = breaker.transitions();
        assert!(
            t[2].0 - t[1].0 >= ms(100),
            "half-open before the recovery time"
        );
    }

    #[test]
    fn a_failed_probe_reopens_and_a_panicked_probe_too() {
        let breaker = Breaker::new(3, ms(50));
        open_it(&breaker);
        thread::sleep(ms(50));
        let fake = Fake::new(&[Some(500)], Duration::ZERO);
        assert!(breaker.call(|| fake.call(ms(1000))).is_err());
        assert_eq!(circuits(&breaker)[2..], [Circuit::HalfOpen, Circuit::Open]);
        thread::sleep(ms(50));
        // A probe whose thread panics mid-call: its ticket is dropped while unwinding.
        let panicked = thread::scope(|s| {
            s.spawn(|| breaker.call(|| -> Result<(), ServiceError> { panic!("mid-call") }))
                .join()
        });
        assert!(panicked.is_err());
        assert_eq!(circuits(&breaker).last(), Some(&Circuit::Open));
    }

    #[test]
    fn half_open_admits_exactly_one_probe_from_five_threads() {
        let breaker = Breaker::new(3, ms(50));
        open_it(&breaker);
        thread::sleep(ms(50));
        // The probe's call waits at the barrier until the four others have been answered (they
        // reach it after `call` returned). A breaker that let a second probe through would let
        // that one reach the barrier too, and the count below would say 2.
        let barrier = Barrier::new(5);
        let admitted = AtomicUsize::new(0);
        let refused = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..5 {
                s.spawn(|| {
                    let result = breaker.call(|| {
                        admitted.fetch_add(1, Ordering::SeqCst);
                        barrier.wait();
                        Ok(())
                    });
                    if let Err(ServiceError::ProbeInFlight) = result {
                        refused.fetch_add(1, Ordering::SeqCst);
                        barrier.wait();
                    }
                });
            }
        });
        assert_eq!(admitted.load(Ordering::SeqCst), 1);
        assert_eq!(refused.load(Ordering::SeqCst), 4);
        assert_eq!(breaker.probes(), 1);
        assert_eq!(circuits(&breaker).last(), Some(&Circuit::Closed));
    }

    #[test]
    fn a_hung_service_opens_the_breaker_and_a_hung_probe_reopens_it() {
        // A timeout is not retried, but it is what a breaker is for: three of them in a row open it,
        // and a probe that times out reopens it instead of closing it.
        let breaker = Breaker::new(3, ms(50));
        let hung = Fake::new(&[], Duration::from_secs(5));
        for _ in 0..3 {
            let result = breaker.call(|| hung.call(ms(20)));
            assert!(matches!(result, Err(ServiceError::TimedOut)), "{result:?}");
        }
        assert_eq!(circuits(&breaker), [Circuit::Closed, Circuit::Open]);
        thread::sleep(ms(50));
        assert!(breaker.call(|| hung.call(ms(20))).is_err());
        assert_eq!(
            circuits(&breaker),
            [
                Circuit::Closed,
                Circuit::Open,
                Circuit::HalfOpen,
                Circuit::Open
            ]
        );
    }

    #[test]
    fn a_later_attempt_that_hangs_is_given_only_the_time_left_before_the_deadline() {
        let policy = RetryPolicy {
            deadline: ms(300),
            ..POLICY
        };
        // Attempt 1 takes 100 ms and fails with a 503; attempt 2 hangs until its own timeout. With
        // the time left as its timeout it gets at most 300 - 100 ms (sleeps end late, never early);
        // with the whole deadline it would get 300 ms and end 100 ms past the deadline.
        let timeouts = Mutex::new(Vec::<Duration>::new());
        let mut jitter = FullJitter::new(7, &policy);
        let r: Retried<()> = retry("fake", &policy, &mut jitter, |attempt, left| {
            timeouts.lock().expect("not poisoned").push(left);
            if attempt == 1 {
                thread::sleep(ms(100));
                return Err(ServiceError::Status(503));
            }
            thread::sleep(left);
            Err(ServiceError::TimedOut)
        });
        assert_eq!((r.attempts, r.gave_up), (2, Some(GaveUp::Deadline)));
        let timeouts = timeouts.into_inner().expect("not poisoned");
        assert!(timeouts[0] <= ms(300), "{timeouts:?}");
        assert!(timeouts[1] <= ms(200), "{timeouts:?}");
        assert!(!timeouts[1].is_zero(), "{timeouts:?}");
        assert!(r.total >= ms(300), "{:?}", r.total);
    }

    #[test]
    fn a_404_does_not_count_against_the_service() {
        let breaker = Breaker::new(3, ms(300));
        let fake = Fake::new(&[Some(404); 10], Duration::ZERO);
        for _ in 0..10 {
            assert!(breaker.call(|| fake.call(ms(1000))).is_err());
        }
        assert_eq!(circuits(&breaker), [Circuit::Closed]);
    }

    #[test]
    fn backon_blocking_sleeps_its_seeded_waits_each_in_d_to_2d() {
        let builder = ExponentialBuilder::new()
            .with_min_delay(POLICY.base)
            .with_max_delay(POLICY.cap)
            .with_max_times(4)
            .with_jitter()
            .with_jitter_seed(7);
        let planned: Vec<Duration> = backon::BackoffBuilder::build(builder).collect();
        let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
        let mut slept = Vec::new();
        let start = Instant::now();
        let result = (|| fake.call(ms(1000)))
            .retry(builder)
            .sleep(thread::sleep)
            .when(ServiceError::retryable)
            .notify(|_, wait| slept.push(wait))
            .call();
        let took = start.elapsed();
        assert!(result.is_ok());
        assert_eq!(slept, planned[..3]);
        for (n, wait) in slept.iter().enumerate() {
            let d = ms(20 << n);
            assert!(d <= *wait && *wait < 2 * d, "wait {n}: {wait:?}");
        }
        let sum: Duration = slept.iter().sum();
        assert!(took >= sum && took < sum + SLACK, "{took:?} vs {sum:?}");
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["19", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("19 · Retry"), "{help}");
        let bad = Args::try_parse_from(["19", "--seed", "x"]).expect_err("not a number");
        assert_eq!(bad.exit_code(), 2);
    }
}
