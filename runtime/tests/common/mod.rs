//! What the protocol mocks' tests share: a mock service as the plan writes it, a dynamic
//! handler for mocks that never call one, and the `ospecc` binary of this build.

// Each test file uses the part it needs.
#![allow(dead_code)]

use std::path::PathBuf;

use ospecc_runtime::mock::{DynamicHandler, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use serde_json::{json, Value};

/// A mock service with one interface `main` of `protocol`, seeded with `config`.
pub fn mock_service(name: &str, protocol: &str, port: u16, config: Value) -> Service {
    serde_json::from_value(json!({
        "name": name,
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": [], "config": config },
        "interfaces": [{ "name": "main", "protocol": protocol, "port": port }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

/// For mocks that never call a dynamic handler.
pub struct NoHandler;

impl DynamicHandler for NoHandler {
    fn respond(&self, _: &str, _: &MockRequest) -> MockReply {
        MockReply { status: 500, headers: Vec::new(), body: Vec::new() }
    }
}

/// The `ospecc` binary of this build (`cargo test --workspace` builds it for the root
/// package's tests), beside this test's own executable; `None` when it is not built.
pub fn ospecc_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.parent()?.join("ospecc");
    binary.is_file().then_some(binary)
}
