//! The demo: a server on `127.0.0.1:0` driven by reqwest: a tour of the routes, a burst of
//! concurrent requests (the access log shows a few and counts the rest), and a graceful shutdown
//! with a `/slow` request in flight. The connections open at shutdown are reqwest's idle
//! keep-alive connections, closed at once, and the one with a request in flight, let finish.

use std::time::Duration;

use anyhow::Context;
use common::{fmt_duration, time_async};
use futures::future::join_all;
use reqwest::Method;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::sleep;
use tracing::{info, warn};

use crate::ServerArgs;
use crate::server::{self, Config, Server};

/// What the demo measured; `main` prints it and the tests check it.
#[derive(Debug)]
pub(crate) struct DemoReport {
    /// `("GET /", 200)`, ... for the tour of the routes.
    pub(crate) routes: Vec<(String, u16)>,
    pub(crate) burst: usize,
    pub(crate) burst_all_ok: bool,
    pub(crate) burst_took: Duration,
    pub(crate) peak_in_flight: usize,
    pub(crate) slow_status: u16,
    pub(crate) slow_took: Duration,
    pub(crate) dropped_after_grace: usize,
    pub(crate) refused_after_shutdown: bool,
    pub(crate) server: server::Snapshot,
}

/// The tour of the routes, one request each.
pub(crate) const ROUTES: [(Method, &str); 5] = [
    (Method::GET, "/"),
    (Method::GET, "/user/7"),
    (Method::GET, "/data"),
    (Method::GET, "/nope"),
    (Method::POST, "/"),
];

/// How many requests of the burst the demo's access log shows; the rest are counted.
pub(crate) const BURST_LOGGED: u64 = 3;

/// Starts a server on `127.0.0.1:0`, drives it with reqwest, and shuts it down gracefully with a
/// `/slow` request in flight.
pub(crate) async fn demo(args: &ServerArgs, burst: usize) -> anyhow::Result<DemoReport> {
    // The access log shows the tour of the routes and the first few requests of the burst; the
    // rest of the burst is counted, so the lesson (N requests answered in about one delay) stands
    // out instead of scrolling by in N lines.
    let config = Config {
        log_requests: ROUTES.len() as u64 + BURST_LOGGED,
        ..args.config()
    };
    let delay = config.delay;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let server = Server::new(config);
    let stats = server.stats();
    // The demo's shutdown signal: a oneshot it fires itself, where `serve` waits for Ctrl-C.
    let (stop, stop_signal) = oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, async {
        // An error means the sender was dropped: stop as well.
        let _ = stop_signal.await;
    }));
    info!(
        "demo server listening on {base} (delay {})",
        fmt_duration(delay)
    );

    // `no_proxy`: the demo talks to loopback, never through an HTTP_PROXY from the environment.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;

    info!("--- the routes, one request at a time ---");
    let mut routes = Vec::new();
    for (method, path) in ROUTES {
        let (response, took) = time_async(
            client
                .request(method.clone(), format!("{base}{path}"))
                .send(),
        )
        .await;
        let response = response?;
        let status = response.status();
        let body = response.text().await?;
        info!(
            "{method} {path} -> {status} in {}: {}",
            fmt_duration(took),
            shorten(body.trim_end(), 60)
        );
        routes.push((format!("{method} {path}"), status.as_u16()));
    }

    info!("--- a burst of {burst} concurrent GET /user/{{id}} ---");
    let before = stats.snapshot();
    let requests = (0..burst).map(|id| {
        let request = client.get(format!("{base}/user/{id}")).send();
        async move {
            match request.await {
                Ok(response) => response.status().is_success(),
                Err(e) => {
                    warn!("burst request {id} failed: {e}");
                    false
                }
            }
        }
    });
    let (oks, burst_took) = time_async(join_all(requests)).await;
    let burst_all_ok = oks.iter().all(|ok| *ok);
    let after = stats.snapshot();
    let peak_in_flight = after.peak_in_flight.max(before.peak_in_flight);
    let shown = after.logged - before.logged;
    info!(
        "burst: {burst} concurrent GET /user/{{id}} answered {} in {} ({shown} shown above, {} more \
         counted: RUST_LOG=debug shows each)",
        if burst_all_ok { "200" } else { "with failures" },
        fmt_duration(burst_took),
        (after.requests - before.requests).saturating_sub(shown)
    );

    info!("--- graceful shutdown with GET /slow in flight ---");
    let slow = tokio::spawn(time_async(client.get(format!("{base}/slow")).send()));
    // Wait until the server is handling it, so the signal really lands mid-request (or until
    // the request has failed on its own: it is reported below).
    while stats.snapshot().in_flight == 0 && !slow.is_finished() {
        sleep(Duration::from_millis(1)).await;
    }
    info!("shutdown signal sent while GET /slow is in flight");
    let _ = stop.send(());
    let stopped = running.await.context("the server task panicked")?;
    let (slow_response, slow_took) = slow.await.context("the /slow request task panicked")?;
    let slow_status = slow_response?.status();
    info!(
        "GET /slow -> {slow_status} after {}",
        fmt_duration(slow_took)
    );
    let refused_after_shutdown = TcpStream::connect(addr).await.is_err();
    info!(
        "a new connection after shutdown is {}",
        if refused_after_shutdown {
            "refused"
        } else {
            "accepted (unexpected)"
        }
    );

    Ok(DemoReport {
        routes,
        burst,
        burst_all_ok,
        burst_took,
        peak_in_flight,
        slow_status: slow_status.as_u16(),
        slow_took,
        dropped_after_grace: stopped.dropped_after_grace,
        refused_after_shutdown,
        server: stats.snapshot(),
    })
}

/// The first `max` characters of `text`, with `...` if it was longer.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}
