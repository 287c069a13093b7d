//! Everything on the paused clock, exactly.
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

#[tokio::test(start_paused = true)]
async fn the_producer_waits_4_times_and_the_sink_sets_the_pace() {
    let r = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES)
        .await
        .expect("runs");
    assert_eq!(r.written, (0..CHUNKS).collect::<Vec<_>>());
    assert_eq!(r.produced.waits, 4);
    assert_eq!(ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES), 4);
    assert_eq!(r.took, ms(20 + 8 * 50));
    assert_eq!(r.produced.peak_in_flight, BOUND as u32);
}

#[tokio::test(start_paused = true)]
async fn a_source_nobody_reads_stops_at_the_bound() {
    let drops = Arc::new(DropCounts::default());
    let in_flight = Arc::new(InFlight::default());
    let (stream, producer) = source(LONG_SOURCE, MAKE_EVERY, BOUND, &drops, &in_flight);
    sleep(Duration::from_secs(60)).await;
    // A minute is time for 3000 chunks at this pace; upstream's Readable, which ignores
    // `push()`'s `false`, would have buffered all 1000. This one made the bound's worth and one
    // more, which it holds, waiting.
    assert!(!producer.is_finished());
    drop(stream);
    let produced = producer.await.expect("the source does not panic");
    assert_eq!(produced.made, BOUND as u32 + 1);
    assert_eq!(produced.peak_in_flight, BOUND as u32);
    assert_eq!(produced.waits, 1);
    assert_eq!(drops.snapshot()[StageName::Source as usize], 1);
}

#[tokio::test(start_paused = true)]
async fn the_wait_count_follows_the_rates_and_the_queue_never_exceeds_its_bound() {
    // (every, write, bound): a producer as fast as the sink never waits; a slower sink, more.
    for (every, write, bound, waits) in [
        (20, 50, 2, 4),
        (20, 50, 1, 6),
        (20, 50, 4, 1),
        (50, 30, 2, 0),
        (15, 100, 3, 4),
    ] {
        let (every, write) = (ms(every), ms(write));
        let r = backpressure(CHUNKS, bound, every, write)
            .await
            .expect("runs");
        assert_eq!(r.produced.waits, waits, "{every:?} {write:?} {bound}");
        assert_eq!(r.produced.waits, ideal_waits(CHUNKS, bound, every, write));
        assert!(
            r.produced.peak_in_flight <= bound as u32,
            "{:?} > {bound}",
            r.produced.peak_in_flight
        );
        // The slower of the two sets the pace.
        let ideal = if write > every {
            every + write * CHUNKS
        } else {
            every * CHUNKS + write
        };
        assert_eq!(r.took, ideal, "{every:?} {write:?} {bound}");
    }
}

#[tokio::test(start_paused = true)]
async fn buffered_keeps_order_and_takes_ceil_items_over_n_stage_times() {
    let passed: Vec<u32> = (0..PIPELINE_CHUNKS).step_by(2).collect();
    for n in 1..=6 {
        let r = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(n), hundred)
            .await
            .expect("runs");
        assert_eq!(r.delivered, passed, "window {n}");
        assert_eq!(r.took, ms(100) * 6u32.div_ceil(n as u32), "window {n}");
        // The channel full, the window full (or all six that pass the filter), no more.
        let odd_in_flight = r.produced.peak_in_flight;
        assert!(
            odd_in_flight <= (BOUND + n) as u32,
            "window {n}: {odd_in_flight}"
        );
        assert_eq!(r.drops, [1; 5]);
    }
}

#[tokio::test(start_paused = true)]
async fn buffered_and_buffer_unordered_with_uneven_lookups() {
    let times: Vec<Duration> = (0..PIPELINE_CHUNKS).step_by(2).map(lookup_time).collect();
    let ordered = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(3), lookup_time)
        .await
        .expect("runs");
    assert_eq!(ordered.delivered, [0, 2, 4, 6, 8, 10]);
    assert_eq!(ordered.took, ms(520));
    assert_eq!(ordered.took, ideal_ordered(&times, 3));
    let unordered = pipeline(PIPELINE_CHUNKS, None, Window::Unordered(3), lookup_time)
        .await
        .expect("runs");
    // Finish times: 2 at 40, 6 at 120 (started when 2 finished), 0 at 200, 4 at 280, 10 at
    // 360 (started at 200), 8 at 440 (started at 120): 80 ms apart, so the binary's real-clock
    // run keeps this order too.
    assert_eq!(unordered.delivered, [2, 6, 0, 4, 10, 8]);
    assert_eq!(unordered.took, ms(440));
    assert_eq!(unordered.took, ideal_unordered(&times, 3));
    assert_eq!(times.iter().sum::<Duration>(), ms(1080));
    // Both ran the whole source, with the channel full and the window full and no more in
    // flight: counted from both ends, so chunks the window holds count too.
    for r in [&ordered, &unordered] {
        assert_eq!(r.produced.made, PIPELINE_CHUNKS);
        assert_eq!(r.produced.peak_in_flight, (BOUND + 3) as u32);
        assert_eq!(r.drops, [1; 5]);
        assert!(r.error.is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_mid_pipeline_stops_the_source_and_every_stage_cleans_up_once() {
    let r = pipeline(LONG_SOURCE, Some(FAIL_AT), Window::Ordered(3), lookup_time)
        .await
        .expect("runs");
    assert_eq!(
        r.error,
        Some(PipelineError("transform failed at chunk 6".into()))
    );
    // In order: what came before the failing chunk, nothing after it.
    assert_eq!(r.delivered, [0, 2, 4]);
    // The sink gets the error once chunk 4's lookup (280 ms), ahead of it in the order, is
    // handed on; the lookups of 8 and 10, in flight then, are dropped, not awaited (8's would
    // end at 520 ms).
    assert_eq!(r.took, ms(280));
    assert_eq!(r.drops, [1; 5]);
    // At 0 ms the window takes 0, 2 and 4 (the filter drops 1 and 3), the channel fills with 5
    // and 6, and the source waits to send 7. At 200 ms chunk 0 is handed on; the window takes 5
    // (dropped) and 6 (the error) and hands on 2 (done since 40 ms); its head is now 4 (done at
    // 280 ms). The source sends 7 and 8, the window takes them (8 fills it), the source sends 9
    // and 10 and waits with 11. At 280 ms 4 is handed on, the window takes 9 (dropped) and 10,
    // and the error comes out: the sink drops the pipeline before the source runs again, and
    // its send of 11 fails. Made: 0..=11, five past the failing chunk.
    assert_eq!(r.produced.made, 12);
    assert!(r.produced.made - (FAIL_AT + 1) <= error_run_bound(BOUND, 3));
    assert_eq!(r.produced.peak_in_flight, (BOUND + 3) as u32);
}

#[tokio::test(start_paused = true)]
async fn the_stop_holds_for_every_window_and_bound() {
    for n in 1..=4 {
        let r = pipeline(
            LONG_SOURCE,
            Some(FAIL_AT),
            Window::Unordered(n),
            lookup_time,
        )
        .await
        .expect("runs");
        assert!(r.error.is_some());
        assert_eq!(r.drops, [1; 5], "window {n}");
        assert!(
            r.produced.peak_in_flight <= (BOUND + n) as u32,
            "window {n}"
        );
        let after = r.produced.made - (FAIL_AT + 1);
        assert!(
            after <= error_run_bound(BOUND, n),
            "window {n}: {after} past the error"
        );
    }
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["20", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("20 · Async streams"), "{help}");
    let bad = Args::try_parse_from(["20", "--bound", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
