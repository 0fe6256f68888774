use super::*;

#[test]
fn placeholder() {
    let _ = Options::default();
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
