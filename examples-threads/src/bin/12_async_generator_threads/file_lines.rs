//! A file line by line with `std::fs` and `BufRead::lines`: the users are written to a temporary
//! file and read back; the file removes itself when dropped, also when reading fails halfway (a
//! test feeds it invalid UTF-8).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::{info, warn};

/// A file in the temporary directory that removes itself when dropped: after a normal end, an
/// early `?` return or a panic alike.
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    /// A path in the temporary directory, unique per process and per call (tests run in parallel
    /// in one process).
    pub fn unique_path() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "12_async_generator_threads-{}-{}.txt",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        std::env::temp_dir().join(name)
    }

    pub fn create(path: PathBuf, contents: &[u8]) -> std::io::Result<TempFile> {
        // Built before the write, so a failed or partial write is cleaned up too.
        let file = TempFile { path };
        std::fs::write(&file.path, contents)?;
        Ok(file)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("could not remove {}: {e}", self.path.display()),
        }
    }
}

/// Reads `path` line by line. Each `next()` of `lines()` reads only as far as the next newline, so
/// a large file never sits in memory at once. Invalid UTF-8 is an error, returned, not a panic.
pub fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    let file = std::fs::File::open(path)?;
    let mut read = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        info!("line from file: {line}");
        read.push(line);
    }
    Ok(read)
}

/// Writes `contents` to a temporary file at `path` and reads it back line by line. The file is
/// gone by the time this returns, whether it returns the lines or an error.
pub fn file_round_trip(path: PathBuf, contents: &[u8]) -> std::io::Result<Vec<String>> {
    let file = TempFile::create(path, contents)?;
    info!("wrote {} bytes to {}", contents.len(), file.path.display());
    let lines = read_lines(&file.path)?;
    Ok(lines)
    // `file` is dropped here, and on the `?` above: the file is removed either way.
}
