//! A small HTTP/1.1 server on `127.0.0.1`, started in-process, for the examples that fetch (09) and
//! their tests: nothing leaves the machine, and every response is chosen by its URL.
//!
//! ```text
//! GET /                 200, body "ok\n"
//! GET /delay/{ms}       200 after `ms` milliseconds (at most 60 000)
//! GET /status/{code}    that status (200..=599), at once
//! GET /bytes/{n}        200 with a body of exactly `n` bytes (at most 16 MiB)
//! GET /flaky/{id}       a service that fails, then recovers (19): see below
//! ```
//!
//! The query string sets the other two on any of them: `/delay/400?bytes=8192` is a slow response
//! with a body, `/status/500?delay_ms=100` a failure that takes its time. Keys: `delay_ms`, `status`,
//! `bytes`. An unknown path is a `404`, a value that is not a number or out of range a `400` with the
//! reason in the body: a bad URL from a test never panics the server.
//!
//! `/flaky/{id}` counts the requests for each `id` (1 to 64 of `A-Z a-z 0-9 - _`) and fails some:
//!
//! ```text
//! ?fail_first=3      requests 1, 2 and 3 for this id fail, request 4 and later succeed
//! ?fail_for_ms=250   every request within 250 ms of this id's first request fails
//! ```
//!
//! A failure is a `503` (or the `status` given, e.g. `&status=429`), a success a `200`; the body says
//! which request of the id it was (`request 4 of id "a": ok`). Both keys together: a request fails if
//! either says so; neither: it never fails (it only counts). `delay_ms` applies to both outcomes. The
//! server remembers at most [`MAX_FLAKY_IDS`] ids: a new id beyond that evicts the one first seen
//! longest ago (which would start afresh), so a long test run cannot grow it without bound. Use a new
//! id per scenario.
//!
//! # Why its own runtime on its own thread
//!
//! [`TestServer::start`] is a plain function: it binds the port (so the address is known, and a bind
//! error is returned, before it returns), then runs the server on a background thread named
//! `http-server` with its own single-threaded tokio runtime. So the same server serves
//!
//! - async examples and `#[tokio::test]`s (whatever their runtime; even on tokio's paused clock the
//!   server's delays are real time, since its timers belong to its own runtime),
//! - the threads examples and plain `#[test]`s, which have no runtime at all.
//!
//! It stops when the [`TestServer`] is dropped or [`TestServer::shutdown`] is called: the listener
//! closes (a new connection is refused) and requests still in progress are cut off, which is what a
//! test wants (no waiting for a 60 s delay to finish). The call returns once the port is closed: it
//! joins the server thread, which blocks the caller briefly (the thread only has to drop its
//! runtime), harmless even inside an async task.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;
use tracing::debug;

/// The longest delay a URL may ask for: a typo like `/delay/300000` is a `400`, not a hung test.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// The largest body a URL may ask for.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The most `/flaky/{id}` ids the server remembers at once (the oldest is evicted past it).
pub const MAX_FLAKY_IDS: usize = 1024;

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    /// Sending (or dropping) this tells the accept loop to stop.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` (a free port chosen by the OS) and starts serving on a background thread.
    ///
    /// Callable from anywhere: synchronous code, a thread, or inside an async task (it neither blocks
    /// nor needs a runtime).
    pub fn start() -> io::Result<TestServer> {
        let listener = StdTcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        // tokio needs a non-blocking socket; the conversion to a tokio listener happens on the server's
        // own runtime below.
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let thread = thread::Builder::new()
            .name("http-server".into())
            .spawn(move || runtime.block_on(serve(listener, stopped)))?;
        debug!("test server listening on http://{addr}");
        Ok(TestServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on, e.g. `127.0.0.1:41873`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A full URL for `path_and_query` on this server: `server.url("/delay/300")` is
    /// `http://127.0.0.1:41873/delay/300`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Stops the server and waits until its port is closed. Same as dropping it, but explicit.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the accept loop is already gone (it only ends when told to), fine either way.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The thread ends by dropping its runtime, which closes the listener and every connection.
            // A panic in it would be a bug in this module; during a drop it must not become a second panic.
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The accept loop: one task per connection, until `stopped` fires (or its sender is dropped).
async fn serve(listener: StdTcpListener, mut stopped: oneshot::Receiver<()>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("test server cannot use its socket: {e}");
            return;
        }
    };
    // The `/flaky/{id}` counters, shared by every connection of this server (and only this one).
    let flaky = Arc::new(Mutex::new(FlakyIds::default()));
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let flaky = flaky.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| respond(request, flaky.clone()));
                        let served = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(e) = served {
                            // A client that gives up (a timeout) closes its end mid-response: expected.
                            debug!("connection from {peer} ended: {e}");
                        }
                    });
                }
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(e) => debug!("accept failed: {e}"),
            },
        }
    }
    debug!("test server stopped");
    // Returning ends `block_on`; the runtime is dropped with the thread, cancelling open connections.
}

