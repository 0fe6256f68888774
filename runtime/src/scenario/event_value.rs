//! Events as Starlark sees them (in `events()`, `where=` lambdas and monitors): `.seq`,
//! `.service`, `.type`, `.data` (the decoded fields), `.fields`, any field by name (`""`
//! when absent, as Faultbox's event values answer), and dict-style `event["action"]` and
//! `event.get("action", default)` (seed Pattern 1's monitor reads events that way).

use std::fmt;

use allocative::Allocative;
use starlark::environment::{Methods, MethodsBuilder};
use starlark::values::none::NoneType;
use starlark::values::{
    starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue, Value,
};
use starlark::{starlark_module, starlark_simple_value};

use crate::events::Event;

#[derive(Debug, Clone, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct EventValue(#[allocative(skip)] pub Event);
starlark_simple_value!(EventValue);

impl fmt::Display for EventValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<event #{} {} {}>", self.0.seq, self.0.service, self.0.kind)
    }
}

fn fields_json(event: &Event) -> serde_json::Value {
    serde_json::Value::Object(event.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The value of `key` on `event`: a built-in attribute or a field; `None` when absent.
fn lookup<'v>(event: &Event, key: &str, heap: Heap<'v>) -> Option<Value<'v>> {
    Some(match key {
        "seq" => heap.alloc(event.seq as i64),
        "service" => heap.alloc(event.service.as_str()),
        "type" => heap.alloc(event.kind.as_str()),
        "data" | "fields" => heap.alloc(fields_json(event)),
        "timestamp" => heap.alloc(event.at_ms),
        name => match event.fields.get(name)? {
            serde_json::Value::String(s) => heap.alloc(s.as_str()),
            other => heap.alloc(other.clone()),
        },
    })
}

#[starlark_module]
fn event_methods(builder: &mut MethodsBuilder) {
    /// `event.get(key, default=None)`, as on a dict.
    fn get<'v>(
        this: &EventValue,
        #[starlark(require = pos)] key: &str,
        #[starlark(require = pos, default = NoneType)] default: Value<'v>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        Ok(lookup(&this.0, key, heap).unwrap_or(default))
    }
}

starlark::methods_static!(EVENT_METHODS = event_methods);

#[starlark_value(type = "event")]
impl<'v> StarlarkValue<'v> for EventValue {
    fn get_methods() -> Option<&'static Methods> {
        Some(EVENT_METHODS.methods())
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        Some(lookup(&self.0, attribute, heap).unwrap_or_else(|| heap.alloc("")))
    }

    fn has_attr(&self, _attribute: &str, _heap: Heap<'v>) -> bool {
        true
    }

    fn dir_attr(&self) -> Vec<String> {
        let mut names: Vec<String> =
            ["seq", "service", "type", "data", "fields", "timestamp"].map(String::from).to_vec();
        names.extend(self.0.fields.keys().cloned());
        names
    }

    // `event["type"]` and `event.get("action")` work on events as on dicts (Pattern 1's monitor).
    fn at(&self, index: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        let key = index.unpack_str().unwrap_or_default();
        Ok(lookup(&self.0, key, heap).unwrap_or_else(Value::new_none))
    }
}
