//! The write side of the outbox: [`NewJob`] and [`Outbox`] (enqueue, requeue, recover).

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::event::Envelope;
use crate::outbox::error::OutboxError;
use crate::outbox::io::{Clock, OsRandom, Random, SystemClock};
use crate::outbox::model::{Job, JobId, JobStatus, PayloadState, TargetRef, Timestamp, check_text};
use crate::outbox::store::{Inserted, Recovered, Store};
use crate::tenant::{Scope, TenantId};

/// The default idempotency window: a key returns its first job for one day.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The longest window [`Outbox::recover`] accepts: 14 days.
pub const MAX_RECOVER_WINDOW: Duration = Duration::from_secs(14 * 24 * 3600);
/// The most jobs one [`Outbox::recover`] requeues.
pub const MAX_RECOVER_JOBS: usize = 10_000;
/// A job to enqueue.
///
/// ```
/// use agent_webhooks::TenantId;
/// use agent_webhooks::outbox::{NewJob, TargetRef};
/// let job = NewJob::new(
///     TenantId::new("acme")?,
///     "end-of-call-report",
///     TargetRef::new("assistant:asst_1")?,
///     br#"{"message":{"type":"end-of-call-report"}}"#.to_vec(),
/// )
/// .call_id("call_123")
/// .idempotency_key("call_123:eocr");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NewJob {
    tenant: TenantId,
    event_type: String,
    target: TargetRef,
    payload: Vec<u8>,
    call_id: Option<String>,
    idempotency_key: Option<String>,
}

impl NewJob {
    /// A job of `tenant` for `event_type`, to `target`, with the exact body to send.
    pub fn new(
        tenant: TenantId,
        event_type: impl Into<String>,
        target: TargetRef,
        payload: impl Into<Vec<u8>>,
    ) -> Self {
        NewJob {
            tenant,
            event_type: event_type.into(),
            target,
            payload: payload.into(),
            call_id: None,
            idempotency_key: None,
        }
    }

    /// A job carrying `envelope` exactly as it serializes (the bytes that are signed and sent),
    /// with its event type and its call's id.
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use agent_webhooks::{Call, CallStatus, Envelope, Event, EventBody, Profile, Scope};
    /// use agent_webhooks::{StatusUpdate, TenantId};
    /// use agent_webhooks::outbox::{MemoryStore, NewJob, Outbox, TargetRef};
    ///
    /// let event = Event::new(EventBody::StatusUpdate(StatusUpdate::new(CallStatus::Ringing)))
    ///     .with_call(Call::new("call_123"));
    /// let envelope = Envelope::new(event, Profile::Vapi);
    /// let acme = TenantId::new("acme")?;
    /// let new = NewJob::from_envelope(acme.clone(), TargetRef::new("call:call_123")?, &envelope);
    /// let job = Outbox::new(Arc::new(MemoryStore::new())).enqueue(&Scope::tenant(acme), new).await?.job;
    /// assert_eq!((job.event_type.as_str(), job.call_id.as_deref()), ("status-update", Some("call_123")));
    /// assert_eq!(&job.payload[..], &envelope.to_vec()[..]);
    /// # Ok(()) }
    /// # let mut f = std::pin::pin!(demo());
    /// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
    /// ```
    pub fn from_envelope(tenant: TenantId, target: TargetRef, envelope: &Envelope) -> Self {
        let event = envelope.event();
        let new = NewJob::new(tenant, event.event_type(), target, envelope.to_vec());
        match event.call.as_ref().and_then(|c| c.id.clone()) {
            Some(id) => new.call_id(id),
            None => new,
        }
    }

    /// The call the event is about.
    pub fn call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }

    /// A key that makes enqueueing idempotent within the window, per tenant.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// The write side of the outbox: enqueue, requeue, recover.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use agent_webhooks::{Scope, TenantId};
