//! Stop signals: SIGINT (Ctrl-C), SIGTERM (`timeout`, `kill`, CI cancellation) and SIGHUP (a
//! closed terminal) all mean "stop and report what was measured". One listener per process is
//! started before anything runs, so a signal that arrives while the collectors start is not
//! lost; every driver watches the same [`StopFlag`]. A second signal while kalab is stopping ends
//! it at once (exit 130), for a user who does not want to wait for the settle.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The signal that stopped kalab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl StopSignal {
    /// `SIGINT`, `SIGTERM`, `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT (Ctrl-C)",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        })
    }
}

/// Whether a stop signal has arrived, shared by everything that must stop on one.
#[derive(Debug, Clone)]
pub struct StopFlag(watch::Receiver<Option<StopSignal>>);

impl StopFlag {
    /// Starts the process's listener (inside a tokio runtime). Call it before the session
    /// starts; a flag made later sees only the signals that arrive after it.
    pub fn listen() -> anyhow::Result<StopFlag> {
        let cannot = |err: std::io::Error| anyhow::anyhow!("cannot listen for stop signals: {err}");
        let mut interrupt = signal(SignalKind::interrupt()).map_err(cannot)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(cannot)?;
        let mut hangup = signal(SignalKind::hangup()).map_err(cannot)?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = interrupt.recv() => StopSignal::Interrupt,
                    _ = terminate.recv() => StopSignal::Terminate,
                    _ = hangup.recv() => StopSignal::Hangup,
                };
                if tx.borrow().is_some() {
                    second_signal(got);
                }
                tx.send_replace(Some(got));
            }
        });
        Ok(StopFlag(rx))
    }

    /// The signal received so far, if any.
    pub fn get(&self) -> Option<StopSignal> {
        *self.0.borrow()
    }

    /// Resolves when a stop signal arrives (at once if one has).
    pub async fn stopped(&self) -> StopSignal {
        let mut rx = self.0.clone();
        let got = rx.wait_for(Option::is_some).await.map(|signal| *signal);
        match got {
            Ok(signal) => signal.unwrap_or(StopSignal::Interrupt),
            // The listener ended with the runtime: nothing more will arrive.
            Err(_) => std::future::pending().await,
        }
    }
}

/// A second stop signal: the user insists. Stop now.
fn second_signal(signal: StopSignal) {
    static TOLD: AtomicBool = AtomicBool::new(false);
    if !TOLD.swap(true, Ordering::SeqCst) {
        eprintln!("kalab: {signal} again: stopping at once, without the report");
    }
    std::process::exit(130);
}

/// The process group an observed program leads (it is started with `process_group(0)`):
/// signals go to the whole group, so whatever it started stops with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup(libc::pid_t);

impl ProcessGroup {
    /// The group `child` leads; `None` once it was reaped.
    pub fn of(child: &tokio::process::Child) -> Option<ProcessGroup> {
        // kalab becomes the reaper of the group's orphans, so they can be waited for here.
        // SAFETY: prctl(2) with PR_SET_CHILD_SUBREAPER takes an integer flag and touches no
        // memory.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        child
            .id()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .filter(|&pid| pid > 1)
            .map(ProcessGroup)
    }

    /// Sends `signal` to every process of the group.
    pub fn signal(self, signal: libc::c_int) {
        // SAFETY: kill(2) with a negative pid signals the group we created; no memory involved.
        unsafe {
            libc::kill(-self.0, signal);
        }
    }

    /// Whether any process of the group is still running (reaping those that exited).
    fn alive(self) -> bool {
        loop {
            // SAFETY: waitpid(2) on our own process group with WNOHANG; a null status pointer
            // is allowed.
            let reaped = unsafe { libc::waitpid(-self.0, std::ptr::null_mut(), libc::WNOHANG) };
            if reaped <= 0 {
                break;
            }
        }
        // SAFETY: kill(2) with signal 0 only checks that the group exists.
        unsafe { libc::kill(-self.0, 0) == 0 }
    }

    /// Ends what is left of the group after its leader exited: SIGTERM, then SIGKILL after
    /// `grace`. Returns at once when nothing is left.
    pub async fn end_within(self, grace: std::time::Duration) {
        if !self.alive() {
            return;
        }
        self.signal(libc::SIGTERM);
        let until = std::time::Instant::now() + grace;
        while self.alive() {
            if std::time::Instant::now() >= until {
                self.signal(libc::SIGKILL);
                for _ in 0..50 {
                    if !self.alive() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_signal_sets_the_flag_and_wakes_every_waiter() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let flag = StopFlag::listen().unwrap();
            assert_eq!(flag.get(), None);
            let waiter = {
                let flag = flag.clone();
                tokio::spawn(async move { flag.stopped().await })
            };
            // SAFETY: raise(3) sends SIGHUP to this process, whose handler is installed above.
            unsafe {
                libc::raise(libc::SIGHUP);
            }
            assert_eq!(waiter.await.unwrap(), StopSignal::Hangup);
            assert_eq!(flag.get(), Some(StopSignal::Hangup));
            assert_eq!(flag.stopped().await, StopSignal::Hangup);
        });
    }
}
