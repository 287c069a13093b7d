//! Every binary of this crate has a recording (`docs/output/<bin>.txt`, written by
//! `scripts/record-outputs`) whose summary lines, numbers masked, are those of a fresh run: a format
//! changed without retaking the recording fails here (`common::recording`). Here, not in `common`,
//! for the reason `cli.rs` gives: only a package's own tests find its binaries built.

use std::path::Path;

use common::cli::{binaries, binary_beside};
use common::recording::recording_breaches;

#[test]
fn every_binary_prints_what_its_recorded_output_shows() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let outputs = crate_dir.join("../docs/output");
    let names = binaries(crate_dir);
    assert!(names.len() >= 10, "src/bin lists {names:?}");
    // One binary at a time, as in cli.rs: parallel runs would load the timing tests beside them.
    let breaches: Vec<String> = names
        .iter()
        .flat_map(|name| {
            // 14's demo keeps both cores busy: it takes its turn with the other 14 runs.
            let _turn = name
                .starts_with("14_")
                .then(crate::distributed_14::one_at_a_time);
            let program = binary_beside(env!("CARGO_BIN_EXE_04_pause_resume_threads"), name);
            recording_breaches(&program, &outputs.join(format!("{name}.txt")))
        })
        .collect();
    assert!(
        breaches.is_empty(),
        "recordings out of step ({} lines):\n{}",
        breaches.len(),
        breaches.join("\n")
    );
}
