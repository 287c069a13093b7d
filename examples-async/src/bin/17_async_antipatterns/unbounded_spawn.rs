//! # 17.5 · Unbounded `tokio::spawn` in a loop
//!
//! 300 requests go to a database with 10 connections (10 ms a query). Spawning one task per request
//! at once does not finish sooner (the 10 connections set the pace: 300 ms either way), it only
//! parks 290 tasks and their 16 KiB requests in memory (the runtime's task count and the process's
//! resident memory are measured). A `Semaphore` taken *before* the spawn keeps 20 in flight, for
//! the same total time. Threads twin: the same file name, a thread per request instead of a pool.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};

/// Requests to serve.
pub const REQUESTS: usize = 300;
/// Connections the database allows: the real limit on how fast the requests can go.
pub const CONNECTIONS: usize = 10;
/// How long one request holds a connection.
pub const QUERY: Duration = Duration::from_millis(10);
/// The bytes each request carries until it is done (its body, its buffers).
pub const REQUEST_BYTES: usize = 16 * 1024;
/// Requests in flight in the bounded version: the connections, plus as many waiting for one.
pub const IN_FLIGHT: usize = 2 * CONNECTIONS;

/// What a run of [`REQUESTS`] requests measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnReport {
    /// The most tasks alive at once, as the runtime counts them (`num_alive_tasks`).
    pub peak_tasks: usize,
    /// The most request bytes held at once, counted by the requests.
    pub peak_bytes: usize,
    /// Growth of the process's resident memory (Linux), the most seen during the run.
    pub rss_growth_kib: Option<u64>,
    pub served: usize,
    pub took: Duration,
}

/// Live request bytes, and their peak.
#[derive(Default)]
pub struct Held {
    pub now: AtomicUsize,
    pub peak: AtomicUsize,
    pub served: AtomicUsize,
}

/// One request: it holds its bytes from the moment it is created until it has been served.
pub async fn serve(request: Vec<u8>, db: Arc<Semaphore>, held: Arc<Held>) {
    let connection = db.acquire().await.expect("the pool is never closed");
    sleep(QUERY).await;
    drop(connection);
    black_box(&request);
    held.now.fetch_sub(request.len(), Ordering::SeqCst);
    held.served.fetch_add(1, Ordering::SeqCst);
}

/// A request's bytes, written to so that they are really resident (zeroed memory may not be).
pub fn new_request(held: &Held) -> Vec<u8> {
    let now = held.now.fetch_add(REQUEST_BYTES, Ordering::SeqCst) + REQUEST_BYTES;
    held.peak.fetch_max(now, Ordering::SeqCst);
    vec![1u8; REQUEST_BYTES]
}

/// Serves every request, spawning at most `limit` at a time (`None`: the mistake, no limit).
pub async fn serve_all(limit: Option<usize>) -> SpawnReport {
    let db = Arc::new(Semaphore::new(CONNECTIONS));
    let held = Arc::new(Held::default());
    let in_flight = limit.map(|n| Arc::new(Semaphore::new(n)));
    let metrics = tokio::runtime::Handle::current().metrics();
    let rss_before = resident_kib();
    let mut rss_peak = rss_before;
    let mut peak_tasks = 0;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(REQUESTS);
    for n in 0..REQUESTS {
        // The fix: wait for room *before* spawning, so the loop itself slows to the pace of the
        // work. (A permit taken inside the task would limit the work, not the tasks: all 300
        // would still be spawned and held.)
        let permit = match &in_flight {
            Some(limit) => Some(limit.clone().acquire_owned().await.expect("never closed")),
            None => None,
        };
        let request = new_request(&held);
        let (db, held) = (db.clone(), held.clone());
        tasks.push(tokio::spawn(async move {
            serve(request, db, held).await;
            drop(permit);
        }));
        peak_tasks = peak_tasks.max(metrics.num_alive_tasks());
        if n % 25 == 24 {
            rss_peak = rss_peak.max(resident_kib());
        }
    }
    rss_peak = rss_peak.max(resident_kib());
    for task in tasks {
        task.await.expect("a request does not panic");
    }
    SpawnReport {
        peak_tasks,
        peak_bytes: held.peak.load(Ordering::SeqCst),
        rss_growth_kib: rss_before.zip(rss_peak).map(|(b, p)| p.saturating_sub(b)),
        served: held.served.load(Ordering::SeqCst),
        took: start.elapsed(),
    }
}

/// The time the connections need for every request: rounds of [`CONNECTIONS`] queries.
pub fn ideal_serving_time() -> Duration {
    QUERY * REQUESTS.div_ceil(CONNECTIONS) as u32
}

/// The process's resident memory in KiB (`VmRSS` in `/proc/self/status`), as the idle-memory
/// benchmark reads it; `None` where there is no `/proc`.
pub fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn unbounded_spawn_piles_up_tasks_and_a_semaphore_does_not_and_neither_is_faster() {
        let unbounded = serve_all(None).await;
        assert_eq!(unbounded.served, REQUESTS);
        assert_eq!(unbounded.peak_tasks, REQUESTS);
        assert_eq!(unbounded.peak_bytes, REQUESTS * REQUEST_BYTES);
        assert_eq!(unbounded.took, ms(300));

        let bounded = serve_all(Some(IN_FLIGHT)).await;
        assert_eq!(bounded.served, REQUESTS);
        assert_eq!(bounded.peak_tasks, IN_FLIGHT);
        assert_eq!(bounded.peak_bytes, IN_FLIGHT * REQUEST_BYTES);
        assert_eq!(bounded.took, ms(300));
        assert_eq!(ideal_serving_time(), ms(300));
    }
}
