//! Per-tenant configuration, looked up only within a scope.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use url::Url;

use crate::guard::{Policy, PolicyError};
use crate::outbox::DataPolicy;
use crate::tenant::{Scope, TenantId};
use crate::tool::WebhookTool;
use crate::vars::Secret;

/// One tenant's configuration: its webhook tools, secrets (API keys, signing secrets), webhook
/// targets (server URLs) and the hosts the guard lets its requests reach.
///
/// `Debug` shows secret *names* only.
///
/// ```
/// use agent_webhooks::Secret;
/// use agent_webhooks::tenant::TenantConfig;
/// let config = TenantConfig::new()
///     .with_secret("crm_key", Secret::new("sk_live_123"))
///     .with_webhook_target("assistant", "https://hooks.acme.example/vapi".parse()?)
///     .allow_host("api.acme.example");
/// assert_eq!(config.secret("crm_key").map(Secret::expose), Some("sk_live_123"));
/// assert!(config.allows_host("API.acme.example"));
/// assert!(!format!("{config:?}").contains("sk_live"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct TenantConfig {
    tools: BTreeMap<String, WebhookTool>,
    secrets: BTreeMap<String, Secret>,
    webhook_targets: BTreeMap<String, Url>,
    allowed_hosts: BTreeSet<String>,
    data_policy: Option<DataPolicy>,
}

impl TenantConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a webhook tool, under its name.
    pub fn with_tool(mut self, tool: WebhookTool) -> Self {
        self.tools.insert(tool.name.clone(), tool);
        self
    }

    /// Adds (or replaces) a secret, under the name templates use (`{{secrets.NAME}}`).
    pub fn with_secret(mut self, name: impl Into<String>, secret: Secret) -> Self {
        self.secrets.insert(name.into(), secret);
        self
    }

    /// Adds (or replaces) a named webhook target (a cascade level, a target reference).
    pub fn with_webhook_target(mut self, name: impl Into<String>, url: Url) -> Self {
        self.webhook_targets.insert(name.into(), url);
        self
    }

    /// Lets this tenant's model-provided URLs reach `host` (compared case-insensitively): an
    /// exact host, or `*.domain` for the names under it once it is in a guard policy (see
    /// [`TenantConfig::policy`]).
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.insert(host.into().to_ascii_lowercase());
        self
    }

    /// Sets this tenant's data policy (retention and privacy mode) instead of the runtime's
    /// default; [`DataPolicies::from_configs`](crate::outbox::DataPolicies::from_configs)
    /// collects them for the [`Lifecycle`](crate::outbox::Lifecycle).
    pub fn with_data_policy(mut self, policy: DataPolicy) -> Self {
        self.data_policy = Some(policy);
        self
    }

    /// This tenant's own data policy, if it has one.
    #[must_use]
    pub fn data_policy(&self) -> Option<&DataPolicy> {
        self.data_policy.as_ref()
    }

    /// A webhook tool by name.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<&WebhookTool> {
        self.tools.get(name)
    }

    /// A secret by name.
    #[must_use]
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// Every secret value, for redaction by value (the logs API).
    pub(crate) fn secret_values(&self) -> impl Iterator<Item = &Secret> {
        self.secrets.values()
    }

    /// A webhook target by name.
    #[must_use]
    pub fn webhook_target(&self, name: &str) -> Option<&Url> {
        self.webhook_targets.get(name)
    }

    /// Whether this tenant's requests may reach `host` (case-insensitive).
    #[must_use]
    pub fn allows_host(&self, host: &str) -> bool {
        self.allowed_hosts.contains(&host.to_ascii_lowercase())
    }

    /// The allowed hosts, lower case, sorted.
    pub fn allowed_hosts(&self) -> impl Iterator<Item = &str> {
        self.allowed_hosts.iter().map(String::as_str)
    }

    /// The guard policy for this tenant's requests: `base` (the runtime's policy, its mode and
    /// escape hatches unchanged) with this tenant's allowed hosts added to the allowlist for
    /// model-provided URLs. Another tenant's hosts are never in it.
    ///
    /// ```
    /// use agent_webhooks::guard::{Origin, Policy, Rejection};
    /// use agent_webhooks::tenant::TenantConfig;
    ///
    /// let runtime = Policy::builder().allow_host("api.shared.example").build()?;
    /// let acme = TenantConfig::new().allow_host("*.acme.example").policy(&runtime)?;
    /// assert!(acme.parse("https://crm.acme.example/lookup", Origin::Model).is_ok());
    /// assert!(acme.parse("https://api.shared.example/", Origin::Model).is_ok());
    /// assert_eq!(
    ///     runtime.parse("https://crm.acme.example/lookup", Origin::Model),
    ///     Err(Rejection::HostNotAllowed)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PolicyError::AllowedHost`] for an allowed host that is not a host or `*.domain`.
    pub fn policy(&self, base: &Policy) -> Result<Policy, PolicyError> {
        base.with_allowed_hosts(&self.allowed_hosts)
    }
}

impl fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantConfig")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field(
                "webhook_targets",
                &self
                    .webhook_targets
                    .iter()
                    .map(|(k, v)| (k, v.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field("allowed_hosts", &self.allowed_hosts)
            .field("data_policy", &self.data_policy)
            .finish()
    }
}

/// Every tenant's [`TenantConfig`], keyed by tenant. There is no lookup by name across
/// tenants: a lookup names the tenant and runs under a [`Scope`], and a tenant outside the
/// scope is simply absent.
///
/// ```
/// use agent_webhooks::{AccessRole, Action, Principal, Secret, TenantId};
/// use agent_webhooks::tenant::{TenantConfig, TenantConfigs};
/// let (acme, globex) = (TenantId::new("acme")?, TenantId::new("globex")?);
/// let mut configs = TenantConfigs::new();
/// configs.insert(acme.clone(), TenantConfig::new().with_secret("crm_key", Secret::new("a")));
/// configs.insert(globex.clone(), TenantConfig::new().with_secret("crm_key", Secret::new("g")));
///
/// let admin = Principal::new(acme.clone(), AccessRole::ClientAdmin, "u_1")?;
/// let scope = admin.scope_for(Action::ManageSecrets)?;
/// assert!(configs.get(&scope, &acme).is_some());
/// assert!(configs.get(&scope, &globex).is_none()); // another tenant's: absent
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TenantConfigs {
    tenants: HashMap<TenantId, TenantConfig>,
}

impl TenantConfigs {
    /// No tenants yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a tenant's configuration; returns the one it replaces.
    pub fn insert(&mut self, tenant: TenantId, config: TenantConfig) -> Option<TenantConfig> {
        self.tenants.insert(tenant, config)
    }

    /// A tenant's configuration, if `scope` includes the tenant and it has one.
    #[must_use]
    pub fn get(&self, scope: &Scope, tenant: &TenantId) -> Option<&TenantConfig> {
        if !scope.contains(tenant) {
            return None;
        }
        self.tenants.get(tenant)
    }

    /// The tenants `scope` can see that have a configuration, sorted.
    #[must_use]
    pub fn tenants(&self, scope: &Scope) -> Vec<&TenantId> {
        let mut ids: Vec<_> = self.tenants.keys().filter(|t| scope.contains(t)).collect();
        ids.sort();
        ids
    }
}
