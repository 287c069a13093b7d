//! # 21 · Debugging: spans that name every request, runtime metrics, a stall detector
//!
//! Four requests to the local test server run as four tasks on one thread: `users` (100 ms),
//! `orders` (200 ms), `report` (the slow one, 900 ms) and `checksum` (50 ms), whose handler then
//! makes the classic mistake: a blocking call (`std::thread::sleep` standing in for a synchronous
//! file read or a heavy parse, 500 ms) right inside the async task. Nothing crashes; everything is just
//! late. This file makes that visible three ways:
//!
//! - **Spans.** `fetch` is `#[tracing::instrument]`ed: every line it logs carries
//!   `request{id=2 name="report" task=7}`, so four interleaved requests read apart (the logger
//!   prints the span before the message). The task id is recorded from inside the task.
//! - **Runtime metrics.** tokio's stable `Handle::metrics()`: `num_workers`, `num_alive_tasks`,
//!   `global_queue_depth`, sampled every 100 ms from a thread outside the runtime.
//! - **A stall detector.** A `heartbeat` task stamps the time every 20 ms; a `watchdog` thread (an OS
//!   thread, so it keeps running while the runtime is stuck) sees the stamps stop, warns once the gap
//!   passes 200 ms, and reports the measured gap when they resume. With `--fixed` the same call runs
//!   on `spawn_blocking` and the detector stays quiet: the longest gap is about one heartbeat.
//!
//! tokio-console, opt-in: `--features console` plus `RUSTFLAGS="--cfg tokio_unstable"` (forgetting the
//! cfg is a compile error that says so); the README's "Debugging with tokio-console" has the steps.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 3. Debugging Asynchronous Code ("leverage
//! detailed logging, and make use of specialized tools like `asyncio.debug()`": no such function
//! exists; Python's equivalents are `asyncio.run(debug=True)` / `PYTHONASYNCIODEBUG=1`, whose
//! slow-callback warning is what the watchdog here does). No upstream file. Threads twin:
//! `examples-threads/src/bin/21_debugging_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 21_debugging` (about 1 s). Flags: `--fixed` (the blocking
//! call on `spawn_blocking`), `--rounds N` (repeat the scenario, e.g. to watch it in tokio-console).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.001s  INFO [main] 4 requests, one thread; heartbeat every 20 ms, stall past 200 ms
//!   0.002s  INFO [main] request{id=0 name="users" task=2}: GET http://127.0.0.1:36957/delay/100
//!   ...
//!   0.004s  INFO [main] request{id=3 name="checksum" task=5}: GET http://127.0.0.1:36957/delay/50?bytes=4096
//!   0.012s  INFO [watchdog] metrics: 1 worker(s), 9 alive tasks, global queue 0
//!   0.061s  INFO [main] request{id=3 name="checksum" task=5}: 200, 4096 bytes after 57 ms
//!   0.061s  WARN [main] request{id=3 name="checksum" task=5}: checksum on the runtime thread (blocking call!)
//!   0.107s  INFO [watchdog] metrics: 1 worker(s), 10 alive tasks, global queue 0
//!   0.211s  INFO [watchdog] metrics: 1 worker(s), 10 alive tasks, global queue 0
//!   0.252s  WARN [watchdog] runtime stalled: no heartbeat for 207 ms (threshold 200 ms)
//!   ...
//!   0.561s  INFO [main] request{id=3 name="checksum" task=5}: done in 558 ms
//!   0.562s  INFO [main] request{id=0 name="users" task=2}: 200, 3 bytes after 560 ms
//!   ...
//!   0.566s  WARN [watchdog] runtime resumed after a 517 ms gap
//!   ...
//!   0.907s  INFO [main] request{id=2 name="report" task=4}: done in 904 ms
//!
//! Summary
//!   users    200     3 bytes in 561 ms (ideal 100 ms)
//!   orders   200     3 bytes in 560 ms (ideal 200 ms)
//!   report   200     3 bytes in 904 ms (ideal 900 ms)
//!   checksum 200  4096 bytes in 558 ms (ideal 550 ms, with the blocking call)
//!   total 906 ms for 1 round(s) (ideal 900 ms a round: the slowest request)
//!   heartbeat every 20 ms: longest gap 517 ms (ideal 20 ms); 1 stall(s) past 200 ms: the runtime was BLOCKED
//!   runtime metrics (10 samples): 1 worker(s), alive tasks up to 10 (requests, their connections, the heartbeat), global queue up to 1
//! ```
//!
//! `users` and `orders` were answered at 100 and 200 ms but read at 560: their task could not run
//! while the thread was blocked. With `--fixed`: `users ... in 105 ms (ideal 100 ms)`, `longest gap
//! 21 ms (ideal 20 ms); 0 stall(s) past 200 ms: the runtime kept time`.

