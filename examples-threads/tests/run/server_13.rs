use std::time::Duration;

use common::process::run_example;

const BIN: &str = env!("CARGO_BIN_EXE_13_async_server_threads");

#[test]
fn async_server_threads_13_demo_answers_the_burst_and_shuts_down_gracefully() {
    let run = run_example(BIN, &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "routes: GET / 200, GET /user/7 200, GET /data 200, GET /nope 404, POST / 405",
            "burst: 64 requests of 100 ms each on 16 threads took ",
            "(ideal 400 ms = 4 rounds; all at once 100 ms)",
            "requests in flight at once: at most 16 of 64 (the pool size)",
            "graceful shutdown: the in-flight GET /slow got 200 after ",
            "0 connection(s) dropped",
            "after shutdown: new connections are refused",
            " request(s), 0 error(s)",
        ]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn async_server_threads_13_rejects_bad_flags_with_exit_2() {
    for args in [
        &["--delay-ms", "soon"][..],
        &["--max-connections", "0"],
        &["--threads", "0"],
        &["bogus"],
    ] {
        let run = run_example(BIN, args);
        run.assert_code(2).assert_no_panic();
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
    }
}

/// `serve` under a real signal (the cases are written once, in the async crate's run tests).
#[cfg(unix)]
#[path = "../../../examples-async/tests/run/server_13_serve.rs"]
mod serve;
