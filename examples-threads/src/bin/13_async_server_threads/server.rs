//! The server itself: an acceptor that takes a connection slot before each `accept`, a fixed pool
//! of worker threads fed by a queue of accepted connections, the routes, the limits, and the
//! graceful shutdown.
//!
//! [`Server::run`] takes the listener and the shutdown signal (a channel) as parameters, like the
//! async twin: `main` passes a bound address and a channel that Ctrl-C sends on, the demo and the
//! tests pass `127.0.0.1:0` and a channel they send on when they choose.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, unbounded};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use tracing::{debug, info, warn};

/// The largest request head (request line plus headers) a client may send; past it, `431` and
/// close. Without a cap one client could make a worker buffer an endless header line.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most headers a request may have (httparse parses into a fixed array).
const MAX_HEADERS: usize = 64;

/// How often a worker waiting on a socket looks up. A blocking `read` waits for one thing only,
/// the socket; it cannot also wait for "shutdown started" or "another client is queued" the way
/// `tokio::select!` can. So a worker waiting for a request reads with a short timeout and checks
/// those between reads. (The async twin needs no such polling.)
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long the acceptor pauses after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What the server is told at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The simulated database delay: `/user/{id}` waits this long, `/data` twice, `/slow` ten times.
    pub delay: Duration,
    /// Worker threads: at most this many connections are served at once.
    pub threads: usize,
    /// Connections held at once: those being served plus those queued for a worker. At the limit
    /// the acceptor waits for one to close before it accepts the next.
    pub max_connections: usize,
    /// A client that has not sent a complete request head this long after a worker started
    /// waiting for one is dropped.
    pub header_timeout: Duration,
    /// A response not fully written this long after its write began (the client does not read)
    /// drops the connection and frees the worker: see [`write_all_by`].
    pub write_timeout: Duration,
    /// After the shutdown signal: how long in-flight requests get to finish.
    pub grace_period: Duration,
    /// How many requests, the first ones, the access log shows at `info`; the rest go to `debug`
    /// (all are counted). `serve` shows every one; the demo a few, so its burst reads at a glance.
    pub log_requests: u64,
}

/// Counters the server keeps while it runs, as in the async twin.
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    live_connections: AtomicUsize,
    requests: AtomicU64,
    logged: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    bad_requests: AtomicU64,
    header_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    clients_gone: AtomicU64,
    errors: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections a worker is serving right now (never more than `threads`).
    pub live_connections: usize,
    /// Requests that reached a route (answered or still running).
    pub requests: u64,
    /// Requests the access log showed at `info` (see [`Config::log_requests`]).
    pub logged: u64,
    /// Requests being handled right now, and the most there ever were at once.
    pub in_flight: usize,
    pub peak_in_flight: usize,
    /// Heads httparse rejected or that were over [`MAX_HEAD_BYTES`] (answered 400 or 431).
    pub bad_requests: u64,
    /// Clients dropped because their request head did not arrive within the header timeout.
    pub header_timeouts: u64,
    /// Clients dropped because they did not read a response within the write timeout.
    pub write_timeouts: u64,
    /// Clients that went away before their response was written (reset, closed mid-request).
    pub clients_gone: u64,
    /// Anything else: logged at `warn`, and expected to stay 0.
    pub errors: u64,
}

impl Stats {
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            accepted: get(&self.accepted),
            live_connections: self.live_connections.load(Ordering::Relaxed),
            requests: get(&self.requests),
            logged: get(&self.logged),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
            bad_requests: get(&self.bad_requests),
            header_timeouts: get(&self.header_timeouts),
            write_timeouts: get(&self.write_timeouts),
            clients_gone: get(&self.clients_gone),
            errors: get(&self.errors),
        }
    }
}

/// Counts a request as in flight for as long as it lives (a guard, as in the async twin).
/// It also knows the request's number since start (1 for the first), for the access log.
struct InFlight<'a>(&'a Stats, u64);

