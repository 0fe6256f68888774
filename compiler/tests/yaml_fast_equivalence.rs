//! The YAML fast path against the slow path (saphyr): whenever the fast path answers, the slow
//! path must return exactly the same documents (values, spans, styles, tags, document spans)
//! and no diagnostics.
//!
//! Inputs: the yaml-test-suite (`../shared/data/yaml-test-suite`), every file under the repo's
//! `tests/fixtures/` and `examples/`, ~300 documents from `bench/gen_ospec.py`, and systematic
//! mutations of the fixtures and generated documents (deleted characters, duplicated, indented
//! and dedented lines, inserted indicators). A source that is missing is skipped with a printed
//! reason. The fast path must also accept every generated document and every fixture it is
//! known to cover (else it is not actually used), and the acceptance rates are printed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ospecc_compiler::syntax::yaml::{parse_fast_for_tests, parse_slow_for_tests, Document, Node, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Text inputs (UTF-8 files only) under `dir` whose name passes `keep`.
fn texts_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<(String, String)> {
    files_under(dir)
        .into_iter()
        .filter(|p| keep(p))
        .filter_map(|p| Some((p.display().to_string(), fs::read_to_string(&p).ok()?)))
        .collect()
}

/// Counts of one comparison run.
#[derive(Default)]
struct Tally {
    inputs: usize,
    accepted: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Compares the two paths on `text`; returns whether the fast path answered.
    fn check(&mut self, name: &str, text: &str) -> bool {
        self.inputs += 1;
        let Some(fast) = parse_fast_for_tests(text) else { return false };
        self.accepted += 1;
        let slow = parse_slow_for_tests(text);
        let problem = match slow.diagnostics.first() {
            Some(d) => Some(format!("the slow path reports {} {} at {:?}", d.code, d.message, d.span)),
            None => documents_differ(&fast, &slow.documents),
        };
        if let Some(problem) = problem {
            if self.failures.len() < 20 {
                self.failures.push(format!("{name}: {problem}\n  text: {}", excerpt(text)));
            } else if self.failures.len() == 20 {
                self.failures.push("(more failures not shown)".into());
            }
        }
        true
    }

    fn report(&self, what: &str) {
        let rate = 100.0 * self.accepted as f64 / self.inputs.max(1) as f64;
        println!("{what}: fast path accepted {}/{} ({rate:.1}%)", self.accepted, self.inputs);
    }
}

/// The text, shortened in the middle when long.
fn excerpt(text: &str) -> String {
    if text.chars().count() <= 600 {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(300).collect();
    let tail: String = text.chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{head:?} ... {tail:?}")
}

/// Where two document lists first differ, if they do.
fn documents_differ(fast: &[Document], slow: &[Document]) -> Option<String> {
    if fast.len() != slow.len() {
        return Some(format!("{} documents on the fast path, {} on the slow path", fast.len(), slow.len()));
    }
    for (i, (f, s)) in fast.iter().zip(slow).enumerate() {
        if f.span != s.span {
            return Some(format!("document {i} span: fast {:?}, slow {:?}", f.span, s.span));
        }
        match (&f.root, &s.root) {
            (Some(f), Some(s)) => {
                if let Some(d) = nodes_differ(f, s, &format!("document {i}")) {
                    return Some(d);
                }
            }
            (None, None) => {}
            _ => return Some(format!("document {i}: one root is missing")),
        }
    }
    None
}

/// Where two nodes first differ (spans, styles, tags, values; floats bit for bit), if they do.
fn nodes_differ(fast: &Node, slow: &Node, path: &str) -> Option<String> {
    let shallow = |n: &Node| match &n.value {
        Value::Float(x) => format!("Float({:#x})", x.to_bits()),
        Value::Seq(items) => format!("Seq(len {})", items.len()),
        Value::Map(entries) => format!("Map(len {})", entries.len()),
        other => format!("{other:?}"),
    };
    let (f, s) = (
        format!("{:?} {:?} {:?} {}", fast.span, fast.style, fast.tag, shallow(fast)),
        format!("{:?} {:?} {:?} {}", slow.span, slow.style, slow.tag, shallow(slow)),
    );
    if f != s {
        return Some(format!("at {path}:\n  fast {f}\n  slow {s}"));
    }
    match (&fast.value, &slow.value) {
        (Value::Seq(a), Value::Seq(b)) => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| nodes_differ(x, y, &format!("{path}[{i}]")))
        }
        (Value::Map(a), Value::Map(b)) => a.iter().zip(b).enumerate().find_map(|(i, (x, y))| {
            nodes_differ(&x.key, &y.key, &format!("{path}.key{i}"))
                .or_else(|| nodes_differ(&x.value, &y.value, &format!("{path}.value{i}")))
        }),
        _ => None,
    }
}

