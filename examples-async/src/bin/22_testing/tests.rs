//! One technique per test, each named for what it proves.
use super::*;
use crate::report::*;
use clap::Parser;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::io::AsyncBufReadExt;
use tokio_test::{assert_pending, assert_ready};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `start_paused`: the whole session, 1300 ms of sleeps and loads, checked to the millisecond,
/// and it costs no real waiting.
#[tokio::test(start_paused = true)]
async fn the_session_takes_exactly_1300_ms_on_the_paused_clock() {
    let cache = Arc::new(PriceCache::new(TTL));
    let wall = std::time::Instant::now();
    let run = session(cache.clone()).await.expect("the session runs");
    assert_eq!(run.outcomes, EXPECTED);
    assert_eq!(run.elapsed, IDEAL);
    assert_eq!(cache.in_flight.load(Ordering::SeqCst), 0);
    assert!(
        wall.elapsed() < Duration::from_secs(1),
        "{:?}",
        wall.elapsed()
    );
}

/// `advance` moves the paused clock by hand: the entry is fresh 1 ms before its TTL and stale
/// exactly at it. On the real clock this boundary could only be tested with sleeps and slack.
#[tokio::test(start_paused = true)]
async fn an_entry_is_fresh_until_exactly_its_ttl() {
    let cache = PriceCache::new(TTL);
    assert_eq!(cache.get("EUR").await, (108, Outcome::Miss));
    tokio::time::advance(TTL - ms(1)).await;
    assert_eq!(cache.get("EUR").await, (108, Outcome::Hit));
    tokio::time::advance(ms(1)).await;
    let start = Instant::now();
    assert_eq!(cache.get("EUR").await, (108, Outcome::Miss));
    assert_eq!(start.elapsed(), LOAD, "a miss costs exactly one load");
}

/// A loopback server on a real thread that answers one line after `delay` of real time; the
/// flag says whether it has answered yet.
fn slow_echo_server(delay: Duration) -> (std::net::SocketAddr, Arc<AtomicBool>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    let answered = Arc::new(AtomicBool::new(false));
    let flag = answered.clone();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            std::thread::sleep(delay);
            // Set before the answer goes out: set after, a client could read "pong" and look at
            // the flag before this thread got to set it (it did, once, on a busy machine).
            flag.store(true, Ordering::SeqCst);
            let _ = stream.write_all(b"pong\n");
        }
    });
    (addr, answered)
}

async fn ping(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    tokio::io::AsyncWriteExt::write_all(&mut write, b"ping\n").await?;
    let mut line = String::new();
    tokio::io::BufReader::new(read).read_line(&mut line).await?;
    Ok(line)
}

/// The trap: while the task waits for a real socket, nothing on the runtime is runnable, so the
/// paused clock jumps straight to the next timer, the 10 s timeout, which fires at once, long
/// before the server answers (100 ms of real time). The test "fails" with a timeout in no time.
#[tokio::test(start_paused = true)]
async fn a_timeout_around_real_io_fires_at_once_on_a_paused_clock() {
    let (addr, answered) = slow_echo_server(Duration::from_secs(2));
    let wall = std::time::Instant::now();
    let start = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), ping(addr)).await;
    assert!(answer.is_err(), "the timeout fired: {answer:?}");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(10),
        "10 s of paused time"
    );
    assert!(
        !answered.load(Ordering::SeqCst),
        "before the server answered"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
}

/// How to avoid it: let the clock run (`time::resume()`) before real I/O, or test real I/O
/// without `start_paused` at all. Then the timeout means real seconds again.
#[tokio::test(start_paused = true)]
async fn resuming_the_clock_lets_real_io_finish_under_a_timeout() {
    let (addr, answered) = slow_echo_server(ms(100));
    tokio::time::resume();
    let answer = tokio::time::timeout(Duration::from_secs(10), ping(addr)).await;
    assert_eq!(answer.expect("no timeout").expect("no I/O error"), "pong\n");
    assert!(answered.load(Ordering::SeqCst));
}

/// Polling by hand: `tokio_test::task::spawn` wraps a future in a mock task that records wake-ups.
/// A miss is pending until its load's timer fires (and that wakes it); a hit is ready at once.
#[tokio::test(start_paused = true)]
async fn a_miss_is_pending_until_its_load_finishes_and_a_hit_is_ready_at_once() {
    let cache = PriceCache::new(TTL);
    let mut miss = tokio_test::task::spawn(cache.get("USD"));
    assert_pending!(miss.poll());
    tokio::time::advance(LOAD - ms(1)).await;
    assert!(!miss.is_woken(), "nothing to do 1 ms before the load ends");
    assert_pending!(miss.poll());
    tokio::time::advance(ms(1)).await;
    assert!(miss.is_woken(), "the timer woke it");
    assert_eq!(assert_ready!(miss.poll()), (100, Outcome::Miss));
    drop(miss);

    let mut hit = tokio_test::task::spawn(cache.get("USD"));
    assert_eq!(assert_ready!(hit.poll()), (100, Outcome::Hit));
}

/// A handler that waits for more input than the script holds would wait for ever; on the
/// paused clock this deadline fires at once instead, and the test fails rather than hangs.
async fn within_a_minute<T>(session: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), session)
        .await
        .expect("the session ended (it did not wait for input the script never sends)")
}

/// The handler without sockets: `io::Builder` scripts the peer, byte for byte. Every read is
/// what the peer sends, every write what it expects back; a wrong byte fails the test.
#[tokio::test(start_paused = true)]
async fn the_protocol_handler_answers_a_scripted_peer_without_sockets() {
    let cache = PriceCache::new(TTL);
    let peer = tokio_test::io::Builder::new()
        .read(b"GET EUR\n")
        .write(b"VALUE EUR 108 MISS\n")
        .read(b"GET EUR\nGET eu-r\n") // two lines in one read: framing must split them
        .write(b"VALUE EUR 108 HIT\n")
        .write(b"ERROR bad key\n")
        .read(b"HELLO\n")
        .write(b"ERROR unknown command\n")
        .read(b"QUIT\n")
        .write(b"BYE\n")
        .build();
    within_a_minute(serve(peer, &cache))
        .await
        .expect("the session ends cleanly");
}

#[tokio::test(start_paused = true)]
async fn an_over_long_line_ends_the_session_with_an_error() {
    let cache = PriceCache::new(TTL);
    let peer = tokio_test::io::Builder::new()
        .read(&[b'x'; MAX_LINE + 1])
        .write(b"ERROR line too long\n")
        .build();
    within_a_minute(serve(peer, &cache))
        .await
        .expect("ends cleanly");
}

/// Cancellation: a miss dropped while its load is pending (as a `timeout` or a `select!` would
/// drop it) must leave no half-written entry and no load counted in flight.
#[tokio::test(start_paused = true)]
async fn a_cancelled_miss_leaves_nothing_behind() {
    let cache = PriceCache::new(TTL);
    let mut miss = tokio_test::task::spawn(cache.get("GBP"));
    assert_pending!(miss.poll());
    assert_eq!(cache.in_flight.load(Ordering::SeqCst), 1);
    drop(miss); // cancelled at its `.await`
    assert_eq!(cache.in_flight.load(Ordering::SeqCst), 0, "the guard ran");
    assert!(cache.lock().is_empty(), "no entry was written");
    // And the next caller loads afresh.
    assert_eq!(cache.get("GBP").await, (127, Outcome::Miss));
    assert_eq!(cache.in_flight.load(Ordering::SeqCst), 0);
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["22", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("22 · Testing"), "{help}");
    let bad = Args::try_parse_from(["22", "--ttl", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
