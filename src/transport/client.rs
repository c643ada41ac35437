//! The reqwest transport: one guarded client, every request and hop checked.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use futures_util::future::{Either, select};

use async_trait::async_trait;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
use http::{Method, StatusCode};
use rustls_platform_verifier::BuilderVerifierExt;
use url::Url;

use super::resolve::{DnsResolver, GuardedResolver, ResolveError, SystemResolver};
use crate::guard::{Origin, Policy, Rejection};
use crate::transport::{BodyStream, BodyTruncated, Transport, TransportError, TransportErrorKind};

/// The most response-body bytes a [`ReqwestTransport`] reads by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The most redirect hops a [`ReqwestTransport`] may be set to follow.
pub const MAX_REDIRECTS: usize = 10;
/// The default connect timeout (the whole exchange is bounded by the timeout of each send).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a [`ReqwestTransport`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportBuildError {
    /// More redirect hops than [`MAX_REDIRECTS`] were asked for.
    #[error("{asked} redirect hops asked for; at most {MAX_REDIRECTS} may be followed")]
    TooManyRedirects {
        /// The number asked for.
        asked: usize,
    },
    /// A body limit of 0 would read no response at all.
    #[error("the body limit must be at least 1 byte")]
    ZeroBodyLimit,
    /// The TLS configuration could not be built (no usable trust store).
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// reqwest refused the client configuration.
    #[error("HTTP client configuration")]
    Client(#[source] reqwest::Error),
}

/// A [`Transport`] on reqwest that applies the guard at connect time.
///
/// - **Every URL is checked before sending** ([`Policy::check_url`]), IP literals included
///   (reqwest's resolver never sees `http://10.0.0.1/`). The URL's [`Origin`] comes from the
///   request's extensions (`request.extensions_mut().insert(Origin::Model)`); without one it is
///   [`Origin::Operator`].
/// - **Every name is resolved through a [`GuardedResolver`]**: the addresses the connection
///   uses are the ones the guard checked (strict: one refused address refuses the answer).
/// - **No proxy** (`no_proxy()`, environment proxies ignored): a proxy would resolve names
///   itself, past the guard.
/// - **Redirects are not followed** by default (a 3xx is returned as the response, which the
///   outbox counts as a failed attempt). With [`ReqwestTransportBuilder::redirects`] (at most
///   [`MAX_REDIRECTS`]) each hop is checked with [`Policy::check_redirect`] under the first
///   URL's origin, and once a hop leaves the first URL's origin every header whose name is
///   sensitive or whose value is marked sensitive (a tenant secret, under any name) is dropped
///   ([`RedirectHop::headers_to_drop`](crate::guard::RedirectHop::headers_to_drop)).
///   301/302 turn a POST into a GET and 303 any method but HEAD (without body); 307/308 keep
///   method and body.
/// - **Bodies are read up to a limit** ([`DEFAULT_BODY_LIMIT`]), chunk by chunk; reading stops
///   at the limit and the response carries [`BodyTruncated`].
/// - **The timeout of each send bounds the whole exchange**: connect, every hop and the body.
/// - HTTP/1.1 over rustls (ring provider, the operating system's trust store); no HTTP/2, no
///   cookies, no automatic retries.
///
/// A refusal is a [`TransportError`] of kind [`TransportErrorKind::Refused`] whose message is
/// the [`Rejection`]; messages never carry the URL (its query may hold secrets).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use agent_webhooks::guard::Policy;
/// use agent_webhooks::outbox::Transport;
/// use agent_webhooks::transport::ReqwestTransport;
///
/// let transport = ReqwestTransport::builder(Policy::from_env()?).build()?;
/// let request = agent_webhooks::http::Request::post("https://hooks.example.com/vapi")
///     .body(br#"{"message":{"type":"status-update"}}"#.to_vec())?;
/// let response = transport.send(request, Duration::from_secs(20)).await?;
/// println!("{}", response.status());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    policy: Arc<Policy>,
    redirects: usize,
    body_limit: usize,
    deadlines: Arc<Deadlines>,
}

