//! A small async counting semaphore: the runtime-wide bound on tool calls in flight.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// At most `n` holders at once; waiters are woken when a permit is returned.
#[derive(Debug)]
pub(crate) struct Permits {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    next: u64,
    waiting: BTreeMap<u64, Waker>,
}

impl Permits {
    pub(crate) fn new(n: usize) -> Self {
        Permits {
            state: Mutex::new(State {
                free: n,
                next: 0,
                waiting: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit; it is returned when the [`Permit`] drops.
    pub(crate) fn acquire(&self) -> Acquire<'_> {
        Acquire {
            permits: self,
            key: None,
        }
    }

    /// Permits free now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.lock().free
    }
}

pub(crate) struct Acquire<'a> {
    permits: &'a Permits,
    key: Option<u64>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let permits = self.permits;
        let mut s = permits.lock();
        if s.free > 0 {
            s.free -= 1;
            if let Some(key) = self.key.take() {
                s.waiting.remove(&key);
            }
            return Poll::Ready(Permit { permits });
        }
        let key = match self.key {
            Some(k) => k,
            None => {
                s.next += 1;
                s.next
            }
        };
        s.waiting.insert(key, cx.waker().clone());
        drop(s);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.permits.lock().waiting.remove(&key);
        }
    }
}

/// A held permit.
pub(crate) struct Permit<'a> {
    permits: &'a Permits,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let wake: Vec<Waker> = {
            let mut s = self.permits.lock();
            s.free += 1;
            // As many of the longest waiters as there are free permits: a waiter removes
            // itself once it holds a permit, and a dropped one removed itself already.
            s.waiting.values().take(s.free).cloned().collect()
        };
        for waker in wake {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_bound_holders_and_wake_waiters() {
        let permits = Permits::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(permits.acquire());
        let Poll::Ready(held) = first.as_mut().poll(&mut cx) else {
            panic!("a free permit is taken at once")
        };
        let mut second = Box::pin(permits.acquire());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert_eq!(permits.free(), 0);
        drop(held);
        let Poll::Ready(moved) = second.as_mut().poll(&mut cx) else {
            panic!("the returned permit goes to the waiter")
        };
        assert_eq!(permits.free(), 0);
        drop(moved);
        assert_eq!(permits.free(), 1);
    }
}
