//! The crate's one error type.

use std::fmt;

use crate::cascade::{CascadeError, NoTarget};
use crate::credential::CredentialError;
use crate::directory::DirectoryError;
use crate::event::{EventError, ResponseError, TimestampError, UnknownProfile};
use crate::guard::{PolicyError, Rejection};
use crate::outbox::{OutboxError, PlanError, Unresolved};
use crate::runtime::RuntimeError;
use crate::sign::{SignError, VerifyError};
use crate::template::{RenderError, TemplateError};
use crate::tenant::{AccessDenied, InvalidPrincipal, UnknownAction, UnknownRole};
use crate::tool::ConfigError;
use crate::transport::TransportError;
#[cfg(feature = "reqwest")]
use crate::transport::{ResolveError, TransportBuildError};
use crate::vars::UnknownAgentKind;

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
    ($( $(#[doc = $doc:literal])* $(@cfg($cfg:meta))? $kind:ident($ty:ty), $getter:ident, $getter_doc:literal; )*) => {
        /// Which family an [`Error`] belongs to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[doc = $doc])* $(#[cfg($cfg)])? $kind, )*
        }

        #[derive(Debug)]
        enum Inner {
            $( $(#[cfg($cfg)])? $kind($ty), )*
        }

        impl Inner {
            /// The typed detail, as the cause of the crate error.
            fn detail(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
                match self {
                    $( $(#[cfg($cfg)])? Inner::$kind(e) => e, )*
                }
            }
        }

        impl Error {
            /// The family of this error.
            #[must_use]
            pub fn kind(&self) -> ErrorKind {
                match &*self.inner {
                    $( $(#[cfg($cfg)])? Inner::$kind(_) => ErrorKind::$kind, )*
                }
            }

            $(
                #[doc = $getter_doc]
                #[must_use]
                $(#[cfg($cfg)])?
                $(#[cfg_attr(docsrs, doc(cfg($cfg)))])?
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
            $(#[cfg($cfg)])?
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
    /// A template string is invalid: found when a tool or server config is compiled.
    Template(TemplateError), as_template, "The template error, if this is one.";
    /// A signature did not verify (a receiver checking a webhook).
    Verify(VerifyError), as_verify, "The verification error, if this is one.";
    /// A server's answer to a request event could not be read.
    Response(ResponseError), as_response, "The response-parse error, if this is one.";
    /// A timestamp could not be parsed or is out of range.
    Timestamp(TimestampError), as_timestamp, "The timestamp error, if this is one.";
    /// No server is configured for an event at any level of the cascade.
    NoTarget(NoTarget), as_no_target, "The missing-target error, if this is one.";
    /// A job's target could not be resolved at delivery time.
    Unresolved(Unresolved), as_unresolved, "The resolution error, if this is one.";
    /// A request got no HTTP response (timeout, connection, a refused address).
    Transport(TransportError), as_transport, "The transport error, if this is one.";
    /// The guarded reqwest transport could not be built.
    @cfg(feature = "reqwest")
    TransportBuild(TransportBuildError), as_transport_build, "The transport-building error, if this is one.";
    /// A host name could not be resolved to an allowed address.
    @cfg(feature = "reqwest")
    Resolve(ResolveError), as_resolve, "The resolver error, if this is one.";
    /// An action was refused by the role table.
    Access(AccessDenied), as_access, "The authorization refusal, if this is one.";
    /// A principal (tenant, role, user) is invalid.
    Principal(InvalidPrincipal), as_principal, "The invalid-principal error, if this is one.";
    /// A role name is unknown.
    Role(UnknownRole), as_role, "The unknown-role error, if this is one.";
    /// An action name is unknown.
    Action(UnknownAction), as_action, "The unknown-action error, if this is one.";
    /// An agent kind name is unknown.
    AgentKind(UnknownAgentKind), as_agent_kind, "The unknown-agent-kind error, if this is one.";
    /// An envelope profile name is unknown.
    Profile(UnknownProfile), as_profile, "The unknown-profile error, if this is one.";
    /// A server credential could not be read or applied.
    Credential(CredentialError), as_credential, "The credential error, if this is one.";
    /// The host's directory could not answer.
    Directory(DirectoryError), as_directory, "The directory error, if this is one.";
    /// A runtime could not be built (no directory, no transport).
    Runtime(RuntimeError), as_runtime, "The runtime-building error, if this is one.";
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner.detail(), f)
    }
}

/// The source is the typed detail (the family's own error), whose `source()` goes on to its
/// cause: `Error -> OutboxError -> ...`. The message is the detail's, so it is not repeated.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.inner.detail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_is_the_typed_detail_and_the_chain_goes_on() {
        use std::error::Error as _;
        let detail = OutboxError::InvalidWindow {
            window: std::time::Duration::ZERO,
            max: std::time::Duration::from_secs(1),
        };
        let e = Error::from(detail.clone());
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), detail.to_string());
        assert_eq!(e.to_string(), detail.to_string());
        assert!(source.downcast_ref::<OutboxError>().is_some());
        let v = Error::from("robot".parse::<crate::AgentKind>().unwrap_err());
        assert_eq!(v.kind(), ErrorKind::AgentKind);
        assert!(
            v.source()
                .unwrap()
                .downcast_ref::<UnknownAgentKind>()
                .is_some()
        );
    }

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
