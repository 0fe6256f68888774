//! Builtins with a native implementation: the few catalog builtins whose value is computed
//! rather than recorded (the JWT helpers behind `@faultbox/mocks/jwt.star`). Every builtin is
//! still bound and recorded through [`super::values::BuiltinFn`]; for the builtins the catalog
//! marks `native` the call's value is what the implementation in [`NATIVES`] computes, the same
//! at load and while a test runs. Implementations are pure functions of their arguments: no IO, no clock, no
//! randomness, so plans stay deterministic.

mod jwt;

use ospecc_schema::topology::{builtins, catalog};
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

/// The implementations of the builtins the catalog marks `native` (a test holds the two to
/// each other). `jwt_keypair` is not one: its recorded value (type `keypair`, with its `kid`)
/// is what the other two read.
const NATIVES: &[Native] =
    &[Native { builtin: builtins::JWT_SIGN, call: jwt::sign }, Native { builtin: builtins::JWT_JWKS, call: jwt::jwks }];

/// The native implementation of the builtin `name`, if the catalog says it has one.
pub(crate) fn find(name: &str) -> Option<NativeFn> {
    // The short table first: it answers every other builtin's call without a catalog look-up.
    NATIVES.iter().find(|n| n.builtin == name).filter(|_| is_native(name)).map(|n| n.call)
}

/// Whether the builtin `name` computes its value (catalog `native`; callers comparing
/// recorded calls need to know).
pub fn is_native(name: &str) -> bool {
    catalog().builtin(name).is_some_and(|b| b.native)
}

/// A positional-or-keyword argument: the `index`th positional, else the keyword `name`.
fn argument<'v>(args: &Args<'v>, index: usize, name: &str) -> Option<Value<'v>> {
    args.positional.get(index).copied().or_else(|| args.named(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_implementations_are_the_catalogs_native_builtins() {
        let implemented: Vec<&str> = NATIVES.iter().map(|n| n.builtin).collect();
        let native: Vec<&str> = catalog().builtins.iter().filter(|b| b.native).map(|b| b.name.as_str()).collect();
        assert_eq!(implemented, native, "every `native` builtin has one implementation, and nothing else has one");
        for name in native {
            assert!(find(name).is_some(), "{name}");
        }
        assert!(find(builtins::JWT_KEYPAIR).is_none());
    }
}
