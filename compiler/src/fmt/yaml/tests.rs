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
fn dump_events() {
    for text in ["s: { r: 1, f: [a, b] }\n- [ a ]\n", "k: |\n  x\nf: !foo >1\n  y\n", "- a: 1\n  b:\n      - x\n- - y\n", "k: &x\n  a: 1\nl: !!map\n  b: |\n    t\n", "-\n- b\n"] {
        let mut parser = saphyr_parser::Parser::new_from_str(text);
        eprintln!("{text:?}");
        while let Some(Ok((ev, span))) = parser.next_event() {
            eprintln!("  {:?} {}..{}", ev, span.start.index(), span.end.index());
        }
    }
}

#[test]
#[ignore]
fn scratch_corpus() {
    let mut files = Vec::new();
    for dir in std::fs::read_dir("/work/shared/data/faultbox-corpus/corpus").unwrap() {
        files.push(dir.unwrap().path());
    }
    files.push("/work/shared/data/faultbox-corpus/poc/mock-demo/faultbox.star".into());
    for dir in std::fs::read_dir("/work/shared/data/yaml-test-suite").unwrap() {
        let p = dir.unwrap().path().join("in.yaml");
        if p.exists() { files.push(p); }
    }
    let out = std::process::Command::new("git").args(["-C", "/work/wt/fmt", "ls-files"]).output().unwrap();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        if l.ends_with(".yml") || l.ends_with(".yaml") || l.ends_with(".ospec") || l.ends_with(".star") {
            files.push(std::path::PathBuf::from("/work/wt/fmt").join(l));
        }
    }
    let (mut changed, mut unsupported, mut invalid, mut failed, mut nonidem) = (0, 0, 0, 0, 0);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let lang = if f.extension().is_some_and(|e| e == "star") { Language::Topology } else { Language::OSpec };
        if std::env::var("FMT_LANG").is_ok_and(|l| (l == "star") != (lang == Language::Topology)) { continue; }
        let r = fmt(lang, &text, &Options::default());
        match &r.text {
            Some(t) => {
                if *t != text { changed += 1; }
                let again = fmt(lang, t, &Options::default());
                if again.text.as_deref() != Some(t.as_str()) { nonidem += 1; eprintln!("NONIDEM {}", f.display()); }
            }
            None => {
                let d = &r.diagnostics[0];
                match d.code { "FMT001" => { unsupported += 1; eprintln!("UNSUP {} {} {:?}", f.display(), d.message, &text[d.span.start..d.span.end.min(text.len())]); }
                  "FMT002" => { failed += 1; eprintln!("FAIL {} {:?}", f.display(), d.notes); }
                  _ => invalid += 1 }
            }
        }
    }
    if let Ok(one) = std::env::var("FMT_STAR") {
        let text = std::fs::read_to_string(&one).unwrap();
        eprintln!("OUT<<{}>>", crate::fmt::starlark::layout_unchecked(&text, &Options::default()).unwrap());
        return;
    }
    if let Ok(one) = std::env::var("FMT_ONE") {
        let text = std::fs::read_to_string(&one).unwrap();
        let t = super::super::unix_lines(&text).unwrap();
        let lines = super::lines::split(&t);
        let l = super::structure::layout(&t, &lines, 2).unwrap();
        eprintln!("{:?}", l.rules);
        eprintln!("OUT<<{}>>", super::render(&t, &lines, &l, true).unwrap());
        return;
    }
    eprintln!("files {} changed {changed} unsupported {unsupported} invalid {invalid} failed {failed} nonidem {nonidem}", files.len());
}
