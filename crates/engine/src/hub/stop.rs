//! Stopping the hub's timers. Every task the hub spawns — presence timeouts of detached
//! sessions (and so the drop timeouts of room members), token expiry, the reaping of a dead
//! cluster node — is started with [`Hub::spawn_timer`]: it waits on the hub's stop signal as
//! well as on its clock, and holds the hub only weakly while it waits. [`Hub::stop`] (called by
//! `Server::close`) ends them all at once; dropping the hub's last handle ends them too (the
//! signal's sender goes with it).

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Weak};

use tokio::sync::watch;

use super::{Hub, Shared};

/// The hub's stop signal: `true` once the hub stopped.
pub(super) struct Stop(watch::Sender<bool>);

impl Default for Stop {
    fn default() -> Self {
        Stop(watch::channel(false).0)
    }
}

/// The hub as a waiting task holds it: upgraded only when the wait is over.
pub(super) struct WeakHub(Weak<Shared>);

impl WeakHub {
    /// The hub, unless it is gone.
    pub(super) fn upgrade(&self) -> Option<Hub> {
        self.0.upgrade().map(|shared| Hub { shared })
    }
}

impl Hub {
    /// Spawns the task `start` makes (given this hub, weakly) and ends it when the hub stops
    /// or is dropped, whichever comes first. A task spawned after the stop ends at once.
    pub(super) fn spawn_timer<F, T>(&self, start: F)
    where
        F: FnOnce(WeakHub) -> T,
        T: Future<Output = ()> + Send + 'static,
    {
        let mut stopped = self.shared.stop.0.subscribe();
        let task = start(WeakHub(Arc::downgrade(&self.shared)));
        tokio::spawn(async move {
            tokio::select! {
                biased;
                // `Err` (the hub was dropped) stops the task too.
                _ = stopped.wait_for(|stopped| *stopped) => {}
                () = task => {}
            }
        });
    }

    /// Stops every timer of the hub, now and for good. Idempotent.
    pub fn stop(&self) {
        self.shared.stop.0.send_replace(true);
    }

    /// Whether [`Hub::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.shared.stop.0.borrow()
    }

    /// The hub's shared state, weakly: tests check that nothing keeps it alive after shutdown.
    #[doc(hidden)]
    pub fn weak(&self) -> Weak<dyn Any + Send + Sync> {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        weak
    }
}
