//! The demo's summary: every figure beside its ideal.

use std::time::Duration;

use common::fmt_duration;

use crate::ServerArgs;
use crate::demo::demo;

/// Rounds of the pool a burst needs: ceil(burst / threads).
pub(crate) fn rounds(burst: usize, threads: usize) -> usize {
    burst.div_ceil(threads.max(1))
}

/// Runs `demo` and prints its summary.
pub(crate) fn run_demo(args: &ServerArgs, burst: usize) -> anyhow::Result<()> {
    let report = demo(args, burst)?;
    let delay = Duration::from_millis(args.delay_ms);
    let threads = args.threads as usize;
    let rounds = rounds(burst, threads);
    let routes: Vec<String> = report
        .routes
        .iter()
        .map(|(route, status)| format!("{route} {status}"))
        .collect();
    common::out!();
    common::out!("Summary");
    common::out!("  routes: {}", routes.join(", "));
    common::out!(
        "  burst: {} requests of {} each on {threads} threads took {} (ideal {} = {rounds} rounds; all at once {}){}",
        report.burst,
        fmt_duration(delay),
        fmt_duration(report.burst_took),
        fmt_duration(delay * rounds as u32),
        fmt_duration(delay),
        if report.burst_all_ok {
            ""
        } else {
            ", SOME FAILED"
        }
    );
    common::out!(
        "  requests in flight at once: at most {} of {} (the pool size)",
        report.peak_in_flight,
        report.burst
    );
    common::out!(
        "  graceful shutdown: the in-flight GET /slow got {} after {}; {} connection(s) dropped",
        report.slow_status,
        fmt_duration(report.slow_took),
        report.dropped_after_grace
    );
    common::out!(
        "  after shutdown: new connections are {}",
        if report.refused_after_shutdown {
            "refused"
        } else {
            "still accepted (unexpected)"
        }
    );
    common::out!(
        "  server counters: {} connection(s), {} request(s), {} error(s)",
        report.server.accepted,
        report.server.requests,
        report.server.errors
    );
    anyhow::ensure!(
        report.burst_all_ok && report.slow_status == 200 && report.refused_after_shutdown,
        "the demo did not go as expected (see above)"
    );
    Ok(())
}
