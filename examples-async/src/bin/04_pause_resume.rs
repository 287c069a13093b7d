//! # 04 · Pause and resume: a file job you can pause between chunks, resume, or quit
//!
//! A job processes five files (`users.csv`, `orders.csv`, `payments.csv`, `products.csv`,
//! `events.csv`), three chunks each, 100 ms a chunk (upstream: 0.7 s). While it works, commands
//! arrive: `pause`, `resume`, `quit`.
//!
//! What it shows:
//! - **Pause at a checkpoint, without polling.** Before each chunk the job looks at a
//!   `tokio::sync::watch<bool>` ("may I run?"). When it says no, the job awaits
//!   `watch::Receiver::wait_for`: the task sleeps until the value changes, no timer, no loop asking
//!   "may I run yet?" every few milliseconds. A pause takes effect at the **next chunk**, not at the
//!   next file (upstream checks only before each file, so its pause lands up to three chunks late).
//! - **A pause costs exactly the time the job stood still.** The job finishes at
//!   work + paused time: `finished in 2050 ms | ideal 2050 ms (1500 ms of work + 550 ms stood still)`.
//! - **Quit with a `CancellationToken`** (`tokio_util::sync`). The job `select!`s on
//!   `token.cancelled()` at each chunk and while paused, so quit ends it at once: the chunk in
//!   progress is dropped at its `.await` (cancelling an async task = dropping its future).
//! - **End of input never hangs.** When no more commands can come (the script is over, or stdin
//!   hit end of file), a paused job resumes: nobody could ever resume it otherwise. Upstream hangs
//!   here (C++ waits forever on end of file) or crashes (Python's `input()` raises `EOFError`).
//!
//! Where the commands come from:
//! - typed on stdin when stdin is a **terminal** (`p`, `r`, `q` + Enter; Ctrl-D ends input),
//!   read by a plain thread (see `main` for why not `tokio::io::stdin`);
//! - otherwise from `--commands` (default `pause@250ms,resume@850ms`): times count from the start.
//!   `--commands` given on a terminal wins over typing.
//!
//! Seed: "Asynchrony" > Async Functions and Traditional Coroutines ("functions that can pause and
//! resume"). Upstream: `src/python/asynchrony/pause_resume.py` (`asyncio.Event` checked per file,
//! `input()` in a thread), `src/js/asynchrony/04_pause_resume.js` (a paused `setInterval`),
//! `src/cpp/asynchrony/pause_resume.cpp` (condition variable, hangs on end of input).
//! Threads twin: `examples-threads/src/bin/04_pause_resume_threads.rs` (`Mutex` + `Condvar`).
//!
//! Run: `cargo run -p examples-async --bin 04_pause_resume < /dev/null` (the default script, about
//! 2 s). Flags: `--commands "pause@250ms,resume@850ms,quit@1200ms"` (`pause`/`resume`/`quit`, or
//! `p`/`r`/`q`, each `@` a time like `300ms` or `2s`, in order, at most `3600s`); `--chunk-ms N`
//! (default 100 with a script, 300 when typing). In a terminal without `--commands`, type the
//! commands yourself.
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] commands from the script: pause@250ms,resume@850ms
//!   0.106s  INFO [main] users.csv: chunk 1/3 done
//!   0.210s  INFO [main] users.csv: chunk 2/3 done
//!   0.252s  INFO [main] command: pause
//!   0.311s  INFO [main] users.csv: chunk 3/3 done
//!   0.311s  INFO [main] users.csv: done
//!   0.311s  INFO [main] paused before chunk 1 of orders.csv: waiting for resume (no polling)
//!   0.851s  INFO [main] command: resume
//!   0.851s  INFO [main] end of input: no more commands, the job runs to the end
//!   0.852s  INFO [main] resumed after standing still 540 ms
//!   0.952s  INFO [main] orders.csv: chunk 1/3 done
//!   ...
//!
//! Summary
//!   chunks processed: 15/15 (5 files x 3 chunks of 100 ms)
//!   pauses: 1, stood still 540 ms: 311 ms -> 851 ms
//!   finished in 2085 ms | ideal 2040 ms (1500 ms of work + 540 ms stood still)
//! ```

