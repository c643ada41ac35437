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
    Attempt, AttemptId, AttemptQuery, Job, JobId, JobQuery, Page, Timestamp,
};
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
    /// lease), oldest due first, each under a new lease of `lease`. Each claimed job's
    /// `attempts` and `step` have been increased by one.
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
        }
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
}

impl Finish {
    /// An outcome.
    #[must_use]
    pub fn new(attempt: Attempt, next: Next, target: Option<TargetEvent>) -> Self {
        Finish {
            attempt,
            next,
            target,
        }
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
}

impl Finished {
    /// For store implementations.
    #[must_use]
    pub fn new(job: Job, disabled_target: Option<TargetState>) -> Self {
        Finished {
            job,
            disabled_target,
        }
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
