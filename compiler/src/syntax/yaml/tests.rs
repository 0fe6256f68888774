//! Tests of `parse` as a whole: spans, resolution, keys, aliases, recovery.

use super::*;
use crate::span::Span;

fn root(text: &str) -> Node {
    let parsed = parse(text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    parsed.documents.into_iter().next().and_then(|d| d.root).expect("a root")
}

fn slice(text: &str, span: Span) -> &str {
    &text[span.start..span.end]
}

#[test]
fn keys_and_values_have_byte_spans() {
    let text = "name: 'x y'   # c\né: \"q\\tz\"\nlist:\n  - &A 1\n  - *A\nflow: {x: [2, 3]}\n";
    let node = root(text);
    let entries = node.as_map().unwrap();
    assert_eq!(slice(text, entries[0].key.span), "name");
    assert_eq!(slice(text, entries[0].value.span), "'x y'");
    assert_eq!(slice(text, entries[1].key.span), "é");
    assert_eq!(slice(text, entries[1].value.span), "\"q\\tz\"");
    assert_eq!(entries[1].value.as_str(), Some("q\tz"));
    let list = &entries[2].value;
    assert_eq!(slice(text, list.span), "- &A 1\n  - *A");
    assert_eq!(slice(text, list.as_seq().unwrap()[1].span), "*A");
    assert_eq!(list.as_seq().unwrap()[1].value, Value::Int(1));
    assert_eq!(slice(text, entries[3].value.span), "{x: [2, 3]}");
    assert_eq!(slice(text, node.span), &text[..text.len() - 1]);
}

#[test]
fn block_scalars_span_from_their_header() {
    let text = "a: |  # keep\n  lit\n  more\n\nb: >-\n  folded\n";
    let node = root(text);
    let a = node.field("a").unwrap();
    assert_eq!(slice(text, a.span), "|  # keep\n  lit\n  more");
    assert_eq!(a.as_str(), Some("lit\nmore\n"));
    assert_eq!(node.field("b").unwrap().as_str(), Some("folded"));
}

#[test]
fn core_schema_only_for_plain_scalars() {
    let node = root("a: 1\nb: '1'\nc: true\nd: yes\ne: 2001-12-14\nf: ~\ng: !!str 5\nh: !!float 1\ni: !x 3\n");
    let v = |k: &str| node.field(k).unwrap().value.clone();
    assert_eq!(v("a"), Value::Int(1));
    assert_eq!(v("b"), Value::String("1".into()));
    assert_eq!(v("c"), Value::Bool(true));
    assert_eq!(v("d"), Value::String("yes".into()));
    assert_eq!(v("e"), Value::String("2001-12-14".into()));
    assert_eq!(v("f"), Value::Null);
    assert_eq!(v("g"), Value::String("5".into()));
    assert_eq!(v("h"), Value::Float(1.0));
    assert_eq!(node.field("i").unwrap().tag.as_deref(), Some("!x"));
}

#[test]
fn duplicate_keys_keep_the_first_and_say_so() {
    let text = "a: 1\nb: 2\na: 3\n";
    let parsed = parse(text);
    let root = parsed.documents[0].root.as_ref().unwrap();
    assert_eq!(root.field("a").unwrap().value, Value::Int(1));
    assert_eq!(root.as_map().unwrap().len(), 2);
    let [d] = parsed.diagnostics.as_slice() else { panic!("{:?}", parsed.diagnostics) };
    assert_eq!((d.code, d.span, d.labels[0].span), ("OSP012", Span::new(10, 11), Span::new(0, 1)));
}

#[test]
fn merge_keys_resolve() {
    let node = root("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n");
    let merged = node.field("use").unwrap();
    assert_eq!(merged.to_json(), serde_json::json!({"x": 1, "y": 3}));
}

#[test]
fn multi_document_streams() {
    let parsed = parse("a: 1\n---\nb: 2\n...\n---\n");
    assert!(parsed.diagnostics.is_empty());
    let roots: Vec<_> = parsed.documents.iter().map(|d| d.root.as_ref().map(Node::to_json)).collect();
    assert_eq!(roots, [Some(serde_json::json!({"a": 1})), Some(serde_json::json!({"b": 2})), None]);
}

#[test]
fn unknown_and_recursive_aliases_are_errors() {
    let parsed = parse("a: *nope\n");
    assert_eq!(parsed.diagnostics[0].code, "OSP013");
    assert_eq!(parsed.diagnostics[0].span, Span::new(3, 4));
    let parsed = parse("a: &x [*x]\n");
    assert_eq!(parsed.diagnostics[0].code, "OSP014");
}

#[test]
fn one_bad_line_keeps_the_keys_around_it() {
    let text = "first: 1\nsecond: [a, b\nthird: x: y\nfourth: 4\nlast:\n  - 5\n";
    let parsed = parse(text);
    assert!(!parsed.diagnostics.is_empty());
    let root = parsed.documents[0].root.as_ref().unwrap();
    assert_eq!(root.field("first").unwrap().value, Value::Int(1));
    assert_eq!(root.field("fourth").unwrap().value, Value::Int(4));
    assert_eq!(root.field("last").unwrap().to_json(), serde_json::json!([5]));
}

#[test]
fn a_tab_indented_line_is_reported_and_skipped() {
    let parsed = parse("a: 1\nb:\n\tc: 2\nd: 3\n");
    assert_eq!(parsed.diagnostics[0].code, "OSP011");
    let root = parsed.documents[0].root.as_ref().unwrap();
    assert_eq!(root.field("d").unwrap().value, Value::Int(3));
}

#[test]
fn unterminated_quotes_are_located() {
    let text = "a: 1\nb: \"open\nc: 3\n";
    let parsed = parse(text);
    assert_eq!(parsed.diagnostics[0].code, "OSP010");
    assert!(parsed.diagnostics[0].span.start >= 5);
    let root = parsed.documents[0].root.as_ref().unwrap();
    assert_eq!(root.field("a").unwrap().value, Value::Int(1));
    assert_eq!(root.field("c").unwrap().value, Value::Int(3));
}

#[test]
fn deep_nesting_is_one_error() {
    let text: String = (0..2000).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let parsed = parse(&text);
    let deep: Vec<_> = parsed.diagnostics.iter().filter(|d| d.code == "OSP015").collect();
    assert_eq!(deep.len(), 1);
}
