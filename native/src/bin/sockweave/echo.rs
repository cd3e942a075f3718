//! Echo: every message goes back whole, as one frame. Each message is read
//! into a buffer of its own size (at most `max_message_size`), so an idle
//! connection holds no buffer of ours.

use sockweave::{CloseCode, Error, WebSocket};

/// Echoes until the peer closes; the peer's Close is answered with the same
/// status. Returns the peer's close status.
pub async fn echo(ws: &mut WebSocket) -> Result<Option<CloseCode>, Error> {
    while let Some(msg) = ws.receive_message().await? {
        ws.send_message(&msg).await?;
    }
    Ok(ws.close_status())
}
