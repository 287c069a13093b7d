//! What the three ways of `main.rs` measured, and what the figures say: the slices counted running
//! at once, the heartbeat's verdict, the speedups beside their ideals, and the summary.
//!
//! The verdicts are computed from the figures beside them. On a machine shared with other busy
//! programs more threads can look faster (the scheduler shares the cores out per thread, so more
//! threads take a bigger share from the other programs), and then the verdict says so, with the
//! load average, rather than "gain nothing" beside a gain. Since they depend on what else the
//! machine runs, the speedup verdicts are logged just above the summary, whose words stay the same
//! from run to run (the recorded output, `docs/output/`, is compared with fresh runs by a test).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::available_parallelism;
use std::time::Duration;

use common::{Comparison, fmt_duration};
use tracing::{info, warn};

use super::heartbeat::Heartbeat;
use super::{CALLS, THREADS_PER_CORE, TICK};

/// Counts the calls running right now and the most seen at once since the last [`AtOnce::reset`]:
/// the measured proof that a way ran its calls in parallel, which a speedup alone cannot give on
/// a machine whose other programs hold the cores. One way runs at a time, so one counter will do.
pub struct AtOnce;

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

impl AtOnce {
    /// Counts one more call until the guard is dropped.
    pub fn enter() -> AtOnce {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
        AtOnce
    }

    pub fn reset() {
        MOST_AT_ONCE.store(0, Ordering::SeqCst);
    }

    pub fn most() -> usize {
        MOST_AT_ONCE.load(Ordering::SeqCst)
    }
}

impl Drop for AtOnce {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The longest gap that still counts as "kept time": the tick plus one call. A heartbeat stuck
/// behind the work would miss at least a call's worth of ticks; one that kept time is late only by
/// as long as a busy machine keeps a ready thread waiting. Relative to the work, so the verdict
/// means the same in a debug and a release build.
pub fn freeze_threshold(tick: Duration, call: Duration) -> Duration {
    tick + call
}

/// "froze" or "kept time", from the longest gap, the tick and how long one call took.
pub fn heartbeat_verdict(longest_gap: Duration, tick: Duration, call: Duration) -> &'static str {
    if longest_gap > freeze_threshold(tick, call) {
        "froze"
    } else {
        "kept time"
    }
}

/// " (load average 3.5)", or nothing where the system does not say.
pub fn load_note(load: Option<f64>) -> String {
    load.map_or_else(String::new, |load| format!(" (load average {load:.1})"))
}

/// What a measured speedup says next to its ideal. When it falls short, the machine's load
/// average (other programs wanting the cores) is the usual reason, and is printed if known.
pub fn speedup_verdict(measured: f64, ideal: f64, load: Option<f64>) -> String {
    if ideal < 1.5 {
        "one core: nothing to gain from more threads".to_string()
    } else if measured >= 0.8 * ideal {
        "near the ideal: every core worked".to_string()
    } else if measured >= 1.2 {
        format!(
            "faster, short of the ideal: other programs held some of the cores{}",
            load_note(load)
        )
    } else {
        format!(
            "no gain: the cores were busy with other programs{}",
            load_note(load)
        )
    }
}

/// What 8 threads per core against one per core says. `gain` is the measured speedup (ideal 1.0);
/// `per_core_share` is how much of its ideal the one-per-core run reached: well below 1, other
/// programs held cores, and more threads then win a bigger share of them from those programs.
pub fn oversubscription_verdict(gain: f64, per_core_share: f64, load: Option<f64>) -> String {
    if gain > 1.15 {
        if per_core_share < 0.8 {
            format!(
                "faster, but not from the extra threads: one thread per core reached only {:.0}% \
                 of its ideal, so other programs held cores{}, and more threads took a bigger \
                 share of them",
                per_core_share * 100.0,
                load_note(load)
            )
        } else {
            format!(
                "faster, which more threads than cores cannot be on their own: the machine's load \
                 changed between the runs{}",
                load_note(load)
            )
        }
    } else if gain >= 0.85 {
        "more threads than cores gain nothing: the cores were already busy".to_string()
    } else {
        format!(
            "slower by {:.0}%: the extra threads only took turns on cores that were already busy{}",
            (1.0 / gain - 1.0) * 100.0,
            load_note(load)
        )
    }
}