/// The most idle deadline timers a transport keeps armed for its next sends.
const IDLE_DEADLINES: usize = 64;

/// Timers kept armed between sends. Every send is raced against a tokio timer at its deadline;
/// registering a fresh timer that is earlier than every timer the runtime holds wakes the
/// runtime's driver thread (tokio re-arms its wait), which costs a context switch per send on
/// a busy machine, for nothing when the answer comes first. A send here instead re-arms a
/// timer that stayed registered ([`tokio::time::Sleep::reset`]): a later deadline than the
/// one the driver waits for, so nothing is woken. The deadline is enforced exactly as by
/// `tokio::time::timeout`.
#[derive(Debug, Default)]
struct Deadlines {
    idle: std::sync::Mutex<Vec<(tokio::runtime::Id, Pin<Box<tokio::time::Sleep>>)>>,
}

impl Deadlines {
    /// A timer of the current runtime at `deadline`: an idle one re-armed, or a new one.
    fn arm(
        &self,
        runtime: tokio::runtime::Id,
        deadline: tokio::time::Instant,
    ) -> Pin<Box<tokio::time::Sleep>> {
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            idle.iter()
                .rposition(|(id, _)| *id == runtime)
                .map(|i| idle.swap_remove(i).1)
        };
        match reused {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    /// Keeps a timer whose send answered in time for a later send.
    fn disarm(&self, runtime: tokio::runtime::Id, mut sleep: Pin<Box<tokio::time::Sleep>>) {
        // Leave no task's waker behind in it: one poll with a waker that does nothing.
        let mut cx = Context::from_waker(Waker::noop());
        if sleep.as_mut().poll(&mut cx).is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= IDLE_DEADLINES {
            // The oldest may belong to a runtime that is gone.
            drop(idle.remove(0));
        }
        idle.push((runtime, sleep));
    }
}

/// A deadline `timeout` from now; beyond what an `Instant` holds, about 30 years (as tokio).
fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Builds a [`ReqwestTransport`]; settings are checked by [`ReqwestTransportBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct ReqwestTransportBuilder {
    policy: Arc<Policy>,
    resolver: Arc<dyn DnsResolver>,
    redirects: usize,
    body_limit: usize,
    connect_timeout: Duration,
    pool_idle_timeout: Option<Duration>,
}

impl ReqwestTransportBuilder {
    /// Resolves names with `resolver` instead of the system's (its answers are still checked).
    pub fn dns_resolver(mut self, resolver: Arc<dyn DnsResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Follows up to `hops` redirects, each checked (default 0: a 3xx is the response). For
    /// tool calls only: the outbox's [`Dispatcher`](crate::outbox::Dispatcher) expects a
    /// transport that follows none (a 3xx is a failed attempt, the receiver must fix its URL).
    pub fn redirects(mut self, hops: usize) -> Self {
        self.redirects = hops;
        self
    }

    /// Reads at most `bytes` of a response body (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long connecting (TCP and TLS) may take (default [`DEFAULT_CONNECT_TIMEOUT`]); the
    /// timeout of each send still bounds the whole exchange.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept (reqwest's default: 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = Some(timeout);
        self
    }

    /// The transport.
    ///
    /// # Errors
    /// [`TransportBuildError::TooManyRedirects`] above [`MAX_REDIRECTS`],
    /// [`TransportBuildError::ZeroBodyLimit`], [`TransportBuildError::Tls`] when no trust store
    /// can be loaded, [`TransportBuildError::Client`] when reqwest refuses the configuration.
    pub fn build(self) -> Result<ReqwestTransport, TransportBuildError> {
        if self.redirects > MAX_REDIRECTS {
            return Err(TransportBuildError::TooManyRedirects {
                asked: self.redirects,
            });
        }
        if self.body_limit == 0 {
            return Err(TransportBuildError::ZeroBodyLimit);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TransportBuildError::Tls)?
            .with_platform_verifier()
            .map_err(TransportBuildError::Tls)?
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let resolver = GuardedResolver::new(self.policy.clone(), self.resolver);
        let mut client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(resolver)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .http1_only()
            .connect_timeout(self.connect_timeout);
        if let Some(idle) = self.pool_idle_timeout {
            client = client.pool_idle_timeout(idle);
        }
        let client = client.build().map_err(TransportBuildError::Client)?;
        Ok(ReqwestTransport {
            client,
            policy: self.policy,
            redirects: self.redirects,
            body_limit: self.body_limit,
            deadlines: Arc::default(),
        })
    }
}

impl ReqwestTransport {
    /// A builder with `policy`: system resolver, no redirects, [`DEFAULT_BODY_LIMIT`].
    pub fn builder(policy: Policy) -> ReqwestTransportBuilder {
        ReqwestTransportBuilder {
            policy: Arc::new(policy),
            resolver: Arc::new(SystemResolver),
            redirects: 0,
            body_limit: DEFAULT_BODY_LIMIT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_idle_timeout: None,
        }
    }

    /// The transport with `policy` and the defaults of [`ReqwestTransport::builder`].
    ///
    /// # Errors
    /// As [`ReqwestTransportBuilder::build`].
    pub fn new(policy: Policy) -> Result<Self, TransportBuildError> {
        Self::builder(policy).build()
    }

    /// The policy every request, address and hop is checked with.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let response = self.head(request).await?;
        self.read(response).await
    }

    /// Sends the request, following allowed redirects, up to the final response's head.
    async fn head(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<reqwest::Response, TransportError> {
        let origin = request
            .extensions()
            .get::<Origin>()
            .copied()
            .unwrap_or(Origin::Operator);
        let (mut parts, body) = request.into_parts();
        // The send step's parsed URL, when it is the URI's (else parse the URI).
        let first = match parts.extensions.remove::<super::RequestUrl>() {
            Some(super::RequestUrl(url)) if parts.uri == *url.as_str() => url,
            _ => Url::parse(&parts.uri.to_string()).map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Other,
                    format!("the request URI is not a URL: {e}"),
                )
            })?,
        };
        self.policy.check_url(&first, origin).map_err(refused)?;

        let mut url = first.clone();
        let mut method = parts.method;
        let mut headers = parts.headers;
        let mut body = Some(body);
        let mut hop = 0;
        loop {
            let mut request = reqwest::Request::new(method.clone(), url.clone());
            let last = hop == self.redirects;
            *request.headers_mut() = if last {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            if let Some(b) = &mut body {
                let b = if last { std::mem::take(b) } else { b.clone() };
                if !b.is_empty() || method != Method::GET {
                    *request.body_mut() = Some(b.into());
                }
            }
            let response = self.client.execute(request).await.map_err(from_reqwest)?;
            let status = response.status();
            // A 3xx without a readable `Location` is the response, as when not following.
            let location = response.headers().get(LOCATION).map(|l| l.to_str());
            let next = match location {
                Some(Ok(location)) if !last && status.is_redirection() => url.join(location),
                _ => return Ok(response),
            };
            let next = next.map_err(|e| refused(Rejection::Parse(e)))?;
            let verdict = self
                .policy
                .check_redirect(&first, &next, origin)
                .map_err(refused)?;
            verdict.strip_headers(&mut headers);
            if redirect_to_get(status, &method) {
                method = Method::GET;
                body = None;
                for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
                    headers.remove(name);
                }
            }
            url = next;
            hop += 1;
        }
    }

    /// Reads the body up to the limit, chunk by chunk.
    async fn read(
        &self,
        mut response: reqwest::Response,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let mut out = http::Response::builder()
            .status(response.status())
            .version(response.version())
            .body(Vec::new())
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))?;
        *out.headers_mut() = std::mem::take(response.headers_mut());
        let hint = response.content_length().unwrap_or(0);
        let mut body =
            Vec::with_capacity(usize::try_from(hint).map_or(0, |n| n.min(self.body_limit)));
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
            let room = self.body_limit - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        *out.body_mut() = body;
        if truncated {
            out.extensions_mut().insert(BodyTruncated);
        }
        Ok(out)
    }
}

/// Whether a redirect turns the request into a GET without body (RFC 9110 15.4, as browsers
/// and reqwest do).
fn redirect_to_get(status: StatusCode, method: &Method) -> bool {
    match status {
        StatusCode::SEE_OTHER => *method != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => *method == Method::POST,
        _ => false,
    }
}

fn refused(rejection: Rejection) -> TransportError {
    TransportError::new(TransportErrorKind::Refused, rejection.to_string())
}

/// A reqwest error as a transport error: a guard refusal found in its causes is `Refused`;
/// the message is the chain of causes, without the URL.
fn from_reqwest(e: reqwest::Error) -> TransportError {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(rejection) = c
            .downcast_ref::<ResolveError>()
            .and_then(ResolveError::rejection)
        {
            return TransportError::new(TransportErrorKind::Refused, rejection.to_string());
        }
        cause = c.source();
    }
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, chain(&e.without_url()))
}

/// `outer: cause: cause`, each text once.
fn chain(e: &dyn StdError) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    message
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let runtime = tokio::runtime::Handle::current().id();
        let mut deadline = self.deadlines.arm(runtime, deadline_after(timeout));
        let exchange = pin!(self.exchange(request));
        // The exchange is polled first: an answer ready with the deadline wins, as in
        // `tokio::time::timeout`.
        match select(exchange, deadline.as_mut()).await {
            Either::Left((result, _)) => {
                self.deadlines.disarm(runtime, deadline);
                result
            }
            Either::Right(((), _)) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!("no complete response within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// Every send is raced against a tokio timer at `timeout`: the whole exchange.
    fn enforces_timeout(&self) -> bool {
        true
    }

    /// Streams the body as reqwest reads it; `timeout` bounds the response head, the caller
    /// bounds the body (the body limit does not apply: the caller counts).
    async fn send_streaming(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<BodyStream>, TransportError> {
        let mut response = match tokio::time::timeout(timeout, self.head(request)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no response head within {} ms", timeout.as_millis()),
                ));
            }
        };
        let mut out = http::Response::builder()
            .status(response.status())
            .version(response.version())
            .body(())
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))?;
        *out.headers_mut() = std::mem::take(response.headers_mut());
        let chunks = futures_util::stream::unfold(Some(response), |response| async move {
            let mut response = response?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk.to_vec()), Some(response))),
                Ok(None) => None,
                Err(e) => Some((Err(from_reqwest(e)), None)),
            }
        });
        let (parts, ()) = out.into_parts();
        Ok(http::Response::from_parts(parts, Box::pin(chunks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_methods() {
        let cases = [
            (301, Method::POST, true),
            (302, Method::POST, true),
            (302, Method::GET, false),
            (303, Method::PUT, true),
            (303, Method::HEAD, false),
            (307, Method::POST, false),
            (308, Method::POST, false),
        ];
        for (status, method, get) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(redirect_to_get(status, &method), get, "{status} {method}");
        }
    }

    #[test]
    fn build_checks_settings() {
        assert!(matches!(
            ReqwestTransport::builder(Policy::default())
                .redirects(MAX_REDIRECTS + 1)
                .build(),
            Err(TransportBuildError::TooManyRedirects { asked: 11 })
        ));
        assert!(matches!(
            ReqwestTransport::builder(Policy::default())
                .body_limit(0)
                .build(),
            Err(TransportBuildError::ZeroBodyLimit)
        ));
    }

    #[test]
    fn transport_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<ReqwestTransport>();
        assert_send_sync::<GuardedResolver>();
    }
}
