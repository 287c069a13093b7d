//! One result, many readers (the seed's `std::shared_future`): `FutureExt::shared` makes a
//! clonable future; five tasks await clones, and the value is computed once.
//! Upstream: `src/cpp/asynchrony/shared_future.cpp`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use tokio::time::sleep;
use tracing::info;

/// The seed's `compute_value` for the shared result (2 s there).
pub const COMPUTE_DELAY: Duration = Duration::from_millis(300);
pub const READERS: usize = 5;

/// The seed's `std::shared_future`: five readers await one computation. Returns what each reader
/// got and how many times the value was computed.
pub async fn share_one_result() -> anyhow::Result<(Vec<i32>, usize)> {
    let computed = Arc::new(AtomicUsize::new(0));
    let counter = computed.clone();
    // `shared()` makes the future clonable (its output must be `Clone`): the first clone polled
    // drives the work, every clone gets a copy of the one result.
    let value = async move {
        counter.fetch_add(1, Ordering::SeqCst);
        info!("compute_value: computing");
        sleep(COMPUTE_DELAY).await;
        10
    }
    .shared();
    let mut readers = Vec::new();
    for i in 0..READERS {
        let value = value.clone();
        readers.push(tokio::spawn(async move {
            let v = value.await;
            info!("reader {i}: {v}");
            v
        }));
    }
    let mut values = Vec::new();
    for reader in readers {
        values.push(reader.await?);
    }
    Ok((values, computed.load(Ordering::SeqCst)))
}
