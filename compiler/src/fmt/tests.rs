use super::*;

#[test]
fn placeholder() {
    let _ = Options::default();
}
