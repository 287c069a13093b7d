//! Who ran on which thread, from when to when: the chapter's hand-drawn timelines, drawn from real runs.
//!
//! The chapter "Asynchrony" draws four timelines by hand (`single thread: AAAABBBBAAAACCC...`). A
//! [`Recorder`] collects [`Segment`]s (job, thread, start, end) while code runs, and [`render`] draws
//! them in the same style: one row per thread, one character per time slot, the scale printed:
//!
//! ```text
//! scale: 1 slot = 10 ms, 27 slots = 270 ms
//! main |AAABBCC---BBBAACC---CCAAABB|
//! ```
//!
//! - An **uppercase** letter is a job *running* on that thread (a CPU burst, or a poll of its future).
//! - A **lowercase** letter is a job *holding* the thread while blocked (`thread::sleep`, a blocking
//!   read): the thread does nothing, yet nothing else can run on it.
//! - `-` is a thread that is free. An async job waiting on a timer holds no thread at all, so its wait
//!   shows as `-` (or as another job running).
//!
//! How segments are recorded:
//! - Threads: wrap the work in [`Recorder::run`] and a blocking wait in [`Recorder::block`]; the
//!   segment is recorded on the calling thread.
//! - Async: wrap the future with [`Recorder::trace`]. Every `poll` becomes one segment on the thread
//!   that polled it, so the lanes show where the runtime really switched between tasks (at `.await`s).
//!
//! Times come from `tokio::time::Instant`: the ordinary monotonic clock, except inside a runtime on
//! tokio's paused clock (tests), where time moves only when every task waits and CPU work takes no time.
//!
//! [`write_chrome_trace`] writes the segments as Chrome trace-event JSON, which
//! <https://ui.perfetto.dev> and `chrome://tracing` open: the same lanes, zoomable. [`svg`] draws
//! them as one picture (a panel per run, a lane per thread, running / blocked / free in three colours,
//! a time axis in ms): what the book shows.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

/// What a job did with the thread during a [`Segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Running: a CPU burst, or one poll of a future. Drawn as the job's uppercase letter.
    Run,
    /// Blocked in a call that holds the thread without using it (`thread::sleep`, blocking I/O).
    /// Drawn as the job's lowercase letter.
    Block,
}

/// One stretch of time during which `job` occupied `thread`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The job's letter, `'A'`, `'B'`...: the character its lane shows.
    pub job: char,
    pub kind: Kind,
    /// The thread's name, or its id (`ThreadId(7)`) if it has none.
    pub thread: String,
    /// From the recorder's start.
    pub start: Duration,
    pub end: Duration,
}

impl Segment {
    pub fn len(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len().is_zero()
    }

    /// The time during which both segments were in progress (zero if they did not overlap).
    pub fn overlap(&self, other: &Segment) -> Duration {
        self.end
            .min(other.end)
            .saturating_sub(self.start.max(other.start))
    }
}

/// Collects segments from any number of threads and tasks. Cheap to clone: clones share one list, so
/// hand a clone to every thread or task and read the whole picture from any of them.
#[derive(Debug, Clone)]
pub struct Recorder {
    origin: Instant,
    segments: Arc<Mutex<Vec<Segment>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder whose time zero is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            segments: Arc::default(),
        }
    }

    /// Runs `work` on this thread and records it as job `job` running ([`Kind::Run`]).
    pub fn run<T>(&self, job: char, work: impl FnOnce() -> T) -> T {
        self.span(job, Kind::Run, work)
    }

    /// Runs `wait` (a blocking call) on this thread and records it as job `job` blocked
    /// ([`Kind::Block`]).
    pub fn block<T>(&self, job: char, wait: impl FnOnce() -> T) -> T {
        self.span(job, Kind::Block, wait)
    }

    fn span<T>(&self, job: char, kind: Kind, f: impl FnOnce() -> T) -> T {
        let start = self.origin.elapsed();
        let out = f();
        let end = self.origin.elapsed();
        self.push(job, kind, start, end);
        out
    }

    /// Wraps `future` so that every poll of it is recorded as job `job` running on the polling thread.
    pub fn trace<F: Future>(&self, job: char, future: F) -> Traced<F> {
        Traced {
            // Boxed and pinned on the heap, so `Traced` is `Unpin` and can poll it with no `unsafe`
            // pin projection (one allocation per traced future, nothing next to the work it records).
            inner: Box::pin(future),
            job,
            recorder: self.clone(),
        }
    }

    fn push(&self, job: char, kind: Kind, start: Duration, end: Duration) {
        let segment = Segment {
            job,
            kind,
            thread: thread_label(),
            start,
            end,
        };
        self.segments
            .lock()
            .expect("a recording thread panicked while pushing; the list itself is intact")
            .push(segment);
    }

    /// Everything recorded so far, in order of start.
    pub fn segments(&self) -> Vec<Segment> {
        let mut segments = self
            .segments
            .lock()
            .expect("a recording thread panicked while pushing; the list itself is intact")
            .clone();
        segments.sort_by_key(|s| (s.start, s.end));
        segments
    }
}

