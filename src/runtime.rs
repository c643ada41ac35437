//! One place that owns the boundary's parts: the guard [`Policy`], the [`Transport`], the
//! [`Store`], the [`Directory`], the [`Credentials`] and the [`Clock`]. [`Runtime`] hands the
//! dispatcher, the tool runner and the live path (through [`Runtime::targets`]) the *same*
//! policy, so they cannot disagree: a dispatcher left on its own default (production) refusing
//! what the transport allows, for instance, cannot happen here.
//!
//! - **One policy**: the dispatcher's URL check, the OAuth2 token endpoints' check, the tool
//!   runner's and (with feature `reqwest`, when no transport is given) the transport's
//!   connect-time checks all come from the policy given to [`Runtime::builder`].
//! - **A tenant's allowlist applies to that tenant's traffic**: with
//!   [`RuntimeBuilder::tenants`], [`Runtime::tool_runner`] builds the tenant's policy with
//!   [`TenantConfig::policy`](crate::tenant::TenantConfig::policy) (the runtime's policy plus
//!   the tenant's allowed hosts for model-provided URLs, never another tenant's). Server URLs
//!   are operator configuration, which allowlists do not narrow, so the dispatcher's check is
//!   the runtime's policy for every tenant.
//! - **Routing that survives a restart**: the dispatcher resolves each job through the
//!   directory ([`DirectoryTargets`]) with the credentials applied.
//! - **The live path**: [`Runtime::requester`] builds the live requester on the same
//!   transport, policy, clock and store, and [`Runtime::live_request`] resolves a request
//!   event's target from the same directory at every request ([`DirectoryTargets::target`]),
//!   credentials applied, recorded under the call's route so replays follow the current config.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use agent_webhooks::directory::{MemoryDirectory, Route, Surface};
//! use agent_webhooks::outbox::{MemoryStore, NewJob};
//! use agent_webhooks::runtime::Runtime;
//! use agent_webhooks::{Policy, Scope, TenantId};
//! # #[derive(Debug)] struct Ok200;
//! # #[async_trait::async_trait]
//! # impl agent_webhooks::outbox::Transport for Ok200 {
//! #     async fn send(&self, _: http::Request<Vec<u8>>, _: std::time::Duration)
//! #         -> Result<http::Response<Vec<u8>>, agent_webhooks::outbox::TransportError> {
//! #         Ok(http::Response::new(Vec::new()))
//! #     }
//! # }
//!
//! let acme = TenantId::new("acme")?;
//! let directory = Arc::new(MemoryDirectory::new());
//! directory.insert(&acme, Surface::Assistant, "asst_1",
//!     serde_json::json!({"server": {"url": "https://hooks.acme.example/vapi"}}))?;
//!
//! let runtime = Runtime::builder(Policy::default())     // the one policy
//!     .store(Arc::new(MemoryStore::new()))
//!     .directory(directory)
//!     .transport(Arc::new(Ok200))                        // default with `reqwest`: built from the policy
//!     .build()?;
//!
//! let route = Route::new().assistant("asst_1")?;
//! runtime.outbox().enqueue(&Scope::tenant(acme.clone()), NewJob::new(acme, "status-update",
//!     route.to_target_ref()?, br#"{"message":{"type":"status-update"}}"#.to_vec())).await?;
//! let dispatcher = runtime.dispatcher().build()?;
//! assert_eq!(dispatcher.run_once().await?.succeeded, 1);
//! # Ok(()) }
//! # let mut f = std::pin::pin!(demo());
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # let std::task::Poll::Ready(r) = f.as_mut().poll(&mut cx) else { panic!() }; r.unwrap();
//! ```

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::credential::{CredentialResolver, Credentials, MemoryCredentials};
use crate::directory::{Directory, DirectoryTargets, Route};
use crate::event::Envelope;
use crate::guard::{Policy, PolicyError};
use crate::live::{LiveRequest, Requester, RequesterBuilder};
use crate::outbox::{
    Clock, Dispatcher, DispatcherBuilder, MemoryStore, Outbox, Sign, Store, SystemClock,
};
use crate::tenant::{Scope, TenantConfigs, TenantId};
use crate::tool::ToolRunner;
use crate::transport::{SendStep, Timer, Transport};

