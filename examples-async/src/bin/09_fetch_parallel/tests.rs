//! These go over real loopback connections to the local server (its delays are real time), so
//! durations are checked with bounds: lower bounds from the server's delays and the timeout are
//! exact, upper bounds generous. The accounting of outcomes is exact.
use super::*;
use crate::report::Outcome;
use common::schedule;
use reqwest::StatusCode;

const TIMEOUT: Duration = Duration::from_millis(600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn local_urls(server: &TestServer) -> Vec<String> {
    LOCAL_URLS
        .iter()
        .map(|(path, _)| server.url(path))
        .collect()
}

fn outcomes(report: &Report) -> Vec<Outcome> {
    report.fetched.iter().map(|f| f.outcome.clone()).collect()
}

fn expected_outcomes() -> Vec<Outcome> {
    let ok = |bytes| Outcome::Ok {
        status: StatusCode::OK,
        bytes,
    };
    vec![
        ok(2048),
        ok(16384),
        Outcome::HttpError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            bytes: 0,
        },
        Outcome::TimedOut(TIMEOUT),
        ok(4096),
        ok(512),
    ]
}

#[tokio::test]
async fn the_500_and_the_timeout_are_counted_as_failures_both_ways() {
    let server = TestServer::start().expect("start the server");
    let client = client(true).expect("a client");
    let urls = local_urls(&server);
    let sequential = fetch_sequentially(&client, &urls, TIMEOUT).await;
    let concurrent = fetch_concurrently(&client, &urls, TIMEOUT, 3).await;
    for report in [&sequential, &concurrent] {
        assert_eq!(outcomes(report), expected_outcomes());
        assert_eq!(report.ok(), 4);
        let failed: Vec<usize> = report.failed().iter().map(|f| f.number).collect();
        assert_eq!(failed, [3, 4]);
    }
    let timed_out = &concurrent.fetched[3];
    assert!(timed_out.took >= TIMEOUT, "{:?}", timed_out.took);
}

#[tokio::test]
async fn sequential_takes_the_sum_and_concurrent_about_the_slowest_allowed_request() {
    let server = TestServer::start().expect("start the server");
    let client = client(true).expect("a client");
    let urls = local_urls(&server);
    let sum = ms(350 + 100 + 600 + 250); // the 5 s request counts for its 600 ms timeout
    let sequential = fetch_sequentially(&client, &urls, TIMEOUT).await;
    let concurrent = fetch_concurrently(&client, &urls, TIMEOUT, 3).await;
    assert!(sequential.took >= sum, "{:?}", sequential.took);
    assert_eq!(sequential.max_in_flight, 1);
    // The slowest request allowed is the one cut off at 600 ms: nothing finishes sooner...
    assert!(concurrent.took >= TIMEOUT, "{:?}", concurrent.took);
    // ...and the requests overlapped: well under the 1300 ms of one after another.
    assert!(
        concurrent.took < sum,
        "not concurrent: {:?}",
        concurrent.took
    );
    assert_eq!(concurrent.max_in_flight, 3);
}

#[tokio::test]
async fn buffer_unordered_never_has_more_than_the_limit_in_flight() {
    let server = TestServer::start().expect("start the server");
    let client = client(true).expect("a client");
    let urls: Vec<String> = (0..6).map(|_| server.url("/delay/100")).collect();
    let report = fetch_concurrently(&client, &urls, ms(5000), 2).await;
    assert_eq!(report.ok(), 6);
    assert_eq!(report.max_in_flight, 2);
    // Six 100 ms requests two at a time: three rounds. All at once would be one round.
    assert!(report.took >= ms(300), "{:?}", report.took);
}

#[tokio::test]
async fn a_closed_port_and_a_bad_url_are_reported_failures_not_panics() {
    // A port that was free a moment ago: bind it, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let client = client(true).expect("a client");
    let urls = vec![
        format!("http://{closed}/"),
        "not a url".to_string(),
        "ftp://127.0.0.1/file".to_string(),
    ];
    let report = fetch_concurrently(&client, &urls, ms(5000), 3).await;
    assert_eq!(report.ok(), 0);
    assert_eq!(report.failed().len(), 3);
    let reasons: Vec<String> = report
        .fetched
        .iter()
        .map(|f| f.outcome.to_string())
        .collect();
    assert!(reasons[0].starts_with("cannot connect"), "{reasons:?}");
    assert!(reasons[1].starts_with("bad URL"), "{reasons:?}");
    assert!(
        matches!(report.fetched[2].outcome, Outcome::Failed(_)),
        "{reasons:?}"
    );
    // And the summary does not invent a speedup.
    let lines = summary_lines(&report, &report, 3, &[ms(1); 3]);
    assert!(
        lines.iter().any(|l| l.contains("no speedup to report")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("ideal")), "{lines:?}");
}

#[test]
fn the_local_list_should_take_1300_ms_in_sequence_and_600_ms_three_at_a_time() {
    // The ideal printed beside the runs: list scheduling of the planned delays (the 5 s request
    // cut at its timeout), worked out in `common::schedule`.
    let planned: Vec<Duration> = LOCAL_URLS.iter().map(|(_, d)| (*d).min(TIMEOUT)).collect();
    assert_eq!(schedule::makespan_of_tasks(&planned, 1), ms(1300));
    assert_eq!(schedule::makespan_of_tasks(&planned, 3), ms(600));
}

#[test]
fn help_names_the_example_and_a_zero_limit_is_an_error() {
    let help = Args::try_parse_from(["09", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(
        help.to_string().starts_with("09 · Fetch in parallel"),
        "{help}"
    );
    let bad = Args::try_parse_from(["09", "--concurrency", "0"]).expect_err("out of range");
    assert_eq!(bad.exit_code(), 2);
}
