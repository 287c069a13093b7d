//! The demo end to end on real sockets (real time, so bounds, not exact figures; the exact
//! timing claims are proven on the paused clock in `server::tests`), and the helpers the tests of
//! every module share.
use super::*;
use crate::demo::*;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Sends `request` (raw bytes) on a fresh connection and returns what the server wrote back before
/// it closed, or the I/O error that ended the read. Shared by the tests of both modules.
pub(crate) async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// A future the tests complete when they want the server to stop.
pub(crate) fn shutdown_trigger() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()>) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async {
        let _ = rx.await;
    })
}

fn args(delay_ms: u64) -> ServerArgs {
    ServerArgs {
        addr: "127.0.0.1:0".parse().expect("valid address"),
        delay_ms,
        max_connections: 1000,
        header_timeout_ms: 5_000,
        write_timeout_ms: 5_000,
        grace_period_ms: 5_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_a_burst_in_about_one_delay_and_shuts_down_gracefully() {
    let delay = Duration::from_millis(200);
    let burst = 40;
    let report = demo(&args(200), burst).await.expect("demo runs");
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
    // Concurrent: every request of the burst was in the server at the same time, and the
    // burst took about one delay, far from the 40 x 200 ms of one at a time.
    assert_eq!(report.peak_in_flight, burst, "{report:?}");
    assert!(report.burst_took >= delay, "{report:?}");
    assert!(report.burst_took < delay * 5, "{report:?}");
    // Graceful: the request in flight at the signal finished with its full 10 x delay.
    assert_eq!(report.slow_status, 200);
    assert!(report.slow_took >= delay * 10, "{report:?}");
    assert_eq!(report.dropped_after_grace, 0);
    // The access log showed the tour and a few of the burst; the rest was only counted.
    assert_eq!(report.server.logged, ROUTES.len() as u64 + BURST_LOGGED);
    assert!(report.server.requests > report.server.logged, "{report:?}");
    assert!(report.refused_after_shutdown);
    assert_eq!(report.server.errors, 0);
    assert_eq!(report.server.live_connections, 0, "every connection closed");
}

#[test]
fn shorten_cuts_on_characters() {
    assert_eq!(shorten("héllo", 2), "hé...");
    assert_eq!(shorten("hi", 5), "hi");
}
