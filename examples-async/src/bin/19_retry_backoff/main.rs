//! # 19 · Retry with backoff: full jitter, one deadline, retryable errors, a circuit breaker
//!
//! A flaky service (the local test server's `/flaky/{id}`) called five ways:
//!
//! 1. **Retry with exponential backoff and full jitter**, hand-written ([`retry`]): after the n-th
//!    failure wait a random time in `[0, min(cap, base · 2^(n-1))]` (seeded, `policy.rs`), at most 5
//!    attempts. Upstream's demo: fails 3 times, "success on call 4" (base 20 ms, cap 200 ms).
//! 2. **Errors sorted** (`service.rs`): a `503`, a `429` or no answer may pass on a second try; a
//!    `404` will not, so it is returned at once, keeping its **cause chain** (`anyhow` context over
//!    the service's error; upstream's final error loses the original).
//! 3. **A deadline over all attempts**: every attempt ends at it (`timeout_at`), and a wait that would
//!    end past it is not taken. The total is printed beside the deadline (an attempt cut at it ends
//!    when the timer wakes the task, a little after).
//! 4. **A circuit breaker** (`breaker.rs`) that admits exactly one probe when half-open.
//! 5. The same retry with **`backon`** ([`retry_with_backon`]), the crate production code would use,
//!    to read side by side. Its jitter adds a random share on top (`[d, 2d)`), so its waits never go
//!    below the curve. Also well kept: `tower`'s `retry` middleware and `tower::limit`.
//!
//! Why hand-write it once: the loop is short, and every choice in it (what is retryable, when to
//! stop, where the breaker sits) is a decision a crate only lets you configure.
//!
//! Upstream: `src/js/asynchrony/19_retry_backoff.js` (`withRetry`, `CircuitBreaker`). Threads twin:
//! `examples-threads/src/bin/19_retry_backoff_threads/main.rs` (blocking calls, `thread::sleep`).
//!
//! Run: `cargo run -p examples-async --bin 19_retry_backoff` (about 1 s). Flags: `--seed N` (the
//! jitter's seed, default 7), `--fail-first N` (how many calls the retry demos' service fails,
//! default 3; 5 or more uses up the attempts). Output of a real run:
//! `docs/output/19_retry_backoff.txt`.

mod breaker;
mod policy;
mod report;
mod service;

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use common::fmt_duration;
use common::http_server::TestServer;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::{info, warn};

use breaker::{Breaker, breaker_demo};
use policy::{FullJitter, POLICY, RetryPolicy, Wait};
use report::{Args, Runs};
use service::{GaveUp, Retried, ServiceError, get};

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
    // Each attempt may last until the deadline (`timeout_at` below).
    let (mut attempt, mut planned) = (0, deadline);
    let (error, gave_up) = loop {
        attempt += 1;
        // The deadline bounds each attempt too: a service that never answers cannot hold the loop
        // past it. When the timer wins, the attempt's future is dropped, which cancels the request.
        let error = match timeout_at(deadline, call(attempt)).await {
            Ok(Ok(value)) => {
                info!("{what}: attempt {attempt} succeeded");
                return Retried::new(Ok(value), None, attempt, waits, (start, planned));
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
        sleep(wait.wait).await;
    };
    warn!("{what}: attempt {attempt} failed ({error}); giving up: {gave_up}");
    // The service's error stays the root of the chain; each context adds what the loop knew.
    let error = anyhow::Error::new(error)
        .context(format!("attempt {attempt} of {}", policy.max_attempts))
        .context(format!("{what}: gave up ({gave_up})"));
    Retried::new(Err(error), Some(gave_up), attempt, waits, (start, planned))
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
    // The whole retry runs under `timeout_at(deadline)`: any attempt may last until it.
    let (mut waits, planned) = (Vec::new(), Cell::new(deadline));
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
            planned.set(planned.get().max(Instant::now() + wait));
            let n = attempts.get();
            let wait = Wait::backon(wait, n, policy);
            warn!(
                "{what}: attempt {n} failed ({error}); backon retries in {} (of {}..{})",
                fmt_duration(wait.wait),
                fmt_duration(wait.low),
                fmt_duration(wait.bound)
            );
            waits.push(wait);
        });
    let result = match timeout_at(deadline, retrying).await {
        Ok(result) => result,
        Err(_elapsed) => Err(ServiceError::TimedOut),
    };
    let attempts = attempts.get();
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
