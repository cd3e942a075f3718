//! The server connection's idle clock: which streams are still open, so the
//! connection can be closed with GOAWAY once none has been for `idle_timeout`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Counts the streams the application or a stream task still holds, and
/// wakes the connection task when the last one ends (its idle clock starts).
#[derive(Default)]
pub(crate) struct Tracker {
    pub(crate) open: AtomicUsize,
    pub(crate) idle: Notify,
}

/// One open stream; dropping it ends the stream's share of the connection.
pub(crate) struct OpenStream(Arc<Tracker>);

impl OpenStream {
    pub(crate) fn new(tracker: &Arc<Tracker>) -> Self {
        tracker.open.fetch_add(1, Ordering::AcqRel);
        OpenStream(tracker.clone())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            // notify_one keeps the wake-up if the connection task is not waiting yet.
            self.0.idle.notify_one();
        }
    }
}
