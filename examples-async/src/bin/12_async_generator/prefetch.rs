//! Prefetching: the same stream, with the next page fetched while this one is processed.
//!
//! Streaming alone hands out the first user sooner but takes as long in total as collecting first.
//! Prefetching is what lowers the total: a spawned task fetches the next page while the consumer
//! processes the current one, handing pages over a bounded channel of capacity 1 (at most one page
//! waits, so a slow consumer slows the fetcher instead of piling up pages). The measured saving is
//! printed next to the ideal.

use futures::stream::{self, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

use crate::{Page, fetch_page};

/// A fetcher task runs ahead of the consumer: it fetches page n+1 as soon as page n is handed
/// over. Capacity 1 bounds how far ahead it gets: when a page is already waiting, `send` waits too
/// (backpressure, as in 06_data_sharing_queue). When the consumer drops the stream, `send` fails
/// and the fetcher stops after its current page. Its handle says how many pages it fetched (and
/// would carry its panic, if it had one).
///
/// Unlike `user_stream`, this one starts fetching when it is created: a spawned task is not lazy.
pub fn user_stream_prefetched() -> (impl Stream<Item = String>, JoinHandle<usize>) {
    let (pages_tx, pages_rx) = mpsc::channel::<Page>(1);
    let fetcher = tokio::spawn(async move {
        let mut fetched = 0;
        let mut next = Some(1);
        while let Some(number) = next {
            let page = fetch_page(number).await;
            fetched += 1;
            next = page.next;
            if pages_tx.send(page).await.is_err() {
                info!("the consumer is gone: the fetcher stops");
                break;
            }
        }
        fetched
    });
    let users = stream::unfold(pages_rx, |mut pages_rx| async move {
        let page = pages_rx.recv().await?;
        Some((stream::iter(page.users), pages_rx))
    })
    .flatten();
    (users, fetcher)
}
