//! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early,
//! a script step never comes early), upper bounds are generous.
use super::*;
use clap::Parser;
use commands::DEFAULT_SCRIPT;
use common::script::{Script, parse_script};
use report::Outcome;

const CHUNK: Duration = Duration::from_millis(50);
/// 15 chunks of 50 ms, nobody pausing: the least the job can take.
const WORK: Duration = Duration::from_millis(750);
/// What a busy machine may add to a run of sleeps, at most: wide, since the lesson's claims are
/// the exact lower bounds (a pause of d shifts the end by at least d) and a busy 2-core machine may
/// wake each of 15 sleeping chunks late.
const SLACK: Duration = Duration::from_millis(1000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn script(text: &str) -> Script {
    parse_script(text).expect("a valid test script")
}

/// The job under `script` with chunks of `chunk`, as `main` runs it.
fn run_scripted(text: &str, chunk: Duration) -> JobReport {
    let (tx, rx) = sync_channel(16);
    let start = Instant::now();
    let text = script(text);
    thread::spawn(move || play_script(text, start, tx));
    run_job(chunk, rx, start).expect("the worker does not panic")
}

#[test]
fn without_commands_the_job_takes_its_work() {
    let report = run_scripted("", CHUNK);
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
    assert!(
        report.took >= WORK && report.took < WORK + SLACK,
        "{report:?}"
    );
    assert!(report.pauses.is_empty());
}

#[test]
fn pausing_between_chunks_for_d_shifts_completion_by_d() {
    // Paused before the job starts (a checkpoint: between chunks), resumed d later.
    let d = ms(300);
    let (controller, controls) = controls();
    controller.apply(Command::Pause);
    let start = Instant::now();
    let job = thread::spawn(move || process_files(controls, CHUNK, start));
    thread::sleep(d);
    controller.apply(Command::Resume);
    let report = job.join().expect("the job does not panic");
    assert!(report.took >= WORK + d, "{report:?}");
    assert!(report.took < WORK + d + SLACK, "{report:?}");
    assert_eq!(report.pauses.len(), 1);
    assert!(report.pauses[0].to >= d, "{report:?}");
}

#[test]
fn a_pause_takes_effect_at_the_next_chunk_not_the_next_file() {
    // Pause at 150 ms, in chunk 2 of users.csv (100..200 ms, or chunk 1 on a slow machine);
    // resume at 500 ms.
    let chunk = ms(100);
    let report = run_scripted("pause@150ms,resume@500ms", chunk);
    assert_eq!(report.pauses.len(), 1, "{report:?}");
    // The first chunk that waited for the resume ...
    let waited = report
        .chunks
        .iter()
        .position(|c| c.started >= ms(500))
        .expect("chunks ran after the resume");
    assert!(
        waited >= 1,
        "the job had started before the pause: {report:?}"
    );
    // ... followed a chunk that was finished, not cut, well before the resume ...
    assert!(report.chunks[waited - 1].finished < ms(500), "{report:?}");
    // ... and is still in the same file: the pause did not wait for the end of users.csv.
    let next = &report.chunks[waited];
    assert_eq!(next.file, "users.csv", "{report:?}");
    assert!(next.chunk > 1, "{report:?}");
    assert_eq!(report.chunks.len(), 15);
    assert!(
        report.took >= ms(500) + chunk * (15 - waited as u32),
        "{report:?}"
    );
}

#[test]
fn quit_ends_the_job_within_one_chunk() {
    let chunk = ms(100);
    let report = run_scripted("quit@250ms", chunk);
    let Outcome::Quit { at, paused, .. } = report.outcome else {
        panic!("not quit: {report:?}");
    };
    assert!(!paused);
    assert!(at >= ms(250) && at < ms(250) + chunk + SLACK, "{report:?}");
    assert!(report.chunks.len() <= 3, "{report:?}");
}

#[test]
fn quit_wakes_a_paused_worker() {
    let report = run_scripted("pause@50ms,quit@300ms", ms(100));
    let Outcome::Quit { at, paused, .. } = report.outcome else {
        panic!("not quit: {report:?}");
    };
    assert!(paused, "{report:?}");
    assert!(at >= ms(300) && at < ms(300) + SLACK, "{report:?}");
    assert_eq!(report.pauses.len(), 1);
}

#[test]
fn a_script_that_ends_paused_resumes_instead_of_hanging() {
    let report = within_deadline(|| run_scripted("pause@60ms", CHUNK));
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
    assert!(
        report.took < WORK + SLACK,
        "the pause was lifted at once: {report:?}"
    );
}

#[test]
fn end_of_input_while_paused_resumes_the_job_before_the_controller_goes() {
    let (controller, controls) = controls();
    let (tx, rx) = sync_channel(16);
    tx.send(Command::Pause).expect("the channel is open");
    drop(tx); // the end of input
    apply_commands(controller, rx);
    // The controller is gone; a `Condvar` does not tell: the state must say "running".
    assert!(
        !controls.shared.lock().paused,
        "the controller left the job paused"
    );
    // And a worker paused at its checkpoint is woken by it, within a deadline.
    let (controller, controls) = self::controls();
    controller.apply(Command::Pause);
    let (tx, rx) = sync_channel(16);
    let job = thread::spawn(move || process_files(controls, ms(1), Instant::now()));
    thread::sleep(ms(50)); // the worker reaches its first checkpoint and sleeps there
    drop(tx);
    apply_commands(controller, rx);
    let report = within_deadline(move || job.join().expect("the job does not panic"));
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.pauses.len(), 1, "{report:?}");
}

