//! Waiting without an async runtime in the core: the [`Timer`] trait, a deadline helper
//! ([`within`]), the tokio timer (feature `tokio`) and a deterministic one for tests
//! ([`ManualTimer`], driven with [`ManualClock`](crate::outbox::ManualClock)).
//!
//! The boundary enforces its own deadlines with a timer instead of trusting every transport to
//! honour its timeout: the send step races each send against [`Timer::sleep`], and the live path
//! uses it for the budget of an exchange. The dispatcher can use the same trait for its own
//! deadlines and lease heartbeats.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::{Either, select};

use crate::outbox::{Clock, ManualClock, Timestamp};

/// A future that completes once its duration has passed; returned by [`Timer::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the boundary waits: a small object-safe trait so the core never names an async
/// runtime. `TokioTimer` (feature `tokio`) is the production one; [`ManualTimer`] moves only
/// when a test says so.
///
/// A timer and the [`Clock`] the same component reads should agree (the system clock with
/// `TokioTimer`, the [`ManualClock`] of a [`ManualTimer`]).
pub trait Timer: Send + Sync + fmt::Debug {
    /// A future that completes once `duration` has passed (at once for zero). Dropping it
    /// cancels the wait.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The deadline of [`within`] passed before the work finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the deadline of {} ms passed", .0.as_millis())]
pub struct Elapsed(pub Duration);

/// Runs `work` until it finishes or `limit` passes on `timer`, whichever comes first; the work
/// is dropped (cancelled) when the deadline wins. Work that is ready at the same poll as the
/// deadline wins.
///
/// # Errors
/// [`Elapsed`] when `limit` passed first.
pub async fn within<F: Future>(
    timer: &dyn Timer,
    limit: Duration,
    work: F,
) -> Result<F::Output, Elapsed> {
    let work = pin!(work);
    match select(work, timer.sleep(limit)).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(Elapsed(limit)),
    }
}

/// A timer that never fires: deadlines are left to the transport's own timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverTimer;

impl Timer for NeverTimer {
    fn sleep(&self, _duration: Duration) -> Sleep {
        Box::pin(std::future::pending())
    }
}

/// The tokio timer (`tokio::time::sleep`); it must be polled inside a tokio runtime with the
/// time driver enabled.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A deterministic timer over a [`ManualClock`]: a sleep completes once the clock reaches its
/// end. Move time with [`ManualTimer::advance`] (or [`ManualTimer::set`]), which wakes every
/// sleeper that is due; a test's scripted transport can call it to "take" time. Clones share
/// the clock and the sleepers.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::outbox::{Clock, ManualClock, Timestamp};
/// use agent_webhooks::transport::{ManualTimer, Timer};
///
/// let clock = ManualClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// let timer = ManualTimer::new(clock.clone());
/// let mut sleep = timer.sleep(Duration::from_secs(2));
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// timer.advance(Duration::from_secs(2));
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// assert_eq!(clock.now().as_unix_seconds(), 1_700_000_002);
/// ```
#[derive(Debug, Clone)]
pub struct ManualTimer {
    clock: ManualClock,
    sleepers: Arc<Mutex<Sleepers>>,
    jump: bool,
}

#[derive(Debug, Default)]
struct Sleepers {
    next: u64,
    // Keyed by (end, registration order): woken in order.
    waiting: BTreeMap<(Timestamp, u64), Waker>,
}

impl ManualTimer {
    /// A timer reading `clock` (keep a clone of the clock to read the time).
    #[must_use]
    pub fn new(clock: ManualClock) -> Self {
        ManualTimer {
            clock,
            sleepers: Arc::new(Mutex::new(Sleepers::default())),
            jump: false,
        }
    }

    /// A timer whose time jumps: a sleep that is polled and not yet due moves the clock to its
    /// end at once (waking every other sleep then due). Work that is ready when polled still
    /// wins a race against a sleep ([`within`] polls the work first), so a scripted transport
    /// that takes time by advancing the clock, or one that never answers, plays out to the
    /// millisecond without a test moving time by hand. For sequential code: with several
    /// tasks in flight, the first sleep polled moves time for all.
    #[must_use]
    pub fn jumping(clock: ManualClock) -> Self {
        ManualTimer {
            jump: true,
            ..ManualTimer::new(clock)
        }
    }