/// The boundary's parts in one place, sharing one policy. Build with [`Runtime::builder`].
#[derive(Clone)]
pub struct Runtime {
    policy: Arc<Policy>,
    transport: Arc<dyn Transport>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    targets: Arc<DirectoryTargets>,
    credentials: Arc<CredentialResolver>,
    tenants: Option<Arc<RwLock<TenantConfigs>>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("policy", &self.policy)
            .field("transport", &self.transport)
            .field("store", &self.store)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Runtime`]; what is missing is checked by [`RuntimeBuilder::build`].
#[must_use]
pub struct RuntimeBuilder {
    policy: Policy,
    transport: Option<Arc<dyn Transport>>,
    store: Option<Arc<dyn Store>>,
    directory: Option<Arc<dyn Directory>>,
    credentials: Option<Arc<dyn Credentials>>,
    clock: Arc<dyn Clock>,
    signer: Option<Arc<dyn Sign>>,
    tenants: Option<Arc<RwLock<TenantConfigs>>>,
}

impl fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a [`RuntimeBuilder`] lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No directory was given: jobs would have nowhere to go.
    #[error("the runtime needs a directory (RuntimeBuilder::directory)")]
    NoDirectory,
    /// No transport was given and none can be built (feature `reqwest` is off).
    #[error("the runtime needs a transport (RuntimeBuilder::transport, or feature `reqwest`)")]
    NoTransport,
    /// The transport could not be built from the policy.
    #[error("the transport could not be built from the policy: {0}")]
    Transport(String),
    /// A tenant's allowlist does not make a policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl Runtime {
    /// A runtime guarded by `policy`: the one policy of every part.
    pub fn builder(policy: Policy) -> RuntimeBuilder {
        RuntimeBuilder {
            policy,
            transport: None,
            store: None,
            directory: None,
            credentials: None,
            clock: Arc::new(SystemClock),
            signer: None,
            tenants: None,
        }
    }

    /// The policy every part shares.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The transport every request leaves through.
    #[must_use]
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The targets: the directory with credentials and signing applied. The dispatcher
    /// resolves jobs through it; the live path asks it with
    /// [`DirectoryTargets::target`] (the hook for the live request path).
    #[must_use]
    pub fn targets(&self) -> &Arc<DirectoryTargets> {
        &self.targets
    }

    /// The credential resolver (its OAuth2 token cache is shared by every part).
    #[must_use]
    pub fn credentials(&self) -> &Arc<CredentialResolver> {
        &self.credentials
    }

    /// The outbox to enqueue server events, on the runtime's clock.
    #[must_use]
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.store.clone()).with_clock(self.clock.clone())
    }

    /// A dispatcher over the runtime's store, transport and targets, checking URLs with the
    /// runtime's policy, on its clock; set the rest (plan, concurrency, scope) on the builder.
    pub fn dispatcher(&self) -> DispatcherBuilder {
        Dispatcher::builder(
            self.store.clone(),
            self.transport.clone(),
            self.targets.clone(),
        )
        .url_check(self.policy.clone())
        .clock(self.clock.clone())
    }

    /// The send step every request leaves through, on the runtime's transport, policy and
    /// clock: what the live request path sends with (resolving its target through
    /// [`Runtime::targets`]), so a live exchange is guarded, signed and credentialed exactly
    /// as an outbox attempt is.
    #[must_use]
    pub fn send_step(&self) -> SendStep {
        SendStep::new(self.transport.clone())
            .with_url_check(self.policy.clone())
            .with_clock(self.clock.clone())
    }

    /// A live requester for the request events the caller waits for, on the runtime's
    /// transport, policy, clock and store: a live exchange is guarded, signed, credentialed
    /// and recorded exactly as an outbox attempt is. `timer` enforces the budgets; set the
    /// rest on the builder (a `Spawn` to record off the call's path, an observer).
    pub fn requester(&self, timer: Arc<dyn Timer>) -> RequesterBuilder {
        Requester::builder(self.transport.clone(), timer)
            .url_check(self.policy.clone())
            .clock(self.clock.clone())
            .store(self.store.clone())
    }

    /// A live request for `envelope` to the server `tenant`'s directory configures *now* for
    /// the call's surfaces in `route`, with credentials and signing applied (the target the
    /// dispatcher would resolve for a job of that route), recorded under the route so that a
    /// replay from the logs API resolves the current target too.
    ///
    /// # Errors
    /// [`Unresolved`](crate::outbox::Unresolved) when the directory has no server for the
    /// event now (a deleted assistant, no level configured, a credential that cannot be
    /// applied); [`NotARequest`](crate::live::NotARequest) when the event expects no answer;
    /// [`OutboxError`](crate::outbox::OutboxError) when the route names no surface.
    pub async fn live_request(
        &self,
        tenant: &TenantId,
        envelope: Envelope,
        route: &Route,
    ) -> crate::Result<LiveRequest> {
        let event_type = envelope.event().event_type().to_owned();
        let target = self.targets.target(tenant, route, &event_type).await?;
        let target_ref = route.to_target_ref()?;
        Ok(LiveRequest::to_target(tenant.clone(), envelope, target)?.target_ref(target_ref))
    }

    /// The policy for `tenant`'s requests: the runtime's policy plus the tenant's allowed
    /// hosts (when tenants were given and this one has a configuration).
    ///
    /// # Errors
    /// [`RuntimeError::Policy`] when the tenant's allowlist has an entry that is not a host.
    pub fn tenant_policy(&self, tenant: &TenantId) -> Result<Policy, RuntimeError> {
        let Some(tenants) = &self.tenants else {
            return Ok((*self.policy).clone());
        };
        let tenants = tenants.read().unwrap_or_else(PoisonError::into_inner);
        match tenants.get(&Scope::tenant(tenant.clone()), tenant) {
            Some(config) => Ok(config.policy(&self.policy)?),
            None => Ok((*self.policy).clone()),
        }
    }

    /// A tool runner for `tenant`'s tool calls: the tenant's policy
    /// ([`Runtime::tenant_policy`]) and the runtime's transport.
    ///
    /// # Errors
    /// As [`Runtime::tenant_policy`].
    pub fn tool_runner(&self, tenant: &TenantId) -> Result<ToolRunner, RuntimeError> {
        Ok(ToolRunner::new(
            self.tenant_policy(tenant)?,
            self.transport.clone(),
        ))
    }
}

impl RuntimeBuilder {
    /// The transport (default with feature `reqwest`: a `ReqwestTransport` built from the
    /// runtime's policy). A transport given here must check resolved addresses with the
    /// same policy.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The store (default: a [`MemoryStore`], which a restart loses).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where the tenants' surfaces are configured (required).
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The tenants' credentials (default: none).
    pub fn credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Signs every attempt (Standard Webhooks by default; a tenant's own signer goes on
    /// [`DirectoryTargets`]).
    pub fn signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The tenants' configurations, whose allowlists apply to their tool calls.
    pub fn tenants(mut self, tenants: Arc<RwLock<TenantConfigs>>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// The runtime.
    ///
    /// # Errors
    /// [`RuntimeError::NoDirectory`]; [`RuntimeError::NoTransport`] without a transport and
    /// without feature `reqwest`; [`RuntimeError::Transport`] when it cannot be built.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let directory = self.directory.ok_or(RuntimeError::NoDirectory)?;
        let transport = match self.transport {
            Some(t) => t,
            None => default_transport(&self.policy)?,
        };
        let policy = Arc::new(self.policy);
        let credentials = Arc::new(
            CredentialResolver::new(
                self.credentials
                    .unwrap_or_else(|| Arc::new(MemoryCredentials::new())),
                transport.clone(),
            )
            .url_check(policy.clone())
            .clock(self.clock.clone()),
        );
        let mut targets = DirectoryTargets::new(directory).with_credentials(credentials.clone());
        if let Some(signer) = self.signer {
            targets = targets.with_signer(signer);
        }
        Ok(Runtime {
            policy,
            transport,
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            clock: self.clock,
            targets: Arc::new(targets),
            credentials,
            tenants: self.tenants,
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_transport(policy: &Policy) -> Result<Arc<dyn Transport>, RuntimeError> {
    crate::transport::ReqwestTransport::new(policy.clone())
        .map(|t| Arc::new(t) as Arc<dyn Transport>)
        .map_err(|e| RuntimeError::Transport(e.to_string()))
}

#[cfg(not(feature = "reqwest"))]
fn default_transport(_: &Policy) -> Result<Arc<dyn Transport>, RuntimeError> {
    Err(RuntimeError::NoTransport)
}
