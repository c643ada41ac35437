//! The `Store` trait: where jobs and attempts live.

#[cfg(feature = "postgres")]
mod batch;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::outbox::error::OutboxError;
use crate::outbox::lifecycle::{Erase, Erased, Purge, Purged};
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Job, JobId, JobQuery, Page, TargetRef, Timestamp,
};
use crate::outbox::wake::Doorbell;
use crate::tenant::{Scope, TenantId};

/// Where jobs, attempts and target health live: the outbox's only state.
///
/// Contract, for every implementation (the conformance suite in `tests/it/outbox/conformance.rs`
/// checks it):
/// - **Scope**: every method takes a [`Scope`] and applies it itself. A job or attempt of a
///   tenant outside the scope is [`OutboxError::NotFound`] (never *forbidden*); a write for
///   such a tenant is [`OutboxError::OutOfScope`].
/// - **Write before dispatch**: [`Store::insert`] returns only once the job is stored.
/// - **Leases**: [`Store::claim`] hands a due job to one claimer at a time, with a lease and a
///   fencing token that grows on every claim. A job whose lease expired is due again.
/// - **Fencing**: [`Store::finish`] records the attempt and the job's new state in one step,
///   and refuses with [`OutboxError::StaleLease`] when the job was re-claimed since.
/// - **Listings** are newest first with a stable cursor: items inserted while paging never
///   shift or repeat the pages that follow. Newest by insertion; with a time window
///   (`created_since`/`created_until` of jobs, `started_since`/`started_until` of attempts) by
///   that time, then insertion: the same order unless a clock went back. A cursor names the last item shown (never a row
///   number, which would count other tenants' items); a cursor naming an item outside the
///   scope, or none, gives an empty page.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Stores a new pending job, due at its `next_attempt_at`.
    ///
    /// With an idempotency key, a job of the same tenant and key created less than
    /// `idempotency_window` before `job.created_at` is returned instead (`created: false`).
    ///
    /// # Errors
    /// [`OutboxError::OutOfScope`] when the job's tenant is outside `scope`;
    /// [`OutboxError::IdempotencyConflict`] when the key's job has a different payload, event
    /// type or target; [`OutboxError::DuplicateJob`] when the id exists.
    async fn insert(
        &self,
        scope: &Scope,
        job: Job,
        idempotency_window: Duration,
    ) -> Result<Inserted, OutboxError>;

    /// Claims up to `limit` jobs due at `now` (pending and due, or in flight with an expired
    /// lease), each under a new lease of `lease`: [`Store::claim_with`] under
    /// [`ClaimRules::unlimited`] (no caps, no ordering; open breakers still defer), so the
    /// first due job of every target comes before the second of any, oldest due first within
    /// a round. Each claimed job's `attempts` and `step` have been increased by one.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn claim(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, OutboxError>;

    /// Claims like [`Store::claim`], under `rules`: due jobs are taken across tenants round
    /// robin (the first due job of every tenant, then the second, ...), a tenant or target at
    /// its cap of jobs in flight waits while the others go ahead, a target whose breaker is
    /// open is passed over (its jobs stay pending, no attempt spent) and, after its cool-down,
    /// sends one probe at a time, and a job of an ordered target waits while an earlier job of
    /// its call is pending or in flight.
    ///
    /// The stores of this crate implement it in their claim statement; the default runs
    /// [`Store::claim`] and applies none of the rules.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn claim_with(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
        rules: &ClaimRules,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let _ = rules;
        self.claim(scope, now, lease, limit).await
    }

    /// The circuit breaker of a tenant's target, if it has seen a failure since its last
    /// success.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn breaker(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        target: &TargetRef,
    ) -> Result<Option<BreakerState>, OutboxError> {
        let _ = (scope, tenant, target);
        Ok(None)
    }

    /// Rung by this store whenever a job may have become due (an insert, a requeue), so an
    /// idle dispatcher of this process picks it up at once; a store shared between processes
    /// also rings it for the other processes' inserts when it can (PostgreSQL's `NOTIFY`).
    /// `None`: the dispatcher polls.
    fn doorbell(&self) -> Option<Doorbell> {
        None
    }

    /// Extends a claimed job's lease to `until`: the dispatcher's heartbeat while a send is in
    /// flight, so that a lease need not be sized for the longest request timeout.
    ///
    /// # Errors
    /// [`OutboxError::StaleLease`] when the job was re-claimed or finished since this lease;
    /// [`OutboxError::Invalid`] from a store that cannot renew (the default).
    async fn renew(
        &self,
        scope: &Scope,
        lease: &Lease,
        until: Timestamp,
    ) -> Result<Lease, OutboxError> {
        let _ = (scope, lease, until);
        Err(OutboxError::Invalid {
            what: "lease renewal",
            problem: "this store cannot renew leases; size the lease for the longest timeout"
                .into(),
        })
    }

    /// Records a claimed job's attempt and its new state in one step.
    ///
    /// # Errors
    /// [`OutboxError::StaleLease`] when the job was re-claimed since this lease (nothing is
    /// changed); [`OutboxError::NotFound`] when the job is not in `scope`.
    async fn finish(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError>;

    /// Adds an attempt without changing its job: a manual replay, or the attempt of a finisher
    /// fenced out by [`OutboxError::StaleLease`].
    ///
    /// # Errors
    /// [`OutboxError::NotFound`] when the attempt's job is not in `scope`.
    async fn append_attempt(&self, scope: &Scope, attempt: Attempt) -> Result<(), OutboxError>;

    /// Stores a job that is already final together with its attempts, in one step: the
    /// record of a live exchange or a webhook tool call (sent before it was written, never
    /// claimed). The job keeps its status and is never due.
    ///
    /// # Errors
    /// [`OutboxError::OutOfScope`] when the job's tenant is outside `scope`;
    /// [`OutboxError::Invalid`] for a job that is not final or an attempt of another job;
    /// [`OutboxError::DuplicateJob`] when the id exists.
    async fn record(
        &self,
        scope: &Scope,
        job: Job,
        attempts: Vec<Attempt>,
    ) -> Result<(), OutboxError>;

    /// One job, if it exists in `scope`.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn job(&self, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError>;

    /// Jobs in `scope` matching `query`, newest first.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for a cursor this store did not make.
    async fn jobs(&self, scope: &Scope, query: &JobQuery) -> Result<Page<Job>, OutboxError>;

    /// One attempt, if it exists in `scope`.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn attempt(&self, scope: &Scope, id: &AttemptId) -> Result<Option<Attempt>, OutboxError>;

    /// Attempts in `scope` matching `query`, newest first.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for a cursor this store did not make.
    async fn attempts(
        &self,
        scope: &Scope,
        query: &AttemptQuery,
    ) -> Result<Page<Attempt>, OutboxError>;

    /// Moves a failed or skipped job back to pending, due at `now`, with its retry plan
    /// restarted (`step` 0). Its attempts are kept.
    ///
    /// # Errors
    /// [`OutboxError::NotRequeueable`] for a pending, in-flight or succeeded job;
    /// [`OutboxError::NotFound`] when it is not in `scope`.
    async fn requeue(&self, scope: &Scope, id: &JobId, now: Timestamp) -> Result<Job, OutboxError>;

    /// Requeues up to `limit` failed jobs in `scope` created in `[since, until)`, oldest first.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn recover(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
        limit: usize,
    ) -> Result<Recovered, OutboxError>;

    /// The health of one target URL of a tenant, if anything is recorded.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<Option<TargetState>, OutboxError>;

    /// Enables a disabled target again and forgets its failures.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`] when nothing is recorded for it in `scope`.
    async fn enable_target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<(), OutboxError>;

    /// One bounded data-lifecycle step over the tenants of `scope` but `purge.exclude`, in
    /// this order, each change at most `purge.limit` rows: deletes final jobs that ended
    /// before `delete_finished_before` with their attempts; empties the payloads (state
    /// `expired`) and the attempts' response bodies of final jobs that ended before
    /// `expire_payloads_finished_before`; applies `privacy` to final jobs
    /// ([`PrivacyMode`](crate::outbox::PrivacyMode): `redact` rewrites kept payloads,
    /// `metadata-only` empties payloads and response bodies).
    ///
    /// Contract: a pending or in-flight job is never touched, whatever its age (a job
    /// requeued meanwhile is left alone); a job "ended" at its `updated_at`. Each change is
    /// its own short write: claims and finishes never wait for a whole step, and several
    /// instances may purge one store at once (each row is changed once). `more` says a
    /// change hit its limit.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn purge(&self, scope: &Scope, purge: &Purge) -> Result<Purged, OutboxError>;

    /// Erases up to `limit` jobs of one call or one tenant, in any state, with all their
    /// attempts (and, for a tenant, its target-health rows), and answers what went; `more`
    /// when the limit was hit (call again). An in-flight job is erased too: its finish then
    /// finds no job ([`OutboxError::NotFound`]) and records nothing.
    ///
    /// # Errors
    /// [`OutboxError::OutOfScope`] when the tenant is outside `scope`;
    /// [`OutboxError::Backend`] when the store fails.
    async fn erase(
        &self,
        scope: &Scope,
        erase: &Erase,
        limit: usize,
    ) -> Result<Erased, OutboxError>;
    /// How many jobs in `scope` are due at `now` (pending and due, or in flight with an
    /// expired lease) and when the one due longest became due: the backlog gauges. One
    /// aggregate over the due index; not for every claim, for a sampler (a scrape, a timer).
    ///
    /// The default answers `None`: this store does not count (the gauges stay unset).
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    async fn backlog(&self, scope: &Scope, now: Timestamp) -> Result<Option<Backlog>, OutboxError> {
        let _ = (scope, now);
        Ok(None)
    }
}

