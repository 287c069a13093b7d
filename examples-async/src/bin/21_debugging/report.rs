//! The flags, each request's ideal time, and the summary with its verdicts.

use std::time::Duration;

use clap::Parser;
use common::fmt_duration;

use crate::watchdog::WatchReport;
use crate::{BLOCKING_CALL, Fetched, HEARTBEAT, REQUESTS, Request, STALL_THRESHOLD};

/// `--help` text and flags.
#[derive(Parser, Debug)]
#[command(
    about = "21 · Debugging: tracing spans name every request's lines, tokio's runtime metrics are \
             sampled, and a watchdog thread catches the runtime blocked by a sync call (--fixed moves \
             it to spawn_blocking)",
    long_about = None
)]
pub struct Args {
    /// Run the blocking call on `spawn_blocking` (the fix) instead of on the runtime's thread.
    #[arg(long)]
    pub fixed: bool,
    /// Run the scenario this many times (say 30, to watch it in tokio-console).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
}

/// How long a request should take when nothing gets in its way: the server's delay, plus the blocking
/// call for the one that makes it.
pub fn ideal(request: &Request) -> Duration {
    path_delay(request.path)
        + if request.blocks {
            BLOCKING_CALL
        } else {
            Duration::ZERO
        }
}

/// The delay a test-server path asks for (`/delay/900` -> 900 ms).
pub fn path_delay(path: &str) -> Duration {
    let ms = path
        .strip_prefix("/delay/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(ms)
}

/// The summary: each request's time beside its ideal, the heartbeat's longest gap, the metrics.
pub fn print_summary(fetched: &[Fetched], rounds: u32, total: Duration, report: &WatchReport) {
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
        rounds,
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
}
