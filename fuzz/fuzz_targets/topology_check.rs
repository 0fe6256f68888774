//! Any bytes as a topology file: diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ospecc_compiler::db::check_untrusted;
use ospecc_compiler::Language;

fuzz_target!(|data: &[u8]| {
    let _ = check_untrusted("spec.star", data, Language::Topology);
});
