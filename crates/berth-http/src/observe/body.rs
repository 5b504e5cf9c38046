//! A body that counts the data bytes that actually pass through it (not what a header
//! claims), and runs a callback with the count when it is dropped: once the response has
//! been sent whole, or when the client went away mid-stream.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// What runs when a counted body is dropped, given the bytes that passed.
pub(crate) type OnDrop = Box<dyn FnOnce(u64) + Send>;

/// `inner`, adding every data frame's length to `counter`; size hint and end of stream are
/// the inner body's, so `Content-Length` and HEAD answers are unchanged.
pub(crate) struct Counted {
    inner: Body,
    counter: Arc<AtomicU64>,
    on_drop: Option<OnDrop>,
}

impl Counted {
    pub(crate) fn wrap(inner: Body, counter: Arc<AtomicU64>, on_drop: Option<OnDrop>) -> Body {
        Body::new(Counted {
            inner,
            counter,
            on_drop,
        })
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop(self.counter.load(Ordering::Relaxed));
        }
    }
}
