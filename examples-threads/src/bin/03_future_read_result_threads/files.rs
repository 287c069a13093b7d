//! The scenario: what each download will do when its time is up (arrive with rows, get a server
//! error, or arrive as a file our parser panics on), and the errors a download *returns*.

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

/// What a download *returns* when it does not succeed: expected, handled by the caller. A thread
/// has no outside cancellation, so "I stopped because I was asked to" is one of its answers.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadError {
    Server { file: &'static str, status: u16 },
    Cancelled,
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Server { file, status } => {
                write!(f, "{file}: server returned {status}")
            }
            DownloadError::Cancelled => write!(f, "cancelled"),
        }
    }
}

impl std::error::Error for DownloadError {}
