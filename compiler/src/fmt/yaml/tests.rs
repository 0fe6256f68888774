use super::super::{format as fmt, Language, Options};

fn yaml(text: &str) -> String {
    let formatted = fmt(Language::OSpec, text, &Options::default());
    assert!(formatted.diagnostics.is_empty(), "{:?}", formatted.diagnostics);
    let out = formatted.text.expect("formatted");
    let again = fmt(Language::OSpec, &out, &Options::default()).text.expect("formatted again");
    assert_eq!(again, out, "idempotent");
    out
}

#[test]
fn indentation_and_gaps() {
    assert_eq!(yaml("a:\n    b:   1\n    c :  x\nd:\n- 1\n-   2\n"), "a:\n  b: 1\n  c: x\nd:\n  - 1\n  - 2\n");
    assert_eq!(yaml("- a: 1\n  b:\n      - x\n-   c: 2\n    d: 3\n"), "- a: 1\n  b:\n    - x\n- c: 2\n  d: 3\n");
}

#[test]
fn comments_anchors_and_block_scalars_are_kept() {
    let text = "# head\nbase: &b\n    x: 1   # one\n    # about y\n    y: |\n        keep\n          this\nuse: *b\n\n\n\nlist:\n- a\n# end\n";
    let out = yaml(text);
    assert_eq!(
        out,
        "# head\nbase: &b\n  x: 1   # one\n  # about y\n  y: |\n    keep\n      this\nuse: *b\n\nlist:\n  - a\n# end\n"
    );
}

#[test]
fn syntax_errors_leave_the_text_untouched() {
    let result = fmt(Language::OSpec, "a: [1, 2\nb: 3\n", &Options::default());
    assert!(result.text.is_none() && result.has_errors(), "{:?}", result.diagnostics);
}

#[test]
fn a_block_scalar_at_the_end_keeps_its_missing_line_break() {
    assert_eq!(yaml("a:\n    b: |\n        x"), "a:\n  b: |\n    x");
}

#[test]
fn a_stream_parsed_document_by_document_is_the_stream() {
    let document = "# c\nname:   shop\nlist:\n- a\n-   b: |\n      x\n";
    let stream = format!("# lead\n---\n{document}---\nk: v\n{document}---   # last\n[1, 2]\n");
    let chunked = super::verify::one_by_one(&stream).expect("split into documents");
    let whole = crate::syntax::yaml::parse(&stream);
    assert!(whole.diagnostics.is_empty());
    assert_eq!(chunked.len(), 3);
    assert_eq!(chunked.len(), whole.documents.len());
    for (a, b) in chunked.iter().zip(&whole.documents) {
        assert!(super::verify::same_node(a.root.as_ref().unwrap(), b.root.as_ref().unwrap()));
    }
    let formatted = yaml(&stream);
    assert!(formatted.contains("list:\n  - a\n  - b: |\n      x\n---\nk: v\n"), "{formatted}");
    // Anchors, directives or an empty document: the stream is parsed whole.
    assert!(super::verify::one_by_one("a: &x 1\n---\nb: 2\n").is_none());
    assert!(super::verify::one_by_one("%YAML 1.2\n---\na: 1\n---\nb: 2\n").is_none());
    assert!(super::verify::one_by_one("a: 1\n---\n---\nb: 2\n").is_none());
}

#[test]
fn a_changed_stream_is_checked_document_by_document() {
    let stream = "a:\n    b: 1\n---\nc:\n    - x\n---\nd: |\n    x\n     y\n";
    assert_eq!(yaml(stream), "a:\n  b: 1\n---\nc:\n  - x\n---\nd: |\n  x\n   y\n");
    // The same characters, but a block scalar's content changed in the third document.
    let tampered = "a:\n  b: 1\n---\nc:\n  - x\n---\nd: |\n  x\n  y\n";
    let error = super::verify::verify(stream, tampered).unwrap_err();
    assert_eq!(error, "document 3 has a different value tree after formatting");
    // A text that no longer splits into the same documents is compared whole.
    let moved = "a:\n  b: 1\n ---\nc:\n  - x\n---\nd: |\n  x\n   y\n";
    let error = super::verify::verify(stream, moved).unwrap_err();
    assert!(error.starts_with("the formatted text does not parse"), "{error}");
}