#[cfg(all(feature = "console", not(tokio_unstable)))]
compile_error!(
    "the `console` feature needs tokio's unstable instrumentation: build with \
     RUSTFLAGS=\"--cfg tokio_unstable\" (and CARGO_TARGET_DIR=target/console to keep the normal \
     build's cache); see the README, \"Debugging with tokio-console\""
);

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::fmt_duration;
use common::http_server::TestServer;
use tokio::runtime::Handle;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// How often the heartbeat task stamps the time: the best gap the watchdog can ever see.
const HEARTBEAT: Duration = Duration::from_millis(20);
/// A gap longer than this is a stall. Ten heartbeats: far above scheduling noise on a busy machine,
/// far below what a user notices.
const STALL_THRESHOLD: Duration = Duration::from_millis(200);
/// How often the watchdog looks at the heartbeat, and how often it samples the runtime's metrics.
const WATCH_EVERY: Duration = Duration::from_millis(10);
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long the mistaken blocking call holds the runtime's only thread.
const BLOCKING_CALL: Duration = Duration::from_millis(500);

/// One request of the scenario: a name for the logs, the test server's path.
#[derive(Debug, Clone, Copy)]
struct Request {
    name: &'static str,
    path: &'static str,
    /// Whether its handler makes the blocking call after the response arrives.
    blocks: bool,
}

const REQUESTS: [Request; 4] = [
    Request {
        name: "users",
        path: "/delay/100",
        blocks: false,
    },
    Request {
        name: "orders",
        path: "/delay/200",
        blocks: false,
    },
    Request {
        name: "report",
        path: "/delay/900",
        blocks: false,
    },
    Request {
        name: "checksum",
        path: "/delay/50?bytes=4096",
        blocks: true,
    },
];

/// Where the blocking call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocking {
    /// Inline, on the runtime's thread: the mistake.
    Inline,
    /// On tokio's blocking pool (`spawn_blocking`): the fix.
    SpawnBlocking,
}

/// What one request measured.
#[derive(Debug, Clone)]
struct Fetched {
    name: &'static str,
    status: u16,
    bytes: usize,
    took: Duration,
}

/// One request, as a task. The span (`request{id=.. name=.. task=..}`) wraps every line it logs, and
/// every line logged by code it calls, until it returns.
#[tracing::instrument(
    name = "request",
    skip_all,
    fields(id = id, name = request.name, task = tracing::field::Empty)
)]
async fn fetch(
    client: reqwest::Client,
    id: usize,
    request: Request,
    url: String,
    blocking: Blocking,
) -> anyhow::Result<Fetched> {
    // The span was made when `fetch` was called, before `tokio::spawn` made the task: only now, inside
    // it, is there a task id to record.
    if let Some(task) = tokio::task::try_id() {
        tracing::Span::current().record("task", tracing::field::display(task));
    }
    let started = Instant::now();
    info!("GET {url}");
    let response = client.get(&url).send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    let bytes = body.len();
    info!(
        "{status}, {bytes} bytes after {}",
        fmt_duration(started.elapsed())
    );
    if request.blocks {
        let sum = match blocking {
            Blocking::Inline => {
                warn!("checksum on the runtime thread (blocking call!)");
                checksum(&body)
            }
            Blocking::SpawnBlocking => {
                info!("checksum on the blocking pool");
                tokio::task::spawn_blocking(move || checksum(&body)).await?
            }
        };
        info!("checksum {sum:#010x} of {bytes} bytes");
    }
    let took = started.elapsed();
    info!("done in {}", fmt_duration(took));
    Ok(Fetched {
        name: request.name,
        status,
        bytes,
        took,
    })
}