use std::io::IsTerminal;
use std::time::Duration;

use clap::Parser;
use common::script::{Command, Script, parse_script, read_commands};
use common::{fmt_duration, init_logging, out, parse_args};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

const FILES: [&str; 5] = [
    "users.csv",
    "orders.csv",
    "payments.csv",
    "products.csv",
    "events.csv",
];
const CHUNKS_PER_FILE: usize = 3;

/// The commanding side of the controls.
///
/// `running` is a `watch` channel: it holds one value ("may the job run?") that the job can read at
/// any time and await a change of. That is the whole pause mechanism: no flag polled in a loop.
/// `quit` is a `CancellationToken`: cancelled once, seen by everyone who holds a clone, for good.
struct Controller {
    running: watch::Sender<bool>,
    quit: CancellationToken,
}

/// The job's side of the controls.
struct Controls {
    running: watch::Receiver<bool>,
    quit: CancellationToken,
}

fn controls() -> (Controller, Controls) {
    let (running_tx, running_rx) = watch::channel(true);
    let quit = CancellationToken::new();
    let controller = Controller {
        running: running_tx,
        quit: quit.clone(),
    };
    let controls = Controls {
        running: running_rx,
        quit,
    };
    (controller, controls)
}

impl Controller {
    fn apply(&self, command: Command) {
        info!("command: {command}");
        match command {
            // `send_replace` stores the value even if nobody listens (the job may be over), and
            // wakes whoever awaits a change.
            Command::Pause => {
                self.running.send_replace(false);
            }
            Command::Resume => {
                self.running.send_replace(true);
            }
            Command::Quit => self.quit.cancel(),
        }
    }

    fn is_paused(&self) -> bool {
        !*self.running.borrow()
    }
}

/// The job: every chunk of every file, with a checkpoint before each chunk.
async fn process_files(mut controls: Controls, chunk_time: Duration, start: Instant) -> JobReport {
    let mut report = JobReport::new(start);
    for file in FILES {
        for chunk in 1..=CHUNKS_PER_FILE {
            // The checkpoint. Between two chunks is where a pause may land: a chunk is never left
            // half done by a pause.
            if !*controls.running.borrow() {
                let from = start.elapsed();
                info!("paused before chunk {chunk} of {file}: waiting for resume (no polling)");
                // `biased`: if quit and resume are both ready, quit wins.
                tokio::select! {
                    biased;
                    _ = controls.quit.cancelled() => {
                        info!("quit while paused");
                        report.paused(from);
                        return report.quit(file, chunk, true);
                    }
                    // Sleeps until the value changes to `true`.
                    resumed = controls.running.wait_for(|running| *running) => {
                        // `Err`: the controller is gone and left the job paused. It resumes before
                        // it goes at the end of input, and after a quit the branch above wins, so
                        // this is a controller that died (panicked). Nobody can resume the job
                        // now: carrying on is the only answer that cannot hang, and it is said.
                        if resumed.is_err() {
                            warn!("the controller is gone and left the job paused: carrying on");
                        }
                    }
                }
                let stood_still = report.paused(from);
                info!("resumed after standing still {}", fmt_duration(stood_still));
            }

            let started = start.elapsed();
            tokio::select! {
                biased;
                // Quit drops the chunk in progress at its `.await`: that is how async code is
                // cancelled. The job learns of it at once, not at the next checkpoint.
                _ = controls.quit.cancelled() => {
                    info!("quit during chunk {chunk} of {file}: the chunk is dropped");
                    return report.quit(file, chunk, false);
                }
                // Stands in for reading and writing one chunk of the file.
                _ = sleep(chunk_time) => {}
            }
            info!("{file}: chunk {chunk}/{CHUNKS_PER_FILE} done");
            report.chunk_done(file, chunk, started);
        }
        info!("{file}: done");
    }
    report.finished()
}

