//! `MemoryStore`: the embedded default store, one mutex over indexed maps.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::outbox::error::OutboxError;
use crate::outbox::lifecycle::{Erase, Erased, PrivacyMode, Purge, Purged, privacy_change};
use crate::outbox::model::Listed;
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Cursor, Job, JobId, JobQuery, JobStatus, Page, PayloadState,
    TargetRef, Timestamp,
};
use crate::outbox::store::{
    Backlog, BreakerState, Candidate, ClaimRules, Claimed, DisabledReason, Finish, Finished,
    Inserted, Lease, Next, Recovered, Store, TargetEvent, TargetState, check_record, take_turns,
};
use crate::outbox::wake::Doorbell;
use crate::tenant::{Scope, TenantId};

/// The in-memory [`Store`]: correct under concurrency (every method is one critical section
/// under one mutex, never held across an await), lost when the process ends.
///
/// Use it embedded where losing queued webhooks on restart is acceptable, and in tests; use a
/// durable store otherwise.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    bell: Doorbell,
}

#[derive(Default)]
struct Inner {
    /// Jobs in insertion order: a job's index is its sequence number (the listing cursor).
    rows: Vec<Row>,
    ids: HashMap<JobId, usize>,
    due: BTreeSet<(Timestamp, usize)>,
    leases: BTreeSet<(Timestamp, usize)>,
    /// Attempts in insertion order, likewise.
    attempts: Vec<Attempt>,
    attempt_ids: HashMap<AttemptId, usize>,
    idempotency: HashMap<(TenantId, String), usize>,
    targets: HashMap<(TenantId, String), TargetState>,
    /// Attempts deleted by the lifecycle or an erasure (their slots stay, emptied, so that
    /// indexes stay valid).
    gone_attempts: std::collections::HashSet<usize>,
    /// Breakers that have seen a failure since their target's last success.
    breakers: HashMap<(TenantId, TargetRef), BreakerState>,
    /// The jobs of each call that are not final yet, by target: the ordering rule's queues.
    calls: HashMap<CallKey, BTreeSet<usize>>,
    /// `due` and `leases` again, per tenant and target: a fair claim looks at each target's
    /// first due jobs only.
    queues: HashMap<(TenantId, TargetRef), Queue>,
}

#[derive(Default)]
struct Queue {
    due: BTreeSet<(Timestamp, usize)>,
    leases: BTreeSet<(Timestamp, usize)>,
}

type CallKey = (TenantId, TargetRef, String);

fn call_key(job: &Job) -> Option<CallKey> {
    let call = job.call_id.as_ref()?;
    Some((job.tenant.clone(), job.target.clone(), call.clone()))
}

struct Row {
    job: Job,
    fence: u64,
    lease_until: Option<Timestamp>,
    /// This job's attempts, by index into `Inner::attempts`.
    attempts: Vec<usize>,
    /// Deleted by the lifecycle or an erasure: unreachable by id, skipped by listings; the
    /// slot stays (emptied) so that sequence numbers stay indexes.
    gone: bool,
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
            .field("jobs", &inner.rows.len())
            .field("due", &inner.due.len())
            .field("in_flight", &inner.leases.len())
            .field("attempts", &inner.attempts.len())
            .finish()
    }
}

/// Up to `limit` items from `candidates` (newest first) and the cursor after the last one when
/// more follow.
fn page<'a, T: Clone + Listed + 'a>(
    candidates: impl Iterator<Item = &'a T>,
    limit: usize,
) -> Page<T> {
    crate::outbox::model::cut_page(
        candidates.take(limit.saturating_add(1)).cloned().collect(),
        limit,
    )
}

impl Inner {
    fn seq_in_scope(&self, scope: &Scope, id: &JobId) -> Option<usize> {
        self.ids
            .get(id)
            .copied()
            .filter(|&seq| scope.contains(&self.rows[seq].job.tenant))
    }