/// The due jobs at one moment ([`Store::backlog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// When it was counted.
    pub at: Timestamp,
    /// Jobs due (pending and due, or in flight with an expired lease).
    pub due: u64,
    /// When the job due longest became due (`None` when nothing is due).
    pub oldest_due_at: Option<Timestamp>,
}

impl Backlog {
    /// For store implementations.
    #[must_use]
    pub fn new(at: Timestamp, due: u64, oldest_due_at: Option<Timestamp>) -> Self {
        Backlog {
            at,
            due,
            oldest_due_at,
        }
    }

    /// How long the job due longest has waited (zero when nothing is due).
    #[must_use]
    pub fn oldest_age(&self) -> Duration {
        self.oldest_due_at
            .map_or(Duration::ZERO, |t| self.at.duration_since(t))
    }
}

/// Checks a [`Store::record`] call before any write.
pub(crate) fn check_record(
    scope: &Scope,
    job: &Job,
    attempts: &[Attempt],
) -> Result<(), OutboxError> {
    if !scope.contains(&job.tenant) {
        return Err(OutboxError::OutOfScope {
            tenant: job.tenant.clone(),
        });
    }
    if !job.status.is_final() {
        return Err(OutboxError::Invalid {
            what: "recorded job",
            problem: format!(
                "status {} is not final; record finished exchanges",
                job.status
            ),
        });
    }
    if let Some(a) = attempts
        .iter()
        .find(|a| a.job_id != job.id || a.tenant != job.tenant)
    {
        return Err(OutboxError::Invalid {
            what: "recorded attempt",
            problem: format!("attempt `{}` is not of job `{}`", a.id, job.id),
        });
    }
    Ok(())
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inserted {
    /// The stored job: the new one, or the first one enqueued with the same idempotency key.
    pub job: Job,
    /// `false` when the idempotency key returned an existing job.
    pub created: bool,
}

impl Inserted {
    /// For store implementations.
    #[must_use]
    pub fn new(job: Job, created: bool) -> Self {
        Inserted { job, created }
    }
}

/// A claim on a job: the fencing token [`Store::finish`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// The job's tenant.
    pub tenant: TenantId,
    /// Grows on every claim of the job; a finisher holding an older one is fenced out.
    pub fence: u64,
    /// When the lease lapses and the job becomes claimable again.
    pub expires_at: Timestamp,
}

