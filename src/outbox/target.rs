//! Where a job goes: [`Target`], resolved at every attempt by a [`TargetResolver`] (such as
//! [`CascadeTargets`]), checked by a [`UrlCheck`] and signed by a [`Sign`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use http::header::{HeaderName, HeaderValue};
use url::Url;

use crate::cascade::{Cascade, Resolved, ServerAuth};
use crate::credential::CredentialResolver;
use crate::event::Envelope;
use crate::guard::{Origin, Policy, Rejection};
use crate::outbox::model::{Job, TargetRef};
use crate::outbox::plan::RetryPlan;
use crate::sign::{Message, Scheme, SignError, Signer, WEBHOOK_SIGNATURE, legacy_secret_header};
use crate::tenant::TenantId;

/// Where a job goes now: resolved at every attempt, so a changed server URL takes effect on the
/// next retry.
#[derive(Clone)]
#[must_use]
pub struct Target {
    pub(crate) url: Url,
    pub(crate) level: String,
    pub(crate) timeout: Duration,
    pub(crate) headers: http::HeaderMap,
    pub(crate) signer: Option<Arc<dyn Sign>>,
    pub(crate) credential: Option<Arc<dyn Sign>>,
    pub(crate) plan: Option<RetryPlan>,
}

impl Target {
    /// A target URL and the cascade level it came from (`assistant`, `phone-number`, ...).
    /// Timeout 20 s, no signer, the dispatcher's retry plan.
    pub fn new(url: Url, level: impl Into<String>) -> Self {
        Target {
            url,
            level: level.into(),
            timeout: Duration::from_secs(20),
            headers: http::HeaderMap::new(),
            signer: None,
            credential: None,
            plan: None,
        }
    }

    /// The server's request timeout (capped by the dispatcher's longest timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An extra header (a credential: mark it sensitive).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Signs every attempt (`webhook-signature`).
    pub fn signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Also signs every attempt with the server's credential (Vapi's HMAC credential, a
    /// receiver-compatible [`Scheme`]), after the signature of [`Target::signer`].
    pub fn credential(mut self, signer: Arc<dyn Sign>) -> Self {
        self.credential = Some(signer);
        self
    }

