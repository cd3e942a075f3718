//! The size of the module's linear memory, which JS cannot see through the
//! wasm-bindgen glue: for tests and diagnostics.

use wasm_bindgen::prelude::*;

/// Bytes of linear memory the wasm module holds now (it grows, never shrinks):
/// for tests and diagnostics.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}
