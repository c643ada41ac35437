//! The data lifecycle: how long finished jobs, their attempts and their payloads are kept,
//! what a tenant's privacy mode takes out of a payload once its job is final, and erasure on
//! request.
//!
//! - **Policy**: a [`DataPolicy`] ([`Retention`] and [`PrivacyMode`]) per tenant, set on its
//!   [`TenantConfig`](crate::tenant::TenantConfig) or directly, over a runtime default
//!   ([`DataPolicies`]).
//! - **Who applies it**: [`Lifecycle::run_once`], a step the host runs on a schedule (every
//!   minute is a good start: a `redact` or `metadata-only` tenant's payloads are kept whole
//!   from the job's end until the next step). Each step does a bounded batch per policy
//!   through [`Store::purge`], and never touches a pending or in-flight job, so it runs while
//!   dispatchers work (on PostgreSQL from several runtime instances at once).
//! - **Erasure**: [`Lifecycle::erase`] removes everything of one call or one tenant.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::Result;
use crate::outbox::error::OutboxError;
use crate::outbox::io::{Clock, SystemClock};
use crate::outbox::model::{PayloadState, Timestamp};
use crate::outbox::store::Store;
use crate::tenant::{Scope, TenantConfigs, TenantId};

/// The default retention of finished jobs and their attempts: 30 days.
pub const DEFAULT_JOB_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default retention of finished jobs' payloads (and their attempts' response bodies):
/// 7 days. After it the job's row stays, listable, and its body is gone.
pub const DEFAULT_PAYLOAD_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default number of rows one [`Store::purge`] step touches per kind of change.
pub const DEFAULT_PURGE_BATCH: usize = 500;
/// What replaces a redacted value in a payload.
pub const REDACTED_VALUE: &str = "[redacted]";

/// How long a tenant's finished jobs are kept. Counted from the job's end (its last
/// change); a pending or in-flight job is never purged, however old.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::outbox::Retention;
/// let day = Duration::from_secs(86_400);
/// let r = Retention::new().jobs(30 * day).payloads(day);
/// assert_eq!((r.jobs, r.payloads), (Some(30 * day), Some(day)));
/// assert_eq!(Retention::forever().jobs, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// How long a finished job and its attempts are kept; `None`: forever.
    pub jobs: Option<Duration>,
    /// How long a finished job's payload (and its attempts' response bodies) are kept;
    /// `None`: as long as the job. Shorter than `jobs` to keep the log rows without bodies.
    pub payloads: Option<Duration>,
}

impl Default for Retention {
    /// [`DEFAULT_JOB_RETENTION`] and [`DEFAULT_PAYLOAD_RETENTION`].
    fn default() -> Self {
        Retention {
            jobs: Some(DEFAULT_JOB_RETENTION),
            payloads: Some(DEFAULT_PAYLOAD_RETENTION),
        }
    }
}

impl Retention {
    /// The defaults: jobs 30 days, payloads 7 days.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps everything forever (nothing is purged).
    #[must_use]
    pub fn forever() -> Self {
        Retention {
            jobs: None,
            payloads: None,
        }
    }

    /// Keeps finished jobs and their attempts for `d`.
    #[must_use]
    pub fn jobs(mut self, d: Duration) -> Self {
        self.jobs = Some(d);
        self
    }

    /// Keeps finished jobs' payloads and response bodies for `d`.
    #[must_use]
    pub fn payloads(mut self, d: Duration) -> Self {
        self.payloads = Some(d);
        self
    }
}

/// A JSON path in a payload: object keys separated by `.`; an array on the way applies the
/// rest of the path to each element (`message.artifact.messages.message`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPath(Arc<[String]>);

impl JsonPath {
    /// Parses `message.artifact.transcript`.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for an empty path or an empty segment (`a..b`).
    pub fn new(path: &str) -> std::result::Result<Self, OutboxError> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.is_empty() || segments.iter().any(String::is_empty) || path.len() > 512 {
            return Err(OutboxError::Invalid {
                what: "redact path",
                problem: format!(
                    "`{}` must be 1 to 512 bytes of keys separated by `.` \
                     (like `message.artifact.transcript`)",
                    path.chars()
                        .take(80)
                        .flat_map(char::escape_default)
                        .collect::<String>()
                ),
            });
        }
        Ok(JsonPath(segments.into()))
    }

    /// The keys of the path.
    #[must_use]
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// What a tenant's payloads keep once their job is final.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PrivacyMode {
    /// Everything is kept (until the payload retention).
    #[default]
    Full,
    /// The listed JSON paths are replaced with `"[redacted]"`; a payload that is not JSON
    /// is dropped whole.
    Redact(Arc<[JsonPath]>),
    /// The payload and the attempts' response bodies are dropped; the job and attempt rows
    /// (metadata) stay.
    MetadataOnly,
}

