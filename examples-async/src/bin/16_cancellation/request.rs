//! Step 4: a request aborted. A GET to the local test server (`/delay/2000`) dropped by the token
//! after 150 ms (`run_until_cancelled`), and one under a 50 ms `timeout`. Dropping reqwest's future
//! closes the connection: nothing keeps waiting for the 2 s answer.

use std::time::Duration;

use common::fmt_duration;
use common::http_server::TestServer;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{cancel_after, ms};

/// How a request ended: a status, cancelled/timed out before the answer, or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    Status(u16),
    Stopped,
    Failed(String),
}

/// GET `url`, read the whole body. The future holds the connection: dropping it closes it.
pub(crate) async fn get(client: &reqwest::Client, url: &str) -> Fetched {
    let answer = async {
        let response = client.get(url).send().await?;
        let status = response.status().as_u16();
        response.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    };
    match answer.await {
        Ok(status) => Fetched::Status(status),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}

#[derive(Debug)]
pub(crate) struct RequestFigures {
    pub(crate) cancelled: Fetched,
    pub(crate) cancelled_after: Duration,
    pub(crate) timed_out: Fetched,
    pub(crate) timed_out_after: Duration,
    pub(crate) control: Fetched,
    pub(crate) control_after: Duration,
}

pub(crate) const SLOW_REQUEST_MS: u64 = 2000;
pub(crate) const REQUEST_ABORT: Duration = ms(150);
pub(crate) const REQUEST_TIMEOUT: Duration = ms(50);
pub(crate) const CONTROL_REQUEST_MS: u64 = 100;

pub(crate) async fn demo_abort_a_request(server: &TestServer) -> anyhow::Result<RequestFigures> {
    info!(
        "--- 4. a request to the local server, cancelled after 150 ms, or under a 50 ms timeout ---"
    );
    // `no_proxy`: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let slow = server.url(&format!("/delay/{SLOW_REQUEST_MS}"));

    let token = CancellationToken::new();
    let _user = cancel_after(token.clone(), REQUEST_ABORT);
    let start = Instant::now();
    // `run_until_cancelled` is the `select!` of step 1 packaged: `None` if the token won.
    let cancelled = token
        .run_until_cancelled(get(&client, &slow))
        .await
        .unwrap_or(Fetched::Stopped);
    let cancelled_after = start.elapsed();
    info!(
        "GET {slow}: {cancelled:?} after {}",
        fmt_duration(cancelled_after)
    );

    let start = Instant::now();
    let timed_out = timeout(REQUEST_TIMEOUT, get(&client, &slow))
        .await
        .unwrap_or(Fetched::Stopped);
    let timed_out_after = start.elapsed();
    info!(
        "GET {slow} under timeout(50 ms): {timed_out:?} after {}",
        fmt_duration(timed_out_after)
    );

    // The control: the same path works when nobody cancels it.
    let quick = server.url(&format!("/delay/{CONTROL_REQUEST_MS}"));
    let start = Instant::now();
    let control = get(&client, &quick).await;
    let control_after = start.elapsed();
    info!(
        "GET {quick}: {control:?} after {}",
        fmt_duration(control_after)
    );
    Ok(RequestFigures {
        cancelled,
        cancelled_after,
        timed_out,
        timed_out_after,
        control,
        control_after,
    })
}
