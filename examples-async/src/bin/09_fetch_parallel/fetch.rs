//! One request: a GET with a timeout, and every way it can end turned into an [`Outcome`].
//!
//! - **A timeout per request**: `tokio::time::timeout` races the request against a timer; when the
//!   timer wins, the request future is **dropped**, which cancels it (the connection is closed). No
//!   thread is left blocked, unlike Python's `to_thread` under `asyncio.timeout`.
//! - **Failures are failures.** A `500` is a response, not a success (JS: `response.ok` is false): it
//!   is counted as failed, as are the timeout, a refused connection and a bad URL. Upstream counts
//!   every response as "fetched" (JS `Promise.all`, `response.ok`), and prints a speedup even when
//!   every request failed; this one prints none then.

use std::time::Duration;

use common::{fmt_duration, time_async};
use reqwest::Client;
use tracing::info;

use crate::report::{Fetched, InFlight, Outcome, describe};

/// GETs `url` and reads the whole body, giving up after `timeout`. Never panics, never returns an
/// error: every way a request can end is an [`Outcome`], so the caller can count them.
pub async fn fetch(
    client: &Client,
    number: usize,
    url: &str,
    timeout: Duration,
    in_flight: &InFlight,
) -> Fetched {
    let _in_flight = in_flight.enter();
    let request = async {
        // A URL that does not parse is reported here, by `send`, as an error: not a panic.
        let response = client.get(url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body.len()))
    };
    // `timeout` polls `request` and a timer together. If the timer fires first, `request` is dropped
    // mid-flight: dropping a future is how Rust cancels it (its connection is closed).
    let (result, took) = time_async(tokio::time::timeout(timeout, request)).await;
    let outcome = match result {
        Err(_elapsed) => Outcome::TimedOut(timeout),
        Ok(Err(error)) => Outcome::Failed(describe(&error)),
        Ok(Ok((status, bytes))) if status.is_success() => Outcome::Ok { status, bytes },
        Ok(Ok((status, bytes))) => Outcome::HttpError { status, bytes },
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

/// The HTTP client: one for the whole program, so connections are pooled and reused.
///
/// `local` turns off proxies from the environment (`HTTP_PROXY`...): a proxy cannot reach our
/// `127.0.0.1`. Real URLs (`--url`) go through the user's proxy, if any, like any other program.
pub fn client(local: bool) -> reqwest::Result<Client> {
    let builder = Client::builder()
        // Some sites (api.github.com, upstream's example) refuse requests without a User-Agent.
        .user_agent(concat!("rust-asynchrony-09/", env!("CARGO_PKG_VERSION")));
    let builder = if local { builder.no_proxy() } else { builder };
    builder.build()
}
