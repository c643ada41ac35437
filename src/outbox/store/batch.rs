//! Opportunistic batching for a store's hot statements: calls that arrive while one statement
//! is on its way go together in the next. Nothing waits for a batch to fill: the first call
//! starts a flush at once, so a lone call costs what it did, and only concurrency makes
//! batches.

use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_channel::oneshot;

use crate::outbox::error::OutboxError;

/// A queued call: what to do and where its answer goes.
pub(crate) struct Pending<Req, Resp> {
    pub(crate) req: Req,
    reply: oneshot::Sender<Result<Resp, OutboxError>>,
}

impl<Req, Resp> Pending<Req, Resp> {
    /// Answers the caller (who may have stopped waiting).
    pub(crate) fn answer(self, result: Result<Resp, OutboxError>) {
        let _ = self.reply.send(result);
    }
}

/// The flush ended before answering (its task was dropped: the runtime shut down).
#[derive(Debug, thiserror::Error)]
#[error("the store's batch task stopped before answering")]
struct FlushStopped;

struct State<Req, Resp> {
    waiting: Vec<Pending<Req, Resp>>,
    /// A flush is running; a new call only joins the queue.
    flushing: bool,
}

/// The queue of one kind of call.
pub(crate) struct Batcher<Req, Resp> {
    state: Mutex<State<Req, Resp>>,
}

impl<Req, Resp> Default for Batcher<Req, Resp> {
    fn default() -> Self {
        Batcher {
            state: Mutex::new(State {
                waiting: Vec::new(),
                flushing: false,
            }),
        }
    }
}

impl<Req, Resp> Batcher<Req, Resp> {
    fn lock(&self) -> MutexGuard<'_, State<Req, Resp>> {
        // Every critical section leaves the queue consistent: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `req` and waits for its answer; `start_flush` runs when no flush is running
    /// (it should start one on a task of its own, so that a caller who stops waiting strands
    /// nobody's call).
    pub(crate) async fn call(
        &self,
        req: Req,
        start_flush: impl FnOnce(),
    ) -> Result<Resp, OutboxError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut state = self.lock();
            state.waiting.push(Pending { req, reply });
            !std::mem::replace(&mut state.flushing, true)
        };
        if lead {
            start_flush();
        }
        answer
            .await
            .map_err(|_| OutboxError::backend(FlushStopped))?
    }

    /// The running flush's handle: hands out batches until none waits.
    pub(crate) fn flush(&self) -> Flush<'_, Req, Resp> {
        Flush {
            batcher: self,
            done: false,
        }
    }
}

/// A running flush. Dropped before the queue ran empty (a panic, a dropped task), it answers
/// whatever still waits with an error and lets the next call start a new flush.
pub(crate) struct Flush<'a, Req, Resp> {
    batcher: &'a Batcher<Req, Resp>,
    done: bool,
}

impl<Req, Resp> Flush<'_, Req, Resp> {
    /// Up to `max` waiting calls, oldest first; `None` (and the flush is over) when none
    /// waits.
    pub(crate) fn next_batch(&mut self, max: usize) -> Option<Vec<Pending<Req, Resp>>> {
        let mut state = self.batcher.lock();
        if state.waiting.is_empty() {
            state.flushing = false;
            self.done = true;
            return None;
        }
        let n = state.waiting.len().min(max.max(1));
        Some(state.waiting.drain(..n).collect())
    }
}

impl<Req, Resp> Drop for Flush<'_, Req, Resp> {
    fn drop(&mut self) {
        if !self.done {
            let waiting = {
                let mut state = self.batcher.lock();
                state.flushing = false;
                std::mem::take(&mut state.waiting)
            };
            for pending in waiting {
                pending.answer(Err(OutboxError::backend(FlushStopped)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("ready")
    }

    #[test]
    fn a_lone_call_starts_a_flush_and_later_calls_join_it() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let started = std::cell::Cell::new(0);
        let call = batcher.call(1, || started.set(started.get() + 1));
        let mut call = Box::pin(call);
        assert!(futures_util::FutureExt::now_or_never(&mut call).is_none());
        assert_eq!(started.get(), 1);
        // A second call while the flush runs does not start another.
        let second = batcher.call(2, || panic!("a second flush"));
        let mut second = Box::pin(second);
        assert!(futures_util::FutureExt::now_or_never(&mut second).is_none());
        let mut flush = batcher.flush();
        let batch = flush.next_batch(10).unwrap();
        assert_eq!(batch.iter().map(|p| p.req).collect::<Vec<_>>(), [1, 2]);
        for p in batch {
            let n = p.req;
            p.answer(Ok(n * 10));
        }
        assert!(flush.next_batch(10).is_none());
        assert_eq!(block_on(call).unwrap(), 10);
        assert_eq!(block_on(second).unwrap(), 20);
        // The flush is over: the next call starts one again.
        let again = std::cell::Cell::new(0);
        let third = batcher.call(3, || again.set(again.get() + 1));
        let mut third = Box::pin(third);
        assert!(futures_util::FutureExt::now_or_never(&mut third).is_none());
        assert_eq!(again.get(), 1);
    }

    #[test]
    fn a_flush_dropped_early_answers_the_queue_and_frees_the_next() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let mut call = Box::pin(batcher.call(1, || {}));
        assert!(futures_util::FutureExt::now_or_never(&mut call).is_none());
        drop(batcher.flush());
        assert!(block_on(call).is_err());
        let started = std::cell::Cell::new(false);
        let mut next = Box::pin(batcher.call(2, || started.set(true)));
        assert!(futures_util::FutureExt::now_or_never(&mut next).is_none());
        assert!(started.get());
    }

    #[test]
    fn batches_are_capped_oldest_first() {
        let batcher: Batcher<u32, ()> = Batcher::default();
        let mut calls: Vec<_> = (0..5).map(|n| Box::pin(batcher.call(n, || {}))).collect();
        for c in &mut calls {
            assert!(futures_util::FutureExt::now_or_never(c).is_none());
        }
        let mut flush = batcher.flush();
        let first: Vec<u32> = flush.next_batch(3).unwrap().iter().map(|p| p.req).collect();
        assert_eq!(first, [0, 1, 2]);
        let rest: Vec<u32> = flush.next_batch(3).unwrap().iter().map(|p| p.req).collect();
        assert_eq!(rest, [3, 4]);
        assert!(flush.next_batch(3).is_none());
    }
}
