//! # 19 · Retry with backoff: full jitter, one deadline, retryable errors, a circuit breaker
//!
//! A flaky service (the local test server's `/flaky/{id}`, which fails the first n requests or fails
//! for a while) called four ways:
//!
//! 1. **Retry with exponential backoff and full jitter**, hand-written: after the n-th failure wait a
//!    random time in `[0, min(cap, base · 2^(n-1))]` (seeded, so a run can be checked), at most 5
//!    attempts. Upstream's demo: fails 3 times, "success on call 4" (base 20 ms, cap 200 ms).
//! 2. **Errors sorted**: a `503`, a `429` or no answer may pass on a second try; a `404` will not, so
//!    it is returned at once. The final error keeps its **cause chain** (`anyhow` context over the
//!    service's error): upstream's final error loses the original (`cause`).
//! 3. **A deadline over all attempts**: every attempt ends at it (`timeout_at`), and a wait that would
//!    end past it is not taken. The total is printed beside the deadline.
//! 4. **A circuit breaker** (closed, open, half-open; threshold 3, recovery 300 ms as upstream): after
//!    3 failures in a row it fails calls fast without sending them; after the recovery time it lets
//!    **exactly one** probe through (upstream's half-open admits any number, so a burst of callers
//!    all hit a service that may still be down); the probe's outcome closes or reopens it. The probe
//!    is an RAII ticket: a probe cancelled mid-call reopens the breaker instead of wedging it.
//!
//! Then the same retry with **`backon`**, the crate production code would use (`.retry(..).when(..)
//! .notify(..).adjust(..)`), so both can be read side by side. Its jitter is not full jitter: it
//! adds a random share of the delay on top (`[d, 2d)`), so its waits never go below the exponential
//! curve and can reach twice `max_delay`. Other well-kept crates for this: `tower`'s `retry`
//! middleware (a `Policy` deciding per request, with `tower::retry::backoff`) and `tower::limit`
//! (concurrency and rate limits), used with `tower`-based clients and servers (hyper, tonic,
//! axum); `tower` has no circuit breaker of its own, which is one reason to see one written out.
//!
//! Why hand-write it once: the loop is short, and every choice in it (what is retryable, when to
//! stop, where the breaker sits) is a decision a crate only lets you configure.
//!
//! Upstream: `src/js/asynchrony/19_retry_backoff.js` (`withRetry`, `CircuitBreaker`). Threads twin:
//! `examples-threads/src/bin/19_retry_backoff_threads.rs` (blocking calls, `thread::sleep`, the
//! breaker shared between threads behind a `Mutex`).
//!
//! Run: `cargo run -p examples-async --bin 19_retry_backoff` (about 1 s). Flags: `--seed N` (the
//! jitter's seed, default 7), `--fail-first N` (how many calls the retry demos' service fails,
//! default 3; 5 or more uses up the attempts).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.001s  INFO [main] 1. retry: the service fails its first 3 calls
//!   0.009s  WARN [main] GET /flaky/retry: attempt 1 failed (HTTP 503); retrying in 0.00 ms (bound 20 ms)
//!   0.015s  WARN [main] GET /flaky/retry: attempt 2 failed (HTTP 503); retrying in 12 ms (bound 40 ms)
//!   0.030s  WARN [main] GET /flaky/retry: attempt 3 failed (HTTP 503); retrying in 11 ms (bound 80 ms)
//!   0.045s  INFO [main] GET /flaky/retry: attempt 4 succeeded
//!   ...
//!   0.189s  INFO [main] 4. circuit breaker: the service fails for its first 200 ms
//!   0.197s  INFO [main] breaker: Closed -> Open
//!   0.499s  INFO [main] breaker: Open -> HalfOpen
//!   0.499s  INFO [main] breaker demo: burst caller 1: circuit half-open, probe in flight, not sent
//!   0.499s  INFO [main] breaker demo: burst caller 2: circuit half-open, probe in flight, not sent
//!   0.499s  INFO [main] breaker demo: burst caller 3: circuit half-open, probe in flight, not sent
//!   0.499s  INFO [main] breaker demo: burst caller 4: circuit half-open, probe in flight, not sent
//!   0.501s  INFO [main] breaker: HalfOpen -> Closed
//!   0.501s  INFO [main] breaker demo: burst caller 0: went through: ok
//!   0.505s  WARN [main] GET /flaky/backon: attempt 1 failed (HTTP 503); backon retries in 35 ms (of 20 ms..40 ms)
//!   0.544s  WARN [main] GET /flaky/backon: attempt 2 failed (HTTP 503); backon retries in 49 ms (of 40 ms..80 ms)
//!   0.597s  WARN [main] GET /flaky/backon: attempt 3 failed (HTTP 503); backon retries in 137 ms (of 80 ms..160 ms)
//!   ...
//!
//! Summary
//!   retry (full jitter, seed 7): success on attempt 4 of 5
//!     waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms, 11 ms of 0..=80 ms
//!     total 43 ms (deadline 1000 ms, kept)
//!   404: gave up after 1 attempt(s) (not retryable); the error keeps its cause: GET /status/404: gave up (not retryable): attempt 1 of 5: HTTP 404
//!   deadline: gave up after 3 attempt(s) (the deadline would pass); waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms
//!     total 142 ms (deadline 150 ms, kept)
//!   breaker: Closed at 0.00 ms -> Open at 8.02 ms -> HalfOpen at 310 ms -> Closed at 313 ms
//!     open for 302 ms (recovery 300 ms, no probe before it)
//!     half-open burst of 5: 1 probe(s) admitted, 4 failed fast (ideal 1 probe)
//!     10 calls, 5 sent to the service, 5 failed fast without being sent
//!   backon (its jitter, seed 7): success on attempt 4 of 5
//!     waits: 35 ms of 20..40 ms, 49 ms of 40..80 ms, 137 ms of 80..160 ms
//!     total 240 ms (deadline 1000 ms, kept)
//! ```

