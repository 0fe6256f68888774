//! Attribute access on recorded values: `svc.name`, `svc.iface` (an `interface_ref`),
//! `svc.iface.internal_addr`. The few attributes whose values a spec computes with at load
//! time (addresses and ports, concatenated into `env=`) get real values, following Faultbox at
//! spec load (the host port is not known yet, so the declared port is used). Every other
//! attribute the catalog declares for the value's type is an opaque value of its type.

use std::cell::Cell;
use std::sync::Arc;

use ospecc_schema::topology::catalog;
use starlark::values::{Heap, Value};

use super::values::{Arg, Recorded, RecordedValue};

/// The value of `record.attribute`, or `None` (Starlark then reports a missing attribute).
pub(crate) fn get<'v>(record: &Arc<Recorded>, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
    Some(match resolve(record, attribute)? {
        Arg::Str(s) => heap.alloc(s),
        Arg::Int(i) => heap.alloc(i),
        Arg::Record(r) => heap.alloc(RecordedValue(r)),
        _ => Value::new_none(),
    })
}

/// `record.attribute` as plain data, for evaluation and for the static analysis of function
/// bodies alike: a string or port for addresses, a record for everything else.
pub(crate) fn resolve(record: &Arc<Recorded>, attribute: &str) -> Option<Arg> {
    match record.ty.as_str() {
        "service" => {
            // Interface names shadow the fixed attributes (reference §2.1).
            if let Some(iface) = interfaces(record).find(|i| i.name() == Some(attribute)) {
                return Some(Arg::Record(interface_ref(record, iface)));
            }
            if attribute == "name" {
                return record.name().map(|n| Arg::Str(n.to_owned()));
            }
            // `api.post(...)`: a step of the service's default interface.
            if let Some(iface) = super::bodies::default_interface(record) {
                if let Some(step) = declared(&iface, attribute).filter(|ty| ty == "step_method") {
                    return Some(Arg::Record(Arc::new(Recorded {
                        builtin: format!(".{attribute}"),
                        ty: step,
                        file: record.file.clone(),
                        span: record.span,
                        positional: vec![Arg::Record(iface)],
                        named: Vec::new(),
                    })));
                }
            }
        }
        "interface_ref" => {
            if let Some(value) = address_attribute(record, attribute) {
                return Some(value);
            }
        }
        _ => {}
    }
    declared(record, attribute).map(|ty| {
        Arg::Record(Arc::new(Recorded {
            builtin: format!(".{attribute}"),
            ty,
            file: record.file.clone(),
            span: record.span,
            positional: vec![Arg::Record(record.clone())],
            named: Vec::new(),
        }))
    })
}

/// The attribute names of a recorded value (for `dir()` and did-you-mean).
pub fn names(record: &Arc<Recorded>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    match record.ty.as_str() {
        "service" => {
            names.push("name".into());
            names.extend(interfaces(record).filter_map(|i| i.name().map(str::to_owned)));
        }
        "interface_ref" => names.extend(ADDRESS_ATTRIBUTES.iter().map(|s| (*s).to_owned())),
        _ => {}
    }
    if let Some(ty) = catalog().value_type(&record.ty) {
        names.extend(ty.attributes.iter().map(|a| a.name.clone()));
    }
    if let Some(protocol) = protocol_of(record).and_then(|p| catalog().protocol(p)) {
        names.extend(protocol.methods.iter().map(|m| m.name.clone()));
    }
    names.sort();
    names.dedup();
    names
}

const ADDRESS_ATTRIBUTES: &[&str] =
    &["addr", "host", "port", "internal_addr", "proxy_addr", "proxy_host", "proxy_port"];

/// The interfaces among a service's positional arguments.
pub(crate) fn interfaces(service: &Recorded) -> impl Iterator<Item = &Arc<Recorded>> {
    service.positional_records().filter(|r| r.ty == "interface")
}

/// `svc.iface`: the service and the interface, with the interface's span.
fn interface_ref(service: &Arc<Recorded>, iface: &Arc<Recorded>) -> Arc<Recorded> {
    Arc::new(Recorded {
        builtin: "interface_ref".into(),
        ty: "interface_ref".into(),
        file: iface.file.clone(),
        span: iface.span,
        positional: vec![Arg::Record(service.clone()), Arg::Record(iface.clone())],
        named: Vec::new(),
    })
}

/// The (service, interface) pair of an `interface_ref`.
pub(crate) fn parts(iface_ref: &Recorded) -> Option<(&Recorded, &Recorded)> {
    match iface_ref.positional.as_slice() {
        [Arg::Record(service), Arg::Record(iface), ..] => Some((service, iface)),
        _ => None,
    }
}

/// An interface's argument by position or keyword (`interface(name, protocol, port)`).
pub(crate) fn interface_arg<'a>(iface: &'a Recorded, index: usize, name: &str) -> Option<&'a Arg> {
    iface.positional.get(index).or_else(|| iface.named(name))
}

pub(crate) fn protocol_of(record: &Recorded) -> Option<&str> {
    let (_, iface) = parts(record)?;
    match interface_arg(iface, 1, "protocol") {
        Some(Arg::Str(p)) => Some(p),
        _ => None,
    }
}

