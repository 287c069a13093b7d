//! Where the commands come from, and the flags. No pausing is decided here.
//!
//! - Typed on stdin when stdin is a **terminal** (`p`, `r`, `q` + Enter; Ctrl-D ends input), read by
//!   a plain thread in `main`;
//! - otherwise from `--commands` (default `pause@250ms,resume@850ms`): `pause`/`resume`/`quit`, or
//!   `p`/`r`/`q`, each `@` a time like `300ms` or `2s` counted from the start, in order, at most
//!   `3600s`. `--commands` given on a terminal wins over typing. `--chunk-ms N` sets a chunk's time
//!   (default 100 with a script, 300 when typing).

use std::sync::mpsc::SyncSender;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::script::{Command, Script, parse_script};

/// One chunk with a script: short, so the demo ends in about two seconds.
pub const SCRIPTED_CHUNK: Duration = Duration::from_millis(100);
/// One chunk when a person types the commands: long enough to type `p` and Enter mid-job
/// (15 chunks: 4.5 s if nobody types anything).
pub const INTERACTIVE_CHUNK: Duration = Duration::from_millis(300);
/// The default script: pause in the middle of the third chunk, resume 600 ms later.
pub const DEFAULT_SCRIPT: &str = "pause@250ms,resume@850ms";

#[derive(Parser, Debug)]
#[command(
    about = "04 · Pause and resume, with threads: pause, resume and quit a chunked file job on a worker thread with a Mutex and a Condvar, without spinning",
    long_about = None
)]
pub struct Args {
    /// Scripted commands, times from the start (at most 3600s), e.g.
    /// "pause@250ms,resume@850ms,quit@1200ms". Used when given, and when stdin is not a terminal
    /// [default: pause@250ms,resume@850ms]
    #[arg(long, value_name = "SCRIPT", value_parser = parse_script)]
    pub commands: Option<Script>,
    /// How long one chunk takes [default: 100 with a script, 300 when typing commands]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub chunk_ms: Option<u64>,
}

impl Args {
    pub fn chunk_time(&self, interactive: bool) -> Duration {
        let default = if interactive {
            INTERACTIVE_CHUNK
        } else {
            SCRIPTED_CHUNK
        };
        self.chunk_ms.map_or(default, Duration::from_millis)
    }
}

pub fn default_script() -> Script {
    parse_script(DEFAULT_SCRIPT).expect("the built-in script parses (a test checks it)")
}

/// Sends each scripted command at its time (counted from `start`, the job's start).
pub fn play_script(script: Script, start: Instant, commands: SyncSender<Command>) {
    for step in script.0 {
        thread::sleep((start + step.at).saturating_duration_since(Instant::now()));
        if commands.send(step.command).is_err() {
            return; // the job is over and nobody listens
        }
    }
    // Dropping `commands` here is the end of input.
}
