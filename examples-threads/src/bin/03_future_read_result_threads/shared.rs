//! One result, five readers (the seed's `std::shared_future`): an `Arc<OnceLock<i32>>` that all
//! five reader threads ask with `get_or_init`. The first to ask computes the value, the others block
//! until it is there, and it is computed once (counted: five readers race for it).
//!
//! Seed: "Asynchronous Data Sharing with `std::shared_future`" -> `Arc<OnceLock<T>>`.
//! Upstream: `src/cpp/asynchrony/shared_future.cpp`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use tracing::info;

/// The seed's `compute_value` for the shared result (2 s there).
pub const COMPUTE_DELAY: Duration = Duration::from_millis(300);
pub const READERS: usize = 5;

/// The seed's `std::shared_future`: five readers want one computation. Each asks the same `OnceLock`
/// with `get_or_init`: the first to ask computes the value, the others block until it is there, and
/// nobody computes it twice (as in the async twin, where the first clone polled drives the work).
/// Returns what each reader got and how many times the value was computed.
pub fn share_one_result() -> anyhow::Result<(Vec<i32>, usize)> {
    let computed = Arc::new(AtomicUsize::new(0));
    // A producer that can fail should store a `Result` (as `std::shared_future` stores the
    // exception): a panic inside `get_or_init` leaves the lock empty for the next reader to try.
    let value: Arc<OnceLock<i32>> = Arc::new(OnceLock::new());
    let mut readers = Vec::new();
    for i in 0..READERS {
        let value = value.clone();
        let computed = computed.clone();
        let reader = thread::Builder::new()
            .name(format!("reader-{i}"))
            .spawn(move || {
                let v = *value.get_or_init(|| compute_value(&computed));
                info!("reader {i}: {v}");
                v
            })?;
        readers.push(reader);
    }
    let mut values = Vec::new();
    for reader in readers {
        values.push(reader.join().map_err(|_| anyhow!("a reader panicked"))?);
    }
    Ok((values, computed.load(Ordering::SeqCst)))
}

/// The seed's `compute_value`: 10, slowly, counting its calls.
fn compute_value(computed: &AtomicUsize) -> i32 {
    computed.fetch_add(1, Ordering::SeqCst);
    info!("compute_value: computing");
    thread::sleep(COMPUTE_DELAY);
    10
}