impl PrivacyMode {
    /// `redact` with these paths.
    ///
    /// ```
    /// use agent_webhooks::outbox::PrivacyMode;
    /// let mode = PrivacyMode::redact(["message.artifact.transcript", "message.artifact.recordingUrl"])?;
    /// assert_eq!(mode.as_str(), "redact");
    /// # Ok::<(), agent_webhooks::outbox::OutboxError>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for a malformed path, or none at all.
    pub fn redact<I, S>(paths: I) -> std::result::Result<Self, OutboxError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let paths = (paths.into_iter())
            .map(|p| JsonPath::new(p.as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if paths.is_empty() {
            return Err(OutboxError::Invalid {
                what: "redact paths",
                problem: "list at least one path; use `full` to keep everything".into(),
            });
        }
        Ok(PrivacyMode::Redact(paths.into()))
    }

    /// The mode's name: `full`, `redact` or `metadata-only`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            PrivacyMode::Full => "full",
            PrivacyMode::Redact(_) => "redact",
            PrivacyMode::MetadataOnly => "metadata-only",
        }
    }

    /// The redacted paths (empty unless `redact`).
    #[must_use]
    pub fn paths(&self) -> &[JsonPath] {
        match self {
            PrivacyMode::Redact(p) => p,
            _ => &[],
        }
    }
}

/// A tenant's data policy: retention and privacy mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DataPolicy {
    /// How long finished jobs and payloads are kept.
    pub retention: Retention,
    /// What payloads keep once their job is final.
    pub privacy: PrivacyMode,
}

impl DataPolicy {
    /// The defaults: [`Retention::default`] and [`PrivacyMode::Full`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// With this retention.
    #[must_use]
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// With this privacy mode.
    #[must_use]
    pub fn privacy(mut self, privacy: PrivacyMode) -> Self {
        self.privacy = privacy;
        self
    }

    /// The store request that applies this policy at `now`, for the tenants of the scope it
    /// runs under except `exclude`, at most `limit` rows per kind of change.
    #[must_use]
    pub fn purge_at(&self, now: Timestamp, exclude: Vec<TenantId>, limit: usize) -> Purge {
        let before = |d: Option<Duration>| d.map(|d| before(now, d));
        Purge {
            exclude,
            delete_finished_before: before(self.retention.jobs),
            expire_payloads_finished_before: before(self.retention.payloads),
            privacy: self.privacy.clone(),
            limit,
        }
    }
}

fn before(now: Timestamp, d: Duration) -> Timestamp {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Timestamp::from_unix_millis(now.as_unix_millis().saturating_sub(ms))
}

/// The runtime's default [`DataPolicy`] and every tenant's own.
///
/// ```
/// use std::time::Duration;
/// use agent_webhooks::TenantId;
/// use agent_webhooks::outbox::{DataPolicies, DataPolicy, PrivacyMode, Retention};
/// let acme = TenantId::new("acme")?;
/// let policies = DataPolicies::new(DataPolicy::new())
///     .with_tenant(acme.clone(), DataPolicy::new().privacy(PrivacyMode::MetadataOnly));
/// assert_eq!(policies.for_tenant(&acme).privacy, PrivacyMode::MetadataOnly);
/// assert_eq!(policies.for_tenant(&TenantId::new("globex")?).privacy, PrivacyMode::Full);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DataPolicies {
    default: DataPolicy,
    tenants: HashMap<TenantId, DataPolicy>,
}

impl DataPolicies {
    /// `default` for every tenant without its own.
    #[must_use]
    pub fn new(default: DataPolicy) -> Self {
        DataPolicies {
            default,
            tenants: HashMap::new(),
        }
    }

    /// `default`, and the policy each tenant's [`TenantConfig`](crate::tenant::TenantConfig)
    /// sets.
    #[must_use]
    pub fn from_configs(default: DataPolicy, configs: &TenantConfigs) -> Self {
        let mut policies = DataPolicies::new(default);
        for tenant in configs.tenants(&Scope::AllTenants) {
            if let Some(policy) = configs
                .get(&Scope::AllTenants, tenant)
                .and_then(|c| c.data_policy())
            {
                policies.tenants.insert(tenant.clone(), policy.clone());
            }
        }
        policies
    }