impl<'a> InFlight<'a> {
    fn enter(stats: &'a Stats) -> Self {
        let number = stats.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(stats, number)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connection slots: the counting semaphore of the async twin, which std does not have, made of a
/// `Mutex<usize>` and a `Condvar` (07_semaphore_threads builds the same). The acceptor takes a
/// slot *before* `accept`, so at the limit it stops accepting and new clients wait in the kernel's
/// listen backlog, costing the server nothing.
struct Slots {
    held: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// One taken slot; dropping it (when the connection ends, wherever that is) frees it.
struct Slot(Arc<Slots>);

impl Slots {
    /// Waits for a free slot; `None` once `stopping` is set (the watcher wakes this wait).
    fn acquire(self: &Arc<Self>, stopping: &AtomicBool) -> Option<Slot> {
        let mut held = self
            .held
            .lock()
            .expect("never poisoned: no panics while held");
        while *held >= self.max && !stopping.load(Ordering::SeqCst) {
            held = self.freed.wait(held).expect("never poisoned");
        }
        if stopping.load(Ordering::SeqCst) {
            return None;
        }
        *held += 1;
        Some(Slot(Arc::clone(self)))
    }

    fn held(&self) -> usize {
        *self.held.lock().expect("never poisoned")
    }

    /// Wakes a waiting `acquire` so it can see the stop flag. Taking the lock first means the
    /// wake-up cannot slip in between its check of the flag and its `wait`.
    fn wake(&self) {
        let _held = self.held.lock().expect("never poisoned");
        self.freed.notify_all();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.held.lock().expect("never poisoned") -= 1;
        self.0.freed.notify_one();
    }
}

/// A connection on its way to a worker, with the slot it holds.
type Queued = (TcpStream, SocketAddr, Slot);

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections being served or queued when the shutdown signal came.
    pub open_at_signal: usize,
    /// Connections closed because the grace period ran out before they finished.
    pub dropped_after_grace: usize,
    /// From the signal to the last worker finished (or the grace period over).
    pub took: Duration,
}

/// What every worker shares.
struct Shared {
    config: Config,
    stats: Arc<Stats>,
    /// Set once at the shutdown signal; workers read it between requests and between polls.
    stopping: AtomicBool,
    slots: Arc<Slots>,
    /// A clone of every socket a worker is serving, so that when the grace period runs out the
    /// server can close them: a thread cannot be cancelled from outside, its socket can.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

/// A server, ready to run on a listener.
pub struct Server {
    config: Config,
    stats: Arc<Stats>,
}

impl Server {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            stats: Arc::default(),
        }
    }

    /// The server's counters; they stay readable while [`Server::run`] runs and after.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Serves connections from `listener` until `shutdown` receives a message or its sender is
    /// dropped, then shuts down gracefully. Blocks the calling thread, which is the acceptor.
    ///
    /// The accept loop, in order: take a connection slot (waits while `max_connections` are held),
    /// accept, push the connection into the queue, repeat; `threads` workers take connections from
    /// the queue and serve each one until it closes. At the limit new clients wait in the kernel's
    /// listen backlog: memory stays bounded.
    pub fn run(self, listener: TcpListener, shutdown: mpsc::Receiver<()>) -> Stopped {
        let Server { config, stats } = self;
        let threads = config.threads.max(1);
        let grace_period = config.grace_period;
        let shared = Arc::new(Shared {
            slots: Arc::new(Slots {
                held: Mutex::new(0),
                freed: Condvar::new(),
                max: config.max_connections.max(1),
            }),
            config,
            stats: Arc::clone(&stats),
            stopping: AtomicBool::new(false),
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
        });
        // Accepted connections wait here for a worker. Unbounded, because the slots already bound
        // it: a connection is only accepted with a slot in hand.
        let (queue, queued) = unbounded::<Queued>();

        // Each worker holds a clone of `worker_alive`; the receiver learns that all have exited
        // when the last clone is dropped (no message is ever sent).
        let (worker_alive, all_workers_done) = mpsc::channel::<()>();
        for n in 1..=threads {
            let queued = queued.clone();
            let shared = Arc::clone(&shared);
            let alive = worker_alive.clone();
            thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || {
                    let _alive = alive;
                    // Ends when the queue is closed (acceptor gone) and empty.
                    for (stream, peer, slot) in queued.iter() {
                        serve_connection(stream, peer, &shared, &queued);
                        drop(slot);
                    }
                })
                .expect("spawning a worker thread at start-up");
        }
        drop(worker_alive);

        // A blocking `accept` (or a wait for a slot) cannot also wait for the shutdown signal. A
        // watcher thread waits for it, raises the flag, wakes a wait for a slot, and connects to
        // the listener once to wake a blocked `accept`.
        let wake_addr = wake_address(&listener);
        let watcher_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("shutdown-watch".into())
            .spawn(move || {
                // A message or a dropped sender: both mean stop.
                let _ = shutdown.recv();
                watcher_shared.stopping.store(true, Ordering::SeqCst);
                watcher_shared.slots.wake();
                if let Err(e) = wake_addr.map(TcpStream::connect) {
                    debug!("could not wake the acceptor ({e:?}); it wakes at the next client");
                }
            })
            .expect("spawning the shutdown watcher at start-up");

        // The accept loop: take a slot (waits at the limit), accept, queue for a worker, repeat.
        while let Some(slot) = shared.slots.acquire(&shared.stopping) {
            let accepted = listener.accept();
            if shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let (stream, peer) = match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    warn!("accept failed: {e}; retrying");
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(ACCEPT_ERROR_BACKOFF);
                    continue;
                }
            };
            stats.accepted.fetch_add(1, Ordering::Relaxed);
            queue
                .send((stream, peer, slot))
                .expect("workers keep the queue open while the acceptor runs");
        }

        // Stop accepting: new clients are refused from here on.
        drop(listener);
        let signalled = Instant::now();
        let open_at_signal = shared.slots.held();
        info!(
            "shutdown: stopped accepting; {open_at_signal} connection(s) open, {} request(s) in \
             flight, grace period {} ms",
            stats.in_flight.load(Ordering::Relaxed),
            grace_period.as_millis()
        );
        // Closing the queue lets the workers finish what is queued and then exit.
        drop(queue);
        let mut dropped_after_grace = 0;
        // `Disconnected` is the good outcome: every worker has exited (nothing is ever sent).
        let grace_over = !matches!(
            all_workers_done.recv_timeout(grace_period),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        if grace_over {
            let open = shared.open.lock().expect("no worker panics holding it");
            dropped_after_grace = open.len();
            warn!("grace period over: closing {dropped_after_grace} connection(s) still open");
            for stream in open.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            // Their threads are still sleeping in a handler and cannot be stopped: they notice
            // the closed socket when they write, and exit. The process does not wait for them.
        }
        let took = signalled.elapsed();
        info!("shutdown: done in {} ms", took.as_millis());
        Stopped {
            open_at_signal,
            dropped_after_grace,
            took,
        }
    }
}

