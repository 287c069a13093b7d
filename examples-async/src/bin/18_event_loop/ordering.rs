//! # 18 · What orders tokio's tasks: no microtasks
//!
//! JavaScript's microtasks vs macrotasks have no Rust twin. There is no microtask queue: awaiting a
//! future that is already ready does not go back to the loop at all (JS always queues a microtask),
//! and tokio has one queue per worker. What orders tokio's tasks: FIFO on `current_thread`; on
//! `multi_thread` a task woken by a running task goes to that worker's **LIFO slot** and runs next;
//! `yield_now` sends a task to the back; every task has a **budget** of 128 resource operations per
//! poll, after which tokio makes it yield even if it could go on. Proven: the order `A1 A2 B1 B2
//! A3` (JS would interleave: A1 B1 A2 B2 A3), and the budget (128 receives from a ready channel).
//! Upstream: `src/js/asynchrony/18_event_loop.js` (the nextTick / microtask / macrotask order).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Two tasks. A: say 1; await three futures that are already ready; say 2; `yield_now`; say 3.
/// B: say 1; the same three ready awaits; say 2. In JS every `await` queues a microtask, so two
/// such async functions interleave at each one (A1 B1 A2 B2 A3). In Rust a ready future's `poll`
/// returns `Ready` inline and the task goes on: only `Pending` (here `yield_now`) gives the thread
/// back, and then every other ready task runs first. Returns the order of the lines.
pub async fn await_order() -> Vec<String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (name, yields) in [("A", true), ("B", false)] {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let say = |step: u32| {
                log.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(format!("{name}{step}"))
            };
            say(1);
            for _ in 0..3 {
                std::future::ready(()).await; // Ready at once: no trip through the loop
            }
            say(2);
            if yields {
                tokio::task::yield_now().await; // Pending once: the others go first
                say(3);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// A task drains a channel that holds 1000 messages, all ready, while another task waits for its
/// turn. tokio's coop budget makes the drainer yield after 128 operations in one poll, so the other
/// task runs after exactly that many receives. Returns how many the drainer had then.
pub async fn budget_yield() -> usize {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..1000 {
        let _ = tx.send(i); // the receiver is alive: cannot fail
    }
    drop(tx);
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    let drainer = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let other = tokio::spawn(async move { received.load(Ordering::SeqCst) });
    let seen = other.await.unwrap_or_default();
    let _ = drainer.await;
    seen
}

/// Expected order of [`await_order`].
pub const AWAIT_ORDER: [&str; 5] = ["A1", "A2", "B1", "B2", "A3"];
/// tokio's per-poll budget (`tokio::task::coop`).
pub const BUDGET: usize = 128;
