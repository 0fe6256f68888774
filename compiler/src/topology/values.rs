//! The values topology builtins return: opaque records of the call (builtin, return type,
//! arguments, span), plus the one native callable that binds every catalog builtin.
//!
//! Arguments are copied out of the Starlark heap into plain Rust data ([`Arg`]) when a call is
//! recorded, so the evaluated model outlives the heap and the later static checks need no
//! Starlark types.

use std::fmt;
use std::sync::Arc;

use allocative::Allocative;
use ospecc_schema::topology::{catalog, Builtin};
use starlark::collections::StarlarkHasher;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_simple_value;
use starlark::values::dict::DictRef;
use starlark::values::list::ListRef;
use starlark::values::tuple::TupleRef;
use starlark::values::{
    starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue, Value, ValueLike,
};

use super::session::Session;
use crate::span::Span;

/// How deep argument structures are copied; deeper parts are recorded as [`Arg::Other`].
const MAX_ARG_DEPTH: usize = 32;

/// One recorded builtin call (or a value derived from one, such as `svc.iface`).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The builtin called (`service`), or `interface_ref` for `svc.iface`.
    pub builtin: String,
    /// The catalog's return type of the builtin.
    pub ty: String,
    /// The file the call is in, as the evaluator names it (the root file's path, a loaded
    /// file's path, or an `@faultbox/...` stdlib path).
    pub file: String,
    /// The call's span in that file.
    pub span: Span,
    pub positional: Vec<Arg>,
    pub named: Vec<(String, Arg)>,
}

impl Recorded {
    /// A keyword argument by name.
    pub fn named(&self, name: &str) -> Option<&Arg> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The first positional argument as a string (the declared name of most builtins).
    pub fn name(&self) -> Option<&str> {
        match self.positional.first() {
            Some(Arg::Str(s)) => Some(s),
            _ => match self.named("name") {
                Some(Arg::Str(s)) => Some(s),
                _ => None,
            },
        }
    }

    /// Every recorded value among the positional arguments (a service's interfaces).
    pub fn positional_records(&self) -> impl Iterator<Item = &Arc<Recorded>> {
        self.positional.iter().filter_map(|a| match a {
            Arg::Record(r) => Some(r),
            _ => None,
        })
    }
}

/// An argument value, copied out of the Starlark heap.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Arg>),
    Tuple(Vec<Arg>),
    Dict(Vec<(Arg, Arg)>),
    Record(Arc<Recorded>),
    /// A `def` or `lambda`.
    Function(Function),
    /// Anything else (structs, builtins, values nested too deeply), by its Starlark type.
    Other(String),
    /// Not known without running the code (a parameter, a step's result, a computed value):
    /// the static checks skip it rather than guess.
    Unknown,
}

impl Arg {
    /// The Starlark type name, as the catalog's type expressions spell it (a recorded value's
    /// catalog type for records; `None` for an unknown value).
    pub fn type_name(&self) -> Option<&str> {
        Some(match self {
            Arg::None => "None",
            Arg::Bool(_) => "bool",
            Arg::Int(_) => "int",
            Arg::Float(_) => "float",
            Arg::Str(_) => "str",
            Arg::List(_) => "list",
            Arg::Tuple(_) => "tuple",
            Arg::Dict(_) => "dict",
            Arg::Record(r) => &r.ty,
            Arg::Function(_) => "callable",
            Arg::Other(ty) => ty,
            Arg::Unknown => return None,
        })
    }

    /// The recorded value, if this is one.
    pub fn record(&self) -> Option<&Arc<Recorded>> {
        match self {
            Arg::Record(r) => Some(r),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON (mock bodies): records, functions and other opaque values as a
    /// string naming their type.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Arg::None | Arg::Unknown => Value::Null,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i) => Value::from(*i),
            Arg::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Arg::Str(s) => Value::String(s.clone()),
            Arg::List(items) | Arg::Tuple(items) => Value::Array(items.iter().map(Arg::to_json).collect()),
            Arg::Dict(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned), v.to_json()))
                    .collect(),
            ),
            Arg::Record(r) => Value::String(format!("<{}>", r.ty)),
            Arg::Function(f) => Value::String(format!("<function {}>", f.name)),
            Arg::Other(ty) => Value::String(format!("<{ty}>")),
        }
    }

    pub(crate) fn from_value(value: Value, depth: usize) -> Arg {
        if depth > MAX_ARG_DEPTH {
            return Arg::Other(value.get_type().to_owned());
        }
        if value.is_none() {
            return Arg::None;
        }
        if let Some(b) = value.unpack_bool() {
            return Arg::Bool(b);
        }
        if let Some(i) = value.unpack_i32() {
            return Arg::Int(i64::from(i));
        }
        if let Some(s) = value.unpack_str() {
            return Arg::Str(s.to_owned());
        }
        if let Some(r) = RecordedValue::from_value(value) {
            return Arg::Record(r.0.clone());
        }
        if let Some(list) = ListRef::from_value(value) {
            return Arg::List(list.iter().map(|v| Arg::from_value(v, depth + 1)).collect());
        }
        if let Some(tuple) = TupleRef::from_value(value) {
            return Arg::Tuple(tuple.iter().map(|v| Arg::from_value(v, depth + 1)).collect());
        }
        if let Some(dict) = DictRef::from_value(value) {
            return Arg::Dict(
                dict.iter().map(|(k, v)| (Arg::from_value(k, depth + 1), Arg::from_value(v, depth + 1))).collect(),
            );
        }
        match value.get_type() {
            "float" => value.to_str().parse().map_or_else(|_| Arg::Other("float".into()), Arg::Float),
            "function" => Arg::Function(Function::of(value)),
            other => Arg::Other(other.to_owned()),
        }
    }
}

