//! Hostile and broken YAML: every input gets located diagnostics (or a clean parse) in bounded
//! time, and never a panic or a stack overflow.
//!
//! Time bounds are generous (debug builds) and count the parsing thread's CPU time, not wall
//! time, so a machine busy with other work cannot fail them: they catch hangs and exponential
//! blow-ups, not regressions of a few percent (the benchmarks measure those).

use std::time::Duration;

use ospecc_compiler::syntax::yaml::{self, Node, Parsed, Value, MAX_DEPTH};
use ospecc_compiler::{Severity, Span};

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0;
    assert!(ok, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Parses `text`, asserting the time bound and that every span is a range of the text.
fn parse_within(text: &str, limit: Duration) -> Parsed {
    let started = thread_cpu_time();
    let parsed = yaml::parse(text);
    let elapsed = thread_cpu_time() - started;
    assert!(elapsed <= limit, "took {elapsed:?}, limit {limit:?}");
    for d in &parsed.diagnostics {
        assert!(text.get(d.span.start..d.span.end).is_some(), "{} span {:?} outside the text", d.code, d.span);
    }
    parsed
}

fn codes(parsed: &Parsed) -> Vec<&'static str> {
    parsed.diagnostics.iter().map(|d| d.code).collect()
}

fn errors(parsed: &Parsed) -> usize {
    parsed.diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
}

fn root(parsed: &Parsed) -> &Node {
    parsed.documents.iter().find_map(|d| d.root.as_ref()).expect("a document with content")
}

/// The deepest nesting of a tree, measured without recursion.
fn depth(node: &Node) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(node, 1)];
    while let Some((node, level)) = stack.pop() {
        deepest = deepest.max(level);
        match &node.value {
            Value::Seq(items) => stack.extend(items.iter().map(|n| (n, level + 1))),
            Value::Map(entries) => stack.extend(entries.iter().map(|e| (&e.value, level + 1))),
            _ => {}
        }
    }
    deepest
}