    /// This server's own retry plan (Vapi's per-server `backoffPlan`).
    pub fn plan(mut self, plan: RetryPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The cascade level the target came from.
    #[must_use]
    pub fn level(&self) -> &str {
        &self.level
    }

    /// The server's request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// The server's own retry plan, if it has one.
    #[must_use]
    pub fn retry_plan(&self) -> Option<&RetryPlan> {
        self.plan.as_ref()
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and signer keys may be secrets: names only.
        f.debug_struct("Target")
            .field("url", &self.url.as_str())
            .field("level", &self.level)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("signed", &self.signer.is_some())
            .field("credential_signed", &self.credential.is_some())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The target a cascade resolution picked: the winning server's URL, its level's name
    /// (`assistant.server`, ...), timeout and headers, the legacy `X-Vapi-Secret` header
    /// (sensitive) for a server configured with a shared `secret`, and its retry plan (its
    /// `backoffPlan`). A server without a `backoffPlan` gets the dispatcher's plan (set
    /// [`RetryPlan::none`] there for Vapi's no-retry default).
    ///
    /// A server whose auth is a stored credential (`credentialId`) needs its header added by
    /// the host ([`Target::header`]).
    ///
    /// # Errors
    /// [`SignError::InvalidLegacySecret`] for a legacy secret that cannot be a header value.
    pub fn from_resolved(resolved: Resolved<'_>) -> std::result::Result<Target, SignError> {
        let server = resolved.server;
        let mut target =
            Target::new(server.url().clone(), resolved.level.as_str()).timeout(server.timeout());
        target.headers = server.headers().clone();
        if let ServerAuth::LegacySecret(secret) = server.auth() {
            let (name, value) = legacy_secret_header(secret)?;
            target.headers.insert(name, value);
        }
        target.plan = server.retry_plan().cloned();
        Ok(target)
    }
}

/// A [`TargetResolver`] over server-URL cascades registered per tenant and target reference:
/// each job goes to the server its cascade resolves for the job's event type, signed with the
/// route's signer. For cascades kept elsewhere (a database), implement [`TargetResolver`] with
/// [`Cascade::resolve`](crate::Cascade::resolve) and [`Target::from_resolved`].
///
/// ```
/// use std::sync::Arc;
/// use agent_webhooks::{Cascade, Signer, TenantId};
/// use agent_webhooks::outbox::{CascadeTargets, TargetRef};
///
/// let targets = CascadeTargets::new();
/// let cascade = Cascade::from_json(r#"{"assistant": {"server": {"url": "https://hooks.example.com/vapi"}}}"#)?;
/// let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?);
/// targets.insert(TenantId::new("acme")?, TargetRef::new("assistant:asst_1")?, cascade, Some(Arc::new(signer)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Routes live in this process only: after a restart every pending job is unroutable until
/// its route is inserted again. For routing that survives a restart, resolve through the
/// tenant's configuration with [`DirectoryTargets`](crate::directory::DirectoryTargets).
#[derive(Default)]
pub struct CascadeTargets {
    routes: RwLock<HashMap<(TenantId, TargetRef), Route>>,
    credentials: Option<Arc<CredentialResolver>>,
}

#[derive(Clone)]
struct Route {
    cascade: Arc<Cascade>,
    signer: Option<Arc<dyn Sign>>,
}

impl CascadeTargets {
    /// No routes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies servers' credentials (`credentialId`) through `credentials`; without it such a
    /// server is skipped, saying so.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Arc<CredentialResolver>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Routes the jobs of `tenant` to `target` through `cascade`, signed by `signer`; replaces
    /// an earlier route (the next attempt uses the new one).
    pub fn insert(
        &self,
        tenant: TenantId,
        target: TargetRef,
        cascade: Cascade,
        signer: Option<Arc<dyn Sign>>,
    ) {
        let route = Route {
            cascade: Arc::new(cascade),
            signer,
        };
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((tenant, target), route);
    }

    /// Removes a route; its jobs are skipped from then on. Whether there was one.
    pub fn remove(&self, tenant: &TenantId, target: &TargetRef) -> bool {
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tenant.clone(), target.clone()))
            .is_some()
    }
}

impl fmt::Debug for CascadeTargets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("CascadeTargets")
            .field("routes", &routes.len())
            .finish()
    }
}

#[async_trait]
impl TargetResolver for CascadeTargets {
    async fn resolve(&self, job: &Job) -> std::result::Result<Target, Unresolved> {
        let route = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(job.tenant.clone(), job.target.clone()))
            .cloned()
            .ok_or_else(|| Unresolved(format!("no cascade for `{}`", job.target)))?;
        // A final transcript has its own serverMessages name; only the event itself says so.
        let envelope = (job.event_type == "transcript")
            .then(|| Envelope::parse(&job.payload).ok())
            .flatten();
        let resolved = match &envelope {
            Some(envelope) => route.cascade.resolve_event(envelope.event()),
            None => route.cascade.resolve(&job.event_type),
        }
        .map_err(|e| Unresolved(e.to_string()))?;
        let level = resolved.level;
        let credential = match resolved.server.auth() {
            ServerAuth::Credential(id) => Some(id.clone()),
            _ => None,
        };
        let mut target = Target::from_resolved(resolved).map_err(|e| Unresolved(e.to_string()))?;
        if let Some(id) = credential {
            let Some(credentials) = &self.credentials else {
                return Err(Unresolved(format!(
                    "the {level} server uses credential `{id}` and no credential resolver is configured"
                )));
            };
            target = credentials
                .apply(&job.tenant, &id, target)
                .await
                .map_err(|e| Unresolved(format!("the {level} server's credential: {e}")))?;
        }
        Ok(match route.signer {
            Some(signer) => target.signer(signer),
            None => target,
        })
    }
}

