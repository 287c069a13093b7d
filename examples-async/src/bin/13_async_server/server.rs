//! The server itself: the accept loop (one task per connection; each connection is served by
//! `connection.rs`), the counters, the connection limit, and the graceful shutdown.
//!
//! - **`--max-connections`** (a semaphore taken *before* `accept`): at the limit the accept loop
//!   waits and new clients queue in the kernel; the server's memory stops growing.
//! - **Graceful shutdown**: on the signal it stops accepting, lets in-flight requests finish
//!   within `--grace-period-ms`, then returns; `serve.rs` exits 0 (or 130 on a second signal).
//!
//! [`Server::run`] takes the listener and the shutdown signal as parameters (mini-redis does the
//! same): `main` passes a bound address and Ctrl-C, the demo and the tests pass `127.0.0.1:0` and a
//! future they complete when they choose.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::connection::{http1_builder, serve_connection};

/// The largest request head (request line plus headers) a client may send. Past it the client gets
/// `431 Request Header Fields Too Large` and the connection is closed: without a cap, one client
/// could make the server buffer an endless header line. 16 KiB is more than any browser sends.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How long the accept loop pauses after a failed `accept` (e.g. out of file descriptors), so that
/// it does not spin on an error that only time (connections closing) can clear.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What the server is told at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The simulated database delay: `/user/{id}` waits this long, `/data` twice, `/slow` ten times.
    pub delay: Duration,
    /// Connections served at once; the accept loop waits for a free slot past it.
    pub max_connections: usize,
    /// A client that has not sent a complete request head this long after the server started
    /// waiting for one is dropped (slowloris protection, and idle keep-alive connections expire).
    pub header_timeout: Duration,
    /// A response the client has not taken this long after its write first had to wait (the
    /// client does not read) drops the connection: see [`WriteDeadline`].
    pub write_timeout: Duration,
    /// After the shutdown signal: how long in-flight requests get to finish before the server drops
    /// their connections anyway.
    pub grace_period: Duration,
    /// How many requests, the first ones, the access log shows at `info`; the rest go to `debug`
    /// (all are counted). `serve` shows every one; the demo a few, so its burst reads at a glance.
    pub log_requests: u64,
}

/// Counters the server keeps while it runs. The demo prints them and the tests assert on them:
/// "no error spam, no leak" is `errors == 0` and `live_connections` back to 0.
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
    /// Connections open right now (each holds one permit of the `max_connections` semaphore).
    pub live_connections: usize,
    /// Requests that reached a route (answered or still running).
    pub requests: u64,
    /// Requests the access log showed at `info` (see [`Config::log_requests`]).
    pub logged: u64,
    /// Requests being handled right now, and the most there ever were at once.
    pub in_flight: usize,
    pub peak_in_flight: usize,
    /// Heads hyper could not parse or that were over [`MAX_HEAD_BYTES`] (answered 400 or 431).
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

