//! Step 7: cancellation safety in a `select!` loop (the lesson few examples show). A writer sends
//! 10 lines, each in two pieces 15 ms apart; the reader loops on `select!` between reading a line
//! and a 20 ms ticker. `read_line` is *not cancel safe*: when the tick wins, the future is dropped
//! with the half line it had read, and the rest arrives as a fragment. Counted: 7 of 10 lines lost
//! on the exact schedule (the paused clock; on the real clock the count drifts with the timers,
//! which is why this bug is rare in tests and common in production). The fixes lose 0: keep **one
//! read future across turns** (poll it by `&mut`, make a new one only when it completes), or use a
//! **cancel-safe API** (`Lines::next_line`, which keeps a partial line in the reader, not in the
//! future). `biased;` polls the branches in order (data first, then the tick) instead of at random,
//! so a tie always goes to the data and a run is reproducible; it does not make a branch cancel
//! safe: a tick that comes while the line is incomplete wins either way (without it the exact
//! schedule still loses 7).
//!
//! The three loops come first; the writer, the schedule and the figures follow.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::time::{interval, sleep};
use tracing::info;

use crate::ms;

pub(crate) async fn read_lines_against_a_ticker(how: LineReader) -> io::Result<LinesFigures> {
    let (ours, theirs) = tokio::io::duplex(64);
    let writer = tokio::spawn(send_lines_in_pieces(theirs));
    let mut reader = BufReader::new(ours);
    // The other branch: a status tick, a heartbeat, a shutdown check; anything that can win.
    let mut ticker = interval(TICK);
    let mut received = Vec::new();
    let mut ticks = 0;
    let mut got = |line: String| {
        if !line.starts_with("reading-") {
            info!(
                "{}: got {line:?}, a fragment: its first half was lost",
                how.label()
            );
        }
        received.push(line);
    };
    match how {
        LineReader::NewFutureEachTurn => loop {
            let mut line = String::new();
            tokio::select! {
                // Data first, then the tick, every time: a fixed order keeps the run reproducible
                // (without `biased;`, select! picks a random ready branch). It does not save the
                // read: when the tick is ready and the line is not, the tick wins either way.
                biased;
                read = reader.read_line(&mut line) => match read? {
                    0 => break,
                    _ => got(line.trim_end().to_owned()),
                },
                // Here the `read_line` future is dropped with the half line it had taken out of
                // the reader's buffer: those bytes are gone.
                _ = ticker.tick() => ticks += 1,
            }
        },
        LineReader::SameFutureKept => {
            let mut pending = Box::pin(read_one_line(reader));
            loop {
                tokio::select! {
                    biased;
                    // `&mut pending`: select! polls the future without owning it, so losing to
                    // the tick drops only the borrow; the half line stays inside the future.
                    (back, read) = &mut pending => match read? {
                        None => break,
                        Some(line) => {
                            got(line);
                            pending = Box::pin(read_one_line(back));
                        }
                    },
                    _ = ticker.tick() => ticks += 1,
                }
            }
        }
        LineReader::CancelSafeLines => {
            // `Lines` keeps a partial line in itself, not in the `next_line` future, so dropping
            // that future loses nothing.
            let mut lines = reader.lines();
            loop {
                tokio::select! {
                    biased;
                    line = lines.next_line() => match line? {
                        None => break,
                        Some(line) => got(line),
                    },
                    _ = ticker.tick() => ticks += 1,
                }
            }
        }
    }
    writer.await.map_err(io::Error::other)??;
    Ok(LinesFigures {
        reader: how,
        received,
        ticks,
    })
}

pub(crate) async fn demo_cancellation_safety() -> io::Result<Vec<LinesFigures>> {
    info!("--- 7. select! in a loop: a line read against a 20 ms ticker, three ways at once ---");
    // Side by side: each has its own pipe, writer and ticker, so they do not disturb each other.
    let [lossy, kept, cancel_safe] = LineReader::ALL;
    let (lossy, kept, cancel_safe) = tokio::join!(
        read_lines_against_a_ticker(lossy),
        read_lines_against_a_ticker(kept),
        read_lines_against_a_ticker(cancel_safe),
    );
    let runs = vec![lossy?, kept?, cancel_safe?];
    for run in &runs {
        info!(
            "{}: {}/{LINES} lines intact, {} ticks",
            run.reader.label(),
            run.intact(),
            run.ticks
        );
    }
    Ok(runs)
}