/// Resolves a job's target reference to its current [`Target`] (through the server-URL
/// cascade, with the server's timeout and signing secrets).
#[async_trait]
pub trait TargetResolver: Send + Sync + fmt::Debug {
    /// The job's current target.
    ///
    /// # Errors
    /// [`Unresolved`] when the job has no target now; the job is skipped and the reason
    /// recorded on its attempt.
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved>;
}

/// Why a job has no target now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unresolved(pub String);

/// Checks a target URL before any byte is sent; a refusal skips the job.
///
/// The guard's [`Policy`] is one, and the dispatcher's default ([`Policy::default`]:
/// production rules, server URLs judged as operator configuration). The transport must still
/// check every resolved address and redirect hop ([`Policy::check_resolved`]).
pub trait UrlCheck: Send + Sync + fmt::Debug {
    /// `Ok` to send, or the guard's rejection (recorded on the attempt).
    ///
    /// # Errors
    /// The [`Rejection`] of the first rule the URL breaks.
    fn check(&self, url: &Url) -> std::result::Result<(), Rejection>;
}

impl UrlCheck for Policy {
    /// Server URLs are operator configuration: [`Origin::Operator`].
    fn check(&self, url: &Url) -> std::result::Result<(), Rejection> {
        self.check_url(url, Origin::Operator)
    }
}

/// Signs an attempt: the `webhook-signature` value over `id.timestamp.body`, or, for the
/// receiver-compatible schemes ([`Scheme`]) and HMAC credentials, the headers of their own.
///
/// [`Signer`] (Standard Webhooks, with rotation) and [`Scheme`] are two; implement it for a key
/// held elsewhere (an HSM, a KMS).
pub trait Sign: Send + Sync + fmt::Debug {
    /// The `webhook-signature` value for this attempt.
    ///
    /// # Errors
    /// Why signing failed; the job is then skipped (nothing unsigned is sent).
    fn sign(
        &self,
        webhook_id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> std::result::Result<HeaderValue, SignError>;

    /// Sets this attempt's signature headers on `headers`. By default the
    /// `webhook-signature` of [`Sign::sign`] (Unix seconds of `message.unix_millis`);
    /// schemes with headers of their own override it.
    ///
    /// # Errors
    /// As [`Sign::sign`].
    fn sign_headers(
        &self,
        message: &Message<'_>,
        headers: &mut http::HeaderMap,
    ) -> std::result::Result<(), SignError> {
        let value = self.sign(message.id, message.unix_millis / 1000, message.body)?;
        headers.insert(WEBHOOK_SIGNATURE, value);
        Ok(())
    }
}

impl Sign for Scheme {
    /// The signature header's value (for a scheme with several headers, use
    /// [`Sign::sign_headers`]).
    fn sign(
        &self,
        webhook_id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> std::result::Result<HeaderValue, SignError> {
        let message = Message::new(webhook_id, timestamp.saturating_mul(1000), "", body);
        let headers = Scheme::sign(self, &message)?;
        let value = headers
            .get(WEBHOOK_SIGNATURE)
            .or_else(|| headers.values().next())
            .cloned();
        value.ok_or(SignError::EmptySecret)
    }

    fn sign_headers(
        &self,
        message: &Message<'_>,
        headers: &mut http::HeaderMap,
    ) -> std::result::Result<(), SignError> {
        for (name, value) in Scheme::sign(self, message)? {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        Ok(())
    }
}

impl Sign for Signer {
    fn sign(
        &self,
        webhook_id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> std::result::Result<HeaderValue, SignError> {
        let value = Signer::sign(self, webhook_id, timestamp, body)?;
        // `v1,` and base64 only: always a valid header value.
        HeaderValue::from_str(&value).map_err(|_| SignError::InvalidId(webhook_id.to_owned()))
    }
}
