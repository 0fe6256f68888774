//! Any bytes as a client's side of an LSP session: the server answers or skips every frame and
//! ends with the input, never panicking and never hanging.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(ospecc_lsp::serve_untrusted(data.to_vec(), Duration::from_secs(10)), "the session did not end");
});
