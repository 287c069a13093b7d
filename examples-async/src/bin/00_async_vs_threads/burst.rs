//! A CPU burst is a fixed amount of work, measured once at start-up, not a spin until the clock
//! says 30 ms: a burst that shares its core with another runs longer and is drawn longer, so the
//! lanes never show more parallelism than the machine had.

use std::time::Duration;

use tracing::info;

/// Measures the speed of a core (see [`work_per_ms`]) and says so in the log: once, at start-up,
/// before anything runs beside it.
pub fn calibrate() {
    info!(
        "a burst is fixed work: {:.0} units per ms of CPU, measured once",
        work_per_ms()
    );
}

/// A CPU burst: a fixed amount of arithmetic, worth `length` of CPU time on this machine.
///
/// Fixed work, not a spin on the wall clock, so that a drawing never shows parallelism the machine
/// did not have: a burst that loses its core (three job threads on two cores, a busy machine) takes
/// longer, and its bar on the drawing grows with it. A spin "until 30 ms have passed" would end on
/// time even if it ran for only half of them, and two such bursts would look parallel on one core.
/// The amount of work per millisecond is measured once, in [`work_per_ms`].
pub fn burn(length: Duration) {
    let units = (work_per_ms() * length.as_secs_f64() * 1000.0).round() as u64;
    work(units);
}

/// `units` steps of a xorshift generator: cheap, branch-free, and kept by `black_box` from being
/// folded away by the optimiser, so the same count costs the same CPU time in every build.
fn work(units: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..units {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    x
}

/// Units of [`work`] per millisecond of CPU on this machine, measured on first use and kept.
///
/// The fastest of many short trials (about 0.2 ms each): a trial that was preempted or shared its
/// core comes out slow, and at least one of 50 runs undisturbed even on a busy machine, so the
/// figure is the speed of a core of our own. Bursts made from it are never shorter than their
/// nominal length, only longer when the core is shared. Measured with `std::time::Instant`, not
/// tokio's clock: on the paused clock of the tests, tokio's would not move.
pub fn work_per_ms() -> f64 {
    static RATE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        // Grow a trial until it lasts long enough for the clock to resolve it well.
        let mut units = 1_000u64;
        let trial = |units: u64| {
            let start = std::time::Instant::now();
            work(units);
            start.elapsed()
        };
        while trial(units) < Duration::from_micros(200) {
            units *= 2;
        }
        let fastest = (0..50)
            .map(|_| trial(units))
            .min()
            .expect("50 trials")
            .max(Duration::from_nanos(1));
        units as f64 / (fastest.as_secs_f64() * 1000.0)
    })
}
