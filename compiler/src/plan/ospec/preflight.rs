//! The preflight (ospec-format.md §5.5): one `EnvPresent` probe per `secrets.required` entry,
//! checked before anything starts. Only presence is checked; values are never read into the
//! plan or any output.

use ospecc_schema::plan::acceptance::{Check, Probe};

use super::context::Lowering;
use crate::syntax::yaml::{Node, Value};

pub(crate) fn lower(cx: &mut Lowering) -> Vec<Probe> {
    let root = cx.root;
    let required = root.field("secrets").and_then(|s| s.field("required")).and_then(Node::as_seq).unwrap_or_default();
    let mut probes: Vec<Probe> = Vec::new();
    for (index, item) in required.iter().enumerate() {
        let Some(variable) = variable(item) else {
            let fallback = format!("secrets.required[{index}]");
            cx.unverifiable(item.span, &fallback, "not a secret name (an environment variable, or `{key: NAME}`)");
            continue;
        };
        // Listing a secret twice does not make two checks.
        if probes.iter().any(|p| matches!(&p.check, Check::EnvPresent { variable: v } if *v == variable)) {
            continue;
        }
        let check = Check::EnvPresent { variable: variable.clone() };
        probes.push(cx.probe(format!("secret.{variable}"), item.span, check, None));
    }
    probes
}

/// `DATABASE_URL`, or `{key: DATABASE_URL, ...}`.
fn variable(item: &Node) -> Option<String> {
    let name = match &item.value {
        Value::String(name) => name.trim(),
        Value::Map(_) => item.field("key")?.as_str()?.trim(),
        _ => return None,
    };
    (!name.is_empty()).then(|| name.to_owned())
}