/// The current thread's name, or its id if it has none.
fn thread_label() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => name.to_string(),
        None => format!("{:?}", thread.id()),
    }
}

/// A future that records each of its polls; made by [`Recorder::trace`].
pub struct Traced<F: Future> {
    inner: Pin<Box<F>>,
    job: char,
    recorder: Recorder,
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `Traced` is `Unpin` (its future sits in a `Pin<Box<_>>`), so it may be taken out of its pin.
        let this = self.get_mut();
        let start = this.recorder.origin.elapsed();
        let poll = this.inner.as_mut().poll(cx);
        let end = this.recorder.origin.elapsed();
        this.recorder.push(this.job, Kind::Run, start, end);
        poll
    }
}

/// The threads of `segments`, sorted by name (shorter names first, so `worker-2` comes before
/// `worker-10`): the rows of the drawing, in the same order every run, whichever thread started first.
pub fn threads(segments: &[Segment]) -> Vec<String> {
    let mut threads: Vec<String> = segments.iter().map(|s| s.thread.clone()).collect();
    threads.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    threads.dedup();
    threads
}

/// The largest number of segments in progress at the same instant (1 = never any overlap).
pub fn max_overlap(segments: &[Segment]) -> usize {
    // Sweep the starts and ends in time order; at equal times, ends first (touching is not overlapping).
    let mut events: Vec<(Duration, i32)> = segments
        .iter()
        .filter(|s| !s.is_empty())
        .flat_map(|s| [(s.start, 1), (s.end, -1)])
        .collect();
    events.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, step) in events {
        now += step;
        max = max.max(now);
    }
    usize::try_from(max).expect("a count of segments is never negative")
}

/// The total time during which segments on two *different* threads were both in progress: how much
/// the threads overlapped.
pub fn cross_thread_overlap(segments: &[Segment]) -> Duration {
    // The time covered by each thread, then the time covered by at least two threads at once.
    let mut events: Vec<(Duration, i32, &str)> = Vec::new();
    for s in segments.iter().filter(|s| !s.is_empty()) {
        events.push((s.start, 1, &s.thread));
        events.push((s.end, -1, &s.thread));
    }
    events.sort();
    let mut busy: BTreeMap<&str, i32> = BTreeMap::new();
    let mut total = Duration::ZERO;
    let mut last = Duration::ZERO;
    for (at, step, thread) in events {
        if busy.values().filter(|&&n| n > 0).count() >= 2 {
            total += at - last;
        }
        *busy.entry(thread).or_default() += step;
        last = at;
    }
    total
}

