//! The committed plan JSON Schema (`schema/plan/plan.schema.json`) is generated from the IR
//! types: this test fails when the file is stale, and `OSPECC_BLESS=1` rewrites it.

use ospecc_schema::plan::{generated_schema, PLAN_SCHEMA, PLAN_VERSION};

#[test]
fn committed_plan_schema_matches_the_types() {
    let generated = generated_schema();
    if std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plan/plan.schema.json");
        std::fs::write(path, &generated).expect("write plan.schema.json");
        return;
    }
    assert!(
        generated == PLAN_SCHEMA,
        "schema/plan/plan.schema.json is stale; regenerate it with `OSPECC_BLESS=1 cargo test -p ospecc-schema`"
    );
}

#[test]
fn the_schema_names_the_version() {
    let schema: serde_json::Value = serde_json::from_str(PLAN_SCHEMA).expect("the schema is JSON");
    assert_eq!(schema["title"], "Plan");
    assert_eq!(schema["properties"]["version"]["const"], PLAN_VERSION, "bump the schema's const with the version");
    assert!(schema["required"].as_array().is_some_and(|r| r.iter().any(|v| v == "version")));
}
