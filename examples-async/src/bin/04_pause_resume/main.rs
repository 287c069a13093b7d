//! # 04 · Pause and resume: a file job you can pause between chunks, resume, or quit
//!
//! A job processes five files (`users.csv`, `orders.csv`, `payments.csv`, `products.csv`,
//! `events.csv`), three chunks each, 100 ms a chunk (upstream: 0.7 s). While it works, commands
//! arrive: `pause`, `resume`, `quit` (typed, or from a script: `commands.rs`).
//!
//! What it shows:
//! - **Pause at a checkpoint, without polling.** Before each chunk the job looks at a
//!   `tokio::sync::watch<bool>` ("may I run?"). When it says no, the job awaits
//!   `watch::Receiver::wait_for`: the task sleeps until the value changes, no timer, no loop asking
//!   "may I run yet?". A pause takes effect at the **next chunk**, not at the next file (upstream
//!   checks only before each file, so its pause lands up to three chunks late).
//! - **A pause costs exactly the time the job stood still**: it finishes at work + paused time.
//! - **Quit with a `CancellationToken`** (`tokio_util::sync`). The job `select!`s on
//!   `token.cancelled()` at each chunk and while paused, so quit ends it at once: the chunk in
//!   progress is dropped at its `.await` (cancelling an async task = dropping its future).
//! - **End of input never hangs.** When no more commands can come, a paused job resumes: nobody could
//!   ever resume it otherwise. Upstream hangs here (C++ waits forever on end of file) or crashes
//!   (Python's `input()` raises `EOFError`).
//!
//! Seed: "Asynchrony" > Async Functions and Traditional Coroutines ("functions that can pause and
//! resume"). Upstream: `src/python/asynchrony/pause_resume.py`, `src/js/asynchrony/04_pause_resume.js`,
//! `src/cpp/asynchrony/pause_resume.cpp`. Threads twin: `examples-threads/src/bin/04_pause_resume_threads/main.rs`.
//!
//! This file is the lesson: the controls, the job, its controller, `main`. Flags and the script
//! player are in `commands.rs`, what the job did and its summary in `report.rs`, proofs in `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 04_pause_resume < /dev/null` (the default script, about
//! 2 s; `--commands "pause@250ms,resume@850ms,quit@1200ms"`, `--chunk-ms N`; see `--help`).
//! Output of a real run: `docs/output/04_pause_resume.txt`.

mod commands;
mod report;

use std::io::IsTerminal;
use std::time::Duration;

use commands::{Args, default_script, play_script};
use common::script::{Command, read_commands};
use common::{fmt_duration, init_logging, parse_args};
use report::{JobReport, print_summary};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep};
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

#[cfg(test)]
mod tests;
