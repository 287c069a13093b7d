//! # 16 · Cancellation: tokens, timeouts, abort, and the data a `select!` loop can lose
//!
//! JavaScript cancels with an `AbortController`: every API that can stop takes its `signal` and checks
//! it. A Rust future needs no such parameter: it only runs while someone polls it, so **dropping it
//! is cancelling it**, at whichever `.await` it is parked on. Everything below builds on that.
//!
//! What it shows, each step measured beside its ideal:
//! 1. **A sleep aborted** by a `CancellationToken` (tokio-util) that another task cancels after
//!    200 ms: `select!` between `token.cancelled()` and the sleep. An already-cancelled token stops
//!    it before it starts (JS's `throwIfAborted`), because `biased;` checks the token first.
//! 2. **`tokio::time::timeout`** as `AbortSignal.timeout`: a 1000 ms sleep under 300 ms gives up at
//!    300 ms; a 100 ms sleep under 500 ms finishes.
//! 3. **Child tokens** as `AbortSignal.any([user, timeout])`: `user.child_token()` is cancelled when
//!    the user's token is, or by its own timer; cancelling the child leaves the parent alone.
//! 4. **A request aborted**: a GET to the local test server (`/delay/2000`) dropped by the token after
//!    150 ms (`run_until_cancelled`), and one under a 50 ms `timeout`. Dropping reqwest's future
//!    closes the connection: nothing keeps waiting for the 2 s answer.
//! 5. **A group of tasks**: three workers with child tokens of one group token stop together and
//!    return what they did; three in a `JoinSet` are stopped by `abort_all()` (their `JoinError`
//!    says `is_cancelled`). Every worker holds a guard whose `Drop` counts: the cleanup ran for all
//!    of them, none leaked, on both paths.
//! 6. **A timeout is not the cancellation of a spawned task** (C++'s `future_timed_wait.cpp` demo
//!    4): `timeout(200 ms, &mut handle)` stops the *waiting*, the task finishes its 500 ms anyway.
//!    The same timeout on a plain future drops the work with it; `handle.abort()` stops the task.
//! 7. **Cancellation safety in a `select!` loop** (the lesson few examples show): a writer sends 10
//!    lines, each in two pieces 15 ms apart; the reader loops on `select!` between reading a line
//!    and a 20 ms ticker. `read_line` is *not cancel safe*: when the tick wins, the future is dropped
//!    with the half line it had read, and the rest arrives as a fragment. Counted: 7 of 10 lines
//!    lost on the exact schedule (the paused clock; on the real clock the count drifts with the
//!    timers, which is why this bug is rare in tests and common in production). The fixes lose 0:
//!    keep **one read future across turns** (poll it by `&mut`, make a new one only when it
//!    completes), or use a **cancel-safe API** (`Lines::next_line`, which keeps a partial line in
//!    the reader, not in the future). `biased;` polls the branches in order (data first, then the
//!    tick) instead of at random, so a tie always goes to the data and a run is reproducible; it
//!    does not make a branch cancel safe: a tick that comes while the line is incomplete wins
//!    either way (without it the exact schedule still loses 7).
//!
//! Upstream: `src/js/asynchrony/16_abort_controller.js` (demos 1-4; its demo 4 fetches
//! jsonplaceholder.typicode.com, here the local `common::http_server`), `src/cpp/asynchrony/
//! future_timed_wait.cpp` demo 4 (a timeout is not a cancellation). Seed: "Asynchrony" > Futures and
//! Tasks ("tasks can be awaited, cancelled, grouped"). Threads twin:
//! `examples-threads/src/bin/16_cancellation_threads.rs` (cooperative cancellation only).
//!
//! Run: `cargo run -p examples-async --bin 16_cancellation` (about 3 s; no flags but `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- 1. a 2000 ms sleep, the token cancelled after 200 ms ---
//!   0.201s  INFO [main] sleep: Cancelled after 201 ms
//!   0.201s  INFO [main] with an already-cancelled token: Cancelled after 0.01 ms
//!   ...
//!   1.111s  INFO [main] --- 4. a request to the local server, cancelled after 150 ms, or under a 50 ms timeout ---
//!   1.264s  INFO [main] GET http://127.0.0.1:38373/delay/2000: Stopped after 152 ms
//!   ...
//!   2.547s  INFO [main] --- 7. select! in a loop: a line read against a 20 ms ticker, three ways at once ---
//!   2.568s  INFO [main] read_line, a new future each turn (not cancel safe): got "00", a fragment: its first half was lost
//!   2.600s  INFO [main] read_line, a new future each turn (not cancel safe): got "01", a fragment: its first half was lost
//!   ...
//!
//! Summary
//!   1. sleep 2000 ms: cancelled after 201 ms (ideal 200 ms); already-cancelled token: cancelled after 0.01 ms (ideal 0)
//!   2. timeout 300 ms on a 1000 ms sleep: gave up after 307 ms (ideal 300 ms); a 100 ms sleep under 500 ms: finished after 101 ms
//!   3. child token: the user's cancel: cancelled after 201 ms (ideal 200 ms, its own timer 1000 ms); its own timer alone: cancelled after 301 ms, parent still running: yes
//!   4. GET /delay/2000: stopped after 152 ms (ideal 150 ms; the server answers after 2000 ms); under a 50 ms timeout: stopped after 52 ms; /delay/100 uncancelled: status 200 after 103 ms
//!   5. group of 3 with child tokens: 3/3 stopped after 251 ms (ideal 250 ms); JoinSet::abort_all: 3/3 cancelled after 252 ms; guards dropped 6 of 6 (none leaked)
//!   6. timeout 200 ms on a spawned 500 ms task: timed out: yes, done at the timeout: no, done at 501 ms anyway (a timeout is not a cancellation); on a plain future: timed out: yes, never done (dropped); after handle.abort(): never done
//!   7. select! loop, 10 lines in pieces, a tick every 20 ms:
//!      read_line, a new future each turn (not cancel safe): 3/10 lines intact, 7 lost (exact schedule: 7; ideal 0), 7 fragments read instead; 15 ticks
//!      one read future kept across turns: 10/10 lines intact, 0 lost (ideal 0), 0 fragments read instead; 15 ticks
//!      Lines::next_line (cancel safe): 10/10 lines intact, 0 lost (ideal 0), 0 fragments read instead; 15 ticks
//! ```

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, out, parse_args};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, interval, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::info;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// 1-3. A sleep aborted by a token, by a timeout, by either (child tokens)
// ---------------------------------------------------------------------------------------------

