//! `MemoryStore`: the embedded default store, one mutex over indexed maps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::outbox::error::OutboxError;
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Cursor, Job, JobId, JobQuery, JobStatus, Page, Timestamp,
};
use crate::outbox::store::{
    Claimed, DisabledReason, Finish, Finished, Inserted, Lease, Next, Recovered, Store,
    TargetEvent, TargetState,
};
use crate::tenant::{Scope, TenantId};

/// The in-memory [`Store`]: correct under concurrency (every method is one critical section
/// under one mutex, never held across an await), lost when the process ends.
///
/// Use it embedded where losing queued webhooks on restart is acceptable, and in tests; use a
/// durable store otherwise.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    jobs: HashMap<JobId, Row>,
    by_seq: BTreeMap<u64, JobId>,
    due: BTreeSet<(Timestamp, u64)>,
    leases: BTreeSet<(Timestamp, u64)>,
    next_attempt_seq: u64,
    attempts: BTreeMap<u64, Attempt>,
    attempt_seq: HashMap<AttemptId, u64>,
    job_attempts: HashMap<JobId, Vec<u64>>,
    idempotency: HashMap<(TenantId, String), JobId>,
    targets: HashMap<(TenantId, String), TargetState>,
}

struct Row {
    seq: u64,
    job: Job,
    fence: u64,
    lease_until: Option<Timestamp>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent before anything can panic, so a
        // poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("jobs", &inner.jobs.len())
            .field("due", &inner.due.len())
            .field("in_flight", &inner.leases.len())
            .field("attempts", &inner.attempts.len())
            .finish()
    }
}

fn parse_cursor(cursor: Option<&Cursor>, prefix: char) -> Result<u64, OutboxError> {
    let Some(c) = cursor else {
        return Ok(u64::MAX);
    };
    c.as_str()
        .strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| OutboxError::Invalid {
            what: "cursor",
            problem: "not a cursor from this store's listing; pass `next` back unchanged".into(),
        })
}

impl Inner {
    fn row_in_scope(&self, scope: &Scope, id: &JobId) -> Option<&Row> {
        self.jobs.get(id).filter(|r| scope.contains(&r.job.tenant))
    }

    fn push_attempt(&mut self, attempt: Attempt) -> Result<(), OutboxError> {
        if self.attempt_seq.contains_key(&attempt.id) {
            return Err(OutboxError::Invalid {
                what: "attempt id",
                problem: format!("`{}` is already recorded", attempt.id),
            });
        }
        let seq = self.next_attempt_seq;
        self.next_attempt_seq += 1;
        self.attempt_seq.insert(attempt.id.clone(), seq);
        self.job_attempts
            .entry(attempt.job_id.clone())
            .or_default()
            .push(seq);
        self.attempts.insert(seq, attempt);
        Ok(())
    }

    fn apply_target(
        &mut self,
        tenant: &TenantId,
        event: TargetEvent,
        at: Timestamp,
    ) -> Option<TargetState> {
        match event {
            TargetEvent::Delivered { url } => {
                if let Some(state) = self.targets.get_mut(&(tenant.clone(), url)) {
                    state.failing_since = None;
                }
                None
            }
            TargetEvent::Gone { url } => {
                let state = self
                    .targets
                    .entry((tenant.clone(), url.clone()))
                    .or_insert_with(|| TargetState::new(tenant.clone(), url, None, None));
                if state.disabled.is_some() {
                    return None;
                }
                state.disabled = Some((DisabledReason::Gone, at));
                Some(state.clone())
            }
            TargetEvent::Exhausted { url, disable_after } => {
                let state = self
                    .targets
                    .entry((tenant.clone(), url.clone()))
                    .or_insert_with(|| TargetState::new(tenant.clone(), url, None, None));
                // A run of failures older than twice the period with nothing since has lapsed.
                let since = match state.failing_since {
                    Some(s) if at.duration_since(s) <= disable_after.saturating_mul(2) => s,
                    _ => at,
                };
                state.failing_since = Some(since);
                if state.disabled.is_none() && at.duration_since(since) >= disable_after {
                    state.disabled = Some((DisabledReason::Failing, at));
                    return Some(state.clone());
                }
                None
            }
        }
    }