/// What a URL asks for.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    delay: Duration,
    status: StatusCode,
    bytes: usize,
    /// `/flaky/{id}`: whether this request fails is decided when it arrives, by [`FlakyIds`].
    flaky: Option<Flaky>,
}

/// What a `/flaky/{id}` URL asks for.
#[derive(Debug, Clone, PartialEq)]
struct Flaky {
    id: String,
    fail_first: u64,
    fail_for: Duration,
}

/// Per id: how many requests came, and when the first did. Bounded by [`MAX_FLAKY_IDS`].
#[derive(Debug, Default)]
struct FlakyIds {
    ids: HashMap<String, (u64, Instant)>,
}

impl FlakyIds {
    /// Counts a request for `flaky.id` arriving `now`; returns its number (1 for the first) and
    /// whether it fails.
    fn hit(&mut self, flaky: &Flaky, now: Instant) -> (u64, bool) {
        if !self.ids.contains_key(&flaky.id) && self.ids.len() >= MAX_FLAKY_IDS {
            // A linear scan of at most 1024 entries, once per new id past the limit: cheap enough
            // for a test server, and no second structure to keep in step.
            let oldest = self
                .ids
                .iter()
                .min_by_key(|(_, (_, first))| *first)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.ids.remove(&oldest);
            }
        }
        let (count, first) = self.ids.entry(flaky.id.clone()).or_insert((0, now));
        *count = count.saturating_add(1);
        let fails = *count <= flaky.fail_first || now.duration_since(*first) < flaky.fail_for;
        (*count, fails)
    }
}

async fn respond(
    request: Request<hyper::body::Incoming>,
    flaky_ids: Arc<Mutex<FlakyIds>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let uri = request.uri();
    debug!("{} {uri}", request.method());
    let response = match plan(uri.path(), uri.query()) {
        Ok(Plan {
            delay,
            status,
            flaky: Some(flaky),
            ..
        }) => {
            // Counted on arrival, before the delay: the order of arrival is the order of the count.
            // A poisoned lock only means another request panicked mid-count; the map is still whole.
            let (n, fails) = flaky_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .hit(&flaky, Instant::now());
            tokio::time::sleep(delay).await;
            let (status, verdict) = if fails {
                (status, "fails")
            } else {
                (StatusCode::OK, "ok")
            };
            let body = format!("request {n} of id {:?}: {verdict}\n", flaky.id);
            reply(status, Bytes::from(body))
        }
        Ok(plan) => {
            tokio::time::sleep(plan.delay).await;
            let body = if plan.bytes == 0 && plan.status == StatusCode::OK {
                Bytes::from_static(b"ok\n")
            } else {
                Bytes::from(vec![b'x'; plan.bytes])
            };
            reply(plan.status, body)
        }
        Err((status, reason)) => reply(status, Bytes::from(format!("{reason}\n"))),
    };
    Ok(response)
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

/// Reads the plan from the path and the query; `Err` is the response to send instead.
fn plan(path: &str, query: Option<&str>) -> Result<Plan, (StatusCode, String)> {
    let mut plan = Plan {
        delay: Duration::ZERO,
        status: StatusCode::OK,
        bytes: 0,
        flaky: None,
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => {}
        ["delay", ms] => set("delay_ms", ms, &mut plan)?,
        ["status", code] => set("status", code, &mut plan)?,
        ["bytes", n] => set("bytes", n, &mut plan)?,
        ["flaky", id] => {
            let valid = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("flaky id {id:?}: 1 to 64 of A-Z a-z 0-9 - _"),
                ));
            }
            // The status of a failing request, unless the query chooses another.
            plan.status = StatusCode::SERVICE_UNAVAILABLE;
            plan.flaky = Some(Flaky {
                id: id.to_string(),
                fail_first: 0,
                fail_for: Duration::ZERO,
            });
        }
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no such path {path:?}: try /delay/{{ms}}, /status/{{code}}, /bytes/{{n}} \
                     or /flaky/{{id}}"
                ),
            ));
        }
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        set(key, value, &mut plan)?;
    }
    Ok(plan)
}