impl Lease {
    /// For store implementations.
    #[must_use]
    pub fn new(job_id: JobId, tenant: TenantId, fence: u64, expires_at: Timestamp) -> Self {
        Lease {
            job_id,
            tenant,
            fence,
            expires_at,
        }
    }
}

/// A claimed job and its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// The job as claimed (in flight, `attempts` and `step` already counted).
    pub job: Job,
    /// The lease to finish it with.
    pub lease: Lease,
    /// The URLs of the job's tenant's disabled targets as of the claim, when the store
    /// reports them with it (the stores of this crate do): the dispatcher then checks the
    /// resolved target against this list instead of asking [`Store::target`] before the send,
    /// one store round trip fewer per job. `None`: the dispatcher asks.
    pub disabled_targets: Option<Arc<[String]>>,
    /// Failures of the job's target since its last success, as of the claim (0: healthy, or
    /// not reported). The dispatcher reports a success to the breaker only when this is not 0.
    pub breaker_failures: u32,
    /// Whether the job was claimed again after an earlier claim's lease expired: that send's
    /// outcome is unknown, and the dispatcher records it as an attempt before sending again.
    pub reclaimed: bool,
}

impl Claimed {
    /// For store implementations: a claim without target health (the dispatcher asks
    /// [`Store::target`] before sending).
    #[must_use]
    pub fn new(job: Job, lease: Lease) -> Self {
        Claimed {
            job,
            lease,
            disabled_targets: None,
            breaker_failures: 0,
            reclaimed: false,
        }
    }