const SECONDS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn ten_thousand_nested_block_mappings() {
    let text: String = (0..10_000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    let parsed = parse_within(&text, SECONDS(20));
    assert_eq!(codes(&parsed), ["OSP015"]);
    let d = &parsed.diagnostics[0];
    assert!(text[d.span.start..].starts_with(&format!("k{MAX_DEPTH}:")), "points at the level that crossed the limit");
    let tree = root(&parsed);
    assert!(depth(tree) <= MAX_DEPTH + 1);
    // Clone, compare, lower and drop the deepest tree allowed: none may overflow the stack.
    assert_eq!(tree.clone(), *tree);
    assert!(tree.to_json().is_object());
}

#[test]
fn ten_thousand_nested_block_sequences() {
    let text: String = (0..10_000).map(|i| format!("{}-\n", " ".repeat(i * 2))).collect();
    let parsed = parse_within(&text, SECONDS(20));
    assert_eq!(codes(&parsed), ["OSP015"]);
    assert!(depth(root(&parsed)) <= MAX_DEPTH + 1);
}

#[test]
fn ten_thousand_nested_flow_collections() {
    for (open, close) in [("[", "]"), ("{a: ", "}")] {
        let text = format!("key: 1\nbomb: {}{}\nafter: 2\n", open.repeat(10_000), close.repeat(10_000));
        let parsed = parse_within(&text, SECONDS(10));
        assert_eq!(parsed.diagnostics[0].code, "OSP015", "{:?}", parsed.diagnostics);
        let bomb = text.find("bomb").unwrap();
        let bomb_line = bomb..bomb + text[bomb..].find('\n').unwrap();
        assert!(bomb_line.contains(&parsed.diagnostics[0].span.start), "{:?}", parsed.diagnostics[0]);
        // The damaged line is skipped; its neighbours survive.
        let tree = root(&parsed);
        assert_eq!(tree.field("key").map(|n| &n.value), Some(&Value::Int(1)));
        assert_eq!(tree.field("after").map(|n| &n.value), Some(&Value::Int(2)));
    }
}

#[test]
fn billion_laughs_is_stopped_with_one_error() {
    let mut text =
        String::from("a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for (prev, name) in ('a'..='i').zip('b'..='j') {
        text.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let parsed = parse_within(&text, SECONDS(20));
    assert_eq!(codes(&parsed), ["OSP014"]);
    let alias = parsed.diagnostics[0].span;
    assert_eq!(&text[alias.start..alias.end].chars().next(), &Some('*'));
    // Everything up to the budget is kept; the keys are all there.
    assert_eq!(root(&parsed).as_map().map(<[_]>::len), Some(10));
}

#[test]
fn quadratic_alias_chains_are_bounded_too() {
    // Each level aliases the previous one twice: 2^40 nodes if fully expanded.
    let mut text = String::from("l0: &l0 [x, y]\n");
    for i in 1..40 {
        text.push_str(&format!("l{i}: &l{i} [*l{}, *l{}]\n", i - 1, i - 1));
    }
    let parsed = parse_within(&text, SECONDS(20));
    assert_eq!(codes(&parsed), ["OSP014"]);
}

#[test]
fn fifty_megabyte_document() {
    // Realistic density: OSpec text is mostly prose values (descriptions, steps, criteria).
    let prose = "The service answers health probes within the budget and reports its version. ".repeat(4);
    let item = format!("  - name: service-with-a-longish-name\n    port: 8080\n    description: {prose}\n");
    let mut text = String::from("items:\n");
    while text.len() < 50_000_000 {
        text.push_str(&item);
    }
    text.push_str("broken: [unclosed\nlast: 1\n");
    let parsed = parse_within(&text, SECONDS(60));
    assert_eq!(errors(&parsed), 1, "{:?}", parsed.diagnostics);
    let tree = root(&parsed);
    assert_eq!(tree.field("items").and_then(Node::as_seq).map(<[_]>::len), Some((text.len() - 7) / item.len()));
    assert_eq!(tree.field("last").map(|n| &n.value), Some(&Value::Int(1)));
}

#[test]
fn empty_and_comment_only_texts_have_no_documents_with_content() {
    for text in ["", "\n\n", "   ", "# only a comment\n# and another\n", "---\n", "...\n"] {
        let parsed = parse_within(text, SECONDS(1));
        assert!(parsed.diagnostics.is_empty(), "{text:?}: {:?}", parsed.diagnostics);
        assert!(parsed.documents.iter().all(|d| d.root.is_none()), "{text:?}");
    }
}

#[test]
fn tab_indented_file() {
    let text = "name: x\nacceptance:\n\thttp_endpoints:\n\t\t- path: /a\nid: y\n";
    let parsed = parse_within(text, SECONDS(1));
    assert_eq!(parsed.diagnostics[0].code, "OSP011");
    assert_eq!(parsed.diagnostics[0].span, Span::new(20, 21));
    let tree = root(&parsed);
    assert_eq!(tree.field("name").and_then(Node::as_str), Some("x"));
    assert_eq!(tree.field("id").and_then(Node::as_str), Some("y"));
}

#[test]
fn unterminated_quotes() {
    for (text, keep) in [
        ("a: 1\nb: \"never closed\nc: 3\n", "c"),
        ("a: 1\nb: 'never closed\nc: 3\n", "c"),
        ("a: 1\nc: 3\nb: \"never closed at the end", "c"),
        ("- 1\n- \"open\n- 3\n", ""),
    ] {
        let parsed = parse_within(text, SECONDS(1));
        assert!(errors(&parsed) >= 1, "{text:?}");
        let first = parsed.diagnostics[0].span;
        assert!(first.start >= 5, "{text:?}: error at {first:?} is before the bad line");
        if !keep.is_empty() {
            assert_eq!(root(&parsed).field(keep).map(|n| &n.value), Some(&Value::Int(3)), "{text:?}");
        }
    }
}

#[test]
fn many_bad_lines_are_each_reported_within_the_attempt_budget() {
    let text: String = (0..200).map(|i| format!("k{i}: ok\nbad{i}: x: y\n")).collect();
    let parsed = parse_within(&text, SECONDS(10));
    assert!(errors(&parsed) >= 10, "{}", errors(&parsed));
    assert!(errors(&parsed) <= 200);
    let last = parsed.diagnostics.iter().rfind(|d| d.code == "OSP010").unwrap();
    assert!(last.notes.iter().any(|n| n.contains("recovery stopped")));
}

#[test]
fn syntax_errors_in_one_document_spare_the_others() {
    let text = "a: 1\n---\nb: [oops\n---\nc: 3\n";
    let parsed = parse_within(text, SECONDS(1));
    assert_eq!(errors(&parsed), 1);
    let roots: Vec<_> = parsed.documents.iter().filter_map(|d| d.root.as_ref().map(Node::to_json)).collect();
    assert!(roots.contains(&serde_json::json!({"a": 1})), "{roots:?}");
    assert!(roots.contains(&serde_json::json!({"c": 3})), "{roots:?}");
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "\u{feff}a: 1",
        "{",
        "]",
        "- - - - [ { : } ]",
        "? ? ? ?",
        "&a &b c",
        "*",
        "!<",
        "%YAML 1.2\n%YAML 1.2\n---\n",
        "a: |0\n x",
        "a: \"\\u12\"",
        "é: ö\n  ü: 😀: x\n\t",
        "--- |\n\t\n",
        "a: !!int abc\nb: !!map [1]\nc: !!seq {x: 1}\n",
        "<<: 1\n",
        "x: &a 1\ny: *a\nz: &a 2\nw: *a\n",
    ];
    for text in samples {
        let parsed = parse_within(text, SECONDS(1));
        // Lowering what was recovered must work too.
        parsed.documents.iter().filter_map(|d| d.root.as_ref()).for_each(|r| drop(r.to_json()));
    }
    // Every prefix of a realistic file: truncation anywhere must be handled.
    let file = "id: x\nname: \"A\"\nlist:\n  - {a: 1, b: [2, 3]}\n  - |\n    text\nanchor: &k {p: 1}\nuse:\n  <<: *k\n";
    for end in (0..=file.len()).filter(|&e| file.is_char_boundary(e)) {
        parse_within(&file[..end], SECONDS(1));
    }
}

#[test]
fn tag_mismatches_and_redefined_anchors() {
    let parsed = parse_within("a: !!int abc\nb: !!map [1]\n", SECONDS(1));
    assert_eq!(codes(&parsed), ["OSP017", "OSP017"]);
    let parsed = parse_within("x: &a 1\ny: *a\nz: &a 2\nw: *a\n", SECONDS(1));
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(root(&parsed).to_json(), serde_json::json!({"x": 1, "y": 1, "z": 2, "w": 2}));
}
