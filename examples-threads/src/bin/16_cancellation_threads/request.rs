//! Step 3: a blocking call cannot be interrupted. A worker's GET to the local test server
//! (`/delay/1000`) is asked to stop after 150 ms; it sees the request only when the call returns at
//! 1000 ms: the latency to stop is what the call had left (measured), against 0 for the async twin,
//! which drops the request. The only cooperative fix is a deadline given to the call up front
//! (ureq's `timeout_global`), which is a timeout, not a cancel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use common::http_server::TestServer;
use tracing::info;

use crate::ms;

pub(crate) const REQUEST_MS: u64 = 1000;
pub(crate) const REQUEST_ABORT: Duration = ms(150);

#[derive(Debug)]
pub(crate) struct RequestFigures {
    /// What the call returned: a status, or an error described.
    pub(crate) answer: Result<u16, String>,
    pub(crate) asked_to_stop_after: Duration,
    pub(crate) stopped_after: Duration,
}

impl RequestFigures {
    pub(crate) fn latency_to_stop(&self) -> Duration {
        self.stopped_after.saturating_sub(self.asked_to_stop_after)
    }
}

pub(crate) fn demo_blocking_call(server: &TestServer) -> anyhow::Result<RequestFigures> {
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
