//! Body policies: what the client does with each response body.
//!
//! `drop` hands the response back to hyper unread; whether the connection survives depends on
//! how much of the body hyper had already buffered. That is exactly what kalab measures.

use crate::model::BodyFate;
use crate::scenario::BodyPolicy;

/// The result of applying a body policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyResult {
    /// Body bytes the client read.
    pub(crate) bytes_read: u64,
    /// Whether the body was read to its end or dropped.
    pub(crate) fate: BodyFate,
}

/// Applies `policy` to a response, consuming it.
pub(crate) async fn apply(
    policy: BodyPolicy,
    mut response: reqwest::Response,
) -> Result<BodyResult, reqwest::Error> {
    let limit = match policy {
        BodyPolicy::Drop => {
            drop(response);
            return Ok(BodyResult {
                bytes_read: 0,
                fate: BodyFate::Dropped,
            });
        }
        BodyPolicy::Drain => None,
        BodyPolicy::Partial(n) | BodyPolicy::DrainLimit(n) => Some(n),
    };
    let mut bytes_read = 0u64;
    loop {
        if limit.is_some_and(|n| bytes_read >= n) {
            // The limit is reached before the end was seen: the rest stays unread.
            return Ok(BodyResult {
                bytes_read,
                fate: BodyFate::Dropped,
            });
        }
        match response.chunk().await? {
            Some(chunk) => bytes_read += chunk.len() as u64,
            None => {
                return Ok(BodyResult {
                    bytes_read,
                    fate: BodyFate::Drained,
                })
            }
        }
    }
}
