//! The demo: a server on `127.0.0.1:0` driven by ureq from client threads: a tour of the routes, a
//! burst of concurrent requests, one client thread each (the access log shows a few and counts
//! the rest), and a graceful shutdown with a `/slow` request in flight.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{fmt_duration, time};
use tracing::{info, warn};

use crate::ServerArgs;
use crate::server::{self, Config, Server};

/// What the demo measured; `main` prints it and the tests check it.
#[derive(Debug)]
pub(crate) struct DemoReport {
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

/// A blocking HTTP client. `max_idle_connections(0)`: every request opens its own connection, so
/// the demo measures the server's pool and nothing of the client's.
pub(crate) fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_idle_connections(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends one request and returns its status and body.
pub(crate) fn send(agent: &ureq::Agent, method: &str, url: &str) -> anyhow::Result<(u16, String)> {
    let mut response = match method {
        "POST" => agent.post(url).send_empty()?,
        _ => agent.get(url).call()?,
    };
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok((status, body))
}

/// The tour of the routes, one request each.
pub(crate) const ROUTES: [(&str, &str); 5] = [
    ("GET", "/"),
    ("GET", "/user/7"),
    ("GET", "/data"),
    ("GET", "/nope"),
    ("POST", "/"),
];

/// How many requests of the burst the demo's access log shows; the rest are counted.
pub(crate) const BURST_LOGGED: u64 = 3;

/// Starts a server on `127.0.0.1:0`, drives it with ureq from client threads, and shuts it down
/// gracefully with a `/slow` request in flight.
pub(crate) fn demo(args: &ServerArgs, burst: usize) -> anyhow::Result<DemoReport> {
    // The access log shows the tour of the routes and the first few requests of the burst; the
    // rest of the burst is counted, so the lesson (n threads serve n requests at a time) stands
    // out instead of scrolling by in N lines.
    let config = Config {
        log_requests: ROUTES.len() as u64 + BURST_LOGGED,
        ..args.config()
    };
    let delay = config.delay;
    let threads = config.threads;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let server = Server::new(config);
    let stats = server.stats();
    // The demo's shutdown signal: a channel it sends on itself, where `serve` waits for Ctrl-C.
    let (stop, stop_signal) = mpsc::channel::<()>();
    let running = thread::Builder::new()
        .name("server".into())
        .spawn(move || server.run(listener, stop_signal))?;
    info!(
        "demo server listening on {base} (delay {}, {threads} threads)",
        fmt_duration(delay)
    );
    let agent = client();

    info!("--- the routes, one request at a time ---");
    let mut routes = Vec::new();
    for (method, path) in ROUTES {
        let (response, took) = time(|| send(&agent, method, &format!("{base}{path}")));
        let (status, body) = response?;
        info!(
            "{method} {path} -> {status} in {}: {}",
            fmt_duration(took),
            shorten(body.trim_end(), 60)
        );
        routes.push((format!("{method} {path}"), status));
    }

    info!("--- a burst of {burst} concurrent GET /user/{{id}}, one client thread each ---");
    let before = stats.snapshot();
    let (oks, burst_took) = time(|| {
        thread::scope(|scope| {
            let clients: Vec<_> = (0..burst)
                .map(|id| {
                    let (agent, base) = (&agent, &base);
                    thread::Builder::new()
                        .name(format!("client-{id}"))
                        .spawn_scoped(scope, move || {
                            match send(agent, "GET", &format!("{base}/user/{id}")) {
                                Ok((status, _)) => status == 200,
                                Err(e) => {
                                    warn!("burst request {id} failed: {e}");
                                    false
                                }
                            }
                        })
                })
                .collect();
            clients
                .into_iter()
                .map(|client| client.is_ok_and(|handle| handle.join().unwrap_or(false)))
                .collect::<Vec<bool>>()
        })
    });
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
    let slow = {
        let (agent, url) = (agent.clone(), format!("{base}/slow"));
        thread::Builder::new()
            .name("client-slow".into())
            .spawn(move || time(|| send(&agent, "GET", &url)))?
    };
    // Wait until the server is handling it, so the signal really lands mid-request (or until
    // the request has failed on its own: it is reported below).
    while stats.snapshot().in_flight == 0 && !slow.is_finished() {
        thread::sleep(Duration::from_millis(1));
    }
    info!("shutdown signal sent while GET /slow is in flight");
    let _ = stop.send(());
    let stopped = running
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    let (slow_response, slow_took) = slow
        .join()
        .map_err(|_| anyhow::anyhow!("the /slow client thread panicked"))?;
    let (slow_status, _) = slow_response?;
    info!(
        "GET /slow -> {slow_status} after {}",
        fmt_duration(slow_took)
    );
    let refused_after_shutdown = TcpStream::connect(addr).is_err();
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
        slow_status,
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