/// A function value, identified stably within one evaluation: the file that defines it, its
/// name (`lambda` for lambdas), and which of the distinct functions sharing that file and name
/// it is (0 for the first met). Re-evaluating the same files meets them in the same order,
/// which is what lets a plan name a callable that a runtime finds again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Function {
    pub name: String,
    pub file: String,
    pub index: u32,
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A function reads as its name wherever a name is wanted.
impl std::ops::Deref for Function {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl PartialEq<str> for Function {
    fn eq(&self, other: &str) -> bool {
        self.name == other
    }
}

impl PartialEq<&str> for Function {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

/// A function known only by name (from the syntax, not a value of the evaluation).
impl From<&str> for Function {
    fn from(name: &str) -> Function {
        Function { name: name.to_owned(), file: String::new(), index: 0 }
    }
}

impl From<String> for Function {
    fn from(name: String) -> Function {
        Function { name, file: String::new(), index: 0 }
    }
}

impl Function {
    fn of(value: Value) -> Function {
        let (file, name) = function_name(&value.to_str());
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&value.identity(), &mut hasher);
        let identity = std::hash::Hasher::finish(&hasher);
        let index = FUNCTION_INDEXES.with(|ids| ids.borrow_mut().index(identity, &file, &name));
        Function { name, file, index }
    }

    /// `create_user`, `create_user#2` for a second function of that name, `lambda.3` for the
    /// third lambda of the file.
    pub fn local_id(&self) -> String {
        match (self.name.as_str(), self.index) {
            ("lambda", i) => format!("lambda.{}", i + 1),
            (name, 0) => name.to_owned(),
            (name, i) => format!("{name}#{}", i + 1),
        }
    }
}

/// `<function /ws/a.star.create_user>` → (`/ws/a.star`, `create_user`): names cannot contain
/// dots, paths can.
fn function_name(display: &str) -> (String, String) {
    let inner = display.trim_start_matches('<').trim_end_matches('>');
    let qualified = inner.strip_prefix("function ").unwrap_or(inner);
    match qualified.rsplit_once('.') {
        Some((file, name)) => (file.to_owned(), name.to_owned()),
        None => (String::new(), qualified.to_owned()),
    }
}

/// The indexes of the functions met so far in the current evaluation (per analysis thread).
#[derive(Default)]
pub(crate) struct FunctionIndexes {
    by_identity: crate::topology::hash::HashMap<u64, u32>,
    next: crate::topology::hash::HashMap<(String, String), u32>,
}

impl FunctionIndexes {
    fn index(&mut self, identity: u64, file: &str, name: &str) -> u32 {
        if let Some(&index) = self.by_identity.get(&identity) {
            return index;
        }
        let next = self.next.entry((file.to_owned(), name.to_owned())).or_default();
        let index = *next;
        *next += 1;
        self.by_identity.insert(identity, index);
        index
    }
}

thread_local! {
    static FUNCTION_INDEXES: std::cell::RefCell<FunctionIndexes> = std::cell::RefCell::default();
}

/// Keeps the functions among `values` (nested in lists, tuples and dicts too) alive past the
/// module's freezing, for a runtime to call: appended to the module's extra list, with their
/// (file, local id) in the session in the same order. Indexes were assigned when the values
/// were recorded, so this only looks them up.
pub(crate) fn capture_functions<'v>(
    module: &starlark::environment::Module<'v>,
    session: &Session,
    values: &[Value<'v>],
) {
    let mut found = Vec::new();
    for value in values {
        collect_functions(*value, 0, &mut found);
    }
    if found.is_empty() {
        return;
    }
    let mut items: Vec<Value<'v>> =
        module.extra_value().and_then(ListRef::from_value).map(|t| t.content().to_vec()).unwrap_or_default();
    let mut captured = session.captured.borrow_mut();
    for function in found {
        let f = Function::of(function);
        captured.push((f.file.clone(), f.local_id()));
        items.push(function);
    }
    module.set_extra_value(module.heap().alloc(starlark::values::list::AllocList(items)));
}

fn collect_functions<'v>(value: Value<'v>, depth: usize, out: &mut Vec<Value<'v>>) {
    if depth > MAX_ARG_DEPTH {
        return;
    }
    if value.get_type() == "function" {
        out.push(value);
    } else if let Some(list) = ListRef::from_value(value) {
        list.iter().for_each(|v| collect_functions(v, depth + 1, out));
    } else if let Some(tuple) = TupleRef::from_value(value) {
        tuple.iter().for_each(|v| collect_functions(v, depth + 1, out));
    } else if let Some(dict) = DictRef::from_value(value) {
        for (k, v) in dict.iter() {
            collect_functions(k, depth + 1, out);
            collect_functions(v, depth + 1, out);
        }
    }
}

