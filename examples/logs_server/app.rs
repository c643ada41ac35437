//! The logs server's logic: bearer-key authentication, the demo seed, and the hyper accept
//! loop around `LogsApi`. A module of its own so the integration tests run the same code on
//! 127.0.0.1:0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_webhooks::http::{self, HeaderValue, StatusCode};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    Dispatcher, Job, MemoryStore, NewJob, Outbox, RetryPlan, Store, Target, TargetRef,
    TargetResolver, Transport, TransportError, Unresolved,
};
use agent_webhooks::{Principal, Scope, TenantId};
use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// Bearer API key to principal, from a JSON file:
/// `{"KEY": {"tenant": "acme", "role": "client_admin", "user": "ann"}}`.
pub struct Keys(Vec<(Vec<u8>, Principal)>);

impl Keys {
    /// Parses and checks the principals file.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let map: HashMap<String, Principal> =
            serde_json::from_str(json).map_err(|e| format!("principals file: {e}"))?;
        if map.keys().any(|k| k.len() < 8) {
            return Err("principals file: every API key must be at least 8 characters".into());
        }
        Ok(Keys(
            map.into_iter().map(|(k, p)| (k.into_bytes(), p)).collect(),
        ))
    }

    /// The principal of an `Authorization: Bearer KEY` header. Every key is compared in full
    /// with `subtle`'s constant-time equality and no early exit, so timing says nothing about
    /// which keys exist.
    fn principal(&self, authorization: Option<&HeaderValue>) -> Option<&Principal> {
        let token = authorization?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let mut found = None;
        for (key, principal) in &self.0 {
            if bool::from(key.as_slice().ct_eq(token.as_bytes())) {
                found = Some(principal);
            }
        }
        found
    }
}

/// The server's state: the keys and the API.
pub struct App {
    keys: Keys,
    api: LogsApi,
}

impl App {
    /// An app over `api` with these keys.
    pub fn new(keys: Keys, api: LogsApi) -> Self {
        App { keys, api }
    }

    /// The caller's principal, from the request head alone (before any body is read).
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Option<&Principal> {
        self.keys
            .principal(headers.get(http::header::AUTHORIZATION))
    }

    /// The 401 answer to a request without a known key.
    pub fn unauthorized() -> http::Response<Vec<u8>> {
        let body = br#"{"error":{"status":401,"code":"unauthorized","message":"send Authorization: Bearer <API key>"}}"#;
        let mut response = http::Response::new(body.to_vec());
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
        response
    }

    /// Authenticates, then lets the logs API answer.
    pub async fn respond(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let Some(principal) = self.authenticate(request.headers()) else {
            return Self::unauthorized();
        };
        self.api.handle(principal, &request).await
    }
}

/// The largest request body read (the API reads none; this bounds what a client can send).
const MAX_BODY: usize = 64 * 1024;

/// How long a client may take to send a request's head (request line and headers): a
/// slowloris client that never finishes them loses its connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop` is set; one task per connection, each request's
/// head read within [`HEADER_READ_TIMEOUT`].
pub async fn serve(listener: TcpListener, app: Arc<App>, stop: Arc<AtomicBool>) {
    serve_with(listener, app, stop, HEADER_READ_TIMEOUT).await;
}