/// Counts a request as in flight for as long as it lives. A guard, not a pair of calls, so that a
/// handler future dropped half-way (its client went away) still counts itself out.
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

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections still open when the shutdown signal came.
    pub open_at_signal: usize,
    /// Connections dropped because the grace period ran out before they finished.
    pub dropped_after_grace: usize,
    /// From the signal to the last connection task finished.
    pub took: Duration,
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

    /// Serves connections from `listener` until `shutdown` completes, then shuts down gracefully.
    ///
    /// The accept loop, in order: take a connection permit (waits while `max_connections` are
    /// open), accept, spawn one task for the connection, repeat. On `shutdown` it stops accepting
    /// (the listener is dropped, so new clients are refused), asks every connection to finish the
    /// request it is on and close, and waits for them up to the grace period.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Stopped {
        let Server { config, stats } = self;
        // A semaphore with one permit per allowed connection. The permit is taken *before*
        // `accept`, so at the limit the loop stops accepting: further clients wait in the kernel's
        // listen backlog, costing the server nothing. (Accepting first and then waiting would hold
        // every waiting socket in memory: the limit would bound nothing.)
        let connection_slots = Arc::new(Semaphore::new(config.max_connections));
        // Every connection task is spawned on the tracker, so shutdown can wait for all of them
        // without keeping a handle per connection (a Vec of handles would grow with every client).
        let tracker = TaskTracker::new();
        // Cancelled at the shutdown signal: "finish the request you are on, then close".
        let stopping = CancellationToken::new();
        // Cancelled when the grace period is over: "close now".
        let grace_over = CancellationToken::new();
        // One hyper configuration shared by every connection.
        let http = Arc::new(http1_builder(&config));
        let config = Arc::new(config);

        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&connection_slots).acquire_owned() => {
                    permit.expect("the semaphore is never closed")
                }
            };
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(connection) => connection,
                    Err(e) => {
                        // Per-connection failures (the client reset before we accepted) and running
                        // out of file descriptors both land here. Neither should stop the server.
                        warn!("accept failed: {e}; retrying");
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                },
            };
            stats.accepted.fetch_add(1, Ordering::Relaxed);
            // One task per connection: while one connection waits (for its client, or for its
            // handler's timer), the runtime runs the others. This is the whole async model.
            tracker.spawn(serve_connection(
                stream,
                peer,
                permit,
                Arc::clone(&http),
                Arc::clone(&config),
                Arc::clone(&stats),
                stopping.clone(),
                grace_over.clone(),
            ));
        }

        // Stop accepting first: from here on a new client gets "connection refused".
        drop(listener);
        let signalled = Instant::now();
        let open_at_signal = config.max_connections - connection_slots.available_permits();
        info!(
            "shutdown: stopped accepting; {open_at_signal} connection(s) open, {} request(s) in \
             flight, grace period {} ms",
            stats.in_flight.load(Ordering::Relaxed),
            config.grace_period.as_millis()
        );
        stopping.cancel();
        tracker.close();
        let mut dropped_after_grace = 0;
        if timeout(config.grace_period, tracker.wait()).await.is_err() {
            dropped_after_grace = config.max_connections - connection_slots.available_permits();
            warn!("grace period over: dropping {dropped_after_grace} connection(s) still open");
            grace_over.cancel();
            tracker.wait().await;
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

#[cfg(test)]
mod tests {
    //! Routes and their timings on tokio's paused clock (exact), then the server on real sockets
    //! on `127.0.0.1:0` (real time: lower bounds exact, upper bounds generous) for the limits,
    //! the bad clients and the shutdown.
    use super::*;
    use crate::routes::route;
    use crate::tests::{raw_exchange, shutdown_trigger};
    use common::time_async;
    use futures::future::join_all;
    use http_body_util::BodyExt;
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::header::{ALLOW, CONTENT_TYPE};
    use hyper::{Request, Response, StatusCode};
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    const DELAY: Duration = Duration::from_millis(100);

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).expect("a valid request")
    }

    async fn body_text(response: Response<Full<Bytes>>) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a Full body cannot fail")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test(start_paused = true)]
    async fn each_route_takes_exactly_its_multiple_of_the_delay() {
        for (path, expected) in [
            ("/", Duration::ZERO),
            ("/user/7", DELAY),
            ("/data", DELAY * 2),
            ("/slow", DELAY * 10),
        ] {
            let (response, took) = time_async(route(get(path), DELAY)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(took, expected, "{path}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hundred_user_requests_together_take_one_delay_not_a_hundred() {
        let requests = (0..100).map(|id| route(get(&format!("/user/{id}")), DELAY));
        let (responses, took) = time_async(join_all(requests)).await;
        assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
        assert_eq!(took, DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_json_and_methods_other_than_get_get_405() {
        let response = route(get("/user/7"), DELAY).await;
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let user: serde_json::Value =
            serde_json::from_str(&body_text(response).await).expect("JSON");
        assert_eq!(user["email"], "user7@example.com");
        assert_eq!(user["id"], 7);

        for path in ["/nope", "/users", "/user/", "/user/1/x"] {
            let response = route(get(path), DELAY).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            let error: serde_json::Value =
                serde_json::from_str(&body_text(response).await).expect("JSON");
            assert_eq!(error["error"], "Not Found", "{path}");
            assert_eq!(error["path"], path);
        }
        let response = route(get("/user/abc"), DELAY).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        let post = Request::post("/").body(()).expect("a valid request");
        let (response, took) = time_async(route(post, DELAY)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET");
        assert_eq!(took, Duration::ZERO, "rejected before any waiting");
    }

    // The real clock, on purpose: on a paused clock the timer's "now" is exact, so even a
    // zero sleep completes at once and the test could not fail.
    #[tokio::test]
    async fn with_no_delay_a_route_answers_at_its_first_poll_without_a_timer_tick() {
        use futures::FutureExt;
        // `sleep(Duration::ZERO)` would return `Pending` here: its deadline is rounded up to the
        // timer's next 1 ms tick, which the driver has not reached yet.
        for path in ["/user/7", "/data", "/slow"] {
            let response = route(get(path), Duration::ZERO)
                .now_or_never()
                .unwrap_or_else(|| panic!("{path} waited for the timer with no delay"));
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }

    /// A running server on `127.0.0.1:0` and what a test needs to watch and stop it.
    struct Running {
        addr: SocketAddr,
        stats: Arc<Stats>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Stopped>,
    }

    async fn start(config: Config) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = Server::new(config);
        let stats = server.stats();
        let (stop, signal) = shutdown_trigger();
        let task = tokio::spawn(server.run(listener, signal));
        Running {
            addr,
            stats,
            stop,
            task,
        }
    }

    fn config() -> Config {
        Config {
            delay: DELAY,
            max_connections: 100,
            header_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            grace_period: Duration::from_secs(5),
            log_requests: u64::MAX,
        }
    }

    /// Polls `condition` on the server's counters until it holds; panics after 5 s.
    async fn wait_until(stats: &Stats, what: &str, condition: impl Fn(&Snapshot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !condition(&stats.snapshot()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                stats.snapshot()
            );
            sleep(Duration::from_millis(2)).await;
        }
    }

    const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_malformed_request_line_gets_400_and_the_server_keeps_serving() {
        let server = start(config()).await;
        let response = raw_exchange(server.addr, b"NONSENSE\r\n\r\n")
            .await
            .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
        let response = raw_exchange(server.addr, GET_ROOT)
            .await
            .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let stats = server.stats.snapshot();
        assert_eq!((stats.bad_requests, stats.errors), (1, 0), "{stats:?}");
    }

    #[tokio::test]
    async fn a_head_over_the_cap_gets_431_or_a_closed_connection() {
        let server = start(config()).await;
        let mut request = b"GET / HTTP/1.1\r\nHost: test\r\nX-Padding: ".to_vec();
        request.resize(request.len() + MAX_HEAD_BYTES + 1024, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        // The server may close while the client is still writing: then the client sees a reset
        // instead of the 431. Either way it must not be served.
        match raw_exchange(server.addr, &request).await {
            Ok(response) => assert!(
                response.is_empty() || response.starts_with("HTTP/1.1 431"),
                "{response}"
            ),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionAborted
                ),
                "{e}"
            ),
        }
        wait_until(&server.stats, "the bad head counted", |s| {
            s.bad_requests == 1
        })
        .await;
        let response = raw_exchange(server.addr, GET_ROOT)
            .await
            .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().requests, 1, "only the good request");
    }

    #[tokio::test]
    async fn a_client_that_stalls_half_way_through_its_head_is_dropped_after_the_timeout() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        })
        .await;
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n")
            .await
            .expect("write half a head");
        let mut rest = Vec::new();
        // Returns when the server closes the connection; a server that never does fails here.
        let closed = timeout(Duration::from_secs(3), stream.read_to_end(&mut rest)).await;
        let waited = started.elapsed();
        assert!(closed.is_ok(), "not dropped after {waited:?}");
        assert!(waited >= header_timeout, "dropped too early: {waited:?}");
        assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
        wait_until(&server.stats, "the connection closed", |s| {
            s.live_connections == 0
        })
        .await;
        let stats = server.stats.snapshot();
        assert_eq!((stats.header_timeouts, stats.errors), (1, 0), "{stats:?}");
    }

    /// A client that sends its head a byte every 20 ms (a slowloris) makes progress all the time:
    /// the header timeout is for the whole head, so it is cut at the timeout, long before its head
    /// would be complete (about 0.6 s); a timer re-armed by every byte would let it finish.
    #[tokio::test]
    async fn a_client_that_trickles_its_head_is_cut_at_the_header_timeout_for_the_whole_head() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        })
        .await;
        let started = Instant::now();
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (mut read, mut write) = stream.into_split();
        let trickle = tokio::spawn(async move {
            for byte in b"GET / HTTP/1.1\r\nHost: test\r\n\r\n" {
                sleep(Duration::from_millis(20)).await;
                if write.write_all(&[*byte]).await.is_err() {
                    return false; // cut before the whole head was sent
                }
            }
            true
        });
        let mut answer = Vec::new();
        // Returns when the server closes the connection (or after 3 s: the answer then shows why).
        let _ = timeout(Duration::from_secs(3), read.read_to_end(&mut answer)).await;
        let waited = started.elapsed();
        assert!(waited >= header_timeout, "dropped too early: {waited:?}");
        assert!(
            !String::from_utf8_lossy(&answer).contains(" 200 "),
            "the trickled head was answered: the timer was re-armed by its bytes"
        );
        let _ = trickle.await;
        wait_until(&server.stats, "the connection closed", |s| {
            s.live_connections == 0
        })
        .await;
        let stats = server.stats.snapshot();
        assert_eq!((stats.header_timeouts, stats.requests), (1, 0), "{stats:?}");
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_expires_after_the_header_timeout() {
        let header_timeout = Duration::from_millis(300);
        let server = start(Config {
            header_timeout,
            ..config()
        })
        .await;
        let mut idle = TcpStream::connect(server.addr).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("write");
        let mut response = [0u8; 1024];
        let n = idle.read(&mut response).await.expect("the response");
        assert!(String::from_utf8_lossy(&response[..n]).starts_with("HTTP/1.1 200"));
        // The header timeout starts again while hyper waits for the next head, so a client that
        // keeps a connection open and says nothing loses it (and its slot).
        let answered = Instant::now();
        let mut rest = Vec::new();
        let closed = timeout(Duration::from_secs(3), idle.read_to_end(&mut rest)).await;
        let idle_for = answered.elapsed();
        let read = closed.unwrap_or_else(|_| panic!("not closed after {idle_for:?}"));
        assert_eq!(read.expect("a clean close"), 0);
        assert!(
            idle_for >= header_timeout - Duration::from_millis(20),
            "{idle_for:?}"
        );
        assert!(idle_for < Duration::from_secs(3), "{idle_for:?}");
        wait_until(&server.stats, "the connection released", |s| {
            s.live_connections == 0
        })
        .await;
        assert_eq!(server.stats.snapshot().errors, 0);
    }

    #[tokio::test]
    async fn a_client_that_leaves_mid_request_is_noticed_when_its_answer_is_written() {
        let server = start(config()).await;
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("write");
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1).await;
        let sent = Instant::now();
        // A close sends FIN, exactly what a half-close sends: the server cannot tell "gone" from
        // "done sending, still reading" until it writes. Since half-closes are allowed (see
        // `http1_builder`), hyper does not read while a request is in flight: the handler runs
        // its full 10 x delay (as a worker does in the threads twin), the answer goes into the
        // void, and then the connection and its slot are released. That costs a timer, not an
        // error. (With half-closes refused, hyper would drop the handler at once, and answer no
        // client that half-closes.)
        drop(stream);
        wait_until(&server.stats, "the connection released", |s| {
            s.live_connections == 0 && s.in_flight == 0
        })
        .await;
        assert!(sent.elapsed() >= DELAY * 9, "{:?}", sent.elapsed());
        assert!(sent.elapsed() < DELAY * 30, "{:?}", sent.elapsed());
        let response = raw_exchange(server.addr, GET_ROOT)
            .await
            .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().errors, 0);
    }

    /// A client that pipelines `GET /` and never reads an answer. Its receive buffer is made small
    /// (4 KiB asked, before `connect`, so the TCP window is small from the start), so the
    /// server's writes stall after a few dozen kilobytes; the writer task sends up to 100,000
    /// requests, far more than the socket buffers hold, and stops when the server drops it.
    async fn never_reading_client(
        addr: SocketAddr,
    ) -> (tokio::net::tcp::OwnedReadHalf, JoinHandle<()>) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (unread, mut write) = stream.into_split();
        let writing = tokio::spawn(async move {
            let batch = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n".repeat(100);
            for _ in 0..1000 {
                if write.write_all(&batch).await.is_err() {
                    break;
                }
            }
        });
        (unread, writing)
    }

    #[tokio::test]
    async fn a_client_that_never_reads_is_dropped_after_the_write_timeout_and_frees_its_slot() {
        let write_timeout = Duration::from_millis(300);
        let server = start(Config {
            max_connections: 1,
            write_timeout,
            ..config()
        })
        .await;
        let (_unread, _writing) = never_reading_client(server.addr).await;
        wait_until(
            &server.stats,
            "requests of the client that never reads",
            |s| s.requests > 0,
        )
        .await;
        // It holds the only slot: a second client waits in the backlog until the first one is
        // dropped, which the write timeout does. Without it, the second client waits for ever.
        let (response, took) = time_async(timeout(
            Duration::from_secs(10),
            raw_exchange(server.addr, GET_ROOT),
        ))
        .await;
        let response = response
            .expect("served within 10 s: the slot was freed")
            .expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let stats = server.stats.snapshot();
        assert_eq!((stats.write_timeouts, stats.errors), (1, 0), "{stats:?}");
    }

    #[tokio::test]
    async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
        let server = start(config()).await;
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /user/1 HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("write");
        // `shutdown(SHUT_WR)`: "no more requests", as `nc -N` sends. The handler is still
        // waiting on its delay when the server reads this end of input.
        stream.shutdown().await.expect("half-close");
        let mut response = Vec::new();
        timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("user1@example.com"), "{response}");
    }

    #[tokio::test]
    async fn a_conflicting_or_invalid_content_length_gets_400() {
        let server = start(config()).await;
        for lengths in BAD_CONTENT_LENGTHS {
            let request = format!("GET / HTTP/1.1\r\nHost: test\r\n{lengths}\r\n\r\nhello!");
            let response = raw_exchange(server.addr, request.as_bytes())
                .await
                .expect("an answer");
            assert!(
                response.starts_with("HTTP/1.1 400"),
                "{lengths:?}: {response}"
            );
        }
        let stats = server.stats.snapshot();
        assert_eq!(stats.requests, 0, "none reached a route: {stats:?}");
    }

    /// Heads that make a request's length ambiguous (the ground of request smuggling): both twins
    /// refuse them with 400.
    const BAD_CONTENT_LENGTHS: [&str; 5] = [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 6",
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: +5",
    ];

    #[tokio::test]
    async fn silent_connections_hold_no_thread_so_a_get_is_answered_at_once() {
        // The threads twin's test of the same name measures the opposite: there, each silent
        // connection holds a worker for the whole header timeout.
        let header_timeout = Duration::from_millis(1500);
        let server = start(Config {
            header_timeout,
            ..config()
        })
        .await;
        let _silent = [
            TcpStream::connect(server.addr).await.expect("connect"),
            TcpStream::connect(server.addr).await.expect("connect"),
        ];
        wait_until(&server.stats, "two silent connections", |s| {
            s.live_connections == 2
        })
        .await;
        let (response, took) = time_async(raw_exchange(server.addr, GET_ROOT)).await;
        let response = response.expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        println!("two silent connections open: GET / answered in {took:?}");
        // The threads twin waits at least half the header timeout; here well under half.
        assert!(took < header_timeout / 2, "{took:?}");
    }

    #[tokio::test]
    async fn at_the_connection_limit_the_accept_loop_waits_for_a_free_slot() {
        let server = start(Config {
            max_connections: 2,
            ..config()
        })
        .await;
        // Two silent clients take both slots.
        let first = TcpStream::connect(server.addr).await.expect("connect");
        let _second = TcpStream::connect(server.addr).await.expect("connect");
        wait_until(&server.stats, "two connections", |s| {
            s.live_connections == 2
        })
        .await;
        // A third one connects (the kernel completes the handshake) but is not accepted...
        let third = tokio::spawn(raw_exchange(server.addr, GET_ROOT));
        sleep(Duration::from_millis(300)).await;
        assert!(!third.is_finished(), "served past the limit");
        assert_eq!(server.stats.snapshot().accepted, 2);
        // ...until a slot frees up.
        drop(first);
        let response = third.await.expect("no panic").expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(server.stats.snapshot().accepted, 3);
    }

    #[tokio::test]
    async fn a_request_in_flight_at_shutdown_still_gets_its_200() {
        let server = start(config()).await;
        let slow = tokio::spawn(raw_exchange(
            server.addr,
            b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n",
        ));
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1).await;
        server.stop.send(()).expect("the server is running");
        let stopped = server.task.await.expect("no panic");
        let response = slow.await.expect("no panic").expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("slow response"), "{response}");
        // Graceful shutdown tells the client this connection is finished.
        assert!(response.contains("connection: close"), "{response}");
        assert_eq!(stopped.open_at_signal, 1);
        assert_eq!(stopped.dropped_after_grace, 0);
        assert!(
            TcpStream::connect(server.addr).await.is_err(),
            "still accepting"
        );
    }

    #[tokio::test]
    async fn past_the_grace_period_a_request_in_flight_is_dropped() {
        let grace_period = Duration::from_millis(100);
        let server = start(Config {
            grace_period,
            ..config()
        })
        .await;
        let slow = tokio::spawn(raw_exchange(
            server.addr,
            b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n",
        ));
        wait_until(&server.stats, "the request in flight", |s| s.in_flight == 1).await;
        server.stop.send(()).expect("the server is running");
        let stopped = server.task.await.expect("no panic");
        assert_eq!(stopped.dropped_after_grace, 1);
        assert!(stopped.took >= grace_period, "{stopped:?}");
        assert!(
            stopped.took < DELAY * 10,
            "did not wait for /slow: {stopped:?}"
        );
        let response = slow.await.expect("no panic").unwrap_or_default();
        assert!(!response.contains(" 200 "), "{response}");
    }
}
