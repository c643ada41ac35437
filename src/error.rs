//! The crate's one error type.

use std::fmt;

use crate::cascade::CascadeError;
use crate::event::EventError;
use crate::sign::SignError;
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
    /// An event envelope could not be parsed.
    Event,
    /// A server (cascade) config is invalid.
    Cascade,
    /// A delivery could not be signed (bad secret or message id).
    Signature,
}

#[derive(Debug, thiserror::Error)]
enum Inner {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Render(RenderError),
    #[error(transparent)]
    Event(EventError),
    #[error(transparent)]
    Cascade(CascadeError),
    #[error(transparent)]
    Signature(SignError),
}

impl Error {
    /// The family of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Inner::Config(_) => ErrorKind::Config,
            Inner::Render(_) => ErrorKind::Render,
            Inner::Event(_) => ErrorKind::Event,
            Inner::Cascade(_) => ErrorKind::Cascade,
            Inner::Signature(_) => ErrorKind::Signature,
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

    /// The event-parse error, if this is one.
    #[must_use]
    pub fn as_event(&self) -> Option<&EventError> {
        match &*self.inner {
            Inner::Event(e) => Some(e),
            _ => None,
        }
    }

    /// The server-config error, if this is one.
    #[must_use]
    pub fn as_cascade(&self) -> Option<&CascadeError> {
        match &*self.inner {
            Inner::Cascade(e) => Some(e),
            _ => None,
        }
    }

    /// The signing error, if this is one.
    #[must_use]
    pub fn as_signature(&self) -> Option<&SignError> {
        match &*self.inner {
            Inner::Signature(e) => Some(e),
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

macro_rules! from_family {
    ($($ty:ident => $variant:ident),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Self { inner: Box::new(Inner::$variant(e)) }
            }
        }
    )*};
}
from_family!(EventError => Event, CascadeError => Cascade, SignError => Signature);
