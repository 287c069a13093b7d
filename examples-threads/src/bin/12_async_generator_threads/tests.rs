//! Real time on a machine that may be busy: a sleep never ends early, so lower bounds are exact;
//! upper bounds leave a wide margin. "Prefetching lowers the total" is asserted against the
//! least time any run without overlap could take (770 ms), 240 ms above the prefetch ideal.
use super::*;
use crate::adapters::TICK;
use crate::report::{ideal_iterated_total, ideal_prefetched_total};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn all_users() -> Vec<String> {
    (1..=8).map(|n| format!("user-{n}")).collect()
}

#[test]
fn an_iterator_delivers_the_first_user_after_one_page_not_all() {
    let iterated = consume(Instant::now(), user_iter());
    assert!(iterated.first_arrival >= PAGE_DELAY, "{iterated:?}");
    assert!(iterated.first_arrival < ms(3 * 150), "{iterated:?}");
    assert_eq!(iterated.users, all_users());
    // Collecting first makes the first user wait for every page.
    let collected = collect_then_process();
    assert!(collected.first_arrival >= ms(3 * 150), "{collected:?}");
    assert_eq!(collected.users, all_users());
}

#[test]
fn prefetching_in_a_thread_lowers_the_total() {
    let iterated = consume(Instant::now(), user_iter());
    let (users, fetcher) = user_iter_prefetched().expect("a thread can be spawned");
    let prefetched = consume(Instant::now(), users);
    assert_eq!(join_fetcher(fetcher).expect("no panic"), 3);
    // 3 pages x 150 + 8 users x 40, one after another.
    assert!(iterated.total >= ideal_iterated_total(), "{iterated:?}");
    assert!(
        prefetched.total >= ideal_prefetched_total(),
        "{prefetched:?}"
    );
    // Below the same run without overlap (measured beside it, so a busy machine slows both): the
    // fetches really ran during the processing.
    assert!(prefetched.total < iterated.total, "{prefetched:?}");
    assert_eq!(prefetched.users, all_users());
}

#[test]
fn an_iterator_is_lazy_until_pulled() {
    let users = user_iter();
    thread::sleep(ms(500));
    // Had it fetched during that pause, the first user would be ready at once.
    let iterated = consume(Instant::now(), users);
    assert!(iterated.first_arrival >= PAGE_DELAY, "{iterated:?}");
}

#[test]
fn adapters_give_0_4_8_12_16_and_take_stops_the_counter() {
    let ((out, produced), took) = common::time(adapters);
    assert_eq!(out, [0, 4, 8, 12, 16]);
    // 0..=8 doubled reach 16: nine numbers, nothing computed ahead.
    assert_eq!(produced, 9);
    assert!(took >= TICK * 9, "{took:?}");
}

#[test]
fn a_consumer_that_stops_early_stops_the_fetcher() {
    let (users, fetcher) = user_iter_prefetched().expect("a thread can be spawned");
    let first_two: Vec<String> = users.take(2).collect();
    assert_eq!(first_two, ["user-1", "user-2"]);
    // `take(2)` dropped the iterator (and its receiver) right after page 1 arrived, while the
    // fetcher was fetching page 2. It finishes that page, its `send` fails, and it stops.
    assert_eq!(join_fetcher(fetcher).expect("no panic"), 2);
}

#[test]
fn a_file_is_read_line_by_line_and_removed() {
    let users = all_users();
    let path = TempFile::unique_path();
    let lines =
        file_round_trip(path.clone(), users.join("\n").as_bytes()).expect("temp dir is writable");
    assert_eq!(lines, users);
    assert!(!path.exists(), "{} left behind", path.display());
}

#[test]
fn a_file_that_fails_to_read_is_removed_too() {
    // The path `main` takes: reading fails halfway (invalid UTF-8), `?` returns early, and
    // dropping the `TempFile` on the way out removes the file.
    let path = TempFile::unique_path();
    let error = file_round_trip(
        path.clone(),
        b"user-1\nuser-2\n\xff\xfe not UTF-8\nuser-4\n",
    )
    .expect_err("invalid UTF-8");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(!path.exists(), "{} left behind", path.display());
}
