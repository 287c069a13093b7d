//! The summary lines: each mistake's figures beside its fix's, and verdicts computed from them.

use std::time::Duration;

use common::{Comparison, fmt_duration, out};

use crate::busy_wait::WaitReport;
use crate::forgotten_handle::RECORDS;
use crate::lock_held::{ATMS, IoReport};
use crate::lock_order::{DeadlockReport, PATIENCE};
use crate::sequential_loop::QUOTES;
use crate::unbounded_spawn::{CONNECTIONS, QUERY, REQUESTS, ServeReport};

/// 1: the two runs' times, beside the ideal ratio (four receipts in turn vs at once).
pub fn lock_held(under_lock: &IoReport, after_unlock: &IoReport) {
    let io = Comparison::new(
        "lock held during I/O",
        under_lock.took,
        "I/O after unlocking",
        after_unlock.took,
        ATMS as f64,
    );
    out!(
        "  1. {io} (longest wait for the lock {} vs {}; balance {} and {}, both right)",
        fmt_duration(under_lock.longest_wait),
        fmt_duration(after_unlock.longest_wait),
        under_lock.balance,
        after_unlock.balance
    );
}

/// 2: transfers that timed out, and the verdict computed from them.
pub fn lock_order(opposite: &DeadlockReport, ordered: &DeadlockReport) {
    out!(
        "  2. locks taken in opposite orders: {} | one global order: {}",
        deadlock_line(opposite),
        deadlock_line(ordered)
    );
}

/// 3: the loop's time against spawning all first, beside the ideal ratio (sum over max).
pub fn sequential_loop(one_by_one: Duration, together: Duration) {
    let sum: Duration = QUOTES.iter().map(|q| q.1).sum();
    let max = QUOTES.iter().map(|q| q.1).max().unwrap_or_default();
    let loop_vs_all = Comparison::new(
        "spawn+join in a loop",
        one_by_one,
        "spawn all, then join",
        together,
        sum.as_secs_f64() / max.as_secs_f64(),
    );
    out!(
        "  3. {loop_vs_all} (sum {} vs max {})",
        fmt_duration(sum),
        fmt_duration(max)
    );
}

/// 4: threads alive, bytes held, memory and time, a thread per request and a pool.
pub fn unbounded_spawn(per_request: &ServeReport, pool: &ServeReport) {
    out!("  4. a thread per request: {}", serve_line(per_request));
    out!(
        "     a pool of {CONNECTIONS} workers: {} (ideal {}: {CONNECTIONS} connections set the pace)",
        serve_line(pool),
        fmt_duration(QUERY * REQUESTS.div_ceil(CONNECTIONS) as u32)
    );
}

/// 5: each waiter's wait and the CPU it used.
pub fn busy_wait(spinning: &WaitReport, sleeping: &WaitReport) {
    out!(
        "  5. busy-waiting {} | Condvar {} (ideal 0)",
        wait_line(spinning),
        wait_line(sleeping)
    );
}

/// 6: records the child's writer saved, detached and joined.
pub fn forgotten_handle(detached: usize, joined: usize) {
    out!(
        "  6. detached writer: {detached} of {RECORDS} records saved before the process ended{} \
         | joined writer: {joined} of {RECORDS} saved",
        if detached < RECORDS {
            " (killed mid-work)"
        } else {
            ""
        }
    );
}

fn deadlock_line(r: &DeadlockReport) -> String {
    let verdict = if r.timed_out > 0 {
        "DEADLOCK"
    } else {
        "no deadlock"
    };
    format!(
        "{} of 2 transfers timed out after {}, {} done, {}: {verdict}",
        r.timed_out,
        fmt_duration(PATIENCE),
        r.done,
        fmt_duration(r.took)
    )
}

fn serve_line(r: &ServeReport) -> String {
    let rss = match r.rss_growth_kib {
        Some(kib) => format!("resident memory +{:.1} MiB", kib as f64 / 1024.0),
        None => "resident memory not measured (Linux only)".to_string(),
    };
    format!(
        "{}/{REQUESTS} served, at most {} threads alive, {} KiB of requests held, {rss}, {}",
        r.served,
        r.peak_threads,
        r.peak_bytes / 1024,
        fmt_duration(r.took)
    )
}

fn wait_line(r: &WaitReport) -> String {
    match r.cpu {
        Some(cpu) => format!(
            "{}: used {} of CPU ({:.0}% of a core)",
            fmt_duration(r.waited),
            fmt_duration(cpu),
            100.0 * cpu.as_secs_f64() / r.waited.as_secs_f64().max(1e-9)
        ),
        None => format!(
            "{}: CPU time not measured (Linux only)",
            fmt_duration(r.waited)
        ),
    }
}
