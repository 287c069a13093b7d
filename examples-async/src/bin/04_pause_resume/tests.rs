//! On tokio's paused clock every time below is exact: the job's chunks and the script's steps
//! are timers, and time jumps from one to the next.
use super::*;
use clap::Parser;
use commands::DEFAULT_SCRIPT;
use common::script::{Script, parse_script};
use report::{Outcome, Paused};

const CHUNK: Duration = Duration::from_millis(100);
/// 15 chunks of 100 ms, nobody pausing.
const WORK: Duration = Duration::from_millis(1500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn script(text: &str) -> Script {
    parse_script(text).expect("a valid test script")
}

/// The job under `script`, as `main` runs it.
async fn run_scripted(text: &str) -> JobReport {
    let (tx, rx) = mpsc::channel(16);
    let start = Instant::now();
    tokio::spawn(play_script(script(text), start, tx));
    run_job(CHUNK, rx, start).await
}

#[tokio::test(start_paused = true)]
async fn without_commands_the_job_takes_exactly_its_work() {
    let report = run_scripted("").await;
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
    assert_eq!(report.took, WORK);
    assert!(report.pauses.is_empty());
}

#[tokio::test(start_paused = true)]
async fn pausing_between_chunks_for_d_shifts_completion_by_exactly_d() {
    // Paused before the job starts (a checkpoint: between chunks), resumed d later.
    for d in [ms(1), ms(250), ms(1000)] {
        let (controller, controls) = controls();
        controller.apply(Command::Pause);
        let start = Instant::now();
        let job = tokio::spawn(process_files(controls, CHUNK, start));
        sleep(d).await;
        controller.apply(Command::Resume);
        let report = job.await.expect("the job does not panic");
        assert_eq!(report.took, WORK + d, "paused for {d:?}");
        assert_eq!(report.pauses, [Paused { from: ms(0), to: d }]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_pause_mid_chunk_shifts_completion_by_exactly_the_time_stood_still() {
    // Pause at 250 ms (mid chunk 3), resume at 850 ms: the job stops at 300 ms, when chunk 3
    // is done, and stands still until 850 ms.
    let report = run_scripted(DEFAULT_SCRIPT).await;
    assert_eq!(
        report.pauses,
        [Paused {
            from: ms(300),
            to: ms(850)
        }]
    );
    assert_eq!(report.took, WORK + ms(850 - 300));
    assert_eq!(report.took, WORK + report.stood_still());
    assert_eq!(report.chunks.len(), 15);
}

#[tokio::test(start_paused = true)]
async fn a_pause_takes_effect_at_the_next_chunk_not_the_next_file() {
    // Pause at 150 ms, in chunk 2 of users.csv; resume at 700 ms.
    let report = run_scripted("pause@150ms,resume@700ms").await;
    let users: Vec<_> = report
        .chunks
        .iter()
        .filter(|c| c.file == "users.csv")
        .collect();
    // The chunk in progress is finished (a pause never cuts a chunk) ...
    assert_eq!((users[1].chunk, users[1].finished), (2, ms(200)));
    // ... and the very next chunk, still in the same file, waits for the resume.
    assert_eq!((users[2].chunk, users[2].started), (3, ms(700)));
    assert_eq!(report.took, WORK + ms(500));
}

#[tokio::test(start_paused = true)]
async fn quit_ends_the_job_at_once_within_the_chunk_in_progress() {
    // 450 ms: chunk 5 (orders.csv, chunk 2) started at 400 ms.
    let report = run_scripted("quit@450ms").await;
    assert_eq!(
        report.outcome,
        Outcome::Quit {
            at: ms(450),
            file: "orders.csv",
            chunk: 2,
            paused: false
        }
    );
    assert_eq!(report.took, ms(450));
    assert_eq!(
        report.chunks.len(),
        4,
        "the interrupted chunk is not counted"
    );
}

#[tokio::test(start_paused = true)]
async fn quit_wakes_a_paused_job() {
    let report = run_scripted("pause@250ms,quit@900ms").await;
    assert_eq!(
        report.outcome,
        Outcome::Quit {
            at: ms(900),
            file: "orders.csv",
            chunk: 1,
            paused: true
        }
    );
    assert_eq!(report.chunks.len(), 3);
    assert_eq!(
        report.pauses,
        [Paused {
            from: ms(300),
            to: ms(900)
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_script_that_ends_paused_resumes_instead_of_hanging() {
    // Nobody will ever say resume: the end of the script resumes the job. The timeout turns a
    // hang into a failure (on the paused clock it fires as soon as nothing else can happen).
    let report = tokio::time::timeout(Duration::from_secs(60), run_scripted("pause@250ms"))
        .await
        .expect("the job must not hang");
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
    assert_eq!(report.took, WORK, "the pause was lifted at once");
}

#[tokio::test(start_paused = true)]
async fn end_of_input_while_paused_resumes_the_job_before_the_controller_goes() {
    let (controller, mut controls) = controls();
    let (tx, rx) = mpsc::channel(16);
    tx.send(Command::Pause).await.expect("the channel is open");
    drop(tx); // the end of input
    apply_commands(controller, rx).await;
    // The controller is gone. A job waiting for "running" must find it set, not a closed
    // channel: `Err` here would mean the job carries on only because the sender was dropped,
    // by luck, with the controls still saying "paused".
    let running = controls.running.wait_for(|running| *running).await;
    assert!(running.is_ok(), "the controller left the job paused");
}

/// Feeds `input` through `read_commands` (all of it, up to end of input) before the job starts,
/// then runs the job on a paused clock. Reading first makes the test deterministic: a reader
/// thread racing the paused clock would not be.
fn job_with_typed_input(input: &[u8]) -> JobReport {
    let (tx, rx) = mpsc::channel(16);
    read_commands(input, |c| tx.blocking_send(c).is_ok());
    drop(tx); // the end of input, as when the reader thread returns
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), run_job(CHUNK, rx, Instant::now()))
            .await
            .expect("the job must not hang")
    })
}

#[test]
fn an_empty_or_closed_stdin_neither_hangs_nor_crashes() {
    let report = job_with_typed_input(b"");
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.took, WORK);
}

#[test]
fn a_typed_pause_past_garbage_reaches_the_job_and_then_the_input_ends() {
    // What `main`'s stdin thread sends: the `p` after a line that is not even text still gets
    // through, then the channel closes (the end of input that resumes the job, tested above).
    let (tx, mut rx) = mpsc::channel(16);
    read_commands(&b"\n  nonsense \n\xff\xfe\np\n"[..], |c| {
        tx.blocking_send(c).is_ok()
    });
    drop(tx);
    assert_eq!(rx.blocking_recv(), Some(Command::Pause));
    assert_eq!(rx.blocking_recv(), None);
    // And the job it drives finishes, all chunks, never stuck.
    let report = job_with_typed_input(b"\n  nonsense \n\xff\xfe\np\n");
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
}

#[test]
fn typed_quit_stops_the_job() {
    let report = job_with_typed_input(b"p\nq\n");
    assert!(matches!(report.outcome, Outcome::Quit { .. }), "{report:?}");
}

#[test]
fn the_default_script_parses_and_prints_back() {
    assert_eq!(default_script().to_string(), DEFAULT_SCRIPT);
}

#[test]
fn flags_parse_and_a_huge_time_is_refused_before_anything_runs() {
    let args = Args::try_parse_from(["04", "--commands", "p@1s,r@2s"]).expect("valid flags");
    assert_eq!(
        args.commands.map(|s| s.to_string()).as_deref(),
        Some("pause@1000ms,resume@2000ms")
    );
    let err = Args::try_parse_from(["04", "--commands", "pause@18446744073709551615s"])
        .expect_err("a time that would overflow the clock");
    assert_eq!(err.exit_code(), 2);
}
