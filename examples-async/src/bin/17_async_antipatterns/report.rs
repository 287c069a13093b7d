//! The summary lines: each mistake's figures beside its fix's, and verdicts computed from them.

use std::time::Duration;

use common::{Comparison, fmt_duration, out};

use crate::blocking::{Heartbeat, TICK};
use crate::forgotten_handle::HandleReport;
use crate::lock_held::{DISPENSE, LockReport, PATIENCE};
use crate::never_awaited::{OPS, OpsReport};
use crate::sequential_loop::QUOTES;
use crate::unbounded_spawn::{CONNECTIONS, IN_FLIGHT, REQUESTS, SpawnReport, ideal_serving_time};

/// 1: one line per run, the heartbeat's longest gap and its verdict.
pub fn blocking(heartbeats: &[(&str, Heartbeat)]) {
    for (i, (label, beat)) in heartbeats.iter().enumerate() {
        out!(
            "  {}{label}: heartbeat longest gap {} (tick {}): {}",
            if i == 0 { "1. " } else { "   " },
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK),
            beat.verdict()
        );
    }
}

/// 2: who got the lock, after how long, and how long ATM-1 held it.
pub fn lock_held(std_guard: &LockReport, tokio_guard: &LockReport) {
    out!(
        "  2. std MutexGuard across .await on spawn_local: ATM-2 {} after {} (deadline {}): {}; \
         ATM-1 held the lock {} (needs {})",
        if std_guard.atm2_got_it {
            "got the lock"
        } else {
            "gave up"
        },
        fmt_duration(std_guard.atm2_waited),
        fmt_duration(PATIENCE),
        lock_verdict(std_guard),
        fmt_duration(std_guard.atm1_held),
        fmt_duration(DISPENSE)
    );
    out!(
        "     fix, tokio::sync::Mutex: ATM-2 got the lock after {} (ideal {}): {}",
        fmt_duration(tokio_guard.atm2_waited),
        fmt_duration(DISPENSE),
        lock_verdict(tokio_guard)
    );
}

/// 3: the loop's time against `join_all`'s, beside the ideal ratio (sum over max).
pub fn sequential_loop(one_by_one: Duration, together: Duration) {
    let sum: Duration = QUOTES.iter().map(|q| q.1).sum();
    let max = QUOTES.iter().map(|q| q.1).max().unwrap_or_default();
    let comparison = Comparison::new(
        "await in a loop",
        one_by_one,
        "join_all",
        together,
        sum.as_secs_f64() / max.as_secs_f64(),
    );
    out!(
        "  3. {comparison} (sum {} vs max {})",
        fmt_duration(sum),
        fmt_duration(max)
    );
}

/// 4: operations that ran, failures raised and seen.
pub fn never_awaited(dropped: &OpsReport, kept: &OpsReport) {
    out!(
        "  4. never awaited: {} | awaited: {}",
        ops_line(dropped),
        ops_line(kept)
    );
}

/// 5: tasks alive, bytes held, memory and time, unbounded and bounded.
pub fn unbounded_spawn(unbounded: &SpawnReport, bounded: &SpawnReport) {
    out!("  5. unbounded spawn: {}", spawn_line(unbounded));
    out!(
        "     bounded (Semaphore, {IN_FLIGHT} in flight): {} (ideal {}: {CONNECTIONS} connections set the pace)",
        spawn_line(bounded),
        fmt_duration(ideal_serving_time())
    );
}

/// 6: failures raised by the tasks and learnt of by the program, forgotten and awaited.
pub fn forgotten_handle(forgotten: &HandleReport, panics_seen_by_hook: usize, kept: &HandleReport) {
    out!(
        "  6. forgotten JoinHandles: {} tasks started, {} of {} failures learnt of (the panic hook saw {} panic) \
         | awaited: {} of {} failures learnt of",
        forgotten.started,
        forgotten.learnt.len(),
        forgotten.raised,
        panics_seen_by_hook,
        kept.learnt.len(),
        kept.raised
    );
}

/// "DEADLOCK" when ATM-2 never got the lock, computed from what was measured.
fn lock_verdict(r: &LockReport) -> &'static str {
    if r.atm2_got_it {
        "no deadlock"
    } else {
        "DEADLOCK"
    }
}

fn ops_line(r: &OpsReport) -> String {
    let mut line = format!(
        "{} of {OPS} operations ran, {} failure{} seen (of {} raised)",
        r.ran,
        r.seen.len(),
        if r.seen.len() == 1 { "" } else { "s" },
        r.raised
    );
    if !r.seen.is_empty() {
        line.push_str(&format!(": {}", r.seen.join("; ")));
    }
    line
}

fn spawn_line(r: &SpawnReport) -> String {
    let rss = match r.rss_growth_kib {
        Some(kib) => format!("resident memory +{:.1} MiB", kib as f64 / 1024.0),
        None => "resident memory not measured (Linux only)".to_string(),
    };
    format!(
        "{}/{REQUESTS} served, at most {} tasks alive, {} KiB of requests held, {rss}, {}",
        r.served,
        r.peak_tasks,
        r.peak_bytes / 1024,
        fmt_duration(r.took)
    )
}