/// Applies commands as they arrive, until the input ends or someone quits.
///
/// When the input ends while the job is paused, nobody can ever resume it: this is where upstream
/// hangs forever. Here the controller resumes the job before it goes, and the job runs to the end.
async fn apply_commands(controller: Controller, mut commands: mpsc::Receiver<Command>) {
    while let Some(command) = commands.recv().await {
        controller.apply(command);
        if command == Command::Quit {
            return;
        }
    }
    if controller.is_paused() {
        warn!("end of input while paused: no command can resume the job, so it resumes now");
        controller.apply(Command::Resume);
    } else {
        info!("end of input: no more commands, the job runs to the end");
    }
}

/// Runs the job with its controller: commands arrive on `commands`, times count from `start`.
async fn run_job(
    chunk_time: Duration,
    commands: mpsc::Receiver<Command>,
    start: Instant,
) -> JobReport {
    let (controller, controls) = controls();
    // The controller is its own task: it waits for commands while the job works, on the same
    // thread (the runtime is `current_thread`).
    let controller = tokio::spawn(apply_commands(controller, commands));
    let report = process_files(controls, chunk_time, start).await;
    // The job is over: stop listening for commands.
    controller.abort();
    report
}

// One thread: the job, its controller and the script player are tasks on `main`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    init_logging();

    let interactive = args.commands.is_none() && std::io::stdin().is_terminal();
    let chunk_time = args.chunk_time(interactive);

    // A small bounded channel: commands are few, and a typist cannot outrun the job anyway.
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let start = Instant::now();
    if interactive {
        info!("type p + Enter to pause, r to resume, q to quit (Ctrl-D: no more commands)");
        // A plain thread, on purpose: `tokio::io::stdin` also reads on a background thread, but one
        // from the runtime's blocking pool, which the runtime waits for at shutdown, and a read of
        // a terminal cannot be cancelled. The job would be done and the program would wait for an
        // Enter (upstream's Python `pause_resume.py` does just that). A thread of our own is not
        // waited for: it ends with the process. `blocking_send` is the channel's send for code
        // outside the runtime; it fails only when the job is over. When the input ends, the thread
        // returns and drops `commands_tx`: that is how the controller learns of it.
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                read_commands(std::io::stdin().lock(), |c| {
                    commands_tx.blocking_send(c).is_ok()
                })
            })?;
    } else {
        let script = args.commands.unwrap_or_else(default_script);
        info!("commands from the script: {script}");
        tokio::spawn(play_script(script, start, commands_tx));
    }

    let report = run_job(chunk_time, commands_rx, start).await;
    print_summary(&report, chunk_time);
    Ok(())
}

// ================================================================================================
// Support: flags, the script player, the job's report. No pausing is decided below this line.
// ================================================================================================

/// One chunk with a script: short, so the demo ends in about two seconds.
const SCRIPTED_CHUNK: Duration = Duration::from_millis(100);
/// One chunk when a person types the commands: long enough to type `p` and Enter mid-job
/// (15 chunks: 4.5 s if nobody types anything).
const INTERACTIVE_CHUNK: Duration = Duration::from_millis(300);
/// The default script: pause in the middle of the third chunk, resume 600 ms later.
const DEFAULT_SCRIPT: &str = "pause@250ms,resume@850ms";

#[derive(Parser, Debug)]
#[command(
    about = "04 · Pause and resume: pause, resume and quit a chunked file job with a watch channel and a CancellationToken, without polling",
    long_about = None
)]
struct Args {
    /// Scripted commands, times from the start (at most 3600s), e.g.
    /// "pause@250ms,resume@850ms,quit@1200ms". Used when given, and when stdin is not a terminal
    /// [default: pause@250ms,resume@850ms]
    #[arg(long, value_name = "SCRIPT", value_parser = parse_script)]
    commands: Option<Script>,
    /// How long one chunk takes [default: 100 with a script, 300 when typing commands]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    chunk_ms: Option<u64>,
}

impl Args {
    fn chunk_time(&self, interactive: bool) -> Duration {
        let default = if interactive {
            INTERACTIVE_CHUNK
        } else {
            SCRIPTED_CHUNK
        };
        self.chunk_ms.map_or(default, Duration::from_millis)
    }
}

