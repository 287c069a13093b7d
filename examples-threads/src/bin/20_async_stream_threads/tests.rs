//! Real time, on a machine that may be busy: what the channels guarantee (order, the bound, the
//! stop, one cleanup per stage) exactly; timings as lower bounds, which sleeps make exact, and
//! generous upper bounds.
use super::*;
use crate::report::*;
use crate::stages::*;
use clap::Parser;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn hundred(_: u32) -> Duration {
    ms(100)
}

/// Slack for a busy 2-core machine: scheduling delays add up over a run's steps. Wide: the upper
/// bounds only say the pace was the sink's (or the window's), not that the machine was idle.
const SLACK: Duration = Duration::from_millis(1500);

#[test]
fn the_producer_waits_and_the_sink_sets_the_pace() {
    let r = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES).expect("runs");
    assert_eq!(r.written, (0..CHUNKS).collect::<Vec<_>>());
    assert_eq!(ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES), 4);
    // The closest calls are 10 ms apart: a thread late by more turns a wait either way, and a
    // busy machine may do it twice.
    assert!((2..=6).contains(&r.produced.waits), "{}", r.produced.waits);
    assert!(r.peak_queue <= BOUND, "{} > {BOUND}", r.peak_queue);
    let ideal = ms(20 + 8 * 50);
    assert!(r.took >= ideal && r.took < ideal + SLACK, "{:?}", r.took);
}

#[test]
fn a_source_nobody_reads_stops_at_the_bound() {
    let drops = Arc::new(DropCounts::default());
    let gauge = Gauge::default();
    let (tx, rx) = mpsc::sync_channel(BOUND);
    let stage = Stage::new(StageName::Source, &drops);
    let produced = thread::scope(|s| {
        let gauge = &gauge;
        let producer = s.spawn(move || produce(tx, LONG_SOURCE, ms(1), stage, gauge));
        // Time for 300 chunks at this pace: the source sent the bound's worth and holds one
        // more, blocked in `send`.
        thread::sleep(ms(300));
        assert_eq!(gauge.sent.load(Ordering::SeqCst), BOUND);
        assert!(!producer.is_finished());
        drop(rx);
        producer.join().expect("the source does not panic")
    });
    assert_eq!(produced.made, BOUND as u32 + 1);
    assert_eq!(produced.waits, 1);
    assert_eq!(drops.snapshot()[StageName::Source as usize], 1);
}

#[test]
fn a_sink_faster_than_the_producer_never_makes_it_wait() {
    let r = backpressure(CHUNKS, BOUND, ms(50), ms(10)).expect("runs");
    // Only a sink thread stalled for 90 ms (two chunks) could fill the channel.
    assert!(r.produced.waits <= 1, "{}", r.produced.waits);
    assert_eq!(ideal_waits(CHUNKS, BOUND, ms(50), ms(10)), 0);
    // A sink that is much slower makes it wait for nearly every chunk past the bound.
    let r = backpressure(CHUNKS, 1, ms(5), ms(60)).expect("runs");
    assert!(r.produced.waits >= 5, "{}", r.produced.waits);
    assert!(r.peak_queue <= 1, "{}", r.peak_queue);
}

#[test]
fn the_ordered_window_keeps_order_and_takes_ceil_items_over_n_lookups() {
    let passed: Vec<u32> = (0..PIPELINE_CHUNKS).step_by(2).collect();
    for n in [1, 2, 3, 6] {
        let r = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(n), hundred).expect("runs");
        assert_eq!(r.delivered, passed, "window {n}");
        let ideal = ms(100) * 6u32.div_ceil(n as u32);
        assert!(
            r.took >= ideal && r.took < ideal + SLACK,
            "window {n}: {:?}",
            r.took
        );
        assert_eq!(r.drops, [1; 5]);
        assert!(r.peak_queue <= BOUND);
    }
}

#[test]
fn unordered_workers_hand_on_in_finish_order() {
    let times: Vec<Duration> = (0..PIPELINE_CHUNKS).step_by(2).map(lookup_time).collect();
    let r = pipeline(PIPELINE_CHUNKS, None, Window::Unordered(3), lookup_time).expect("runs");
    // Finish times 2 at 40, 6 at 120, 0 at 200, 4 at 280, 10 at 360, 8 at 440: 80 ms apart,
    // but a busy machine can delay a thread by that much, so only what no ordinary delay can change
    // is checked: each chunk once, and not in input order (that would need chunk 2's thread,
    // done at 40 ms, to wake 160 ms later than chunk 0's, done at 200 ms).
    let mut sorted = r.delivered.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 2, 4, 6, 8, 10], "each chunk once");
    assert_ne!(r.delivered, [0, 2, 4, 6, 8, 10], "not in input order");
    let ideal = ideal_unordered(&times, 3);
    assert_eq!(ideal, ms(440));
    assert!(r.took >= ideal && r.took < ideal + SLACK, "{:?}", r.took);
    assert_eq!(r.drops, [1; 5]);
}

#[test]
fn an_error_mid_pipeline_ends_every_thread_and_each_stage_cleans_up_once() {
    for window in [Window::Ordered(3), Window::Unordered(3), Window::Ordered(1)] {
        let r = pipeline(LONG_SOURCE, Some(FAIL_AT), window, lookup_time).expect("runs");
        assert_eq!(
            r.error,
            Some(PipelineError("transform failed at chunk 6".into())),
            "{window:?}"
        );
        assert_eq!(r.drops, [1; 5], "{window:?}");
        let after = r.produced.made - (FAIL_AT + 1);
        assert!(
            after <= error_run_bound(BOUND),
            "{window:?}: {after} past the error"
        );
        assert!(r.peak_queue <= BOUND);
        if let Window::Ordered(_) = window {
            assert_eq!(r.delivered, [0, 2, 4], "in order, up to the error");
        }
    }
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["20", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("20 · Streams"), "{help}");
    let bad = Args::try_parse_from(["20", "--bound", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
