//! Services: how each is launched, its interfaces, environment (address references kept as
//! references), ports, healthcheck and dependencies, in start order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ospecc_schema::plan::topology::{
    Callable, EnvPart, EnvVar, Healthcheck, Interface, Launch, MockOpenApi, MockResponse, MockRoute, Observe, Op,
    PortMap, Service, Volume,
};
use ospecc_schema::topology::{builtins, catalog, Builtin};

use super::Cx;
use crate::topology::attrs::{self, AddressPart};
use crate::topology::{Arg, Recorded};

/// Faultbox polls a healthcheck every 100 ms (reference §1.2).
const HEALTH_INTERVAL_MS: u64 = 100;

/// Every declared service (the last declaration of a name wins, as in Faultbox), in start
/// order: dependencies first, otherwise by name.
pub(super) fn lower(cx: &Cx) -> Vec<Service> {
    let mut by_name: BTreeMap<String, &Arc<Recorded>> = BTreeMap::new();
    for call in cx.evaluated.services() {
        if let Some(name) = call.name() {
            by_name.insert(name.to_owned(), call);
        }
    }
    let services: Vec<Service> = by_name.values().map(|call| service(cx, call)).collect();
    let ports = interface_ports(&services);
    let services = services.into_iter().map(|s| with_rendered_env(s, &ports)).collect();
    start_order(services)
}

fn service(cx: &Cx, call: &Recorded) -> Service {
    let name = call.name().unwrap_or_default().to_owned();
    let interfaces: Vec<Interface> = attrs::interfaces(call).map(|i| interface(i)).collect();
    let mut env: Vec<EnvVar> = dict_entries(call.named("env"))
        .map(|(key, value)| EnvVar { name: key, parts: env_parts(&value), rendered: String::new() })
        .collect();
    env.sort_by(|a, b| a.name.cmp(&b.name));
    Service {
        launch: launch(cx, call),
        origin: cx.origin(call),
        healthcheck: call.named("healthcheck").and_then(Arg::record).and_then(|h| healthcheck(h, &interfaces)),
        interfaces,
        env,
        ports: ports(call),
        volumes: volumes(call),
        depends_on: depends_on(call),
        observe: list(call.named("observe")).iter().filter_map(Arg::record).filter_map(|o| observe(o)).collect(),
        ops: ops(call),
        seccomp: !matches!(call.named("seccomp"), Some(Arg::Bool(false))),
        intercept: Vec::new(),
        intercept_unknown: Vec::new(),
        reuse: matches!(call.named("reuse"), Some(Arg::Bool(true))),
        seed: hook(cx, call, "seed"),
        reset: hook(cx, call, "reset"),
        name,
    }
}

/// A lifecycle hook (`seed=`, `reset=`) given as a function.
fn hook(cx: &Cx, call: &Recorded, key: &str) -> Option<Callable> {
    match call.named(key) {
        Some(Arg::Function(function)) => Some(cx.callable(function)),
        _ => None,
    }
}

fn launch(cx: &Cx, call: &Recorded) -> Launch {
    let args: Vec<String> = list(call.named("args")).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    let text = |key: &str| call.named(key).and_then(Arg::as_str).map(str::to_owned);
    if call.builtin == builtins::MOCK_SERVICE {
        return Launch::Mock {
            routes: dict_entries(call.named("routes"))
                .map(|(key, response)| MockRoute { key, response: mock_response(cx, &response) })
                .collect(),
            default: call.named("default").map(|d| mock_response(cx, d)),
            config: call.named("config").map(Arg::to_json).unwrap_or(serde_json::Value::Null),
            descriptors: text("descriptors"),
            openapi: text("openapi").map(|path| MockOpenApi {
                path,
                examples: text("examples").unwrap_or_else(|| "first".to_owned()),
                validate: text("validate").unwrap_or_else(|| "off".to_owned()),
                overrides: dict_entries(call.named("overrides"))
                    .map(|(key, response)| MockRoute { key, response: mock_response(cx, &response) })
                    .collect(),
            }),
        };
    }
    // `service("name", "/bin/x", ...)`: a positional string is the binary.
    let positional_binary = call.positional.iter().skip(1).find_map(|a| a.as_str().map(str::to_owned));
    if let Some(path) = text("binary").or(positional_binary) {
        return Launch::Binary { path, args };
    }
    if let Some(image) = text("image") {
        return Launch::Image { image, args };
    }
    if let Some(context) = text("build") {
        return Launch::Build { context, args };
    }
    Launch::Remote { address: text("remote").unwrap_or_default() }
}