fn assert_no_failures(tally: &Tally) {
    assert!(tally.failures.is_empty(), "fast and slow paths differ:\n{}", tally.failures.join("\n\n"));
}

/// ~300 documents from the benchmark generator (with its injected mistakes), or `None`.
fn generated() -> Option<Vec<(String, String)>> {
    let script = repo_root().join("bench/gen_ospec.py");
    if !script.exists() {
        println!("SKIP generated documents: {} is missing", script.display());
        return None;
    }
    let dir = std::env::temp_dir().join(format!("ospecc-fast-equivalence-{}", std::process::id()));
    let status = Command::new("python3")
        .arg(&script)
        .args(["--count", "300", "--no-test-files"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status();
    let docs = match status {
        Ok(s) if s.success() => texts_under(&dir, |p| p.to_string_lossy().ends_with(".ospec.yml")),
        Ok(s) => {
            println!("SKIP generated documents: gen_ospec.py exited with {s}");
            None?
        }
        Err(e) => {
            println!("SKIP generated documents: python3 is not available ({e})");
            None?
        }
    };
    let _ = fs::remove_dir_all(&dir);
    Some(docs)
}

/// The repository's fixtures and examples.
fn fixtures() -> Vec<(String, String)> {
    let root = repo_root();
    let mut texts = texts_under(&root.join("tests/fixtures"), |_| true);
    texts.extend(texts_under(&root.join("examples"), |_| true));
    texts
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// Strings inserted by the mutations: indicators, escapes, blanks, line breaks, markers and
/// characters the fast path must either handle or leave to the slow path.
const INSERTS: &[&str] = &[
    "#",
    " #",
    ":",
    ": ",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "|",
    ">",
    "\t",
    "- ",
    "?",
    "!",
    "-",
    " ",
    "\n",
    "\n  ",
    "---",
    "...",
    "~",
    "%",
    "@",
    "`",
    "\\",
    "\\u00e9",
    "\\x4",
    "''",
    "\"\"",
    ".",
    "é",
    "\u{85}",
    "\u{feff}",
    "\r",
    "<<",
    "? ",
    "1: ",
    "{a: 1}",
    "[a, b]",
    "|-",
    ">-",
    "|+",
    "|2",
    " #c",
    "a: b",
    "- a",
    "\n- ",
    "\n#c\n",
    "]]",
    "x]",
    "0x1F",
    "-.inf",
    ".nan",
    "null",
    "true",
    "1e3",
    "\u{a0}",
    "\u{3000}",
    "\u{200b}",
    "\u{fdd0}",
    "\u{e000}",
    "\u{10ffff}",
    "\u{2028}",
    "\u{7f}",
    "\u{1}",
];

/// Systematic one-edit mutations of `text`. At every `stride`-th character: the character
/// deleted, and `inserts_per_position` of [`INSERTS`] inserted (rotating, so neighbouring
/// positions get different ones; all of them when it is `INSERTS.len()`). Each line
/// duplicated, deleted, swapped with the next, indented and dedented. The text without its
/// last line break, with a comment ending in a bracket appended to its last line, and with
/// `\r\n` line breaks.
fn mutations(text: &str, stride: usize, inserts_per_position: usize) -> Vec<String> {
    let mut out = Vec::new();
    let boundaries: Vec<usize> =
        text.char_indices().map(|(i, _)| i).chain([text.len()]).step_by(stride.max(1)).collect();
    for (k, &at) in boundaries.iter().enumerate() {
        let next = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        if next > at {
            out.push(format!("{}{}", &text[..at], &text[next..]));
        }
        for j in 0..inserts_per_position.min(INSERTS.len()) {
            let insert = INSERTS[(k * 7 + j) % INSERTS.len()];
            out.push(format!("{}{insert}{}", &text[..at], &text[at..]));
        }
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let rebuilt = |i: usize, replacement: &[&str]| {
        let mut copy: Vec<&str> = lines[..i].to_vec();
        copy.extend_from_slice(replacement);
        copy.extend_from_slice(&lines[(i + 1).min(lines.len())..]);
        copy.concat()
    };
    for i in 0..lines.len() {
        let line = lines[i];
        if line.ends_with('\n') {
            out.push(rebuilt(i, &[line, line]));
        }
        out.push(rebuilt(i, &[]));
        if let Some(&next) = lines.get(i + 1).filter(|_| line.ends_with('\n')) {
            let mut copy: Vec<&str> = lines.clone();
            copy.swap(i, i + 1);
            if next.ends_with('\n') {
                out.push(copy.concat());
            }
        }
        out.push(rebuilt(i, &[" ", line]));
        out.push(rebuilt(i, &["  ", line]));
        if let Some(rest) = line.strip_prefix(' ') {
            out.push(rebuilt(i, &[rest]));
        }
        if let Some(rest) = line.strip_prefix("  ") {
            out.push(rebuilt(i, &[rest]));
        }
    }
    if text.contains('\n') && !text.contains('\r') {
        out.push(text.replace('\n', "\r\n"));
    }
    if let Some(trimmed) = text.strip_suffix('\n') {
        out.push(trimmed.to_string());
        out.push(format!("{trimmed} # ]"));
        out.push(format!("{trimmed} # }}\n"));
    }
    out
}

/// Hand-written inputs at the edges of the fast path's subset (and just outside it).
const EDGE_CASES: &[&str] = &[
    "a: 1\nb:\n  c: x  # y\n  d:\n  e: [1, \"x\", {f: g}]\n\n# trail\n",
    "--- # c\n- a\n- b: 1\n  c: 2\n-\n- - x\n",
    "\n\n  a: 1\n  b: 2\n\n",
    "a: 1 # [x]",
    "a: [1] # [x]",
    "a: [1]  \nb: 2",
    "a: {x: 1}   # c\nb: 1\n",
    "a:\n- b: 1\n  c: 2\n- x\n",
    "a:\n-\n- x\n",
    "a:\n-   # c\n  x\n",
    "a:\n- >\n  f\n",
    "a: >\n  x\n  y\n\n  z\n\n# c\nb: 1\n",
    "a: |-\n  x\n   y\n\n  z\n\n\n  # c\nb: 1\n",
    "- |\n  x\n- 1\n",
    "a: > # c >\n  x\n",
    "- a: |\n   x\n- b: >-\n    y\n    z\n\n",
    "a:\nb:   # c\nc:",
    "- \n-   # c\n-",
    "a :\nb: 1\n",
    "a: # c\n  b: 1\n",
    "- - a\n  - b\n",
    "k: {a: 1, b: [x, y]}\nl: [{a: 1} , 2 ]\n",
    "k: [ \"a\" ,b ]\nm: []\nn: {}\no: [a, ]\np: {a: 1, }\n",
    "a: 'it''s'\nb: \"\\x41\\u00e9\\U0001F600\\t\\\"\\/\\\\\"\n",
    "\"k\": 1\n'l' : 2\n",
    "a: -1\nb: -x\nd: a:b\ne: a #b\nf: x#y\ng: http://x.y/z?q=1#f\n",
    "1: a\n\"1\": b\n1.0: c\nnull: d\n~: e\ntrue: f\n",
    "a: 1\na: 2\n",
    "a: {x: 1, x: 2}\n",
    "<<: {a: 1}\nb: 2\n",
    "a:\n  x\n",
    "a:\n  [1, 2]\nb:\n  - 1\n",
    "x\n",
    "\"x\"\n",
    "[a, b]\n",
    "{a: 1}\n",
    "---\n",
    "---\n# only a comment\n",
    "# only a comment\n",
    "name: \"Café ☕ — ünïcode\"\ntags: [é, ü]\nk: é\n",
    "a:\n  b:\n    c:\n      - d: [1, [2, [3, {e: f}]]]\n",
    "seq:\n  - {a: 1, b: \"x, y\", c: 'p: q'}\n  - [\"]\", '}']\n",
    "a: .inf\nb: -.Inf\nc: .NaN\nd: 0o17\ne: 0x1F\nf: +12\ng: 1e3\nh: 9223372036854775808\n",
    "a: yes\nb: 2001-12-14\nc: 12:30\nd: 1_000\n",
    "a: b\n  c\n\n\n  d  \nx: 1\n",
    "a: b\n c\n",
    "- a\n  b\n- c\n",
    "a:\n- x\n y\n",
    "a:\n  b\n c\nd: 1\n",
    "- k: a\n   b\n  l: 1\n",
    "a: b\n  # c\nd: 1\n",
    "a: b\n  -x\n  1\n",
    "a: 1\n  2\n",
    "a: b   \n\n  c   # x\n",
    "a: |\n  x  \n  y \nb: 1\n",
    "a: >\n  x  \n  y \n\n  z  \nb: 1\n",
    "a: |+\n  x\n\n\nb: 1\n",
    "a: >+\n  x\n\n# c\nb: 1\n",
    "- |+\n  x\n\n",
    "a: |\n\n  x\nb: 1\n",
    "a: >-\n \n  \n   x\n\n   y\nb: 1\n",
    "a: >\n  x\n    y\n  z\nb: 1\n",
    "a: |2\n   x\nb: 1\n",
    "description: A long description that\n  goes on, and on: still\n  #not a comment\n  x # but this is\n",
];

#[test]
fn edge_cases_and_all_their_mutations() {
    let mut tally = Tally::default();
    let crlf = EDGE_CASES.iter().map(|text| text.replace('\n', "\r\n"));
    for (i, text) in EDGE_CASES.iter().map(|t| t.to_string()).chain(crlf).enumerate() {
        let text = text.as_str();
        tally.check(&format!("edge case {i}"), text);
        for (k, mutated) in mutations(text, 1, INSERTS.len()).iter().enumerate() {
            tally.check(&format!("edge case {i} mutation {k}"), mutated);
            // Two edits: the same mutations once more, sparser.
            if k % 97 == 0 {
                for (j, twice) in mutations(mutated, 5, 2).iter().enumerate() {
                    tally.check(&format!("edge case {i} mutation {k}.{j}"), twice);
                }
            }
        }
    }
    tally.report("edge cases and their mutations");
    assert_no_failures(&tally);
}

#[test]
fn yaml_test_suite_inputs() {
    let suite = repo_root().join("../shared/data/yaml-test-suite");
    if !suite.is_dir() {
        println!("SKIP yaml-test-suite: {} is missing", suite.display());
        return;
    }
    let inputs = texts_under(&suite, |p| p.file_name().is_some_and(|n| n == "in.yaml"));
    let mut tally = Tally::default();
    for (name, text) in &inputs {
        tally.check(name, text);
        for (k, mutated) in mutations(text, 1, 2).iter().enumerate() {
            tally.check(&format!("{name} mutation {k}"), mutated);
        }
    }
    tally.report("yaml-test-suite and its mutations");
    assert_no_failures(&tally);
}

#[test]
fn fixtures_and_examples() {
    let mut tally = Tally::default();
    let mut rejected = Vec::new();
    let inputs = fixtures();
    for (name, text) in &inputs {
        let accepted = tally.check(name, text);
        let clean = is_yaml(name) && parse_slow_for_tests(text).diagnostics.is_empty();
        if clean && !accepted {
            rejected.push(name.as_str());
        }
    }
    tally.report("fixtures and examples");
    println!("clean YAML fixtures left to the slow path: {rejected:#?}");
    assert_no_failures(&tally);
    // Anchors and aliases, and several documents in one file, are left to the slow path;
    // every other clean fixture must take the fast path.
    let expected_slow = ["/valid-aliases.ospec.yml", "/invalid-multi-document.ospec.yml"];
    let unexpected: Vec<&&str> = rejected.iter().filter(|n| !expected_slow.iter().any(|e| n.contains(e))).collect();
    assert!(unexpected.is_empty(), "clean fixtures the fast path should accept: {unexpected:#?}");
}

#[test]
fn fixture_mutations() {
    let mut tally = Tally::default();
    for (name, text) in fixtures().iter().filter(|(n, _)| is_yaml(n)) {
        for (k, mutated) in mutations(text, 7, 1).iter().enumerate() {
            tally.check(&format!("{name} mutation {k}"), mutated);
        }
    }
    tally.report("fixture mutations");
    assert_no_failures(&tally);
}

#[test]
fn generated_documents_and_mutations() {
    let Some(docs) = generated() else { return };
    let mut tally = Tally::default();
    let rejected: Vec<&str> = docs.iter().filter(|(n, t)| !tally.check(n, t)).map(|(n, _)| n.as_str()).collect();
    tally.report("generated documents");
    assert_no_failures(&tally);
    assert!(rejected.is_empty(), "generated documents the fast path should accept: {rejected:#?}");
    let mut mutated_tally = Tally::default();
    for (name, text) in docs.iter().step_by(50) {
        for (k, mutated) in mutations(text, 13, 1).iter().enumerate() {
            mutated_tally.check(&format!("{name} mutation {k}"), mutated);
        }
    }
    mutated_tally.report("generated document mutations");
    assert_no_failures(&mutated_tally);
}
