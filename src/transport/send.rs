//! The send step every request leaves through: outbox attempts and live exchanges build, sign,
//! guard and send a request with the same [`SendStep`], and get back one [`Exchange`] record.
//! What differs between the paths is only what they do with the record.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};

use super::timer::{Timer, within};
use super::{Transport, TransportError, TransportErrorKind};
use crate::guard::{Policy, Rejection};
use crate::outbox::{Clock, SystemClock, Target, Timestamp, UrlCheck, parse_retry_after};
use crate::sign::{Message, SignError, WEBHOOK_ID, WEBHOOK_TIMESTAMP};

/// The `user-agent` of every request the boundary sends.
pub const USER_AGENT_VALUE: &str = concat!("agent-webhooks/", env!("CARGO_PKG_VERSION"));

/// Builds, signs, guards and sends one request to a [`Target`], under a deadline.
///
/// For a target, a body and a `webhook-id`:
/// 1. the guard's URL check ([`UrlCheck`], the production [`Policy`] by default);
/// 2. the request: `POST`, `content-type: application/json`, `user-agent`, `webhook-id`,
///    `webhook-timestamp` (fresh from the clock), `webhook-signature` (or the headers of the
///    target's [`Sign`](crate::outbox::Sign) scheme) when the target has a signer, then the
///    target's own headers (the legacy secret header and credential headers among them), then
///    the headers of the server's signing credential (Vapi's HMAC, a receiver-compatible
///    scheme), computed per attempt;
/// 3. the send through the [`Transport`] with the limit as its timeout; with a [`Timer`] set,
///    the step also races the send against the limit itself (unless the transport says it
///    [enforces its timeout](Transport::enforces_timeout)) and treats an answer that came
///    later than the limit (on its clock) as a timeout, so a transport that ignores its timeout
///    cannot hold the caller;
/// 4. one [`Exchange`]: the response (status, headers, body), the transport's failure, or why
///    nothing was sent, with the times.
///
/// ```
/// # async fn demo() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use agent_webhooks::outbox::Target;
/// use agent_webhooks::transport::{SendStep, Transport, TransportError};
///
/// #[derive(Debug)]
/// struct Echo;
/// #[async_trait::async_trait]
/// impl Transport for Echo {
///     async fn send(&self, request: http::Request<Vec<u8>>, _: Duration)
///         -> Result<http::Response<Vec<u8>>, TransportError> {
///         Ok(http::Response::new(request.into_body()))
///     }
/// }
///
/// let step = SendStep::new(Arc::new(Echo));
/// let target = Target::new("https://hooks.example.com/vapi".parse().unwrap(), "assistant");
/// let exchange = step.send(&target, "msg_1", br#"{"message":{}}"#, Duration::from_secs(5)).await;
/// assert_eq!(exchange.status().map(|s| s.as_u16()), Some(200));
/// assert_eq!(exchange.body(), br#"{"message":{}}"#);
/// # }
/// # let mut f = std::pin::pin!(demo());
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # assert!(f.as_mut().poll(&mut cx).is_ready());
/// ```
#[derive(Clone)]
pub struct SendStep {
    transport: Arc<dyn Transport>,
    check: Arc<dyn UrlCheck>,
    clock: Arc<dyn Clock>,
    timer: Option<Arc<dyn Timer>>,
    user_agent: HeaderValue,
}

impl fmt::Debug for SendStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendStep")
            .field("transport", &self.transport)
            .field("check", &self.check)
            .field("clock", &self.clock)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}

