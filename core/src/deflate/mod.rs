//! permessage-deflate (RFC 7692): negotiation, and the compressor and
//! decompressor each direction of a connection uses.
//!
//! - `negotiate.rs`: offers and answers, both roles; negotiated window bits
//!   and context-takeover flags are honoured exactly.
//! - `compress.rs`: the compressor. It keeps every back-reference inside the
//!   negotiated window of our side (8..=15 bits).
//! - `inflate.rs`: the decompressor (any window up to 15 bits).
//!
//! The session inflates lazily, as the application receives, straight into
//! the application's buffer: compressed bytes wait in the receive buffer, so
//! memory stays bounded, and a message that inflates past `maxMessageSize`
//! fails with 1009 (a decompression bomb costs the receiver nothing).

mod compress;
mod inflate;
mod negotiate;

pub use compress::Compressor;
pub use inflate::{Decompressor, InvalidDeflate, TAIL};
pub use negotiate::{client_accept, client_offer, server_accept, DeflateParams, PERMESSAGE_DEFLATE};
