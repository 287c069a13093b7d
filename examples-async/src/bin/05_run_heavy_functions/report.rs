//! What the three ways of `main.rs` measured, and what the figures say: the calls counted running
//! at once, the heartbeat's verdict, rayon's speedup beside its ideal, and the summary.
//!
//! The summary's words stay the same from run to run, only its figures vary: the recorded output
//! (`docs/output/`) is compared with fresh runs by a test. The speedup's verdict depends on what else
//! the machine runs (other programs holding the cores), so it is logged just above the summary.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::available_parallelism;
use std::time::Duration;

use common::{Comparison, fmt_duration};
use tracing::{info, warn};

use super::heartbeat::Heartbeat;
use super::{CALLS, TICK};

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
/// behind the work misses at least a whole call's worth of ticks (inline, the whole job's); one
/// that kept time is late only by as long as a busy machine keeps a ready thread waiting, which
/// can be a good part of a call when other programs hold the cores. Relative to the work, so the
/// verdict means the same in a debug and a release build (a fixed bound called a 15 ms freeze
/// "kept time").
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

/// What a measured speedup says next to its ideal. When it falls short, the machine's load
/// average (other programs wanting the cores) is the usual reason, and is printed if known.
pub fn speedup_verdict(measured: f64, ideal: f64, load: Option<f64>) -> String {
    let load = match load {
        Some(load) => format!(" (load average {load:.1})"),
        None => String::new(),
    };
    if ideal < 1.5 {
        "one core: nothing to gain from fanning out".to_string()
    } else if measured >= 0.8 * ideal {
        "near the ideal: every core worked".to_string()
    } else if measured >= 1.2 {
        format!("faster, short of the ideal: other programs held some of the cores{load}")
    } else {
        format!("no gain: the cores were busy with other programs{load}")
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

/// Prints the summary of the three ways (inline, spawn_blocking, rayon, in that order): one call as
/// measured inline (the yardstick of every verdict, measured when nothing else ran beside it), each
/// way's time, calls at once and heartbeat, and rayon's speedup beside its ideal.
pub fn print_summary(
    target: Duration,
    cores: usize,
    equal: bool,
    ways: [(&str, Duration, Heartbeat); 3],
) {
    let [
        (_, inline_took, _),
        (_, blocking_took, _),
        (_, fanned_took, _),
    ] = ways;
    let call = inline_took / CALLS as u32;
    let ideal = CALLS.min(cores as u64) as f64;
    let fanned = Comparison::new(
        "spawn_blocking one by one",
        blocking_took,
        "rayon",
        fanned_took,
        ideal,
    );
    let load = load_average();
    info!(
        "rayon against spawn_blocking one by one: {}",
        speedup_verdict(fanned.speedup(), ideal, load)
    );
    // Each way's heartbeat verdict is logged: on a machine busy enough, a heartbeat that should
    // keep time may not, and the summary's words must stay the same (it counts the verdicts).
    let mut froze = 0;
    for (label, _, beat) in &ways {
        if heartbeat_verdict(beat.longest_gap, TICK, call) == "froze" {
            froze += 1;
            warn!(
                "{label}: the heartbeat froze ({} without a tick, past {})",
                fmt_duration(beat.longest_gap),
                fmt_duration(freeze_threshold(TICK, call))
            );
        } else {
            info!("{label}: the heartbeat kept time");
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
    for (label, took, beat) in ways {
        let _ = writeln!(
            summary,
            "  {label}: {}, {} call(s) at once, heartbeat longest gap {} (tick {})",
            fmt_duration(took),
            beat.calls_at_once,
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK)
        );
    }
    let _ = writeln!(
        summary,
        "  the heartbeat froze in {froze} of {} ways and kept time in {}",
        ways.len(),
        ways.len() - froze
    );
    let load = load.map_or_else(String::new, |load| format!(", load average {load:.1}"));
    let _ = writeln!(summary, "  {fanned} (available_parallelism {cores}){load}");
    let _ = writeln!(
        summary,
        "  results equal: {}",
        if equal { "yes" } else { "no" }
    );
    common::out!("{}", summary.trim_end());
}