/// Starts a fresh numbering of functions (at the start of each evaluation).
pub(crate) fn reset_function_indexes() {
    FUNCTION_INDEXES.with(|ids| *ids.borrow_mut() = FunctionIndexes::default());
}

/// Sets the numbering aside (a loaded module numbers its own functions from scratch).
pub(crate) fn take_function_indexes() -> FunctionIndexes {
    FUNCTION_INDEXES.with(|ids| std::mem::take(&mut *ids.borrow_mut()))
}

/// Puts back a numbering set aside by [`take_function_indexes`].
pub(crate) fn restore_function_indexes(indexes: FunctionIndexes) {
    FUNCTION_INDEXES.with(|ids| *ids.borrow_mut() = indexes);
}

/// How many functions of each (file, name) were numbered so far, sorted.
pub(crate) fn function_counts() -> Vec<((String, String), u32)> {
    FUNCTION_INDEXES.with(|ids| {
        let mut counts: Vec<_> = ids.borrow().next.iter().map(|(k, v)| (k.clone(), *v)).collect();
        counts.sort();
        counts
    })
}

/// Continues the numbering after a loaded module's own (replayed, not evaluated here): the
/// next function of each (file, name) gets the index it would have got after evaluating it.
pub(crate) fn advance_function_indexes(counts: &[((String, String), u32)]) {
    FUNCTION_INDEXES.with(|ids| {
        let mut ids = ids.borrow_mut();
        for (key, count) in counts {
            *ids.next.entry(key.clone()).or_default() += count;
        }
    })
}

/// A recorded value as Starlark sees it.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct RecordedValue(#[allocative(skip)] pub Arc<Recorded>);
starlark_simple_value!(RecordedValue);

impl fmt::Display for RecordedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => write!(f, "<{} {:?}>", self.0.ty, name),
            None => write!(f, "<{}>", self.0.ty),
        }
    }
}

#[starlark_value(type = "topology_value")]
impl<'v> StarlarkValue<'v> for RecordedValue {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        super::attrs::get(&self.0, attribute, heap)
    }

    fn has_attr(&self, attribute: &str, heap: Heap<'v>) -> bool {
        self.get_attr(attribute, heap).is_some()
    }

    fn dir_attr(&self) -> Vec<String> {
        super::attrs::names(&self.0)
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(RecordedValue::from_value(other).is_some_and(|o| Arc::ptr_eq(&o.0, &self.0) || *o.0 == *self.0))
    }

    // A step method (`db.pg.query`) is callable while a test runs; at load time it is not.
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let method = self.0.builtin.trim_start_matches('.');
        let interface = match (self.0.ty.as_str(), self.0.positional.first()) {
            ("step_method", Some(Arg::Record(interface))) => interface.clone(),
            _ => return Err(starlark::Error::new_other(anyhow::anyhow!("`{}` is not callable", self.0.ty))),
        };
        let Some(runner) = super::run::runner(eval) else {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "`{method}` is a step: it runs only inside a test, not when the file loads"
            )));
        };
        let heap = eval.heap();
        let positional: Vec<Value> = args.positions(heap)?.collect();
        let named: Vec<(String, Value)> = args.names_map()?.iter().map(|(k, v)| (k.as_str().to_owned(), *v)).collect();
        let args = super::run::Args { positional, named };
        runner.step(&interface, method, &args, eval).map_err(starlark::Error::new_other)
    }

    // Recorded values are dict keys in `fault_matrix(overrides={(scenario, fault): ...})`.
    fn write_hash(&self, hasher: &mut StarlarkHasher) -> starlark::Result<()> {
        std::hash::Hash::hash(&(&self.0.builtin, &self.0.file, self.0.span.start, self.0.span.end), hasher);
        Ok(())
    }
}