/// Draws `segments` in the chapter's style, `slot` per character, the scale on the first line.
///
/// Each slot shows whatever occupied most of it on that thread: a job's letter (uppercase running,
/// lowercase blocked) or `-` if the thread was free for most of the slot. Rows are threads, in the
/// order of [`threads`]; their names are padded to one width.
pub fn render(segments: &[Segment], slot: Duration) -> String {
    assert!(!slot.is_zero(), "a slot must last some time");
    let end = segments.iter().map(|s| s.end).max().unwrap_or_default();
    let slots = end.as_nanos().div_ceil(slot.as_nanos()) as usize;
    let threads = threads(segments);
    let width = threads.iter().map(|t| t.len()).max().unwrap_or(0);

    let mut out = format!(
        "scale: 1 slot = {}, {slots} slots = {}\n",
        fmt_slot(slot),
        fmt_slot(slot * slots as u32)
    );
    for thread in &threads {
        let lane: Vec<&Segment> = segments.iter().filter(|s| &s.thread == thread).collect();
        let mut row = String::with_capacity(slots);
        for i in 0..slots {
            let from = slot * i as u32;
            let to = from + slot;
            // How long each (job, kind) held the thread within [from, to).
            let mut held: BTreeMap<(char, Kind), Duration> = BTreeMap::new();
            for s in &lane {
                let within = s.end.min(to).saturating_sub(s.start.max(from));
                if !within.is_zero() {
                    *held.entry((s.job, s.kind)).or_default() += within;
                }
            }
            let busy: Duration = held.values().sum();
            let free = slot.saturating_sub(busy);
            // The longest holder wins the slot; on a tie, the first in (job, kind) order.
            let winner = held
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .filter(|(_, d)| **d >= free);
            row.push(match winner {
                Some(((job, Kind::Run), _)) => job.to_ascii_uppercase(),
                Some(((job, Kind::Block), _)) => job.to_ascii_lowercase(),
                None => '-',
            });
        }
        out.push_str(&format!("{thread:<width$} |{row}|\n"));
    }
    out
}

/// `10 ms`, `0.5 ms`, `2 s`: the scale line.
fn fmt_slot(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 && ms.fract() == 0.0 && (ms / 1000.0).fract() == 0.0 {
        format!("{} s", ms / 1000.0)
    } else if ms.fract() == 0.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms} ms")
    }
}

/// The runs as Chrome trace-event JSON (the "JSON Object Format"): one process per run, named by its
/// title, one thread lane per recorded thread, one complete event (`"ph": "X"`) per segment with its
/// job as the name and `run` or `block` as the category. Times in microseconds, as the format wants.
pub fn chrome_trace(runs: &[(&str, &[Segment])]) -> serde_json::Value {
    use serde_json::json;
    let mut events = Vec::new();
    for (pid, (title, segments)) in runs.iter().enumerate() {
        let pid = pid + 1;
        events.push(json!({
            "name": "process_name", "ph": "M", "pid": pid, "tid": 0,
            "args": { "name": title },
        }));
        // Keep the lanes in the order the text drawing shows them.
        events.push(json!({
            "name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
            "args": { "sort_index": pid },
        }));
        let lanes = threads(segments);
        for (i, thread) in lanes.iter().enumerate() {
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": pid, "tid": i + 1,
                "args": { "name": thread },
            }));
            events.push(json!({
                "name": "thread_sort_index", "ph": "M", "pid": pid, "tid": i + 1,
                "args": { "sort_index": i + 1 },
            }));
        }
        for s in segments.iter() {
            let tid = lanes
                .iter()
                .position(|t| t == &s.thread)
                .expect("every segment's thread is a lane")
                + 1;
            events.push(json!({
                "name": s.job.to_string(),
                "cat": match s.kind { Kind::Run => "run", Kind::Block => "block" },
                "ph": "X",
                "ts": s.start.as_secs_f64() * 1e6,
                "dur": s.len().as_secs_f64() * 1e6,
                "pid": pid,
                "tid": tid,
            }));
        }
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
}

/// Writes [`chrome_trace`] of `runs` to `path`: open it in <https://ui.perfetto.dev> or `chrome://tracing`.
pub fn write_chrome_trace(path: &Path, runs: &[(&str, &[Segment])]) -> io::Result<()> {
    let json = serde_json::to_string_pretty(&chrome_trace(runs)).map_err(io::Error::other)?;
    std::fs::write(path, json)
}

