//! Prefetching in a thread: the same iterator, with the next page fetched while this one is processed.
//!
//! A producer thread fetches the next page while the consumer processes the current one, handing
//! pages over `sync_channel(1)` (at most one page waits; a slow consumer blocks the producer instead
//! of piling up pages). The consumer iterates the receiver like any iterator. The measured saving is
//! printed next to the ideal.
//!
//! The producer is an **OS thread**, not a task: it costs a kernel thread and a stack, and it cannot
//! be cancelled from outside. It notices that the consumer is gone only when its next `send` fails,
//! after its current fetch. The async fetcher is written the same way, but it could stop sooner:
//! tokio's `Sender::closed()` is a future that completes when the receiver is dropped, so a `select!`
//! between the fetch and `closed()` would drop the fetch mid-way. std's `SyncSender` has no such
//! call, and a blocking fetch cannot be interrupted anyway.

use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use tracing::info;

use crate::{Page, fetch_page};

/// A fetcher thread runs ahead of the consumer: it fetches page n+1 as soon as page n is handed
/// over. `sync_channel(1)` bounds how far ahead it gets: when a page is already waiting, `send`
/// blocks (backpressure, as in 06_data_sharing_queue_threads). When the consumer drops the
/// iterator, `send` fails and the fetcher stops after its current page. Its handle says how many
/// pages it fetched (and carries its panic, if it had one).
///
/// Unlike `user_iter`, this one starts fetching when it is created: a spawned thread is not lazy.
pub fn user_iter_prefetched() -> anyhow::Result<(impl Iterator<Item = String>, JoinHandle<usize>)> {
    let (pages_tx, pages_rx) = mpsc::sync_channel::<Page>(1);
    let fetcher = thread::Builder::new()
        .name("page-fetcher".to_string())
        .spawn(move || {
            let mut fetched = 0;
            let mut next = Some(1);
            while let Some(number) = next {
                let page = fetch_page(number);
                fetched += 1;
                next = page.next;
                if pages_tx.send(page).is_err() {
                    info!("the consumer is gone: the fetcher stops");
                    break;
                }
            }
            fetched
        })?;
    // A `Receiver` is an iterator that ends when every sender is gone.
    let users = pages_rx.into_iter().flat_map(|page| page.users);
    Ok((users, fetcher))
}

pub fn join_fetcher(fetcher: JoinHandle<usize>) -> anyhow::Result<usize> {
    fetcher
        .join()
        .map_err(|_| anyhow::anyhow!("the page fetcher panicked"))
}
