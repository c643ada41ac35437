//! The [`Doorbell`]: how a store tells idle dispatchers that a job may have become due.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Wakes every dispatcher waiting on it; runtime-agnostic (a counter and the waiting tasks'
/// wakers under a mutex). Clones share the bell.
///
/// A dispatcher takes a [`Doorbell::listen`] ticket *before* it claims; if nothing was due, it
/// waits on the ticket (and its poll interval), so a ring that came while it was claiming is
/// not missed.
///
/// ```
/// use agent_webhooks::outbox::Doorbell;
/// let bell = Doorbell::new();
/// let ticket = bell.listen();
/// assert!(!ticket.is_rung());
/// bell.ring();
/// assert!(ticket.is_rung());
/// ```
#[derive(Clone, Default)]
pub struct Doorbell(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    rings: u64,
    waiting: Vec<Waker>,
}

impl fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Doorbell")
            .field("rings", &state.rings)
            .field("waiting", &state.waiting.len())
            .finish()
    }
}

impl Doorbell {
    /// A bell nobody has rung.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rings: every ticket taken before now is answered, and their tasks are woken.
    pub fn ring(&self) {
        let waiting = {
            let mut state = self.lock();
            state.rings = state.rings.wrapping_add(1);
            std::mem::take(&mut state.waiting)
        };
        for waker in waiting {
            waker.wake();
        }
    }

    /// A ticket: a future that completes at the first ring after this call.
    pub fn listen(&self) -> Ticket {
        Ticket {
            bell: self.clone(),
            seen: self.lock().rings,
        }
    }
}

/// Completes at the first ring of its [`Doorbell`] after [`Doorbell::listen`].
#[derive(Debug)]
#[must_use = "a ticket does nothing unless awaited"]
pub struct Ticket {
    bell: Doorbell,
    seen: u64,
}

impl Ticket {
    /// Whether the bell has rung since the ticket was taken.
    #[must_use]
    pub fn is_rung(&self) -> bool {
        self.bell.lock().rings != self.seen
    }
}

impl Future for Ticket {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.bell.lock();
        if state.rings != self.seen {
            return Poll::Ready(());
        }
        if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_wakes_the_waiting_task_and_answers_older_tickets_only() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;

        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let bell = Doorbell::new();
        let mut ticket = bell.listen();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_pending());
        // `will_wake` is best effort (vtables may be duplicated), so a task polled twice keeps
        // one waker, or at most one per poll; never none.
        let kept = bell.lock().waiting.len();
        assert!((1..=2).contains(&kept), "{kept} wakers kept");
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        bell.ring();
        assert!(
            count.0.load(Ordering::SeqCst) >= 1,
            "the ring woke the task"
        );
        assert!(bell.lock().waiting.is_empty());
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_ready());
        assert!(!bell.listen().is_rung());
    }
}
