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
mod spawn;
mod timer;

pub use send::{Exchange, ExchangeResult, Refusal, SendStep, USER_AGENT_VALUE};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use spawn::TokioSpawn;
pub use spawn::{Spawn, Task};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use timer::TokioTimer;
pub use timer::{Elapsed, ManualTimer, NeverTimer, Sleep, Timer, within};

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use client::{
    DEFAULT_BODY_LIMIT, DEFAULT_CONNECT_TIMEOUT, MAX_REDIRECTS, ReqwestTransport,
    ReqwestTransportBuilder, TransportBuildError,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use resolve::{DnsResolver, GuardedResolver, ResolveError, SystemResolver};

/// The parsed URL a request was built from, carried in its extensions so a transport need
/// not parse its URI again. Trusted only where its text equals the request's URI.
#[derive(Debug, Clone)]
pub(crate) struct RequestUrl(
    #[allow(dead_code, reason = "read by the reqwest transport")] pub(crate) url::Url,
);

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

    /// Whether this transport bounds every send by its `timeout` itself (the whole exchange:
    /// connect, every hop, the body). The [`SendStep`] then skips its own race against the
    /// timer (it still treats a late answer as a timeout). Default `false`: the step enforces
    /// the deadline itself; `ReqwestTransport` says `true`.
    fn enforces_timeout(&self) -> bool {
        false
    }

    /// Sends `request` and returns the response once its head arrived, its body as a stream
    /// of chunks (a `voice-request`'s audio is handed on as it comes). `timeout` bounds the
    /// head; the caller bounds the body.
    ///
    /// The provided implementation calls [`Transport::send`] and yields the whole body as one
    /// chunk: correct, but buffered. `ReqwestTransport` (feature `reqwest`) streams.
    ///
    /// # Errors
    /// As [`Transport::send`], for the head.
    async fn send_streaming(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<BodyStream>, TransportError> {
        let (parts, body) = self.send(request, timeout).await?.into_parts();
        let chunks: BodyStream = Box::pin(futures_util::stream::once(async move { Ok(body) }));
        Ok(http::Response::from_parts(parts, chunks))
    }
}

/// A response body arriving in chunks ([`Transport::send_streaming`]); an error ends it.
pub type BodyStream = std::pin::Pin<
    Box<dyn futures_util::stream::Stream<Item = Result<Vec<u8>, TransportError>> + Send>,
>;

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

/// Put in a response's extensions by a transport that cut the body at its body limit (the
/// reqwest transport does); the live path answers such a response `too_large`.
///
/// ```
/// use agent_webhooks::transport::BodyTruncated;
/// let response = agent_webhooks::http::Response::new(Vec::<u8>::new());
/// assert!(response.extensions().get::<BodyTruncated>().is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTruncated;

impl fmt::Display for BodyTruncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response body was cut at the transport's body limit")
    }
}