/// How an abortable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Cancelled,
}

/// JS's `abortableSleep(ms, signal)`. No listener to register or remove: `select!` polls both
/// futures, and when one is ready the other is dropped (the sleep's timer is deregistered).
async fn abortable_sleep(duration: Duration, token: &CancellationToken) -> Ended {
    tokio::select! {
        // Polled in this order, not at random: an already-cancelled token wins before the sleep is
        // even polled once, which is JS's `signal.throwIfAborted()` at the top of the function.
        biased;
        _ = token.cancelled() => Ended::Cancelled,
        _ = sleep(duration) => Ended::Finished,
    }
}

/// The user pressing "abort" after `after`: a task that cancels `token` then.
fn cancel_after(token: CancellationToken, after: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        sleep(after).await;
        token.cancel();
    })
}

#[derive(Debug)]
struct SleepFigures {
    ended: Ended,
    after: Duration,
    pre_cancelled: Ended,
    pre_cancelled_after: Duration,
}

const LONG_SLEEP: Duration = ms(2000);
const USER_ABORT: Duration = ms(200);

async fn demo_abort_a_sleep() -> SleepFigures {
    info!("--- 1. a 2000 ms sleep, the token cancelled after 200 ms ---");
    let token = CancellationToken::new();
    let user = cancel_after(token.clone(), USER_ABORT);
    let start = Instant::now();
    let ended = abortable_sleep(LONG_SLEEP, &token).await;
    let after = start.elapsed();
    info!("sleep: {ended:?} after {}", fmt_duration(after));
    let _ = user.await; // it has cancelled already; nothing to wait for

    // A token cancelled before the call: the wait never starts.
    let start = Instant::now();
    let pre_cancelled = abortable_sleep(LONG_SLEEP, &token).await;
    let pre_cancelled_after = start.elapsed();
    info!(
        "with an already-cancelled token: {pre_cancelled:?} after {}",
        fmt_duration(pre_cancelled_after)
    );
    SleepFigures {
        ended,
        after,
        pre_cancelled,
        pre_cancelled_after,
    }
}

#[derive(Debug)]
struct TimeoutFigures {
    long_timed_out: bool,
    long_after: Duration,
    short_timed_out: bool,
    short_after: Duration,
}

async fn demo_timeout() -> TimeoutFigures {
    info!("--- 2. timeout(300 ms) on a 1000 ms sleep, timeout(500 ms) on a 100 ms sleep ---");
    // `timeout` is a race between the future and a timer; the loser is dropped. `Err(Elapsed)` is
    // JS's `TimeoutError`.
    let start = Instant::now();
    let long = timeout(ms(300), sleep(ms(1000))).await;
    let long_after = start.elapsed();
    info!(
        "1000 ms sleep: {} after {}",
        if long.is_err() {
            "timed out"
        } else {
            "finished"
        },
        fmt_duration(long_after)
    );
    let start = Instant::now();
    let short = timeout(ms(500), sleep(ms(100))).await;
    let short_after = start.elapsed();
    info!(
        "100 ms sleep: {} after {}",
        if short.is_err() {
            "timed out"
        } else {
            "finished"
        },
        fmt_duration(short_after)
    );
    TimeoutFigures {
        long_timed_out: long.is_err(),
        long_after,
        short_timed_out: short.is_err(),
        short_after,
    }
}