/// The scenario: every request at once, each in its own task, on the caller's runtime.
async fn run_requests(server: &TestServer, blocking: Blocking) -> anyhow::Result<Vec<Fetched>> {
    // `no_proxy`: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut tasks = JoinSet::new();
    for (id, request) in REQUESTS.into_iter().enumerate() {
        let url = server.url(request.path);
        tasks.spawn(fetch(client.clone(), id, request, url, blocking));
    }
    let mut fetched = Vec::new();
    while let Some(done) = tasks.join_next().await {
        fetched.push(done??);
    }
    // In the scenario's order, not completion order, for the summary.
    fetched.sort_by_key(|f| REQUESTS.iter().position(|r| r.name == f.name));
    Ok(fetched)
}

/// `--help` text and flags.
#[derive(Parser, Debug)]
#[command(
    about = "21 · Debugging: tracing spans name every request's lines, tokio's runtime metrics are \
             sampled, and a watchdog thread catches the runtime blocked by a sync call (--fixed moves \
             it to spawn_blocking)",
    long_about = None
)]
struct Args {
    /// Run the blocking call on `spawn_blocking` (the fix) instead of on the runtime's thread.
    #[arg(long)]
    fixed: bool,
    /// Run the scenario this many times (say 30, to watch it in tokio-console).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
}

fn main() -> anyhow::Result<()> {
    let args = common::parse_args::<Args>();
    init_tracing();
    let blocking = if args.fixed {
        Blocking::SpawnBlocking
    } else {
        Blocking::Inline
    };

    // One thread on purpose: a blocking call then stops everything, which is what the detector is
    // for. (On a multi-threaded runtime it stops one worker and whatever is queued behind it: harder
    // to see, same cause.)
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = TestServer::start()?;
    info!(
        "{} requests, one thread; heartbeat every {}, stall past {}",
        REQUESTS.len(),
        fmt_duration(HEARTBEAT),
        fmt_duration(STALL_THRESHOLD)
    );

    let watchdog = Watchdog::start(runtime.handle(), STALL_THRESHOLD)?;
    let started = Instant::now();
    let mut fetched = Vec::new();
    for _ in 0..args.rounds {
        fetched = runtime.block_on(run_requests(&server, blocking))?;
    }
    let total = started.elapsed();
    let report = watchdog.stop();

    common::out!();
    common::out!("Summary");
    for (f, r) in fetched.iter().zip(REQUESTS) {
        common::out!(
            "  {:<8} {} {:>5} bytes in {} (ideal {}{})",
            f.name,
            f.status,
            f.bytes,
            fmt_duration(f.took),
            fmt_duration(ideal(&r)),
            if r.blocks {
                ", with the blocking call"
            } else {
                ""
            }
        );
    }
    let slowest = REQUESTS.iter().map(ideal).max().unwrap_or_default();
    common::out!(
        "  total {} for {} round(s) (ideal {} a round: the slowest request)",
        fmt_duration(total),
        args.rounds,
        fmt_duration(slowest)
    );
    common::out!(
        "  heartbeat every {}: longest gap {} (ideal {}); {} stall(s) past {}: {}",
        fmt_duration(HEARTBEAT),
        fmt_duration(report.longest_gap),
        fmt_duration(HEARTBEAT),
        report.stalls.len(),
        fmt_duration(STALL_THRESHOLD),
        if report.stalls.is_empty() {
            "the runtime kept time"
        } else {
            "the runtime was BLOCKED"
        }
    );
    common::out!(
        "  runtime metrics ({} samples): {} worker(s), alive tasks up to {} (requests, their \
         connections, the heartbeat), global queue up to {}",
        report.samples.len(),
        report.samples.iter().map(|s| s.workers).max().unwrap_or(0),
        report
            .samples
            .iter()
            .map(|s| s.alive_tasks)
            .max()
            .unwrap_or(0),
        report
            .samples
            .iter()
            .map(|s| s.global_queue)
            .max()
            .unwrap_or(0)
    );
    Ok(())
}

