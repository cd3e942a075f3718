//! sockweave: WebSockets on tokio (the native backend). The protocol engine is
//! [`sockweave_core`]; this crate adds transports and the async API.

pub use sockweave_core as core;
