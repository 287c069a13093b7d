//! Runs every binary of this crate as a learner would: `cargo run`, no stdin, no network. Each test
//! checks the exit status and the summary lines, and kills the example if it hangs
//! (`common::process::RUN_TEST_DEADLINE`).
//!
//! One module per group of examples. `common/tests/workspace.rs` fails if a binary under `src/bin`
//! has no `#[test]` here that runs it (`run_example(env!("CARGO_BIN_EXE_<name>"), ...)`), so a new
//! example cannot be forgotten; `cli` checks every binary's `--help`, bad flags and closed stdout.

mod antipatterns_17;
mod basic_01;
mod broker_14;
mod cancellation_16;
mod cli;
mod combinators_15;
mod control_04_05;
mod debugging_21;
mod distributed_14;
mod event_loop_18;
mod fetch_09;
mod queues_06_08;
mod recorded;
mod retry_19;
mod server_13;
mod stream_20;
mod sync_10_12;
mod tasks_02_03;
mod testing_22;