/// The common logger, or, with `--features console`, tokio-console's subscriber (which also prints
/// the lines `RUST_LOG` selects, in tracing's default format).
fn init_tracing() {
    #[cfg(feature = "console")]
    console_subscriber::init();
    #[cfg(not(feature = "console"))]
    common::init_logging();
}

// ------------------------------------------------------------------------------------------------
// Support: the blocking call, the heartbeat, the watchdog and its metrics samples.
// ------------------------------------------------------------------------------------------------

/// The mistaken blocking call: a synchronous hash of the body (FNV-1a) that also waits `BLOCKING_CALL` (a
/// stand-in for `std::fs::read` on a slow disk, a sync DNS lookup, a heavy parse).
fn checksum(body: &[u8]) -> u32 {
    thread::sleep(BLOCKING_CALL);
    body.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// How long a request should take when nothing gets in its way: the server's delay, plus the blocking
/// call for the one that makes it.
fn ideal(request: &Request) -> Duration {
    path_delay(request.path)
        + if request.blocks {
            BLOCKING_CALL
        } else {
            Duration::ZERO
        }
}

/// The delay a test-server path asks for (`/delay/900` -> 900 ms).
fn path_delay(path: &str) -> Duration {
    let ms = path
        .strip_prefix("/delay/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(ms)
}

/// The runtime's pulse, written by the `heartbeat` task and read by the watchdog thread.
#[derive(Debug)]
struct Pulse {
    /// When the last beat happened, and how many there were.
    last: Instant,
    beats: u64,
    /// The gap before the last beat, and the longest between any two.
    last_gap: Duration,
    longest_gap: Duration,
}

/// A task that stamps the time every `HEARTBEAT`. It only runs if the runtime's thread is free to
/// poll it: when the stamps stop, the runtime is stuck.
async fn heartbeat(pulse: Arc<Mutex<Pulse>>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    // After a stall, one beat, then the normal rhythm: no burst of catch-up beats hiding the gap.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut p = pulse.lock().expect("the watchdog never panics holding it");
        p.last_gap = now - p.last;
        p.longest_gap = p.longest_gap.max(p.last_gap);
        p.last = now;
        p.beats += 1;
    }
}

/// One reading of tokio's stable runtime metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    workers: usize,
    alive_tasks: usize,
    global_queue: usize,
}

/// Reads the stable metrics of the runtime behind `handle` (callable from any thread).
fn sample(handle: &Handle) -> Sample {
    let m = handle.metrics();
    Sample {
        workers: m.num_workers(),
        alive_tasks: m.num_alive_tasks(),
        global_queue: m.global_queue_depth(),
    }
}

/// What the watchdog saw.
#[derive(Debug, Default)]
struct WatchReport {
    /// The measured gap of every stall it detected (one that had not ended when it was stopped
    /// counts up to then).
    stalls: Vec<Duration>,
    /// The longest gap between two heartbeats.
    longest_gap: Duration,
    samples: Vec<Sample>,
}

/// A heartbeat task on the runtime and a watchdog thread beside it.
struct Watchdog {
    stop: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
    thread: thread::JoinHandle<WatchReport>,
}