fn interface(iface: &Recorded) -> Interface {
    let arg = |index: usize, name: &str| iface.positional.get(index).or_else(|| iface.named(name));
    Interface {
        name: iface.name().unwrap_or_default().to_owned(),
        protocol: arg(1, "protocol").and_then(Arg::as_str).unwrap_or_default().to_owned(),
        port: match arg(2, "port") {
            Some(Arg::Int(p)) => u16::try_from(*p).ok(),
            _ => None,
        },
        spec: iface.named("spec").and_then(Arg::as_str).map(str::to_owned),
        tls: matches!(iface.named("tls"), Some(Arg::Record(_))),
    }
}

fn env_parts(value: &Arg) -> Vec<EnvPart> {
    let text = match value {
        Arg::Str(s) => s.clone(),
        Arg::Int(i) => i.to_string(),
        // Faultbox coerces other values to "" (the checks report them).
        _ => String::new(),
    };
    attrs::address_parts(&text)
        .into_iter()
        .map(|part| match part {
            AddressPart::Text(text) => EnvPart::Text { text },
            AddressPart::Address { service, interface, attribute } => {
                EnvPart::Address { service, interface, attribute }
            }
        })
        .collect()
}

/// (service, interface) → (port, container): what direct rendering needs.
type Ports = BTreeMap<(String, String), (Option<u16>, bool)>;

fn interface_ports(services: &[Service]) -> Ports {
    let mut ports = Ports::new();
    for service in services {
        let container = matches!(service.launch, Launch::Image { .. } | Launch::Build { .. });
        for iface in &service.interfaces {
            ports.insert((service.name.clone(), iface.name.clone()), (iface.port, container));
        }
    }
    ports
}

/// Fills each variable's `rendered` value: every reference as the direct (unproxied) address.
fn with_rendered_env(mut service: Service, ports: &Ports) -> Service {
    for var in &mut service.env {
        var.rendered = render(&var.parts, ports);
    }
    service
}

/// An env value with references rendered as Faultbox renders them at load (no proxy).
pub(crate) fn render(parts: &[EnvPart], ports: &Ports) -> String {
    parts
        .iter()
        .map(|part| match part {
            EnvPart::Text { text } => text.clone(),
            EnvPart::Address { service, interface, attribute } => {
                let (port, container) = ports.get(&(service.clone(), interface.clone())).copied().unwrap_or_default();
                let port = port.map_or_else(|| "0".to_owned(), |p| p.to_string());
                let host = if container && attribute == "internal_addr" { service.as_str() } else { "localhost" };
                match attribute.as_str() {
                    "host" | "proxy_host" => host.to_owned(),
                    "proxy_port" => port,
                    _ => format!("{host}:{port}"),
                }
            }
        })
        .collect()
}