    fn requeue_row(&mut self, id: &JobId, now: Timestamp) {
        if let Some(row) = self.jobs.get_mut(id) {
            row.job.status = JobStatus::Pending;
            row.job.step = 0;
            row.job.next_attempt_at = Some(now);
            row.job.updated_at = now;
            self.due.insert((now, row.seq));
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert(
        &self,
        scope: &Scope,
        mut job: Job,
        idempotency_window: Duration,
    ) -> Result<Inserted, OutboxError> {
        if !scope.contains(&job.tenant) {
            return Err(OutboxError::OutOfScope { tenant: job.tenant });
        }
        let mut inner = self.lock();
        if inner.jobs.contains_key(&job.id) {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        let key = job.idempotency_key.clone().map(|k| (job.tenant.clone(), k));
        if let Some(key) = &key {
            if let Some(first) = inner.idempotency.get(key).and_then(|id| inner.jobs.get(id)) {
                let first = &first.job;
                if job.created_at < first.created_at.saturating_add(idempotency_window) {
                    let same = first.payload == job.payload
                        && first.event_type == job.event_type
                        && first.target == job.target
                        && first.call_id == job.call_id;
                    return if same {
                        Ok(Inserted::new(first.clone(), false))
                    } else {
                        Err(OutboxError::IdempotencyConflict {
                            key: key.1.clone(),
                            existing: first.id.clone(),
                        })
                    };
                }
            }
        }
        job.status = JobStatus::Pending;
        let due = *job.next_attempt_at.get_or_insert(job.created_at);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if let Some(key) = key {
            inner.idempotency.insert(key, job.id.clone());
        }
        inner.by_seq.insert(seq, job.id.clone());
        inner.due.insert((due, seq));
        inner.jobs.insert(
            job.id.clone(),
            Row {
                seq,
                job: job.clone(),
                fence: 0,
                lease_until: None,
            },
        );
        Ok(Inserted::new(job, true))
    }

    async fn claim(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let in_scope = |seq: &u64| {
            inner
                .by_seq
                .get(seq)
                .and_then(|id| inner.jobs.get(id))
                .is_some_and(|r| scope.contains(&r.job.tenant))
        };
        let bound = (now, u64::MAX);
        let expired: Vec<(Timestamp, u64)> = inner
            .leases
            .range(..=bound)
            .filter(|(_, seq)| in_scope(seq))
            .take(limit)
            .copied()
            .collect();
        let due: Vec<(Timestamp, u64)> = inner
            .due
            .range(..=bound)
            .filter(|(_, seq)| in_scope(seq))
            .take(limit - expired.len())
            .copied()
            .collect();
        let until = now.saturating_add(lease);
        let mut claimed = Vec::with_capacity(expired.len() + due.len());
        for (from_leases, key) in expired
            .into_iter()
            .map(|k| (true, k))
            .chain(due.into_iter().map(|k| (false, k)))
        {
            if from_leases {
                inner.leases.remove(&key);
            } else {
                inner.due.remove(&key);
            }
            let id = &inner.by_seq[&key.1];
            let Some(row) = inner.jobs.get_mut(id) else {
                continue;
            };
            row.fence += 1;
            row.lease_until = Some(until);
            row.job.status = JobStatus::InFlight;
            row.job.attempts += 1;
            row.job.step += 1;
            row.job.updated_at = now;
            inner.leases.insert((until, key.1));
            claimed.push(Claimed::new(
                row.job.clone(),
                Lease::new(row.job.id.clone(), row.job.tenant.clone(), row.fence, until),
            ));
        }
        Ok(claimed)
    }

    async fn finish(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError> {
        let mut inner = self.lock();
        let Some(row) = inner.row_in_scope(scope, &lease.job_id) else {
            return Err(OutboxError::not_found("job", &lease.job_id));
        };
        if row.job.status != JobStatus::InFlight || row.fence != lease.fence {
            return Err(OutboxError::StaleLease {
                job: lease.job_id.clone(),
                fence: lease.fence,
            });
        }
        if finish.attempt.job_id != lease.job_id || finish.attempt.tenant != row.job.tenant {
            return Err(OutboxError::Invalid {
                what: "attempt",
                problem: "its job id and tenant must be the leased job's".into(),
            });
        }
        let at = finish.attempt.ended_at;
        let tenant = row.job.tenant.clone();
        inner.push_attempt(finish.attempt)?;
        let disabled_target = finish
            .target
            .and_then(|event| inner.apply_target(&tenant, event, at));
        let inner = &mut *inner;
        let row = inner
            .jobs
            .get_mut(&lease.job_id)
            .ok_or_else(|| OutboxError::not_found("job", &lease.job_id))?;
        if let Some(until) = row.lease_until.take() {
            inner.leases.remove(&(until, row.seq));
        }
        let (status, next) = match finish.next {
            Next::Retry(t) => (JobStatus::Pending, Some(t)),
            Next::Succeeded => (JobStatus::Succeeded, None),
            Next::Failed => (JobStatus::Failed, None),
            Next::Skipped => (JobStatus::Skipped, None),
        };
        row.job.status = status;
        row.job.next_attempt_at = next;
        row.job.updated_at = at;
        if let Some(t) = next {
            inner.due.insert((t, row.seq));
        }
        Ok(Finished::new(row.job.clone(), disabled_target))
    }

    async fn append_attempt(&self, scope: &Scope, attempt: Attempt) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        match inner.row_in_scope(scope, &attempt.job_id) {
            Some(row) if row.job.tenant == attempt.tenant => inner.push_attempt(attempt),
            _ => Err(OutboxError::not_found("job", &attempt.job_id)),
        }
    }

    async fn job(&self, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError> {
        Ok(self.lock().row_in_scope(scope, id).map(|r| r.job.clone()))
    }

    async fn jobs(&self, scope: &Scope, query: &JobQuery) -> Result<Page<Job>, OutboxError> {
        let before = parse_cursor(query.cursor.as_ref(), 'j')?;
        let limit = query.limit_or_default();
        let inner = self.lock();
        let mut items = Vec::with_capacity(limit);
        let mut more = false;
        let mut last = None;
        for (&seq, id) in inner.by_seq.range(..before).rev() {
            let job = &inner.jobs[id].job;
            if !scope.contains(&job.tenant) || !query.matches(job) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(job.clone());
            last = Some(seq);
        }
        let next = last
            .filter(|_| more)
            .map(|seq| Cursor::new(format!("j{seq}")));
        Ok(Page::new(items, next))
    }

    async fn attempt(&self, scope: &Scope, id: &AttemptId) -> Result<Option<Attempt>, OutboxError> {
        let inner = self.lock();
        Ok(inner
            .attempt_seq
            .get(id)
            .and_then(|seq| inner.attempts.get(seq))
            .filter(|a| scope.contains(&a.tenant))
            .cloned())
    }

    async fn attempts(
        &self,
        scope: &Scope,
        query: &AttemptQuery,
    ) -> Result<Page<Attempt>, OutboxError> {
        let before = parse_cursor(query.cursor.as_ref(), 'a')?;
        let limit = query.limit_or_default();
        let inner = self.lock();
        let keep = |a: &Attempt| scope.contains(&a.tenant) && query.matches(a);
        let candidates: Box<dyn Iterator<Item = (u64, &Attempt)>> = match &query.job_id {
            Some(job) => Box::new(
                inner
                    .job_attempts
                    .get(job)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .filter(move |&&s| s < before)
                    .map(|s| (*s, &inner.attempts[s])),
            ),
            None => Box::new(inner.attempts.range(..before).rev().map(|(s, a)| (*s, a))),
        };
        let mut items = Vec::with_capacity(limit);
        let mut more = false;
        let mut last = None;
        for (seq, a) in candidates.filter(|(_, a)| keep(a)) {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(a.clone());
            last = Some(seq);
        }
        let next = last
            .filter(|_| more)
            .map(|seq| Cursor::new(format!("a{seq}")));
        Ok(Page::new(items, next))
    }

    async fn requeue(&self, scope: &Scope, id: &JobId, now: Timestamp) -> Result<Job, OutboxError> {
        let mut inner = self.lock();
        let Some(row) = inner.row_in_scope(scope, id) else {
            return Err(OutboxError::not_found("job", id));
        };
        match row.job.status {
            JobStatus::Failed | JobStatus::Skipped => {}
            status => {
                return Err(OutboxError::NotRequeueable {
                    job: id.clone(),
                    status,
                });
            }
        }
        inner.requeue_row(id, now);
        Ok(inner.jobs[id].job.clone())
    }

    async fn recover(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
        limit: usize,
    ) -> Result<Recovered, OutboxError> {
        let mut inner = self.lock();
        let mut picked = Vec::new();
        let mut capped = false;
        for id in inner.by_seq.values() {
            let job = &inner.jobs[id].job;
            if job.status == JobStatus::Failed
                && scope.contains(&job.tenant)
                && job.created_at >= since
                && job.created_at < until
            {
                if picked.len() == limit {
                    capped = true;
                    break;
                }
                picked.push(id.clone());
            }
        }
        for id in &picked {
            inner.requeue_row(id, now);
        }
        Ok(Recovered::new(picked, capped))
    }

    async fn target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<Option<TargetState>, OutboxError> {
        if !scope.contains(tenant) {
            return Ok(None);
        }
        Ok(self
            .lock()
            .targets
            .get(&(tenant.clone(), url.to_owned()))
            .cloned())
    }

    async fn enable_target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        match inner.targets.get_mut(&(tenant.clone(), url.to_owned())) {
            Some(state) if scope.contains(tenant) => {
                state.disabled = None;
                state.failing_since = None;
                Ok(())
            }
            _ => Err(OutboxError::not_found("target", url)),
        }
    }
}
