//! The crate's one error type.

use std::fmt;

use crate::guard::{PolicyError, Rejection};
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
    /// The guard refused a request (URL, address or redirect hop): see [`Error::as_rejection`].
    Guard,
    /// A guard policy could not be built: see [`Error::as_policy`].
    Policy,
}

#[derive(Debug, thiserror::Error)]
enum Inner {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Render(RenderError),
    #[error(transparent)]
    Guard(Rejection),
    #[error(transparent)]
    Policy(PolicyError),
}

impl Error {
    /// The family of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Inner::Config(_) => ErrorKind::Config,
            Inner::Render(_) => ErrorKind::Render,
            Inner::Guard(_) => ErrorKind::Guard,
            Inner::Policy(_) => ErrorKind::Policy,
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

    /// The guard's refusal, if this is one.
    #[must_use]
    pub fn as_rejection(&self) -> Option<Rejection> {
        match &*self.inner {
            Inner::Guard(r) => Some(*r),
            _ => None,
        }
    }

    /// The policy-building error, if this is one.
    #[must_use]
    pub fn as_policy(&self) -> Option<&PolicyError> {
        match &*self.inner {
            Inner::Policy(e) => Some(e),
            _ => None,
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

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        Self {
            inner: Box::new(Inner::Guard(r)),
        }
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Self {
        Self {
            inner: Box::new(Inner::Policy(e)),
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
