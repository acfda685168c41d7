//! Delivery to devices: the notification streams open now, and APNs'
//! store-and-forward for the devices that are offline (the newest
//! notification per token, until its expiration; 0: delivered only to a
//! device connected now).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::state::{State, StateError};

/// Notifications a stream may have waiting before new ones are stored instead.
const STREAM_QUEUE: usize = 1024;

/// What became of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to an open notification stream of the device.
    Delivered,
    /// The device is offline: stored until its expiration.
    Stored,
    /// The device is offline and the notification expires now (0): dropped.
    Dropped,
}

/// An open stream: its id and its queue.
type Open = (u64, mpsc::Sender<Bytes>);

/// The open notification streams, by UDID.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<HashMap<String, Vec<Open>>>,
    next: AtomicU64,
    closed: AtomicBool,
}

/// Unix seconds now.
pub(crate) fn now_secs() -> u64 {
    crate::state::now_ms() / 1000
}

impl Hub {
    /// Delivers `line` to `udid`'s open streams, else stores it until
    /// `expires` (unix seconds; `None`: never stored).
    pub fn deliver(
        &self,
        state: &State,
        udid: &str,
        token: &[u8; 32],
        expires: Option<u64>,
        line: Bytes,
    ) -> Result<Delivery, StateError> {
        let streams = self
            .streams
            .lock()
            .map_err(|_| StateError("delivery: poisoned lock".into()))?;
        let mut delivered = false;
        if let Some(list) = streams.get(udid) {
            for (_, tx) in list {
                delivered |= tx.try_send(line.clone()).is_ok();
            }
        }
        if delivered {
            return Ok(Delivery::Delivered);
        }
        match expires {
            Some(at) if at > now_secs() => {
                state.store(token, udid, at, &line)?;
                Ok(Delivery::Stored)
            }
            _ => Ok(Delivery::Dropped),
        }
    }

    /// Opens a notification stream for `udid`: what was stored for it
    /// first, then what is pushed while it is open.
    pub fn connect(self: &Arc<Hub>, state: &State, udid: &str) -> Result<Stream, StateError> {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut streams = self
            .streams
            .lock()
            .map_err(|_| StateError("delivery: poisoned lock".into()))?;
        if !self.closed.load(Ordering::Acquire) {
            for line in state.take_stored(udid, now_secs())? {
                let _ = tx.try_send(Bytes::from(line));
            }
            streams.entry(udid.to_string()).or_default().push((id, tx));
        }
        Ok(Stream {
            rx,
            hub: self.clone(),
            udid: udid.to_string(),
            id,
        })
    }

    /// Ends every stream (shutdown); no new stream is opened.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut s) = self.streams.lock() {
            s.clear();
        }
    }

    /// How many streams are open.
    pub fn open_streams(&self) -> usize {
        self.streams
            .lock()
            .map(|s| s.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

/// A notification stream: an HTTP body of NDJSON lines, removed from the
/// hub when dropped.
pub struct Stream {
    rx: mpsc::Receiver<Bytes>,
    hub: Arc<Hub>,
    udid: String,
    id: u64,
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.hub.streams.lock() {
            if let Some(list) = streams.get_mut(&self.udid) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    streams.remove(&self.udid);
                }
            }
        }
    }
}

impl hyper::body::Body for Stream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(hyper::body::Frame::data(l))))
    }
}
