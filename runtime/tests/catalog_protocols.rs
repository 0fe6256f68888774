//! The catalog's per-protocol facts about this runtime (`mock_served`, `steps_run`) agree with
//! the runtime itself: `ospecc check` warns from the catalog (it cannot see the runtime), so a
//! protocol the runtime serves must be marked served, or check would warn about a mock that
//! runs. The tests read the runtime's own tables, so they keep agreeing as rows are added.

use ospecc_runtime::mock::PROTOCOLS;
use ospecc_runtime::scenario::runner::STEP_PROTOCOLS;
use ospecc_schema::topology::catalog;

#[test]
fn every_protocol_with_an_in_process_mock_is_marked_served_in_the_catalog() {
    assert!(!PROTOCOLS.is_empty());
    for (name, _) in PROTOCOLS {
        let entry = catalog().protocol(name).unwrap_or_else(|| panic!("`{name}` is not a catalog protocol"));
        assert!(entry.mock_served, "the runtime mocks `{name}` but the catalog says `mock_served: false`");
    }
}

#[test]
fn served_mocks_and_run_steps_are_for_protocols_faultbox_has_them_for() {
    for protocol in &catalog().protocols {
        if protocol.mock_served {
            assert!(protocol.mock_capable, "`{}` is served but not mock_capable", protocol.name);
        }
        if protocol.steps_run {
            assert!(!protocol.methods.is_empty(), "`{}` runs steps but has no step methods", protocol.name);
        }
    }
}

#[test]
fn every_protocol_the_runner_steps_is_marked_in_the_catalog() {
    assert!(STEP_PROTOCOLS.contains(&"http"));
    for name in STEP_PROTOCOLS {
        let entry = catalog().protocol(name).unwrap_or_else(|| panic!("`{name}` is not a catalog protocol"));
        assert!(entry.steps_run, "the runner steps `{name}` but the catalog says `steps_run: false`");
    }
}