/// Reads one line and gives the reader back with it: a future that owns everything it needs, so
/// it can be kept in a variable across turns of the loop.
pub(crate) async fn read_one_line(
    mut reader: BufReader<DuplexStream>,
) -> (BufReader<DuplexStream>, io::Result<Option<String>>) {
    let mut line = String::new();
    let read = reader.read_line(&mut line).await;
    let line = read.map(|n| (n > 0).then(|| line.trim_end().to_owned()));
    (reader, line)
}

pub(crate) const LINES: usize = 10;
/// The writer starts 3 ms in, so no piece lands on the same instant as a tick.
pub(crate) const WRITER_START: Duration = ms(3);
/// Between the two pieces of a line: the window in which a tick finds a half line.
pub(crate) const PIECE_GAP: Duration = ms(15);
pub(crate) const LINE_GAP: Duration = ms(10);
pub(crate) const TICK: Duration = ms(20);

pub(crate) fn expected_line(i: usize) -> String {
    format!("reading-{i:02}")
}

/// Sends `LINES` lines, each as `"reading-"` then, 15 ms later, `"07\n"`: what a slow network
/// or a serial port does to a line-based protocol. Dropping the writer ends the stream.
pub(crate) async fn send_lines_in_pieces(mut writer: DuplexStream) -> io::Result<()> {
    sleep(WRITER_START).await;
    for i in 0..LINES {
        writer.write_all(b"reading-").await?;
        sleep(PIECE_GAP).await;
        writer.write_all(format!("{i:02}\n").as_bytes()).await?;
        sleep(LINE_GAP).await;
    }
    Ok(())
}

/// The lines a tick splits on the exact schedule: a tick falls strictly between their two pieces.
/// On the paused clock the lossy loop loses exactly these; on the real clock timers drift a little
/// at every sleep, so the count varies from run to run.
pub(crate) fn lines_a_tick_splits() -> Vec<usize> {
    let ticks_ms = |from: Duration, to: Duration| {
        let tick = TICK.as_millis();
        (from.as_millis() / tick + 1..)
            .map(move |m| m * tick)
            .take_while(move |&t| t < to.as_millis())
    };
    (0..LINES)
        .filter(|&k| {
            let first = WRITER_START + (PIECE_GAP + LINE_GAP) * k as u32;
            ticks_ms(first, first + PIECE_GAP).next().is_some()
        })
        .collect()
}

/// Which way the loop reads its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineReader {
    /// `read_line` called anew each turn of the loop: not cancel safe.
    NewFutureEachTurn,
    /// One `read_line` future kept across turns until it completes.
    SameFutureKept,
    /// `Lines::next_line`, documented as cancel safe.
    CancelSafeLines,
}

impl LineReader {
    pub(crate) const ALL: [LineReader; 3] = [
        LineReader::NewFutureEachTurn,
        LineReader::SameFutureKept,
        LineReader::CancelSafeLines,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            LineReader::NewFutureEachTurn => "read_line, a new future each turn (not cancel safe)",
            LineReader::SameFutureKept => "one read future kept across turns",
            LineReader::CancelSafeLines => "Lines::next_line (cancel safe)",
        }
    }
}

#[derive(Debug)]
pub(crate) struct LinesFigures {
    pub(crate) reader: LineReader,
    pub(crate) received: Vec<String>,
    pub(crate) ticks: usize,
}

impl LinesFigures {
    pub(crate) fn intact(&self) -> usize {
        (0..LINES)
            .filter(|&i| self.received.contains(&expected_line(i)))
            .count()
    }

    pub(crate) fn fragments(&self) -> usize {
        self.received
            .iter()
            .filter(|line| !line.starts_with("reading-"))
            .count()
    }
}
