//! The demo end to end on real sockets, with bounds that hold on a loaded machine: the lower
//! bound (rounds x delay) is exact, because n workers cannot finish more than n requests per
//! delay; the upper bound is generous.
//! `raw_exchange` is shared with the tests of `server.rs`.
use super::*;
use crate::demo::*;
use crate::report::rounds;
use std::net::TcpStream;

/// Sends `request` (raw bytes) on a fresh connection and returns what the server wrote back before
/// it closed, or the I/O error that ended the read. Shared by the tests of both modules.
pub(crate) fn raw_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr)?;
    // A test must fail, not hang, if the server never answers.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

fn args(delay_ms: u64, threads: u32) -> ServerArgs {
    ServerArgs {
        addr: "127.0.0.1:0".parse().expect("valid address"),
        threads,
        delay_ms,
        max_connections: 1000,
        header_timeout_ms: 5_000,
        write_timeout_ms: 5_000,
        grace_period_ms: 5_000,
    }
}

#[test]
fn with_n_threads_at_most_n_requests_progress_at_once() {
    let delay = Duration::from_millis(100);
    let (threads, burst) = (4, 12);
    let report = demo(&args(100, threads), burst).expect("demo runs");
    assert_eq!(
        report.routes,
        [
            ("GET /".to_string(), 200),
            ("GET /user/7".to_string(), 200),
            ("GET /data".to_string(), 200),
            ("GET /nope".to_string(), 404),
            ("POST /".to_string(), 405),
        ]
    );
    assert!(report.burst_all_ok);
    // The pool is the limit: never more than 4 in flight, and 12 requests need 3 rounds.
    assert_eq!(report.peak_in_flight, threads as usize, "{report:?}");
    assert!(report.burst_took >= delay * 3, "{report:?}");
    assert!(report.burst_took < delay * 12, "{report:?}");
    // Graceful: the request in flight at the signal finished with its full 10 x delay.
    assert_eq!(report.slow_status, 200);
    assert!(report.slow_took >= delay * 10, "{report:?}");
    assert_eq!(report.dropped_after_grace, 0);
    // The access log showed the tour and a few of the burst; the rest was only counted.
    assert_eq!(report.server.logged, ROUTES.len() as u64 + BURST_LOGGED);
    assert!(report.server.requests > report.server.logged, "{report:?}");
    assert!(report.refused_after_shutdown);
    assert_eq!(report.server.errors, 0);
}

#[test]
fn rounds_round_up() {
    assert_eq!(rounds(64, 16), 4);
    assert_eq!(rounds(65, 16), 5);
    assert_eq!(rounds(3, 16), 1);
}

#[test]
fn shorten_cuts_on_characters() {
    assert_eq!(shorten("héllo", 2), "hé...");
    assert_eq!(shorten("hi", 5), "hi");
}
