//! The four runs written as files, beside the text drawing: `--svg FILE` draws them as one picture
//! (a panel per way, a lane per thread, running / blocked / free in three colours, a time axis in
//! ms; the book shows one, `docs/timelines.svg`), and `--trace-json FILE` writes the same segments
//! as Chrome trace-event JSON: open it in <https://ui.perfetto.dev> (or `chrome://tracing`) to zoom
//! into them.

use std::fs::File;
use std::path::Path;

use anyhow::Context as _;
use common::fmt_duration;
use common::timeline::{self, Segment};
use tracing::info;

use crate::{Args, Run, report};

/// The output files named on the command line, opened before the runs: a path that cannot be
/// written is reported at once, on one line, not after a second and a half of work (nor as a
/// backtrace).
pub struct Outputs<'a> {
    trace_json: Option<(&'a Path, File)>,
    svg: Option<(&'a Path, File)>,
}

impl<'a> Outputs<'a> {
    pub fn open(args: &'a Args) -> Self {
        Outputs {
            trace_json: args
                .trace_json
                .as_deref()
                .map(|p| (p, create_or_exit("--trace-json", p))),
            svg: args.svg.as_deref().map(|p| (p, create_or_exit("--svg", p))),
        }
    }

    /// Writes each file asked for: `runs` are the four ways, I to IV.
    pub fn write(self, runs: [&Run; 4], workers: usize) -> anyhow::Result<()> {
        let titles = report::titles(workers);
        if let Some((path, file)) = self.trace_json {
            let traced: Vec<(&str, &[Segment])> = titles
                .iter()
                .zip(runs)
                .map(|(t, r)| (t.as_str(), r.segments.as_slice()))
                .collect();
            let json = serde_json::to_string_pretty(&timeline::chrome_trace(&traced))
                .context("a trace is plain JSON")?;
            write_or_exit(file, "--trace-json", path, &json);
            info!(
                "wrote {} (open it in https://ui.perfetto.dev)",
                path.display()
            );
        }
        if let Some((path, file)) = self.svg {
            // Each panel titled with its way and its measured time, as the text drawing.
            let titles: Vec<String> = titles
                .iter()
                .zip(runs)
                .map(|(t, r)| format!("{t}: {}", fmt_duration(r.took)))
                .collect();
            let panels: Vec<(&str, &[Segment])> = titles
                .iter()
                .zip(runs)
                .map(|(t, r)| (t.as_str(), r.segments.as_slice()))
                .collect();
            let build = if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            };
            let caption = format!(
                "00_async_vs_threads: the four timelines of one real run ({workers} CPUs, {build} build)"
            );
            write_or_exit(file, "--svg", path, &timeline::svg(&panels, &caption));
            info!("wrote {} (open it in a browser)", path.display());
        }
        Ok(())
    }
}

/// An output file named on the command line, opened before the runs: a path that cannot be written
/// is reported at once, on one line, not after a second and a half of work (nor as a backtrace).
fn create_or_exit(flag: &str, path: &std::path::Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| {
        eprintln!("error: {flag} {}: {e}", path.display());
        std::process::exit(1)
    })
}

/// Writes `text` to an output file opened by [`create_or_exit`]; a failure (a full disk) is one line.
fn write_or_exit(mut file: std::fs::File, flag: &str, path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
        eprintln!("error: {flag} {}: {e}", path.display());
        std::process::exit(1)
    }
}
