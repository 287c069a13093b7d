//! A small HTTP/1.1 server on `127.0.0.1`, started in-process, for the examples that fetch (09) and
//! their tests: nothing leaves the machine, and every response is chosen by its URL.
//!
//! ```text
//! GET /                 200, body "ok\n"
//! GET /delay/{ms}       200 after `ms` milliseconds (at most 60 000)
//! GET /status/{code}    that status (200..=599), at once
//! GET /bytes/{n}        200 with a body of exactly `n` bytes (at most 16 MiB)
//! ```
//!
//! The query string sets the other two on any of them: `/delay/400?bytes=8192` is a slow response
//! with a body, `/status/500?delay_ms=100` a failure that takes its time. Keys: `delay_ms`, `status`,
//! `bytes`. An unknown path is a `404`, a value that is not a number or out of range a `400` with the
//! reason in the body: a bad URL from a test never panics the server.
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

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::thread;
use std::time::Duration;

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
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(async move {
                        let served = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(respond))
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
}

async fn respond(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let uri = request.uri();
    debug!("{} {uri}", request.method());
    let response = match plan(uri.path(), uri.query()) {
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
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => {}
        ["delay", ms] => set("delay_ms", ms, &mut plan)?,
        ["status", code] => set("status", code, &mut plan)?,
        ["bytes", n] => set("bytes", n, &mut plan)?,
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no such path {path:?}: try /delay/{{ms}}, /status/{{code}} or /bytes/{{n}}"
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
        _ => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {key:?}: use delay_ms, status or bytes"),
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
        }
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
