use std::time::Duration;

use common::process::run_example;

#[test]
fn async_vs_threads_00_draws_four_timelines_and_writes_a_trace_and_a_picture() {
    let dir = std::env::temp_dir();
    let trace = dir.join(format!("timelines-00-{}.json", std::process::id()));
    let picture = dir.join(format!("timelines-00-{}.svg", std::process::id()));
    let trace_arg = trace.to_str().expect("a UTF-8 temp path");
    let picture_arg = picture.to_str().expect("a UTF-8 temp path");
    let run = run_example(
        env!("CARGO_BIN_EXE_00_async_vs_threads"),
        &["--trace-json", trace_arg, "--svg", picture_arg],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "I. sequential, one thread: ",
            "II. one OS thread per job: ",
            "III. async, current_thread runtime: ",
            "IV. async, multi-thread runtime, ",
            "scale: 1 slot = 10 ms",
            "Summary",
            "I. sequential took ",
            "(ideal: the sum of every burst and wait, 600 ms)",
            "| threads ",
            "ideal 2.73x",
            "| async 1 thread ",
            "ideal 2.22x",
            "threads used: I 1, II 3, III 1, IV ",
        ]);
    // The lanes of each way, read from its own block (a block is its title, the scale and one lane
    // per thread, up to the next blank line): I and III on the one thread that calls them
    // (`main`), II on one thread per job, IV on the runtime's workers only.
    assert_eq!(lanes(&run.stdout, "I. sequential, one thread: "), ["main"]);
    assert_eq!(
        lanes(&run.stdout, "II. one OS thread per job: "),
        ["job-A", "job-B", "job-C"]
    );
    assert_eq!(
        lanes(&run.stdout, "III. async, current_thread runtime: "),
        ["main"]
    );
    let four = lanes(&run.stdout, "IV. async, multi-thread runtime, ");
    assert!(
        !four.is_empty() && four.iter().all(|t| t.starts_with("worker-")),
        "{four:?}\n{}",
        run.stdout
    );
    let json = std::fs::read_to_string(&trace).expect("--trace-json wrote the file");
    let _ = std::fs::remove_file(&trace);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let events = value["traceEvents"]
        .as_array()
        .expect("a trace-event array");
    // Three jobs of three bursts: at least 9 complete events per way, 36 in all (II and I add waits).
    assert!(events.iter().filter(|e| e["ph"] == "X").count() >= 36);

    // The picture: well-formed XML, an <svg> with one panel per way, titled as the text blocks, and
    // in each the same lanes as the text drawing of that way.
    let svg = std::fs::read_to_string(&picture).expect("--svg wrote the file");
    let _ = std::fs::remove_file(&picture);
    let root = parse_xml(&svg).unwrap_or_else(|e| panic!("the SVG is not well-formed XML: {e}"));
    assert_eq!(root.name, "svg");
    assert_eq!(
        root.attr("xmlns"),
        Some("http://www.w3.org/2000/svg"),
        "a browser draws it only in the SVG namespace"
    );
    let panels = root.find_all("g", "panel");
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p.attr("data-title").expect("a panel has a title"))
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    let expected_lanes = [
        vec!["main".to_string()],
        vec!["job-A".into(), "job-B".into(), "job-C".into()],
        vec!["main".into()],
        four,
    ];
    for ((panel, title), (prefix, expected)) in panels
        .iter()
        .zip(&titles)
        .zip(["I. ", "II. ", "III. ", "IV. "].iter().zip(&expected_lanes))
    {
        assert!(
            title.starts_with(prefix) && title.ends_with(" ms"),
            "{title}"
        );
        let lanes = panel.find_all("g", "lane");
        let names: Vec<&str> = lanes
            .iter()
            .map(|l| l.attr("data-thread").expect("a lane names its thread"))
            .collect();
        assert_eq!(&names, expected, "{title}");
        for lane in &lanes {
            assert!(
                !lane.find_all("rect", "run").is_empty(),
                "{title}: a lane without a burst"
            );
        }
        // Blocked (the third colour) only where a thread sleeps: I and II, never the tasks.
        let blocked = panel.find_all("rect", "block").len();
        let threads_block = ["I. ", "II. "].contains(prefix);
        assert_eq!(
            blocked > 0,
            threads_block,
            "{title}: {blocked} blocked bars"
        );
    }
    // One scale, in ms, under every panel.
    assert_eq!(root.find_all("g", "axis").len(), 4);
    assert!(svg.contains(">0 ms</text>"));

    // Fixed CPU work stretches on a loaded machine (that is the point: see `burn`), so the bound is
    // wider than the 5 s a learner's run stays under (about 1.5 s on an idle machine).
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn async_vs_threads_00_says_in_one_line_when_it_cannot_write_the_picture() {
    let missing = std::env::temp_dir().join(format!("no-such-dir-{}", std::process::id()));
    let path = missing.join("timelines.svg");
    let run = run_example(
        env!("CARGO_BIN_EXE_00_async_vs_threads"),
        &["--svg", path.to_str().expect("a UTF-8 temp path")],
    );
    run.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains(&["--svg", "timelines.svg"]);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    // Checked before the runs, not after them.
    assert!(!run.stdout.contains("Summary"), "{}", run.stdout);
}

/// The thread names of the lanes drawn under the title that starts with `title`.
fn lanes(stdout: &str, title: &str) -> Vec<String> {
    let block: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with(title))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(!block.is_empty(), "no block {title:?}\n{stdout}");
    block
        .iter()
        .filter(|l| l.ends_with('|'))
        .filter_map(|l| l.split(" |").next())
        .map(|name| name.trim().to_string())
        .collect()
}

