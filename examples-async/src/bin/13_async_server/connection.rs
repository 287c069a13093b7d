//! One connection, from accept to close, on hyper: its settings (the header timeout, the head-size
//! cap, half-closed clients), the request handler with its access log, the write deadline under
//! it, and the sorting of its errors.
//!
//! - **The header timeout**: a client that does not finish its request head in time is dropped (a
//!   "slowloris" sending a byte now and then cannot hold a connection forever: the timeout is for
//!   the whole head), and so is an idle keep-alive connection.
//! - **The write deadline**: hyper's header timeout stops once a head is in. A client that
//!   pipelines requests and never reads its answers would then hold its connection (and slot) for
//!   ever, its task waiting on a flush: `write_deadline.rs` fails the write instead.
//! - **Half-closed clients are answered**: a client may send its request and `shutdown(SHUT_WR)`
//!   (`nc -N` does). hyper's default takes that for an abort and answers nothing; this server
//!   allows half-closes (the price: a client that leaves mid-request is noticed only when its
//!   answer is written, so its handler runs to the end, as in the threads twin).
//! - **A cap on the request head** ([`MAX_HEAD_BYTES`], 16 KiB): past it, `431` and close.
//! - Client resets are logged at `debug` (a closed browser tab is not an error).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::routes::route;
use crate::server::{Config, InFlight, MAX_HEAD_BYTES, Stats};
use crate::write_deadline::{WriteDeadline, is_write_timeout};

/// hyper's HTTP/1 settings: the header timeout and the head-size cap live here.
pub(crate) fn http1_builder(config: &Config) -> http1::Builder {
    let mut http = http1::Builder::new();
    http
        // hyper's timeouts need a timer; this one is tokio's (so it follows the paused clock too).
        .timer(TokioTimer::new())
        // Started each time hyper waits for a request head, so it also expires idle keep-alive
        // connections: a silent client cannot hold a connection slot forever.
        .header_read_timeout(config.header_timeout)
        // The head must fit in this many bytes (431 otherwise), and hyper never buffers more than
        // this per connection: the memory a connection can cost is bounded.
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES)
        // A client may send its request and then close its sending side (`shutdown(SHUT_WR)`,
        // as `nc -N` and some HTTP/1.0 tools do) while it waits for the answer. By default hyper
        // takes that early end of input for an aborted request and drops the handler: a
        // `GET /user/1` would get no response at all. With half-close allowed it answers, then
        // closes. The price: a FIN mid-request no longer tells hyper the client has gone (it
        // cannot tell a close from a half-close), so hyper stops reading until the answer is
        // written and a departed client's handler runs to its end. Here a handler is a timer;
        // the write timeout still bounds what a client that never reads can hold.
        .half_close(true);
    http
}

/// One connection, from accept to close: hyper reads requests, calls [`route`] for each, writes the
/// responses, and keeps the connection open between requests (HTTP/1.1 keep-alive).
#[allow(clippy::too_many_arguments)] // each one is a separate thing this task owns or watches
pub(crate) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    // Held for the life of the connection: dropping it (however this task ends) frees the slot.
    _permit: OwnedSemaphorePermit,
    http: Arc<http1::Builder>,
    config: Arc<Config>,
    stats: Arc<Stats>,
    stopping: CancellationToken,
    grace_over: CancellationToken,
) {
    stats.live_connections.fetch_add(1, Ordering::Relaxed);
    // Small responses must not wait for Nagle's algorithm to batch them with more data.
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, "set_nodelay failed: {e}");
    }
    let (delay, log_requests) = (config.delay, config.log_requests);
    let handler_stats = Arc::clone(&stats);
    let service = service_fn(move |request| {
        let stats = Arc::clone(&handler_stats);
        async move {
            let in_flight = InFlight::enter(&stats);
            let (method, uri) = (request.method().clone(), request.uri().clone());
            let response = route(request, delay).await;
            // The access log: which worker thread finished which request (filtered out, at almost
            // no cost, under `RUST_LOG=warn` as in the load test), past `log_requests` at `debug`.
            if in_flight.1 <= log_requests {
                stats.logged.fetch_add(1, Ordering::Relaxed);
                info!("{method} {} -> {}", uri.path(), response.status());
            } else {
                debug!("{method} {} -> {}", uri.path(), response.status());
            }
            Ok::<_, Infallible>(response)
        }
    });
    // hyper's header timeout stops once a request head is in; the write deadline covers the
    // other direction, a client that stops reading its responses.
    let io = TokioIo::new(WriteDeadline::new(stream, config.write_timeout));
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);

    let result = tokio::select! {
        result = connection.as_mut() => Some(result),
        () = stopping.cancelled() => {
            // Finish the request in flight (if any), answer it with `Connection: close`, and stop;
            // an idle keep-alive connection closes at once.
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection.as_mut() => Some(result),
                () = grace_over.cancelled() => None,
            }
        }
    };
    match result {
        Some(Ok(())) => debug!(%peer, "connection closed"),
        Some(Err(e)) => classify_connection_error(&stats, peer, &e),
        None => debug!(%peer, "connection dropped: grace period over"),
    }
    stats.live_connections.fetch_sub(1, Ordering::Relaxed);
}

/// Sorts a connection's error into what a server on the internet sees all day (logged at `debug`,
/// counted) and what deserves a look (`warn`). Logging every reset at `warn` would bury the real
/// problems under clients that closed a browser tab.
pub(crate) fn classify_connection_error(stats: &Stats, peer: SocketAddr, e: &hyper::Error) {
    let client_went_away = e.is_incomplete_message()
        || e.is_canceled()
        || e.is_body_write_aborted()
        || io_error(e).is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            )
        });
    if io_error(e).is_some_and(is_write_timeout) {
        // Logged once per connection, at `info`: a client that does not read is worth seeing
        // (it held a connection slot for the whole write timeout), but it is not our error.
        stats.write_timeouts.fetch_add(1, Ordering::Relaxed);
        info!(%peer, "dropped: the client did not read its response in time (write timeout)");
    } else if e.is_timeout() {
        stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, "dropped: no complete request head in time");
    } else if e.is_parse() || e.is_parse_too_large() {
        // hyper has already answered 400 (or 431 for an oversized head) and closes.
        stats.bad_requests.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, "bad request head: {e}");
    } else if client_went_away {
        stats.clients_gone.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, "client went away: {e}");
    } else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        warn!(%peer, "connection error: {e}");
    }
}

/// The `std::io::Error` behind a hyper error, if an I/O error caused it.
pub(crate) fn io_error(e: &hyper::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = inner.source();
    }
    None
}