    /// Marks the claim as one taken after an earlier claim's lease expired.
    #[must_use]
    pub fn reclaimed(mut self, reclaimed: bool) -> Self {
        self.reclaimed = reclaimed;
        self
    }

    /// Reports the failures the job's target's breaker has counted.
    #[must_use]
    pub fn with_breaker_failures(mut self, failures: u32) -> Self {
        self.breaker_failures = failures;
        self
    }

    /// Reports the tenant's disabled target URLs with the claim (every one the store holds
    /// for the job's tenant, read in the claim's own statement or transaction).
    #[must_use]
    pub fn with_disabled_targets(mut self, urls: Arc<[String]>) -> Self {
        self.disabled_targets = Some(urls);
        self
    }
}

/// The outcome of a claimed attempt, for [`Store::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finish {
    /// The attempt to record.
    pub attempt: Attempt,
    /// The job's next state.
    pub next: Next,
    /// What the attempt says about its target's health, if anything.
    pub target: Option<TargetEvent>,
    /// What the attempt tells the breaker of the job's target, if anything.
    pub breaker: Option<BreakerEvent>,
}

impl Finish {
    /// An outcome.
    #[must_use]
    pub fn new(attempt: Attempt, next: Next, target: Option<TargetEvent>) -> Self {
        Finish {
            attempt,
            next,
            target,
            breaker: None,
        }
    }

    /// Reports the attempt to the breaker of the job's target.
    #[must_use]
    pub fn with_breaker(mut self, event: BreakerEvent) -> Self {
        self.breaker = Some(event);
        self
    }
}

/// What an attempt tells the circuit breaker of its job's target (the tenant's [`TargetRef`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerEvent {
    /// The receiver answered: forget the failures and close the breaker.
    Closed,
    /// A timeout, a transport error, a 5xx, 408 or 429: count it; at `threshold` consecutive
    /// failures the breaker opens (again) for `cool_down`.
    Failed {
        /// Consecutive failures that open the breaker.
        threshold: u32,
        /// How long an open breaker defers its target's jobs before one probe is sent.
        cool_down: Duration,
    },
}

/// The circuit breaker of one target of a tenant.
///
/// Closed: jobs are sent. Open (`open_until` in the future): the target's due jobs are passed
/// over by the claim, so they stay pending, are not sent and spend no attempt. Half-open
/// (`open_until` passed): one job at a time is sent as a probe; a success closes the breaker,
/// a failure opens it again for another cool-down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerState {
    /// The tenant.
    pub tenant: TenantId,
    /// The target reference the jobs name.
    pub target: TargetRef,
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// When the breaker opened, then until when it defers; `None` while closed.
    pub open_until: Option<Timestamp>,
}

impl BreakerState {
    /// For store implementations.
    #[must_use]
    pub fn new(
        tenant: TenantId,
        target: TargetRef,
        failures: u32,
        open_until: Option<Timestamp>,
    ) -> Self {
        BreakerState {
            tenant,
            target,
            failures,
            open_until,
        }
    }

