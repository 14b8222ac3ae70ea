//! Accept errors back off: an accept that fails (out of file descriptors, `EMFILE`) fails again
//! at once, so retrying in a loop burns a core. The embedded server waits 5 ms after a failure,
//! doubling up to 1 s while failures go on, and says so once on stderr.

use std::time::Duration;

/// The first wait after a failed accept.
const FIRST_WAIT: Duration = Duration::from_millis(5);
/// The longest wait between two accepts.
const LONGEST_WAIT: Duration = Duration::from_secs(1);

/// The back-off state of one accept loop.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    wait: Option<Duration>,
    failures: u64,
}

impl AcceptBackoff {
    /// Records a failed accept and waits before the next one.
    pub(crate) async fn failed(&mut self, err: &std::io::Error) {
        self.failures += 1;
        if self.failures == 1 {
            eprintln!(
                "kalab: the embedded server cannot accept a connection ({err}); retrying with back-off"
            );
        }
        let wait = self.next_wait();
        tokio::time::sleep(wait).await;
    }

    /// The wait after one more failure: doubled, at most [`LONGEST_WAIT`].
    fn next_wait(&mut self) -> Duration {
        let wait = self.wait.map_or(FIRST_WAIT, |w| (w * 2).min(LONGEST_WAIT));
        self.wait = Some(wait);
        wait
    }

    /// An accept succeeded: the next failure starts from the first wait again.
    pub(crate) fn succeeded(&mut self) {
        self.wait = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_second_and_reset_on_success() {
        let mut backoff = AcceptBackoff::default();
        let waits: Vec<u128> = (0..10).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.next_wait(), FIRST_WAIT);
    }
}