use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use clap::Parser;
use common::fmt_duration;
use common::http_server::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, sleep, timeout_at};
use tracing::{info, warn};

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

/// Full jitter (the AWS architecture blog's name): the n-th wait is uniform in
/// `[0, min(cap, base · 2^(n-1))]`. Spreading waits over the whole range is what keeps many clients
/// that failed together from all coming back together. Whole milliseconds, from a seeded generator:
/// the same seed gives the same waits (the threads twin draws the same ones).
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

    /// The wait after the `failures`-th failure, and its bound.
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
    /// No answer before the deadline: the attempt was cancelled.
    TimedOut,
    /// The circuit breaker is open: the call was not sent.
    BreakerOpen { retry_in: Duration },
    /// The breaker is half-open and its one probe is out: the call was not sent.
    ProbeInFlight,
}

impl ServiceError {
    /// Worth another try? A 5xx, a 429 (too many requests) or a 408 may pass later, and so may a
    /// call that got no answer; any other 4xx says the request itself is wrong, and will say so
    /// again. A breaker's refusal is final for this caller: failing fast is its whole point.
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
    // The chain goes on below a transport error: `anyhow`'s `{:#}` prints every link.
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

/// Calls `call(attempt)` until it succeeds, its error is not retryable, `policy.max_attempts` are
/// used up, or the deadline would pass. Waits with full jitter between attempts.
async fn retry<T, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    jitter: &mut FullJitter,
    mut call: F,
) -> Retried<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let start = Instant::now();
    let deadline = start + policy.deadline;
    let mut waits = Vec::new();
    let mut attempt = 0;
    let (error, gave_up) = loop {
        attempt += 1;
        // The deadline bounds each attempt too: a service that never answers cannot hold the loop
        // past it. When the timer wins, the attempt's future is dropped, which cancels the request.
        let error = match timeout_at(deadline, call(attempt)).await {
            Ok(Ok(value)) => {
                info!("{what}: attempt {attempt} succeeded");
                return Retried {
                    result: Ok(value),
                    gave_up: None,
                    attempts: attempt,
                    waits,
                    total: start.elapsed(),
                };
            }
            Ok(Err(error)) => error,
            Err(_elapsed) => break (ServiceError::TimedOut, GaveUp::Deadline),
        };
        if !error.retryable() {
            break (error, GaveUp::NotRetryable);
        }
        if attempt >= policy.max_attempts {
            break (error, GaveUp::AttemptsUsedUp);
        }
        let wait = jitter.next_wait(attempt);
        // A wait that ends at or past the deadline leaves no time for the attempt after it: stop now
        // rather than sleep for nothing.
        if Instant::now() + wait.wait >= deadline {
            break (error, GaveUp::Deadline);
        }
        warn!(
            "{what}: attempt {attempt} failed ({error}); retrying in {} (bound {})",
            fmt_duration(wait.wait),
            fmt_duration(wait.bound)
        );
        waits.push(wait);
        sleep(wait.wait).await;
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

/// A circuit breaker shared by every caller of one service. A `std::sync::Mutex`, not tokio's: the
/// lock is held for a few instructions and never across an `.await`, so it never blocks a worker.
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
}

