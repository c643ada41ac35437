//! Delivery: the [`Dispatcher`] claims due jobs and sends them, with the observer hooks.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::error::Result;
use crate::guard::Policy;
use crate::outbox::error::{OutboxError, PlanError};
use crate::outbox::io::{Clock, OsRandom, Random, SystemClock};
use crate::outbox::model::{
    Attempt, AttemptId, AttemptStatus, Job, JobId, MAX_RESPONSE_BODY, PayloadState, Trigger,
};
use crate::outbox::plan::{Decision, RetryPlan};
use crate::outbox::store::{Claimed, Finish, Lease, Next, Store, TargetEvent, TargetState};
use crate::outbox::target::{Target, TargetResolver, Unresolved, UrlCheck};
use crate::tenant::Scope;
use crate::transport::{ExchangeResult, Refusal, SendStep, Timer, Transport};

/// How much longer than the longest request timeout a lease must be.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Hooks for metrics and tracing; every method does nothing by default.
pub trait Observer: Send + Sync + fmt::Debug {
    /// An attempt starts (open a span keyed by the attempt id here).
    fn attempt_started(&self, job: &Job, attempt: &AttemptId, trigger: Trigger) {
        let _ = (job, attempt, trigger);
    }
    /// An attempt was recorded.
    fn attempt_finished(&self, attempt: &Attempt) {
        let _ = attempt;
    }
    /// A finisher was fenced out: its lease was stale.
    fn fenced_out(&self, lease: &Lease) {
        let _ = lease;
    }
    /// A target was disabled (410 Gone or auto-disable).
    fn target_disabled(&self, target: &TargetState) {
        let _ = target;
    }
    /// The store failed while claiming (`job` is `None`) or delivering a job; a claimed job's
    /// lease expires and it is claimed again.
    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        let _ = (job, error);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct NoObserver;
impl Observer for NoObserver {}

/// Asks [`Dispatcher::run`] to stop: it claims nothing more and returns once every claimed job
/// is finished. Clones share the signal.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A signal not yet given.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Gives the signal.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether the signal was given.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a dispatcher run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tick {
    /// Jobs claimed.
    pub claimed: usize,
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed with a retry scheduled.
    pub retried: usize,
    /// Attempts after which the job failed.
    pub failed: usize,
    /// Jobs skipped (no target, disabled target, refused).
    pub skipped: usize,
    /// Finishers fenced out by a stale lease.
    pub fenced: usize,
    /// Jobs left to their lease because the store failed.
    pub store_errors: usize,
}

impl Tick {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Done(Next::Succeeded) => self.succeeded += 1,
            Outcome::Done(Next::Retry(_)) => self.retried += 1,
            Outcome::Done(Next::Failed) => self.failed += 1,
            Outcome::Done(Next::Skipped) => self.skipped += 1,
            Outcome::Fenced => self.fenced += 1,
            Outcome::StoreError => self.store_errors += 1,
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Done(Next),
    Fenced,
    StoreError,
}

/// Delivers due jobs: claim -> resolve the current target -> disabled? -> guard check -> sign
/// (fresh timestamp, the job id as `webhook-id`) -> send with the server's timeout -> record
/// the attempt -> schedule the next try or finish.
///
/// Not sent, the job is **skipped** (and can be requeued): the resolver found no target, the
/// target is disabled, the guard refused its URL, or signing failed. The attempt is recorded
/// with status `refused` and the reason in `error`.
///
/// Runtime-agnostic: [`Dispatcher::run`] takes the host's sleep function; [`Dispatcher::run_once`]
/// is one claim-and-deliver round.
#[derive(Debug)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    step: SendStep,
    timer: Option<Arc<dyn Timer>>,
    resolver: Arc<dyn TargetResolver>,
    check: Arc<dyn UrlCheck>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    observer: Arc<dyn Observer>,
    plan: RetryPlan,
    scope: Scope,
    lease: Duration,
    max_timeout: Duration,
    concurrency: usize,
    poll_interval: Duration,
    auto_disable_after: Option<Duration>,
    max_response_body: usize,
}

/// Builds a [`Dispatcher`]; settings are checked by [`DispatcherBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct DispatcherBuilder {
    d: Dispatcher,
}