/// Where the watcher connects to wake the acceptor: the listener's address, with an unspecified
/// IP (`0.0.0.0`) replaced by loopback.
fn wake_address(listener: &TcpListener) -> io::Result<SocketAddr> {
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(addr)
}

/// One connection, on one worker, from its first request to close (HTTP/1.1 keep-alive).
fn serve_connection(
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

/// What a worker needs from a request head. The routes read no body.
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    keep_alive: bool,
    has_body: bool,
}

#[derive(Debug)]
enum HeadError {
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
fn read_head(
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
fn is_first_wait(deadline: Instant, shared: &Shared) -> bool {
    let waited = shared
        .config
        .header_timeout
        .saturating_sub(deadline.saturating_duration_since(Instant::now()));
    waited < POLL_INTERVAL
}

/// The parts of a parsed head the server uses; a conflicting or invalid `Content-Length` is an
/// error (httparse parses the syntax of headers, not their meaning).
fn head_of(request: &httparse::Request<'_, '_>) -> Result<Head, HeadError> {
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
fn content_length(headers: &[httparse::Header<'_>]) -> Option<Option<u64>> {
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

/// Sorts an I/O error into "the client went away" (`debug`) and the rest (`warn`).
fn classify_io_error(stats: &Stats, peer: SocketAddr, e: &io::Error) {
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

/// A response before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// The routes of upstream's JS server, as in the async twin; `thread::sleep` blocks this worker
/// (and only it) for the simulated query.
pub fn route(method: &str, path: &str, delay: Duration) -> Response {
    if method != "GET" {
        return json_response(
            405,
            &json!({ "error": "Method Not Allowed", "method": method }),
        );
    }
    // The path without a query string (hyper's `uri().path()` does this in the async twin).
    let path = path.split('?').next().unwrap_or_default();
    match path {
        "/" => text_response(
            200,
            "Hello from the threads server. Routes: GET /, GET /user/{id}, GET /data, GET /slow\n",
        ),
        "/data" => {
            simulated_query(delay * 2);
            json_response(200, &sample_data())
        }
        "/slow" => {
            simulated_query(delay * 10);
            text_response(200, "This was a slow response.\n")
        }
        _ => match path.strip_prefix("/user/") {
            Some(id) if !id.is_empty() && !id.contains('/') => match id.parse::<u64>() {
                Ok(id) => {
                    simulated_query(delay);
                    json_response(200, &User::new(id))
                }
                Err(_) => json_response(
                    400,
                    &json!({ "error": "user id must be a number", "id": id }),
                ),
            },
            _ => json_response(404, &json!({ "error": "Not Found", "path": path })),
        },
    }
}

/// The simulated database query: blocks this worker for `delay`. Unlike tokio's timer, std's
/// `thread::sleep` returns at once for a zero duration, without a system call, so `--delay-ms 0`
/// costs nothing here (the async twin has to skip its `sleep` for that).
fn simulated_query(delay: Duration) {
    thread::sleep(delay);
}

/// `/user/{id}`'s body. A typed struct, not `json!`: serde writes it straight to bytes, with no
/// intermediate map (this route takes the load test's traffic).
#[derive(Debug, Serialize)]
struct User {
    id: u64,
    name: String,
    email: String,
}

impl User {
    fn new(id: u64) -> Self {
        Self {
            id,
            name: format!("User {id}"),
            email: format!("user{id}@example.com"),
        }
    }
}

/// `/data`'s body, as upstream: a timestamp and five random values.
#[derive(Debug, Serialize)]
struct Data {
    timestamp: u64,
    data: Vec<DataPoint>,
}

#[derive(Debug, Serialize)]
struct DataPoint {
    id: u32,
    value: f64,
}

fn sample_data() -> Data {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut rng = SmallRng::seed_from_u64(now.as_nanos() as u64);
    Data {
        timestamp: now.as_millis() as u64,
        data: (1..=5)
            .map(|id| DataPoint {
                id,
                value: rng.random(),
            })
            .collect(),
    }
}

fn text_response(status: u16, body: &str) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.to_string(),
    }
}

fn json_response(status: u16, body: &impl Serialize) -> Response {
    Response {
        status,
        content_type: "application/json",
        // Serializing our own types cannot fail (no maps with non-string keys, no failing impls).
        body: serde_json::to_string(body).expect("serializable by construction"),
    }
}

/// The empty-bodied answer to a head the server could not take (400 or 431), as hyper sends.
fn bad_request(status: u16) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: String::new(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}

/// Writes `response` as HTTP/1.1 in one `write_all_by` (one system call for a small response),
/// within `timeout`.
fn write_response(
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

/// The error a write fails with when the client has not taken the bytes in time; a type of its
/// own, so the server can tell it from any other `TimedOut` the OS may report.
#[derive(Debug)]
struct WriteTimedOut;

impl std::fmt::Display for WriteTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client did not read the response within the write timeout")
    }
}

impl std::error::Error for WriteTimedOut {}

fn is_write_timeout(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<WriteTimedOut>())
}

/// What [`write_all_by`] needs of a socket: writes, and a timeout on each one (`TcpStream` has
/// both; a test gives it a client that reads a trickle at a time).
trait WriteWithTimeout: Write {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl WriteWithTimeout for TcpStream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

/// `write_all` with a deadline for the whole of `bytes`. A client that pipelines requests and never
/// reads fills the socket buffers, and then a plain `write_all` blocks its worker for ever: one
/// such client per worker stops the server. `set_write_timeout` bounds each `write` call; setting
/// it to what is left of the deadline before each call bounds the whole response, so a client
/// that takes a byte now and then cannot stretch it either.
fn write_all_by(
    stream: &mut impl WriteWithTimeout,
    mut bytes: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut);
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            // The timeout passed with the send buffer still full: WouldBlock on Unix, TimedOut on
            // Windows.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Routes, then the server on real sockets on `127.0.0.1:0` for the limits, the bad clients
    //! and the shutdown. Lower bounds that come from sleeps are exact; upper bounds are generous.
    use super::*;
    use crate::raw_exchange;
    use common::time;

    const DELAY: Duration = Duration::from_millis(100);

    #[test]
    fn each_route_takes_at_least_its_multiple_of_the_delay() {
        let delay = Duration::from_millis(20);
        for (path, expected) in [
            ("/", Duration::ZERO),
            ("/user/7", delay),
            ("/data", delay * 2),
            ("/slow", delay * 10),
        ] {
            let (response, took) = time(|| route("GET", path, delay));
            assert_eq!(response.status, 200, "{path}");
            assert!(took >= expected, "{path}: {took:?}");
            assert!(took < expected + Duration::from_secs(1), "{path}: {took:?}");
        }
    }

    #[test]
    fn errors_are_json_and_methods_other_than_get_get_405() {
        let user: serde_json::Value =
            serde_json::from_str(&route("GET", "/user/7?x=1", Duration::ZERO).body).expect("JSON");
        assert_eq!(user["email"], "user7@example.com");
        assert_eq!(user["id"], 7);
        for path in ["/nope", "/users", "/user/", "/user/1/x"] {
            let response = route("GET", path, Duration::ZERO);
            assert_eq!(response.status, 404, "{path}");
            let error: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
            assert_eq!(error["error"], "Not Found", "{path}");
            assert_eq!(error["path"], path);
        }
        assert_eq!(route("GET", "/user/abc", Duration::ZERO).status, 400);
        let (response, took) = time(|| route("POST", "/slow", DELAY));
        assert_eq!(response.status, 405);
        assert!(took < DELAY, "rejected before any waiting");
    }

    /// A running server on `127.0.0.1:0` and what a test needs to watch and stop it.
    struct Running {
        addr: SocketAddr,
        stats: Arc<Stats>,
        stop: mpsc::Sender<()>,
        thread: thread::JoinHandle<Stopped>,
    }

    fn start(config: Config) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = Server::new(config);
        let stats = server.stats();
        let (stop, signal) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("server".into())
            .spawn(move || server.run(listener, signal))
            .expect("spawn the server");
        Running {
            addr,
            stats,
            stop,
            thread,
        }
    }

    fn config() -> Config {
        Config {
            delay: DELAY,
            threads: 4,
            max_connections: 100,
            header_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            grace_period: Duration::from_secs(5),
            log_requests: u64::MAX,
        }
    }

    /// Polls `condition` on the server's counters until it holds; panics after 5 s.
    fn wait_until(stats: &Stats, what: &str, condition: impl Fn(&Snapshot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !condition(&stats.snapshot()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                stats.snapshot()
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

    /// Connects and sends `request` without reading: a client that is still there.
    fn send_only(addr: SocketAddr, request: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(request).expect("write");
        stream
    }

    #[test]
    fn a_malformed_request_line_gets_400_and_the_server_keeps_serving() {
        let server = start(config());
        let response = raw_exchange(server.addr, b"NONSENSE\r\n\r\n").expect("an answer");
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
        let response = raw_exchange(server.addr, GET_ROOT).expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let stats = server.stats.snapshot();
        assert_eq!((stats.bad_requests, stats.errors), (1, 0), "{stats:?}");
    }

    #[test]
    fn a_post_gets_405_with_an_allow_header() {
        let server = start(config());
        let response = raw_exchange(
            server.addr,
            b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 405"), "{response}");
        assert!(response.contains("allow: GET\r\n"), "{response}");
    }

    #[test]
    fn a_head_over_the_cap_gets_431_or_a_closed_connection() {
        let server = start(config());
        let mut request = b"GET / HTTP/1.1\r\nHost: test\r\nX-Padding: ".to_vec();
        request.resize(request.len() + MAX_HEAD_BYTES + 1024, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        // The server may close while the client is still writing: then the client sees a reset
        // instead of the 431. Either way it must not be served.
        match raw_exchange(server.addr, &request) {
            Ok(response) => assert!(
                response.is_empty() || response.starts_with("HTTP/1.1 431"),
                "{response}"
            ),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionAborted
                ),
                "{e}"
            ),
        }
        wait_until(&server.stats, "the bad head counted", |s| {
            s.bad_requests == 1
        });
        let response = raw_exchange(server.addr, GET_ROOT).expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().requests, 1, "only the good request");
    }

    #[test]
    fn a_client_that_stalls_half_way_through_its_head_is_dropped_after_the_timeout() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        });
        let started = Instant::now();
        let mut stream = send_only(server.addr, b"GET / HTTP/1.1\r\nHost: test\r\n");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        let mut rest = Vec::new();
        // Returns when the server closes the connection.
        let _ = stream.read_to_end(&mut rest);
        let waited = started.elapsed();
        assert!(waited >= header_timeout, "dropped too early: {waited:?}");
        assert!(waited < Duration::from_secs(3), "not dropped: {waited:?}");
        assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
        wait_until(&server.stats, "the connection closed", |s| {
            s.live_connections == 0
        });
        let stats = server.stats.snapshot();
        assert_eq!((stats.header_timeouts, stats.errors), (1, 0), "{stats:?}");
    }