/// use agent_webhooks::outbox::{MemoryStore, NewJob, Outbox, TargetRef, JobStatus};
///
/// let outbox = Outbox::new(Arc::new(MemoryStore::new()));
/// let acme = TenantId::new("acme")?;
/// let job = NewJob::new(acme.clone(), "status-update", TargetRef::new("assistant:a1")?, b"{}".to_vec());
/// let stored = outbox.enqueue(&Scope::tenant(acme), job).await?;   // written before dispatch
/// assert_eq!(stored.job.status, JobStatus::Pending);
/// assert!(stored.created);
/// # Ok(()) }
/// # let mut f = std::pin::pin!(demo());
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
/// ```
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    idempotency_window: Duration,
}

impl Outbox {
    /// An outbox over `store`, with the system clock and ids whose random part comes from the
    /// operating system ([`OsRandom`](crate::outbox::OsRandom)).
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Outbox {
            store,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
        }
    }

    /// Uses `clock` for creation and due times.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `random` for the random part of job ids.
    #[must_use]
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// How long an idempotency key returns its first job (default one day).
    #[must_use]
    pub fn with_idempotency_window(mut self, window: Duration) -> Self {
        self.idempotency_window = window;
        self
    }

    /// The store, for listing and inspecting.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Writes a job, due now. Returns once it is stored; nothing is sent before.
    ///
    /// With an idempotency key used by the same tenant within the window, the first job is
    /// returned (`created: false`) and nothing new is stored.
    ///
    /// # Errors
    /// An [`OutboxError`]: `Invalid` for an empty or overlong event type, call id or key;
    /// `IdempotencyConflict` when the key's first job differs; `OutOfScope` when the tenant is
    /// outside `scope`; `Backend` when the store fails.
    pub async fn enqueue(&self, scope: &Scope, new: NewJob) -> Result<Inserted> {
        check_text("event type", &new.event_type, 128)?;
        if let Some(c) = &new.call_id {
            check_text("call id", c, 128)?;
        }
        if let Some(k) = &new.idempotency_key {
            check_text("idempotency key", k, 256)?;
        }
        let now = self.clock.now();
        let job = Job {
            id: JobId::generate(now, self.random.next_u64()),
            tenant: new.tenant,
            event_type: new.event_type,
            call_id: new.call_id,
            payload: Arc::from(new.payload),
            target: new.target,
            status: JobStatus::Pending,
            attempts: 0,
            step: 0,
            next_attempt_at: Some(now),
            created_at: now,
            updated_at: now,
            idempotency_key: new.idempotency_key,
            payload_state: PayloadState::Kept,
        };
        Ok(self
            .store
            .insert(scope, job, self.idempotency_window)
            .await?)
    }

    /// Moves a failed or skipped job back to pending, due now, its retry plan restarted.
    ///
    /// # Errors
    /// [`OutboxError::NotRequeueable`] for a pending, in-flight or succeeded job;
    /// [`OutboxError::PayloadRemoved`] when its tenant's data policy took its payload out;
    /// [`OutboxError::NotFound`] when it is not in `scope`.
    pub async fn requeue(&self, scope: &Scope, id: &JobId) -> Result<Job> {
        Ok(self.store.requeue(scope, id, self.clock.now()).await?)
    }

    /// Requeues the failed jobs in `scope` created in `[since, until)`: at most
    /// [`MAX_RECOVER_JOBS`], oldest first; `capped` says whether more matched.
    ///
    /// # Errors
    /// [`OutboxError::InvalidWindow`] when `until` is not after `since` or the window is longer
    /// than [`MAX_RECOVER_WINDOW`].
    pub async fn recover(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Recovered> {
        let window = until.duration_since(since);
        if window.is_zero() || window > MAX_RECOVER_WINDOW {
            return Err(OutboxError::InvalidWindow {
                window,
                max: MAX_RECOVER_WINDOW,
            }
            .into());
        }
        Ok(self
            .store
            .recover(scope, since, until, self.clock.now(), MAX_RECOVER_JOBS)
            .await?)
    }

    /// Enables a disabled target again (after a 410 or auto-disable); requeue its skipped or
    /// failed jobs afterwards.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`] when nothing is recorded for the target in `scope`.
    pub async fn enable_target(&self, scope: &Scope, tenant: &TenantId, url: &str) -> Result<()> {
        Ok(self.store.enable_target(scope, tenant, url).await?)
    }
}