/// Leave to make one call, from [`Breaker::admit`]. Report how it went with [`Ticket::finish`]. A
/// probe dropped without a report (its call was cancelled) counts as a failure: otherwise the
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
            }),
        }
    }

    /// The state cannot be left half-changed by a panic (each change is one assignment), so a
    /// poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transitions(&self) -> Vec<(Duration, Circuit)> {
        self.lock().transitions.clone()
    }

    /// May a call go to the service now? Closed: yes. Open: no, until the recovery time has passed;
    /// then the first caller becomes the one probe and the breaker is half-open. Half-open: no.
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
    async fn call<T, Fut>(&self, call: impl FnOnce() -> Fut) -> Result<T, ServiceError>
    where
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let ticket = self.admit()?;
        let result = call().await;
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
    about = "19 · Retry with backoff: exponential backoff with full jitter (seeded), a deadline over \
             all attempts, retryable vs final errors with their cause chain, a circuit breaker that \
             admits one probe when half-open; then the same retry with the backon crate",
    long_about = None
)]
struct Args {
    /// Seed of the jitter: the same seed draws the same waits.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How many calls the retry demos' service fails before it answers (5 or more uses up the
    /// 5 attempts).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=100))]
    fail_first: u64,
}

/// GET `url` once: `Ok(())` on a 2xx, a [`ServiceError`] otherwise.
async fn get(client: &reqwest::Client, url: &str) -> Result<(), ServiceError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| ServiceError::Transport(Box::new(e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(ServiceError::Status(status.as_u16()))
    }
}

/// `13 ms of 0..=20 ms` (full jitter), `35 ms of 20..40 ms` (backon's): each wait beside the range
/// it was drawn from, and a verdict if it fell outside.
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
    probes: usize,
    burst: usize,
}

/// Three failures open the breaker; a call while open fails fast; after the recovery time a burst
/// of five callers meets the half-open breaker: one probe goes through, four fail fast; the probe
/// succeeds (the service's bad spell is over) and the breaker closes.
async fn breaker_demo(client: &reqwest::Client, url: &str, breaker: &Breaker) -> BreakerRun {
    let sent = Cell::new(0u32);
    let calls = Cell::new(0u32);
    let fast_failed = Cell::new(0u32);
    // One call through the breaker; counts what reached the server and what failed fast.
    let one_call = || async {
        calls.set(calls.get() + 1);
        let result = breaker
            .call(|| async {
                sent.set(sent.get() + 1);
                get(client, url).await
            })
            .await;
        if matches!(
            result,
            Err(ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight)
        ) {
            fast_failed.set(fast_failed.get() + 1);
        }
        result
    };
    for _ in 0..breaker.threshold {
        if let Err(e) = one_call().await {
            info!("breaker demo: call failed: {e}");
        }
    }
    if let Err(e) = one_call().await {
        info!("breaker demo: while open: {e}");
    }
    sleep(breaker.recovery).await;
    // Five callers at once, on this one task (`join_all` polls them in turn): the first takes the
    // probe and waits for its answer; the other four find the breaker half-open.
    let probes = Cell::new(0usize);
    let burst = 5;
    futures::future::join_all((0..burst).map(|i| {
        let probes = &probes;
        let one_call = &one_call;
        async move {
            let result = one_call().await;
            if !matches!(
                result,
                Err(ServiceError::ProbeInFlight | ServiceError::BreakerOpen { .. })
            ) {
                probes.set(probes.get() + 1);
            }
            info!(
                "breaker demo: burst caller {i}: {}",
                match &result {
                    Ok(()) => "went through: ok".to_string(),
                    Err(e) => e.to_string(),
                }
            );
        }
    }))
    .await;
    if let Err(e) = one_call().await {
        info!("breaker demo: after the probe: {e}");
    }
    BreakerRun {
        transitions: breaker.transitions(),
        calls: calls.get(),
        sent: sent.get(),
        fast_failed: fast_failed.get(),
        probes: probes.get(),
        burst,
    }
}

