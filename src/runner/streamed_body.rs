//! The embedded server's response body: `body_bytes` of `k`, streamed in frames cut from one
//! fixed block shared by every response, so memory does not grow with the body size (a 1 GiB
//! body costs 64 KiB). Chunked responses go out in [`CHUNK_BYTES`] chunks; others carry their
//! exact length.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// Chunk size for chunked responses.
pub(crate) const CHUNK_BYTES: usize = 16 * 1024;
/// Frame size for responses with a `Content-Length`, and the size of the shared block.
const BLOCK_BYTES: usize = 64 * 1024;

/// The block every frame is a slice of.
fn block() -> Bytes {
    static BLOCK: OnceLock<Bytes> = OnceLock::new();
    BLOCK
        .get_or_init(|| Bytes::from(vec![b'k'; BLOCK_BYTES]))
        .clone()
}

/// A body of `remaining` bytes of `k`.
pub(crate) struct ResponseBody {
    remaining: u64,
    chunked: bool,
}

impl ResponseBody {
    /// A body of `body_bytes`, chunked or not.
    pub(crate) fn new(body_bytes: u64, chunked: bool) -> Self {
        ResponseBody {
            remaining: body_bytes,
            chunked,
        }
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let frame_bytes = if self.chunked {
            CHUNK_BYTES
        } else {
            BLOCK_BYTES
        };
        let take = usize::try_from(self.remaining).map_or(frame_bytes, |r| r.min(frame_bytes));
        self.remaining -= take as u64;
        Poll::Ready(Some(Ok(Frame::data(block().slice(..take)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.remaining)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Body as _;

    fn collect(mut body: ResponseBody) -> (usize, Vec<usize>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut frames = Vec::new();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.iter().all(|&b| b == b'k'));
            frames.push(data.len());
        }
        (frames.iter().sum(), frames)
    }

    #[test]
    fn bodies_stream_in_fixed_frames_of_the_exact_length() {
        let body = ResponseBody::new(200_000, false);
        assert_eq!(body.size_hint().exact(), Some(200_000));
        let (total, frames) = collect(body);
        assert_eq!(total, 200_000);
        assert_eq!(frames, [65536, 65536, 65536, 3392]);
        let (total, frames) = collect(ResponseBody::new(40_000, true));
        assert_eq!(total, 40_000);
        assert_eq!(frames, [16384, 16384, 7232]);
        assert_eq!(collect(ResponseBody::new(0, false)).0, 0);
    }

    #[test]
    fn a_huge_body_costs_no_memory_up_front() {
        let body = ResponseBody::new(u64::MAX, false);
        assert_eq!(body.size_hint().exact(), Some(u64::MAX));
    }
}