fn ports(call: &Recorded) -> Vec<PortMap> {
    let mut out: Vec<PortMap> = match call.named("ports") {
        Some(Arg::Dict(entries)) => entries
            .iter()
            .filter_map(|(h, c)| match (h, c) {
                (Arg::Int(h), Arg::Int(c)) => {
                    Some(PortMap { host: u16::try_from(*h).ok()?, container: u16::try_from(*c).ok()? })
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    out.sort_by_key(|p| (p.host, p.container));
    out
}

fn volumes(call: &Recorded) -> Vec<Volume> {
    let mut out: Vec<Volume> = dict_entries(call.named("volumes"))
        .filter_map(|(host, container)| Some(Volume { host, container: container.as_str()?.to_owned() }))
        .collect();
    out.sort_by(|a, b| (&a.host, &a.container).cmp(&(&b.host, &b.container)));
    out
}

fn depends_on(call: &Recorded) -> Vec<String> {
    let names: BTreeSet<String> = list(call.named("depends_on"))
        .iter()
        .filter_map(|d| match d {
            Arg::Str(name) => Some(name.clone()),
            Arg::Record(service) => service.name().map(str::to_owned),
            _ => None,
        })
        .collect();
    names.into_iter().collect()
}

fn healthcheck(check: &Recorded, interfaces: &[Interface]) -> Option<Healthcheck> {
    let builtin = catalog().builtin(&check.builtin).filter(|b| b.healthcheck.is_some())?;
    let default_timeout = default_timeout_ms(builtin)?;
    let timeout_ms = check.named("timeout").and_then(Arg::as_str).and_then(duration_ms).unwrap_or(default_timeout);
    let interval_ms = HEALTH_INTERVAL_MS;
    let address = check.positional.first().or_else(|| check.named("addr").or(check.named("url")));
    let address = address.and_then(Arg::as_str).unwrap_or_default();
    Some(match check.builtin.as_str() {
        builtins::TCP => {
            Healthcheck::Tcp { address: address.trim_start_matches("tcp://").to_owned(), timeout_ms, interval_ms }
        }
        builtins::HTTP => {
            let url = if address.starts_with("http://") || address.starts_with("https://") {
                address.to_owned()
            } else {
                format!("http://{address}")
            };
            Healthcheck::Http { url, timeout_ms, interval_ms }
        }
        builtins::KAFKA_READY => {
            Healthcheck::Kafka { address: address.trim_start_matches("kafka://").to_owned(), timeout_ms, interval_ms }
        }
        _ => {
            // `ready()` checks the default interface: the only one, or the one named `default`.
            let iface = match interfaces {
                [only] => Some(only),
                many => many.iter().find(|i| i.name == "default"),
            };
            Healthcheck::Ready {
                interface: iface.map(|i| i.name.clone()).unwrap_or_default(),
                protocol: iface.map(|i| i.protocol.clone()).unwrap_or_default(),
                timeout_ms,
                interval_ms,
            }
        }
    })
}

fn observe(source: &Recorded) -> Option<Observe> {
    let stream = source.builtin.strip_prefix("observe.")?.to_owned();
    let decoder = source.named("decoder").and_then(Arg::record);
    Some(Observe {
        stream,
        decoder: decoder.and_then(|d| d.positional.first()).and_then(Arg::as_str).map(str::to_owned),
        pattern: decoder.and_then(|d| d.named("pattern")).and_then(Arg::as_str).map(str::to_owned),
    })
}

fn ops(call: &Recorded) -> Vec<Op> {
    dict_entries(call.named("ops"))
        .filter_map(|(name, op)| {
            let op = op.record()?;
            let syscalls = list(op.named("syscalls")).iter().filter_map(|s| s.as_str().map(str::to_owned)).collect();
            Some(Op { name, syscalls, path: op.named("path").and_then(Arg::as_str).map(str::to_owned) })
        })
        .collect()
}

fn mock_response(cx: &Cx, response: &Arg) -> MockResponse {
    let Some(r) = response.record() else { return MockResponse::Other { builtin: "unknown".into() } };
    let status = |default: u16| match r.named("status").or(r.positional.first()) {
        Some(Arg::Int(s)) => u16::try_from(*s).unwrap_or(default),
        _ => default,
    };
    let headers: Vec<(String, String)> =
        dict_entries(r.named("headers")).map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_default())).collect();
    match r.builtin.as_str() {
        builtins::JSON_RESPONSE => MockResponse::Json {
            status: status(200),
            body: r.named("body").map(Arg::to_json).unwrap_or(serde_json::Value::Null),
            headers,
        },
        builtins::TEXT_RESPONSE => MockResponse::Text {
            status: status(200),
            body: r.named("body").and_then(Arg::as_str).unwrap_or_default().to_owned(),
            headers,
        },
        builtins::STATUS_ONLY => MockResponse::Status { status: status(200) },
        builtins::REDIRECT => MockResponse::Redirect {
            location: r.positional.first().or(r.named("location")).and_then(Arg::as_str).unwrap_or_default().to_owned(),
            status: match r.named("status") {
                Some(Arg::Int(s)) => u16::try_from(*s).unwrap_or(302),
                _ => 302,
            },
        },
        builtins::DYNAMIC => match r.positional.first() {
            Some(Arg::Function(f)) => MockResponse::Dynamic { callable: cx.callable(f) },
            _ => MockResponse::Other { builtin: r.builtin.clone() },
        },
        builtins::BYTES_RESPONSE => MockResponse::Bytes {
            status: status(0),
            data: r.named("data").and_then(Arg::as_str).unwrap_or_default().to_owned(),
        },
        builtins::GRPC_RESPONSE | builtins::GRPC_TYPED_RESPONSE => MockResponse::Grpc {
            body: r.named("body").map(Arg::to_json).unwrap_or_else(|| serde_json::json!({})),
            typed: r.builtin == builtins::GRPC_TYPED_RESPONSE,
        },
        builtins::GRPC_RAW_RESPONSE => MockResponse::GrpcRaw {
            body: r.named("body").or(r.positional.first()).and_then(Arg::as_str).unwrap_or_default().to_owned(),
        },
        builtins::GRPC_ERROR => match grpc_code(r.named("code").or(r.positional.first())) {
            Some(code) => MockResponse::GrpcError {
                code,
                message: r
                    .named("message")
                    .or(r.positional.get(1))
                    .and_then(Arg::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
            None => MockResponse::Other { builtin: r.builtin.clone() },
        },
        other => MockResponse::Other { builtin: other.to_owned() },
    }
}

/// A `grpc_error` code: a number, or a canonical name from the catalog's `grpc_code`
/// vocabulary (listed in code order from 1, CANCELLED).
fn grpc_code(code: Option<&Arg>) -> Option<u32> {
    match code? {
        Arg::Int(n) => u32::try_from(*n).ok(),
        Arg::Str(name) => {
            let vocabulary = ospecc_schema::topology::catalog().vocabulary("grpc_code")?;
            let index = vocabulary.values.iter().position(|v| v.value == *name)?;
            u32::try_from(index + 1).ok()
        }
        _ => None,
    }
}

/// Services sorted so each follows its dependencies; among the ready ones, by name. A cycle
/// (reported by the checks) falls back to name order for what remains.
fn start_order(services: Vec<Service>) -> Vec<Service> {
    let names: BTreeSet<String> = services.iter().map(|s| s.name.clone()).collect();
    let mut remaining: BTreeMap<String, Service> = services.into_iter().map(|s| (s.name.clone(), s)).collect();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while !remaining.is_empty() {
        let ready = remaining
            .values()
            .find(|s| s.depends_on.iter().all(|d| started.contains(d) || !names.contains(d)))
            .map(|s| s.name.clone());
        let next = ready.or_else(|| remaining.keys().next().cloned());
        let Some(next) = next else { break };
        if let Some(service) = remaining.remove(&next) {
            started.insert(next);
            order.push(service);
        }
    }
    order
}

/// A duration string in milliseconds (negative durations count as zero).
/// A healthcheck's default timeout: the catalog's default of its `timeout` parameter
/// (Faultbox's defaults per kind, reference §1.2).
fn default_timeout_ms(builtin: &Builtin) -> Option<u64> {
    let default = builtin.params.iter().find(|p| p.name == "timeout")?.default.as_deref()?;
    duration_ms(default.strip_prefix('"')?.strip_suffix('"')?)
}

pub(super) fn duration_ms(text: &str) -> Option<u64> {
    let nanos = crate::topology::quantities::parse_duration(text).ok()?;
    Some((nanos.max(0.0) / 1e6).round() as u64)
}

fn list(arg: Option<&Arg>) -> &[Arg] {
    match arg {
        Some(Arg::List(items) | Arg::Tuple(items)) => items,
        _ => &[],
    }
}

/// String-keyed entries of a dict argument, in source order.
fn dict_entries(arg: Option<&Arg>) -> impl Iterator<Item = (String, Arg)> + '_ {
    let entries: &[(Arg, Arg)] = match arg {
        Some(Arg::Dict(entries)) => entries,
        _ => &[],
    };
    entries.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
}
