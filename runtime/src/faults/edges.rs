//! Which proxy edges a lifecycle gets. An edge is (consumer, target interface): every service
//! whose environment references another service's interface consumes it, and the test driver
//! (consumer `test`) consumes every interface it can step. Proxies run only for tests whose
//! faults need them (protocol rules, partitions, or fault sites whose kind is not known
//! statically); other tests reach services directly, with no extra hop.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use ospecc_schema::plan::topology::{EnvPart, Launch, Test};
use ospecc_schema::plan::Plan;

use crate::proxy::Edge;

/// The consumer name of the test driver's own steps.
pub const TEST_DRIVER: &str = "test";

/// Whether the test's faults can need a proxy.
pub fn needed(test: &Test) -> bool {
    !test.proxy_rules.is_empty()
        || test.scoped_faults.iter().any(|f| {
            f.builtin.starts_with("partition")
                || f.interface.is_some()
                || f.assumption.is_some()
                || (f.services.is_empty() && f.builtin.starts_with("fault"))
        })
}

/// Every edge of the plan, sorted: service consumers from their env references, then the test
/// driver to every interface with a port. Local binaries, containers (on the host's network) and
/// in-process mocks are fronted (a mock's faults mean what they mean for a real server: the
/// proxy stands before its port); a remote's address is not ours to re-route.
pub fn of(plan: &Plan) -> Vec<Edge> {
    let mut edges: BTreeSet<(String, String, String)> = BTreeSet::new();
    for consumer in &plan.services {
        for var in &consumer.env {
            for part in &var.parts {
                if let EnvPart::Address { service, interface, .. } = part {
                    edges.insert((consumer.name.clone(), service.clone(), interface.clone()));
                }
            }
        }
    }
    for service in &plan.services {
        for interface in &service.interfaces {
            edges.insert((TEST_DRIVER.to_owned(), service.name.clone(), interface.name.clone()));
        }
    }
    edges
        .into_iter()
        .filter_map(|(consumer, service, interface)| {
            let target = plan.services.iter().find(|s| s.name == service)?;
            if matches!(target.launch, Launch::Remote { .. }) {
                return None;
            }
            let iface = target.interfaces.iter().find(|i| i.name == interface)?;
            let upstream = SocketAddr::from(([127, 0, 0, 1], iface.port?));
            Some(Edge { consumer, service, interface, protocol: iface.protocol.clone(), upstream })
        })
        .collect()
}
