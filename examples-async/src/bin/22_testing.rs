//! # 22 · Testing async code: the same scenario on the real clock and on a paused one
//!
//! The chapter's sixth challenge ("testing asynchronous code can be harder": timing, ordering,
//! mocks; Python answers with `pytest-asyncio`). Every file of this workspace relies on the answer,
//! and this one teaches it. The component under test is small and timing-heavy: a **price cache with
//! a TTL** in front of a slow backend (each load takes 200 ms, an entry is fresh for 500 ms), served
//! over a line protocol like 14's (`GET EUR` -> `VALUE EUR 108 MISS`).
//!
//! What it shows:
//! - `main` runs one client session (7 requests, 4 misses and 3 hits, 1300 ms of waiting by design)
//!   twice: on the **real clock**, where it takes 1.3 s of wall time, and on a **paused runtime**
//!   (`Builder::start_paused`), where tokio jumps the clock to the next timer whenever every task is
//!   waiting: the same 1300 ms of scenario time, the same outcomes, in about a millisecond of wall time.
//! - Its tests show each technique once, named for what it proves:
//!   - `#[tokio::test(start_paused = true)]` and `time::advance`: the scenario's times are exact,
//!     and an entry is fresh until exactly its TTL, not a millisecond more;
//!   - **the auto-advance trap**: a timeout around *real* loopback I/O fires at once on a paused
//!     clock (nothing is runnable, so the clock jumps to the timeout), and how to avoid it
//!     (`time::resume()` before real I/O, or no paused clock in that test);
//!   - **polling a future by hand** (`tokio_test::task::spawn`, `assert_pending!`/`assert_ready!`):
//!     a miss stays pending until its load finishes, a hit is ready at the first poll;
//!   - **a protocol handler without sockets** (`tokio_test::io::Builder`): a scripted peer that
//!     sends and expects exact bytes, including a bad command and an over-long line;
//!   - **a cancelled future tested for cleanup**: a miss dropped mid-load leaves no entry behind and
//!     its in-flight count goes back to 0 (a drop guard, not code after the `.await`).
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Testing: testing asynchronous code can be
//! more complex"), Python's `pytest-asyncio`. Threads twin: `examples-threads/src/bin/22_testing_threads.rs`
//! (loom's exhaustive interleavings, a `Barrier` that forces one).
//!
//! Run: `cargo run -p examples-async --bin 22_testing` (no flags but `--help`, about 1.4 s), and its
//! tests: `cargo test -p examples-async --bin 22_testing`.
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.007s  INFO [main] --- the session on the real clock ---
//!   0.211s  INFO [main] GET EUR at 1.29 ms -> VALUE EUR 108 MISS (answered after 202 ms)
//!   0.212s  INFO [main] GET EUR at 204 ms -> VALUE EUR 108 HIT (answered after 0.09 ms)
//!   0.414s  INFO [main] GET USD at 206 ms -> VALUE USD 100 MISS (answered after 201 ms)
//!   1.016s  INFO [main] GET EUR at 807 ms -> VALUE EUR 108 MISS (answered after 201 ms)
//!   ...
//!   1.325s  INFO [main] --- the same session on a paused clock ---
//!   1.325s  INFO [main] GET EUR at 0.00 ms -> VALUE EUR 108 MISS (answered after 200 ms)
//!   1.325s  INFO [main] GET EUR at 200 ms -> VALUE EUR 108 HIT (answered after 0.00 ms)
//!   ...
//!
//! Summary
//!   real clock:   MISS HIT MISS MISS MISS HIT HIT: 4 misses, 3 hits; 1317 ms of scenario time (ideal 1300 ms) in 1317 ms of wall time
//!   paused clock: MISS HIT MISS MISS MISS HIT HIT: 4 misses, 3 hits; 1300 ms of scenario time (ideal 1300 ms) in 0.64 ms of wall time
//!   same outcomes on both clocks: yes (as planned: real yes, paused yes); the paused run took 2054x less wall time
//!   loads still in flight at the end: 0 (none leaked)
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tracing::info;

/// How long the backend takes to answer one load.
const LOAD: Duration = Duration::from_millis(200);
/// How long a loaded price stays fresh.
const TTL: Duration = Duration::from_millis(500);

