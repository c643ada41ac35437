//! Running bookkeeping in the background without naming an async runtime: the [`Spawn`] trait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A task handed to [`Spawn::spawn`].
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs a task in the background, so that bookkeeping (recording a live exchange or a tool
/// call) never delays the answer the caller waits for. `TokioSpawn` (feature `tokio`) is the
/// production one. A component without a spawner awaits such tasks itself, after the answer is
/// known (deterministic tests).
pub trait Spawn: Send + Sync + fmt::Debug {
    /// Starts `task`; it must run to its end even when nobody waits for it.
    fn spawn(&self, task: Task);
}

/// `tokio::spawn`: the task runs on the current tokio runtime (call inside one).
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSpawn;

#[cfg(feature = "tokio")]
impl Spawn for TokioSpawn {
    fn spawn(&self, task: Task) {
        drop(tokio::spawn(task));
    }
}
