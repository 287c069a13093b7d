//! The flags, the ideals each figure is printed beside (worked out from the rates and the stage
//! times, as the twin's), and the summary with its verdicts.

use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, out, schedule};

use crate::stages::{BackpressureRun, PipelineRun, STAGES};
use crate::{
    BOUND, CHUNKS, FAIL_AT, LONG_SOURCE, MAKE_EVERY, PIPELINE_CHUNKS, WINDOW, WRITE_TAKES,
    lookup_time,
};

/// The waits a producer should see, worked out from the rates (as the twin): chunk i goes in once
/// chunk i - bound has been taken, and the sink takes chunk j when it has arrived and j-1 is written.
pub fn ideal_waits(chunks: u32, bound: usize, every: Duration, write: Duration) -> u32 {
    let (mut sent_last, mut waits) = (Duration::ZERO, 0);
    let mut taken: Vec<Duration> = Vec::new();
    let mut written_last = Duration::ZERO;
    for i in 0..chunks as usize {
        let made = sent_last + every;
        let room = i.checked_sub(bound).map_or(Duration::ZERO, |j| taken[j]);
        if room > made {
            waits += 1;
        }
        sent_last = made.max(room);
        let take = sent_last.max(written_last);
        taken.push(take);
        written_last = take + write;
    }
    waits
}

/// The ideal totals of the enrich stage, as in the twin: list scheduling for the unordered workers;
/// for the ordered window, lookup k starts when lookup k - n has been joined and handed on.
pub fn ideal_unordered(times: &[Duration], n: usize) -> Duration {
    schedule::makespan_of_tasks(times, n)
}

pub fn ideal_ordered(times: &[Duration], n: usize) -> Duration {
    let mut handed_on: Vec<Duration> = Vec::new();
    for (k, &takes) in times.iter().enumerate() {
        let starts = k.checked_sub(n).map_or(Duration::ZERO, |j| handed_on[j]);
        let last = handed_on.last().copied().unwrap_or_default();
        handed_on.push(last.max(starts + takes));
    }
    handed_on.last().copied().unwrap_or_default()
}

/// How many chunks past the failing one the source can make before its `send` fails. Every stage
/// runs on its own, so all the room upstream of the transform fills: up to `bound` evens wait for
/// the transform (and the filter read up to `2 x bound` chunks to find them), the filter holds one
/// chunk and has read the odd one before it, `bound` wait in the source's channel, and the source
/// makes one more that it cannot send.
pub fn error_run_bound(bound: usize) -> u32 {
    (3 * bound + 3) as u32
}

/// `--help` text. No flags: the rates are fixed so the figures can be compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "20 · Streams with backpressure, with threads: a producer blocked by a slow sink \
             (sync_channel), a pipeline of stage threads with an ordered and an unordered window of \
             lookups, and an error mid-pipeline that ends every thread and cleans up each stage once",
    long_about = None
)]
pub struct Args {}

/// The summary: each figure beside its ideal.
pub fn print_summary(
    bp: &BackpressureRun,
    ordered: &PipelineRun,
    unordered: &PipelineRun,
    failed: &PipelineRun,
) {
    let passed: Vec<u32> = (0..PIPELINE_CHUNKS).filter(|id| id % 2 == 0).collect();
    let times: Vec<Duration> = passed.iter().map(|&id| lookup_time(id)).collect();
    let ideal_total = MAKE_EVERY + WRITE_TAKES * CHUNKS;
    out!();
    out!("Summary");
    out!(
        "  backpressure: {}/{CHUNKS} chunks written; the producer waited {} times (ideal {}) for {}; largest queue {} (bound {BOUND})",
        bp.written.len(),
        bp.produced.waits,
        ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES),
        fmt_duration(bp.produced.waited),
        bp.peak_queue
    );
    out!(
        "  backpressure: total {} (ideal {}: the slow sink sets the pace, one chunk made + {CHUNKS} writes)",
        fmt_duration(bp.took),
        fmt_duration(ideal_total)
    );
    out!(
        "  window of {WINDOW} in order: {:?}, {}, {} (ideal {})",
        ordered.delivered,
        if ordered.delivered == passed {
            "order kept"
        } else {
            "ORDER LOST"
        },
        fmt_duration(ordered.took),
        fmt_duration(ideal_ordered(&times, WINDOW))
    );
    out!(
        "  {WINDOW} workers: {:?}, finish order, {} (ideal {})",
        unordered.delivered,
        fmt_duration(unordered.took),
        fmt_duration(ideal_unordered(&times, WINDOW))
    );
    out!(
        "  one lookup at a time would take {}",
        fmt_duration(times.iter().sum())
    );
    let peak = [&ordered, &unordered, &failed]
        .iter()
        .map(|r| r.peak_queue)
        .max()
        .unwrap_or_default();
    out!(
        "  the source's queue in the three pipelines: at most {peak} chunks (bound {BOUND}: {})",
        if peak <= BOUND { "kept" } else { "EXCEEDED" }
    );
    let error = failed
        .error
        .as_ref()
        .map_or("no error".to_string(), |e| e.0.clone());
    let after = failed.produced.made.saturating_sub(FAIL_AT + 1);
    let bound_after = error_run_bound(BOUND);
    out!(
        "  error: {error}; the sink got {:?} first; the source made {} of {LONG_SOURCE} chunks, {after} past the failing one (bound {bound_after}: {})",
        failed.delivered,
        failed.produced.made,
        if after <= bound_after {
            "stopped"
        } else {
            "DID NOT STOP"
        }
    );
    let dropped = STAGES
        .iter()
        .zip(failed.drops)
        .map(|(s, n)| format!("{} {n}", s.label()))
        .collect::<Vec<_>>()
        .join(", ");
    let clean = failed.drops.iter().all(|&n| n == 1);
    out!(
        "  cleanup after the error: {dropped} ({}); every thread joined",
        if clean {
            "each stage once"
        } else {
            "NOT ONCE EACH"
        }
    );
}