impl Watchdog {
    /// Spawns the heartbeat on the runtime behind `handle` (it starts beating once the runtime runs)
    /// and the watchdog thread, which warns when no beat came for longer than `threshold`.
    fn start(handle: &Handle, threshold: Duration) -> anyhow::Result<Watchdog> {
        let pulse = Arc::new(Mutex::new(Pulse {
            last: Instant::now(),
            beats: 0,
            last_gap: Duration::ZERO,
            longest_gap: Duration::ZERO,
        }));
        let heartbeat = handle.spawn(heartbeat(pulse.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new().name("watchdog".into()).spawn({
            let (handle, stop) = (handle.clone(), stop.clone());
            move || watch(&handle, &pulse, &stop, threshold)
        })?;
        Ok(Watchdog {
            stop,
            heartbeat,
            thread,
        })
    }

    /// Stops both and returns what the watchdog saw.
    fn stop(self) -> WatchReport {
        self.heartbeat.abort();
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

/// The watchdog's loop: look at the pulse every `WATCH_EVERY`, sample metrics every `SAMPLE_EVERY`.
fn watch(
    handle: &Handle,
    pulse: &Mutex<Pulse>,
    stop: &AtomicBool,
    threshold: Duration,
) -> WatchReport {
    let mut report = WatchReport::default();
    let mut stalled_since_beat: Option<u64> = None;
    let mut next_sample = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(WATCH_EVERY);
        let (beats, since_last, last_gap, longest_gap) = {
            let p = pulse.lock().expect("the heartbeat never panics holding it");
            (p.beats, p.last.elapsed(), p.last_gap, p.longest_gap)
        };
        report.longest_gap = longest_gap;
        // Only once the runtime has started beating: before that it is not stalled, just not running.
        match stalled_since_beat {
            None if beats > 0 && since_last > threshold => {
                warn!(
                    "runtime stalled: no heartbeat for {} (threshold {})",
                    fmt_duration(since_last),
                    fmt_duration(threshold)
                );
                stalled_since_beat = Some(beats);
            }
            Some(beat) if beats != beat => {
                warn!("runtime resumed after a {} gap", fmt_duration(last_gap));
                report.stalls.push(last_gap);
                stalled_since_beat = None;
            }
            _ => {}
        }
        if Instant::now() >= next_sample {
            let s = sample(handle);
            info!(
                "metrics: {} worker(s), {} alive tasks, global queue {}",
                s.workers, s.alive_tasks, s.global_queue
            );
            report.samples.push(s);
            next_sample += SAMPLE_EVERY;
        }
    }
    if stalled_since_beat.is_some() {
        let p = pulse.lock().expect("the heartbeat never panics holding it");
        report.stalls.push(p.last.elapsed());
    }
    report
}

#[cfg(test)]
mod tests {
    //! Spans and metrics on any clock; the watchdog's claim ("the heartbeat stopped for this long")
    //! is about the real clock, so its tests block a real thread and use bounds that hold on a busy
    //! machine.
    use super::*;
    use std::collections::{BTreeMap, HashMap};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    fn current_thread_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    // --- spans ------------------------------------------------------------------------------------

    /// A span as the capturing layer saw it: its name and its fields, formatted.
    #[derive(Debug, Clone)]
    struct SpanSeen {
        name: &'static str,
        fields: BTreeMap<String, String>,
    }

    /// What the capturing layer recorded: every span, and every event with the index of the span it
    /// was logged in.
    #[derive(Debug, Default)]
    struct Seen {
        spans: Vec<SpanSeen>,
        /// Span id -> index in `spans` (the registry reuses ids of closed spans: the latest wins).
        live: HashMap<u64, usize>,
        events: Vec<(Option<usize>, String)>,
    }

    /// A `tracing_subscriber` layer that records spans and events for the test to inspect.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Seen>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_string(), value.to_string());
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), format!("{value:?}"));
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            let mut seen = self.0.lock().expect("not poisoned");
            seen.spans.push(SpanSeen {
                name: attrs.metadata().name(),
                fields,
            });
            let index = seen.spans.len() - 1;
            seen.live.insert(id.into_u64(), index);
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
            let mut seen = self.0.lock().expect("not poisoned");
            if let Some(&index) = seen.live.get(&id.into_u64()) {
                values.record(&mut Fields(&mut seen.spans[index].fields));
            }
        }

        fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            let span = ctx.event_span(event).map(|s| s.id().into_u64());
            let mut seen = self.0.lock().expect("not poisoned");
            let index = span.and_then(|id| seen.live.get(&id).copied());
            let message = fields.remove("message").unwrap_or_default();
            seen.events.push((index, message));
        }
    }

    #[test]
    fn every_line_of_a_request_is_inside_its_span_with_id_name_and_task() {
        let server = TestServer::start().expect("a test server");
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        // Thread-local: the current-thread runtime polls every task on this thread.
        let _guard = tracing::subscriber::set_default(subscriber);
        let fetched = current_thread_runtime()
            .block_on(run_requests(&server, Blocking::SpawnBlocking))
            .expect("every request answered");
        assert_eq!(fetched.len(), REQUESTS.len());

        let seen = capture.0.lock().expect("not poisoned");
        let requests: Vec<&SpanSeen> = seen.spans.iter().filter(|s| s.name == "request").collect();
        assert_eq!(requests.len(), REQUESTS.len(), "{:?}", seen.spans);
        let mut tasks = Vec::new();
        for (id, request) in REQUESTS.iter().enumerate() {
            let span = requests
                .iter()
                .find(|s| s.fields.get("id") == Some(&id.to_string()))
                .unwrap_or_else(|| panic!("a span with id={id}: {requests:?}"));
            assert_eq!(span.fields["name"], request.name);
            let task = span.fields.get("task").expect("the task id was recorded");
            assert!(task.parse::<u64>().is_ok(), "a task id: {task}");
            tasks.push(task.clone());
        }
        tasks.sort();
        tasks.dedup();
        assert_eq!(tasks.len(), REQUESTS.len(), "one task per request");

        // Every line `fetch` logs sits in the span of its own request.
        for request in REQUESTS {
            let lines: Vec<&str> = seen
                .events
                .iter()
                .filter(|(span, _)| {
                    span.is_some_and(|i| seen.spans[i].fields["name"] == request.name)
                })
                .map(|(_, message)| message.as_str())
                .collect();
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("GET ") && l.ends_with(request.path)),
                "{lines:?}"
            );
            assert!(lines.iter().any(|l| l.starts_with("200, ")), "{lines:?}");
            assert!(lines.iter().any(|l| l.starts_with("done in ")), "{lines:?}");
        }
        let outside: Vec<_> = seen
            .events
            .iter()
            .filter(|(span, _)| span.is_none())
            .collect();
        assert!(
            outside.is_empty(),
            "lines outside any request span: {outside:?}"
        );
    }

    // --- metrics ----------------------------------------------------------------------------------

    #[tokio::test(start_paused = true)]
    async fn the_metrics_count_the_workers_and_the_tasks_alive() {
        let handle = Handle::current();
        let before = sample(&handle);
        assert_eq!(before.workers, 1, "a current-thread runtime has one worker");
        let tasks: Vec<_> = (0..3)
            .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_secs(1))))
            .collect();
        assert_eq!(sample(&handle).alive_tasks, before.alive_tasks + 3);
        for task in tasks {
            task.await.expect("it slept");
        }
        assert_eq!(sample(&handle).alive_tasks, before.alive_tasks);
    }

    #[test]
    fn the_global_queue_holds_what_waits_for_a_busy_runtime() {
        let runtime = current_thread_runtime();
        // Spawned from outside while nothing drives the runtime: the tasks wait in its global queue,
        // as they would behind a blocked thread.
        for _ in 0..5 {
            runtime.spawn(async {});
        }
        assert_eq!(sample(runtime.handle()).global_queue, 5);
        runtime.block_on(tokio::task::yield_now());
        assert_eq!(sample(runtime.handle()).global_queue, 0);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a runtime");
        assert_eq!(sample(multi.handle()).workers, 2);
    }

    // --- the watchdog (real clock) ----------------------------------------------------------------

    /// Runs `work` on a current-thread runtime watched by a watchdog; returns what it saw.
    fn watched(work: impl std::future::Future<Output = ()>) -> WatchReport {
        let runtime = current_thread_runtime();
        let watchdog = Watchdog::start(runtime.handle(), STALL_THRESHOLD).expect("a thread");
        runtime.block_on(async {
            // Let the heartbeat start.
            tokio::time::sleep(Duration::from_millis(100)).await;
            work.await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
        watchdog.stop()
    }

    #[test]
    fn the_watchdog_fires_on_a_blocked_runtime_and_measures_the_gap() {
        let block = Duration::from_millis(600);
        let report = watched(async move { thread::sleep(block) });
        assert_eq!(report.stalls.len(), 1, "{report:?}");
        // No beat can fall inside the block, so the gap is at least the block; a busy machine may
        // add to it, not take from it.
        assert!(report.stalls[0] >= block, "{report:?}");
        assert!(
            report.stalls[0] < block + Duration::from_millis(1500),
            "{report:?}"
        );
        assert!(report.longest_gap >= block, "{report:?}");
    }

    #[test]
    fn the_watchdog_stays_quiet_on_a_healthy_runtime() {
        let report = watched(async { tokio::time::sleep(Duration::from_millis(600)).await });
        assert!(report.stalls.is_empty(), "{report:?}");
        assert!(
            report.longest_gap > Duration::ZERO,
            "the heartbeat beat: {report:?}"
        );
        assert!(report.longest_gap < STALL_THRESHOLD, "{report:?}");
        assert!(!report.samples.is_empty(), "metrics were sampled");
    }

    #[test]
    fn the_blocking_call_stalls_the_scenario_and_spawn_blocking_does_not() {
        let server = TestServer::start().expect("a test server");
        let run = |blocking| {
            let runtime = current_thread_runtime();
            let watchdog = Watchdog::start(runtime.handle(), STALL_THRESHOLD).expect("a thread");
            let fetched = runtime
                .block_on(run_requests(&server, blocking))
                .expect("every request answered");
            (fetched, watchdog.stop())
        };
        let (fetched, report) = run(Blocking::Inline);
        assert_eq!(report.stalls.len(), 1, "{report:?}");
        assert!(report.stalls[0] >= BLOCKING_CALL - HEARTBEAT, "{report:?}");
        // `users` (100 ms) had to wait for the blocked thread to read its answer.
        assert!(fetched[0].took >= BLOCKING_CALL, "{fetched:?}");

        let (fetched, report) = run(Blocking::SpawnBlocking);
        assert!(report.stalls.is_empty(), "{report:?}");
        assert!(report.longest_gap < STALL_THRESHOLD, "{report:?}");
        assert!(fetched[0].took < BLOCKING_CALL, "{fetched:?}");
        assert!(fetched.iter().all(|f| f.status == 200), "{fetched:?}");
    }

    #[test]
    fn help_names_the_example_and_bad_flags_are_errors() {
        let help = Args::try_parse_from(["21", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("21 · Debugging"), "{help}");
        let bad = Args::try_parse_from(["21", "--rounds", "0"]).expect_err("at least one round");
        assert_eq!(bad.exit_code(), 2);
    }

    #[test]
    fn ideal_times_come_from_the_paths() {
        assert_eq!(path_delay("/delay/900"), Duration::from_millis(900));
        assert_eq!(
            path_delay("/delay/50?bytes=4096"),
            Duration::from_millis(50)
        );
        assert_eq!(ideal(&REQUESTS[3]), Duration::from_millis(550));
        assert_ne!(checksum(&[0; 4]), checksum(&[0; 5]));
    }
}