/// The three colours of [`svg`]: a job running, a job blocked holding its thread, a free thread.
pub const SVG_COLOURS: [(&str, &str); 3] = [
    ("running", "#1f77b4"),
    ("blocked", "#ff7f0e"),
    ("free", "#e4e4e4"),
];

/// The runs as one SVG picture, the text drawing of [`render`] at full resolution: a panel per run
/// (its title above it), a lane per thread (in the order of [`threads`], named on the left), each
/// segment a bar from its start to its end, running / blocked / free in the three [`SVG_COLOURS`],
/// and a time axis in ms under each panel. Every panel shares one scale, so their lengths compare.
///
/// The structure is there for programs as well as eyes: each panel is a `<g class="panel">` with a
/// `data-title`, each lane a `<g class="lane">` with a `data-thread`, each bar a `<rect>` of class
/// `run`, `block` or `free` with a `<title>` (the tooltip: job, thread, from and to).
pub fn svg(runs: &[(&str, &[Segment])], caption: &str) -> String {
    use std::fmt::Write as _;
    const WIDTH: f64 = 960.0;
    const LABEL: f64 = 110.0;
    const PLOT: f64 = WIDTH - LABEL - 30.0;
    const LANE: f64 = 20.0;
    const BAR: f64 = 14.0;
    let colour = |name: &str| {
        SVG_COLOURS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .expect("one of the three colours")
    };

    // One scale for every panel: the longest run, rounded up to a whole tick.
    let longest = runs
        .iter()
        .flat_map(|(_, segments)| segments.iter().map(|s| s.end))
        .max()
        .unwrap_or_default();
    let longest_ms = longest.as_secs_f64() * 1000.0;
    let tick = [
        10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0,
    ]
    .into_iter()
    .find(|t| longest_ms / t <= 10.0)
    .unwrap_or(longest_ms.max(1.0));
    let axis_ms = ((longest_ms / tick).ceil() * tick).max(tick);
    let x = |at: Duration| LABEL + at.as_secs_f64() * 1000.0 / axis_ms * PLOT;
    let ms = |at: Duration| at.as_secs_f64() * 1000.0;

    let mut body = String::new();
    let mut y = 60.0;
    for (title, segments) in runs {
        let lanes = threads(segments);
        let end = segments.iter().map(|s| s.end).max().unwrap_or_default();
        let _ = writeln!(
            body,
            r#"<g class="panel" data-title="{t}"><text x="10" y="{ty}" font-weight="bold">{t}</text>"#,
            t = escape(title),
            ty = y + 14.0
        );
        y += 22.0;
        for thread in &lanes {
            let _ = write!(
                body,
                r#"<g class="lane" data-thread="{th}"><text x="{lx}" y="{ly}" text-anchor="end">{th}</text>"#,
                th = escape(thread),
                lx = LABEL - 6.0,
                ly = y + BAR - 3.0
            );
            // The thread is free wherever nothing covers this background.
            let _ = write!(
                body,
                r#"<rect class="free" x="{x0:.1}" y="{y}" width="{w:.1}" height="{BAR}" fill="{c}"><title>{th} free unless a bar covers it, 0-{e:.1} ms</title></rect>"#,
                x0 = LABEL,
                w = x(end) - LABEL,
                c = colour("free"),
                th = escape(thread),
                e = ms(end)
            );
            for s in segments.iter().filter(|s| &s.thread == thread) {
                let (class, name, text) = match s.kind {
                    Kind::Run => ("run", "running", "#ffffff"),
                    Kind::Block => ("block", "blocked", "#000000"),
                };
                let (x0, x1) = (x(s.start), x(s.end));
                let _ = write!(
                    body,
                    r##"<rect class="{class}" data-job="{job}" x="{x0:.1}" y="{y}" width="{w:.1}" height="{BAR}" fill="{c}" stroke="#ffffff" stroke-width="0.5"><title>{job} {name} on {th}, {from:.1}-{to:.1} ms</title></rect>"##,
                    job = escape(&s.job.to_string()),
                    w = (x1 - x0).max(0.5),
                    c = colour(name),
                    th = escape(thread),
                    from = ms(s.start),
                    to = ms(s.end)
                );
                // The job's letter where the bar is wide enough to hold it.
                if x1 - x0 >= 9.0 {
                    let _ = write!(
                        body,
                        r#"<text x="{cx:.1}" y="{ty}" text-anchor="middle" font-size="10" fill="{text}">{job}</text>"#,
                        cx = (x0 + x1) / 2.0,
                        ty = y + BAR - 3.0,
                        job = escape(&s.job.to_string())
                    );
                }
            }
            body.push_str("</g>\n");
            y += LANE;
        }
        // The time axis: a line and a labelled tick every `tick` ms.
        let _ = write!(
            body,
            r##"<g class="axis"><line x1="{LABEL}" y1="{y}" x2="{x2}" y2="{y}" stroke="#555555"/>"##,
            x2 = LABEL + PLOT
        );
        let mut at = 0.0;
        while at <= axis_ms + 1e-9 {
            let tx = LABEL + at / axis_ms * PLOT;
            let _ = write!(
                body,
                r##"<line x1="{tx:.1}" y1="{y}" x2="{tx:.1}" y2="{y2}" stroke="#555555"/><text x="{tx:.1}" y="{y3}" text-anchor="middle" font-size="10">{at} ms</text>"##,
                y2 = y + 4.0,
                y3 = y + 15.0
            );
            at += tick;
        }
        body.push_str("</g></g>\n");
        y += 30.0;
    }

    let mut legend = String::new();
    let mut lx = 10.0;
    for (name, c) in SVG_COLOURS {
        let label = match name {
            "running" => "running (a CPU burst, or a poll)",
            "blocked" => "blocked, holding its thread",
            _ => "thread free",
        };
        let _ = write!(
            legend,
            r#"<rect x="{lx}" y="34" width="14" height="12" fill="{c}"/><text x="{tx}" y="44">{label}</text>"#,
            tx = lx + 18.0
        );
        lx += 250.0;
    }
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#,
            "\n",
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##,
            "\n",
            r#"<text x="10" y="20" font-size="14" font-weight="bold">{caption}</text>"#,
            "\n{legend}\n{body}</svg>\n"
        ),
        w = WIDTH,
        h = y,
        caption = escape(caption),
        legend = legend,
        body = body
    )
}

