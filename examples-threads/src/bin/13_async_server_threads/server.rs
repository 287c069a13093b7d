//! The server itself: an acceptor that takes a connection slot before each `accept`, a fixed pool
//! of worker threads fed by a queue of accepted connections (each connection is served by
//! `connection.rs`), the counters, and the graceful shutdown.
//!
//! - **Two limits.** The pool bounds the requests in progress (`--threads`); `--max-connections`
//!   bounds the connections held, served plus queued for a worker. std has no semaphore, so the
//!   connection slots are a `Mutex<usize>` and a `Condvar` (as in 07_semaphore_threads); the
//!   acceptor takes one before each `accept` and waits at the limit.
//! - **A blocked `accept` cannot see the shutdown**: a watcher thread wakes it by connecting to it.
//! - **Threads cannot be cancelled.** A client that leaves mid-request keeps its worker busy until
//!   the handler is done (the async twin's handler runs on too, but holds only a timer); after the
//!   grace period the server closes the sockets of the workers still busy and stops waiting for
//!   them.
//!
//! [`Server::run`] takes the listener and the shutdown signal (a channel) as parameters, like the
//! async twin: `main` passes a bound address and a channel that Ctrl-C sends on, the demo and the
//! tests pass `127.0.0.1:0` and a channel they send on when they choose.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use tracing::{debug, info, warn};

use crate::connection::serve_connection;
use crate::slots::{Slot, Slots};

/// The largest request head (request line plus headers) a client may send; past it, `431` and
/// close. Without a cap one client could make a worker buffer an endless header line.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most headers a request may have (httparse parses into a fixed array).
pub(crate) const MAX_HEADERS: usize = 64;

/// How often a worker waiting on a socket looks up. A blocking `read` waits for one thing only,
/// the socket; it cannot also wait for "shutdown started" or "another client is queued" the way
/// `tokio::select!` can. So a worker waiting for a request reads with a short timeout and checks
/// those between reads. (The async twin needs no such polling.)
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

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
    pub(crate) accepted: AtomicU64,
    pub(crate) live_connections: AtomicUsize,
    pub(crate) requests: AtomicU64,
    pub(crate) logged: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) peak_in_flight: AtomicUsize,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) header_timeouts: AtomicU64,
    pub(crate) write_timeouts: AtomicU64,
    pub(crate) clients_gone: AtomicU64,
    pub(crate) errors: AtomicU64,
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
pub(crate) struct InFlight<'a>(&'a Stats, pub(crate) u64);

impl<'a> InFlight<'a> {
    pub(crate) fn enter(stats: &'a Stats) -> Self {
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

/// A connection on its way to a worker, with the slot it holds.
pub(crate) type Queued = (TcpStream, SocketAddr, Slot);

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
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) stats: Arc<Stats>,
    /// Set once at the shutdown signal; workers read it between requests and between polls.
    pub(crate) stopping: AtomicBool,
    pub(crate) slots: Arc<Slots>,
    /// A clone of every socket a worker is serving, so that when the grace period runs out the
    /// server can close them: a thread cannot be cancelled from outside, its socket can.
    pub(crate) open: Mutex<HashMap<u64, TcpStream>>,
    pub(crate) next_id: AtomicU64,
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

#[cfg(test)]
mod tests {
    //! Routes, then the server on real sockets on `127.0.0.1:0` for the limits, the bad clients
    //! and the shutdown. Lower bounds that come from sleeps are exact; upper bounds are generous.
    use super::*;
    use crate::routes::route;
    use crate::tests::raw_exchange;
    use common::time;
    use std::io::{Read, Write};

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
        // A minute's delay: a 405 that came after the wait could not pass, however loaded the
        // machine.
        let minute = Duration::from_secs(60);
        let (response, took) = time(|| route("POST", "/slow", minute));
        assert_eq!(response.status, 405);
        assert!(took < minute / 2, "rejected before any waiting");
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
