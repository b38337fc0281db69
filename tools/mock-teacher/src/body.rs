//! The response body type: a whole buffer, or a channel of server-sent events that a
//! producer task feeds. Either holds the request's in-flight guard until it is done.

use crate::stats::InFlight;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Ends a connection without a complete response (a dropped or hung request).
#[derive(Debug)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection aborted on purpose")
    }
}

impl std::error::Error for Aborted {}

/// A response body.
pub struct ReplyBody {
    inner: Inner,
    _guard: Option<InFlight>,
}

enum Inner {
    Full(Option<Bytes>),
    Events(mpsc::Receiver<Result<Bytes, Aborted>>),
}

impl ReplyBody {
    /// A whole body.
    pub fn full(bytes: impl Into<Bytes>) -> ReplyBody {
        ReplyBody {
            inner: Inner::Full(Some(bytes.into())),
            _guard: None,
        }
    }

    /// A body fed by a channel; an `Err` item aborts the connection.
    pub fn events(rx: mpsc::Receiver<Result<Bytes, Aborted>>) -> ReplyBody {
        ReplyBody {
            inner: Inner::Events(rx),
            _guard: None,
        }
    }

    /// Keeps the request counted in flight until the body is sent or dropped.
    pub fn guarded(mut self, guard: InFlight) -> ReplyBody {
        self._guard = Some(guard);
        self
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = self.get_mut();
        let polled = match &mut this.inner {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Events(rx) => rx
                .poll_recv(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
        };
        if let Poll::Ready(None) = polled {
            this._guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.inner, Inner::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
            Inner::Events(_) => SizeHint::default(),
        }
    }
}
