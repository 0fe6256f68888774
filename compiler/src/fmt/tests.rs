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
