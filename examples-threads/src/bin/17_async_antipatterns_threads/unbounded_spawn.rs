//! # 17.4 · A thread per item instead of a pool
//!
//! The twin of unbounded `tokio::spawn` (the async twin's `unbounded_spawn.rs`). 300 requests to a
//! database with 10 connections (10 ms a query): a thread each does not finish sooner (the
//! connections set the pace, about 300 ms either way); it only starts hundreds of threads that
//! wait, each with its stack and its 16 KiB request (peak threads and resident memory measured). A
//! pool of 10 workers fed by a bounded queue does the same work with 10 threads.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Requests to serve.
pub const REQUESTS: usize = 300;
/// Connections the database allows: the real limit on how fast the requests can go.
pub const CONNECTIONS: usize = 10;
/// How long one request holds a connection.
pub const QUERY: Duration = Duration::from_millis(10);
/// The bytes each request carries until it is done.
pub const REQUEST_BYTES: usize = 16 * 1024;

/// What a run of [`REQUESTS`] requests measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeReport {
    /// The most threads alive at once, counted as they start and end.
    pub peak_threads: usize,
    /// The most request bytes held at once.
    pub peak_bytes: usize,
    /// Growth of the process's resident memory (Linux), the most seen during the run.
    pub rss_growth_kib: Option<u64>,
    pub served: usize,
    pub took: Duration,
}

/// Counters shared by the requests and the threads that serve them.
#[derive(Default)]
pub struct Counters {
    pub threads: AtomicUsize,
    pub peak_threads: AtomicUsize,
    pub bytes: AtomicUsize,
    pub peak_bytes: AtomicUsize,
    pub served: AtomicUsize,
}

impl Counters {
    fn thread_started(&self) {
        let now = self.threads.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_threads.fetch_max(now, Ordering::SeqCst);
    }

    fn thread_ended(&self) {
        self.threads.fetch_sub(1, Ordering::SeqCst);
    }

    /// A request's bytes, written to so that they are really resident (zeroed memory may not be).
    fn new_request(&self) -> Vec<u8> {
        let now = self.bytes.fetch_add(REQUEST_BYTES, Ordering::SeqCst) + REQUEST_BYTES;
        self.peak_bytes.fetch_max(now, Ordering::SeqCst);
        vec![1u8; REQUEST_BYTES]
    }
}

/// The database's connections, as a bounded channel of connection numbers: `recv` takes one
/// (waiting while none is free), `send` gives it back.
pub type Pool = (
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
);

pub fn database() -> Pool {
    let (give_back, take) = crossbeam_channel::bounded(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        give_back
            .send(connection)
            .expect("room for every connection");
    }
    (give_back, take)
}

/// One request: wait for a connection, query, give it back.
pub fn serve(request: Vec<u8>, db: &Pool, counters: &Counters) {
    let connection = db.1.recv().expect("the pool outlives the requests");
    thread::sleep(QUERY);
    db.0.send(connection)
        .expect("the pool outlives the requests");
    black_box(&request);
    counters.bytes.fetch_sub(request.len(), Ordering::SeqCst);
    counters.served.fetch_add(1, Ordering::SeqCst);
}

/// The mistake: a new thread for every request, all started at once.
pub fn thread_per_request() -> ServeReport {
    measure_serving(|db, counters| {
        thread::scope(|s| {
            for _ in 0..REQUESTS {
                let request = counters.new_request();
                counters.thread_started();
                s.spawn(move || {
                    serve(request, db, counters);
                    counters.thread_ended();
                });
            }
        });
    })
}

/// The fix: as many workers as there are connections (more would only wait), fed by a bounded
/// queue, so the loop that hands out requests waits when the workers are behind.
pub fn pool_of_workers() -> ServeReport {
    measure_serving(|db, counters| {
        let (queue, requests) = crossbeam_channel::bounded::<Vec<u8>>(CONNECTIONS);
        thread::scope(|s| {
            for _ in 0..CONNECTIONS {
                let requests = requests.clone();
                counters.thread_started();
                s.spawn(move || {
                    for request in requests {
                        serve(request, db, counters);
                    }
                    counters.thread_ended();
                });
            }
            for _ in 0..REQUESTS {
                let request = counters.new_request();
                queue.send(request).expect("the workers outlive the queue");
            }
            drop(queue); // closes the queue: each worker's loop ends when it is empty
        });
    })
}

/// Runs `serve_all`, sampling the resident memory meanwhile (from this thread, every 5 ms).
pub fn measure_serving(serve_all: impl FnOnce(&Pool, &Counters) + Send) -> ServeReport {
    let db = database();
    let counters = Counters::default();
    let finished = AtomicBool::new(false);
    let rss_before = resident_kib();
    let start = Instant::now();
    let rss_peak = thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = rss_before;
            while !finished.load(Ordering::SeqCst) {
                peak = peak.max(resident_kib());
                thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        serve_all(&db, &counters);
        finished.store(true, Ordering::SeqCst);
        sampler.join().expect("the sampler does not panic")
    });
    ServeReport {
        peak_threads: counters.peak_threads.load(Ordering::SeqCst),
        peak_bytes: counters.peak_bytes.load(Ordering::SeqCst),
        rss_growth_kib: rss_before.zip(rss_peak).map(|(b, p)| p.saturating_sub(b)),
        served: counters.served.load(Ordering::SeqCst),
        took: start.elapsed(),
    }
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

    #[test]
    fn a_thread_per_request_starts_hundreds_and_a_pool_ten() {
        let pool = pool_of_workers();
        assert_eq!(pool.served, REQUESTS);
        assert_eq!(pool.peak_threads, CONNECTIONS);
        // In the workers, in the queue, and one the loop holds while it waits for room.
        assert!(
            pool.peak_bytes <= (2 * CONNECTIONS + 1) * REQUEST_BYTES,
            "{pool:?}"
        );
        let per_request = thread_per_request();
        assert_eq!(per_request.served, REQUESTS);
        // The connections finish one request a millisecond; even a slow machine starts threads
        // faster than that, so they pile up far beyond the 10 that can work.
        assert!(
            per_request.peak_threads >= 4 * CONNECTIONS,
            "{per_request:?}"
        );
        assert!(per_request.peak_bytes >= 4 * CONNECTIONS * REQUEST_BYTES);
        // Neither beats the connections: 30 rounds of 10 ms.
        for r in [&pool, &per_request] {
            assert!(r.took >= ms(300), "{r:?}");
        }
    }
}