/// Runs `f` on a thread and fails the test if it takes more than 10 s: a worker asleep on a
/// condvar nobody will notify would otherwise hang the test run instead of failing it.
fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the job hangs: nobody resumed it")
}

/// Feeds `input` through `read_commands` (all of it, up to end of input), then runs the job.
fn job_with_typed_input(input: &'static [u8]) -> JobReport {
    within_deadline(move || {
        let (tx, rx) = sync_channel(16);
        read_commands(input, |c| tx.send(c).is_ok());
        drop(tx); // the end of input, as when the reader thread returns
        run_job(CHUNK, rx, Instant::now()).expect("the worker does not panic")
    })
}

#[test]
fn an_empty_or_closed_stdin_neither_hangs_nor_crashes() {
    let report = job_with_typed_input(b"");
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.chunks.len(), 15);
}

#[test]
fn a_typed_pause_past_garbage_reaches_the_job_and_then_the_input_ends() {
    // What `main`'s stdin thread sends: the `p` after a line that is not even text still gets
    // through, then the channel closes (the end of input that resumes the job, tested above).
    let (tx, rx) = sync_channel(16);
    read_commands(&b"\n  nonsense \n\xff\xfe\np\n"[..], |c| tx.send(c).is_ok());
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [Command::Pause]);
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

/// CPU time of one thread (`common::timing::thread_cpu_time`): one thread and not the whole
/// process, since the other tests of this binary run at the same time, and a failing one prints
/// a backtrace, which costs CPU that is not the worker's.
#[cfg(target_os = "linux")]
fn thread_cpu_time(tid: &str) -> Duration {
    common::timing::thread_cpu_time(tid).expect("/proc is mounted on Linux")
}

#[cfg(target_os = "linux")]
fn current_tid() -> String {
    common::timing::current_tid().expect("/proc is mounted on Linux")
}

#[cfg(target_os = "linux")]
#[test]
fn a_paused_worker_sleeps_on_the_condvar_and_uses_no_cpu() {
    const PAUSE: Duration = Duration::from_millis(600);
    let (controller, controls) = controls();
    controller.apply(Command::Pause);
    let start = Instant::now();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let job = thread::spawn(move || {
        tid_tx.send(current_tid()).expect("the test waits for it");
        process_files(controls, ms(5), start)
    });
    let tid = tid_rx.recv().expect("the worker says who it is");
    // Give the worker time to reach its first checkpoint and go to sleep.
    thread::sleep(ms(100));

    let before = thread_cpu_time(&tid);
    thread::sleep(PAUSE);
    let used = thread_cpu_time(&tid) - before;

    controller.apply(Command::Resume);
    let report = job.join().expect("the job does not panic");
    assert_eq!(report.chunks.len(), 15);
    assert_eq!(report.pauses.len(), 1);
    assert!(report.pauses[0].to >= ms(100) + PAUSE, "{report:?}");
    // A worker that checked the flag in a loop would burn most of a core for 600 ms (even one
    // that yields between checks: a busy machine still hands it its share). One asleep on the
    // condvar is not scheduled at all: 0 ticks, 10 ms at most at the edges of the window.
    assert!(
        used < PAUSE / 10,
        "the paused worker used {used:?} of CPU during a {PAUSE:?} pause"
    );
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
