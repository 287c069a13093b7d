//! 14's broker mode (Redis Streams) run as a user would, against a real `redis-server` that each
//! test starts on a free port and kills at the end (`common::redis_server`). Without
//! `redis-server` on PATH a test says so on one line and returns, unless `REQUIRE_REDIS=1`
//! (`.ci/run`, the GitHub workflow), where it fails.
//!
//! The cases are in `examples-async/tests/run/broker_14_cases.rs`, shared with the threads crate: this
//! file only says which binary is this crate's and which is its twin (the mix test runs both).

/// This crate's binary, and its twin from the other crate.
const BIN: &str = env!("CARGO_BIN_EXE_14_distributed_computing");
const TWIN: &str = "14_distributed_computing_threads";

#[path = "broker_14_cases.rs"]
mod cases;