/// The client's session: wait this long, then ask for this key. Every check of a cached entry is
/// at least 100 ms from its expiry, so the real clock, a little late on every timer, gives the same
/// outcomes as the paused one.
const SESSION: [(u64, &str); 7] = [
    (0, "EUR"),   // t=0: miss, loaded at 200 (fresh until 700)
    (0, "EUR"),   // t=200: hit
    (0, "USD"),   // t=200: miss, loaded at 400 (fresh until 900)
    (400, "EUR"), // t=800: expired at 700: miss, loaded at 1000 (fresh until 1500)
    (0, "USD"),   // t=1000: expired at 900: miss, loaded at 1200
    (100, "EUR"), // t=1300: hit
    (0, "USD"),   // t=1300: hit
];
/// What the session must see, worked out by hand above.
const EXPECTED: [Outcome; 7] = [
    Outcome::Miss,
    Outcome::Hit,
    Outcome::Miss,
    Outcome::Miss,
    Outcome::Miss,
    Outcome::Hit,
    Outcome::Hit,
];
/// Its scenario time: four loads and 500 ms of pauses.
const IDEAL: Duration = Duration::from_millis(1300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Hit,
    Miss,
}

/// The component under test: prices from a slow backend, kept for `ttl`.
struct PriceCache {
    ttl: Duration,
    /// Price and the instant it was loaded. A std mutex: it is never held across an `.await`.
    entries: Mutex<HashMap<String, (u32, Instant)>>,
    /// Loads started and not finished (running, or cancelled without cleanup).
    in_flight: AtomicUsize,
}

impl PriceCache {
    fn new(ttl: Duration) -> Self {
        PriceCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The price of `key`: from the cache while fresh, else from the backend (and then cached).
    /// `tokio::time::Instant`, not std's: it follows the paused clock, which is what makes the TTL
    /// testable without waiting for it.
    async fn get(&self, key: &str) -> (u32, Outcome) {
        let cached = self.lock().get(key).copied();
        if let Some((price, loaded)) = cached
            && loaded.elapsed() < self.ttl
        {
            return (price, Outcome::Hit);
        }
        // The count goes back down in the guard's `Drop`, which runs also when this future is
        // dropped at the `.await` below (cancelled): code written after the `.await` would not run.
        let _loading = InFlight::start(&self.in_flight);
        let price = load_price(key).await;
        self.lock().insert(key.to_string(), (price, Instant::now()));
        (price, Outcome::Miss)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        // A panic while locked cannot leave the map half-updated (one `insert`): recover the guard.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The slow backend: a fixed price per key after `LOAD`.
async fn load_price(key: &str) -> u32 {
    sleep(LOAD).await;
    price_of(key)
}

fn price_of(key: &str) -> u32 {
    match key {
        "EUR" => 108,
        "USD" => 100,
        "GBP" => 127,
        _ => {
            key.bytes()
                .fold(7u32, |a, b| a.wrapping_mul(31) ^ u32::from(b))
                % 1000
        }
    }
}

/// The longest line the server accepts (without its `\n`): `GET` and a 16-byte key fit easily.
const MAX_LINE: usize = 32;

/// The protocol handler, one session: `GET <key>` -> `VALUE <key> <price> HIT|MISS`, `QUIT` -> `BYE`
/// and hang up, anything else -> `ERROR <reason>`; an over-long line ends the session (a peer that
/// never sends `\n` must not make us buffer without bound). Generic over the stream, so the tests
/// hand it a scripted mock and `main` an in-memory pipe: no socket anywhere.
async fn serve<S>(stream: S, cache: &PriceCache) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                lines.send("ERROR line too long").await?;
                return Ok(());
            }
            Err(LinesCodecError::Io(e)) => return Err(e.into()),
        };
        let reply = match line.split_ascii_whitespace().collect::<Vec<_>>()[..] {
            ["GET", key] if is_key(key) => {
                let (price, outcome) = cache.get(key).await;
                let outcome = match outcome {
                    Outcome::Hit => "HIT",
                    Outcome::Miss => "MISS",
                };
                format!("VALUE {key} {price} {outcome}")
            }
            ["GET", _] => "ERROR bad key".to_string(),
            ["QUIT"] => {
                lines.send("BYE").await?;
                return Ok(());
            }
            _ => "ERROR unknown command".to_string(),
        };
        lines.send(reply).await?;
    }
    Ok(())
}

