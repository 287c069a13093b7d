//! Keeps the binaries, their run tests and the README in step, so that none can be forgotten:
//!
//! - every binary under `examples-*/src/bin` (a `name.rs` file or a `name/main.rs` folder) has a run
//!   test in its crate's `tests/` (one that names `CARGO_BIN_EXE_<name>`);
//! - every binary has a README row that links to it;
//! - every link in the README to a file of the workspace points at something that exists.

use std::fs;
use std::path::{Path, PathBuf};

const EXAMPLE_CRATES: [&str; 2] = ["examples-async", "examples-threads"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("common/ lives inside the workspace")
        .to_path_buf()
}

/// `(binary name, path relative to the workspace root)` for every binary of `krate`.
fn binaries(krate: &str) -> Vec<(String, String)> {
    let dir = root().join(krate).join("src/bin");
    let mut bins = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("readable directory entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file names")
            .to_string();
        if path.is_dir() && path.join("main.rs").is_file() {
            bins.push((name.clone(), format!("{krate}/src/bin/{name}/main.rs")));
        } else if path.extension().is_some_and(|e| e == "rs") {
            bins.push((name.clone(), format!("{krate}/src/bin/{name}.rs")));
        }
    }
    bins.sort();
    bins
}

/// All Rust sources below `dir`, concatenated.
fn sources_below(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return text;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            text.push_str(&sources_below(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&fs::read_to_string(&path).expect("readable source"));
        }
    }
    text
}

fn readme() -> String {
    fs::read_to_string(root().join("README.md")).expect("README.md at the workspace root")
}

/// Targets of markdown links `](target)` that are relative paths (not URLs or anchors).
fn relative_links(markdown: &str) -> Vec<String> {
    markdown
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| target.split('#').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

#[test]
fn every_binary_has_a_run_test() {
    let mut missing = Vec::new();
    for krate in EXAMPLE_CRATES {
        let tests = sources_below(&root().join(krate).join("tests"));
        for (name, _) in binaries(krate) {
            if !tests.contains(&format!("CARGO_BIN_EXE_{name}\")")) {
                missing.push(format!("{krate}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "binaries without a run test in their crate's tests/: {missing:?}"
    );
}

#[test]
fn every_binary_has_a_readme_row() {
    let readme = readme();
    let mut missing = Vec::new();
    for krate in EXAMPLE_CRATES {
        for (name, path) in binaries(krate) {
            let dir = path.trim_end_matches("/main.rs");
            let row = readme
                .lines()
                .any(|l| l.starts_with('|') && (l.contains(&path) || l.contains(dir)));
            if !row {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "binaries without a README table row linking to them: {missing:?}"
    );
}

#[test]
fn every_readme_link_into_the_workspace_exists() {
    let broken: Vec<String> = relative_links(&readme())
        .into_iter()
        .filter(|target| !root().join(target).exists())
        .collect();
    assert!(
        broken.is_empty(),
        "README links to missing files: {broken:?}"
    );
}

#[test]
fn there_is_something_to_check() {
    // Guards the tests above against passing vacuously (a moved folder, a renamed crate).
    for krate in EXAMPLE_CRATES {
        assert!(!binaries(krate).is_empty(), "{krate} has no binaries");
    }
    assert!(relative_links("see [a](x/y.rs) and [b](https://e.org) [c](#top)") == ["x/y.rs"]);
}
