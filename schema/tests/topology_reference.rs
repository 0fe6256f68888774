//! `docs/topology-builtins.md` is generated from the catalog; this test fails when the committed
//! file is stale, and `OSPECC_BLESS=1` rewrites it (review the diff).

use std::path::Path;

#[test]
fn the_builtin_reference_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/topology-builtins.md");
    let generated = ospecc_schema::topology::reference_markdown();
    if std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write docs/topology-builtins.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/topology-builtins.md is stale; regenerate it with `OSPECC_BLESS=1 cargo test -p ospecc-schema`"
    );
}
