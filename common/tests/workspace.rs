//! Keeps the binaries, their run tests and the README in step, so that none can be forgotten:
//!
//! - every binary under `examples-*/src/bin` (a `name.rs` file or a `name/main.rs` folder) has a run
//!   test in its crate's `tests/`: a `#[test]` fn that runs it (`run_example(env!("CARGO_BIN_EXE_<name>")`,
//!   or a `const` holding that path, or `Command::new` of it handed to a run helper);
//! - every async example has its `_threads` twin and every threads example its async original,
//!   except those listed in [`ASYNC_ONLY`] with the reason;
//! - every binary has a `#[cfg(test)] mod tests` (in its file, or in a file of its folder);
//! - both example crates run the command-line rules on every binary (`tests/run/cli.rs`, which calls
//!   `common::cli::convention_breaches`; it lives there because only a package's own tests are sure
//!   to find its binaries built);
//! - every binary has a README row that links to it;
//! - every link in the README to a file of the workspace points at something that exists;
//! - the book (`book/`) and the workspace are in step: every example has a page in `SUMMARY.md` that
//!   includes its lesson files, its twin's and their recordings; every `{{#include}}` names a file that
//!   exists; every relative link in the book resolves;
//! - the book's map of the chapter's challenges and best practices has a row for each of the six
//!   challenges and fourteen best practices, and every file it names exists;
//! - every example keeps the sizes of `STYLE.md` ("Size and layout": a lesson file's `//!` header of at
//!   most 30 lines and at most 250 lines before its tests, any other file at most 350) and its header
//!   points to its recorded output, `docs/output/<bin>.txt`.

use std::fs;
use std::path::{Path, PathBuf};

const EXAMPLE_CRATES: [&str; 2] = ["examples-async", "examples-threads"];

/// Async examples without a `_threads` twin, and why.
const ASYNC_ONLY: [(&str, &str); 1] = [(
    "00_async_vs_threads",
    "it runs tasks and threads side by side in one binary: it is its own twin",
)];

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

/// The Rust files below `dir`.
fn rust_files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            files.extend(rust_files_below(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
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

/// The bodies of the `#[test]` fns in `source`, whitespace removed (so a call split over lines
/// still reads `run_example(env!("CARGO_BIN_EXE_x")`), with `const NAME: &str = env!(...)` names
/// replaced by the `env!(...)` they stand for.
fn test_bodies(source: &str) -> Vec<String> {
    let squeeze = |text: &str| text.split_whitespace().collect::<String>();
    // `const BIN: &str = env!("CARGO_BIN_EXE_13_async_server");` -> ("BIN", "env!(...)").
    let consts: Vec<(String, String)> = source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("const ")?;
            let (name, value) = rest.split_once(": &str =")?;
            let value = value.trim().strip_suffix(';')?;
            value
                .starts_with("env!(\"CARGO_BIN_EXE_")
                .then(|| (name.trim().to_string(), squeeze(value)))
        })
        .collect();
    let mut bodies = Vec::new();
    for (at, _) in source.match_indices("#[test]") {
        let Some(open) = source[at..].find('{').map(|i| at + i) else {
            continue;
        };
        let body = &source[open..block_end(source, open)];
        let mut body = squeeze(body);
        for (name, value) in &consts {
            for call in ["run_example(", "Command::new("] {
                body = body.replace(&format!("{call}{name},"), &format!("{call}{value},"));
                body = body.replace(&format!("{call}{name})"), &format!("{call}{value})"));
            }
        }
        bodies.push(body);
    }
    bodies
}