    /// A client that sends its head a byte every 20 ms (a slowloris) makes progress all the time:
    /// the header deadline is for the whole head, so it is cut at the timeout, long before its head
    /// would be complete (about 0.6 s); a deadline re-armed by every read would let it finish.
    #[test]
    fn a_client_that_trickles_its_head_is_cut_at_the_header_timeout_for_the_whole_head() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        });
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        let mut write = stream.try_clone().expect("a second handle");
        let trickle = thread::spawn(move || {
            for byte in b"GET / HTTP/1.1\r\nHost: test\r\n\r\n" {
                thread::sleep(Duration::from_millis(20));
                if write.write_all(&[*byte]).is_err() {
                    return; // cut before the whole head was sent
                }
            }
        });
        let mut answer = Vec::new();
        // Returns when the server closes the connection.
        let _ = stream.read_to_end(&mut answer);
        let waited = started.elapsed();
        assert!(waited >= header_timeout, "dropped too early: {waited:?}");
        assert!(
            !String::from_utf8_lossy(&answer).contains(" 200 "),
            "the trickled head was answered: the deadline was re-armed by its bytes"
        );
        let _ = trickle.join();
        wait_until(&server.stats, "the connection closed", |s| {
            s.live_connections == 0
        });
        let stats = server.stats.snapshot();
        assert_eq!((stats.header_timeouts, stats.requests), (1, 0), "{stats:?}");
    }

    /// A client that takes its answer a trickle at a time, as the OS shows it to a blocking write
    /// with `SO_SNDTIMEO`: each write waits 20 ms (or its timeout, if shorter, and then fails with
    /// `WouldBlock`), and then 16 bytes are taken.
    struct TrickleReader {
        timeout: std::cell::Cell<Option<Duration>>,
        taken: usize,
    }

    impl Write for TrickleReader {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let wait = Duration::from_millis(20);
            match self.timeout.get() {
                Some(timeout) if timeout < wait => {
                    thread::sleep(timeout);
                    Err(io::ErrorKind::WouldBlock.into())
                }
                _ => {
                    thread::sleep(wait);
                    let n = buf.len().min(16);
                    self.taken += n;
                    Ok(n)
                }
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl WriteWithTimeout for TrickleReader {
        fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeout.set(timeout);
            Ok(())
        }
    }

    /// The write deadline counts from the start of the answer's write, and no bit of progress
    /// pushes it back: 4 KiB at 16 bytes per 20 ms would take 5 s; it is cut at the 300 ms timeout.
    #[test]
    fn a_client_that_reads_a_trickle_is_cut_at_the_write_deadline_from_the_start_of_the_write() {
        let timeout = Duration::from_millis(300);
        let mut client = TrickleReader {
            timeout: std::cell::Cell::new(None),
            taken: 0,
        };
        let started = Instant::now();
        let e = write_all_by(&mut client, &[b'x'; 4096], timeout).expect_err("too slow a reader");
        let took = started.elapsed();
        assert!(is_write_timeout(&e), "{e}");
        assert!(client.taken > 0, "the client took bytes all along");
        assert!(took >= timeout, "{took:?}");
        assert!(
            took < Duration::from_secs(3),
            "not cut at its deadline: {took:?}"
        );
    }

    #[test]
    fn an_idle_keep_alive_connection_expires_after_the_header_timeout() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        });
        let mut idle = send_only(server.addr, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
        idle.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        let mut response = [0u8; 1024];
        let n = idle.read(&mut response).expect("the response");
        assert!(String::from_utf8_lossy(&response[..n]).contains("keep-alive"));
        let answered = Instant::now();
        let mut rest = Vec::new();
        assert_eq!(idle.read_to_end(&mut rest).expect("a clean close"), 0);
        let idle_for = answered.elapsed();
        assert!(idle_for >= header_timeout - POLL_INTERVAL, "{idle_for:?}");
        assert!(idle_for < Duration::from_secs(3), "{idle_for:?}");
        wait_until(&server.stats, "the connection released", |s| {
            s.live_connections == 0
        });
        assert_eq!(server.stats.snapshot().errors, 0);
    }

    #[test]
    fn a_client_that_leaves_mid_response_keeps_its_worker_until_the_handler_is_done() {
        let server = start(config());
        let sent = Instant::now();
        let stream = send_only(server.addr, b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n");
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1);
        drop(stream);
        // A thread cannot be cancelled: the worker sleeps its full 10 x delay, then finds the
        // client gone when it writes (or reads next), and frees the slot. No error, no leak.
        wait_until(&server.stats, "the connection released", |s| {
            s.live_connections == 0 && s.in_flight == 0
        });
        assert!(sent.elapsed() >= DELAY * 10, "{:?}", sent.elapsed());
        let response = raw_exchange(server.addr, GET_ROOT).expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().errors, 0);
    }

    /// A client that pipelines `GET /` and never reads an answer. A writer thread sends up to
    /// 100,000 requests (3 MB), far more than the socket buffers hold once the server's answers
    /// pile up unread, and stops when the server drops the connection. The returned stream is the
    /// unread end: keeping it open keeps the client there.
    fn never_reading_client(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).expect("connect");
        let mut write = stream.try_clone().expect("clone");
        thread::spawn(move || {
            let batch = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n".repeat(100);
            for _ in 0..1000 {
                if write.write_all(&batch).is_err() {
                    break;
                }
            }
        });
        stream
    }

    #[test]
    fn a_client_that_never_reads_is_dropped_after_the_write_timeout_and_frees_its_worker() {
        let write_timeout = Duration::from_millis(300);
        // One worker and one connection slot, as the async twin's test has one slot: the second
        // client is not even accepted while the first holds them (so it cannot be served by the
        // keep-alive hand-over either).
        let server = start(Config {
            threads: 1,
            max_connections: 1,
            write_timeout,
            ..config()
        });
        let _unread = never_reading_client(server.addr);
        wait_until(
            &server.stats,
            "requests of the client that never reads",
            |s| s.requests > 0,
        );
        // The only worker ends up blocked writing to a client that does not read. A second
        // client is served once the write timeout frees it; without it, never (the test's
        // client gives up after 10 s).
        let (response, took) = time(|| raw_exchange(server.addr, GET_ROOT));
        let response = response.expect("an answer: the worker was freed");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let stats = server.stats.snapshot();
        assert_eq!((stats.write_timeouts, stats.errors), (1, 0), "{stats:?}");
    }

    #[test]
    fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
        let server = start(config());
        let mut stream = send_only(server.addr, b"GET /user/1 HTTP/1.1\r\nHost: test\r\n\r\n");
        // `shutdown(SHUT_WR)`: "no more requests", as `nc -N` sends.
        stream.shutdown(Shutdown::Write).expect("half-close");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set timeout");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("user1@example.com"), "{response}");
    }

    #[test]
    fn a_conflicting_or_invalid_content_length_gets_400() {
        let server = start(config());
        for lengths in BAD_CONTENT_LENGTHS {
            let request = format!("GET / HTTP/1.1\r\nHost: test\r\n{lengths}\r\n\r\nhello!");
            let response = raw_exchange(server.addr, request.as_bytes()).expect("an answer");
            assert!(
                response.starts_with("HTTP/1.1 400"),
                "{lengths:?}: {response}"
            );
        }
        let stats = server.stats.snapshot();
        assert_eq!(stats.requests, 0, "none reached a route: {stats:?}");
        assert_eq!(stats.bad_requests, BAD_CONTENT_LENGTHS.len() as u64);
        // A single valid length still passes (the body is not read: the connection closes).
        let response = raw_exchange(
            server.addr,
            b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 6, 6\r\n\r\nhello!",
        )
        .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// As in the async twin's test of the same name.
    const BAD_CONTENT_LENGTHS: [&str; 5] = [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 6",
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: +5",
    ];

    #[test]
    fn silent_connections_hold_a_worker_each_so_a_get_waits_for_the_header_timeout() {
        // The threads model's real cost. A fresh connection keeps its worker until its first
        // head arrives or the header timeout passes (it cannot give the worker up: its client
        // has not been answered yet). With 2 workers, 2 clients that connect and say nothing
        // stall everyone else for the whole header timeout. The async twin's test of the same
        // name answers at once.
        let header_timeout = Duration::from_millis(1500);
        let server = start(Config {
            threads: 2,
            header_timeout,
            ..config()
        });
        let _silent = [
            TcpStream::connect(server.addr).expect("connect"),
            TcpStream::connect(server.addr).expect("connect"),
        ];
        wait_until(&server.stats, "two silent connections", |s| {
            s.live_connections == 2
        });
        let (response, took) = time(|| raw_exchange(server.addr, GET_ROOT));
        let response = response.expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        println!("two silent connections on 2 workers: GET / answered in {took:?}");
        assert!(took >= header_timeout / 2, "{took:?}");
        assert!(took < header_timeout + Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn an_idle_keep_alive_connection_gives_its_worker_to_a_queued_client() {
        let server = start(Config {
            threads: 1,
            ..config()
        });
        // A keep-alive client gets its answer, then sits idle on the only worker...
        let mut idle = send_only(server.addr, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
        idle.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        let mut first = [0u8; 1024];
        let n = idle.read(&mut first).expect("the first response");
        let first = String::from_utf8_lossy(&first[..n]);
        assert!(first.contains("connection: keep-alive"), "{first}");
        // ...so a second client is queued. It is served well before the idle one's header timeout
        // (5 s) would free the worker: the idle connection hands the worker over.
        let (response, took) = time(|| raw_exchange(server.addr, GET_ROOT));
        let response = response.expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(took < Duration::from_secs(2), "waited {took:?}");
        // The idle client finds its connection closed (end of stream), not reset mid-response.
        let mut rest = Vec::new();
        assert_eq!(idle.read_to_end(&mut rest).expect("a clean close"), 0);
        assert_eq!(server.stats.snapshot().errors, 0);
    }

    #[test]
    fn at_the_connection_limit_the_acceptor_waits_for_a_free_slot() {
        let server = start(Config {
            threads: 1,
            max_connections: 2,
            ..config()
        });
        // Two silent clients take both slots: one on the only worker, one queued.
        let first = TcpStream::connect(server.addr).expect("connect");
        let second = TcpStream::connect(server.addr).expect("connect");
        wait_until(&server.stats, "two connections", |s| s.accepted == 2);
        // A third one connects (the kernel completes the handshake) but is not accepted...
        let third = thread::spawn(move || raw_exchange(server.addr, GET_ROOT));
        thread::sleep(Duration::from_millis(300));
        assert!(!third.is_finished(), "served past the limit");
        assert_eq!(server.stats.snapshot().accepted, 2);
        // ...until slots free up (both: the worker would otherwise wait for the silent second).
        drop(first);
        drop(second);
        let response = third.join().expect("no panic").expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().accepted, 3);
    }

    #[test]
    fn a_request_in_flight_at_shutdown_still_gets_its_200() {
        let server = start(config());
        let addr = server.addr;
        let slow =
            thread::spawn(move || raw_exchange(addr, b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"));
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1);
        server.stop.send(()).expect("the server is running");
        let stopped = server.thread.join().expect("no panic");
        let response = slow.join().expect("no panic").expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("slow response"), "{response}");
        // Graceful shutdown tells the client this connection is finished.
        assert!(response.contains("connection: close"), "{response}");
        assert_eq!(stopped.open_at_signal, 1);
        assert_eq!(stopped.dropped_after_grace, 0);
        assert!(TcpStream::connect(addr).is_err(), "still accepting");
    }

    #[test]
    fn past_the_grace_period_a_request_in_flight_is_cut_off() {
        let grace_period = Duration::from_millis(100);
        let server = start(Config {
            grace_period,
            ..config()
        });
        let addr = server.addr;
        let slow =
            thread::spawn(move || raw_exchange(addr, b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"));
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1);
        server.stop.send(()).expect("the server is running");
        let stopped = server.thread.join().expect("no panic");
        assert_eq!(stopped.dropped_after_grace, 1);
        assert!(stopped.took >= grace_period, "{stopped:?}");
        assert!(
            stopped.took < DELAY * 10,
            "did not wait for /slow: {stopped:?}"
        );
        let response = slow.join().expect("no panic").unwrap_or_default();
        assert!(!response.contains(" 200 "), "{response}");
    }
}