fn is_key(key: &str) -> bool {
    (1..=16).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What one session measured.
#[derive(Debug)]
struct SessionRun {
    outcomes: Vec<Outcome>,
    /// Scenario time, on whatever clock the runtime has (real or paused).
    elapsed: Duration,
}

/// One client session against a server task, over an in-memory pipe (`tokio::io::duplex`).
async fn session(cache: std::sync::Arc<PriceCache>) -> anyhow::Result<SessionRun> {
    let start = Instant::now();
    let (client, server) = tokio::io::duplex(1024);
    let server = tokio::spawn(async move { serve(server, &cache).await });
    let mut client = Framed::new(client, LinesCodec::new_with_max_length(MAX_LINE));
    let mut outcomes = Vec::new();
    for (wait, key) in SESSION {
        sleep(Duration::from_millis(wait)).await;
        let asked = Instant::now();
        let at = start.elapsed();
        client.send(format!("GET {key}")).await?;
        let reply = client
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the server hung up"))??;
        info!(
            "GET {key} at {} -> {reply} (answered after {})",
            fmt_duration(at),
            fmt_duration(asked.elapsed())
        );
        outcomes.push(match reply.rsplit(' ').next() {
            Some("HIT") => Outcome::Hit,
            Some("MISS") => Outcome::Miss,
            _ => anyhow::bail!("unexpected reply {reply:?}"),
        });
    }
    client.send("QUIT").await?;
    server.await??;
    Ok(SessionRun {
        outcomes,
        elapsed: start.elapsed(),
    })
}

/// Runs the session on a fresh current-thread runtime, paused or not; returns it with the wall
/// time it took (std's clock, which no runtime can pause) and the loads left in flight.
fn run_session(paused: bool) -> anyhow::Result<(SessionRun, Duration, usize)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()?;
    let cache = std::sync::Arc::new(PriceCache::new(TTL));
    let wall = std::time::Instant::now();
    let run = runtime.block_on(session(cache.clone()))?;
    Ok((run, wall.elapsed(), cache.in_flight.load(Ordering::SeqCst)))
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "22 · Testing async code: a TTL cache's session on the real clock (1.3 s) and on a \
             paused one (milliseconds); its tests show start_paused/advance, the auto-advance trap, \
             polling by hand, mock I/O and cleanup on cancel",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- the session on the real clock ---");
    let (real, real_wall, real_left) = run_session(false)?;
    info!("--- the same session on a paused clock ---");
    let (paused, paused_wall, paused_left) = run_session(true)?;

    let describe = |r: &SessionRun, wall: Duration| {
        let hits = r.outcomes.iter().filter(|o| **o == Outcome::Hit).count();
        let names: Vec<&str> = r
            .outcomes
            .iter()
            .map(|o| match o {
                Outcome::Hit => "HIT",
                Outcome::Miss => "MISS",
            })
            .collect();
        format!(
            "{}: {} misses, {hits} hits; {} of scenario time (ideal {}) in {} of wall time",
            names.join(" "),
            r.outcomes.len() - hits,
            fmt_duration(r.elapsed),
            fmt_duration(IDEAL),
            fmt_duration(wall)
        )
    };
    common::out!();
    common::out!("Summary");
    common::out!("  real clock:   {}", describe(&real, real_wall));
    common::out!("  paused clock: {}", describe(&paused, paused_wall));
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    common::out!(
        "  same outcomes on both clocks: {} (as planned: real {}, paused {}); the paused run took {:.0}x less wall time",
        yes_no(real.outcomes == paused.outcomes),
        yes_no(real.outcomes == EXPECTED),
        yes_no(paused.outcomes == EXPECTED),
        common::timing::speedup(real_wall, paused_wall)
    );
    let left = real_left + paused_left;
    common::out!(
        "  loads still in flight at the end: {left} ({})",
        if left == 0 { "none leaked" } else { "LEAKED" }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Support: the drop guard that keeps `in_flight` right on every path.

/// Counts one load in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    //! One technique per test, each named for what it proves.
    use super::*;
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
                let _ = stream.write_all(b"pong\n");
                flag.store(true, Ordering::SeqCst);
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
}