    /// Sets a tenant's own policy.
    #[must_use]
    pub fn with_tenant(mut self, tenant: TenantId, policy: DataPolicy) -> Self {
        self.tenants.insert(tenant, policy);
        self
    }

    /// The policy that applies to `tenant`.
    #[must_use]
    pub fn for_tenant(&self, tenant: &TenantId) -> &DataPolicy {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }

    /// The runtime default.
    #[must_use]
    pub fn default_policy(&self) -> &DataPolicy {
        &self.default
    }
}

/// One bounded lifecycle step for a store: what [`Store::purge`] removes, in this order, each
/// at most `limit` rows. Only final jobs (succeeded, failed, skipped) are touched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Purge {
    /// Tenants of the scope left alone (those with a policy of their own).
    pub exclude: Vec<TenantId>,
    /// Deletes final jobs that ended before this time, with their attempts.
    pub delete_finished_before: Option<Timestamp>,
    /// Empties the payloads of final jobs that ended before this time (state
    /// [`PayloadState::Expired`]) and their attempts' response bodies.
    pub expire_payloads_finished_before: Option<Timestamp>,
    /// Applied to final jobs whose payload is still [`PayloadState::Kept`] (`metadata-only`
    /// also to redacted ones).
    pub privacy: PrivacyMode,
    /// The most rows each of the three changes touches in this step.
    pub limit: usize,
}

impl Purge {
    /// Nothing to do yet; set the fields.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Purge {
            exclude: Vec::new(),
            delete_finished_before: None,
            expire_payloads_finished_before: None,
            privacy: PrivacyMode::Full,
            limit,
        }
    }
}

/// What a [`Store::purge`] step (or a [`Lifecycle`] step) changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Purged {
    /// Final jobs deleted.
    pub jobs: u64,
    /// Attempts deleted with them.
    pub attempts: u64,
    /// Payloads emptied by the payload retention.
    pub payloads_expired: u64,
    /// Payloads redacted by the privacy mode `redact`.
    pub payloads_redacted: u64,
    /// Payloads dropped by the privacy mode `metadata-only`.
    pub payloads_dropped: u64,
    /// Whether a change hit its limit: more may be due now.
    pub more: bool,
}

impl Purged {
    /// For store implementations.
    #[must_use]
    pub fn new(
        (jobs, attempts): (u64, u64),
        (payloads_expired, payloads_redacted, payloads_dropped): (u64, u64, u64),
        more: bool,
    ) -> Self {
        Purged {
            jobs,
            attempts,
            payloads_expired,
            payloads_redacted,
            payloads_dropped,
            more,
        }
    }

    pub(crate) fn add(&mut self, o: Purged) {
        self.jobs += o.jobs;
        self.attempts += o.attempts;
        self.payloads_expired += o.payloads_expired;
        self.payloads_redacted += o.payloads_redacted;
        self.payloads_dropped += o.payloads_dropped;
        self.more |= o.more;
    }
}

/// What to erase on request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Erase {
    /// Every job of one call of a tenant, with its attempts.
    Call {
        /// The tenant.
        tenant: TenantId,
        /// The call id the jobs carry.
        call_id: String,
    },
    /// Every job, attempt and target-health row of a tenant.
    Tenant(TenantId),
}

impl Erase {
    /// The tenant whose data goes.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        match self {
            Erase::Call { tenant, .. } | Erase::Tenant(tenant) => tenant,
        }
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erased {
    /// Jobs deleted (in any state).
    pub jobs: u64,
    /// Attempts deleted.
    pub attempts: u64,
    /// Target-health rows deleted (tenant erasure only).
    pub targets: u64,
    /// Whether the batch limit was hit: call again for the rest.
    pub more: bool,
}

impl Erased {
    /// For store implementations.
    #[must_use]
    pub fn new(jobs: u64, attempts: u64, targets: u64, more: bool) -> Self {
        Erased {
            jobs,
            attempts,
            targets,
            more,
        }
    }
}

/// A payload with the values at `paths` replaced by `"[redacted]"`, or `None` when it is
/// not JSON (then it is dropped whole).
pub(crate) fn redact_payload(payload: &[u8], paths: &[JsonPath]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(payload).ok()?;
    for path in paths {
        redact_at(&mut value, path.segments());
    }
    serde_json::to_vec(&value).ok()
}