#[derive(Debug)]
struct ChildFigures {
    by_user: Ended,
    by_user_after: Duration,
    by_own_timer: Ended,
    by_own_timer_after: Duration,
    parent_cancelled_by_child: bool,
}

/// The operation's own deadline in the first run (upstream: `AbortSignal.timeout(1000)`).
const OWN_TIMER: Duration = ms(1000);
/// The own deadline in the second run, where the user never aborts.
const SHORT_OWN_TIMER: Duration = ms(300);

async fn demo_child_tokens() -> ChildFigures {
    info!("--- 3. child tokens: cancelled by the user (200 ms) or by its own timer ---");
    // `AbortSignal.any([user, timeout])`: the child token is cancelled when the parent is, and it
    // can also be cancelled on its own (here by its timer) without touching the parent.
    let user = CancellationToken::new();
    let operation = user.child_token();
    let _user_clicks = cancel_after(user.clone(), USER_ABORT);
    let _own_timer = cancel_after(operation.clone(), OWN_TIMER);
    let start = Instant::now();
    let by_user = abortable_sleep(LONG_SLEEP, &operation).await;
    let by_user_after = start.elapsed();
    info!(
        "operation: {by_user:?} after {} (by the user's token)",
        fmt_duration(by_user_after)
    );

    let user = CancellationToken::new();
    let operation = user.child_token();
    let _own_timer = cancel_after(operation.clone(), SHORT_OWN_TIMER);
    let start = Instant::now();
    let by_own_timer = abortable_sleep(LONG_SLEEP, &operation).await;
    let by_own_timer_after = start.elapsed();
    let parent_cancelled_by_child = user.is_cancelled();
    info!(
        "operation: {by_own_timer:?} after {} by its own timer; the user's token cancelled: {parent_cancelled_by_child}",
        fmt_duration(by_own_timer_after)
    );
    ChildFigures {
        by_user,
        by_user_after,
        by_own_timer,
        by_own_timer_after,
        parent_cancelled_by_child,
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A request aborted
// ---------------------------------------------------------------------------------------------

/// How a request ended: a status, cancelled/timed out before the answer, or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fetched {
    Status(u16),
    Stopped,
    Failed(String),
}

/// GET `url`, read the whole body. The future holds the connection: dropping it closes it.
async fn get(client: &reqwest::Client, url: &str) -> Fetched {
    let answer = async {
        let response = client.get(url).send().await?;
        let status = response.status().as_u16();
        response.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    };
    match answer.await {
        Ok(status) => Fetched::Status(status),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}

#[derive(Debug)]
struct RequestFigures {
    cancelled: Fetched,
    cancelled_after: Duration,
    timed_out: Fetched,
    timed_out_after: Duration,
    control: Fetched,
    control_after: Duration,
}

const SLOW_REQUEST_MS: u64 = 2000;
const REQUEST_ABORT: Duration = ms(150);
const REQUEST_TIMEOUT: Duration = ms(50);
const CONTROL_REQUEST_MS: u64 = 100;

async fn demo_abort_a_request(server: &TestServer) -> anyhow::Result<RequestFigures> {
    info!(
        "--- 4. a request to the local server, cancelled after 150 ms, or under a 50 ms timeout ---"
    );
    // `no_proxy`: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let slow = server.url(&format!("/delay/{SLOW_REQUEST_MS}"));

    let token = CancellationToken::new();
    let _user = cancel_after(token.clone(), REQUEST_ABORT);
    let start = Instant::now();
    // `run_until_cancelled` is the `select!` of step 1 packaged: `None` if the token won.
    let cancelled = token
        .run_until_cancelled(get(&client, &slow))
        .await
        .unwrap_or(Fetched::Stopped);
    let cancelled_after = start.elapsed();
    info!(
        "GET {slow}: {cancelled:?} after {}",
        fmt_duration(cancelled_after)
    );

    let start = Instant::now();
    let timed_out = timeout(REQUEST_TIMEOUT, get(&client, &slow))
        .await
        .unwrap_or(Fetched::Stopped);
    let timed_out_after = start.elapsed();
    info!(
        "GET {slow} under timeout(50 ms): {timed_out:?} after {}",
        fmt_duration(timed_out_after)
    );

    // The control: the same path works when nobody cancels it.
    let quick = server.url(&format!("/delay/{CONTROL_REQUEST_MS}"));
    let start = Instant::now();
    let control = get(&client, &quick).await;
    let control_after = start.elapsed();
    info!(
        "GET {quick}: {control:?} after {}",
        fmt_duration(control_after)
    );
    Ok(RequestFigures {
        cancelled,
        cancelled_after,
        timed_out,
        timed_out_after,
        control,
        control_after,
    })
}

// ---------------------------------------------------------------------------------------------
// 5. A group of tasks: child tokens, and JoinSet::abort_all
// ---------------------------------------------------------------------------------------------

/// How many guards were made and how many dropped: equal once everything has stopped, or cleanup
/// was skipped somewhere.
#[derive(Debug, Default)]
struct GuardCounts {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

/// Stands for what a worker must release however it stops (a temp file, a lease, a connection).
/// Its `Drop` runs when the future holding it is dropped: that is how an aborted task cleans up.
struct Guard(Arc<GuardCounts>);

impl Guard {
    fn new(counts: &Arc<GuardCounts>) -> Guard {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Guard(counts.clone())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

const CHUNK: Duration = ms(100);
const WORKERS: usize = 3;
const GROUP_STOP: Duration = ms(250);

/// A worker that processes 100 ms chunks until its token is cancelled, and says how many it did.
async fn worker(id: usize, token: CancellationToken, counts: Arc<GuardCounts>) -> usize {
    let _guard = Guard::new(&counts);
    let mut chunks = 0;
    loop {
        tokio::select! {
            biased;
            // The cooperative way: the worker sees the cancel and returns normally, so it could
            // also do async cleanup here (flush, say goodbye), which a `Drop` cannot.
            _ = token.cancelled() => {
                info!("worker {id}: cancelled after {chunks} chunks");
                return chunks;
            }
            _ = sleep(CHUNK) => chunks += 1,
        }
    }
}

#[derive(Debug)]
struct GroupFigures {
    by_token_stopped: usize,
    by_token_after: Duration,
    aborted: usize,
    aborted_after: Duration,
    guards_made: usize,
    guards_dropped: usize,
}

async fn demo_group() -> GroupFigures {
    info!("--- 5. a group of 3 workers stopped by one token, 3 more by JoinSet::abort_all ---");
    let counts = Arc::new(GuardCounts::default());

    let group = CancellationToken::new();
    let mut workers = JoinSet::new();
    for id in 0..WORKERS {
        workers.spawn(worker(id, group.child_token(), counts.clone()));
    }
    let start = Instant::now();
    sleep(GROUP_STOP).await;
    group.cancel();
    let mut by_token_stopped = 0;
    while let Some(done) = workers.join_next().await {
        if done.is_ok() {
            by_token_stopped += 1;
        }
    }
    let by_token_after = start.elapsed();

    // The same workers, but their token is never cancelled: only abort can stop them.
    let never = CancellationToken::new();
    let mut workers = JoinSet::new();
    for id in WORKERS..2 * WORKERS {
        workers.spawn(worker(id, never.clone(), counts.clone()));
    }
    let start = Instant::now();
    sleep(GROUP_STOP).await;
    // Each task is dropped at its `.await`: no code of it runs after this point, but its locals
    // (the guard) are dropped, so `Drop` cleanup runs.
    workers.abort_all();
    let mut aborted = 0;
    while let Some(done) = workers.join_next().await {
        if done.is_err_and(|e| e.is_cancelled()) {
            aborted += 1;
        }
    }
    let aborted_after = start.elapsed();
    info!("abort_all: {aborted} tasks cancelled");
    GroupFigures {
        by_token_stopped,
        by_token_after,
        aborted,
        aborted_after,
        guards_made: counts.made.load(Ordering::SeqCst),
        guards_dropped: counts.dropped.load(Ordering::SeqCst),
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A timeout is not the cancellation of a spawned task
// ---------------------------------------------------------------------------------------------

const SLOW_WORK: Duration = ms(500);
const WAIT_LIMIT: Duration = ms(200);

/// The C++ demo's slow task: sets `done` after 500 ms.
async fn slow_work(done: Arc<AtomicBool>) {
    sleep(SLOW_WORK).await;
    done.store(true, Ordering::SeqCst);
}

#[derive(Debug)]
struct NotCancelledFigures {
    spawned_timed_out: bool,
    spawned_done_at_timeout: bool,
    spawned_done_after: Option<Duration>,
    plain_timed_out: bool,
    plain_done_later: bool,
    aborted_done_later: bool,
}

async fn demo_timeout_is_not_cancellation() -> NotCancelledFigures {
    info!(
        "--- 6. timeout(200 ms) on a 500 ms job: spawned, plain future, spawned then aborted ---"
    );
    let start = Instant::now();
    let spawned_done = Arc::new(AtomicBool::new(false));
    let plain_done = Arc::new(AtomicBool::new(false));
    let aborted_done = Arc::new(AtomicBool::new(false));
    // The three side by side, from the same start.
    let (spawned, plain_timed_out, ()) = tokio::join!(
        async {
            let mut task = tokio::spawn(slow_work(spawned_done.clone()));
            // `&mut task`: the timeout drops only the borrow; the handle, and the task, live on.
            let timed_out = timeout(WAIT_LIMIT, &mut task).await.is_err();
            let done_at_timeout = spawned_done.load(Ordering::SeqCst);
            info!("spawned task: timed out {timed_out}, done {done_at_timeout}; waiting on");
            let done_after = task.await.ok().map(|()| start.elapsed());
            (timed_out, done_at_timeout, done_after)
        },
        // The work is this future: when the timeout drops it, the work stops at its `.await`.
        async {
            timeout(WAIT_LIMIT, slow_work(plain_done.clone()))
                .await
                .is_err()
        },
        async {
            let mut task = tokio::spawn(slow_work(aborted_done.clone()));
            if timeout(WAIT_LIMIT, &mut task).await.is_err() {
                // The fix when the work is a task: stop it explicitly.
                task.abort();
            }
        },
    );
    let (spawned_timed_out, spawned_done_at_timeout, spawned_done_after) = spawned;
    // Past the 500 ms the work needs: whatever was still running has finished by now.
    tokio::time::sleep_until(start + SLOW_WORK + ms(100)).await;
    let plain_done_later = plain_done.load(Ordering::SeqCst);
    let aborted_done_later = aborted_done.load(Ordering::SeqCst);
    info!(
        "spawned task: done at {}; plain future: done {plain_done_later}; aborted task: done {aborted_done_later}",
        spawned_done_after.map_or("never".into(), fmt_duration)
    );
    NotCancelledFigures {
        spawned_timed_out,
        spawned_done_at_timeout,
        spawned_done_after,
        plain_timed_out,
        plain_done_later,
        aborted_done_later,
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Cancellation safety in a select! loop
// ---------------------------------------------------------------------------------------------

const LINES: usize = 10;
/// The writer starts 3 ms in, so no piece lands on the same instant as a tick.
const WRITER_START: Duration = ms(3);
/// Between the two pieces of a line: the window in which a tick finds a half line.
const PIECE_GAP: Duration = ms(15);
const LINE_GAP: Duration = ms(10);
const TICK: Duration = ms(20);

fn expected_line(i: usize) -> String {
    format!("reading-{i:02}")
}

/// Sends `LINES` lines, each as `"reading-"` then, 15 ms later, `"07\n"`: what a slow network
/// or a serial port does to a line-based protocol. Dropping the writer ends the stream.
async fn send_lines_in_pieces(mut writer: DuplexStream) -> io::Result<()> {
    sleep(WRITER_START).await;
    for i in 0..LINES {
        writer.write_all(b"reading-").await?;
        sleep(PIECE_GAP).await;
        writer.write_all(format!("{i:02}\n").as_bytes()).await?;
        sleep(LINE_GAP).await;
    }
    Ok(())
}

/// The lines a tick splits on the exact schedule: a tick falls strictly between their two pieces.
/// On the paused clock the lossy loop loses exactly these; on the real clock timers drift a little
/// at every sleep, so the count varies from run to run.
fn lines_a_tick_splits() -> Vec<usize> {
    let ticks_ms = |from: Duration, to: Duration| {
        let tick = TICK.as_millis();
        (from.as_millis() / tick + 1..)
            .map(move |m| m * tick)
            .take_while(move |&t| t < to.as_millis())
    };
    (0..LINES)
        .filter(|&k| {
            let first = WRITER_START + (PIECE_GAP + LINE_GAP) * k as u32;
            ticks_ms(first, first + PIECE_GAP).next().is_some()
        })
        .collect()
}

/// Which way the loop reads its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineReader {
    /// `read_line` called anew each turn of the loop: not cancel safe.
    NewFutureEachTurn,
    /// One `read_line` future kept across turns until it completes.
    SameFutureKept,
    /// `Lines::next_line`, documented as cancel safe.
    CancelSafeLines,
}

impl LineReader {
    const ALL: [LineReader; 3] = [
        LineReader::NewFutureEachTurn,
        LineReader::SameFutureKept,
        LineReader::CancelSafeLines,
    ];

    fn label(self) -> &'static str {
        match self {
            LineReader::NewFutureEachTurn => "read_line, a new future each turn (not cancel safe)",
            LineReader::SameFutureKept => "one read future kept across turns",
            LineReader::CancelSafeLines => "Lines::next_line (cancel safe)",
        }
    }
}

#[derive(Debug)]
struct LinesFigures {
    reader: LineReader,
    received: Vec<String>,
    ticks: usize,
}

impl LinesFigures {
    fn intact(&self) -> usize {
        (0..LINES)
            .filter(|&i| self.received.contains(&expected_line(i)))
            .count()
    }

    fn fragments(&self) -> usize {
        self.received
            .iter()
            .filter(|line| !line.starts_with("reading-"))
            .count()
    }
}

/// Reads one line and gives the reader back with it: a future that owns everything it needs, so
/// it can be kept in a variable across turns of the loop.
async fn read_one_line(
    mut reader: BufReader<DuplexStream>,
) -> (BufReader<DuplexStream>, io::Result<Option<String>>) {
    let mut line = String::new();
    let read = reader.read_line(&mut line).await;
    let line = read.map(|n| (n > 0).then(|| line.trim_end().to_owned()));
    (reader, line)
}

async fn read_lines_against_a_ticker(how: LineReader) -> io::Result<LinesFigures> {
    let (ours, theirs) = tokio::io::duplex(64);
    let writer = tokio::spawn(send_lines_in_pieces(theirs));
    let mut reader = BufReader::new(ours);
    // The other branch: a status tick, a heartbeat, a shutdown check; anything that can win.
    let mut ticker = interval(TICK);
    let mut received = Vec::new();
    let mut ticks = 0;
    let mut got = |line: String| {
        if !line.starts_with("reading-") {
            info!(
                "{}: got {line:?}, a fragment: its first half was lost",
                how.label()
            );
        }
        received.push(line);
    };
    match how {
        LineReader::NewFutureEachTurn => loop {
            let mut line = String::new();
            tokio::select! {
                // Data first, then the tick, every time: a fixed order keeps the run reproducible
                // (without `biased;`, select! picks a random ready branch). It does not save the
                // read: when the tick is ready and the line is not, the tick wins either way.
                biased;
                read = reader.read_line(&mut line) => match read? {
                    0 => break,
                    _ => got(line.trim_end().to_owned()),
                },
                // Here the `read_line` future is dropped with the half line it had taken out of
                // the reader's buffer: those bytes are gone.
                _ = ticker.tick() => ticks += 1,
            }
        },
        LineReader::SameFutureKept => {
            let mut pending = Box::pin(read_one_line(reader));
            loop {
                tokio::select! {
                    biased;
                    // `&mut pending`: select! polls the future without owning it, so losing to
                    // the tick drops only the borrow; the half line stays inside the future.
                    (back, read) = &mut pending => match read? {
                        None => break,
                        Some(line) => {
                            got(line);
                            pending = Box::pin(read_one_line(back));
                        }
                    },
                    _ = ticker.tick() => ticks += 1,
                }
            }
        }
        LineReader::CancelSafeLines => {
            // `Lines` keeps a partial line in itself, not in the `next_line` future, so dropping
            // that future loses nothing.
            let mut lines = reader.lines();
            loop {
                tokio::select! {
                    biased;
                    line = lines.next_line() => match line? {
                        None => break,
                        Some(line) => got(line),
                    },
                    _ = ticker.tick() => ticks += 1,
                }
            }
        }
    }
    writer.await.map_err(io::Error::other)??;
    Ok(LinesFigures {
        reader: how,
        received,
        ticks,
    })
}

async fn demo_cancellation_safety() -> io::Result<Vec<LinesFigures>> {
    info!("--- 7. select! in a loop: a line read against a 20 ms ticker, three ways at once ---");
    // Side by side: each has its own pipe, writer and ticker, so they do not disturb each other.
    let [lossy, kept, cancel_safe] = LineReader::ALL;
    let (lossy, kept, cancel_safe) = tokio::join!(
        read_lines_against_a_ticker(lossy),
        read_lines_against_a_ticker(kept),
        read_lines_against_a_ticker(cancel_safe),
    );
    let runs = vec![lossy?, kept?, cancel_safe?];
    for run in &runs {
        info!(
            "{}: {}/{LINES} lines intact, {} ticks",
            run.reader.label(),
            run.intact(),
            run.ticks
        );
    }
    Ok(runs)
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "16 · Cancellation: CancellationToken (child tokens), select!, timeout, JoinSet::abort_all \
             on a sleep, a request and a group; cancel safety in a select! loop (read_line loses lines, \
             the fixes lose 0); Drop cleanup counted; a timeout does not stop a spawned task",
    long_about = None
)]
struct Args {}

// One thread: cancellation needs no parallelism, and every step reads in order.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let sleep_run = demo_abort_a_sleep().await;
    let timeout_run = demo_timeout().await;
    let child_run = demo_child_tokens().await;
    let server = TestServer::start()?;
    let request_run = demo_abort_a_request(&server).await?;
    server.shutdown();
    let group_run = demo_group().await;
    let not_cancelled = demo_timeout_is_not_cancellation().await;
    let line_runs = demo_cancellation_safety().await?;

    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let ended = |e: Ended| match e {
        Ended::Finished => "finished",
        Ended::Cancelled => "cancelled",
    };
    let fetched = |f: &Fetched| match f {
        Fetched::Status(code) => format!("status {code}"),
        Fetched::Stopped => "stopped".into(),
        Fetched::Failed(e) => format!("FAILED ({e})"),
    };
    out!();
    out!("Summary");
    out!(
        "  1. sleep {}: {} after {} (ideal {}); already-cancelled token: {} after {} (ideal 0)",
        fmt_duration(LONG_SLEEP),
        ended(sleep_run.ended),
        fmt_duration(sleep_run.after),
        fmt_duration(USER_ABORT),
        ended(sleep_run.pre_cancelled),
        fmt_duration(sleep_run.pre_cancelled_after)
    );
    out!(
        "  2. timeout 300 ms on a 1000 ms sleep: {} after {} (ideal 300 ms); a 100 ms sleep under 500 ms: {} after {}",
        if timeout_run.long_timed_out {
            "gave up"
        } else {
            "finished"
        },
        fmt_duration(timeout_run.long_after),
        if timeout_run.short_timed_out {
            "gave up"
        } else {
            "finished"
        },
        fmt_duration(timeout_run.short_after)
    );
    out!(
        "  3. child token: the user's cancel: {} after {} (ideal {}, its own timer {}); its own timer alone: {} after {}, parent still running: {}",
        ended(child_run.by_user),
        fmt_duration(child_run.by_user_after),
        fmt_duration(USER_ABORT),
        fmt_duration(OWN_TIMER),
        ended(child_run.by_own_timer),
        fmt_duration(child_run.by_own_timer_after),
        yes_no(!child_run.parent_cancelled_by_child)
    );
    out!(
        "  4. GET /delay/{SLOW_REQUEST_MS}: {} after {} (ideal {}; the server answers after {SLOW_REQUEST_MS} ms); under a 50 ms timeout: {} after {}; /delay/{CONTROL_REQUEST_MS} uncancelled: {} after {}",
        fetched(&request_run.cancelled),
        fmt_duration(request_run.cancelled_after),
        fmt_duration(REQUEST_ABORT),
        fetched(&request_run.timed_out),
        fmt_duration(request_run.timed_out_after),
        fetched(&request_run.control),
        fmt_duration(request_run.control_after)
    );
    out!(
        "  5. group of {WORKERS} with child tokens: {}/{WORKERS} stopped after {} (ideal {}); JoinSet::abort_all: {}/{WORKERS} cancelled after {}; guards dropped {} of {} ({})",
        group_run.by_token_stopped,
        fmt_duration(group_run.by_token_after),
        fmt_duration(GROUP_STOP),
        group_run.aborted,
        fmt_duration(group_run.aborted_after),
        group_run.guards_dropped,
        group_run.guards_made,
        if group_run.guards_dropped == group_run.guards_made {
            "none leaked"
        } else {
            "LEAKED"
        }
    );
    let n = &not_cancelled;
    out!(
        "  6. timeout 200 ms on a spawned 500 ms task: timed out: {}, done at the timeout: {}, done at {} anyway ({}); on a plain future: timed out: {}, {}; after handle.abort(): {}",
        yes_no(n.spawned_timed_out),
        yes_no(n.spawned_done_at_timeout),
        n.spawned_done_after.map_or("never".into(), fmt_duration),
        if n.spawned_timed_out && n.spawned_done_after.is_some() {
            "a timeout is not a cancellation"
        } else {
            "the timeout stopped it"
        },
        yes_no(n.plain_timed_out),
        if n.plain_done_later {
            "done anyway"
        } else {
            "never done (dropped)"
        },
        if n.aborted_done_later {
            "done anyway"
        } else {
            "never done"
        }
    );
    out!(
        "  7. select! loop, {LINES} lines in pieces, a tick every {}:",
        fmt_duration(TICK)
    );
    for run in &line_runs {
        // The ideal: every line intact. The exact schedule says how many a non-cancel-safe read
        // loses; on the real clock it varies, the point is that it is not 0.
        let ideal = match run.reader {
            LineReader::NewFutureEachTurn => {
                format!("exact schedule: {}; ideal 0", lines_a_tick_splits().len())
            }
            LineReader::SameFutureKept | LineReader::CancelSafeLines => "ideal 0".into(),
        };
        out!(
            "     {}: {}/{LINES} lines intact, {} lost ({ideal}), {} fragments read instead; {} ticks",
            run.reader.label(),
            run.intact(),
            LINES - run.intact(),
            run.fragments(),
            run.ticks
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Steps 1-3 and 5-7 on the paused clock, to the millisecond; step 4 talks to a real server, so
    //! it runs on the real clock with bounds.
    use super::*;

    /// A cancel that never arrives leaves a demo waiting forever; on the paused clock this deadline
    /// then fires at once and the test fails instead of hanging.
    async fn within_a_minute<F: std::future::Future>(demo: F) -> F::Output {
        timeout(Duration::from_secs(60), demo)
            .await
            .expect("the demo ended (a hang here means a cancel was not seen)")
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_stops_exactly_when_the_token_is_cancelled() {
        let r = within_a_minute(demo_abort_a_sleep()).await;
        assert_eq!((r.ended, r.after), (Ended::Cancelled, USER_ABORT));
        assert_eq!(
            (r.pre_cancelled, r.pre_cancelled_after),
            (Ended::Cancelled, Duration::ZERO)
        );
        // And an uncancelled token lets it finish.
        let start = Instant::now();
        let ended = abortable_sleep(ms(70), &CancellationToken::new()).await;
        assert_eq!((ended, start.elapsed()), (Ended::Finished, ms(70)));
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_gives_up_at_its_limit_and_lets_a_quicker_future_finish() {
        let r = demo_timeout().await;
        assert!(r.long_timed_out);
        assert_eq!(r.long_after, ms(300));
        assert!(!r.short_timed_out);
        assert_eq!(r.short_after, ms(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_child_token_stops_with_its_parent_or_alone_and_never_stops_the_parent() {
        let r = within_a_minute(demo_child_tokens()).await;
        assert_eq!((r.by_user, r.by_user_after), (Ended::Cancelled, USER_ABORT));
        assert_eq!(
            (r.by_own_timer, r.by_own_timer_after),
            (Ended::Cancelled, SHORT_OWN_TIMER)
        );
        assert!(!r.parent_cancelled_by_child);
    }

    /// Real clock: the server's delay is real time. The ideal is 150 ms; the bound only has to tell
    /// "stopped at the cancel" from "waited for the 2000 ms answer".
    #[tokio::test]
    async fn a_request_is_dropped_at_the_cancel_not_at_the_answer() {
        let server = TestServer::start().expect("start the test server");
        let r = demo_abort_a_request(&server).await.expect("an HTTP client");
        assert_eq!(r.cancelled, Fetched::Stopped);
        assert!(r.cancelled_after >= REQUEST_ABORT, "{r:?}");
        assert!(r.cancelled_after < ms(1500), "{r:?}");
        assert_eq!(r.timed_out, Fetched::Stopped);
        assert!(r.timed_out_after >= REQUEST_TIMEOUT, "{r:?}");
        assert!(r.timed_out_after < ms(1500), "{r:?}");
        assert_eq!(r.control, Fetched::Status(200), "{r:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_stops_together_and_every_guard_is_dropped() {
        let r = within_a_minute(demo_group()).await;
        assert_eq!(r.by_token_stopped, WORKERS);
        assert_eq!(r.by_token_after, GROUP_STOP);
        assert_eq!(r.aborted, WORKERS);
        assert_eq!(r.aborted_after, GROUP_STOP);
        assert_eq!(r.guards_made, 2 * WORKERS);
        assert_eq!(r.guards_dropped, r.guards_made, "a guard leaked: {r:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_future_mid_await_runs_its_cleanup() {
        let counts = Arc::new(GuardCounts::default());
        let stopped = timeout(ms(150), worker(9, CancellationToken::new(), counts.clone())).await;
        assert!(stopped.is_err(), "the worker never ends by itself");
        assert_eq!(counts.made.load(Ordering::SeqCst), 1);
        assert_eq!(counts.dropped.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_stops_the_wait_not_the_spawned_task() {
        let r = within_a_minute(demo_timeout_is_not_cancellation()).await;
        assert!(r.spawned_timed_out);
        assert!(!r.spawned_done_at_timeout);
        assert_eq!(r.spawned_done_after, Some(SLOW_WORK), "it ran to its end");
        assert!(r.plain_timed_out);
        assert!(
            !r.plain_done_later,
            "a plain future is dropped with the timeout"
        );
        assert!(!r.aborted_done_later, "abort() stops the task");
    }

    #[tokio::test(start_paused = true)]
    async fn read_line_in_a_select_loop_loses_the_lines_a_tick_splits() {
        let r = within_a_minute(read_lines_against_a_ticker(LineReader::NewFutureEachTurn))
            .await
            .expect("in-memory pipe");
        // Worked out by hand: line k arrives in pieces at 3 + 25k and 18 + 25k ms; ticks fall at
        // 0, 20, 40, ... ms. Ticks at 40, 60, 80, 140, 160, 180 and 240 land between the pieces
        // of lines 1, 2, 3, 5, 6, 7 and 9: those seven lose their first half.
        assert_eq!(lines_a_tick_splits(), [1, 2, 3, 5, 6, 7, 9]);
        assert_eq!(r.intact(), 3, "{r:?}");
        assert_eq!(r.fragments(), 7, "{r:?}");
        for lost in lines_a_tick_splits() {
            assert!(r.received.contains(&format!("{lost:02}")), "{r:?}");
        }
        assert_eq!(r.ticks, 13, "ticks at 0..=240 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn the_kept_future_and_the_cancel_safe_api_lose_nothing() {
        for how in [LineReader::SameFutureKept, LineReader::CancelSafeLines] {
            let r = within_a_minute(read_lines_against_a_ticker(how))
                .await
                .expect("in-memory pipe");
            let all: Vec<String> = (0..LINES).map(expected_line).collect();
            assert_eq!(r.received, all, "{how:?}");
            assert_eq!(r.ticks, 13, "{how:?}: the ticker was served too");
        }
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["16", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("16 · Cancellation"), "{help}");
        let bad = Args::try_parse_from(["16", "--bogus"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
