//! Echo: every message goes back unchanged, piece by piece, so messages of any
//! size are echoed without being held whole.

use sockweave::{CloseCode, Error, MessageType, SendFlags, WebSocket};

/// Echoes until the peer closes; answers its Close with the same status.
/// Returns the peer's close status.
pub async fn echo(ws: &WebSocket) -> Result<Option<CloseCode>, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let r = ws.receive(&mut buf).await?;
        if r.message_type == MessageType::Close {
            let code = r.close_status.filter(|c| c.is_valid_on_wire());
            ws.close_output(code, "").await?;
            return Ok(r.close_status);
        }
        let flags = SendFlags {
            end_of_message: r.end_of_message,
            disable_compression: false,
        };
        ws.send(&buf[..r.count], r.message_type, flags).await?;
    }
}