/// A catalog builtin as a Starlark callable. One implementation serves every builtin: the
/// catalog entry says what it accepts and returns.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct BuiltinFn {
    /// Index into `catalog().builtins`.
    pub index: usize,
}
starlark_simple_value!(BuiltinFn);

impl BuiltinFn {
    fn builtin(&self) -> Option<&'static Builtin> {
        catalog().builtins.get(self.index)
    }
}

impl fmt::Display for BuiltinFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<built-in function {}>", self.builtin().map_or("?", |b| b.name.as_str()))
    }
}

#[starlark_value(type = "builtin_function_or_method")]
impl<'v> StarlarkValue<'v> for BuiltinFn {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let Some(builtin) = self.builtin() else {
            return Err(starlark::Error::new_other(anyhow::anyhow!("unknown builtin")));
        };
        let heap = eval.heap();
        let positional: Vec<Value> = args.positions(heap)?.collect();
        let named: Vec<(String, Value)> = args.names_map()?.iter().map(|(k, v)| (k.as_str().to_owned(), *v)).collect();
        let native = super::native::find(&builtin.name);
        if let Some(runner) = super::run::runner(eval) {
            let args = super::run::Args { positional, named };
            if let Some(native) = native {
                return native(&args, eval.heap()).map_err(starlark::Error::new_other);
            }
            if let Some(result) = runner.builtin(builtin, &args, eval) {
                return result.map_err(starlark::Error::new_other);
            }
            return Ok(record_value(builtin, eval, &args.positional, &args.named));
        }
        let value = record_value(builtin, eval, &positional, &named);
        if let Some(session) = eval.extra.and_then(|e| e.downcast_ref::<Session>()) {
            if session.capture {
                let all: Vec<Value> = positional.iter().copied().chain(named.iter().map(|(_, v)| *v)).collect();
                capture_functions(eval.module(), session, &all);
            }
        }
        // Recorded all the same: the checks read the call's arguments.
        if let Some(native) = native {
            let args = super::run::Args { positional, named };
            return native(&args, eval.heap()).map_err(starlark::Error::new_other);
        }
        Ok(value)
    }
}

/// Records a builtin call (in the load-time session, if any) and returns its value: the record,
/// or None for builtins that only register something (`scenario`, `fault_matrix`).
fn record_value<'v>(
    builtin: &Builtin,
    eval: &mut Evaluator<'v, '_, '_>,
    positional: &[Value<'v>],
    named: &[(String, Value<'v>)],
) -> Value<'v> {
    let (file, span) = match eval.call_stack_top_location() {
        Some(loc) => {
            (loc.filename().to_owned(), Span::new(loc.span.begin().get() as usize, loc.span.end().get() as usize))
        }
        None => (String::new(), Span::at(0)),
    };
    let recorded = Arc::new(Recorded {
        builtin: builtin.name.clone(),
        ty: builtin.returns.clone(),
        file,
        span,
        positional: positional.iter().map(|v| Arg::from_value(*v, 0)).collect(),
        named: named.iter().map(|(k, v)| (k.clone(), Arg::from_value(*v, 0))).collect(),
    });
    if let Some(session) = eval.extra.and_then(|e| e.downcast_ref::<Session>()) {
        session.record(&recorded);
    }
    if matches!(builtin.returns.as_str(), "None" | "none" | "") {
        return Value::new_none();
    }
    eval.heap().alloc(RecordedValue(recorded))
}

/// A namespace of builtins (`match.prefix`, `observe.stdout`): attribute access yields the
/// member builtin.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct Namespace {
    pub prefix: String,
    /// (member name, index into `catalog().builtins`).
    pub members: Vec<(String, usize)>,
}
starlark_simple_value!(Namespace);

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<namespace {}>", self.prefix)
    }
}

#[starlark_value(type = "namespace")]
impl<'v> StarlarkValue<'v> for Namespace {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        self.members.iter().find(|(n, _)| n == attribute).map(|&(_, index)| heap.alloc(BuiltinFn { index }))
    }

    fn has_attr(&self, attribute: &str, _heap: Heap<'v>) -> bool {
        self.members.iter().any(|(n, _)| n == attribute)
    }

    fn dir_attr(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Reads a recorded value back from a Starlark value (for globals of the evaluated module).
pub fn recorded_of(value: Value) -> Option<Arc<Recorded>> {
    value.downcast_ref::<RecordedValue>().map(|r| r.0.clone())
}
