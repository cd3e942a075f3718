//! sockweave-wasm: the engine compiled for JavaScript hosts. The bindings
//! (wasm-bindgen) arrive with the npm package; this crate already builds for
//! `wasm32-unknown-unknown` with the no_std core.

pub use sockweave_core as core;