impl SendStep {
    /// A step sending through `transport`, checking URLs with the production [`Policy`],
    /// reading the system clock, with no timer of its own (the transport's timeout holds).
    #[must_use]
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        SendStep {
            transport,
            check: Arc::new(Policy::default()),
            clock: Arc::new(SystemClock),
            timer: None,
            user_agent: HeaderValue::from_static(USER_AGENT_VALUE),
        }
    }

    /// The URL check run before every send.
    #[must_use]
    pub fn with_url_check(mut self, check: Arc<dyn UrlCheck>) -> Self {
        self.check = check;
        self
    }

    /// The clock for timestamps, latencies and the late-answer check.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The timer the step enforces each send's limit with (see [`SendStep`]).
    #[must_use]
    pub fn with_timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The timer, if one is set.
    #[must_use]
    pub fn timer(&self) -> Option<&Arc<dyn Timer>> {
        self.timer.as_ref()
    }

    /// The signed request for `target` (steps 1 and 2), `webhook-timestamp` read from the
    /// clock now.
    ///
    /// # Errors
    /// [`Refusal`] when the guard refuses the URL, the URL is not a valid request URI, or
    /// signing failed: nothing may be sent.
    pub fn request(
        &self,
        target: &Target,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<http::Request<Vec<u8>>, Refusal> {
        if let Err(rejection) = self.check.check(target.url()) {
            return Err(Refusal::Guard {
                url: target.url().as_str().to_owned(),
                rejection,
            });
        }
        let invalid = |problem: String| Refusal::InvalidUrl { problem };
        let uri: http::Uri = target
            .url()
            .as_str()
            .parse()
            .map_err(|e| invalid(format!("not a valid request URI: {e}")))?;
        // Fresh for every send, including retries and replays; the id never changes.
        let now = self.clock.now();
        let timestamp = now.as_unix_seconds();
        let mut request = http::Request::post(uri)
            .body(body.to_vec())
            .map_err(|e| invalid(e.to_string()))?;
        // The transport checks this URL again without parsing the URI back.
        request
            .extensions_mut()
            .insert(super::RequestUrl(target.url().clone()));
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, self.user_agent.clone());
        let id = HeaderValue::from_str(webhook_id)
            .map_err(|_| Refusal::Unsigned(SignError::InvalidId(webhook_id.to_owned())))?;
        headers.insert(WEBHOOK_ID, id);
        headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
        let message = Message::new(
            webhook_id,
            now.as_unix_millis(),
            target.url().as_str(),
            body,
        );
        if let Some(signer) = &target.signer {
            signer
                .sign_headers(&message, headers)
                .map_err(Refusal::Unsigned)?;
        }
        for (name, value) in &target.headers {
            headers.append(name, value.clone());
        }
        // The server's credential (an HMAC credential, a receiver-compatible scheme) signs
        // this attempt last: its headers are computed per attempt, never stored.
        if let Some(credential) = &target.credential {
            credential
                .sign_headers(&message, headers)
                .map_err(Refusal::Unsigned)?;
        }
        Ok(request)
    }

    /// Builds and sends one request to `target` with `webhook_id` and `body`, allowing it
    /// `limit` in all (connect, send, the whole response body). Never fails: the [`Exchange`]
    /// says what happened.
    pub async fn send(
        &self,
        target: &Target,
        webhook_id: &str,
        body: &[u8],
        limit: Duration,
    ) -> Exchange {
        let started = self.clock.now();
        let result = match self.request(target, webhook_id, body) {
            Ok(request) => match self.send_request(request, limit).await {
                Ok(response) => ExchangeResult::Response(response),
                Err(e) => ExchangeResult::Failed(e),
            },
            Err(refusal) => ExchangeResult::Refused(refusal),
        };
        let ended = self.clock.now();
        Exchange {
            url: target.url().as_str().to_owned(),
            level: target.level.clone(),
            started_at: started,
            ended_at: ended,
            latency: ended.duration_since(started),
            result,
        }
    }

    /// Sends a built request under `limit` (step 3): through the transport, raced against the
    /// timer when one is set.
    ///
    /// # Errors
    /// The transport's error; [`TransportErrorKind::Timeout`] when the step's own deadline
    /// passed first or the answer came after it.
    pub async fn send_request(
        &self,
        request: http::Request<Vec<u8>>,
        limit: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let Some(timer) = &self.timer else {
            return self.transport.send(request, limit).await;
        };
        let start = self.clock.now();
        if self.transport.enforces_timeout() {
            let result = self.transport.send(request, limit).await;
            return match result {
                Ok(_) if self.clock.now().duration_since(start) > limit => {
                    Err(TransportError::new(
                        TransportErrorKind::Timeout,
                        format!("no complete response within {} ms", limit.as_millis()),
                    ))
                }
                other => other,
            };
        }
        let late = || {
            TransportError::new(
                TransportErrorKind::Timeout,
                format!("no complete response within {} ms", limit.as_millis()),
            )
        };
        match within(timer.as_ref(), limit, self.transport.send(request, limit)).await {
            Ok(Ok(_)) if self.clock.now().duration_since(start) > limit => Err(late()),
            Ok(result) => result,
            Err(_) => Err(late()),
        }
    }
}

