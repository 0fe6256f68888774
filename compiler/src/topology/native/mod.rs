//! Builtins with a native implementation: the few catalog builtins whose value is computed
//! rather than recorded (the JWT helpers behind `@faultbox/mocks/jwt.star`). Every builtin is
//! still bound and recorded through [`super::values::BuiltinFn`]; for the builtins listed in
//! [`NATIVES`] the call's value is what the implementation computes, the same at load and while
//! a test runs. Implementations are pure functions of their arguments: no IO, no clock, no
//! randomness, so plans stay deterministic.

mod jwt;

use starlark::values::{Heap, Value};

use super::run::Args;

/// A native implementation: the call's arguments to its value (an error is the call's error).
pub(crate) type NativeFn = for<'v> fn(&Args<'v>, Heap<'v>) -> anyhow::Result<Value<'v>>;

/// One builtin with a native implementation.
struct Native {
    /// The catalog builtin's name.
    builtin: &'static str,
    call: NativeFn,
}

/// The builtins whose value is computed. `jwt_keypair` is not here: its recorded value (type
/// `keypair`, with its `kid`) is what the other two read.
const NATIVES: &[Native] =
    &[Native { builtin: "jwt_sign", call: jwt::sign }, Native { builtin: "jwt_jwks", call: jwt::jwks }];

/// The native implementation of the builtin `name`, if it has one.
pub(crate) fn find(name: &str) -> Option<NativeFn> {
    NATIVES.iter().find(|n| n.builtin == name).map(|n| n.call)
}

/// Whether the builtin `name` computes its value (callers comparing recorded calls need to know).
pub fn is_native(name: &str) -> bool {
    find(name).is_some()
}

/// A positional-or-keyword argument: the `index`th positional, else the keyword `name`.
fn argument<'v>(args: &Args<'v>, index: usize, name: &str) -> Option<Value<'v>> {
    args.positional.get(index).copied().or_else(|| args.named(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_native_builtin_is_in_the_catalog() {
        for native in NATIVES {
            assert!(ospecc_schema::topology::catalog().builtin(native.builtin).is_some(), "{}", native.builtin);
        }
    }
}
