//! # 04 · Pause and resume, with threads: a file job you can pause between chunks, resume, or quit
//!
//! The same job as `examples-async/src/bin/04_pause_resume.rs`: five files (`users.csv`,
//! `orders.csv`, `payments.csv`, `products.csv`, `events.csv`), three chunks each, 100 ms a chunk,
//! and the commands `pause`, `resume`, `quit`, here on OS threads.
//!
//! What it shows:
//! - **Pause at a checkpoint with a `Mutex` + `Condvar`** (the seed's C++ `std::condition_variable`).
//!   Before each chunk the worker thread locks the shared state; if it says "paused", it calls
//!   `Condvar::wait_while`, which releases the lock and puts the thread to sleep in the kernel until
//!   the controller changes the state and calls `notify_all`. A paused worker **does not spin**: a
//!   test reads the worker thread's CPU time (from `/proc`) across a pause and finds it near zero.
//! - A pause takes effect at the **next chunk**, and costs the time the worker stood still.
//! - **End of input never hangs**: when no more commands can come, a paused job resumes (upstream's
//!   C++ `pause_resume.cpp` waits forever here).
//!
//! What differs from the async twin, and why:
//! - **Quit waits for the chunk in progress.** Nobody can stop a thread from outside: there is no
//!   `.await` at which to drop it. The worker sees `quit` at its next checkpoint, so quit ends the job
//!   within one chunk (the async twin drops the chunk at once).
//! - **The controller is a thread that outlives the job** (blocked in `recv` while commands may still
//!   come). The async twin aborts its controller task; here the thread ends with the process.
//! - A `Condvar` can wake a thread for no reason (a spurious wakeup): `wait_while` re-checks the
//!   condition in a loop, so the code never sees one. `watch::Receiver::wait_for` does the same.
//!
//! Where the commands come from: typed on stdin when stdin is a **terminal** (`p`, `r`, `q` + Enter;
//! Ctrl-D ends input), otherwise `--commands` (default `pause@250ms,resume@850ms`, times from the
//! start). `--commands` given on a terminal wins over typing.
//!
//! Seed: "Asynchrony" > Examples in C++, "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/pause_resume.cpp` (mutex, condition variable, hangs on end of input),
//! `src/python/asynchrony/pause_resume.py`, `src/js/asynchrony/04_pause_resume.js`.
//!
//! Run: `cargo run -p examples-threads --bin 04_pause_resume_threads < /dev/null` (the default
//! script, about 2 s). Flags: `--commands "pause@250ms,resume@850ms,quit@1200ms"`
//! (`pause`/`resume`/`quit`, or `p`/`r`/`q`, each `@` a time like `300ms` or `2s`, in order, at
//! most `3600s`); `--chunk-ms N` (default 100 with a script, 300 when typing). In a terminal
//! without `--commands`, type the commands yourself.
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] commands from the script: pause@250ms,resume@850ms
//!   0.103s  INFO [worker] users.csv: chunk 1/3 done
//!   0.203s  INFO [worker] users.csv: chunk 2/3 done
//!   0.251s  INFO [controller] command: pause
//!   0.304s  INFO [worker] users.csv: chunk 3/3 done
//!   0.304s  INFO [worker] users.csv: done
//!   0.304s  INFO [worker] paused before chunk 1 of orders.csv: asleep on the condvar (no spinning)
//!   0.851s  INFO [controller] command: resume
//!   0.851s  INFO [controller] end of input: no more commands, the job runs to the end
//!   0.851s  INFO [worker] resumed after standing still 547 ms
//!   0.951s  INFO [worker] orders.csv: chunk 1/3 done
//!   ...
//!
//! Summary
//!   chunks processed: 15/15 (5 files x 3 chunks of 100 ms)
//!   pauses: 1, stood still 547 ms: 303 ms -> 850 ms
//!   finished in 2053 ms | ideal 2047 ms (1500 ms of work + 547 ms stood still)
//! ```

use std::io::IsTerminal;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::script::{Command, Script, parse_script, read_commands};
use common::{fmt_duration, init_logging, out, parse_args};
use tracing::{info, warn};

const FILES: [&str; 5] = [
    "users.csv",
    "orders.csv",
    "payments.csv",
    "products.csv",
    "events.csv",
];
const CHUNKS_PER_FILE: usize = 3;

/// What the controller and the worker share: the state, behind a mutex, and a condition variable
/// to sleep on until the state changes.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    paused: bool,
    quit: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("nobody panics while holding the controls' lock")
    }
}

/// The commanding side of the controls.
struct Controller {
    shared: Arc<Shared>,
}

/// The job's side of the controls.
struct Controls {
    shared: Arc<Shared>,
}

fn controls() -> (Controller, Controls) {
    let shared = Arc::new(Shared::default());
    let controller = Controller {
        shared: Arc::clone(&shared),
    };
    (controller, Controls { shared })
}

