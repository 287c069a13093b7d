//! Reading and parsing a request head with httparse, under the header deadline.
//!
//! - **httparse parses, the server checks meaning**: two `Content-Length` headers that disagree,
//!   or one that is not a plain number, get `400` (as hyper answers): a request whose end is
//!   ambiguous is refused. A head over [`MAX_HEAD_BYTES`] gets `431`.
//! - **Blocking calls wait for one thing.** A worker blocked in `read` cannot also notice "shutdown
//!   started" or "a client is queued"; `tokio::select!` can. So workers read with a short timeout
//!   and look up between reads.
//! - **The whole head has one deadline**, however the client spreads its bytes: a client sending a
//!   byte now and then (a slowloris) is cut at the header timeout.
//! - **A silent connection costs a whole worker for the whole header timeout.** A fresh connection
//!   keeps its worker until its first head arrives or `--header-timeout-ms` passes; it cannot hand
//!   the worker over, since its client has not been answered yet. So n clients that connect and
//!   say nothing stall an n-thread server for the header timeout: with `--threads 2`, two silent
//!   connections and a 1.5 s header timeout, a `GET /` waited 1.50 s, where the async twin
//!   answered in 0.8 ms (the tests `silent_connections_*` of both twins measure it). That is the
//!   threads model's real cost: a short header timeout limits it, only more threads (or the async
//!   model) remove it.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::Receiver;

use crate::server::{MAX_HEAD_BYTES, MAX_HEADERS, POLL_INTERVAL, Queued, Shared};

/// What a worker needs from a request head. The routes read no body.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) keep_alive: bool,
    pub(crate) has_body: bool,
}

#[derive(Debug)]
pub(crate) enum HeadError {
    Malformed(httparse::Error),
    BadContentLength,
    TooLarge,
    Timeout,
    Io(io::Error),
}

/// Reads until `buffer` holds a complete request head, parses it with httparse and removes it from
/// `buffer`. `Ok(None)`: the client closed between requests, or the connection was idle and the
/// worker is wanted elsewhere (shutdown, or a client waiting in the queue while this one, already
/// answered at least once, sits on a keep-alive connection: `keep_alive_wait`).
pub(crate) fn read_head(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    keep_alive_wait: bool,
    shared: &Shared,
    queued: &Receiver<Queued>,
) -> Result<Option<Head>, HeadError> {
    // The whole head must arrive by this deadline, however the client spreads its bytes: a
    // per-`read` timeout alone would let a client sending one byte at a time stay forever.
    let deadline = Instant::now() + shared.config.header_timeout;
    let mut chunk = [0u8; 4096];
    loop {
        if !buffer.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buffer) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = head_of(&request)?;
                    buffer.drain(..len);
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) if buffer.len() >= MAX_HEAD_BYTES => {
                    return Err(HeadError::TooLarge);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
                Err(e) => return Err(HeadError::Malformed(e)),
            }
        }
        let idle = buffer.is_empty();
        let stopping = shared.stopping.load(Ordering::SeqCst);
        // An idle keep-alive connection (it has had a response and has been silent for a poll
        // interval) gives its worker back when another client is queued. A fresh connection is
        // never closed for that reason: its client has not been answered yet.
        let wanted_elsewhere = keep_alive_wait && !queued.is_empty();
        if idle && (stopping || wanted_elsewhere) && !is_first_wait(deadline, shared) {
            return Ok(None);
        }
        let now = Instant::now();
        if now >= deadline {
            // A silent connection just expires (as in hyper); half a head is a header timeout.
            return if idle {
                Ok(None)
            } else {
                Err(HeadError::Timeout)
            };
        }
        stream
            .set_read_timeout(Some(POLL_INTERVAL.min(deadline - now)))
            .map_err(HeadError::Io)?;
        // Read no more than the cap allows, so one client can make us buffer at most the cap.
        let room = (MAX_HEAD_BYTES + 1)
            .saturating_sub(buffer.len())
            .min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) if idle => return Ok(None),
            Ok(0) => {
                return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            // The poll interval passed with nothing to read (WouldBlock on Unix, TimedOut on
            // Windows): loop to check the deadline and the flags.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}

/// True during the first poll interval of a wait for a head: a keep-alive client that sends its
/// next request right after the last response (as browsers and `wrk` do) keeps its worker.
pub(crate) fn is_first_wait(deadline: Instant, shared: &Shared) -> bool {
    let waited = shared
        .config
        .header_timeout
        .saturating_sub(deadline.saturating_duration_since(Instant::now()));
    waited < POLL_INTERVAL
}

/// The parts of a parsed head the server uses; a conflicting or invalid `Content-Length` is an
/// error (httparse parses the syntax of headers, not their meaning).
pub(crate) fn head_of(request: &httparse::Request<'_, '_>) -> Result<Head, HeadError> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    let connection = header("connection").unwrap_or_default();
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it.
    let keep_alive = match request.version {
        Some(1) => !connection.contains("close"),
        _ => connection.contains("keep-alive"),
    };
    let length = content_length(request.headers).ok_or(HeadError::BadContentLength)?;
    let has_body = header("transfer-encoding").is_some() || length.is_some_and(|len| len > 0);
    Ok(Head {
        method: request.method.unwrap_or_default().to_string(),
        path: request.path.unwrap_or_default().to_string(),
        keep_alive,
        has_body,
    })
}

/// The request's `Content-Length`: `Some(None)` if there is none, `None` if it is invalid. Every
/// `Content-Length` header, and every comma-separated value in one, must be the same decimal
/// number (digits only: no sign, no spaces inside), as RFC 9110 asks and hyper checks.
pub(crate) fn content_length(headers: &[httparse::Header<'_>]) -> Option<Option<u64>> {
    let mut length = None;
    let values = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
        .flat_map(|h| h.value.split(|b| *b == b','));
    for value in values {
        let value = value.trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Digits only, so this fails only on overflow.
        let n: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
        if length.is_some_and(|seen| seen != n) {
            return None;
        }
        length = Some(n);
    }
    Some(length)
}
