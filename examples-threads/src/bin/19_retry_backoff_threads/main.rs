//! # 19 · Retry with backoff, with threads: blocking calls, `thread::sleep`, a breaker behind a `Mutex`
//!
//! The same scenario as `examples-async/src/bin/19_retry_backoff/main.rs`: a flaky service (the
//! local test server's `/flaky/{id}`) called through a retry loop ([`retry`]) with exponential
//! backoff and full jitter (`policy.rs`; the same seed draws the same waits as the twin), a `404`
//! returned at once with its cause chain (`service.rs`), a deadline over all attempts, and a circuit
//! breaker (`breaker.rs`: closed, open, half-open with exactly one probe) in front of the service;
//! then the same retry with `backon`'s blocking retry ([`retry_with_backon`]).
//!
//! What differs from the async twin, and why:
//! - **The deadline is a setting of each call, not a race.** A blocking call cannot be cancelled from
//!   outside (no one can stop this thread), so each attempt is given the time left before the
//!   deadline as its own timeout. An attempt cut at it ends when the blocking call returns, a little
//!   after the deadline: the summary prints how far past it.
//! - **The wait is `thread::sleep`**: the thread does nothing else meanwhile. Fine for one caller;
//!   a thousand callers retrying at once are a thousand sleeping threads, where the twin's are a
//!   thousand timers on one thread.
//! - **The breaker is shared between threads** behind a `std::sync::Mutex`, as the twin's is.
//! - **backon's blocking retry** (`BlockingRetryable`, `.sleep(thread::sleep)`) has no `adjust`, so
//!   the wait that would cross the deadline cannot be dropped: its deadline is `with_total_delay`
//!   (the sum of the waits) plus each request's timeout of the time left.
//!
//! Production crates: `backon` (both kinds), `tower`'s `retry` and `tower::limit` (async only).
//! Upstream: `src/js/asynchrony/19_retry_backoff.js`.
//!
//! Run: `cargo run -p examples-threads --bin 19_retry_backoff_threads` (about 1 s). Flags: `--seed N`
//! (default 7), `--fail-first N` (default 3). Output of a real run:
//! `docs/output/19_retry_backoff_threads.txt`.

mod breaker;
mod policy;
mod report;
mod service;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder};
use common::fmt_duration;
use common::http_server::TestServer;
use tracing::{info, warn};
use ureq::Agent;

use breaker::{Breaker, breaker_demo};
use policy::{FullJitter, POLICY, RetryPolicy, Wait};
use report::{Args, Runs};
use service::{GaveUp, Retried, ServiceError, get};

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
    let (mut attempt, mut planned) = (0, start);
    let (error, gave_up) = loop {
        attempt += 1;
        let now = Instant::now();
        let time_left = deadline.saturating_duration_since(now);
        planned = planned.max(now + time_left);
        if time_left.is_zero() {
            break (ServiceError::TimedOut, GaveUp::Deadline);
        }
        let error = match call(attempt, time_left) {
            Ok(value) => {
                info!("{what}: attempt {attempt} succeeded");
                return Retried::new(Ok(value), None, attempt, waits, (start, planned));
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
        let now = Instant::now();
        if now + wait.wait >= deadline {
            break (error, GaveUp::Deadline);
        }
        planned = planned.max(now + wait.wait);
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
    Retried::new(Err(error), Some(gave_up), attempt, waits, (start, planned))
}

/// The same retry as [`retry`], with backon's blocking retry: its exponential backoff with its own
/// jitter, `when` sorts the errors, `notify` logs. It has no `adjust`, and `with_total_delay`
/// counts the waits, not the attempts: so the sleep stops at the deadline, and the attempt after it
/// finds no time left. Each request's timeout is the time left.
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
    let (mut waits, planned) = (Vec::new(), Cell::new(start));
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
        let now = Instant::now();
        let time_left = deadline.saturating_duration_since(now);
        if time_left.is_zero() {
            return Err(ServiceError::TimedOut);
        }
        planned.set(planned.get().max(now + time_left));
        get(agent, url, time_left)
    };
    // When a wait from now ends, cut at the deadline: what the sleep and the plan both use.
    let ends = move |wait: Duration| (Instant::now() + wait).min(deadline);
    let result = call
        .retry(backoff)
        .sleep(move |wait| thread::sleep(ends(wait).saturating_duration_since(Instant::now())))
        .when(ServiceError::retryable)
        .notify(|error, wait| {
            let (now, end) = (Instant::now(), ends(wait));
            planned.set(planned.get().max(end));
            let slept = end.saturating_duration_since(now);
            let n = attempts.load(Ordering::Relaxed);
            let wait = Wait::backon(wait, n, policy);
            let cut_note = if slept < wait.wait {
                format!(", cut to {} by the deadline", fmt_duration(slept))
            } else {
                String::new()
            };
            warn!(
                "{what}: attempt {n} failed ({error}); backon retries in {} (of {}..{}){cut_note}",
                fmt_duration(wait.wait),
                fmt_duration(wait.low),
                fmt_duration(wait.bound)
            );
            waits.push(wait);
        })
        .call();
    let attempts = attempts.load(Ordering::Relaxed);
    let gave_up = result
        .as_ref()
        .err()
        .map(|e| GaveUp::of(e, attempts, policy));
    let result = result.map_err(|e| {
        anyhow::Error::new(e)
            .context(format!("attempt {attempts} of {}", policy.max_attempts))
            .context(format!("{what}: backon gave up"))
    });
    Retried::new(result, gave_up, attempts, waits, (start, planned.get()))
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

    report::print_summary(&Runs {
        seed: args.seed,
        flaky,
        missing,
        late,
        late_deadline: tight.deadline,
        breaker_run,
        recovery: breaker.recovery,
        backon,
    });
    Ok(())
}

#[cfg(test)]
mod tests;
