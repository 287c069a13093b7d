//! The framing: what `tokio_util::codec::LinesCodec::new_with_max_length` does for the async twin,
//! written out over a blocking `TcpStream`. Same rules, so the two binaries interoperate: a line ends
//! at `\n` (a `\r` before it is dropped), is at most [`MAX_LINE`] bytes, must be UTF-8, and bytes
//! left when the peer closes count as a last line.
//!
//! The timeout is a deadline for the whole line, not per `read` call: with `set_read_timeout` alone
//! a peer trickling one byte a second would never time out. A line cut by a timeout is kept, not
//! lost: the coordinator waits for a `RESULT` in slices of one heartbeat, and the next call goes on
//! where the last one stopped.
//!
//! Every socket of both roles goes through [`Lines::new`], which turns Nagle's algorithm off.

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
    writer: Sender,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
}

/// The writing half: the worker writes from one thread while another reads.
pub struct Sender(TcpStream);

impl Sender {
    /// Several messages in one `write`: lines that go together leave in one segment (see
    /// [`Lines::new`] for why that matters).
    pub fn send_all(&mut self, messages: &[Message]) -> io::Result<()> {
        let text: String = messages.iter().map(|m| format!("{m}\n")).collect();
        self.0.write_all(text.as_bytes())
    }

    /// Ends the connection both ways, which also wakes a thread blocked reading it.
    pub fn shutdown(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

impl Lines {
    pub fn new(stream: TcpStream) -> io::Result<Self> {
        // Nagle's algorithm holds back a small write while an earlier one is unacknowledged, and
        // the peer delays its ACK by up to 40 ms: every line of this protocol is a small write
        // that waits for an answer, so without this each job would pay that stall (issue 11:
        // 44 ms per job, 200 one-number jobs in 8.9 s).
        stream.set_nodelay(true)?;
        // Two handles on one socket: the reader keeps its buffer, the writer writes directly.
        let writer = stream.try_clone()?;
        writer.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer: Sender(writer),
            partial: Vec::new(),
        })
    }

    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        self.writer.send_all(std::slice::from_ref(message))
    }

    /// A second handle for writing, for a thread other than the reader's.
    pub fn sender(&self) -> io::Result<Sender> {
        Ok(Sender(self.writer.0.try_clone()?))
    }

    /// The next line, `None` if the peer closed first; waits at most `limit` (`None`: for ever).
    pub fn next_line(&mut self, limit: Option<Duration>) -> Result<Option<String>, LineError> {
        let deadline = limit.map(|l| Instant::now() + l);
        let line = &mut self.partial;
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
        let mut line = std::mem::take(line);
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
