//! The operator logs API: list, inspect, replay and retry webhook deliveries over `http`
//! types, for any HTTP framework.
//!
//! | route | action | answers |
//! |---|---|---|
//! | `GET /logs/webhooks` | [`Action::ViewWebhookLogs`] | a page of jobs (or attempts with `kind=attempts`), newest first |
//! | `GET /logs/webhooks/:id` | [`Action::ViewWebhookLogs`] | one job (with its recent attempts) or one attempt |
//! | `POST /logs/webhooks/:id/replay` | [`Action::ReplayWebhook`] | sends the attempt's job again to its *current* target; the new manual attempt |
//! | `POST /logs/webhooks/jobs/:id/retry` | [`Action::RetryWebhook`] | requeues a failed or skipped job; the job |
//!
//! Listing filters: `kind` (`jobs`, `attempts`; `live`: the attempts of live request exchanges,
//! [`crate::live`]; `tool`: the attempts of webhook tool calls), `status`, `event_type`, `call_id` (jobs),
//! `job_id` (attempts), `since` / `until` (RFC 3339 or epoch milliseconds; creation time of
//! jobs, start time of attempts), `cursor` (the previous page's `next_cursor`), `limit` (1 to
//! [`MAX_LOGS_LIMIT`], default 50) and `tenant` (a super admin narrowing to one tenant).
//!
//! The host authenticates the caller and passes its [`Principal`]; every store call runs under
//! the scope [`Principal::scope_for`] gives for the route's action. Errors are JSON
//! (`{"error": {"status": 404, "code": "not_found", "message": "..."}}`):
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `bad_filter` | an unknown, repeated or malformed filter, a limit above 200, a malformed cursor or one of the other listing (another tenant's cursor gives an empty page) |
//! | 403 | `forbidden` | the role may not perform the route's action at all (a user replaying) |
//! | 404 | `not_found` | an unknown id **or another tenant's id** (never 403: no existence leak), an unknown route |
//! | 405 | `method_not_allowed` | a known route with another method (`Allow` says which) |
//! | 409 | `not_requeueable` | retrying a job that is pending, in flight or succeeded |
//! | 409 | `payload_removed` | replaying or retrying a job whose payload the tenant's data policy redacted, dropped or expired |
//! | 409 | `replay_refused` | the job's current target is disabled, unresolved, refused or unsigned (the refused attempt is recorded) |
//! | 500 | `store_failed` | the store failed (no detail is shown) |
//!
//! Every job says what its tenant's data policy did to its payload: `payload_state` (`kept`,
//! `redacted`, `dropped`, `expired`) and, when it is not `kept`, a `payload_note` saying why;
//! with [`LogsApi::with_data_policies`] also the policy in force (`data_policy`: privacy mode,
//! redacted paths, job and payload retention in seconds).
//!
//! What is never shown, in every view (payloads, URLs, errors, response bodies): header values
//! (none are stored); in every URL anywhere in a view, its user info, query values
//! (`?token=redacted`, pre-signed signatures), fragment and the secret part of its path
//! (capability URLs such as Slack's `hooks.slack.com/services/...`, Discord's, and
//! token-like segments); in payloads the value of every key that names a credential
//! (`secret`, `apiKey`, `Authorization`, `password`, ...) whatever its type; the tenant's
//! secret values wherever they appear, given a source ([`LogsApi::with_secrets`]). Tenants
//! (anyone but the runtime's operators, who may manage the guard's allowlist) see refusals
//! by class, with IP addresses masked (`[address]`): the runtime's internal DNS answers stay
//! its own. A
//! [`AccessRole::User`](crate::AccessRole::User) sees attempts without their response bodies
//! (`response_body: null`, `response_body_hidden: true`): a body is whatever the customer's
//! endpoint answered, including stack traces and echoed credentials
//! ([`Action::ViewResponseBodies`]). Responses carry `Cache-Control: no-store`.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use agent_webhooks::logs::LogsApi;
//! use agent_webhooks::outbox::*;
//! use agent_webhooks::{AccessRole, Principal, TenantId};
//! # #[derive(Debug)] struct Nowhere;
//! # #[async_trait::async_trait] impl Transport for Nowhere {
//! #     async fn send(&self, _: http::Request<Vec<u8>>, _: std::time::Duration)
//! #         -> Result<http::Response<Vec<u8>>, TransportError> { unreachable!() } }
//! # #[derive(Debug)] struct NoTargets;
//! # #[async_trait::async_trait] impl TargetResolver for NoTargets {
//! #     async fn resolve(&self, _: &Job) -> Result<Target, Unresolved> { Err(Unresolved("none".into())) } }
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let dispatcher = Dispatcher::builder(store.clone(), Arc::new(Nowhere), Arc::new(NoTargets)).build()?;
//! let api = LogsApi::new(Outbox::new(store), Arc::new(dispatcher));
//!
//! let user = Principal::new(TenantId::new("acme")?, AccessRole::User, "u_7")?;
//! let request = http::Request::get("/logs/webhooks?status=failed&limit=20").body(Vec::new())?;
//! let response = api.handle(&user, &request).await;
//! assert_eq!(response.status(), 200);
//! let page: serde_json::Value = serde_json::from_slice(response.body())?;
//! assert_eq!(page["items"], serde_json::json!([]));
//!
//! let replay = http::Request::post("/logs/webhooks/atmpt_1/replay").body(Vec::new())?;
//! assert_eq!(api.handle(&user, &replay).await.status(), 403); // users do not replay
//! # Ok(()) }
//! # let mut f = std::pin::pin!(demo());
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
//! ```

mod query;
mod view;

use std::sync::Arc;

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use serde::Serialize;

use crate::outbox::{
    AttemptId, AttemptQuery, DataPolicies, Dispatcher, JobId, Outbox, OutboxError, Page, Store,
};
use crate::tenant::{AccessDenied, Action, Principal, Scope, TenantId, authorize};

pub use query::MAX_LOGS_LIMIT;
use query::{BadFilter, Listing};
use view::{AttemptView, JobView, Visibility};

/// The path every route lives under.
pub const LOGS_PREFIX: &str = "/logs/webhooks";

/// How many of a job's attempts `GET /logs/webhooks/:id` shows, newest first.
pub const RECENT_ATTEMPTS: usize = 20;

/// The logs API over one store: a request and the caller's principal in, a JSON response out.
///
/// It holds the [`Outbox`] (for requeue, with its clock) and the [`Dispatcher`] (for replay,
/// with its transport, target resolver, URL check and signers); both must use the same store.
#[derive(Debug, Clone)]
pub struct LogsApi {
    outbox: Outbox,
    dispatcher: Arc<Dispatcher>,
    policies: Option<DataPolicies>,
    secrets: Option<Arc<dyn SecretValues>>,
}

/// Where the logs API reads a tenant's secret values, to take them out of every view (a
/// receiver that echoes a key back, a payload that quotes it). [`TenantConfigs`] is one;
/// a host that keeps secrets elsewhere implements it over its store.
///
/// [`TenantConfigs`]: crate::tenant::TenantConfigs
pub trait SecretValues: Send + Sync + std::fmt::Debug {
    /// The secret values of `tenant` (never another tenant's).
    fn secret_values(&self, tenant: &TenantId) -> Vec<String>;
}

impl SecretValues for crate::tenant::TenantConfigs {
    fn secret_values(&self, tenant: &TenantId) -> Vec<String> {
        self.get(&Scope::tenant(tenant.clone()), tenant)
            .map(|c| c.secret_values().map(|s| s.expose().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// An answer that is not a success.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    fn not_found(what: &str) -> Self {
        Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    fn store(_: &OutboxError) -> Self {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_failed",
            "the log store failed; try again",
        )
    }

    fn denied(denied: &AccessDenied, what: &str) -> Self {
        match denied {
            AccessDenied::OtherTenant { .. } => Failure::not_found(what),
            other => Failure::new(StatusCode::FORBIDDEN, "forbidden", other.to_string()),
        }
    }
}

impl From<BadFilter> for Failure {
    fn from(e: BadFilter) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, "bad_filter", e.0)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct PageBody<T> {
    kind: &'static str,
    items: Vec<T>,
    next_cursor: Option<String>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn ok(body: &impl Serialize) -> http::Response<Vec<u8>> {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_response(StatusCode::OK, bytes),
        // Our views hold only strings, numbers and serde_json values: cannot fail.
        Err(_) => failure(&Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response could not be written",
        )),
    }
}

fn failure(f: &Failure) -> http::Response<Vec<u8>> {
    let body = ErrorBody {
        error: ErrorDetail {
            status: f.status.as_u16(),
            code: f.code,
            message: &f.message,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = json_response(f.status, bytes);
    if let Some(allow) = f.allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

enum Route<'a> {
    List,
    Get(&'a str),
    Replay(&'a str),
    Retry(&'a str),
}

/// The route of a path and the one method it takes, or `None` for an unknown path.
fn route(path: &str) -> Option<(Route<'_>, Method)> {
    let rest = path.strip_prefix(LOGS_PREFIX)?;
    if rest.is_empty() {
        return Some((Route::List, Method::GET));
    }
    let segments: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    match segments.as_slice() {
        [id] => Some((Route::Get(id), Method::GET)),
        [id, "replay"] => Some((Route::Replay(id), Method::POST)),
        ["jobs", id, "retry"] => Some((Route::Retry(id), Method::POST)),
        _ => None,
    }
}

impl LogsApi {
    /// The API over `outbox`'s store, replaying through `dispatcher` (built over the same
    /// store).
    #[must_use]
    pub fn new(outbox: Outbox, dispatcher: Arc<Dispatcher>) -> Self {
        LogsApi {
            outbox,
            dispatcher,
            policies: None,
            secrets: None,
        }
    }

    /// Takes each tenant's secret values (read from `secrets` per item shown) out of every
    /// payload, URL, error and response body of that tenant's items, wherever they appear.
    /// Values shorter than 6 characters are not replaced (they would blank ordinary text).
    #[must_use]
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretValues>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Shows, with every job, the data policy that applies to its tenant (`data_policy`:
    /// privacy mode, redacted paths, job and payload retention), the one the host's
    /// [`Lifecycle`](crate::outbox::Lifecycle) applies. Without it jobs still say what
    /// happened to their payload (`payload_state`, `payload_note`).
    #[must_use]
    pub fn with_data_policies(mut self, policies: DataPolicies) -> Self {
        self.policies = Some(policies);
        self
    }

    fn job_view<'a>(&self, job: &'a crate::outbox::Job, visible: &Visibility) -> JobView<'a> {
        let policy = self.policies.as_ref().map(|p| p.for_tenant(&job.tenant));
        JobView::new(job, visible).with_policy(policy)
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        self.outbox.store()
    }

    /// Answers one request of `principal` (authenticated by the host). The request body is
    /// not read. Never fails: every problem is a JSON error response with its status.
    pub async fn handle<B: AsRef<[u8]>>(
        &self,
        principal: &Principal,
        request: &http::Request<B>,
    ) -> http::Response<Vec<u8>> {
        let Some((route, method)) = route(request.uri().path()) else {
            return failure(&Failure::not_found("route"));
        };
        if request.method() != method {
            let mut f = Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("use {method} on this route"),
            );
            f.allow = Some(if method == Method::GET { "GET" } else { "POST" });
            return failure(&f);
        }
        let result = match route {
            Route::List => self.list(principal, request.uri().query()).await,
            Route::Get(id) => self.get(principal, id).await,
            Route::Replay(id) => self.replay(principal, id).await,
            Route::Retry(id) => self.retry(principal, id).await,
        };
        result.unwrap_or_else(|f| failure(&f))
    }

    fn visibility(&self, principal: &Principal, tenant: &TenantId) -> Visibility {
        let secrets: Arc<[String]> = match &self.secrets {
            Some(source) => source
                .secret_values(tenant)
                .into_iter()
                .filter(|s| s.len() >= view::MIN_SECRET_LEN)
                .collect(),
            None => Arc::from(Vec::new()),
        };
        Visibility {
            payload: authorize(principal, Action::ViewConversations, tenant).is_allowed(),
            response_body: authorize(principal, Action::ViewResponseBodies, tenant).is_allowed(),
            // Whoever may widen the guard's egress runs the runtime: it sees refused addresses.
            addresses: authorize(principal, Action::ManageAllowlist, tenant).is_allowed(),
            secrets,
        }
    }

    async fn list(
        &self,
        principal: &Principal,
        query: Option<&str>,
    ) -> Result<http::Response<Vec<u8>>, Failure> {
        let mut scope = principal
            .scope_for(Action::ViewWebhookLogs)
            .map_err(|d| Failure::denied(&d, "tenant"))?;
        let request = query::parse(query)?;
        if let Some(tenant) = request.tenant {
            authorize(principal, Action::ViewWebhookLogs, &tenant)
                .into_result()
                .map_err(|d| Failure::denied(&d, "tenant"))?;
            scope = Scope::tenant(tenant);
        }
        let store = self.store();
        let bad_cursor = |e: OutboxError| match e {
            OutboxError::Invalid { what, problem } => {
                BadFilter(format!("`{what}`: {problem}")).into()
            }
            other => Failure::store(&other),
        };
        Ok(match request.listing {
            Listing::Jobs(q) => {
                let page = store.jobs(&scope, &q).await.map_err(bad_cursor)?;
                let items = page
                    .items
                    .iter()
                    .filter(|j| {
                        authorize(principal, Action::ViewWebhookLogs, &j.tenant).is_allowed()
                    })
                    .map(|j| self.job_view(j, &self.visibility(principal, &j.tenant)))
                    .collect();
                ok(&page_body("jobs", items, &page))
            }
            Listing::Attempts(q) => {
                let page = store.attempts(&scope, &q).await.map_err(bad_cursor)?;
                let items = page
                    .items
                    .iter()
                    .filter(|a| {
                        authorize(principal, Action::ViewWebhookLogs, &a.tenant).is_allowed()
                    })
                    .map(|a| AttemptView::new(a, &self.visibility(principal, &a.tenant)))
                    .collect();
                ok(&page_body("attempts", items, &page))
            }
        })
    }

    async fn get(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<http::Response<Vec<u8>>, Failure> {
        let scope = principal
            .scope_for(Action::ViewWebhookLogs)
            .map_err(|d| Failure::denied(&d, "item"))?;
        let store = self.store();
        if let Ok(job_id) = JobId::new(id) {
            if let Some(job) = store
                .job(&scope, &job_id)
                .await
                .map_err(|e| Failure::store(&e))?
            {
                authorize(principal, Action::ViewWebhookLogs, &job.tenant)
                    .into_result()
                    .map_err(|d| Failure::denied(&d, "item"))?;
                let attempts = store
                    .attempts(
                        &scope,
                        &AttemptQuery::new().job(job_id).limit(RECENT_ATTEMPTS),
                    )
                    .await
                    .map_err(|e| Failure::store(&e))?;
                let visible = self.visibility(principal, &job.tenant);
                let views = attempts
                    .items
                    .iter()
                    .map(|a| AttemptView::new(a, &visible))
                    .collect();
                return Ok(ok(&self.job_view(&job, &visible).with_attempts(views)));
            }
        }
        if let Ok(attempt_id) = AttemptId::new(id) {
            if let Some(attempt) = store
                .attempt(&scope, &attempt_id)
                .await
                .map_err(|e| Failure::store(&e))?
            {
                authorize(principal, Action::ViewWebhookLogs, &attempt.tenant)
                    .into_result()
                    .map_err(|d| Failure::denied(&d, "item"))?;
                let visible = self.visibility(principal, &attempt.tenant);
                return Ok(ok(&AttemptView::new(&attempt, &visible)));
            }
        }
        Err(Failure::not_found("item"))
    }

    async fn replay(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<http::Response<Vec<u8>>, Failure> {
        // The role first: a user gets 403 for every id, existing or not, in any tenant.
        let scope = principal
            .scope_for(Action::ReplayWebhook)
            .map_err(|d| Failure::denied(&d, "attempt"))?;
        let attempt_id = AttemptId::new(id).map_err(|_| Failure::not_found("attempt"))?;
        let original = self
            .store()
            .attempt(&scope, &attempt_id)
            .await
            .map_err(|e| Failure::store(&e))?
            .ok_or_else(|| Failure::not_found("attempt"))?;
        authorize(principal, Action::ReplayWebhook, &original.tenant)
            .into_result()
            .map_err(|d| Failure::denied(&d, "attempt"))?;
        // Replay within the attempt's own tenant only, whatever the principal's reach.
        let own = Scope::tenant(original.tenant.clone());
        match self.dispatcher.replay(&own, &attempt_id).await {
            Ok(attempt) => {
                let visible = self.visibility(principal, &attempt.tenant);
                Ok(ok(&AttemptView::new(&attempt, &visible)))
            }
            Err(e) => Err(match e.as_outbox() {
                Some(OutboxError::NotFound { what, .. }) => Failure::not_found(what),
                Some(e @ OutboxError::PayloadRemoved { .. }) => {
                    Failure::new(StatusCode::CONFLICT, "payload_removed", e.to_string())
                }
                Some(
                    refused @ (OutboxError::TargetDisabled { .. }
                    | OutboxError::NoTarget { .. }
                    | OutboxError::TargetRefused { .. }
                    | OutboxError::Unsigned { .. }),
                ) => Failure::new(
                    StatusCode::CONFLICT,
                    "replay_refused",
                    self.visibility(principal, &original.tenant)
                        .text(&refused_message(refused)),
                ),
                Some(other) => Failure::store(other),
                None => Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "replay_failed",
                    "the replay could not be made; try again",
                ),
            }),
        }
    }

    async fn retry(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<http::Response<Vec<u8>>, Failure> {
        let scope = principal
            .scope_for(Action::RetryWebhook)
            .map_err(|d| Failure::denied(&d, "job"))?;
        let job_id = JobId::new(id).map_err(|_| Failure::not_found("job"))?;
        let job = self
            .store()
            .job(&scope, &job_id)
            .await
            .map_err(|e| Failure::store(&e))?
            .ok_or_else(|| Failure::not_found("job"))?;
        authorize(principal, Action::RetryWebhook, &job.tenant)
            .into_result()
            .map_err(|d| Failure::denied(&d, "job"))?;
        let own = Scope::tenant(job.tenant.clone());
        match self.outbox.requeue(&own, &job_id).await {
            Ok(job) => {
                let visible = self.visibility(principal, &job.tenant);
                Ok(ok(&self.job_view(&job, &visible)))
            }
            Err(e) => Err(match e.as_outbox() {
                Some(OutboxError::NotFound { .. }) => Failure::not_found("job"),
                Some(e @ OutboxError::NotRequeueable { .. }) => {
                    Failure::new(StatusCode::CONFLICT, "not_requeueable", e.to_string())
                }
                Some(e @ OutboxError::PayloadRemoved { .. }) => {
                    Failure::new(StatusCode::CONFLICT, "payload_removed", e.to_string())
                }
                Some(other) => Failure::store(other),
                None => Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "retry_failed",
                    "the job could not be requeued; try again",
                ),
            }),
        }
    }
}

fn page_body<T, U>(kind: &'static str, items: Vec<T>, page: &Page<U>) -> PageBody<T> {
    PageBody {
        kind,
        items,
        next_cursor: page.next.as_ref().map(|c| c.as_str().to_owned()),
    }
}

/// Why a replay sent nothing, with target URLs redacted.
fn refused_message(e: &OutboxError) -> String {
    match e {
        OutboxError::TargetDisabled { url } => format!(
            "target `{}` is disabled; enable it before replaying",
            view::redact_url(url)
        ),
        OutboxError::TargetRefused { url, rejection } => format!(
            "target `{}` refused by the guard: {}",
            view::redact_url(url),
            rejection
                .to_string()
                .replace(url.as_str(), &view::redact_url(url))
        ),
        OutboxError::NoTarget { .. } => {
            "the job has no current target; configure its server URL".to_owned()
        }
        OutboxError::Unsigned { .. } => {
            "the job could not be signed; check the target's signing secret".to_owned()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route("/logs/webhooks"), Some((Route::List, m)) if m == Method::GET));
        assert!(matches!(
            route("/logs/webhooks/msg_1"),
            Some((Route::Get("msg_1"), _))
        ));
        assert!(matches!(
            route("/logs/webhooks/atmpt_1/replay"),
            Some((Route::Replay("atmpt_1"), m)) if m == Method::POST
        ));
        assert!(matches!(
            route("/logs/webhooks/jobs/msg_1/retry"),
            Some((Route::Retry("msg_1"), _))
        ));
        for unknown in [
            "/",
            "/logs",
            "/logs/webhooksx",
            "/logs/webhooks/",
            "/logs/webhooks//replay",
            "/logs/webhooks/a/b",
            "/logs/webhooks/jobs/msg_1/retry/x",
        ] {
            assert!(route(unknown).is_none(), "{unknown}");
        }
    }
}