fn set(key: &str, value: &str, plan: &mut Plan) -> Result<(), (StatusCode, String)> {
    let bad = |why: &str| (StatusCode::BAD_REQUEST, format!("{key}={value:?}: {why}"));
    let number: u64 = value.parse().map_err(|_| bad("not a whole number"))?;
    match key {
        "delay_ms" => {
            let delay = Duration::from_millis(number);
            if delay > MAX_DELAY {
                return Err(bad("at most 60000 ms"));
            }
            plan.delay = delay;
        }
        "status" => {
            plan.status = u16::try_from(number)
                .ok()
                .filter(|code| (200..=599).contains(code))
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or_else(|| bad("a status code from 200 to 599"))?;
        }
        "bytes" => {
            plan.bytes = usize::try_from(number)
                .ok()
                .filter(|n| *n <= MAX_BYTES)
                .ok_or_else(|| bad("at most 16 MiB"))?;
        }
        "fail_first" | "fail_for_ms" => {
            let Some(flaky) = plan.flaky.as_mut() else {
                return Err(bad("only on /flaky/{id}"));
            };
            if key == "fail_first" {
                flaky.fail_first = number;
            } else {
                let window = Duration::from_millis(number);
                if window > MAX_DELAY {
                    return Err(bad("at most 60000 ms"));
                }
                flaky.fail_for = window;
            }
        }
        _ => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown parameter {key:?}: use delay_ms, status or bytes \
                     (and fail_first, fail_for_ms on /flaky)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The parsing is tested as a function; the server itself over real loopback connections, with a
    //! minimal HTTP/1.1 client written here on `std::net` (no client crate in `common`).
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    /// Sends `GET path` with `Connection: close` and returns (status code, body).
    fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).expect("the server accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("send the request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the response");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header/body separator");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        (status, raw[split + 4..].to_vec())
    }

    fn ok(delay_ms: u64, status: u16, bytes: usize) -> Plan {
        Plan {
            delay: Duration::from_millis(delay_ms),
            status: StatusCode::from_u16(status).expect("valid"),
            bytes,
            flaky: None,
        }
    }

    fn flaky(id: &str, fail_first: u64, fail_for_ms: u64) -> Flaky {
        Flaky {
            id: id.into(),
            fail_first,
            fail_for: Duration::from_millis(fail_for_ms),
        }
    }

    #[test]
    fn flaky_paths_parse_their_keys_and_refuse_bad_ids_and_misplaced_keys() {
        let p = plan("/flaky/a-1", Some("fail_first=3&delay_ms=5")).expect("valid");
        assert_eq!(p.flaky, Some(flaky("a-1", 3, 0)));
        assert_eq!(
            (p.status.as_u16(), p.delay),
            (503, Duration::from_millis(5))
        );
        let p = plan("/flaky/b", Some("fail_for_ms=250&status=429")).expect("valid");
        assert_eq!(p.flaky, Some(flaky("b", 0, 250)));
        assert_eq!(p.status.as_u16(), 429);
        let status =
            |path: &str, query: Option<&str>| plan(path, query).map_err(|(s, _)| s.as_u16());
        assert_eq!(status("/flaky/a b", None), Err(400));
        assert_eq!(status("/flaky/", None), Err(400));
        assert_eq!(
            status(&format!("/flaky/{}", "x".repeat(65)), None),
            Err(400)
        );
        assert_eq!(status("/flaky/a", Some("fail_for_ms=60001")), Err(400));
        assert_eq!(status("/flaky/a", Some("fail_first=-1")), Err(400));
        assert_eq!(status("/delay/5", Some("fail_first=1")), Err(400));
        assert_eq!(status("/flaky/a/b", None), Err(404));
    }

    #[test]
    fn flaky_ids_fail_the_first_n_or_for_a_while_each_id_on_its_own() {
        let mut ids = FlakyIds::default();
        let t0 = Instant::now();
        let first3 = flaky("a", 3, 0);
        let outcomes: Vec<_> = (0..5).map(|_| ids.hit(&first3, t0)).collect();
        assert_eq!(
            outcomes,
            [(1, true), (2, true), (3, true), (4, false), (5, false)]
        );
        // Another id has its own count.
        assert_eq!(ids.hit(&flaky("b", 1, 0), t0), (1, true));
        assert_eq!(ids.hit(&flaky("b", 1, 0), t0), (2, false));
        // A window: measured from the id's first request.
        let window = flaky("w", 0, 250);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(ids.hit(&window, at(100)), (1, true));
        assert_eq!(ids.hit(&window, at(349)), (2, true));
        assert_eq!(ids.hit(&window, at(350)), (3, false));
        // Neither key: it only counts.
        assert_eq!(ids.hit(&flaky("n", 0, 0), t0), (1, false));
    }

    #[test]
    fn flaky_ids_are_bounded_and_the_oldest_is_forgotten_first() {
        let mut ids = FlakyIds::default();
        let t0 = Instant::now();
        for i in 0..MAX_FLAKY_IDS + 10 {
            let f = flaky(&format!("id{i}"), 1, 0);
            assert_eq!(ids.hit(&f, t0 + Duration::from_millis(i as u64)), (1, true));
        }
        assert_eq!(ids.ids.len(), MAX_FLAKY_IDS);
        // The first ten were evicted: id0 starts afresh. The newest is remembered.
        assert!(!ids.ids.contains_key("id5"));
        let newest = format!("id{}", MAX_FLAKY_IDS + 9);
        assert_eq!(ids.hit(&flaky(&newest, 1, 0), t0), (2, false));
    }

    #[test]
    fn serves_a_flaky_id_that_fails_three_times_then_recovers() {
        let server = TestServer::start().expect("start");
        let statuses: Vec<u16> = (0..5)
            .map(|_| get(server.addr(), "/flaky/srv?fail_first=3").0)
            .collect();
        assert_eq!(statuses, [503, 503, 503, 200, 200]);
        let (status, body) = get(server.addr(), "/flaky/other?fail_first=1&status=429");
        assert_eq!(status, 429);
        assert_eq!(
            String::from_utf8_lossy(&body),
            "request 1 of id \"other\": fails\n"
        );
        assert_eq!(get(server.addr(), "/flaky/win?fail_for_ms=200").0, 503);
        thread::sleep(Duration::from_millis(250));
        assert_eq!(get(server.addr(), "/flaky/win?fail_for_ms=200").0, 200);
    }

    #[test]
    fn paths_and_queries_choose_delay_status_and_size() {
        assert_eq!(plan("/", None), Ok(ok(0, 200, 0)));
        assert_eq!(plan("/delay/300", None), Ok(ok(300, 200, 0)));
        assert_eq!(plan("/status/503", None), Ok(ok(0, 503, 0)));
        assert_eq!(plan("/bytes/2048", None), Ok(ok(0, 200, 2048)));
        assert_eq!(
            plan("/delay/400", Some("bytes=10&status=500")),
            Ok(ok(400, 500, 10))
        );
        assert_eq!(
            plan("/status/500", Some("delay_ms=100")),
            Ok(ok(100, 500, 0))
        );
    }

    #[test]
    fn bad_paths_and_values_are_404_or_400_not_a_panic() {
        let status =
            |path: &str, query: Option<&str>| plan(path, query).map_err(|(s, _)| s.as_u16());
        assert_eq!(status("/nope", None), Err(404));
        assert_eq!(status("/delay", None), Err(404));
        assert_eq!(status("/delay/1/2", None), Err(404));
        assert_eq!(status("/delay/abc", None), Err(400));
        assert_eq!(status("/delay/-5", None), Err(400));
        assert_eq!(status("/delay/60001", None), Err(400));
        assert_eq!(status("/delay/99999999999999999999999", None), Err(400));
        assert_eq!(status("/status/99", None), Err(400));
        assert_eq!(status("/status/600", None), Err(400));
        assert_eq!(status("/status/70000", None), Err(400));
        assert_eq!(status("/bytes/16777217", None), Err(400));
        assert_eq!(status("/bytes/1", Some("colour=red")), Err(400));
        assert_eq!(status("/bytes/1", Some("status")), Err(400));
    }

    #[test]
    fn serves_the_chosen_status_and_body_size() {
        let server = TestServer::start().expect("start");
        assert_eq!(get(server.addr(), "/"), (200, b"ok\n".to_vec()));
        let (status, body) = get(server.addr(), "/bytes/5000");
        assert_eq!((status, body.len()), (200, 5000));
        assert_eq!(get(server.addr(), "/status/500").0, 500);
        let (status, body) = get(server.addr(), "/status/404?bytes=7");
        assert_eq!((status, body.len()), (404, 7));
    }

    #[test]
    fn bad_urls_get_404_or_400_and_the_server_keeps_serving() {
        let server = TestServer::start().expect("start");
        let (status, body) = get(server.addr(), "/no/such/thing");
        assert_eq!(status, 404);
        assert!(String::from_utf8_lossy(&body).contains("no such path"));
        assert_eq!(get(server.addr(), "/delay/soon").0, 400);
        assert_eq!(get(server.addr(), "/status/1000").0, 400);
        assert_eq!(get(server.addr(), "/bytes/1?x=1").0, 400);
        assert_eq!(get(server.addr(), "/bytes/3").0, 200, "still serving");
    }

    #[test]
    fn waits_the_chosen_delay_and_serves_slow_requests_concurrently() {
        let server = TestServer::start().expect("start");
        let addr = server.addr();
        let start = Instant::now();
        // Three requests of 300 ms at once: one server thread, but each connection is its own task.
        let handles: Vec<_> = (0..3)
            .map(|_| thread::spawn(move || get(addr, "/delay/300")))
            .collect();
        for handle in handles {
            assert_eq!(handle.join().expect("no panic").0, 200);
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        // Served one after another they would take 900 ms.
        assert!(
            took < Duration::from_millis(850),
            "not concurrent: {took:?}"
        );
    }

    #[test]
    fn shutdown_closes_the_port_at_once_even_with_a_request_in_progress() {
        let server = TestServer::start().expect("start");
        let addr = server.addr();
        assert_eq!(get(addr, "/").0, 200);
        // A client waiting on a 60 s delay must not hold up the shutdown.
        let mut waiting = TcpStream::connect(addr).expect("connect");
        write!(waiting, "GET /delay/60000 HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        server.shutdown();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let refused = TcpStream::connect(addr);
        assert!(refused.is_err(), "still accepting after shutdown");
        // The waiting client sees its connection closed, with no response.
        let mut rest = Vec::new();
        waiting
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a timeout");
        let read = waiting.read_to_end(&mut rest);
        assert!(read.is_err() || rest.is_empty(), "got a response: {rest:?}");
    }

    #[test]
    fn dropping_the_server_stops_it() {
        let addr = TestServer::start().expect("start").addr();
        // The temporary was dropped at the end of the statement above.
        assert!(TcpStream::connect(addr).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn works_from_async_code_and_its_delays_are_real_time_even_on_a_paused_clock() {
        let server = TestServer::start().expect("start");
        let addr = server.addr();
        // A blocking client must not run on the test's runtime thread: hand it to a thread.
        let start = Instant::now();
        let (status, _) = tokio::task::spawn_blocking(move || get(addr, "/delay/100"))
            .await
            .expect("no panic");
        assert_eq!(status, 200);
        assert!(start.elapsed() >= Duration::from_millis(100));
        drop(server);
    }
}