/// Writes [`svg`] of `runs` to `path`.
pub fn write_svg(path: &Path, runs: &[(&str, &[Segment])], caption: &str) -> io::Result<()> {
    std::fs::write(path, svg(runs, caption))
}

/// Text made safe for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn seg(job: char, kind: Kind, thread: &str, start: u64, end: u64) -> Segment {
        Segment {
            job,
            kind,
            thread: thread.to_string(),
            start: ms(start),
            end: ms(end),
        }
    }

    #[test]
    fn one_thread_draws_one_lane_with_letters_per_slot_and_dashes_where_idle() {
        let segments = [
            seg('A', Kind::Run, "main", 0, 40),
            seg('B', Kind::Run, "main", 40, 60),
            seg('A', Kind::Run, "main", 90, 100),
        ];
        assert_eq!(
            render(&segments, ms(10)),
            "scale: 1 slot = 10 ms, 10 slots = 100 ms\nmain |AAAABB---A|\n"
        );
    }

    #[test]
    fn blocked_time_is_lowercase_and_each_thread_gets_its_own_row() {
        let segments = [
            seg('A', Kind::Run, "job-A", 0, 20),
            seg('A', Kind::Block, "job-A", 20, 50),
            seg('B', Kind::Run, "job-B", 10, 30),
        ];
        assert_eq!(
            render(&segments, ms(10)),
            "scale: 1 slot = 10 ms, 5 slots = 50 ms\njob-A |AAaaa|\njob-B |-BB--|\n"
        );
    }

    #[test]
    fn a_slot_shows_what_occupied_most_of_it() {
        // 0-10: A 6 ms beats B 4 ms. 10-20: C 3 ms, free 7 ms: idle. 20-30: B 5 ms, free 5 ms: B.
        let segments = [
            seg('A', Kind::Run, "t", 0, 6),
            seg('B', Kind::Run, "t", 6, 10),
            seg('C', Kind::Run, "t", 10, 13),
            seg('B', Kind::Run, "t", 25, 30),
        ];
        assert_eq!(
            render(&segments, ms(10)).lines().nth(1),
            Some("t |A-B|"),
            "{}",
            render(&segments, ms(10))
        );
    }

    #[test]
    fn rows_are_sorted_by_name_numbers_in_order_and_names_are_padded() {
        let segments = [
            seg('B', Kind::Run, "worker-10", 0, 10),
            seg('C', Kind::Run, "worker-2", 10, 20),
            seg('A', Kind::Run, "job-B", 10, 20),
            seg('A', Kind::Run, "job-A", 10, 20),
        ];
        let drawing = render(&segments, ms(10));
        let rows: Vec<&str> = drawing.lines().skip(1).collect();
        assert_eq!(
            rows,
            [
                "job-A     |-A|",
                "job-B     |-A|",
                "worker-2  |-C|",
                "worker-10 |B-|"
            ]
        );
    }

    #[test]
    fn nothing_recorded_draws_only_the_scale() {
        assert_eq!(
            render(&[], ms(10)),
            "scale: 1 slot = 10 ms, 0 slots = 0 ms\n"
        );
    }

    #[test]
    fn overlap_measures() {
        let sequential = [
            seg('A', Kind::Run, "main", 0, 10),
            seg('B', Kind::Run, "main", 10, 20),
        ];
        assert_eq!(max_overlap(&sequential), 1, "touching is not overlapping");
        assert_eq!(cross_thread_overlap(&sequential), Duration::ZERO);

        let parallel = [
            seg('A', Kind::Block, "t1", 0, 30),
            seg('B', Kind::Run, "t2", 10, 20),
            seg('B', Kind::Block, "t2", 20, 50),
            seg('C', Kind::Run, "t3", 25, 26),
        ];
        assert_eq!(max_overlap(&parallel), 3);
        assert_eq!(cross_thread_overlap(&parallel), ms(20), "t1 and t2: 10..30");
        assert_eq!(parallel[0].overlap(&parallel[2]), ms(10));
        assert_eq!(parallel[3].overlap(&parallel[0]), ms(1));
        assert_eq!(threads(&parallel), ["t1", "t2", "t3"]);
    }

    #[test]
    fn two_jobs_on_one_thread_are_not_a_cross_thread_overlap() {
        // Two segments overlapping on one thread cannot happen in a real run; if they did, they would
        // still not be two threads running at once.
        let same_thread = [
            seg('A', Kind::Run, "t", 0, 10),
            seg('B', Kind::Run, "t", 5, 15),
        ];
        assert_eq!(cross_thread_overlap(&same_thread), Duration::ZERO);
        assert_eq!(max_overlap(&same_thread), 2);
    }

    #[test]
    fn run_and_block_record_on_the_calling_thread() {
        let recorder = Recorder::new();
        let handle = std::thread::Builder::new()
            .name("job-A".into())
            .spawn({
                let recorder = recorder.clone();
                move || {
                    let x = recorder.run('A', || 6 * 7);
                    recorder.block('A', || std::thread::sleep(ms(20)));
                    x
                }
            })
            .expect("spawn");
        assert_eq!(handle.join().expect("no panic"), 42);
        let segments = recorder.segments();
        assert_eq!(segments.len(), 2);
        assert!(segments.iter().all(|s| s.thread == "job-A" && s.job == 'A'));
        assert_eq!(segments[0].kind, Kind::Run);
        assert_eq!(segments[1].kind, Kind::Block);
        assert!(segments[1].len() >= ms(20), "{segments:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_traced_future_records_one_segment_per_poll() {
        let recorder = Recorder::new();
        let job = recorder.trace('A', async {
            tokio::time::sleep(ms(100)).await;
            tokio::time::sleep(ms(50)).await;
            "done"
        });
        assert!(recorder.segments().is_empty(), "futures are lazy");
        assert_eq!(job.await, "done");
        let segments = recorder.segments();
        // Polled at 0 (starts the first sleep), 100 (starts the second) and 150 (finishes).
        let starts: Vec<Duration> = segments.iter().map(|s| s.start).collect();
        assert_eq!(starts, [ms(0), ms(100), ms(150)]);
        let here = thread_label();
        assert!(
            segments
                .iter()
                .all(|s| s.thread == here && s.kind == Kind::Run)
        );
    }

    #[test]
    fn chrome_trace_has_named_lanes_and_one_complete_event_per_segment() {
        let segments = [
            seg('A', Kind::Run, "main", 0, 2),
            seg('A', Kind::Block, "main", 2, 5),
        ];
        let trace = chrome_trace(&[("I. sequential", &segments)]);
        let events = trace["traceEvents"].as_array().expect("an array");
        let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(complete.len(), 2);
        assert_eq!(complete[1]["name"], "A");
        assert_eq!(complete[1]["cat"], "block");
        assert_eq!(complete[1]["ts"], 2000.0);
        assert_eq!(complete[1]["dur"], 3000.0);
        let names: Vec<_> = events
            .iter()
            .filter(|e| e["ph"] == "M")
            .map(|e| e["args"]["name"].clone())
            .filter(|n| !n.is_null())
            .collect();
        assert_eq!(names, ["I. sequential", "main"]);
    }

    #[test]
    fn chrome_trace_is_written_as_json_that_reads_back() {
        let path = std::env::temp_dir().join(format!("timeline-{}.json", std::process::id()));
        let segments = [seg('B', Kind::Run, "t", 1, 4)];
        write_chrome_trace(&path, &[("run", &segments)]).expect("writable temp dir");
        let text = std::fs::read_to_string(&path).expect("just written");
        let _ = std::fs::remove_file(&path);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value, chrome_trace(&[("run", &segments)]));
    }

    #[test]
    fn svg_has_a_panel_per_run_a_lane_per_thread_and_a_bar_per_segment() {
        let one = [
            seg('A', Kind::Run, "main", 0, 30),
            seg('A', Kind::Block, "main", 30, 110),
        ];
        let two = [
            seg('A', Kind::Run, "job-A", 0, 30),
            seg('B', Kind::Run, "job-B", 0, 20),
            seg('B', Kind::Block, "job-B", 20, 70),
        ];
        let picture = svg(&[("I <one> & only", &one), ("II", &two)], "caption 'x'");
        assert!(picture.starts_with("<?xml"), "{picture}");
        assert_eq!(picture.matches(r#"<g class="panel""#).count(), 2);
        assert_eq!(picture.matches(r#"<g class="lane""#).count(), 3);
        assert!(picture.contains(r#"data-thread="job-B""#));
        assert_eq!(picture.matches(r#"<rect class="run""#).count(), 3);
        assert_eq!(picture.matches(r#"<rect class="block""#).count(), 2);
        assert_eq!(picture.matches(r#"<rect class="free""#).count(), 3);
        // Titles and captions are escaped, so a thread or a title cannot break the XML.
        assert!(picture.contains("I &lt;one&gt; &amp; only"), "{picture}");
        assert!(picture.contains("caption &apos;x&apos;"));
        assert!(!picture.contains("<one>"));
        // One scale for both panels: 110 ms rounds up to 120 on a 20 ms tick.
        assert!(picture.contains(">120 ms</text>"), "{picture}");
        assert!(!picture.contains(">140 ms</text>"));
    }

    #[test]
    fn svg_bars_are_as_long_as_their_segments() {
        // The plot is 820 px wide for the 100 ms axis: 8.2 px per ms.
        let segments = [
            seg('A', Kind::Run, "t", 0, 50),
            seg('B', Kind::Run, "t", 50, 100),
        ];
        let picture = svg(&[("run", &segments)], "");
        assert!(
            picture.contains(r#"data-job="A" x="110.0" y="82" width="410.0""#),
            "{picture}"
        );
        assert!(picture.contains(r#"data-job="B" x="520.0" y="82" width="410.0""#));
    }
}