    fn push_attempt(&mut self, seq: usize, attempt: Attempt) -> Result<(), OutboxError> {
        if self.attempt_ids.contains_key(&attempt.id) {
            return Err(OutboxError::Invalid {
                what: "attempt id",
                problem: format!("`{}` is already recorded", attempt.id),
            });
        }
        let index = self.attempts.len();
        self.attempt_ids.insert(attempt.id.clone(), index);
        self.rows[seq].attempts.push(index);
        self.attempts.push(attempt);
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
                if !self.targets.is_empty() {
                    if let Some(state) = self.targets.get_mut(&(tenant.clone(), url)) {
                        state.failing_since = None;
                    }
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

    /// Deletes a job and its attempts: its id, key and schedule go; its slot stays, emptied.
    /// Answers how many attempts went.
    fn delete_row(&mut self, seq: usize) -> u64 {
        // Out of every claim index first (the global ones and the per-target queues of the
        // fair claim), and out of its call's ordering queue, so nothing points at a gone row.
        if let Some(t) = self.rows[seq].job.next_attempt_at {
            self.remove_due((t, seq));
        }
        if let Some(t) = self.rows[seq].lease_until {
            self.remove_lease((t, seq));
        }
        if let Some(key) = call_key(&self.rows[seq].job) {
            if let Some(seqs) = self.calls.get_mut(&key) {
                seqs.remove(&seq);
                if seqs.is_empty() {
                    self.calls.remove(&key);
                }
            }
        }
        let row = &mut self.rows[seq];
        row.gone = true;
        row.lease_until = None;
        row.job.payload = Vec::new().into();
        let (id, tenant, key) = (
            row.job.id.clone(),
            row.job.tenant.clone(),
            row.job.idempotency_key.take(),
        );
        let attempts = std::mem::take(&mut row.attempts);
        self.ids.remove(&id);
        if let Some(key) = key {
            if self.idempotency.get(&(tenant.clone(), key.clone())) == Some(&seq) {
                self.idempotency.remove(&(tenant, key));
            }
        }
        let n = attempts.len() as u64;
        for i in attempts {
            let a = &mut self.attempts[i];
            self.attempt_ids.remove(&a.id);
            a.response_body = String::new();
            a.error = None;
            a.url = None;
            self.gone_attempts.insert(i);
        }
        n
    }

    /// Empties a job's payload (now in `state`), and its attempts' response bodies unless
    /// only redacting.
    fn strip_row(&mut self, seq: usize, payload: Vec<u8>, state: PayloadState) {
        let row = &mut self.rows[seq];
        row.job.payload = payload.into();
        row.job.payload_state = state;
        if state != PayloadState::Redacted {
            for &i in &row.attempts {
                self.attempts[i].response_body = String::new();
            }
        }
    }

    /// Up to `limit` live final jobs of `scope` but `exclude` that pass `also`, oldest first.
    fn final_rows(
        &self,
        scope: &Scope,
        exclude: &[TenantId],
        limit: usize,
        also: impl Fn(&Job) -> bool,
    ) -> Vec<usize> {
        (self.rows.iter().enumerate())
            .filter(|(_, r)| !r.gone && r.job.status.is_final())
            .filter(|(_, r)| scope.contains(&r.job.tenant) && !exclude.contains(&r.job.tenant))
            .filter(|(_, r)| also(&r.job))
            .map(|(seq, _)| seq)
            .take(limit)
            .collect()
    }

    fn requeue_row(&mut self, seq: usize, now: Timestamp) {
        let job = &mut self.rows[seq].job;
        job.status = JobStatus::Pending;
        job.step = 0;
        job.next_attempt_at = Some(now);
        job.updated_at = now;
        self.add_due((now, seq));
        if let Some(key) = call_key(&self.rows[seq].job) {
            self.calls.entry(key).or_default().insert(seq);
        }
    }

    fn queue(&mut self, seq: usize) -> &mut Queue {
        let job = &self.rows[seq].job;
        (self.queues)
            .entry((job.tenant.clone(), job.target.clone()))
            .or_default()
    }

    fn drop_queue_if_empty(&mut self, seq: usize) {
        let job = &self.rows[seq].job;
        let key = (job.tenant.clone(), job.target.clone());
        if self
            .queues
            .get(&key)
            .is_some_and(|q| q.due.is_empty() && q.leases.is_empty())
        {
            self.queues.remove(&key);
        }
    }

    fn add_due(&mut self, key: (Timestamp, usize)) {
        self.due.insert(key);
        self.queue(key.1).due.insert(key);
    }

    fn remove_due(&mut self, key: (Timestamp, usize)) {
        self.due.remove(&key);
        self.queue(key.1).due.remove(&key);
        self.drop_queue_if_empty(key.1);
    }

    fn add_lease(&mut self, key: (Timestamp, usize)) {
        self.leases.insert(key);
        self.queue(key.1).leases.insert(key);
    }

    fn remove_lease(&mut self, key: (Timestamp, usize)) {
        self.leases.remove(&key);
        self.queue(key.1).leases.remove(&key);
        self.drop_queue_if_empty(key.1);
    }

    /// The fair pick of [`Store::claim_with`]: `(from_leases, key)` of the jobs to claim, in
    /// claim order. Looks at each target's first due jobs only, never at every due job.
    fn pick(
        &self,
        scope: &Scope,
        now: Timestamp,
        limit: usize,
        rules: &ClaimRules,
    ) -> Vec<(bool, (Timestamp, usize))> {
        let bound = (now, usize::MAX);
        let mut busy_tenant: HashMap<&TenantId, usize> = HashMap::new();
        let mut picks = Vec::new();
        for ((tenant, target), queue) in &self.queues {
            if !scope.contains(tenant) {
                continue;
            }
            let busy = queue.leases.range((now, usize::MAX)..).count();
            *busy_tenant.entry(tenant).or_default() += busy;
            let mut cap = rules.target_cap;
            let breaker = if self.breakers.is_empty() {
                None
            } else {
                self.breakers.get(&(tenant.clone(), target.clone()))
            };
            if let Some(b) = breaker {
                if b.is_open(now) {
                    continue;
                }
                if b.is_tripped() {
                    cap = 1;
                }
            }
            let room = cap.saturating_sub(busy).min(limit);
            if room == 0 {
                continue;
            }
            let ordered = rules.ordered.contains(target);
            // Expired leases first (their jobs have waited longest), then by due time.
            let due = (queue.leases.range(..=bound).map(|&k| (true, k)))
                .chain(queue.due.range(..=bound).map(|&k| (false, k)));
            let mut rank = 0;
            for (from_leases, key) in due {
                if ordered {
                    let first = call_key(&self.rows[key.1].job)
                        .and_then(|k| self.calls.get(&k))
                        .and_then(|seqs| seqs.first().copied());
                    if first.is_some_and(|first| first < key.1) {
                        continue;
                    }
                }
                rank += 1;
                let order = (
                    !from_leases,
                    key.0,
                    i64::try_from(key.1).unwrap_or(i64::MAX),
                );
                picks.push(Candidate {
                    tenant: tenant.clone(),
                    rank,
                    order,
                    key: (from_leases, key),
                });
                if rank == room {
                    break;
                }
            }
        }
        take_turns(
            picks,
            |t| busy_tenant.get(t).copied().unwrap_or(0),
            rules.tenant_cap,
            limit,
        )
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
        if inner.ids.contains_key(&job.id) {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        let key = job.idempotency_key.clone().map(|k| (job.tenant.clone(), k));
        if let Some(key) = &key {
            if let Some(&seq) = inner.idempotency.get(key) {
                let first = &inner.rows[seq].job;
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
        job.payload_state = PayloadState::Kept;
        let due = *job.next_attempt_at.get_or_insert(job.created_at);
        let seq = inner.rows.len();
        if let Some(key) = key {
            inner.idempotency.insert(key, seq);
        }
        inner.ids.insert(job.id.clone(), seq);
        if let Some(key) = call_key(&job) {
            inner.calls.entry(key).or_default().insert(seq);
        }
        inner.rows.push(Row {
            job: job.clone(),
            fence: 0,
            lease_until: None,
            attempts: Vec::new(),
            gone: false,
        });
        inner.add_due((due, seq));
        drop(inner);
        self.bell.ring();
        Ok(Inserted::new(job, true))
    }

    async fn claim(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_with(scope, now, lease, limit, &ClaimRules::unlimited())
            .await
    }

    async fn claim_with(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
        rules: &ClaimRules,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let picked = inner.pick(scope, now, limit, rules);
        let until = now.saturating_add(lease);
        let mut claimed = Vec::with_capacity(picked.len());
        let mut disabled = crate::outbox::store::DisabledTargets::default();
        for (from_leases, key) in picked {
            let seq = key.1;
            if from_leases {
                inner.remove_lease(key);
                inner.add_lease((until, seq));
            } else {
                // The lease first: the target's queue is never empty in between, so it is
                // not dropped and made again.
                inner.add_lease((until, seq));
                inner.remove_due(key);
            }
            let row = &mut inner.rows[seq];
            row.fence += 1;
            row.lease_until = Some(until);
            row.job.status = JobStatus::InFlight;
            row.job.attempts += 1;
            row.job.step += 1;
            row.job.updated_at = now;
            let lease = Lease::new(row.job.id.clone(), row.job.tenant.clone(), row.fence, until);
            let job = row.job.clone();
            let urls = disabled.share(&job.tenant, || {
                let mut urls: Vec<String> = (inner.targets.iter())
                    .filter(|((t, _), state)| *t == job.tenant && state.is_disabled())
                    .map(|((_, url), _)| url.clone())
                    .collect();
                urls.sort_unstable();
                Ok(urls)
            })?;
            let failures = if inner.breakers.is_empty() {
                0
            } else {
                (inner
                    .breakers
                    .get(&(job.tenant.clone(), job.target.clone())))
                .map_or(0, |b| b.failures)
            };
            claimed.push(
                Claimed::new(job, lease)
                    .with_disabled_targets(urls)
                    .with_breaker_failures(failures)
                    .reclaimed(from_leases),
            );
        }
        Ok(claimed)
    }

    async fn renew(
        &self,
        scope: &Scope,
        lease: &Lease,
        until: Timestamp,
    ) -> Result<Lease, OutboxError> {
        let mut inner = self.lock();
        let Some(seq) = inner.seq_in_scope(scope, &lease.job_id) else {
            return Err(OutboxError::not_found("job", &lease.job_id));
        };
        let row = &inner.rows[seq];
        if row.job.status != JobStatus::InFlight || row.fence != lease.fence {
            return Err(OutboxError::StaleLease {
                job: lease.job_id.clone(),
                fence: lease.fence,
            });
        }
        if let Some(old) = inner.rows[seq].lease_until {
            inner.remove_lease((old, seq));
        }
        inner.rows[seq].lease_until = Some(until);
        inner.add_lease((until, seq));
        let mut renewed = lease.clone();
        renewed.expires_at = until;
        Ok(renewed)
    }

    async fn breaker(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        target: &TargetRef,
    ) -> Result<Option<BreakerState>, OutboxError> {
        if !scope.contains(tenant) {
            return Ok(None);
        }
        let inner = self.lock();
        Ok(inner
            .breakers
            .get(&(tenant.clone(), target.clone()))
            .cloned())
    }

    fn doorbell(&self) -> Option<Doorbell> {
        Some(self.bell.clone())
    }

    async fn finish(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError> {
        let mut inner = self.lock();
        let Some(seq) = inner.seq_in_scope(scope, &lease.job_id) else {
            return Err(OutboxError::not_found("job", &lease.job_id));
        };
        let row = &inner.rows[seq];
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
        inner.push_attempt(seq, finish.attempt)?;
        let disabled_target = match finish.target {
            Some(event) => {
                let tenant = inner.rows[seq].job.tenant.clone();
                inner.apply_target(&tenant, event, at)
            }
            None => None,
        };
        let breaker = match finish.breaker {
            Some(event) => {
                let job = &inner.rows[seq].job;
                let key = (job.tenant.clone(), job.target.clone());
                let current = (inner.breakers.get(&key).cloned())
                    .unwrap_or_else(|| BreakerState::new(key.0.clone(), key.1.clone(), 0, None));
                let (state, changed) = current.after(event, at);
                if state.failures == 0 && state.open_until.is_none() {
                    inner.breakers.remove(&key);
                } else {
                    inner.breakers.insert(key, state.clone());
                }
                changed.then_some(state)
            }
            None => None,
        };
        let inner = &mut *inner;
        if let Some(until) = inner.rows[seq].lease_until.take() {
            inner.remove_lease((until, seq));
        }
        let row = &mut inner.rows[seq];
        let (status, next) = match finish.next {
            Next::Retry(t) => (JobStatus::Pending, Some(t)),
            Next::Succeeded => (JobStatus::Succeeded, None),
            Next::Failed => (JobStatus::Failed, None),
            Next::Skipped => (JobStatus::Skipped, None),
        };
        row.job.status = status;
        row.job.next_attempt_at = next;
        row.job.updated_at = at;
        let job = row.job.clone();
        if let Some(t) = next {
            inner.add_due((t, seq));
        }
        if status.is_final() {
            if let Some(key) = call_key(&job) {
                if let Some(seqs) = inner.calls.get_mut(&key) {
                    seqs.remove(&seq);
                    if seqs.is_empty() {
                        inner.calls.remove(&key);
                    }
                }
            }
        }
        Ok(Finished::new(job, disabled_target).with_breaker(breaker))
    }

    async fn append_attempt(&self, scope: &Scope, attempt: Attempt) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        match inner.seq_in_scope(scope, &attempt.job_id) {
            Some(seq) if inner.rows[seq].job.tenant == attempt.tenant => {
                inner.push_attempt(seq, attempt)
            }
            _ => Err(OutboxError::not_found("job", &attempt.job_id)),
        }
    }

    async fn record(
        &self,
        scope: &Scope,
        job: Job,
        attempts: Vec<Attempt>,
    ) -> Result<(), OutboxError> {
        check_record(scope, &job, &attempts)?;
        let mut inner = self.lock();
        if inner.ids.contains_key(&job.id) {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        if let Some(a) = attempts
            .iter()
            .find(|a| inner.attempt_ids.contains_key(&a.id))
        {
            return Err(OutboxError::Invalid {
                what: "attempt id",
                problem: format!("`{}` is already recorded", a.id),
            });
        }
        let seq = inner.rows.len();
        inner.ids.insert(job.id.clone(), seq);
        inner.rows.push(Row {
            job,
            fence: 0,
            lease_until: None,
            attempts: Vec::new(),
            gone: false,
        });
        for attempt in attempts {
            inner.push_attempt(seq, attempt)?;
        }
        Ok(())
    }

    async fn job(&self, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError> {
        let inner = self.lock();
        Ok(inner
            .seq_in_scope(scope, id)
            .map(|seq| inner.rows[seq].job.clone()))
    }

    async fn jobs(&self, scope: &Scope, query: &JobQuery) -> Result<Page<Job>, OutboxError> {
        let after = query.cursor.as_ref().map(Cursor::job_id).transpose()?;
        let inner = self.lock();
        if query.created_since.is_some() || query.created_until.is_some() {
            // Within a time window: by creation time, then insertion (the SQL stores' order).
            let after = match &after {
                Some(id) => match inner.seq_in_scope(scope, id) {
                    Some(seq) => Some((inner.rows[seq].job.created_at, seq)),
                    None => return Ok(Page::new(Vec::new(), None)),
                },
                None => None,
            };
            let mut hits: Vec<(Timestamp, usize)> = (inner.rows.iter().enumerate())
                .filter(|(_, r)| !r.gone && scope.contains(&r.job.tenant))
                .filter(|(_, r)| query.matches(&r.job))
                .map(|(seq, r)| (r.job.created_at, seq))
                .filter(|k| after.is_none_or(|a| *k < a))
                .collect();
            hits.sort_unstable_by(|a, b| b.cmp(a));
            let rows = hits.iter().map(|&(_, seq)| &inner.rows[seq].job);
            return Ok(page(rows, query.limit_or_default()));
        }
        // Before the cursor's job; a job the scope does not hold leaves nothing after it.
        let end = match &after {
            Some(id) => inner.seq_in_scope(scope, id).unwrap_or(0),
            None => inner.rows.len(),
        };
        let candidates = inner.rows[..end]
            .iter()
            .rev()
            .filter(|row| !row.gone)
            .map(|row| &row.job)
            .filter(|job| scope.contains(&job.tenant) && query.matches(job));
        Ok(page(candidates, query.limit_or_default()))
    }

    async fn attempt(&self, scope: &Scope, id: &AttemptId) -> Result<Option<Attempt>, OutboxError> {
        let inner = self.lock();
        Ok(inner
            .attempt_ids
            .get(id)
            .map(|&i| &inner.attempts[i])
            .filter(|a| scope.contains(&a.tenant))
            .cloned())
    }

    async fn attempts(
        &self,
        scope: &Scope,
        query: &AttemptQuery,
    ) -> Result<Page<Attempt>, OutboxError> {
        let after = query.cursor.as_ref().map(Cursor::attempt_id).transpose()?;
        let inner = self.lock();
        let attempts = &inner.attempts;
        let end = match &after {
            Some(id) => (inner.attempt_ids.get(id).copied())
                .filter(|&i| scope.contains(&attempts[i].tenant))
                .unwrap_or(0),
            None => attempts.len(),
        };
        let gone = &inner.gone_attempts;
        let keep = |a: &&Attempt| scope.contains(&a.tenant) && query.matches(a);
        let limit = query.limit_or_default();
        if query.started_since.is_some() || query.started_until.is_some() {
            // Within a time window: by start time, then insertion (the SQL stores' order).
            let after = match &after {
                Some(id) => match (inner.attempt_ids.get(id).copied())
                    .filter(|&i| scope.contains(&attempts[i].tenant))
                {
                    Some(i) => Some((attempts[i].started_at, i)),
                    None => return Ok(Page::new(Vec::new(), None)),
                },
                None => None,
            };
            let mut hits: Vec<(Timestamp, usize)> = (attempts.iter().enumerate())
                .filter(|(i, a)| !gone.contains(i) && keep(a))
                .map(|(i, a)| (a.started_at, i))
                .filter(|k| after.is_none_or(|a| *k < a))
                .collect();
            hits.sort_unstable_by(|a, b| b.cmp(a));
            return Ok(page(hits.iter().map(|&(_, i)| &attempts[i]), limit));
        }
        Ok(match &query.job_id {
            Some(job) => {
                let of_job = inner
                    .ids
                    .get(job)
                    .map(|&seq| inner.rows[seq].attempts.as_slice())
                    .unwrap_or_default();
                let candidates = (of_job.iter().rev())
                    .filter(|&&i| i < end)
                    .map(|&i| &attempts[i])
                    .filter(keep);
                page(candidates, limit)
            }
            None => page(
                (attempts[..end].iter().enumerate().rev())
                    .filter(|(i, _)| !gone.contains(i))
                    .map(|(_, a)| a)
                    .filter(keep),
                limit,
            ),
        })
    }

    async fn requeue(&self, scope: &Scope, id: &JobId, now: Timestamp) -> Result<Job, OutboxError> {
        let mut inner = self.lock();
        let Some(seq) = inner.seq_in_scope(scope, id) else {
            return Err(OutboxError::not_found("job", id));
        };
        let job = &inner.rows[seq].job;
        if job.payload_state != PayloadState::Kept {
            return Err(OutboxError::PayloadRemoved {
                job: id.clone(),
                state: job.payload_state,
            });
        }
        match job.status {
            JobStatus::Failed | JobStatus::Skipped => {}
            status => {
                return Err(OutboxError::NotRequeueable {
                    job: id.clone(),
                    status,
                });
            }
        }
        inner.requeue_row(seq, now);
        let job = inner.rows[seq].job.clone();
        drop(inner);
        self.bell.ring();
        Ok(job)
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
        for (seq, row) in inner.rows.iter().enumerate() {
            let job = &row.job;
            if job.status == JobStatus::Failed
                && !row.gone
                && job.payload_state == PayloadState::Kept
                && scope.contains(&job.tenant)
                && job.created_at >= since
                && job.created_at < until
            {
                if picked.len() == limit {
                    capped = true;
                    break;
                }
                picked.push(seq);
            }
        }
        let mut requeued = Vec::with_capacity(picked.len());
        for seq in picked {
            inner.requeue_row(seq, now);
            requeued.push(inner.rows[seq].job.id.clone());
        }
        drop(inner);
        self.bell.ring();
        Ok(Recovered::new(requeued, capped))
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
        let inner = self.lock();
        if inner.targets.is_empty() {
            return Ok(None);
        }
        Ok(inner
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

    async fn purge(&self, scope: &Scope, purge: &Purge) -> Result<Purged, OutboxError> {
        let mut inner = self.lock();
        let limit = purge.limit;
        let mut done = Purged::default();
        if let Some(t) = purge.delete_finished_before {
            let seqs = inner.final_rows(scope, &purge.exclude, limit, |j| j.updated_at < t);
            done.more |= seqs.len() >= limit;
            for seq in seqs {
                done.jobs += 1;
                done.attempts += inner.delete_row(seq);
            }
        }
        // Jobs this step deletes are not worth rewriting first.
        let kept_on = |j: &Job| {
            purge
                .delete_finished_before
                .is_none_or(|t| j.updated_at >= t)
        };
        let left = |j: &Job| {
            kept_on(j) && matches!(j.payload_state, PayloadState::Kept | PayloadState::Redacted)
        };
        if let Some(t) = purge.expire_payloads_finished_before {
            let seqs = inner.final_rows(scope, &purge.exclude, limit, |j| {
                left(j) && j.updated_at < t
            });
            done.more |= seqs.len() >= limit;
            for seq in seqs {
                done.payloads_expired += 1;
                inner.strip_row(seq, Vec::new(), PayloadState::Expired);
            }
        }
        if purge.privacy != PrivacyMode::Full {
            let seqs = inner.final_rows(scope, &purge.exclude, limit, |j| {
                kept_on(j) && privacy_change(&purge.privacy, j.payload_state, &[]).is_some()
            });
            done.more |= seqs.len() >= limit;
            for seq in seqs {
                let job = &inner.rows[seq].job;
                if let Some((payload, state)) =
                    privacy_change(&purge.privacy, job.payload_state, &job.payload)
                {
                    if state == PayloadState::Dropped {
                        done.payloads_dropped += 1;
                    } else {
                        done.payloads_redacted += 1;
                    }
                    inner.strip_row(seq, payload, state);
                }
            }
        }
        Ok(done)
    }

    async fn erase(
        &self,
        scope: &Scope,
        erase: &Erase,
        limit: usize,
    ) -> Result<Erased, OutboxError> {
        let tenant = erase.tenant();
        if !scope.contains(tenant) {
            return Err(OutboxError::OutOfScope {
                tenant: tenant.clone(),
            });
        }
        let mut inner = self.lock();
        let seqs: Vec<usize> = (inner.rows.iter().enumerate())
            .filter(|(_, r)| !r.gone && &r.job.tenant == tenant)
            .filter(|(_, r)| match erase {
                Erase::Call { call_id, .. } => r.job.call_id.as_deref() == Some(call_id.as_str()),
                _ => true,
            })
            .map(|(seq, _)| seq)
            .take(limit)
            .collect();
        let more = seqs.len() >= limit;
        let mut erased = Erased::new(seqs.len() as u64, 0, 0, more);
        for seq in seqs {
            erased.attempts += inner.delete_row(seq);
        }
        if matches!(erase, Erase::Tenant(_)) && !more {
            let before = inner.targets.len();
            inner.targets.retain(|(t, _), _| t != tenant);
            erased.targets = (before - inner.targets.len()) as u64;
            // The tenant's breakers go with its target health.
            let before = inner.breakers.len();
            inner.breakers.retain(|(t, _), _| t != tenant);
            erased.targets += (before - inner.breakers.len()) as u64;
        }
        Ok(erased)
    }

    async fn backlog(&self, scope: &Scope, now: Timestamp) -> Result<Option<Backlog>, OutboxError> {
        let inner = self.lock();
        let bound = (now, usize::MAX);
        let (mut due, mut oldest) = (0u64, None::<Timestamp>);
        for &(at, seq) in inner
            .due
            .range(..=bound)
            .chain(inner.leases.range(..=bound))
        {
            if scope.contains(&inner.rows[seq].job.tenant) {
                due += 1;
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        Ok(Some(Backlog::new(now, due, oldest)))
    }
}
