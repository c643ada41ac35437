//! The outbox's boundaries to the outside: the clock and randomness (the HTTP transport is
//! [`crate::transport::Transport`]).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::outbox::model::Timestamp;

/// Where the outbox reads the time: every schedule is computed from it.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Timestamp::from_unix_millis(ms)
    }
}

/// A clock that moves only when told: for tests and simulations. Clones share the time.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::outbox::{Clock, ManualClock, Timestamp};
/// let clock = ManualClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now().as_unix_seconds(), 1_700_000_005);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start.as_unix_millis())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_unix_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Where the outbox gets random bits: retry jitter and the random part of ids.
pub trait Random: Send + Sync + fmt::Debug {
    /// 64 random bits.
    fn next_u64(&self) -> u64;

    /// A number in `[0, 1)`, from [`Random::next_u64`].
    #[allow(
        clippy::cast_precision_loss,
        reason = "53 bits: every value is exactly representable in an f64"
    )]
    fn next_unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random bits from the operating system (`getrandom`): the default of [`Outbox`] and
/// [`Dispatcher`], so the random part of every job and attempt id is unpredictable. Two ids
/// a tenant holds tell it nothing about how many ids were made between them (a seeded
/// generator's sequence can be inverted: from one output, the next and the count between).
///
/// Should the operating system fail to answer (it practically never does), the bits come
/// from SipHash keyed once per process by std's own OS-seeded keys, over a counter and the
/// time: still keyed, never a panic.
///
/// [`Outbox`]: crate::outbox::Outbox
/// [`Dispatcher`]: crate::outbox::Dispatcher
///
/// ```
/// use agent_webhooks::outbox::{OsRandom, Random};
/// assert_ne!(OsRandom.next_u64(), OsRandom.next_u64()); // 2^-64 to fail
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn next_u64(&self) -> u64 {
        getrandom::u64().unwrap_or_else(|_| keyed_fallback())
    }
}

/// SipHash with per-process OS-seeded keys over a counter and the time.
fn keyed_fallback() -> u64 {
    use std::sync::OnceLock;
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let keys = KEYS.get_or_init(RandomState::new);
    keys.hash_one((n, SystemClock.now().as_unix_millis()))
}

/// A small, fast generator (SplitMix64) for tests and simulations; not for ids in
/// production and never for secrets: its sequence can be inverted, so two of its outputs
/// reveal how many were drawn between (use [`OsRandom`], the default).
///
/// [`SeededRandom::new`] is deterministic, for tests; [`SeededRandom::from_entropy`] seeds it
/// from the process's hash-map keys (std's own per-process randomness).
#[derive(Debug)]
pub struct SeededRandom(AtomicU64);

impl SeededRandom {
    /// A generator that yields the same sequence for the same seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        SeededRandom(AtomicU64::new(seed))
    }

    /// A generator seeded differently in every process.
    #[must_use]
    pub fn from_entropy() -> Self {
        let seed = RandomState::new().hash_one(SystemClock.now().as_unix_millis());
        SeededRandom::new(seed)
    }
}

impl Random for SeededRandom {
    fn next_u64(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_deterministic_and_units_are_in_range() {
        let (a, b) = (SeededRandom::new(7), SeededRandom::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let u = a.next_unit();
            assert!((0.0..1.0).contains(&u));
            b.next_u64();
        }
        assert_ne!(
            SeededRandom::new(1).next_u64(),
            SeededRandom::new(2).next_u64()
        );
    }
}