    /// Whether the breaker defers its target's jobs at `now`.
    #[must_use]
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.open_until.is_some_and(|t| t > now)
    }

    /// Whether the breaker has tripped (open, or half-open once the cool-down passed).
    #[must_use]
    pub fn is_tripped(&self) -> bool {
        self.open_until.is_some()
    }

    /// The state after `event` at `at`, and whether the event opened or closed the breaker.
    #[must_use]
    pub fn after(&self, event: BreakerEvent, at: Timestamp) -> (BreakerState, bool) {
        let mut next = self.clone();
        match event {
            BreakerEvent::Closed => {
                next.failures = 0;
                next.open_until = None;
                let changed = self.open_until.is_some();
                (next, changed)
            }
            BreakerEvent::Failed {
                threshold,
                cool_down,
            } => {
                next.failures = self.failures.saturating_add(1);
                if next.failures >= threshold.max(1) {
                    next.open_until = Some(at.saturating_add(cool_down));
                }
                let opened = self.open_until.is_none() && next.open_until.is_some();
                // A failed probe opens a half-open breaker again.
                let reopened = self.open_until.is_some_and(|t| t <= at);
                (next, opened || reopened)
            }
        }
    }
}

/// The targets whose jobs are delivered in order per call (the job's `call_id` is the
/// ordering key; jobs without one are not ordered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderedTargets {
    /// No target is ordered (the default).
    #[default]
    None,
    /// Every target is ordered.
    All,
    /// These targets are ordered.
    Only(Arc<[TargetRef]>),
}

impl OrderedTargets {
    /// Whether jobs to `target` are ordered.
    #[must_use]
    pub fn contains(&self, target: &TargetRef) -> bool {
        match self {
            OrderedTargets::None => false,
            OrderedTargets::All => true,
            OrderedTargets::Only(list) => list.contains(target),
        }
    }
}

/// The default cap on one tenant's jobs in flight.
pub const DEFAULT_TENANT_CAP: usize = 8;
/// The default cap on one target's jobs in flight (per tenant and target reference).
pub const DEFAULT_TARGET_CAP: usize = 4;

/// The rules of a fair claim ([`Store::claim_with`]).
///
/// Caps count the jobs in flight under an unexpired lease plus those this claim takes. Several
/// dispatchers claim concurrently from their own snapshots, so across dispatchers a cap can be
/// exceeded by the jobs their overlapping claims take; one dispatcher never exceeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRules {
    /// The most jobs of one tenant in flight ([`DEFAULT_TENANT_CAP`]).
    pub tenant_cap: usize,
    /// The most jobs of one tenant's target in flight ([`DEFAULT_TARGET_CAP`]).
    pub target_cap: usize,
    /// Targets delivered in order per call.
    pub ordered: OrderedTargets,
}

impl Default for ClaimRules {
    fn default() -> Self {
        ClaimRules {
            tenant_cap: DEFAULT_TENANT_CAP,
            target_cap: DEFAULT_TARGET_CAP,
            ordered: OrderedTargets::None,
        }
    }
}

impl ClaimRules {
    /// No caps and no ordering: [`Store::claim`]'s rules (breakers still defer).
    #[must_use]
    pub fn unlimited() -> Self {
        ClaimRules {
            tenant_cap: usize::MAX,
            target_cap: usize::MAX,
            ordered: OrderedTargets::None,
        }
    }

    /// These caps on jobs in flight per tenant and per target.
    #[must_use]
    pub fn with_caps(mut self, tenant: usize, target: usize) -> Self {
        self.tenant_cap = tenant;
        self.target_cap = target;
        self
    }

    /// These ordered targets.
    #[must_use]
    pub fn with_ordered(mut self, ordered: OrderedTargets) -> Self {
        self.ordered = ordered;
        self
    }
}

/// A job's state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Pending again, due at this time.
    Retry(Timestamp),
    /// Delivered.
    Succeeded,
    /// Given up.
    Failed,
    /// Not sent by decision.
    Skipped,
}

/// What an attempt says about its target, applied by [`Store::finish`] in the same step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetEvent {
    /// A 2xx: forget the target's failures.
    Delivered {
        /// The target URL.
        url: String,
    },
    /// 410 Gone: disable the target now.
    Gone {
        /// The target URL.
        url: String,
    },
    /// A job exhausted its retries. Remember when the failures began; if only failures were
    /// seen for `disable_after` or longer, disable the target.
    Exhausted {
        /// The target URL.
        url: String,
        /// How long a run of exhausted failures may last before the target is disabled.
        disable_after: Duration,
    },
}

/// The recorded health of one target URL of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetState {
    /// The tenant.
    pub tenant: TenantId,
    /// The target URL.
    pub url: String,
    /// When the current run of exhausted failures began, if one is running.
    pub failing_since: Option<Timestamp>,
    /// Why and when the target was disabled, if it is.
    pub disabled: Option<(DisabledReason, Timestamp)>,
}

