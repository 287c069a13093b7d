//! Spans and metrics on any clock; the watchdog's claim ("the heartbeat stopped for this long")
//! is about the real clock, so its tests block a real thread and use bounds that hold on a busy
//! machine.
use super::*;
use crate::report::*;
use crate::watchdog::*;
use clap::Parser;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
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
            .filter(|(span, _)| span.is_some_and(|i| seen.spans[i].fields["name"] == request.name))
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
    // One stall, or (a busy machine adding one of its own) more: never none.
    assert!(!report.stalls.is_empty(), "{report:?}");
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
    assert!(!report.stalls.is_empty(), "{report:?}");
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
