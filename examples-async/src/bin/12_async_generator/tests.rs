//! Timings on the paused clock, exact. The file tests use the real clock (there is nothing to
//! time, and `tokio::fs` works on the blocking pool).
use super::*;
use crate::adapters::TICK;
use crate::report::{ideal_prefetched_total, ideal_streamed_total};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn all_users() -> Vec<String> {
    (1..=8).map(|n| format!("user-{n}")).collect()
}

#[tokio::test(start_paused = true)]
async fn a_stream_delivers_the_first_user_after_exactly_one_page() {
    let streamed = consume(Instant::now(), user_stream()).await;
    assert_eq!(streamed.first_arrival, PAGE_DELAY);
    assert_eq!(streamed.users, all_users());
    // Collecting first makes the first user wait for every page.
    let collected = collect_then_process().await;
    assert_eq!(collected.first_arrival, ms(3 * 150));
    assert_eq!(collected.users, all_users());
}

#[tokio::test(start_paused = true)]
async fn a_stream_alone_saves_no_time_prefetching_does() {
    let collected = collect_then_process().await;
    let streamed = consume(Instant::now(), user_stream()).await;
    let start = Instant::now();
    let (users, fetcher) = user_stream_prefetched();
    let prefetched = consume(start, users).await;
    assert_eq!(fetcher.await.expect("the fetcher does not panic"), 3);
    // 3 pages x 150 + 8 users x 40, one after another.
    assert_eq!(collected.total, ms(770));
    assert_eq!(streamed.total, ms(770));
    assert_eq!(streamed.total, ideal_streamed_total());
    // Pages 2 and 3 are fetched while pages 1 and 2 are processed: 240 ms hidden.
    assert_eq!(prefetched.total, ms(530));
    assert_eq!(prefetched.total, ideal_prefetched_total());
    assert_eq!(prefetched.first_arrival, PAGE_DELAY);
    assert_eq!(prefetched.users, all_users());
}

#[tokio::test(start_paused = true)]
async fn a_stream_is_lazy_until_polled() {
    let users = user_stream();
    sleep(ms(1000)).await;
    // Had it fetched during that second, the first user would be ready at once.
    let streamed = consume(Instant::now(), users).await;
    assert_eq!(streamed.first_arrival, PAGE_DELAY);
}

#[tokio::test(start_paused = true)]
async fn adapters_give_0_4_8_12_16_and_take_stops_the_counter() {
    let ((out, produced), took) = common::time_async(adapters()).await;
    assert_eq!(out, [0, 4, 8, 12, 16]);
    // 0..=8 doubled reach 16: nine numbers, nothing computed ahead.
    assert_eq!(produced, 9);
    assert_eq!(took, TICK * 9);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_that_stops_early_stops_the_fetcher() {
    let (users, fetcher) = user_stream_prefetched();
    let first_two: Vec<String> = users.take(2).collect().await;
    assert_eq!(first_two, ["user-1", "user-2"]);
    // `take(2)` dropped the stream (and its receiver) at 150 ms, while the fetcher was fetching
    // page 2. It finishes that page, its `send` fails, and it stops: page 3 is never fetched.
    let fetched = fetcher.await.expect("the fetcher does not panic");
    assert_eq!(fetched, 2);
}

#[tokio::test]
async fn a_file_is_read_line_by_line_and_removed() {
    let users = all_users();
    let path = TempFile::unique_path();
    let lines = file_round_trip(path.clone(), users.join("\n").as_bytes())
        .await
        .expect("temp dir is writable");
    assert_eq!(lines, users);
    assert!(!path.exists(), "{} left behind", path.display());
}

#[tokio::test]
async fn a_file_that_fails_to_read_is_removed_too() {
    // The path `main` takes: reading fails halfway (invalid UTF-8), `?` returns early, and
    // dropping the `TempFile` on the way out removes the file.
    let path = TempFile::unique_path();
    let error = file_round_trip(
        path.clone(),
        b"user-1\nuser-2\n\xff\xfe not UTF-8\nuser-4\n",
    )
    .await
    .expect_err("invalid UTF-8");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(!path.exists(), "{} left behind", path.display());
}