impl TargetState {
    /// For store implementations.
    #[must_use]
    pub fn new(
        tenant: TenantId,
        url: String,
        failing_since: Option<Timestamp>,
        disabled: Option<(DisabledReason, Timestamp)>,
    ) -> Self {
        TargetState {
            tenant,
            url,
            failing_since,
            disabled,
        }
    }

    /// Whether jobs to this target are skipped.
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.disabled.is_some()
    }
}

/// Why a target was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisabledReason {
    /// It answered 410 Gone.
    Gone,
    /// Only exhausted failures for longer than the auto-disable period.
    Failing,
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DisabledReason::Gone => "410 Gone",
            DisabledReason::Failing => "failing for too long",
        })
    }
}

/// What [`Store::finish`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    /// The job after the change.
    pub job: Job,
    /// The target's state when this finish disabled it.
    pub disabled_target: Option<TargetState>,
    /// The breaker's new state when this finish opened or closed it.
    pub breaker: Option<BreakerState>,
}

impl Finished {
    /// For store implementations.
    #[must_use]
    pub fn new(job: Job, disabled_target: Option<TargetState>) -> Self {
        Finished {
            job,
            disabled_target,
            breaker: None,
        }
    }

    /// Reports a breaker that this finish opened or closed.
    #[must_use]
    pub fn with_breaker(mut self, breaker: Option<BreakerState>) -> Self {
        self.breaker = breaker;
        self
    }
}

/// What [`Store::recover`] requeued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// The requeued jobs, oldest first.
    pub requeued: Vec<JobId>,
    /// Whether more failed jobs matched than the limit allowed.
    pub capped: bool,
}

impl Recovered {
    /// For store implementations.
    #[must_use]
    pub fn new(requeued: Vec<JobId>, capped: bool) -> Self {
        Recovered { requeued, capped }
    }
}

/// A due job a fair claim may take: its tenant, its rank among its target's picks (1 for the
/// first), its place in due order, and what the store needs to claim it.
pub(crate) struct Candidate<K> {
    pub(crate) tenant: TenantId,
    pub(crate) rank: usize,
    pub(crate) order: (bool, Timestamp, i64),
    pub(crate) key: K,
}

/// The tenants' turns of a fair claim, from each target's picks (already within the target's
/// cap): per tenant the first pick of every target, then the second, ... up to the tenant's
/// cap less its jobs in flight; then across tenants round robin; at most `limit`.
pub(crate) fn take_turns<K>(
    mut picks: Vec<Candidate<K>>,
    busy: impl Fn(&TenantId) -> usize,
    tenant_cap: usize,
    limit: usize,
) -> Vec<K> {
    picks.sort_unstable_by_key(|p| (p.rank, p.order));
    let mut turns: Vec<(TenantId, usize)> = Vec::new();
    let mut ranked = Vec::with_capacity(picks.len());
    for pick in picks {
        let i = match turns.iter().position(|(t, _)| *t == pick.tenant) {
            Some(i) => i,
            None => {
                turns.push((pick.tenant.clone(), busy(&pick.tenant)));
                turns.len() - 1
            }
        };
        // The tenant's jobs in flight count as turns it already had.
        let turn = turns[i].1.saturating_add(1);
        turns[i].1 = turn;
        if turn <= tenant_cap {
            ranked.push((turn, pick.order, pick.key));
        }
    }
    ranked.sort_unstable_by_key(|r| (r.0, r.1));
    ranked.into_iter().take(limit).map(|(_, _, k)| k).collect()
}

/// One shared list of disabled target URLs per tenant within a claim.
#[derive(Debug, Default)]
pub(crate) struct DisabledTargets(Vec<(TenantId, Arc<[String]>)>);

impl DisabledTargets {
    /// The tenant's list, shared with the claim's other jobs of that tenant; `load` reads it
    /// the first time the tenant comes up.
    pub(crate) fn share(
        &mut self,
        tenant: &TenantId,
        load: impl FnOnce() -> Result<Vec<String>, OutboxError>,
    ) -> Result<Arc<[String]>, OutboxError> {
        if let Some((_, shared)) = self.0.iter().find(|(t, _)| t == tenant) {
            return Ok(shared.clone());
        }
        let shared: Arc<[String]> = load()?.into();
        self.0.push((tenant.clone(), shared.clone()));
        Ok(shared)
    }
}
