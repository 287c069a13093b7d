//! The framing: what `tokio_util::codec::LinesCodec::new_with_max_length` does for the async twin,
//! written out over a blocking `TcpStream`. Same rules, so the two binaries interoperate: a line ends
//! at `\n` (a `\r` before it is dropped), is at most [`MAX_LINE`] bytes, must be UTF-8, and bytes
//! left when the peer closes count as a last line.
//!
//! The timeout is a deadline for the whole line, not per `read` call: with `set_read_timeout` alone
//! a peer trickling one byte a second would never time out.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::protocol::{MAX_LINE, Message};

/// A peer that does not read what we send cannot block us for longer than this (our messages are a
/// few bytes, so in practice a write never waits).
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why no line could be read.
#[derive(Debug)]
pub enum LineError {
    TimedOut,
    TooLong,
    NotUtf8,
    Io(io::Error),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::TimedOut => write!(f, "timed out"),
            LineError::TooLong => write!(f, "a line longer than {MAX_LINE} bytes"),
            LineError::NotUtf8 => write!(f, "bytes that are not UTF-8 text"),
            LineError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// One connection, read and written a line at a time.
pub struct Lines {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Lines {
    pub fn new(stream: TcpStream) -> io::Result<Self> {
        // Two handles on one socket: the reader keeps its buffer, the writer writes directly.
        let writer = stream.try_clone()?;
        writer.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        let line = format!("{message}\n");
        self.writer.write_all(line.as_bytes())
    }

    /// The next line, `None` if the peer closed first; waits at most `limit` (`None`: for ever).
    pub fn next_line(&mut self, limit: Option<Duration>) -> Result<Option<String>, LineError> {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut line = Vec::new();
        loop {
            let timeout = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(LineError::TimedOut),
                },
                None => None,
            };
            self.reader
                .get_ref()
                .set_read_timeout(timeout)
                .map_err(LineError::Io)?;
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(LineError::TimedOut);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LineError::Io(e)),
            };
            if available.is_empty() {
                // The peer closed. Like `LinesCodec`, a last unterminated line still counts.
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&available[..i]);
                    self.reader.consume(i + 1);
                    break;
                }
                None => {
                    let n = available.len();
                    line.extend_from_slice(available);
                    self.reader.consume(n);
                }
            }
            // Checked as bytes arrive, so a peer that never sends `\n` cannot grow `line` far.
            if line.len() > MAX_LINE {
                return Err(LineError::TooLong);
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > MAX_LINE {
            return Err(LineError::TooLong);
        }
        String::from_utf8(line)
            .map(Some)
            .map_err(|_| LineError::NotUtf8)
    }
}