#[test]
fn async_vs_threads_00_rejects_a_bad_flag() {
    let run = run_example(env!("CARGO_BIN_EXE_00_async_vs_threads"), &["--slots"]);
    run.assert_code(2).assert_stderr_contains(&["--slots"]);
    // `--help` says what the example demonstrates, under its number.
    let help = run_example(env!("CARGO_BIN_EXE_00_async_vs_threads"), &["--help"]);
    help.assert_success().assert_no_panic();
    assert!(help.stdout.starts_with("00 · "), "{}", help.stdout);
    assert!(help.stdout.contains("--svg <FILE>"), "{}", help.stdout);
}

// ---------------------------------------------------------------------------------------------
// A well-formedness check for the SVG: a few dozen lines instead of an XML crate in the lock file
// for one test. It checks what a browser's XML parser rejects: one root, every tag closed in order,
// attributes quoted and not repeated, `<` never in text or values, `&` only as a known entity.
// It keeps elements and attributes (not text), which is all the checks above look at.

#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every element below this one (depth first) named `name` with `class="class"`.
    fn find_all(&self, name: &str, class: &str) -> Vec<&Element> {
        let mut found = Vec::new();
        for child in &self.children {
            if child.name == name && child.attr("class") == Some(class) {
                found.push(child);
            }
            found.extend(child.find_all(name, class));
        }
        found
    }
}

fn parse_xml(text: &str) -> Result<Element, String> {
    let mut rest = text;
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = &after[after.find("?>").ok_or("an unclosed <?xml")? + 2..];
    }
    rest = skip_misc(rest)?;
    let (root, after) = parse_element(rest)?;
    if !skip_misc(after)?.is_empty() {
        return Err("something after the root element".into());
    }
    Ok(root)
}

/// Skips whitespace and comments.
fn skip_misc(mut rest: &str) -> Result<&str, String> {
    loop {
        rest = rest.trim_start();
        match rest.strip_prefix("<!--") {
            Some(after) => rest = &after[after.find("-->").ok_or("an unclosed comment")? + 3..],
            None => return Ok(rest),
        }
    }
}

fn parse_name(rest: &str) -> Result<(&str, &str), String> {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_:.".contains(c)))
        .unwrap_or(rest.len());
    if end == 0 || !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(format!("a bad name at {:?}", &rest[..rest.len().min(20)]));
    }
    Ok((&rest[..end], &rest[end..]))
}

/// Text or an attribute value: no `<`, and every `&` starts a known entity.
fn check_text(text: &str) -> Result<(), String> {
    if text.contains('<') {
        return Err(format!("a `<` in text {text:?}"));
    }
    for (at, _) in text.match_indices('&') {
        let entity = &text[at + 1..];
        let end = entity
            .find(';')
            .ok_or(format!("an unended `&` in {text:?}"))?;
        let name = &entity[..end];
        let numeric = name.strip_prefix('#').is_some_and(|n| {
            n.strip_prefix('x').map_or_else(
                || !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()),
                |h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()),
            )
        });
        if !numeric && !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
            return Err(format!("an unknown entity &{name}; in {text:?}"));
        }
    }
    Ok(())
}

fn parse_element(rest: &str) -> Result<(Element, &str), String> {
    let rest = rest
        .strip_prefix('<')
        .ok_or("an element must start with `<`")?;
    let (name, mut rest) = parse_name(rest)?;
    let mut element = Element {
        name: name.to_string(),
        attrs: Vec::new(),
        children: Vec::new(),
    };
    // Attributes, up to `>` or `/>`.
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("/>") {
            return Ok((element, after));
        }
        if let Some(after) = trimmed.strip_prefix('>') {
            rest = after;
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(format!("no space before an attribute of <{name}>"));
        }
        let (attr, after) = parse_name(trimmed)?;
        let after = after
            .trim_start()
            .strip_prefix('=')
            .ok_or(format!("`{attr}` without `=`"))?;
        let after = after.trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or(format!("`{attr}` not quoted"))?;
        let value_end = after[1..].find(quote).ok_or(format!("`{attr}` unclosed"))? + 1;
        let value = &after[1..value_end];
        check_text(value)?;
        if element.attr(attr).is_some() {
            return Err(format!("`{attr}` twice in <{name}>"));
        }
        element.attrs.push((attr.to_string(), value.to_string()));
        rest = &after[value_end + 1..];
    }
    // Content: text, comments and child elements, up to the matching end tag.
    loop {
        let text_end = rest.find('<').ok_or(format!("<{name}> is never closed"))?;
        check_text(&rest[..text_end])?;
        rest = &rest[text_end..];
        if let Some(after) = rest.strip_prefix("</") {
            let (closing, after) = parse_name(after)?;
            if closing != name {
                return Err(format!("<{name}> closed by </{closing}>"));
            }
            let after = after
                .trim_start()
                .strip_prefix('>')
                .ok_or("an unended end tag")?;
            return Ok((element, after));
        } else if rest.starts_with("<!--") {
            rest = skip_misc(rest)?;
        } else {
            let (child, after) = parse_element(rest)?;
            element.children.push(child);
            rest = after;
        }
    }
}

#[test]
fn the_xml_check_rejects_what_a_browser_would() {
    assert!(parse_xml(r#"<?xml version="1.0"?><a x="1"><b/>t &amp; u<!-- c --></a>"#).is_ok());
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a x=1/>",
        r#"<a x="1" x="2"/>"#,
        "<a>1 < 2</a>",
        "<a>R&D</a>",
        r#"<a x="<"/>"#,
        "<a/><b/>",
        "<a></b>",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad}");
    }
}