impl DispatcherBuilder {
    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.d.clock = clock;
        self
    }
    /// The randomness for jitter and attempt ids (default: [`OsRandom`](crate::outbox::OsRandom)).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.d.random = random;
        self
    }
    /// A timer with which every send's timeout is enforced by the dispatcher itself, not only
    /// by the transport (default: none; the transport's timeout holds). See [`SendStep`].
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.d.timer = Some(timer);
        self
    }
    /// The URL check run before every send (default: the guard's production [`Policy`]).
    pub fn url_check(mut self, check: Arc<dyn UrlCheck>) -> Self {
        self.d.check = check;
        self
    }
    /// Metrics and tracing hooks.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.d.observer = observer;
        self
    }
    /// The retry plan of targets without their own (default: [`RetryPlan::default`]).
    pub fn plan(mut self, plan: RetryPlan) -> Self {
        self.d.plan = plan;
        self
    }
    /// Which tenants' jobs this dispatcher claims (default: all).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.d.scope = scope;
        self
    }
    /// How long a claim lasts (default 60 s); must exceed the longest timeout plus
    /// [`LEASE_MARGIN`].
    pub fn lease(mut self, lease: Duration) -> Self {
        self.d.lease = lease;
        self
    }
    /// The longest request timeout; a target's own is capped to it (default 30 s).
    pub fn max_timeout(mut self, timeout: Duration) -> Self {
        self.d.max_timeout = timeout;
        self
    }
    /// How many sends run at once (default 16).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.d.concurrency = n;
        self
    }
    /// How long [`Dispatcher::run`] waits when nothing is due (default 1 s); also the longest
    /// delay before it notices a shutdown while idle.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.d.poll_interval = interval;
        self
    }
    /// Disables a target after only exhausted failures for this long (Svix uses 5 days); off
    /// by default. A success in between starts the count again; a failure run with nothing
    /// for twice the period lapses.
    pub fn auto_disable_after(mut self, period: Duration) -> Self {
        self.d.auto_disable_after = Some(period);
        self
    }
    /// The most bytes of each response body an attempt keeps (default
    /// [`MAX_RESPONSE_BODY`], 20,000); longer bodies are cut and flagged
    /// ([`Attempt::response_truncated`]). 0 keeps none: a body is whatever the receiver
    /// answered, personal data and echoed credentials included.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.d.max_response_body = bytes;
        self
    }

    /// The dispatcher.
    ///
    /// # Errors
    /// [`PlanError::LeaseTooShort`] when the lease is not longer than the longest timeout plus
    /// [`LEASE_MARGIN`] (a slow send could be claimed twice); [`PlanError::Zero`] for a
    /// concurrency of 0.
    pub fn build(self) -> std::result::Result<Dispatcher, PlanError> {
        let mut d = self.d;
        if d.lease <= d.max_timeout + LEASE_MARGIN {
            return Err(PlanError::LeaseTooShort {
                lease: d.lease,
                timeout: d.max_timeout,
                margin: LEASE_MARGIN,
            });
        }
        if d.concurrency == 0 {
            return Err(PlanError::Zero("concurrency"));
        }
        let mut step = SendStep::new(d.transport.clone())
            .with_url_check(d.check.clone())
            .with_clock(d.clock.clone());
        if let Some(timer) = &d.timer {
            step = step.with_timer(timer.clone());
        }
        d.step = step;
        Ok(d)
    }
}

enum Sent {
    Refused(OutboxError),
    Response {
        status: u16,
        retry_after: Option<Duration>,
    },
    TransportError,
}

impl Dispatcher {
    /// A dispatcher over `store`, sending through `transport` to targets from `resolver`.
    pub fn builder(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        resolver: Arc<dyn TargetResolver>,
    ) -> DispatcherBuilder {
        DispatcherBuilder {
            d: Dispatcher {
                store,
                transport: transport.clone(),
                resolver,
                check: Arc::new(Policy::default()),
                clock: Arc::new(SystemClock),
                random: Arc::new(OsRandom),
                observer: Arc::new(NoObserver),
                plan: RetryPlan::default(),
                scope: Scope::AllTenants,
                lease: Duration::from_secs(60),
                max_timeout: Duration::from_secs(30),
                concurrency: 16,
                poll_interval: Duration::from_secs(1),
                auto_disable_after: None,
                step: SendStep::new(transport),
                timer: None,
                max_response_body: MAX_RESPONSE_BODY,
            },
        }
    }