/// The index just past the `}` that closes the `{` at `open`, skipping braces inside string
/// literals (`"{name}"`), char literals and line comments.
fn block_end(source: &str, open: usize) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut i, mut in_string) = (0usize, open, false);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => in_string = false,
            (false, b'"') => in_string = true,
            (false, b'\'') if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            // A line comment may hold an unpaired quote: skip to its end.
            (false, b'/') if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            (false, b'{') => depth += 1,
            (false, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Does some test body run binary `name`: hand its path to `run_example`, or build a `Command` of
/// it and pass that to a run helper?
fn runs_binary(bodies: &[String], name: &str) -> bool {
    let path = format!("env!(\"CARGO_BIN_EXE_{name}\")");
    bodies.iter().any(|body| {
        body.contains(&format!("run_example({path}"))
            || (body.contains(&format!("Command::new({path})"))
                && ["run_with_deadline(", "run_closing_stdout_after("]
                    .iter()
                    .any(|helper| body.contains(helper)))
    })
}

#[test]
fn every_binary_has_a_run_test() {
    let mut missing = Vec::new();
    for krate in EXAMPLE_CRATES {
        // File by file: each may name its own `const BIN`.
        let bodies: Vec<String> = rust_files_below(&root().join(krate).join("tests"))
            .iter()
            .flat_map(|file| test_bodies(&fs::read_to_string(file).expect("readable source")))
            .collect();
        for (name, _) in binaries(krate) {
            if !runs_binary(&bodies, &name) {
                missing.push(format!("{krate}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "binaries that no #[test] in their crate's tests/ runs (run_example(env!(\"CARGO_BIN_EXE_<name>\"), ...)): {missing:?}"
    );
}

#[test]
fn the_run_test_check_wants_a_run_not_a_mention() {
    let source = r#"
        const BIN: &str = env!("CARGO_BIN_EXE_13_server");

        #[test]
        fn runs_it() {
            let run = run_example(
                env!("CARGO_BIN_EXE_01_basic"),
                &[],
            );
            assert!(run.stdout.contains("{ not a brace that counts"));
        }

        #[test]
        fn runs_it_through_a_const() {
            run_example(BIN, &["--help"]);
        }

        #[test]
        fn only_mentions_it() {
            // CARGO_BIN_EXE_02_tasks")
            let path = env!("CARGO_BIN_EXE_02_tasks");
        }

        fn not_a_test() {
            run_example(env!("CARGO_BIN_EXE_03_results"), &[]);
        }
    "#;
    let bodies = test_bodies(source);
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(runs_binary(&bodies, "01_basic"));
    assert!(runs_binary(&bodies, "13_server"));
    assert!(!runs_binary(&bodies, "02_tasks"));
    assert!(!runs_binary(&bodies, "03_results"));
}

#[test]
fn every_async_example_has_its_threads_twin() {
    let names = |krate| -> Vec<String> { binaries(krate).into_iter().map(|(n, _)| n).collect() };
    let (async_bins, threads_bins) = (names("examples-async"), names("examples-threads"));
    let mut problems = Vec::new();
    for name in &async_bins {
        let twin = format!("{name}_threads");
        let async_only = ASYNC_ONLY.iter().any(|(n, _)| n == name);
        if !async_only && !threads_bins.contains(&twin) {
            problems.push(format!("{name} has no examples-threads/src/bin/{twin}"));
        }
        if async_only && threads_bins.contains(&twin) {
            problems.push(format!("{name} is listed as async-only but has a twin"));
        }
    }
    for name in &threads_bins {
        let original = name.strip_suffix("_threads");
        if !original.is_some_and(|o| async_bins.iter().any(|a| a == o)) {
            problems.push(format!(
                "{name} has no async original (or lacks the _threads suffix)"
            ));
        }
    }
    for (name, reason) in ASYNC_ONLY {
        assert!(
            !reason.is_empty() && async_bins.iter().any(|a| a == name),
            "{name}"
        );
    }
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn every_binary_has_a_mod_tests() {
    let mut missing = Vec::new();
    for krate in EXAMPLE_CRATES {
        for (name, path) in binaries(krate) {
            let path = root().join(path);
            let source = if path.ends_with("main.rs") {
                sources_below(path.parent().expect("a bin folder"))
            } else {
                fs::read_to_string(&path).expect("readable source")
            };
            if !source.contains("#[cfg(test)]") || !source.contains("mod tests") {
                missing.push(format!("{krate}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "binaries without a #[cfg(test)] mod tests: {missing:?}"
    );
}

#[test]
fn both_example_crates_check_the_command_line_rules_on_every_binary() {
    for krate in EXAMPLE_CRATES {
        let run = root().join(krate).join("tests/run");
        let main = fs::read_to_string(run.join("main.rs")).expect("tests/run/main.rs");
        let cli = fs::read_to_string(run.join("cli.rs")).unwrap_or_default();
        assert!(
            main.contains("mod cli;"),
            "{krate}: tests/run/main.rs lacks `mod cli;`"
        );
        let bodies = test_bodies(&cli);
        assert!(
            bodies.iter().any(|b| b.contains("convention_breaches(")
                && b.contains("binaries(Path::new(env!(\"CARGO_MANIFEST_DIR\")))")),
            "{krate}: tests/run/cli.rs has no #[test] that checks every binary of src/bin"
        );
    }
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

/// The book's page that maps the chapter's challenges and best practices.
const MAP_PAGE: &str = "book/src/chapter/challenges.md";

/// The text of the markdown section under `heading`, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, heading: &str) -> Option<&'a str> {
    let start = markdown.find(&format!("{heading}\n"))? + heading.len();
    let rest = &markdown[start..];
    Some(rest.find("\n## ").map_or(rest, |end| &rest[..end]))
}

/// The workspace paths a piece of markdown names: relative link targets, and code spans that look
/// like a path (a `/`, no spaces, no `::`, not a URL or a flag), such as `examples-async/src/bin/x.rs`.
fn named_paths(markdown: &str) -> Vec<String> {
    let mut paths = relative_links(markdown);
    paths.extend(
        markdown
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|span| {
                span.contains('/')
                    && !span.contains(char::is_whitespace)
                    && !span.contains("::")
                    && !span.contains("://")
                    && !span.starts_with('-')
            })
            .map(str::to_string),
    );
    paths
}

#[test]
fn the_map_of_challenges_and_best_practices_names_only_files_that_exist() {
    let map =
        fs::read_to_string(root().join(MAP_PAGE)).unwrap_or_else(|e| panic!("{MAP_PAGE}: {e}"));
    // One table row per challenge and per best practice, by the first cell: 1-6, then the chapter's
    // bullets per language (C++ 5, Python 5, JavaScript 4).
    let rows: Vec<(&str, &str)> = map
        .lines()
        .filter(|l| l.starts_with("| "))
        .filter_map(|l| {
            let first = l.split('|').nth(1)?.trim();
            let counted = ["1", "2", "3", "4", "5", "6"].contains(&first)
                || ["C++ ", "Python ", "JavaScript "]
                    .iter()
                    .any(|lang| first.starts_with(lang));
            counted.then_some((first, l))
        })
        .collect();
    let count = |prefix: &str| {
        rows.iter()
            .filter(|(first, _)| first.starts_with(prefix))
            .count()
    };
    let challenges = rows.iter().filter(|(first, _)| first.len() == 1).count();
    assert_eq!(
        (
            challenges,
            count("C++ "),
            count("Python "),
            count("JavaScript ")
        ),
        (6, 5, 5, 4),
        "rows: {:?}",
        rows.iter().map(|(first, _)| first).collect::<Vec<_>>()
    );
    let mut problems = Vec::new();
    for (first, row) in &rows {
        let paths = named_paths(row);
        if paths.is_empty() {
            problems.push(format!("row {first} names no file"));
        }
        for path in paths {
            if !root().join(&path).exists() {
                problems.push(format!("row {first}: {path} does not exist"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_map_check_finds_paths_and_sections() {
    let text = "## A\nsee `examples-async/src/bin/x.rs`, `tokio::sync::Mutex`, `--svg`, `a b/c`, \
                [y](common/y.rs) and <https://e.org/z>\n## B\n`not/here.rs`\n";
    let a = section(text, "## A").expect("section A");
    assert_eq!(
        named_paths(a),
        ["common/y.rs", "examples-async/src/bin/x.rs"]
    );
    assert_eq!(
        section(text, "## B").map(named_paths),
        Some(vec!["not/here.rs".to_string()])
    );
    assert!(section(text, "## C").is_none());
}

#[test]
fn there_is_something_to_check() {
    // Guards the tests above against passing vacuously (a moved folder, a renamed crate).
    for krate in EXAMPLE_CRATES {
        assert!(!binaries(krate).is_empty(), "{krate} has no binaries");
    }
    assert!(relative_links("see [a](x/y.rs) and [b](https://e.org) [c](#top)") == ["x/y.rs"]);
}

// ------------------------------------------------------------------------------------------------
// The book: built from the sources, so it can only go stale where these checks look away.
// ------------------------------------------------------------------------------------------------

/// The markdown files of the book, with their paths.
fn book_pages() -> Vec<(PathBuf, String)> {
    fn below(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                below(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = fs::read_to_string(&path).expect("readable page");
                out.push((path, text));
            }
        }
    }
    let mut pages = Vec::new();
    below(&root().join("book/src"), &mut pages);
    pages.sort();
    pages
}

/// The paths of the `{{#include PATH}}` and `{{#include PATH:1:}}` directives of a page.
fn includes(markdown: &str) -> Vec<String> {
    markdown
        .split("{{#include ")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .map(|target| target.split(':').next().unwrap_or("").trim().to_string())
        .collect()
}

/// `path` with its `.` and `..` steps resolved, without touching the file system.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_book_include_names_a_file_that_exists() {
    let mut broken = Vec::new();
    let mut count = 0;
    for (page, text) in book_pages() {
        for target in includes(&text) {
            count += 1;
            let file = normalized(&page.parent().expect("a page's folder").join(&target));
            if !file.is_file() {
                broken.push(format!("{}: {{{{#include {target}}}}}", page.display()));
            }
        }
    }
    assert!(
        count > 40,
        "only {count} includes in the book: is book/src where it should be?"
    );
    assert!(
        broken.is_empty(),
        "includes of missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_relative_link_in_the_book_resolves() {
    let mut broken = Vec::new();
    for (page, text) in book_pages() {
        for target in relative_links(&text) {
            let file = normalized(&page.parent().expect("a page's folder").join(&target));
            if !file.exists() {
                broken.push(format!("{}: ({target})", page.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to missing pages or files:\n{}",
        broken.join("\n")
    );
}

/// The lesson file of binary `name` (`NN_name.rs`, or `main.rs` of its folder), relative to the root.
fn lesson_file(krate: &str, name: &str) -> String {
    binaries(krate)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, path)| path)
        .unwrap_or_else(|| panic!("{krate} has no binary {name}"))
}

#[test]
fn every_example_has_a_book_page_with_its_code_twin_and_recordings() {
    let summary =
        fs::read_to_string(root().join("book/src/SUMMARY.md")).expect("book/src/SUMMARY.md");
    let mut problems = Vec::new();
    for (name, lesson) in binaries("examples-async") {
        let page = format!("examples/{name}.md");
        if !summary.contains(&format!("]({page})")) {
            problems.push(format!("SUMMARY.md has no entry for {page}"));
        }
        let Ok(text) = fs::read_to_string(root().join("book/src").join(&page)) else {
            problems.push(format!("book/src/{page} does not exist"));
            continue;
        };
        let included: Vec<String> = includes(&text)
            .iter()
            .map(|t| t.trim_start_matches("../../../").to_string())
            .collect();
        let twin = format!("{name}_threads");
        let mut wanted = vec![lesson, format!("docs/output/{name}.txt")];
        if binaries("examples-threads").iter().any(|(n, _)| *n == twin) {
            wanted.push(lesson_file("examples-threads", &twin));
            wanted.push(format!("docs/output/{twin}.txt"));
        }
        for file in wanted {
            if !included.contains(&file) {
                problems.push(format!("book/src/{page} does not include {file}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ------------------------------------------------------------------------------------------------
// Sizes a reader can hold (STYLE.md, "Size and layout"), and headers that point to recordings.
// ------------------------------------------------------------------------------------------------

const MAX_HEADER: usize = 30;
const MAX_LESSON: usize = 250;
const MAX_FILE: usize = 350;

/// `(lines before the tests, lines of the leading //! header)` of a source: the tests start at the
/// first `#[cfg(test)]` at column 0 that opens a module written in place (`mod tests {`), or that
/// names `tests.rs` (`mod tests;`) at the end of the file: one near the top does not hide the lesson
/// below it. Blank lines inside the header do not end it.
fn sizes(source: &str) -> (usize, usize) {
    let lines: Vec<&str> = source.split('\n').collect();
    let opens_tests = |i: usize| {
        let rest = lines[i].trim_start_matches("#[cfg(test)]").trim();
        let next = if rest.is_empty() {
            lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .unwrap_or("")
        } else {
            rest
        };
        // `mod tests;` (tests.rs) ends the count only where nothing but declarations follow it.
        !next.ends_with(';')
            || lines[i + 1..].iter().map(|l| l.trim()).all(|l| {
                l.is_empty() || l.starts_with("#[") || (l.starts_with("mod ") && l.ends_with(';'))
            })
    };
    let body = (0..lines.len())
        .find(|&i| lines[i].starts_with("#[cfg(test)]") && opens_tests(i))
        .unwrap_or(lines.len());
    let mut header = 0;
    for line in &lines {
        if line.starts_with("//!") {
            header += 1;
        } else if !(line.trim().is_empty() && header > 0) {
            break;
        }
    }
    (body, header)
}

#[test]
fn every_example_keeps_the_sizes_a_reader_can_hold() {
    let mut over = Vec::new();
    for krate in EXAMPLE_CRATES {
        for (_, lesson) in binaries(krate) {
            let lesson_path = root().join(&lesson);
            let files = if lesson.ends_with("/main.rs") {
                rust_files_below(lesson_path.parent().expect("a bin folder"))
            } else {
                vec![lesson_path.clone()]
            };
            for file in files {
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name == "tests.rs" || name.ends_with("_tests.rs") {
                    continue;
                }
                let (body, header) = sizes(&fs::read_to_string(&file).expect("readable source"));
                let shown = file
                    .strip_prefix(root())
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                if file == lesson_path {
                    if header > MAX_HEADER {
                        over.push(format!(
                            "{shown}: a header of {header} lines (at most {MAX_HEADER})"
                        ));
                    }
                    if body > MAX_LESSON {
                        over.push(format!("{shown}: {body} lines before its tests (a lesson file: at most {MAX_LESSON})"));
                    }
                } else if body > MAX_FILE {
                    over.push(format!(
                        "{shown}: {body} lines before its tests (at most {MAX_FILE})"
                    ));
                }
            }
        }
    }
    assert!(
        over.is_empty(),
        "past the sizes of STYLE.md:\n{}",
        over.join("\n")
    );
}

#[test]
fn every_lesson_header_points_to_its_recorded_output() {
    let mut missing = Vec::new();
    for krate in EXAMPLE_CRATES {
        for (name, lesson) in binaries(krate) {
            let source = fs::read_to_string(root().join(&lesson)).expect("readable source");
            let header: String = source
                .lines()
                .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            let recording = format!("docs/output/{name}.txt");
            if !header.contains(&recording) || !root().join(&recording).is_file() {
                missing.push(format!(
                    "{lesson}: its header should name {recording}, which should exist"
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn the_book_and_size_checks_read_what_they_should() {
    assert_eq!(
        includes("a {{#include ../../x.rs}} b {{#include ../y.svg:2:}}"),
        ["../../x.rs", "../y.svg"]
    );
    assert_eq!(
        normalized(Path::new("book/src/examples/../../../docs/a.txt")),
        Path::new("docs/a.txt")
    );
    assert_eq!(
        sizes("//! one\n//!\n\n//! two\nfn main() {}\n#[cfg(test)]\nmod tests {}\n"),
        (5, 3)
    );
    assert_eq!(sizes("fn main() {}\n"), (2, 0));
    // A `mod tests;` at the top names tests.rs: the lesson below it still counts.
    assert_eq!(
        sizes("//! h\n#[cfg(test)]\nmod tests;\nfn main() {}\n"),
        (5, 1)
    );
}