/// What address attributes evaluate to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Addresses {
    /// Concrete strings, as Faultbox renders them at spec load (for checking).
    #[default]
    Values,
    /// Markers `«service.interface.attribute»` that lowering turns back into references.
    Markers,
}

thread_local! {
    static ADDRESSES: Cell<Addresses> = const { Cell::new(Addresses::Values) };
}

/// Sets what address attributes evaluate to on this (analysis) thread.
pub(crate) fn set_addresses(addresses: Addresses) {
    ADDRESSES.with(|a| a.set(addresses));
}

/// What address attributes evaluate to on this thread (a second analysis thread inherits it).
pub(crate) fn addresses() -> Addresses {
    ADDRESSES.with(Cell::get)
}

const MARKER_OPEN: char = '«';
const MARKER_CLOSE: char = '»';

/// A piece of a string evaluated with [`Addresses::Markers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPart {
    Text(String),
    Address { service: String, interface: String, attribute: String },
}

/// Splits a string into text and address references. A marker-like piece that is not a
/// well-formed reference stays text.
pub fn address_parts(text: &str) -> Vec<AddressPart> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut pending = String::new();
    while let Some(open) = rest.find(MARKER_OPEN) {
        let after = &rest[open + MARKER_OPEN.len_utf8()..];
        let reference = after.find(MARKER_CLOSE).and_then(|close| {
            let inner = &after[..close];
            let mut fields = inner.splitn(3, '.');
            let (service, interface, attribute) = (fields.next()?, fields.next()?, fields.next()?);
            ADDRESS_ATTRIBUTES.contains(&attribute).then(|| {
                (
                    AddressPart::Address {
                        service: service.to_owned(),
                        interface: interface.to_owned(),
                        attribute: attribute.to_owned(),
                    },
                    close + MARKER_CLOSE.len_utf8(),
                )
            })
        });
        match reference {
            Some((part, consumed)) => {
                pending.push_str(&rest[..open]);
                if !pending.is_empty() {
                    parts.push(AddressPart::Text(std::mem::take(&mut pending)));
                }
                parts.push(part);
                rest = &after[consumed..];
            }
            None => {
                pending.push_str(&rest[..open + MARKER_OPEN.len_utf8()]);
                rest = after;
            }
        }
    }
    pending.push_str(rest);
    if !pending.is_empty() {
        parts.push(AddressPart::Text(pending));
    }
    parts
}

fn address_attribute(iface_ref: &Recorded, attribute: &str) -> Option<Arg> {
    if ADDRESSES.with(Cell::get) == Addresses::Markers && attribute != "port" {
        let (service, iface) = parts(iface_ref)?;
        if !ADDRESS_ATTRIBUTES.contains(&attribute) {
            return None;
        }
        let (service, iface) = (service.name().unwrap_or("service"), iface.name().unwrap_or("iface"));
        return Some(Arg::Str(format!("{MARKER_OPEN}{service}.{iface}.{attribute}{MARKER_CLOSE}")));
    }
    address_value(iface_ref, attribute)
}

/// The address attribute as Faultbox renders it at spec load.
pub fn address_value(iface_ref: &Recorded, attribute: &str) -> Option<Arg> {
    let (service, iface) = parts(iface_ref)?;
    let port = match interface_arg(iface, 2, "port") {
        Some(Arg::Int(p)) => *p,
        _ => 0,
    };
    let service_name = service.name().unwrap_or("service");
    let iface_name = iface.name().unwrap_or("iface");
    // Containers reach each other by service name; binaries share the host's loopback.
    let container = service.named("image").is_some() || service.named("build").is_some();
    let placeholder = format!("__FB_PROXY_ADDR_{service_name}__{iface_name}__");
    Some(match attribute {
        "addr" => Arg::Str(format!("localhost:{port}")),
        "host" => Arg::Str("localhost".into()),
        "port" => Arg::Int(port),
        "internal_addr" if container => Arg::Str(format!("{service_name}:{port}")),
        "internal_addr" => Arg::Str(format!("localhost:{port}")),
        // Late-bound at launch (reference §2.2); only meaningful inside `env` values.
        "proxy_addr" => Arg::Str(placeholder),
        "proxy_host" => Arg::Str(format!("__FB_PROXY_HOST_{service_name}__{iface_name}__")),
        "proxy_port" => Arg::Str(format!("__FB_PROXY_PORT_{service_name}__{iface_name}__")),
        _ => return None,
    })
}

/// The type of an attribute the catalog declares for the value's type, or a step method of an
/// interface's protocol (`svc.iface.post`, an opaque `step_method` at load time).
fn declared(record: &Recorded, attribute: &str) -> Option<String> {
    if let Some(attr) = catalog().value_type(&record.ty).and_then(|t| t.attributes.iter().find(|a| a.name == attribute))
    {
        return Some(attr.ty.clone());
    }
    let protocol = catalog().protocol(protocol_of(record)?)?;
    protocol.methods.iter().any(|m| m.name == attribute).then(|| "step_method".to_owned())
}