fn default_script() -> Script {
    parse_script(DEFAULT_SCRIPT).expect("the built-in script parses (a test checks it)")
}

/// Sends each scripted command at its time (counted from `start`, the job's start).
async fn play_script(script: Script, start: Instant, commands: mpsc::Sender<Command>) {
    for step in script.0 {
        sleep_until(start + step.at).await;
        if commands.send(step.command).await.is_err() {
            return; // the job is over and nobody listens
        }
    }
    // Dropping `commands` here is the end of input.
}

/// A chunk that was processed, with its times from the start of the job.
#[derive(Debug, Clone, PartialEq)]
struct ChunkDone {
    file: &'static str,
    chunk: usize,
    started: Duration,
    finished: Duration,
}

/// A time the job stood still, from the start of the job.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Paused {
    from: Duration,
    to: Duration,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Finished,
    /// Quit at `at`, in (or, if `paused`, waiting before) chunk `chunk` of `file`.
    Quit {
        at: Duration,
        file: &'static str,
        chunk: usize,
        paused: bool,
    },
}

/// What the job did, recorded as it goes; times from `start`.
#[derive(Debug, Clone, PartialEq)]
struct JobReport {
    chunks: Vec<ChunkDone>,
    pauses: Vec<Paused>,
    outcome: Outcome,
    took: Duration,
    start: Instant,
}

impl JobReport {
    fn new(start: Instant) -> Self {
        JobReport {
            chunks: Vec::new(),
            pauses: Vec::new(),
            outcome: Outcome::Finished,
            took: Duration::ZERO,
            start,
        }
    }

    fn chunk_done(&mut self, file: &'static str, chunk: usize, started: Duration) {
        let finished = self.start.elapsed();
        self.chunks.push(ChunkDone {
            file,
            chunk,
            started,
            finished,
        });
    }

    /// Records a pause from `from` until now; returns how long it was.
    fn paused(&mut self, from: Duration) -> Duration {
        let to = self.start.elapsed();
        self.pauses.push(Paused { from, to });
        to - from
    }

    fn quit(mut self, file: &'static str, chunk: usize, paused: bool) -> Self {
        self.took = self.start.elapsed();
        self.outcome = Outcome::Quit {
            at: self.took,
            file,
            chunk,
            paused,
        };
        self
    }

    fn finished(mut self) -> Self {
        self.took = self.start.elapsed();
        self.outcome = Outcome::Finished;
        self
    }

    fn stood_still(&self) -> Duration {
        self.pauses.iter().map(|p| p.to - p.from).sum()
    }
}

fn print_summary(report: &JobReport, chunk_time: Duration) {
    let total_chunks = FILES.len() * CHUNKS_PER_FILE;
    let work = chunk_time * report.chunks.len() as u32;
    out!();
    out!("Summary");
    out!(
        "  chunks processed: {}/{total_chunks} ({} files x {CHUNKS_PER_FILE} chunks of {})",
        report.chunks.len(),
        FILES.len(),
        fmt_duration(chunk_time)
    );
    let spans: Vec<String> = report
        .pauses
        .iter()
        .map(|p| format!("{} -> {}", fmt_duration(p.from), fmt_duration(p.to)))
        .collect();
    out!(
        "  pauses: {}, stood still {}{}{}",
        report.pauses.len(),
        fmt_duration(report.stood_still()),
        if spans.is_empty() { "" } else { ": " },
        spans.join(", ")
    );
    match report.outcome {
        Outcome::Finished => out!(
            "  finished in {} | ideal {} ({} of work + {} stood still)",
            fmt_duration(report.took),
            fmt_duration(work + report.stood_still()),
            fmt_duration(work),
            fmt_duration(report.stood_still())
        ),
        Outcome::Quit {
            at,
            file,
            chunk,
            paused,
        } => out!(
            "  quit at {}: stopped {} chunk {chunk} of {file}",
            fmt_duration(at),
            if paused {
                "while paused before"
            } else {
                "during"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock every time below is exact: the job's chunks and the script's steps
    //! are timers, and time jumps from one to the next.
    use super::*;

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
}
