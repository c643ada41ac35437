//! The HTTP transport: the [`Transport`] trait every request leaves through (outbox attempts,
//! live exchanges, webhook tool calls), the [`SendStep`] that builds, signs, guards and sends
//! them, the [`Timer`] the boundary enforces its deadlines with, and with feature `reqwest` the
//! guarded implementation.
//!
//! `ReqwestTransport` (feature `reqwest`) implements [`Transport`] and is what the dispatcher
//! and the tool runner ([`ToolRunner`](crate::ToolRunner)) send through. Checking a URL once
//! is not enough to keep requests inside the [`Policy`](crate::Policy): DNS can answer
//! differently at connect time, reqwest's resolver never sees IP-literal hosts, and redirects
//! and proxies go around a URL check. So the transport checks at every step:
//!
//! | where | check |
//! |---|---|
//! | before sending | [`Policy::check_url`](crate::Policy::check_url) on the request's URL (IP literals included) |
//! | at connect | `GuardedResolver`: every address DNS answers, strict ([`Policy::check_resolved`](crate::Policy::check_resolved)'s rule) |
//! | proxies | none: `no_proxy()`, environment proxies ignored |
//! | redirects | not followed by default; when enabled, each hop through [`Policy::check_redirect`](crate::Policy::check_redirect), sensitive headers dropped off the first origin |
//! | response | body read up to a limit (`BodyTruncated` marks a cut), the whole exchange bounded by the send's timeout |

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "reqwest")]
mod client;
#[cfg(feature = "reqwest")]
mod resolve;
mod send;
mod timer;

pub use send::{Exchange, ExchangeResult, Refusal, SendStep, USER_AGENT_VALUE};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use timer::TokioTimer;
pub use timer::{Elapsed, ManualTimer, NeverTimer, Sleep, Timer, within};

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use client::{
    BodyTruncated, DEFAULT_BODY_LIMIT, DEFAULT_CONNECT_TIMEOUT, MAX_REDIRECTS, ReqwestTransport,
    ReqwestTransportBuilder, TransportBuildError,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use resolve::{DnsResolver, GuardedResolver, ResolveError, SystemResolver};

/// The HTTP client the dispatcher sends through, brought by the host.
///
/// It must not follow redirects (a 3xx is a failed attempt) and must enforce `timeout` on the
/// whole exchange. A production transport also checks every resolved address with the guard.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response (any status), or why none came.
    ///
    /// # Errors
    /// [`TransportError`] when no response arrived: timeout, connection failure, a refused
    /// resolved address.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError>;
}

/// Why a send got no HTTP response; recorded on the attempt with no status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
}

impl TransportError {
    /// An error of `kind` with a message for operators (no secrets).
    #[must_use]
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// The family of the error.
    #[must_use]
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The family of a [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No complete response within the timeout.
    Timeout,
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    Connect,
    /// The guard refused a resolved address or a redirect hop.
    Refused,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Refused => "refused by the guard",
            TransportErrorKind::Other => "transport error",
        })
    }
}
