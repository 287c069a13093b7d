//! The cost of a switch: a message bounced between two tasks vs between two threads.
//!
//! The chapter says task switches are cheaper than thread switches. Here `ping` sends a number to
//! `pong`, which sends it back, 1,000 times per iteration; every hop makes the receiver runnable and
//! the sender wait, so one round trip is two switches.
//!
//! - `tasks_current_thread`: two tasks on one thread (tokio `mpsc`): a switch is the runtime picking
//!   the next task from its queue, no kernel involved.
//! - `tasks_multi_thread`: the same two tasks on the multi-thread runtime, where they may sit on
//!   different workers (then a hop wakes a parked worker: a kernel call).
//! - `threads`: two OS threads (std `mpsc`): every hop blocks one thread in the kernel and wakes the
//!   other (a futex wait and wake, and a context switch unless the threads sit on two cores).
//!
//! Run: `cargo bench -p examples-async --bench ping_pong` (about 20 s). Criterion prints the time
//! per iteration and, as throughput, round trips per second.

use std::hint::black_box;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::sync::mpsc;

/// Round trips per iteration: enough that starting the two parties is noise beside them.
const ROUNDS: u64 = 1_000;

/// `ping` and `pong` as two spawned tasks, joined by two channels of capacity 1.
async fn tasks() {
    let (to_pong, mut pong_inbox) = mpsc::channel::<u64>(1);
    let (to_ping, mut ping_inbox) = mpsc::channel::<u64>(1);
    let pong = tokio::spawn(async move {
        while let Some(n) = pong_inbox.recv().await {
            if to_ping.send(n).await.is_err() {
                break;
            }
        }
    });
    let ping = tokio::spawn(async move {
        for n in 0..ROUNDS {
            to_pong.send(n).await.expect("pong is alive");
            black_box(ping_inbox.recv().await.expect("pong answers"));
        }
        // Dropping `to_pong` here ends pong's loop.
    });
    ping.await.expect("ping does not panic");
    pong.await.expect("pong does not panic");
}

/// The same with two threads: the bench thread plays ping, a spawned thread plays pong.
fn threads() {
    let (to_pong, pong_inbox) = std_mpsc::channel::<u64>();
    let (to_ping, ping_inbox) = std_mpsc::channel::<u64>();
    let pong = thread::spawn(move || {
        for n in pong_inbox {
            if to_ping.send(n).is_err() {
                break;
            }
        }
    });
    for n in 0..ROUNDS {
        to_pong.send(n).expect("pong is alive");
        black_box(ping_inbox.recv().expect("pong answers"));
    }
    drop(to_pong);
    pong.join().expect("pong does not panic");
}

fn ping_pong(c: &mut Criterion) {
    let multi_thread = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a multi-thread runtime builds");
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current_thread runtime builds");

    let mut group = c.benchmark_group("ping_pong_1000");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(ROUNDS));
    group.bench_function("tasks_current_thread", |b| {
        b.iter(|| current_thread.block_on(tasks()))
    });
    group.bench_function("tasks_multi_thread", |b| {
        b.iter(|| multi_thread.block_on(tasks()))
    });
    // A thread round trip is about a hundred times slower: the same sample count in linear mode
    // would take far longer than the target time, so these samples share one iteration count.
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("threads", |b| b.iter(threads));
    group.finish();
}

criterion_group!(benches, ping_pong);
criterion_main!(benches);