    /// The clock this timer reads.
    #[must_use]
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Moves the clock forward and wakes every sleep now due.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.wake_due();
    }

    /// Sets the clock and wakes every sleep now due.
    pub fn set(&self, to: Timestamp) {
        self.clock.set(to);
        self.wake_due();
    }

    /// How many sleeps are waiting (registered by a poll and not yet due).
    #[must_use]
    pub fn sleepers(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Wakes the sleeps that are due on the clock (call after moving the clock by other means).
    pub fn wake_due(&self) {
        let now = self.clock.now();
        let due: Vec<Waker> = {
            let mut s = self.lock();
            let later = s.waiting.split_off(&(
                Timestamp::from_unix_millis(now.as_unix_millis().saturating_add(1)),
                0,
            ));
            std::mem::replace(&mut s.waiting, later)
                .into_values()
                .collect()
        };
        for waker in due {
            waker.wake();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sleepers> {
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Timer for ManualTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        let end = self.clock.now().saturating_add(duration);
        Box::pin(ManualSleep {
            timer: self.clone(),
            end,
            key: None,
        })
    }
}

struct ManualSleep {
    timer: ManualTimer,
    end: Timestamp,
    key: Option<(Timestamp, u64)>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.jump && self.timer.clock.now() < self.end {
            self.timer.set(self.end);
        }
        if self.timer.clock.now() >= self.end {
            if let Some(key) = self.key.take() {
                self.timer.lock().waiting.remove(&key);
            }
            return Poll::Ready(());
        }
        let end = self.end;
        let key = self.key;
        let timer = self.timer.clone();
        let mut s = timer.lock();
        let key = key.unwrap_or_else(|| {
            s.next += 1;
            (end, s.next)
        });
        s.waiting.insert(key, cx.waker().clone());
        drop(s);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.timer.lock().waiting.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn manual_sleeps_complete_in_order_of_their_end() {
        let timer = ManualTimer::new(ManualClock::new(Timestamp::from_unix_seconds(10)));
        let mut short = timer.sleep(Duration::from_millis(100));
        let mut long = timer.sleep(Duration::from_millis(300));
        assert!(poll(&mut short).is_pending());
        assert!(poll(&mut long).is_pending());
        assert_eq!(timer.sleepers(), 2);
        timer.advance(Duration::from_millis(100));
        assert!(poll(&mut short).is_ready());
        assert!(poll(&mut long).is_pending());
        assert_eq!(timer.sleepers(), 1);
        drop(long);
        assert_eq!(timer.sleepers(), 0, "a dropped sleep unregisters");
        assert!(poll(&mut timer.sleep(Duration::ZERO)).is_ready());
    }

    #[test]
    fn within_returns_the_work_or_elapsed() {
        let timer = ManualTimer::new(ManualClock::default());
        let mut ready = Box::pin(within(&timer, Duration::from_secs(1), async { 7 }));
        assert_eq!(poll(&mut ready), Poll::Ready(Ok(7)));
        let mut stuck = Box::pin(within(
            &timer,
            Duration::from_secs(1),
            std::future::pending::<()>(),
        ));
        assert!(poll(&mut stuck).is_pending());
        timer.advance(Duration::from_secs(1));
        assert_eq!(
            poll(&mut stuck),
            Poll::Ready(Err(Elapsed(Duration::from_secs(1))))
        );
    }

    #[test]
    fn a_jumping_timer_moves_time_to_the_sleep_it_waits_for() {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(10));
        let timer = ManualTimer::jumping(clock.clone());
        let mut stuck = Box::pin(within(
            &timer,
            Duration::from_secs(3),
            std::future::pending::<()>(),
        ));
        assert!(poll(&mut stuck).is_ready());
        assert_eq!(clock.now(), Timestamp::from_unix_seconds(13));
        let mut quick = Box::pin(within(&timer, Duration::from_secs(3), async { 1 }));
        assert_eq!(poll(&mut quick), Poll::Ready(Ok(1)));
        assert_eq!(
            clock.now(),
            Timestamp::from_unix_seconds(13),
            "ready work wins"
        );
    }

    #[test]
    fn never_timer_never_fires() {
        let mut sleep = NeverTimer.sleep(Duration::ZERO);
        assert!(poll(&mut sleep).is_pending());
    }
}