/// The one-minute load average (Linux: `/proc/loadavg`); `None` where there is none.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

pub fn available_cores() -> usize {
    available_parallelism().map_or(1, |n| n.get())
}

/// Prints the summary of the three ways (sequential, one thread per core, 8 per core, in that
/// order): one call as measured on one thread (the yardstick of the heartbeat's verdict), each
/// way's time, slices at once and heartbeat, and the two speedups beside their ideals; their
/// verdicts are logged first.
pub fn print_summary(
    target: Duration,
    cores: usize,
    equal: bool,
    ways: [(String, Duration, Heartbeat); 3],
) {
    let (sequential_took, per_core_took, oversubscribed_took) = (ways[0].1, ways[1].1, ways[2].1);
    // The yardstick of the heartbeat's verdict: one call, as measured on one thread.
    let call = sequential_took / CALLS as u32;
    // Every core busy with an equal slice: `cores` times faster at best.
    let per_core = Comparison::new(
        "sequential",
        sequential_took,
        "one thread per core",
        per_core_took,
        cores as f64,
    );
    // Against one thread per core, the ideal is no gain at all: the cores were already all busy.
    let more = Comparison::new(
        "one thread per core",
        per_core_took,
        format!("{THREADS_PER_CORE} threads per core"),
        oversubscribed_took,
        1.0,
    );
    let load = load_average();
    info!(
        "one thread per core against sequential: {}",
        speedup_verdict(per_core.speedup(), per_core.ideal_speedup, load)
    );
    info!(
        "{THREADS_PER_CORE} threads per core against one per core: {}",
        oversubscription_verdict(
            more.speedup(),
            per_core.speedup() / per_core.ideal_speedup,
            load
        )
    );

    // Each way's heartbeat verdict is logged: on a machine busy enough, a heartbeat that should
    // keep time may not, and the summary's words must stay the same (it counts the verdicts).
    let mut froze = 0;
    for (label, _, beat) in &ways {
        if heartbeat_verdict(beat.longest_gap, TICK, call) == "froze" {
            froze += 1;
            warn!(
                "{label}: the main heartbeat froze ({} without a tick, past {})",
                fmt_duration(beat.longest_gap),
                fmt_duration(freeze_threshold(TICK, call))
            );
        } else {
            info!("{label}: the main heartbeat kept time");
        }
    }
    let mut summary = String::from("\nSummary\n");
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        summary,
        "  one call: {} (sized for {} of CPU); a gap past {} (the tick + a call) is a freeze",
        fmt_duration(call),
        fmt_duration(target),
        fmt_duration(freeze_threshold(TICK, call))
    );
    for (label, took, beat) in &ways {
        let _ = writeln!(
            summary,
            "  {label}: {}, {} slice(s) at once, main heartbeat longest gap {} (tick {})",
            fmt_duration(*took),
            beat.calls_at_once,
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK)
        );
    }
    let _ = writeln!(
        summary,
        "  the main heartbeat froze in {froze} of {} ways and kept time in {}",
        ways.len(),
        ways.len() - froze
    );
    let load = load.map_or_else(String::new, |load| format!(", load average {load:.1}"));
    let _ = writeln!(
        summary,
        "  {per_core} (available_parallelism {cores}){load}"
    );
    let _ = writeln!(summary, "  {more}");
    let _ = writeln!(
        summary,
        "  results equal: {}",
        if equal { "yes" } else { "no" }
    );
    common::out!("{}", summary.trim_end());
}
