//! One request: a blocking GET with a timeout, and every way it can end turned into an [`Outcome`].
//!
//! - **The timeout is a setting of the blocking call**, not a race: `tokio::time::timeout` cancels a
//!   request by dropping its future, but nothing can stop a thread from outside. So the client itself
//!   must give up (ureq puts deadlines on the socket reads and writes) and return `Err(Timeout)`.
//!   Blocking calls are fine here: a thread waiting on a socket blocks only itself.
//! - **Failures are failures**: the `500`, the timeout, a refused connection, a bad URL (upstream counts
//!   them as fetched; its JS prints a speedup when everything failed; this prints none then).

use std::time::Duration;

use common::{fmt_duration, time};
use tracing::info;
use ureq::Agent;

use crate::report::{Fetched, InFlight, Outcome, describe};

/// GETs `url` and reads the whole body, giving up after `timeout`. Never panics, never returns an
/// error: every way a request can end is an [`Outcome`], so the caller can count them.
pub fn fetch(
    client: &Agent,
    number: usize,
    url: &str,
    timeout: Duration,
    in_flight: &InFlight,
) -> Fetched {
    let _in_flight = in_flight.enter();
    // The timeout is the client's own deadline on connect, send and every read: the only way to stop
    // a blocking call, since no one can cancel this thread from outside.
    let request = || {
        // A URL that does not parse is reported here, by `call`, as an error: not a panic.
        let mut response = client
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()?;
        let status = response.status();
        // No size limit (ureq's default is 10 MB): we only count the bytes.
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok::<_, ureq::Error>((status, body.len()))
    };
    let (result, took) = time(request);
    let outcome = match result {
        Err(ureq::Error::Timeout(_)) => Outcome::TimedOut(timeout),
        Err(error) => Outcome::Failed(describe(&error)),
        Ok((status, bytes)) if status.is_success() => Outcome::Ok { status, bytes },
        Ok((status, bytes)) => Outcome::HttpError { status, bytes },
    };
    let verdict = if outcome.is_ok() { "" } else { " (failed)" };
    info!(
        "#{number} {url} -> {outcome}{verdict} in {}",
        fmt_duration(took)
    );
    Fetched {
        number,
        url: url.to_string(),
        outcome,
        took,
    }
}

/// The HTTP client: one for the whole program, shared by reference by every thread (an `Agent` is
/// `Sync`), so connections are pooled and reused.
///
/// `local` turns off proxies from the environment (`HTTP_PROXY`...): a proxy cannot reach our
/// `127.0.0.1`. Real URLs (`--url`) go through the user's proxy, if any, like any other program.
pub fn client(local: bool) -> Agent {
    let config = Agent::config_builder()
        // Some sites (api.github.com, upstream's example) refuse requests without a User-Agent.
        .user_agent(concat!(
            "rust-asynchrony-09-threads/",
            env!("CARGO_PKG_VERSION")
        ))
        // A 500 is a response to count, not an `Err` to unwrap: we look at the status ourselves.
        .http_status_as_error(false);
    let config = if local { config.proxy(None) } else { config };
    config.build().into()
}