fn redact_at(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get_mut(first) {
                if rest.is_empty() {
                    *v = Value::String(REDACTED_VALUE.to_owned());
                } else {
                    redact_at(v, rest);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_at(v, path)),
        _ => {}
    }
}

/// The new payload and state of a final job under `privacy`, or `None` to leave it: the
/// step every store applies row by row.
pub(crate) fn privacy_change(
    privacy: &PrivacyMode,
    state: PayloadState,
    payload: &[u8],
) -> Option<(Vec<u8>, PayloadState)> {
    match (privacy, state) {
        (PrivacyMode::Redact(paths), PayloadState::Kept) => Some((
            redact_payload(payload, paths).unwrap_or_default(),
            PayloadState::Redacted,
        )),
        (PrivacyMode::MetadataOnly, PayloadState::Kept | PayloadState::Redacted) => {
            Some((Vec::new(), PayloadState::Dropped))
        }
        _ => None,
    }
}

/// Applies the [`DataPolicies`] to a store: the step the host runs on a schedule, and
/// erasure on request.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use agent_webhooks::{Scope, TenantId};
/// use agent_webhooks::outbox::*;
///
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let acme = TenantId::new("acme")?;
/// let policies = DataPolicies::new(DataPolicy::new())
///     .with_tenant(acme.clone(), DataPolicy::new().privacy(PrivacyMode::MetadataOnly));
/// let lifecycle = Lifecycle::new(store.clone(), policies);
/// // On a schedule (every minute, say): one bounded pass; `more` says whether to go again.
/// let step = lifecycle.run_once().await?;
/// assert!(!step.more);
/// // On request: everything of one call.
/// let erased = lifecycle
///     .erase(&Scope::tenant(acme.clone()), &Erase::Call { tenant: acme, call_id: "call_1".into() })
///     .await?;
/// assert_eq!(erased.jobs, 0);
/// # Ok(()) }
/// # let mut f = std::pin::pin!(demo());
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
/// ```
#[derive(Debug, Clone)]
pub struct Lifecycle {
    store: Arc<dyn Store>,
    policies: DataPolicies,
    clock: Arc<dyn Clock>,
    scope: Scope,
    batch: usize,
}

