//! # 01 · Basic async, with threads: the user dashboard, one fetch after another, then one thread each
//!
//! The same dashboard as `examples-async/src/bin/01_basic_async.rs`: the profile (300 ms), recent
//! orders (600 ms) and recommendations (450 ms), here as blocking calls (`thread::sleep` stands in for a
//! blocking network read).
//!
//! What it shows:
//! - Called one after another on the main thread, the fetches take the **sum** (1350 ms).
//! - Given **one OS thread each** (`thread::spawn`, then `join`), they take the **longest** (600 ms). This
//!   is the seed's C++ `std::async(std::launch::async, ...)`: a thread per call, a `JoinHandle<T>` as the
//!   future. Every fetch line names its own thread.
//!
//! What differs from the async twin, and why:
//! - A blocking call is fine here: it blocks only its own thread. In the async twin the same
//!   `thread::sleep` would freeze every task on the runtime.
//! - Threads are **not lazy**: `thread::spawn` starts the work at once, like `tokio::spawn`, and unlike
//!   a plain future. There is no "created but not started" state to show.
//! - Each thread costs a kernel thread with its own stack (megabytes reserved, a system call to start
//!   and join): fine for three fetches, not for ten thousand (`00_async_vs_threads` measures it).
//!
//! Seed: "Asynchrony" > Examples in C++ (`std::async`), "Asynchrony vs Multithreading".
//! Upstream: `src/cpp/asynchrony/basic_async.cpp`, `src/python/asynchrony/basic_async.py`.
//!
//! Run: `cargo run -p examples-threads --bin 01_basic_async_threads` (no flags but `--help`, about 2 s).
//!
//! Output of a real run: `docs/output/01_basic_async_threads.txt`.

use std::fmt::Write as _;
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, time};
use tracing::info;

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "01 · Basic async, with threads: three blocking fetches called one after another \
             (the sum) vs one thread::spawn each, then join (the longest)",
    long_about = None
)]
struct Args {}

const PROFILE_DELAY: Duration = Duration::from_millis(300);
const ORDERS_DELAY: Duration = Duration::from_millis(600);
const RECOMMENDATIONS_DELAY: Duration = Duration::from_millis(450);

/// What calling in sequence should approach: the sum of the three delays.
const SUM: Duration = PROFILE_DELAY
    .saturating_add(ORDERS_DELAY)
    .saturating_add(RECOMMENDATIONS_DELAY);
/// What one thread per fetch should approach: the longest delay.
const LONGEST: Duration = ORDERS_DELAY;

#[derive(Debug, Clone, PartialEq)]
struct Profile {
    id: u32,
    name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct Dashboard {
    profile: Profile,
    orders: Vec<&'static str>,
    recommendations: Vec<&'static str>,
}

/// Pretends to call the user service. `thread::sleep` blocks the calling thread, and only that one.
fn fetch_user_profile() -> Profile {
    info!("fetch_user_profile: request sent");
    thread::sleep(PROFILE_DELAY);
    info!("fetch_user_profile: got Alice");
    Profile {
        id: 1,
        name: "Alice",
    }
}

fn fetch_recent_orders() -> Vec<&'static str> {
    info!("fetch_recent_orders: request sent");
    thread::sleep(ORDERS_DELAY);
    info!("fetch_recent_orders: got 2 orders");
    vec!["order-1001", "order-1002"]
}

fn fetch_recommendations() -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    thread::sleep(RECOMMENDATIONS_DELAY);
    info!("fetch_recommendations: got 3 items");
    vec!["book", "keyboard", "coffee mug"]
}

/// Each call returns before the next starts: sum of delays.
fn load_dashboard_sequential() -> Dashboard {
    Dashboard {
        profile: fetch_user_profile(),
        orders: fetch_recent_orders(),
        recommendations: fetch_recommendations(),
    }
}

/// One thread per fetch. `spawn` starts each at once; `join` waits for it and hands back its return
/// value. Total: the longest delay.
fn load_dashboard_threads() -> anyhow::Result<Dashboard> {
    // `thread::spawn(f)` with a name, so the log shows which thread did what. Starting a thread can
    // fail (the OS may refuse one): `thread::spawn` would panic, `Builder::spawn` returns the error.
    let profile = thread::Builder::new()
        .name("fetch-profile".into())
        .spawn(fetch_user_profile)?;
    let orders = thread::Builder::new()
        .name("fetch-orders".into())
        .spawn(fetch_recent_orders)?;
    let recommendations = thread::Builder::new()
        .name("fetch-recommendations".into())
        .spawn(fetch_recommendations)?;
    // A panic inside a thread comes back from `join` as `Err` (its payload): it does not take this
    // thread down.
    Ok(Dashboard {
        profile: profile
            .join()
            .map_err(|_| anyhow!("fetch-profile panicked"))?,
        orders: orders
            .join()
            .map_err(|_| anyhow!("fetch-orders panicked"))?,
        recommendations: recommendations
            .join()
            .map_err(|_| anyhow!("fetch-recommendations panicked"))?,
    })
}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- sequential: one blocking call after another ---");
    let (sequential_dashboard, sequential) = time(load_dashboard_sequential);
    info!(
        "sequential dashboard ready in {} (ideal: the sum, {})",
        fmt_duration(sequential),
        fmt_duration(SUM)
    );

    info!("--- threads: one OS thread per fetch, then join ---");
    let (threads_dashboard, threads) = time(load_dashboard_threads);
    let threads_dashboard = threads_dashboard?;
    info!(
        "threaded dashboard ready in {} (ideal: the longest fetch, {})",
        fmt_duration(threads),
        fmt_duration(LONGEST)
    );
    anyhow::ensure!(
        sequential_dashboard == threads_dashboard,
        "both ways must build the same dashboard"
    );
    let d = &threads_dashboard;
    info!(
        "dashboard for {} (id {}): orders {:?}, recommended {:?}",
        d.profile.name, d.profile.id, d.orders, d.recommendations
    );

    let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
    let mut summary = String::from("\nSummary\n");
    writeln!(
        summary,
        "  {}",
        Comparison::new("sequential", sequential, "threads", threads, ideal)
    )?;
    common::out!("{}", summary.trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early),
    //! upper bounds are generous. Sleeping threads overlap even on one core, so the threaded run stays
    //! well below the sum however loaded the machine is.
    use super::*;

    #[test]
    fn sequential_takes_at_least_the_sum() {
        let (_, took) = time(load_dashboard_sequential);
        assert!(took >= SUM, "{took:?}");
    }

    #[test]
    fn threads_take_about_the_longest_fetch_not_the_sum() {
        let (dashboard, took) = time(load_dashboard_threads);
        dashboard.expect("no fetch panics");
        assert!(took >= LONGEST, "{took:?}");
        // Running any two fetches one after the other would add at least the shortest one (300 ms):
        // below that, all three overlapped. The 300 ms margin absorbs a loaded machine (sleeping
        // threads need no CPU, only a wake-up).
        assert!(took < LONGEST + PROFILE_DELAY, "{took:?}");
    }

    #[test]
    fn both_ways_build_the_same_dashboard() {
        let threads = load_dashboard_threads().expect("no fetch panics");
        assert_eq!(load_dashboard_sequential(), threads);
        assert_eq!(threads.profile.name, "Alice");
    }

    #[test]
    fn a_panicking_thread_becomes_an_error_not_a_crash() {
        let handle = thread::Builder::new()
            .name("doomed".into())
            .spawn(|| -> u32 { panic!("the service exploded") })
            .expect("spawn works");
        assert!(handle.join().is_err());
    }
}