impl Controller {
    fn apply(&self, command: Command) {
        info!("command: {command}");
        let mut state = self.shared.lock();
        match command {
            Command::Pause => state.paused = true,
            Command::Resume => state.paused = false,
            Command::Quit => state.quit = true,
        }
        // Release the lock before waking the worker, so it does not wake up only to wait for it.
        drop(state);
        self.shared.changed.notify_all();
    }

    fn is_paused(&self) -> bool {
        self.shared.lock().paused
    }
}

/// The job: every chunk of every file, with a checkpoint before each chunk.
fn process_files(controls: Controls, chunk_time: Duration, start: Instant) -> JobReport {
    let mut report = JobReport::new(start);
    for file in FILES {
        for chunk in 1..=CHUNKS_PER_FILE {
            // The checkpoint. Between two chunks is where a pause may land: a chunk is never left
            // half done by a pause. It is also the only place a quit can land: see the header.
            let mut state = controls.shared.lock();
            if state.quit {
                info!("quit seen before chunk {chunk} of {file}");
                return report.quit(file, chunk, false);
            }
            if state.paused {
                let from = start.elapsed();
                info!("paused before chunk {chunk} of {file}: asleep on the condvar (no spinning)");
                // Releases the lock, sleeps until `notify_all`, takes the lock back, and checks the
                // condition again (it goes back to sleep if it still holds).
                state = controls
                    .shared
                    .changed
                    .wait_while(state, |s| s.paused && !s.quit)
                    .expect("nobody panics while holding the controls' lock");
                let stood_still = report.paused(from);
                if state.quit {
                    info!("quit while paused");
                    return report.quit(file, chunk, true);
                }
                info!("resumed after standing still {}", fmt_duration(stood_still));
            }
            // Never hold the lock while working: the controller could not even record a command.
            drop(state);

            let started = start.elapsed();
            // Stands in for reading and writing one chunk of the file. Nothing can interrupt it.
            thread::sleep(chunk_time);
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
/// (Unlike the async twin's `watch` channel, a `Condvar` says nothing when its notifier goes away:
/// without this resume the worker would sleep forever.)
fn apply_commands(controller: Controller, commands: Receiver<Command>) {
    // `recv` blocks this thread until a command comes, or fails when every sender is gone.
    for command in commands {
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

/// Runs the job on a `worker` thread with its controller on a `controller` thread: commands arrive
/// on `commands`, times count from `start`.
fn run_job(
    chunk_time: Duration,
    commands: Receiver<Command>,
    start: Instant,
) -> anyhow::Result<JobReport> {
    let (controller, controls) = controls();
    // Not joined: it blocks in `recv` until the input ends, which may be never (a terminal nobody
    // types into). A thread cannot be cancelled from outside; it ends with the process.
    thread::Builder::new()
        .name("controller".into())
        .spawn(move || apply_commands(controller, commands))?;
    let worker = thread::Builder::new()
        .name("worker".into())
        .spawn(move || process_files(controls, chunk_time, start))?;
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the worker thread panicked"))
}

fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    init_logging();

    let interactive = args.commands.is_none() && std::io::stdin().is_terminal();
    let chunk_time = args.chunk_time(interactive);

    // A small bounded channel: commands are few, and a typist cannot outrun the job anyway.
    let (commands_tx, commands_rx) = sync_channel(16);
    let start = Instant::now();
    if interactive {
        info!("type p + Enter to pause, r to resume, q to quit (Ctrl-D: no more commands)");
        // Blocking reads are what a thread is for: this one blocks reading the terminal, and
        // nobody waits for it (it ends with the process if the job is done first). `send` fails
        // only when the job is over. At the end of input the thread returns and drops
        // `commands_tx`: that is how the controller learns of it.
        thread::Builder::new().name("stdin".into()).spawn(move || {
            read_commands(std::io::stdin().lock(), |c| commands_tx.send(c).is_ok())
        })?;
    } else {
        let script = args.commands.unwrap_or_else(default_script);
        info!("commands from the script: {script}");
        thread::Builder::new()
            .name("script".into())
            .spawn(move || play_script(script, start, commands_tx))?;
    }

    let report = run_job(chunk_time, commands_rx, start)?;
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
    about = "04 · Pause and resume, with threads: pause, resume and quit a chunked file job on a worker thread with a Mutex and a Condvar, without spinning",
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
fn play_script(script: Script, start: Instant, commands: SyncSender<Command>) {
    for step in script.0 {
        thread::sleep((start + step.at).saturating_duration_since(Instant::now()));
        if commands.send(step.command).is_err() {
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
    /// Quit at `at`, before chunk `chunk` of `file` (waiting there if `paused`).
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
                "after finishing the chunk in progress, before"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early,
    //! a script step never comes early), upper bounds are generous.
    use super::*;

    const CHUNK: Duration = Duration::from_millis(50);
    /// 15 chunks of 50 ms, nobody pausing: the least the job can take.
    const WORK: Duration = Duration::from_millis(750);
    /// What a busy machine may add to a run of sleeps, at most (generous).
    const SLACK: Duration = Duration::from_millis(400);

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
}
