//! # 04 · Pause and resume, with threads: a file job you can pause between chunks, resume, or quit
//!
//! The same job as `examples-async/src/bin/04_pause_resume/main.rs`: five files, three chunks each,
//! 100 ms a chunk, and the commands `pause`, `resume`, `quit` (typed, or from a script:
//! `commands.rs`), here on OS threads.
//!
//! What it shows:
//! - **Pause at a checkpoint with a `Mutex` + `Condvar`** (the seed's C++ `std::condition_variable`).
//!   Before each chunk the worker thread locks the shared state; if it says "paused", it calls
//!   `Condvar::wait_while`, which releases the lock and puts the thread to sleep in the kernel until
//!   the controller changes the state and calls `notify_all`. A paused worker **does not spin**: a
//!   test reads the worker thread's CPU time across a pause and finds it near zero.
//! - A pause takes effect at the **next chunk**, and costs the time the worker stood still.
//! - **End of input never hangs**: when no more commands can come, a paused job resumes (upstream's
//!   C++ `pause_resume.cpp` waits forever here).
//!
//! What differs from the async twin: **quit waits for the chunk in progress** (nobody can stop a
//! thread from outside: there is no `.await` at which to drop it, so the worker sees `quit` at its next
//! checkpoint); the controller is a thread that outlives the job (see `run_job`); a `Condvar` can wake
//! a thread for no reason, and `wait_while` re-checks the condition, as `watch`'s `wait_for` does.
//!
//! Seed: "Asynchrony" > Examples in C++, "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/pause_resume.cpp` (mutex, condition variable, hangs on end of input),
//! `src/python/asynchrony/pause_resume.py`, `src/js/asynchrony/04_pause_resume.js`.
//!
//! This file is the lesson: the controls, the worker, its controller, `main`. Flags and the script
//! player: `commands.rs`; what the job did and its summary: `report.rs`; proofs: `tests.rs`.
//! Run: `cargo run -p examples-threads --bin 04_pause_resume_threads < /dev/null` (about 2 s).
//! Output of a real run: `docs/output/04_pause_resume_threads.txt`.

mod commands;
mod report;

use std::io::IsTerminal;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use commands::{Args, default_script, play_script};
use common::script::{Command, read_commands};
use common::{fmt_duration, init_logging, parse_args};
use report::{JobReport, print_summary};
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

#[cfg(test)]
mod tests;
