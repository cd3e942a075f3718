//! A `Session` in the server role fed arbitrary bytes; see
//! `sockweave_fuzz::session` for the input layout and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::session::Role;

fuzz_target!(|data: &[u8]| {
    sockweave_fuzz::session::run(Role::Server, data);
});
