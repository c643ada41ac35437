//! The crate's one error type.

use std::fmt;

use crate::cascade::CascadeError;
use crate::event::EventError;
use crate::guard::{PolicyError, Rejection};
use crate::import::ImportError;
use crate::outbox::{OutboxError, PlanError};
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

/// Declares the error families once: the `ErrorKind` variant, the boxed inner variant, the
/// `as_*` getter and the `From` conversion of each.
macro_rules! families {
    ($( $(#[$doc:meta])* $kind:ident($ty:ty), $getter:ident, $getter_doc:literal; )*) => {
        /// Which family an [`Error`] belongs to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[$doc])* $kind, )*
        }

        #[derive(Debug, thiserror::Error)]
        enum Inner {
            $( #[error(transparent)] $kind($ty), )*
        }

        impl Error {
            /// The family of this error.
            #[must_use]
            pub fn kind(&self) -> ErrorKind {
                match &*self.inner {
                    $( Inner::$kind(_) => ErrorKind::$kind, )*
                }
            }

            $(
                #[doc = $getter_doc]
                #[must_use]
                pub fn $getter(&self) -> Option<&$ty> {
                    match &*self.inner {
                        Inner::$kind(e) => Some(e),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            )*
        }

        $(
            impl From<$ty> for Error {
                fn from(e: $ty) -> Self {
                    Self { inner: Box::new(Inner::$kind(e)) }
                }
            }
        )*
    };
}

families! {
    /// A tool config is invalid: found at compile time, before any call.
    Config(ConfigError), as_config, "The tool-config error, if this is one.";
    /// A value could not be rendered into its place during a call.
    Render(RenderError), as_render, "The render error, if this is one.";
    /// An event envelope could not be parsed.
    Event(EventError), as_event, "The event-parse error, if this is one.";
    /// A server (cascade) config is invalid.
    Cascade(CascadeError), as_cascade, "The server-config error, if this is one.";
    /// A delivery could not be signed (bad secret or message id).
    Signature(SignError), as_signature, "The signing error, if this is one.";
    /// The guard refused a request (URL, address or redirect hop).
    Guard(Rejection), as_rejection, "The guard's refusal, if this is one.";
    /// A guard policy could not be built (a hatch in production, a bad allowlist entry).
    Policy(PolicyError), as_policy, "The policy-building error, if this is one.";
    /// An outbox or store operation was refused or failed.
    Outbox(OutboxError), as_outbox, "The outbox error, if this is one.";
    /// A retry plan or dispatcher setting cannot work: found at build time.
    RetryPlan(PlanError), as_retry_plan, "The retry-plan error, if this is one.";
    /// Another platform's tool config cannot be imported.
    Import(ImportError), as_import, "The import error, if this is one.";
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
