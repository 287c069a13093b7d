//! The scenario: what each download will do when its time is up (arrive with rows, get a server
//! error, or arrive as a file our parser panics on), and the error a download *returns*.

use std::fmt;
use std::time::Duration;

/// What a download will do when it is done.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// The file arrives with this many rows.
    Rows(u32),
    /// The server answers with this error status.
    ServerError(u16),
    /// The file arrives, and our parser has a bug that panics on it.
    Corrupt,
}

#[derive(Debug, Clone, Copy)]
pub struct Download {
    pub file: &'static str,
    pub delay: Duration,
    pub plan: Plan,
}

pub const fn download_of(file: &'static str, millis: u64, plan: Plan) -> Download {
    Download {
        file,
        delay: Duration::from_millis(millis),
        plan,
    }
}

/// An error a download *returns*: expected, part of the API, handled by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    pub file: &'static str,
    pub status: u16,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: server returned {}", self.file, self.status)
    }
}

impl std::error::Error for ServerError {}