    /// Claims up to `concurrency` due jobs and delivers them, `concurrency` at a time; returns
    /// once every claimed job is finished.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the claim fails. A store failure while finishing one job
    /// is counted in [`Tick::store_errors`] and reported to the observer; that job's lease
    /// expires and it is claimed again.
    pub async fn run_once(&self) -> Result<Tick> {
        let claimed = self
            .store
            .claim(&self.scope, self.clock.now(), self.lease, self.concurrency)
            .await?;
        let mut tick = Tick {
            claimed: claimed.len(),
            ..Tick::default()
        };
        let mut in_flight: FuturesUnordered<_> =
            claimed.into_iter().map(|c| self.deliver(c)).collect();
        while let Some(outcome) = in_flight.next().await {
            tick.add(outcome);
        }
        Ok(tick)
    }

    /// Delivers jobs until `shutdown` is triggered, keeping up to `concurrency` sends in
    /// flight; claims more as slots free up, and waits with `sleep` when nothing is due.
    ///
    /// On shutdown it claims nothing more, finishes every claimed job and returns the totals:
    /// nothing stays claimed. If the future is dropped instead (process killed), the claimed
    /// jobs' leases expire and another dispatcher claims them.
    ///
    /// ```no_run
    /// # async fn demo(dispatcher: agent_webhooks::outbox::Dispatcher) {
    /// use agent_webhooks::outbox::Shutdown;
    /// let shutdown = Shutdown::new();
    /// // With tokio: dispatcher.run(&shutdown, tokio::time::sleep).await;
    /// # let sleep = |_d: std::time::Duration| async {};
    /// let totals = dispatcher.run(&shutdown, sleep).await;
    /// # }
    /// ```
    pub async fn run<F, S>(&self, shutdown: &Shutdown, sleep: S) -> Tick
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut totals = Tick::default();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let mut claimed_any = false;
            if !shutdown.is_triggered() && in_flight.len() < self.concurrency {
                let room = self.concurrency - in_flight.len();
                let mut claim = self
                    .store
                    .claim(&self.scope, self.clock.now(), self.lease, room);
                // Keep the sends in flight moving while the store answers.
                let result = loop {
                    match select(claim, in_flight.next()).await {
                        Either::Left((result, _)) => break result,
                        Either::Right((Some(outcome), pending)) => {
                            totals.add(outcome);
                            claim = pending;
                        }
                        Either::Right((None, pending)) => break pending.await,
                    }
                };
                match result {
                    Ok(claimed) => {
                        claimed_any = !claimed.is_empty();
                        totals.claimed += claimed.len();
                        in_flight.extend(claimed.into_iter().map(|c| self.deliver(c)));
                    }
                    Err(e) => {
                        totals.store_errors += 1;
                        self.observer.store_failed(None, &e);
                    }
                }
            }
            if in_flight.is_empty() {
                if shutdown.is_triggered() {
                    return totals;
                }
                sleep(self.poll_interval).await;
                continue;
            }
            if claimed_any && in_flight.len() < self.concurrency {
                // Room left and work may remain: look again before waiting.
                continue;
            }
            let wait = pin!(sleep(self.poll_interval));
            if let Either::Left((Some(outcome), _)) = select(in_flight.next(), wait).await {
                totals.add(outcome);
            }
        }
    }

    /// Sends a stored attempt's job again, now, to its *current* target, as a new manual
    /// attempt: same `webhook-id`, fresh timestamp and signature. The original attempt and the
    /// job's state are unchanged, and a failed replay is never rescheduled (requeue the job to
    /// run its retry plan again). A manual attempt does not change the target's health either:
    /// a 410 on a replay does not disable it.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`] when the attempt or its job is not in `scope`;
    /// [`OutboxError::TargetDisabled`], [`OutboxError::NoTarget`] or
    /// [`OutboxError::TargetRefused`] when nothing could be sent (the refused attempt is
    /// recorded); [`OutboxError::PayloadRemoved`] when the tenant's data policy took the
    /// payload out (redacted, dropped or expired; nothing is sent or recorded).
    pub async fn replay(&self, scope: &Scope, attempt: &AttemptId) -> Result<Attempt> {
        let original = self
            .store
            .attempt(scope, attempt)
            .await?
            .ok_or_else(|| OutboxError::not_found("attempt", attempt))?;
        let job = self
            .store
            .job(scope, &original.job_id)
            .await?
            .ok_or_else(|| OutboxError::not_found("job", &original.job_id))?;
        if job.payload_state != PayloadState::Kept {
            return Err(OutboxError::PayloadRemoved {
                job: job.id,
                state: job.payload_state,
            }
            .into());
        }
        let id = AttemptId::generate(self.clock.now(), self.random.next_u64());
        self.observer.attempt_started(&job, &id, Trigger::Manual);
        let (mut record, sent, _) = self.send(&job, id, Trigger::Manual, None).await?;
        record.number = 0;
        record.next_attempt_at = None;
        self.store.append_attempt(scope, record.clone()).await?;
        self.observer.attempt_finished(&record);
        match sent {
            Sent::Refused(e) => Err(e.into()),
            _ => Ok(record),
        }
    }

    async fn deliver(&self, claimed: Claimed) -> Outcome {
        let Claimed {
            job,
            lease,
            disabled_targets,
            ..
        } = claimed;
        let id = AttemptId::generate(self.clock.now(), self.random.next_u64());
        self.observer.attempt_started(&job, &id, Trigger::Scheduled);
        let disabled = disabled_targets.as_deref();
        let (mut attempt, sent, plan) =
            match self.send(&job, id, Trigger::Scheduled, disabled).await {
                Ok(x) => x,
                Err(e) => {
                    self.observer.store_failed(Some(&job.id), &e);
                    return Outcome::StoreError;
                }
            };
        let url = attempt.url.clone().unwrap_or_default();
        let (next, target) = match sent {
            Sent::Refused(_) => (Next::Skipped, None),
            Sent::Response {
                status,
                retry_after,
            } => self.next(
                plan.as_ref(),
                &job,
                Some(status),
                retry_after,
                &attempt,
                url,
            ),
            Sent::TransportError => self.next(plan.as_ref(), &job, None, None, &attempt, url),
        };
        if let Next::Retry(at) = next {
            attempt.next_attempt_at = Some(at);
        }
        let scope = &self.scope;
        match self
            .store
            .finish(scope, &lease, Finish::new(attempt.clone(), next, target))
            .await
        {
            Ok(finished) => {
                self.observer.attempt_finished(&attempt);
                if let Some(state) = &finished.disabled_target {
                    self.observer.target_disabled(state);
                }
                Outcome::Done(next)
            }
            Err(OutboxError::StaleLease { .. }) => {
                // Every attempt is a row, even a fenced-out one; the job's state is not ours.
                attempt.next_attempt_at = None;
                if let Err(e) = self.store.append_attempt(scope, attempt.clone()).await {
                    self.observer.store_failed(Some(&job.id), &e);
                }
                self.observer.attempt_finished(&attempt);
                self.observer.fenced_out(&lease);
                Outcome::Fenced
            }
            Err(e) => {
                self.observer.store_failed(Some(&job.id), &e);
                Outcome::StoreError
            }
        }
    }

    fn next(
        &self,
        plan: Option<&RetryPlan>,
        job: &Job,
        status: Option<u16>,
        retry_after: Option<Duration>,
        attempt: &Attempt,
        url: String,
    ) -> (Next, Option<TargetEvent>) {
        let plan = plan.unwrap_or(&self.plan);
        match plan.decide(job.step, status, retry_after, self.random.next_unit()) {
            Decision::Succeeded => (Next::Succeeded, Some(TargetEvent::Delivered { url })),
            Decision::Retry { after } => {
                (Next::Retry(attempt.ended_at.saturating_add(after)), None)
            }
            Decision::Gone => (Next::Failed, Some(TargetEvent::Gone { url })),
            Decision::Exhausted => (
                Next::Failed,
                self.auto_disable_after
                    .map(|disable_after| TargetEvent::Exhausted { url, disable_after }),
            ),
            // Decision is non-exhaustive for users; `Excluded` and anything new stop here.
            _ => (Next::Failed, None),
        }
    }

    /// Resolves, checks, signs and sends one attempt; the attempt record is complete but for
    /// `next_attempt_at`. `disabled`: the tenant's disabled target URLs as the claim reported
    /// them (`None`: ask the store). `Err` only when the store fails.
    async fn send(
        &self,
        job: &Job,
        id: AttemptId,
        trigger: Trigger,
        disabled: Option<&[String]>,
    ) -> std::result::Result<(Attempt, Sent, Option<RetryPlan>), OutboxError> {
        let started = self.clock.now();
        let mut attempt = Attempt {
            id,
            job_id: job.id.clone(),
            tenant: job.tenant.clone(),
            trigger,
            url: None,
            level: None,
            status: AttemptStatus::Refused,
            status_code: None,
            error: None,
            latency_ms: 0,
            event_type: job.event_type.clone(),
            number: job.attempts,
            next_attempt_at: None,
            response_body: String::new(),
            response_truncated: false,
            started_at: started,
            ended_at: started,
        };
        let refuse = |mut attempt: Attempt, e: OutboxError, plan| {
            attempt.error = Some(e.to_string());
            attempt.ended_at = self.clock.now();
            Ok((attempt, Sent::Refused(e), plan))
        };
        let target = match self.resolver.resolve(job).await {
            Ok(t) => t,
            Err(Unresolved(reason)) => {
                let e = OutboxError::NoTarget {
                    job: job.id.clone(),
                    reason,
                };
                return refuse(attempt, e, None);
            }
        };
        let url = target.url.as_str().to_owned();
        attempt.url = Some(url.clone());
        attempt.level = Some(target.level.clone());
        let plan = target.plan.clone();
        let is_disabled = if let Some(urls) = disabled {
            urls.contains(&url)
        } else {
            let own = Scope::tenant(job.tenant.clone());
            let state = self.store.target(&own, &job.tenant, &url).await?;
            state.is_some_and(|s| s.is_disabled())
        };
        if is_disabled {
            return refuse(attempt, OutboxError::TargetDisabled { url }, plan);
        }
        let exchange = self
            .step
            .send(
                &target,
                job.id.as_str(),
                &job.payload,
                timeout_of(&target, self.max_timeout),
            )
            .await;
        let (ended, latency) = (exchange.ended_at, exchange.latency);
        let retry_after = exchange.retry_after();
        let (body, cut) = exchange.stored_body_up_to(self.max_response_body);
        let sent = match exchange.result {
            ExchangeResult::Refused(refusal) => {
                let e = match refusal {
                    Refusal::Guard { url, rejection } => {
                        OutboxError::TargetRefused { url, rejection }
                    }
                    Refusal::Unsigned(error) => OutboxError::Unsigned {
                        job: job.id.clone(),
                        error,
                    },
                    Refusal::InvalidUrl { problem } => OutboxError::Invalid {
                        what: "target URL",
                        problem,
                    },
                };
                return refuse(attempt, e, plan);
            }
            ExchangeResult::Response(response) => {
                let status = response.status();
                attempt.status_code = Some(status.as_u16());
                attempt.status = if status.is_success() {
                    AttemptStatus::Succeeded
                } else {
                    AttemptStatus::Failed
                };
                attempt.response_body = body;
                attempt.response_truncated = cut;
                Sent::Response {
                    status: status.as_u16(),
                    retry_after,
                }
            }
            ExchangeResult::Failed(e) => {
                attempt.status = AttemptStatus::Failed;
                attempt.error = Some(e.to_string());
                Sent::TransportError
            }
        };
        attempt.ended_at = ended;
        attempt.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        Ok((attempt, sent, plan))
    }
}

/// A target's own timeout, capped by the dispatcher's longest.
fn timeout_of(target: &Target, max: Duration) -> Duration {
    target.timeout.min(max)
}
