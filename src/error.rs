//! The crate's one error type.

use std::fmt;

use crate::outbox::{OutboxError, PlanError};
use crate::template::RenderError;
use crate::tool::ConfigError;

/// The error of the crate's fallible operations.
///
/// One word wide (the detail is boxed) so `Result<T>` stays small. [`Error::kind`] says which
/// family it belongs to; the typed detail is reachable through the `as_*` getters and through
/// [`std::error::Error::source`].
pub struct Error {
    inner: Box<Inner>,
}

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which family an [`Error`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A tool config is invalid: found at compile time, before any call.
    Config,
    /// A value could not be rendered into its place during a call.
    Render,
    /// An outbox or store operation was refused or failed.
    Outbox,
    /// A retry plan or dispatcher setting cannot work: found at build time.
    RetryPlan,
}

#[derive(Debug, thiserror::Error)]
enum Inner {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Render(RenderError),
    #[error(transparent)]
    Outbox(OutboxError),
    #[error(transparent)]
    RetryPlan(PlanError),
}

impl Error {
    /// The family of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Inner::Config(_) => ErrorKind::Config,
            Inner::Render(_) => ErrorKind::Render,
            Inner::Outbox(_) => ErrorKind::Outbox,
            Inner::RetryPlan(_) => ErrorKind::RetryPlan,
        }
    }

    /// The tool-config error, if this is one.
    #[must_use]
    pub fn as_config(&self) -> Option<&ConfigError> {
        match &*self.inner {
            Inner::Config(e) => Some(e),
            _ => None,
        }
    }

    /// The render error, if this is one.
    #[must_use]
    pub fn as_render(&self) -> Option<&RenderError> {
        match &*self.inner {
            Inner::Render(e) => Some(e),
            _ => None,
        }
    }

    /// The outbox error, if this is one.
    #[must_use]
    pub fn as_outbox(&self) -> Option<&OutboxError> {
        match &*self.inner {
            Inner::Outbox(e) => Some(e),
            _ => None,
        }
    }

    /// The retry-plan error, if this is one.
    #[must_use]
    pub fn as_retry_plan(&self) -> Option<&PlanError> {
        match &*self.inner {
            Inner::RetryPlan(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OutboxError> for Error {
    fn from(e: OutboxError) -> Self {
        Self {
            inner: Box::new(Inner::Outbox(e)),
        }
    }
}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        Self {
            inner: Box::new(Inner::RetryPlan(e)),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.inner)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self {
            inner: Box::new(Inner::Config(e)),
        }
    }
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        Self {
            inner: Box::new(Inner::Render(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_word_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Result<()>>(),
            std::mem::size_of::<usize>()
        );
    }
}
