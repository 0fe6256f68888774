use super::*;

#[test]
fn range_formatting_touches_only_the_selected_statement() {
    let text = "x=1\nz = 0\ny=2\n";
    let (edits, _) = format_range(Language::Topology, text, Span::new(0, 1), &Options::default());
    assert_eq!(edits, vec![TextEdit { range: Span::new(0, 4), new_text: "x = 1\n".into() }]);
}

#[test]
fn range_formatting_takes_a_re_indented_block_whole_and_nothing_outside_it() {
    let text = "a:\n    - x: 1\n      y: 2\nb:    3\n";
    let range = Span::new(text.find("y:").unwrap(), text.find("y:").unwrap() + 1);
    let (edits, _) = format_range(Language::OSpec, text, range, &Options::default());
    assert_eq!(edits::apply(text, &edits), "a:\n  - x: 1\n    y: 2\nb:    3\n");
}

fn star(text: &str) -> String {
    let formatted = format(Language::Topology, text, &Options::default());
    assert!(formatted.diagnostics.is_empty(), "{:?}", formatted.diagnostics);
    let out = formatted.text.expect("formatted");
    let again = format(Language::Topology, &out, &Options::default());
    assert_eq!(again.text.as_deref(), Some(out.as_str()), "idempotent");
    out
}

#[test]
fn starlark_basics() {
    assert_eq!(star("x=1+2\ny = f(a,b , c=3)\n"), "x = 1 + 2\ny = f(a, b, c = 3)\n");
    assert_eq!(star("def f(x):\n  return -x\nf(1)\n"), "def f(x):\n    return -x\n\n\nf(1)\n");
    assert_eq!(star("load(\"m\", \"b\", \"a\", c = \"d\")\n"), "load(\"m\", \"a\", \"b\", c = \"d\")\n");
}

#[test]
fn starlark_comments_stay_where_they_belong() {
    let text = "# head\nx = f(  # open\n  a,  # after a\n  # before b\n  b,\n)\ndef g():\n  pass  # why\n  # end of g\n# after g\ny = [1,\n 2]\n";
    let out = star(text);
    assert_eq!(
        out,
        "# head\nx = f(  # open\n    a,  # after a\n    # before b\n    b,\n)\n\n\ndef g():\n    pass  # why\n    # end of g\n\n\n# after g\ny = [1, 2]\n"
    );
}

#[test]
fn long_calls_break_one_argument_per_line_and_parenthesised_chains_at_operators() {
    let options = Options { line_width: 40, ..Options::default() };
    let text = "service(\"api\", interface(\"http\", \"http\", 8080), env = {\"A\": \"1\"})\nif (aaaaaaaaaa and bbbbbbbbbbbb and cccccccccccc):\n    pass\n";
    let out = format(Language::Topology, text, &options).text.unwrap();
    assert_eq!(
        out,
        "service(\n    \"api\",\n    interface(\"http\", \"http\", 8080),\n    env = {\"A\": \"1\"},\n)\nif (\n    aaaaaaaaaa\n    and bbbbbbbbbbbb\n    and cccccccccccc\n):\n    pass\n"
    );
}

#[test]
fn a_comment_inside_an_expression_leaves_the_file_as_written() {
    let result = format(Language::Topology, "x = (1 +  # one\n     2)\n", &Options::default());
    assert!(result.text.is_none());
    assert_eq!(result.diagnostics[0].code, "FMT001");
}

#[test]
fn starlark_syntax_errors_leave_the_text_untouched() {
    let result = format(Language::Topology, "x = (1,\n", &Options::default());
    assert!(result.text.is_none() && result.has_errors());
    assert_eq!(result.diagnostics[0].code, "TOP001");
}

/// Formats and checks idempotence; the formatted text.
fn formatted(language: Language, text: &str) -> String {
    let result = format(language, text, &Options::default());
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    let out = result.text.expect("formatted");
    assert_eq!(format(language, &out, &Options::default()).text.as_deref(), Some(out.as_str()), "idempotent");
    out
}

#[test]
fn crlf_files_keep_their_line_breaks() {
    let yaml = "name:    shop\r\nlist:\r\n-   a\r\n-   b: |\r\n        two\r\n        lines\r\n";
    assert_eq!(
        formatted(Language::OSpec, yaml),
        "name: shop\r\nlist:\r\n  - a\r\n  - b: |\r\n      two\r\n      lines\r\n"
    );
    // A multi-line string keeps its `\r\n`s, so its value.
    let star = "x=1\r\ndef f():\r\n  return '''a\r\nb'''\r\n";
    assert_eq!(formatted(Language::Topology, star), "x = 1\r\n\r\n\r\ndef f():\r\n    return '''a\r\nb'''\r\n");
    assert_eq!(formatted(Language::Topology, "x = 1 + \\\r\n    2\r\n"), "x = 1 + 2\r\n");
    // The first line break decides (rustfmt's `newline_style = "Auto"`).
    assert_eq!(formatted(Language::OSpec, "a:    1\nb:    2\r\n"), "a: 1\nb: 2\n");
    assert_eq!(formatted(Language::Topology, "a=1\r\nb=2\n"), "a = 1\r\nb = 2\r\n");
}

#[test]
fn mixed_line_breaks_inside_a_string_leave_the_file_as_written() {
    // Made one kind, the string's `\n` would become `\r\n`: another value.
    let result = format(Language::Topology, "x = 1\r\ny = '''a\nb'''\r\n", &Options::default());
    assert!(result.text.is_none(), "{:?}", result.text);
    assert_eq!(result.diagnostics[0].code, "FMT001");
    assert!(!result.has_errors());
}

#[test]
fn a_byte_order_mark_stays_before_the_formatted_text() {
    assert_eq!(formatted(Language::OSpec, "\u{feff}a:    1\r\nb:\r\n- x\r\n"), "\u{feff}a: 1\r\nb:\r\n  - x\r\n");
    // starlark-rust does not read a topology file with a mark: a syntax error, as in `check`.
    let result = format(Language::Topology, "\u{feff}x=1\n", &Options::default());
    assert!(result.text.is_none() && result.has_errors());
}

#[test]
fn places_in_a_crlf_file_are_its_own() {
    // An explicit key is left as written; the note points at it in the CRLF text.
    let text = "\u{feff}a: 1\r\nb: 2\r\n? c\r\n: 3\r\n";
    let result = format(Language::OSpec, text, &Options::default());
    assert!(result.text.is_none());
    let span = result.diagnostics[0].span;
    assert_eq!(&text[span.start..span.start + 3], "? c", "{span:?}");
}