/// The same retry as [`retry`], written with backon: its exponential backoff with its own jitter,
/// `when` sorts the errors, `adjust` drops a wait that would cross the deadline, `notify` logs.
async fn retry_with_backon(
    what: &str,
    policy: &RetryPolicy,
    seed: u64,
    client: &reqwest::Client,
    url: &str,
) -> Retried<()> {
    let start = Instant::now();
    let deadline = start + policy.deadline;
    let attempts = Cell::new(0u32);
    let mut waits = Vec::new();
    let backoff = ExponentialBuilder::new()
        .with_min_delay(policy.base)
        .with_max_delay(policy.cap)
        // backon counts retries, not attempts.
        .with_max_times(policy.max_attempts as usize - 1)
        .with_jitter()
        .with_jitter_seed(seed);
    let call = || async {
        attempts.set(attempts.get() + 1);
        get(client, url).await
    };
    let retrying = call
        .retry(backoff)
        .sleep(sleep)
        .when(ServiceError::retryable)
        .adjust(|_, wait| wait.filter(|w| Instant::now() + *w < deadline))
        .notify(|error, wait| {
            let n = attempts.get();
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
        });
    let result = match timeout_at(deadline, retrying).await {
        Ok(result) => result,
        Err(_elapsed) => Err(ServiceError::TimedOut),
    };
    let attempts = attempts.get();
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

// One thread is enough: every call waits on the network or a timer.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = common::parse_args::<Args>();
    common::init_logging();
    let server = TestServer::start()?;
    // No proxy: a proxy from the environment cannot reach our 127.0.0.1.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let fail_first = args.fail_first;

    info!("1. retry: the service fails its first {fail_first} calls");
    let mut jitter = FullJitter::new(args.seed, &POLICY);
    let url = server.url(&format!("/flaky/retry?fail_first={fail_first}"));
    let flaky = retry("GET /flaky/retry", &POLICY, &mut jitter, |_| {
        get(&client, &url)
    })
    .await;

    info!("2. not retryable: a 404");
    let url = server.url("/status/404");
    let mut jitter = FullJitter::new(args.seed, &POLICY);
    let missing = retry("GET /status/404", &POLICY, &mut jitter, |_| {
        get(&client, &url)
    })
    .await;

    info!("3. deadline: a service that always fails, slowly (40 ms), under a 150 ms deadline");
    let tight = RetryPolicy {
        max_attempts: 10,
        deadline: Duration::from_millis(150),
        ..POLICY
    };
    let url = server.url("/status/503?delay_ms=40");
    let mut jitter = FullJitter::new(args.seed, &tight);
    let late = retry("GET /status/503", &tight, &mut jitter, |_| {
        get(&client, &url)
    })
    .await;

    info!("4. circuit breaker: the service fails for its first 200 ms");
    let breaker = Breaker::new(3, Duration::from_millis(300));
    let breaker_run = breaker_demo(
        &client,
        &server.url("/flaky/breaker?fail_for_ms=200"),
        &breaker,
    )
    .await;

    info!("5. the retry of 1 with backon");
    let url = server.url(&format!("/flaky/backon?fail_first={fail_first}"));
    let backon = retry_with_backon("GET /flaky/backon", &POLICY, args.seed, &client, &url).await;

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
        "    half-open burst of {}: {} probe(s) admitted, {} failed fast (ideal 1 probe)",
        breaker_run.burst,
        breaker_run.probes,
        breaker_run.burst - breaker_run.probes
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
    //! On the paused clock, against a fake service that returns scripted outcomes (the test server's
    //! delays run on its own real-time runtime, so it cannot be used here): every wait, every
    //! attempt's start and every transition of the breaker happen at exactly the planned instant.
    use super::*;
    use std::collections::VecDeque;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A fake service: each call takes `latency`, then returns the next scripted outcome (`None`:
    /// success, `Some(code)`: that status); past the script it succeeds. Records when each call began.
    struct Fake {
        script: std::cell::RefCell<VecDeque<Option<u16>>>,
        latency: Duration,
        start: Instant,
        calls: std::cell::RefCell<Vec<Duration>>,
    }

    impl Fake {
        fn new(script: &[Option<u16>], latency: Duration) -> Self {
            Fake {
                script: std::cell::RefCell::new(script.iter().copied().collect()),
                latency,
                start: Instant::now(),
                calls: Default::default(),
            }
        }

        async fn call(&self) -> Result<(), ServiceError> {
            self.calls.borrow_mut().push(self.start.elapsed());
            sleep(self.latency).await;
            match self.script.borrow_mut().pop_front().flatten() {
                None => Ok(()),
                Some(code) => Err(ServiceError::Status(code)),
            }
        }

        fn starts(&self) -> Vec<Duration> {
            self.calls.borrow().clone()
        }
    }

    /// The waits seed 7 draws, worked out once from `StdRng` (the same on every platform) and
    /// written down: if the draw changed, the demo's figures would too.
    const SEED_7_WAITS: [u64; 4] = [0, 12, 11, 87];

    #[test]
    fn bounds_double_from_the_base_and_stop_at_the_cap() {
        let jitter = FullJitter::new(7, &POLICY);
        let bounds: Vec<u128> = (1..=6).map(|n| jitter.bound(n).as_millis()).collect();
        assert_eq!(bounds, [20, 40, 80, 160, 200, 200]);
        assert_eq!(jitter.bound(1000), POLICY.cap, "no overflow far out");
    }

    #[test]
    fn the_same_seed_draws_the_same_waits_each_within_its_bound() {
        let draw = |seed| {
            let mut jitter = FullJitter::new(seed, &POLICY);
            (1..=4).map(|n| jitter.next_wait(n)).collect::<Vec<_>>()
        };
        let waits = draw(7);
        assert_eq!(waits, draw(7));
        let as_ms: Vec<u64> = waits.iter().map(|w| w.wait.as_millis() as u64).collect();
        assert_eq!(as_ms, SEED_7_WAITS);
        assert!(waits.iter().all(|w| w.wait <= w.bound));
        // Full jitter spreads over the whole range: over many draws, some land in the lower half.
        let mut jitter = FullJitter::new(1, &POLICY);
        let low = (0..100)
            .filter(|_| jitter.next_wait(3).wait < ms(40))
            .count();
        assert!((20..80).contains(&low), "{low} of 100 below half");
    }

    #[tokio::test(start_paused = true)]
    async fn success_on_attempt_four_after_exactly_the_seeded_waits() {
        let fake = Fake::new(&[Some(503), Some(503), Some(503)], Duration::ZERO);
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
        assert!(r.result.is_ok());
        assert_eq!((r.attempts, r.gave_up), (4, None));
        let waits: Vec<u64> = r.waits.iter().map(|w| w.wait.as_millis() as u64).collect();
        assert_eq!(waits, SEED_7_WAITS[..3]);
        // Each attempt starts exactly when the previous wait ends; the total is their sum.
        let mut expected = vec![Duration::ZERO];
        for w in &r.waits {
            expected.push(*expected.last().expect("one") + w.wait);
        }
        assert_eq!(fake.starts(), expected);
        assert_eq!(r.total, *expected.last().expect("one"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_404_is_returned_at_once_with_its_cause_kept() {
        let fake = Fake::new(&[Some(404)], ms(5));
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
        assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::NotRetryable)));
        assert_eq!((r.waits.len(), r.total), (0, ms(5)));
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

    #[tokio::test(start_paused = true)]
    async fn a_429_and_a_503_are_retried_and_the_last_error_is_kept_when_attempts_run_out() {
        let fake = Fake::new(
            &[Some(429), Some(503), Some(503), Some(503), Some(502)],
            ms(1),
        );
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
        assert_eq!((r.attempts, r.gave_up), (5, Some(GaveUp::AttemptsUsedUp)));
        assert_eq!(r.waits.len(), 4);
        let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
        assert_eq!(r.total, waits + 5 * ms(1));
        let error = r.result.expect_err("all failed");
        assert_eq!(error.chain().count(), 3);
        assert!(format!("{error:#}").ends_with("attempt 5 of 5: HTTP 502"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_service_is_cut_off_exactly_at_the_deadline() {
        let fake = Fake::new(&[], Duration::from_secs(3600));
        let mut jitter = FullJitter::new(7, &POLICY);
        let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
        assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::Deadline)));
        assert_eq!(r.total, POLICY.deadline);
        let error = r.result.expect_err("timed out");
        assert!(matches!(
            error.root_cause().downcast_ref::<ServiceError>(),
            Some(ServiceError::TimedOut)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_is_taken_that_would_end_past_the_deadline() {
        let tight = RetryPolicy {
            max_attempts: 100,
            deadline: ms(150),
            ..POLICY
        };
        for seed in 0..50 {
            let fake = Fake::new(&[Some(503); 100], ms(40));
            let mut jitter = FullJitter::new(seed, &tight);
            let r = retry("fake", &tight, &mut jitter, |_| fake.call()).await;
            assert_eq!(r.gave_up, Some(GaveUp::Deadline), "seed {seed}");
            assert!(r.total <= tight.deadline, "seed {seed}: {:?}", r.total);
            // Exactly: the attempts' 40 ms each plus the waits taken (a wait past the deadline
            // would have made the total exceed it; a hung attempt would end exactly at it).
            let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
            let attempts_time = ms(40) * r.attempts;
            assert!(
                r.total == waits + attempts_time || r.total == tight.deadline,
                "seed {seed}: {:?} vs {:?} + {:?}",
                r.total,
                waits,
                attempts_time
            );
        }
    }

    /// Three failures through the breaker, from a fake that fails them.
    async fn open_it(breaker: &Breaker) {
        let fake = Fake::new(&[Some(503); 3], ms(10));
        for _ in 0..3 {
            assert!(breaker.call(|| fake.call()).await.is_err());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_after_three_failures_fails_fast_then_probes_and_closes() {
        let breaker = Breaker::new(3, ms(300));
        open_it(&breaker).await;
        // Opened at the end of the third call: 3 × 10 ms.
        sleep(ms(100)).await;
        let fake = Fake::new(&[], ms(10));
        match breaker.call(|| fake.call()).await {
            Err(ServiceError::BreakerOpen { retry_in }) => assert_eq!(retry_in, ms(200)),
            other => panic!("not failed fast: {other:?}"),
        }
        assert!(fake.starts().is_empty(), "nothing sent while open");
        sleep(ms(200)).await;
        assert!(breaker.call(|| fake.call()).await.is_ok());
        assert_eq!(
            breaker.transitions(),
            [
                (ms(0), Circuit::Closed),
                (ms(30), Circuit::Open),
                (ms(330), Circuit::HalfOpen),
                (ms(340), Circuit::Closed),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_for_another_recovery_time() {
        let breaker = Breaker::new(3, ms(300));
        open_it(&breaker).await;
        sleep(ms(300)).await;
        let fake = Fake::new(&[Some(500)], ms(10));
        assert!(breaker.call(|| fake.call()).await.is_err());
        let t = breaker.transitions();
        assert_eq!(
            t[2..],
            [(ms(330), Circuit::HalfOpen), (ms(340), Circuit::Open)]
        );
        sleep(ms(299)).await;
        assert!(matches!(
            breaker.admit(),
            Err(ServiceError::BreakerOpen { retry_in }) if retry_in == ms(1)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_exactly_one_probe_from_a_burst() {
        let breaker = Breaker::new(3, ms(300));
        open_it(&breaker).await;
        sleep(ms(300)).await;
        let fake = Fake::new(&[], ms(50));
        let results = futures::future::join_all((0..5).map(|_| breaker.call(|| fake.call()))).await;
        let through = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(ServiceError::ProbeInFlight)))
            .count();
        assert_eq!((through, refused), (1, 4));
        assert_eq!(fake.starts().len(), 1, "one request reached the service");
        assert_eq!(
            breaker.transitions().last(),
            Some(&(ms(380), Circuit::Closed))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_reopens_the_breaker_instead_of_wedging_it() {
        let breaker = Breaker::new(3, ms(300));
        open_it(&breaker).await;
        sleep(ms(300)).await;
        let fake = Fake::new(&[], Duration::from_secs(3600));
        let cut = tokio::time::timeout(ms(20), breaker.call(|| fake.call())).await;
        assert!(cut.is_err(), "the probe was cancelled");
        assert_eq!(
            breaker.transitions().last(),
            Some(&(ms(350), Circuit::Open))
        );
        sleep(ms(300)).await;
        let ticket = breaker.admit().expect("half-open again: a new probe");
        assert!(ticket.probe);
        ticket.finish(true);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_service_opens_the_breaker_and_a_hung_probe_reopens_it() {
        // A timeout is not retried, but it is what a breaker is for: three of them in a row open it,
        // and a probe that times out reopens it instead of closing it.
        let breaker = Breaker::new(3, ms(300));
        let hung = Fake::new(&[], Duration::from_secs(3600));
        let call_with_timeout = || async {
            tokio::time::timeout(ms(50), hung.call())
                .await
                .unwrap_or(Err(ServiceError::TimedOut))
        };
        for _ in 0..3 {
            let result = breaker.call(call_with_timeout).await;
            assert!(matches!(result, Err(ServiceError::TimedOut)), "{result:?}");
        }
        assert_eq!(
            breaker.transitions(),
            [(ms(0), Circuit::Closed), (ms(150), Circuit::Open)]
        );
        sleep(ms(300)).await;
        assert!(breaker.call(call_with_timeout).await.is_err());
        assert_eq!(
            breaker.transitions()[2..],
            [(ms(450), Circuit::HalfOpen), (ms(500), Circuit::Open)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_404_does_not_count_against_the_service() {
        let breaker = Breaker::new(3, ms(300));
        let fake = Fake::new(&[Some(404); 10], ms(1));
        for _ in 0..10 {
            assert!(breaker.call(|| fake.call()).await.is_err());
        }
        assert_eq!(breaker.transitions(), [(ms(0), Circuit::Closed)]);
    }

    #[tokio::test(start_paused = true)]
    async fn backon_sleeps_exactly_its_seeded_waits_each_in_d_to_2d() {
        // backon's own iterator, built with the same settings, says what it will draw.
        let planned: Vec<Duration> = backon::BackoffBuilder::build(
            ExponentialBuilder::new()
                .with_min_delay(POLICY.base)
                .with_max_delay(POLICY.cap)
                .with_max_times(4)
                .with_jitter()
                .with_jitter_seed(7),
        )
        .collect();
        assert_eq!(planned.len(), 4);
        let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
        let start = Instant::now();
        let mut slept = Vec::new();
        let result = (|| fake.call())
            .retry(
                ExponentialBuilder::new()
                    .with_min_delay(POLICY.base)
                    .with_max_delay(POLICY.cap)
                    .with_max_times(4)
                    .with_jitter()
                    .with_jitter_seed(7),
            )
            .sleep(sleep)
            .when(ServiceError::retryable)
            .notify(|_, wait| slept.push(wait))
            .await;
        assert!(result.is_ok());
        assert_eq!(slept, planned[..3]);
        // tokio's timer counts whole milliseconds: each sleep ends at the first millisecond tick at
        // or after its end, so backon's fractional waits are rounded up, one by one.
        let ceil_ms = |d: Duration| ms(d.as_nanos().div_ceil(1_000_000) as u64);
        let expected = slept.iter().fold(Duration::ZERO, |t, w| ceil_ms(t + *w));
        assert_eq!(start.elapsed(), expected);
        for (n, wait) in slept.iter().enumerate() {
            let d = ms(20 << n);
            assert!(d <= *wait && *wait < 2 * d, "wait {n}: {wait:?}");
        }
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