/// Why the send step sent nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The guard refused the target URL.
    #[error("target `{url}` refused by the guard: {rejection}")]
    Guard {
        /// The target URL.
        url: String,
        /// The guard's rejection.
        rejection: Rejection,
    },
    /// The target URL cannot be a request URI.
    #[error("target URL is invalid: {problem}")]
    InvalidUrl {
        /// What is wrong.
        problem: String,
    },
    /// Signing failed (or the `webhook-id` cannot be a header value).
    #[error("the request could not be signed: {0}")]
    Unsigned(#[source] SignError),
}

/// What one send did: the record an outbox attempt and a live exchange are both written from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Exchange {
    /// The target URL.
    pub url: String,
    /// The cascade level the target came from.
    pub level: String,
    /// When the step started.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Timestamp,
    /// From the start to the end of the step.
    pub latency: Duration,
    /// The response, the failure, or the refusal.
    pub result: ExchangeResult,
}

/// How a send ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExchangeResult {
    /// Nothing was sent.
    Refused(Refusal),
    /// A response arrived (any status); the body as the transport read it (see
    /// `BodyTruncated` of the reqwest transport for a cut).
    Response(http::Response<Vec<u8>>),
    /// No response: timeout, connection failure, a refused resolved address.
    Failed(TransportError),
}

impl Exchange {
    /// The response's status, if one arrived.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match &self.result {
            ExchangeResult::Response(r) => Some(r.status()),
            _ => None,
        }
    }

    /// The response, if one arrived.
    #[must_use]
    pub fn response(&self) -> Option<&http::Response<Vec<u8>>> {
        match &self.result {
            ExchangeResult::Response(r) => Some(r),
            _ => None,
        }
    }

    /// The response body (empty without a response).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        self.response().map_or(&[], |r| r.body().as_slice())
    }

    /// The response body as stored on an attempt: lossily UTF-8, cut to
    /// [`MAX_RESPONSE_BODY`](crate::outbox::MAX_RESPONSE_BODY) bytes; whether it was cut.
    #[must_use]
    pub fn stored_body(&self) -> (String, bool) {
        self.stored_body_up_to(crate::outbox::MAX_RESPONSE_BODY)
    }

    /// The response body as stored on an attempt, cut to `max` bytes (on a character
    /// boundary); whether it was cut.
    #[must_use]
    pub fn stored_body_up_to(&self, max: usize) -> (String, bool) {
        crate::outbox::stored_body(self.body(), max)
    }

    /// The response's `Retry-After`, as a delay from the end of the exchange.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.response()?
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.ended_at))
    }

    /// The transport's error kind when no response came.
    #[must_use]
    pub fn error_kind(&self) -> Option<TransportErrorKind> {
        match &self.result {
            ExchangeResult::Failed(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// Whether nothing was sent.
    #[must_use]
    pub fn is_refused(&self) -> bool {
        matches!(self.result, ExchangeResult::Refused(_))
    }
}
