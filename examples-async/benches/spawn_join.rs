//! What it costs to start a unit of concurrent work and wait for it: spawn + join of 1, 100 and
//! 10,000 units, as tokio tasks (multi-thread and current_thread runtimes), OS threads and rayon jobs.
//!
//! The chapter says threads are heavyweight and tasks are cheap; this puts a number on it. Each unit
//! does nothing (returns its index through `black_box`), so what is measured is the machinery: for a
//! thread, a stack mapping, a kernel task and two context switches; for a task, one heap allocation
//! and a queue push; for a rayon job, a push onto a pool whose threads already exist.
//!
//! Run: `cargo bench -p examples-async --bench spawn_join` (about a minute). Per-unit figures are the
//! time of one iteration divided by n (criterion prints it as throughput, `elem/s`). The book's
//! "Measured" section lists what this machine measured.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Spawns `n` tasks, then awaits each one's `JoinHandle`.
async fn tasks(n: u64) {
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(async move { black_box(i) }))
        .collect();
    for handle in handles {
        black_box(handle.await.expect("the task does not panic"));
    }
}

/// Spawns `n` OS threads, then joins each one. (All `n` may be alive at once: 10,000 threads is
/// within Linux's defaults, `ulimit -u` and `/proc/sys/kernel/threads-max`.)
fn threads(n: u64) {
    let handles: Vec<_> = (0..n)
        .map(|i| thread::spawn(move || black_box(i)))
        .collect();
    for handle in handles {
        black_box(handle.join().expect("the thread does not panic"));
    }
}

/// Spawns `n` jobs on rayon's global pool; the scope returns when all of them have run.
fn rayon_jobs(n: u64) {
    rayon::scope(|scope| {
        for i in 0..n {
            scope.spawn(move |_| {
                black_box(i);
            });
        }
    });
}

/// `iters` rounds of [`tasks`], timed from inside a task of the runtime.
async fn timed(iters: u64, n: u64) -> Duration {
    // `block_on`'s future is not itself a task of the multi-thread runtime; spawning the loop makes
    // it one, so its children are spawned from a worker, as they are in a server.
    tokio::spawn(async move {
        let start = Instant::now();
        for _ in 0..iters {
            tasks(n).await;
        }
        start.elapsed()
    })
    .await
    .expect("the timing task does not panic")
}

fn spawn_join(c: &mut Criterion) {
    let multi_thread = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a multi-thread runtime builds");
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current_thread runtime builds");

    for n in [1u64, 100, 10_000] {
        let mut group = c.benchmark_group(format!("spawn_join_{n}"));
        // Short runs keep the whole `cargo bench` within minutes; 10,000 threads take about half a
        // second per iteration, so that size gets the minimum sample count and a longer target.
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if n >= 10_000 { 6 } else { 2 }))
            .sample_size(if n >= 10_000 { 10 } else { 20 })
            .throughput(Throughput::Elements(n));
        // The timed loop runs inside the runtime, as a task that spawns and awaits: a `block_on` per
        // iteration would add a wake-up of the calling thread to every figure, which is the cost of
        // entering the runtime, not of a task.
        group.bench_with_input(
            BenchmarkId::new("tokio_task_multi_thread", n),
            &n,
            |b, &n| b.iter_custom(|iters| multi_thread.block_on(timed(iters, n))),
        );
        group.bench_with_input(
            BenchmarkId::new("tokio_task_current_thread", n),
            &n,
            |b, &n| b.iter_custom(|iters| current_thread.block_on(timed(iters, n))),
        );
        group.bench_with_input(BenchmarkId::new("os_thread", n), &n, |b, &n| {
            b.iter(|| threads(n))
        });
        group.bench_with_input(BenchmarkId::new("rayon_job", n), &n, |b, &n| {
            b.iter(|| rayon_jobs(n))
        });
        group.finish();
    }
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
