//! Reading the transport into the session: shared by the driver task and
//! by a `receive` that reads for itself.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use super::{transport_failed, Inner};
use crate::transport::Transport;

/// Stack space for reads while the session has no receive buffer yet.
const SCRATCH: usize = 2048;

/// What one pass of reading did.
#[derive(Default)]
pub(super) struct ReadPass {
    /// Bytes were read, or the transport ended or failed.
    pub(super) any: bool,
    /// The transport had nothing more: the polling waker is registered.
    pub(super) registered: bool,
}

impl Inner {
    /// Feeds what was read earlier and did not fit; true if any was taken.
    fn feed_unfed(&mut self) -> bool {
        if self.unfed.is_empty() {
            return false;
        }
        let n = self.session.feed(&self.unfed);
        self.unfed.drain(..n);
        // Still full: a receive (or written output) must wake us to feed the rest.
        self.read_stalled = !self.unfed.is_empty();
        n > 0
    }

    /// Reads from the transport into the session until it has nothing more
    /// (`Pending`: `cx` is registered), the session takes no more for now,
    /// or it ends. With `for_receive`, it stops as soon as there is
    /// something to receive: the receiving task returns with it and hands
    /// reading back.
    pub(super) fn read_transport(
        &mut self,
        io: &mut dyn Transport,
        cx: &mut Context<'_>,
        for_receive: bool,
    ) -> ReadPass {
        let mut pass = ReadPass {
            any: self.feed_unfed(),
            registered: false,
        };
        while !self.input_ended && self.unfed.is_empty() {
            let parsing = self.session.parses_input();
            // Until the first bytes arrive the session has no receive
            // buffer: read into scratch space and feed it, so a connection
            // that never receives anything never allocates one.
            let direct = parsing && self.session.read_buf_allocated();
            // Zeroed only on this rare path (first bytes, or reads after a Close).
            let mut scratch: Option<[u8; SCRATCH]> = None;
            let (polled, n) = if direct {
                let buf = self.session.read_buf();
                if buf.is_empty() {
                    self.read_stalled = true;
                    break;
                }
                let mut rb = ReadBuf::new(buf);
                let p = Pin::new(&mut *io).poll_read(cx, &mut rb);
                (p, rb.filled().len())
            } else {
                let mut rb = ReadBuf::new(scratch.insert([0u8; SCRATCH]));
                let p = Pin::new(&mut *io).poll_read(cx, &mut rb);
                (p, rb.filled().len())
            };
            match polled {
                Poll::Ready(Ok(())) => {
                    pass.any = true;
                    if n == 0 {
                        self.input_ended = true;
                        self.session.feed_eof();
                    } else if direct {
                        self.session.commit_read(n);
                    } else if let Some(data) = scratch.as_ref() {
                        // After a Close or a failure the session ignores input; read only to see the end.
                        let taken = self.session.feed(&data[..n]);
                        if taken < n {
                            self.unfed.extend_from_slice(&data[taken..n]);
                            self.read_stalled = true;
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    pass.any = true;
                    self.input_ended = true;
                    transport_failed(&mut self.session, &e);
                }
                Poll::Pending => {
                    pass.registered = true;
                    break;
                }
            }
            if for_receive && self.session.delivery_ready() {
                break;
            }
        }
        pass
    }

    /// Input only the driver processes is pending (a leftover that did not
    /// fit, a session that takes no more, the end, draining after a Close):
    /// no receive reads then.
    pub(super) fn reading_is_drivers(&self) -> bool {
        self.input_ended || self.read_stalled || !self.unfed.is_empty() || !self.session.parses_input()
    }
}
