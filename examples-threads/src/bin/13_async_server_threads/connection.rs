//! One connection, on one worker, from its first request to close: the request loop, the access
//! log, the answers to heads the server cannot take, and the sorting of I/O errors.
//!
//! - **Keep-alive needs care.** A keep-alive client owns its worker while it is connected, so an
//!   idle keep-alive connection gives its worker up as soon as another client is queued (and the
//!   response says `connection: close` when someone is waiting). An async connection costs a few
//!   KiB when idle; here it would cost a whole thread.
//! - **A client that never reads would block its worker for ever** in `write_all` once the socket
//!   buffers are full (sixteen such clients stop the server): every response is written under the
//!   write deadline (`write_deadline.rs`); past it the connection is dropped, logged once, and the
//!   worker freed.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::Receiver;
use tracing::{debug, info, warn};

use crate::parse::{HeadError, read_head};
use crate::routes::{Response, bad_request, reason, route};
use crate::server::{InFlight, MAX_HEAD_BYTES, Queued, Shared, Stats};
use crate::write_deadline::{is_write_timeout, write_all_by};

/// One connection, on one worker, from its first request to close (HTTP/1.1 keep-alive).
pub(crate) fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    queued: &Receiver<Queued>,
) {
    let stats = &shared.stats;
    stats.live_connections.fetch_add(1, Ordering::Relaxed);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    if let Ok(clone) = stream.try_clone() {
        shared
            .open
            .lock()
            .expect("no worker panics holding it")
            .insert(id, clone);
    }
    let _ = stream.set_nodelay(true);
    let write_timeout = shared.config.write_timeout;

    // Bytes read but not yet parsed: a client may send its next request right behind this one.
    let mut buffer = Vec::with_capacity(1024);
    let mut answered = 0u64;
    loop {
        let head = match read_head(&mut stream, &mut buffer, answered > 0, shared, queued) {
            Ok(Some(head)) => head,
            Ok(None) => {
                debug!(%peer, "connection closed");
                break;
            }
            Err(HeadError::Malformed(e)) => {
                stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "bad request head: {e}");
                let _ = write_response(&mut stream, &bad_request(400), false, write_timeout);
                break;
            }
            Err(HeadError::BadContentLength) => {
                // Two lengths that disagree, or one that is not a number: the request's end is
                // ambiguous (the ground of request smuggling). hyper answers 400 too.
                stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "bad request head: conflicting or invalid content-length");
                let _ = write_response(&mut stream, &bad_request(400), false, write_timeout);
                break;
            }
            Err(HeadError::TooLarge) => {
                stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "request head over {MAX_HEAD_BYTES} bytes");
                let _ = write_response(&mut stream, &bad_request(431), false, write_timeout);
                break;
            }
            Err(HeadError::Timeout) => {
                stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "dropped: no complete request head in time");
                break;
            }
            Err(HeadError::Io(e)) => {
                classify_io_error(stats, peer, &e);
                break;
            }
        };
        let (response, number) = {
            let in_flight = InFlight::enter(stats);
            let response = route(&head.method, &head.path, shared.config.delay);
            (response, in_flight.1)
        };
        // The access log: which worker served which request; past `log_requests` at `debug`.
        let status = (head.method.as_str(), head.path.as_str(), response.status);
        if number <= shared.config.log_requests {
            stats.logged.fetch_add(1, Ordering::Relaxed);
            info!(
                "{} {} -> {} {}",
                status.0,
                status.1,
                status.2,
                reason(status.2)
            );
        } else {
            debug!(
                "{} {} -> {} {}",
                status.0,
                status.1,
                status.2,
                reason(status.2)
            );
        }
        // Keep the connection only if the client wants to, the request has no body to skip, the
        // server is not shutting down, and nobody is queued: a keep-alive client must not keep a
        // worker to itself while other clients wait for one.
        let keep_alive = head.keep_alive
            && !head.has_body
            && !shared.stopping.load(Ordering::SeqCst)
            && queued.is_empty();
        if let Err(e) = write_response(&mut stream, &response, keep_alive, write_timeout) {
            classify_io_error(stats, peer, &e);
            break;
        }
        answered += 1;
        if !keep_alive {
            break;
        }
    }
    shared
        .open
        .lock()
        .expect("no worker panics holding it")
        .remove(&id);
    stats.live_connections.fetch_sub(1, Ordering::Relaxed);
}

/// Sorts an I/O error into "the client went away" (`debug`) and the rest (`warn`).
pub(crate) fn classify_io_error(stats: &Stats, peer: SocketAddr, e: &io::Error) {
    if is_write_timeout(e) {
        // Logged once per connection, at `info`: a client that does not read is worth seeing
        // (it held a worker for the whole write timeout), but it is not our error.
        stats.write_timeouts.fetch_add(1, Ordering::Relaxed);
        info!(%peer, "dropped: the client did not read its response in time (write timeout)");
    } else if matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    ) {
        stats.clients_gone.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, "client went away: {e}");
    } else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        warn!(%peer, "connection error: {e}");
    }
}

/// Writes `response` as HTTP/1.1 in one `write_all_by` (one system call for a small response),
/// within `timeout`.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
    timeout: Duration,
) -> io::Result<()> {
    let allow = if response.status == 405 {
        "allow: GET\r\n"
    } else {
        ""
    };
    let bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: {}\r\n{allow}\r\n{}",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
        response.body
    );
    write_all_by(stream, bytes.as_bytes(), timeout)
}