/// [`serve`] with another header-read timeout (tests use a short one).
///
/// Each request is authenticated from its head before any of its body is read: an unknown
/// caller gets 401 at once and cannot make the server buffer a body.
pub async fn serve_with(
    listener: TcpListener,
    app: Arc<App>,
    stop: Arc<AtomicBool>,
    header_read_timeout: Duration,
) {
    while !stop.load(Ordering::SeqCst) {
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        let Ok(Ok((stream, _))) = accepted else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let app = app.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    // Authenticate on the head alone; the body is read only for a known key.
                    if app.authenticate(&parts.headers).is_none() {
                        let response = App::unauthorized();
                        return Ok::<_, Infallible>(response.map(|b| Full::new(Bytes::from(b))));
                    }
                    let limited = http_body_util::Limited::new(body, MAX_BODY);
                    let response = match limited.collect().await {
                        Ok(collected) => {
                            let request =
                                http::Request::from_parts(parts, collected.to_bytes().to_vec());
                            app.respond(request).await
                        }
                        Err(_) => {
                            let mut r = http::Response::new(
                                br#"{"error":{"status":413,"code":"too_large","message":"request body too large"}}"#.to_vec(),
                            );
                            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                            r
                        }
                    };
                    Ok::<_, Infallible>(response.map(|b| Full::new(Bytes::from(b))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An in-process receiver for the demo: answers by the URL's path and never opens a socket.
/// Until `recovered` is set, the `/flaky` endpoints answer 500 (then 200).
#[derive(Debug, Default)]
pub struct DemoReceiver {
    recovered: AtomicBool,
}

#[async_trait]
impl Transport for DemoReceiver {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let path = request.uri().path();
        let (status, body): (u16, &[u8]) =
            if path.ends_with("/flaky") && !self.recovered.load(Ordering::SeqCst) {
                (500, b"Internal Server Error: upstream CRM timed out")
            } else if path.ends_with("/down") {
                (503, b"maintenance")
            } else {
                (200, b"{\"ok\":true}")
            };
        let mut response = http::Response::new(body.to_vec());
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        Ok(response)
    }
}

/// Resolves `TENANT/NAME` target references to `https://hooks.example.com/TENANT/NAME?token=...`
/// (only ever handed to the in-process [`DemoReceiver`], which opens no socket, so the
/// guard's production policy can check them as it would real targets); `missing` has no target.
#[derive(Debug)]
pub struct DemoTargets;

#[async_trait]
impl TargetResolver for DemoTargets {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        let name = job.target.as_str();
        if name == "missing" {
            return Err(Unresolved("no server URL configured".into()));
        }
        let url = format!(
            "https://hooks.example.com/{}/{name}?token=demo-secret-token",
            job.tenant
        );
        let url = url.parse().map_err(|e| Unresolved(format!("{e}")))?;
        Ok(Target::new(url, "assistant"))
    }
}

/// The store, outbox and dispatcher of the server, over the in-process receiver.
pub fn demo_api() -> Result<(LogsApi, Arc<DemoReceiver>, Outbox, Arc<Dispatcher>), String> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let receiver = Arc::new(DemoReceiver::default());
    let dispatcher = Dispatcher::builder(store.clone(), receiver.clone(), Arc::new(DemoTargets))
        .plan(RetryPlan::none())
        .build()
        .map_err(|e| e.to_string())?;
    let dispatcher = Arc::new(dispatcher);
    let outbox = Outbox::new(store);
    let api = LogsApi::new(outbox.clone(), dispatcher.clone());
    Ok((api, receiver, outbox, dispatcher))
}

/// Fills the store with deliveries of `acme` and `globex`: succeeded, failed (500, 503) and
/// skipped (no target) jobs, each with its attempt. Then the flaky receivers recover, so a
/// replay of a failed `flaky` attempt succeeds.
pub async fn seed_demo(
    outbox: &Outbox,
    dispatcher: &Dispatcher,
    receiver: &DemoReceiver,
) -> Result<(), String> {
    let jobs = [
        ("acme", "status-update", "crm", "call_a1"),
        ("acme", "end-of-call-report", "crm", "call_a1"),
        ("acme", "tool-calls", "flaky", "call_a2"),
        ("acme", "end-of-call-report", "down", "call_a2"),
        ("acme", "transcript", "missing", "call_a3"),
        ("globex", "status-update", "hooks", "call_g1"),
        ("globex", "end-of-call-report", "flaky", "call_g1"),
    ];
    for (tenant, event_type, target, call) in jobs {
        let tenant = TenantId::new(tenant).map_err(|e| e.to_string())?;
        let payload = serde_json::json!({
            "message": {"type": event_type, "call": {"id": call},
                        "assistant": {"server": {"url": "https://hooks.example.com", "secret": "whsec_demo"}}}
        });
        let new = NewJob::new(
            tenant.clone(),
            event_type,
            TargetRef::new(target).map_err(|e| e.to_string())?,
            payload.to_string(),
        )
        .call_id(call);
        outbox
            .enqueue(&Scope::tenant(tenant), new)
            .await
            .map_err(|e| e.to_string())?;
    }
    // Bounded: every job is final after one attempt (no retries in the demo plan).
    for _ in 0..4 {
        let tick = dispatcher.run_once().await.map_err(|e| e.to_string())?;
        if tick.claimed == 0 {
            break;
        }
    }
    receiver.recovered.store(true, Ordering::SeqCst);
    Ok(())
}
