//! How much memory an idle task and an idle thread cost: 10,000 of each, parked on a channel,
//! measured as the growth of the process's resident set (`VmRSS` in `/proc/self/status`).
//!
//! **Linux only** (it reads `/proc`); elsewhere it says so and exits. Not a criterion benchmark: it
//! measures memory, once, in a fresh child process per kind (so the first kind's freed memory, kept
//! by the allocator or glibc's stack cache, does not hide the second kind's growth).
//!
//! - A task is `tokio::spawn(async move { started(); rx.await })`: a heap cell holding the future's
//!   state (a few words here; a real task holds whatever its future keeps across `.await`).
//! - A thread is `thread::spawn(move || { started(); rx.recv() })`: a stack (Rust's default 2 MiB
//!   is *reserved* address space; only the pages touched become resident), thread-local storage and
//!   glibc's thread descriptor. The kernel's own per-thread memory (its kernel stack, the task
//!   struct) is not in `VmRSS` at all, so the thread figure is an underestimate.
//!
//! Run: `cargo bench -p examples-async --bench idle_memory` (a few seconds).

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

/// How many idle units of each kind.
const UNITS: usize = 10_000;
/// Tells the re-executed child which kind to measure.
const KIND_VAR: &str = "IDLE_MEMORY_KIND";

/// `VmRSS` and `VmSize` of this process in KiB, from `/proc/self/status`.
fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmSize:")?))
}

/// Waits until `started` reaches `UNITS`: every unit has run up to its idle point.
fn wait_for(started: &AtomicUsize) {
    while started.load(Ordering::Acquire) < UNITS {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Parks `UNITS` tokio tasks on oneshot channels; returns (RSS growth, VmSize growth) in KiB.
fn idle_tasks() -> (u64, u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a multi-thread runtime builds");
    // The runtime and its workers exist before the baseline: only the tasks are counted.
    let started = Arc::new(AtomicUsize::new(0));
    let (rss0, vm0) = memory_kib().expect("checked by main");
    let mut senders = Vec::with_capacity(UNITS);
    let mut handles = Vec::with_capacity(UNITS);
    for _ in 0..UNITS {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let started = started.clone();
        handles.push(runtime.spawn(async move {
            started.fetch_add(1, Ordering::Release);
            black_box(rx.await.is_ok())
        }));
        senders.push(tx);
    }
    wait_for(&started);
    let (rss1, vm1) = memory_kib().expect("checked by main");
    drop(senders);
    runtime.block_on(async {
        for handle in handles {
            handle.await.expect("the task does not panic");
        }
    });
    (rss1.saturating_sub(rss0), vm1.saturating_sub(vm0))
}

/// Parks `UNITS` OS threads on channels; returns (RSS growth, VmSize growth) in KiB.
fn idle_threads() -> (u64, u64) {
    let started = Arc::new(AtomicUsize::new(0));
    let (rss0, vm0) = memory_kib().expect("checked by main");
    let mut senders = Vec::with_capacity(UNITS);
    let mut handles = Vec::with_capacity(UNITS);
    for _ in 0..UNITS {
        let (tx, rx) = std_mpsc::channel::<()>();
        let started = started.clone();
        handles.push(thread::spawn(move || {
            started.fetch_add(1, Ordering::Release);
            black_box(rx.recv().is_ok())
        }));
        senders.push(tx);
    }
    wait_for(&started);
    let (rss1, vm1) = memory_kib().expect("checked by main");
    drop(senders);
    for handle in handles {
        handle.join().expect("the thread does not panic");
    }
    (rss1.saturating_sub(rss0), vm1.saturating_sub(vm0))
}

/// Runs this binary again with `KIND_VAR=kind` and reads back its one line `rss_kib vm_kib`.
fn measure_in_child(kind: &str) -> Result<(u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let output = Command::new(exe)
        .env(KIND_VAR, kind)
        .output()
        .map_err(|e| format!("could not run the {kind} child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the {kind} child failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut numbers = stdout.split_whitespace().map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(rss)), Some(Ok(vm))) => Ok((rss, vm)),
        _ => Err(format!(
            "unexpected output from the {kind} child: {stdout:?}"
        )),
    }
}

fn main() {
    // `cargo bench` passes `--bench` (and filters); this program takes no arguments and ignores them.
    if memory_kib().is_none() {
        println!(
            "idle_memory: /proc/self/status is not readable: this measurement is Linux only, skipped"
        );
        return;
    }
    match std::env::var(KIND_VAR).as_deref() {
        Ok("tasks") => {
            let (rss, vm) = idle_tasks();
            println!("{rss} {vm}");
            return;
        }
        Ok("threads") => {
            let (rss, vm) = idle_threads();
            println!("{rss} {vm}");
            return;
        }
        _ => {}
    }

    let per_unit = |kib: u64| kib as f64 * 1024.0 / UNITS as f64;
    let (tasks, threads) = match (measure_in_child("tasks"), measure_in_child("threads")) {
        (Ok(tasks), Ok(threads)) => (tasks, threads),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("idle_memory: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "idle_memory: {UNITS} idle units of each kind, each kind in a fresh process (Linux, /proc/self/status)"
    );
    println!(
        "  tokio task: RSS +{} KiB = {:.0} bytes per task (address space +{} KiB)",
        tasks.0,
        per_unit(tasks.0),
        tasks.1
    );
    println!(
        "  OS thread:  RSS +{} KiB = {:.0} bytes per thread (address space +{} KiB = {:.0} KiB per thread, mostly reserved stack)",
        threads.0,
        per_unit(threads.0),
        threads.1,
        per_unit(threads.1) / 1024.0
    );
    if tasks.0 > 0 {
        println!(
            "  an idle thread is {:.1}x the resident memory of an idle task (goal: at least 10x)",
            threads.0 as f64 / tasks.0 as f64
        );
    }
}
