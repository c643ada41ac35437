//! The outbox's typed errors.

use std::sync::Arc;
use std::time::Duration;

use crate::guard::Rejection;
use crate::outbox::model::{JobId, JobStatus, PayloadState};
use crate::sign::SignError;
use crate::tenant::TenantId;

/// What a store or outbox operation refused, or why it failed.
///
/// Tests and operators match on it; `Display` says what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// No such job or attempt in the caller's scope (another tenant's is *not found* too).
    #[error("{what} `{id}` not found")]
    NotFound {
        /// `job`, `attempt` or `target`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A write for a tenant outside the caller's scope.
    #[error("tenant `{tenant}` is outside this scope; write with that tenant's scope")]
    OutOfScope {
        /// The job's tenant.
        tenant: TenantId,
    },
    /// A job with this id is already stored.
    #[error("job `{0}` already exists; ids must be unique")]
    DuplicateJob(JobId),
    /// The idempotency key was used within its window for a job with a different payload,
    /// event type or target.
    #[error(
        "idempotency key `{key}` already enqueued job `{existing}` with different content; use a new key"
    )]
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The job first enqueued with it.
        existing: JobId,
    },
    /// The claim's lease is stale: the lease expired and another dispatcher re-claimed the
    /// job, so this finisher's outcome is refused (its attempt is still recorded).
    #[error("lease on job `{job}` is stale (fence {fence}): the job was re-claimed")]
    StaleLease {
        /// The job.
        job: JobId,
        /// The stale fencing token.
        fence: u64,
    },
    /// Only failed or skipped jobs can be requeued.
    #[error("job `{job}` is {status}; only failed or skipped jobs can be requeued")]
    NotRequeueable {
        /// The job.
        job: JobId,
        /// Its status.
        status: JobStatus,
    },
    /// The job's current target is disabled (410 Gone or auto-disable).
    #[error("target `{url}` is disabled; enable it before sending to it again")]
    TargetDisabled {
        /// The target URL.
        url: String,
    },
    /// No current target could be resolved for the job.
    #[error("job `{job}` has no target: {reason}")]
    NoTarget {
        /// The job.
        job: JobId,
        /// The resolver's reason.
        reason: String,
    },
    /// The guard refused the job's current target URL.
    #[error("target `{url}` refused by the guard: {rejection}")]
    TargetRefused {
        /// The target URL.
        url: String,
        /// The guard's rejection.
        rejection: Rejection,
    },
    /// The attempt could not be signed, so nothing was sent.
    #[error("job `{job}` could not be signed: {error}")]
    Unsigned {
        /// The job.
        job: JobId,
        /// Why.
        error: SignError,
    },
    /// A recovery window is reversed or longer than allowed.
    #[error("recovery window of {window:?} is invalid: it must be positive and at most {max:?}")]
    InvalidWindow {
        /// The window asked for (zero when reversed).
        window: Duration,
        /// The longest allowed.
        max: Duration,
    },
    /// The job's payload was taken out by its tenant's data policy, so it cannot be sent
    /// again (replay) or requeued: what would go out is not what was enqueued.
    #[error(
        "job `{job}` cannot be sent again: its payload {}",
        payload_gone(*.state)
    )]
    PayloadRemoved {
        /// The job.
        job: JobId,
        /// What the data policy did to the payload.
        state: PayloadState,
    },
    /// An input value is malformed.
    #[error("{what} is invalid: {problem}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The store's backend failed (database error, connection lost).
    #[error("outbox store failed")]
    Backend(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl OutboxError {
    /// Wraps a store backend's error.
    #[must_use]
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        OutboxError::Backend(Arc::new(e))
    }

    pub(crate) fn not_found(what: &'static str, id: &(impl std::fmt::Display + ?Sized)) -> Self {
        OutboxError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

fn payload_gone(state: PayloadState) -> &'static str {
    match state {
        PayloadState::Redacted => {
            "was redacted by the tenant's privacy mode `redact` once the job was final"
        }
        PayloadState::Dropped => {
            "was dropped by the tenant's privacy mode `metadata-only` once the job was final"
        }
        PayloadState::Expired => "expired under the tenant's payload retention",
        PayloadState::Kept => "is kept",
    }
}

/// A retry plan or dispatcher setting that cannot work, found at build time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// More retries than the plan allows.
    #[error("maxRetries {got} is above the limit {max}")]
    TooManyRetries {
        /// Asked for.
        got: u64,
        /// The limit.
        max: u64,
    },
    /// A delay that is negative, not a number, or above the limit.
    #[error("{what} {got} is invalid: use a number of seconds from 0 to {max}")]
    Delay {
        /// Which delay.
        what: &'static str,
        /// Asked for, in seconds.
        got: f64,
        /// The limit, in seconds.
        max: f64,
    },
    /// A jitter ratio outside `[0, 0.5]`.
    #[error("jitter ratio {0} is invalid: use 0 (none) to 0.5 (plus or minus 50%)")]
    Jitter(f64),
    /// A status code that cannot be excluded from retries (outside 100..=599, or a 2xx).
    #[error("status code {0} cannot be excluded from retries: use a non-2xx code from 100 to 599")]
    ExcludedStatus(u16),
    /// The lease is not longer than the request timeout plus the margin, so a slow send could
    /// be claimed twice.
    #[error(
        "lease {lease:?} must be longer than the request timeout {timeout:?} plus {margin:?}; raise the lease or lower the timeout"
    )]
    LeaseTooShort {
        /// The lease.
        lease: Duration,
        /// The longest request timeout.
        timeout: Duration,
        /// The margin required on top.
        margin: Duration,
    },
    /// A count setting (concurrency, batch size) of zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A backoff plan's JSON is malformed; `path` says where.
    #[error("backoffPlan{path}: {problem}")]
    Json {
        /// The JSON path of the bad field (`.type`), empty for the whole value.
        path: String,
        /// What is wrong.
        problem: String,
    },
}