impl Lifecycle {
    /// Applies `policies` to `store`, for every tenant, with the system clock.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, policies: DataPolicies) -> Self {
        Lifecycle {
            store,
            policies,
            clock: Arc::new(SystemClock),
            scope: Scope::AllTenants,
            batch: DEFAULT_PURGE_BATCH,
        }
    }

    /// Uses `clock` for "now".
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Applies the policies only to the tenants of `scope` (default: all).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// The most rows each change touches per policy and step (default
    /// [`DEFAULT_PURGE_BATCH`]; at least 1). Smaller batches hold each store's locks for less
    /// time.
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The policies applied.
    #[must_use]
    pub fn policies(&self) -> &DataPolicies {
        &self.policies
    }

    /// One bounded step: each tenant with its own policy under its own scope, then the
    /// default for every other tenant. `more` in the answer: something hit the batch limit,
    /// run again soon.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails (what earlier batches did stays done).
    pub async fn run_once(&self) -> Result<Purged> {
        let now = self.clock.now();
        let mut total = Purged::default();
        let mut own: Vec<&TenantId> = (self.policies.tenants.keys())
            .filter(|t| self.scope.contains(t))
            .collect();
        own.sort();
        for tenant in &own {
            let policy = &self.policies.tenants[*tenant];
            let purge = policy.purge_at(now, Vec::new(), self.batch);
            let done = self
                .store
                .purge(&Scope::tenant((*tenant).clone()), &purge)
                .await?;
            total.add(done);
        }
        let others = own.into_iter().cloned().collect();
        let purge = self.policies.default.purge_at(now, others, self.batch);
        total.add(self.store.purge(&self.scope, &purge).await?);
        Ok(total)
    }

    /// Erases everything of one call or one tenant (in batches until nothing is left) and
    /// answers how much went.
    ///
    /// In-flight jobs are erased too: a send already under way may still reach the receiver,
    /// and its finish then finds no job and records nothing (no attempt row comes back).
    /// Jobs enqueued for the call or tenant after the erasure are not covered: erase once the
    /// call has ended, or once the tenant sends nothing more.
    ///
    /// # Errors
    /// [`OutboxError::OutOfScope`] when the tenant is outside `scope`;
    /// [`OutboxError::Backend`] when the store fails (what earlier batches removed stays
    /// removed; erase again).
    pub async fn erase(&self, scope: &Scope, erase: &Erase) -> Result<Erased> {
        let mut total = Erased::default();
        loop {
            let done = self.store.erase(scope, erase, self.batch).await?;
            total.jobs += done.jobs;
            total.attempts += done.attempts;
            total.targets += done.targets;
            if !done.more || done.jobs + done.attempts + done.targets == 0 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_listed_paths_through_arrays() {
        let paths = [
            JsonPath::new("message.artifact.transcript").unwrap(),
            JsonPath::new("message.artifact.messages").unwrap(),
            JsonPath::new("message.calls.id").unwrap(),
            JsonPath::new("message.absent.path").unwrap(),
        ];
        let payload = br#"{"message":{"type":"end-of-call-report","artifact":{"transcript":"hi","messages":[{"a":1}],"recordingUrl":"https://r"},"calls":[{"id":"c1","n":1},{"id":"c2"}]}}"#;
        let out: Value = serde_json::from_slice(&redact_payload(payload, &paths).unwrap()).unwrap();
        assert_eq!(out["message"]["artifact"]["transcript"], REDACTED_VALUE);
        assert_eq!(out["message"]["artifact"]["messages"], REDACTED_VALUE);
        assert_eq!(out["message"]["artifact"]["recordingUrl"], "https://r");
        assert_eq!(out["message"]["calls"][0]["id"], REDACTED_VALUE);
        assert_eq!(out["message"]["calls"][0]["n"], 1);
        assert_eq!(out["message"]["type"], "end-of-call-report");
        assert_eq!(redact_payload(b"not json", &paths), None);
    }

    #[test]
    fn paths_and_modes_are_checked() {
        for bad in ["", "a..b", ".a", "a."] {
            assert!(JsonPath::new(bad).is_err(), "{bad}");
        }
        assert!(PrivacyMode::redact(Vec::<String>::new()).is_err());
        let mode = PrivacyMode::redact(["message.artifact.transcript"]).unwrap();
        assert_eq!(mode.paths()[0].to_string(), "message.artifact.transcript");
        assert_eq!(PrivacyMode::MetadataOnly.as_str(), "metadata-only");
    }

    #[test]
    fn privacy_changes_only_what_is_left() {
        let redact = PrivacyMode::redact(["a"]).unwrap();
        assert_eq!(
            privacy_change(&redact, PayloadState::Kept, br#"{"a":1}"#),
            Some((br#"{"a":"[redacted]"}"#.to_vec(), PayloadState::Redacted))
        );
        assert_eq!(privacy_change(&redact, PayloadState::Redacted, b"{}"), None);
        assert_eq!(
            privacy_change(&PrivacyMode::MetadataOnly, PayloadState::Redacted, b"{}"),
            Some((Vec::new(), PayloadState::Dropped))
        );
        assert_eq!(
            privacy_change(&PrivacyMode::MetadataOnly, PayloadState::Expired, b""),
            None
        );
        assert_eq!(
            privacy_change(&PrivacyMode::Full, PayloadState::Kept, b"{}"),
            None
        );
    }

    #[test]
    fn tenant_configs_set_their_own_policy() {
        use crate::tenant::{TenantConfig, TenantConfigs};
        let (acme, globex) = (
            TenantId::new("acme").unwrap(),
            TenantId::new("globex").unwrap(),
        );
        let mut configs = TenantConfigs::new();
        let own = DataPolicy::new().privacy(PrivacyMode::MetadataOnly);
        configs.insert(
            acme.clone(),
            TenantConfig::new().with_data_policy(own.clone()),
        );
        configs.insert(globex.clone(), TenantConfig::new());
        let default = DataPolicy::new().retention(Retention::forever());
        let policies = DataPolicies::from_configs(default.clone(), &configs);
        assert_eq!(policies.for_tenant(&acme), &own);
        assert_eq!(policies.for_tenant(&globex), &default);
        assert_eq!(policies.default_policy(), &default);
    }

    #[test]
    fn purge_times_count_back_from_now() {
        let now = Timestamp::from_unix_seconds(1_000_000);
        let p = DataPolicy::new()
            .retention(Retention::forever().payloads(Duration::from_secs(10)))
            .purge_at(now, Vec::new(), 5);
        assert_eq!(p.delete_finished_before, None);
        assert_eq!(
            p.expire_payloads_finished_before,
            Some(Timestamp::from_unix_seconds(999_990))
        );
    }
}
