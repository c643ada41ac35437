//! The durable outbox: every server event is written as a [`Job`] before any byte is sent,
//! delivered by a [`Dispatcher`] with retries, and kept with every [`Attempt`] for operators to
//! list, replay and requeue.
//!
//! - **Write before dispatch**: [`Outbox::enqueue`] returns once the [`Store`] has the job.
//!   Delivery is at-least-once; receivers deduplicate on `webhook-id`, which is the job id on
//!   every retry and replay, with a fresh `webhook-timestamp` and signature each time.
//! - **Leases with fencing**: a claim lasts a lease (longer than the longest request timeout,
//!   checked at build time); an expired lease makes the job claimable again, and a late
//!   finisher is fenced out ([`OutboxError::StaleLease`]) while its attempt is still recorded.
//! - **Retry plans**: [`RetryPlan`] (a schedule with bounded jitter, or Vapi's `backoffPlan`);
//!   2xx succeeds, 3xx is a failure and never followed, 410 stops and disables the target,
//!   excluded statuses stop, `Retry-After` on 429/503 is honoured up to a cap.
//! - **Fair shares**: claims take due jobs across tenants round robin, under caps on sends in
//!   flight per tenant and per target ([`ClaimRules`], [`DEFAULT_TENANT_CAP`],
//!   [`DEFAULT_TARGET_CAP`]); a circuit breaker per target defers a failing target's jobs
//!   without spending attempts ([`BreakerState`]); ordered targets deliver a call's events in
//!   enqueue order ([`OrderedTargets`]). An enqueue rings the store's [`Doorbell`], which wakes
//!   an idle dispatcher at once.
//! - **Tenant scope on every store call** ([`Scope`](crate::Scope)): another tenant's job is
//!   *not found*.
//! - **Data lifecycle**: per-tenant retention of finished jobs and payloads, privacy modes
//!   (`full`, `redact`, `metadata-only`) and erasure by call or tenant, applied by a
//!   [`Lifecycle`] step the host schedules ([`DataPolicies`], [`Store::purge`],
//!   [`Store::erase`]).
//! - **Sans-IO core**: time ([`Clock`]), randomness ([`Random`]) and HTTP ([`Transport`]) come
//!   in through small traits; [`ManualClock`] makes every schedule testable to the millisecond.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use agent_webhooks::{Scope, TenantId};
//! use agent_webhooks::outbox::*;
//!
//! #[derive(Debug)]
//! struct Ok200;
//! #[async_trait::async_trait]
//! impl Transport for Ok200 {
//!     async fn send(&self, _: http::Request<Vec<u8>>, _: Duration)
//!         -> Result<http::Response<Vec<u8>>, TransportError> {
//!         Ok(http::Response::new(Vec::new()))
//!     }
//! }
//! #[derive(Debug)]
//! struct OneServer;
//! #[async_trait::async_trait]
//! impl TargetResolver for OneServer {
//!     async fn resolve(&self, _job: &Job) -> Result<Target, Unresolved> {
//!         Ok(Target::new("https://hooks.example.com/vapi".parse().unwrap(), "assistant"))
//!     }
//! }
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let outbox = Outbox::new(store.clone());
//! let dispatcher = Dispatcher::builder(store.clone(), Arc::new(Ok200), Arc::new(OneServer)).build()?;
//!
//! let acme = TenantId::new("acme")?;
//! let scope = Scope::tenant(acme.clone());
//! let job = outbox.enqueue(&scope, NewJob::new(acme, "status-update",
//!     TargetRef::new("assistant:a1")?, br#"{"message":{"type":"status-update"}}"#.to_vec())).await?.job;
//! let tick = dispatcher.run_once().await?;
//! assert_eq!(tick.succeeded, 1);
//! assert_eq!(store.job(&scope, &job.id).await?.unwrap().status, JobStatus::Succeeded);
//! # Ok(()) }
//! # futures_executor_free::run(demo()).unwrap();
//! # mod futures_executor_free {
//! #     pub fn run<F: std::future::Future>(f: F) -> F::Output {
//! #         use std::task::{Context, Poll, Waker};
//! #         let mut f = std::pin::pin!(f);
//! #         let mut cx = Context::from_waker(Waker::noop());
//! #         for _ in 0..1000 { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! #         panic!("the demo did not finish")
//! #     }
//! # }
//! ```

mod dispatch;
mod enqueue;
mod error;
mod io;
mod lifecycle;
mod model;
pub(crate) mod plan;
mod store;
mod target;
mod wake;

/// The hooks live in [`crate::observe`]; re-exported here for the dispatcher's users.
pub use crate::observe::Observer;
/// The transport lives in [`crate::transport`]; re-exported here for the dispatcher's users.
pub use crate::transport::{Transport, TransportError, TransportErrorKind};
pub use dispatch::{
    DEFAULT_BREAKER_COOL_DOWN, DEFAULT_BREAKER_THRESHOLD, Dispatcher, DispatcherBuilder,
    LEASE_MARGIN, MAX_REQUEST_TIMEOUT, Shutdown, Tick,
};
pub use enqueue::{
    DEFAULT_IDEMPOTENCY_WINDOW, MAX_RECOVER_JOBS, MAX_RECOVER_WINDOW, NewJob, Outbox,
};
pub use error::{OutboxError, PlanError};
pub use io::{Clock, ManualClock, OsRandom, Random, SeededRandom, SystemClock};
pub use lifecycle::{
    DEFAULT_JOB_RETENTION, DEFAULT_PAYLOAD_RETENTION, DEFAULT_PURGE_BATCH, DataPolicies,
    DataPolicy, Erase, Erased, JsonPath, Lifecycle, PrivacyMode, Purge, Purged, REDACTED_VALUE,
    Retention,
};
pub(crate) use model::stored_body;
pub use model::{
    Attempt, AttemptId, AttemptQuery, AttemptStatus, Cursor, DEFAULT_PAGE_LIMIT, Job, JobId,
    JobQuery, JobStatus, MAX_ID_LEN, MAX_PAGE_LIMIT, MAX_RESPONSE_BODY, Page, PayloadState,
    TargetRef, Timestamp, Trigger,
};
pub use plan::{
    DEFAULT_RETRY_AFTER_CAP, Decision, MAX_DELAY, MAX_RETRIES, RetryPlan, RetryPlanBuilder,
    parse_retry_after,
};
pub use store::MemoryStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    Backlog, BreakerEvent, BreakerState, ClaimRules, Claimed, DEFAULT_TARGET_CAP,
    DEFAULT_TENANT_CAP, DisabledReason, Finish, Finished, Inserted, Lease, Next, OrderedTargets,
    Recovered, Store, TargetEvent, TargetState,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::{PostgresStore, PostgresStoreBuilder};
pub use target::{CascadeTargets, Sign, Target, TargetResolver, Unresolved, UrlCheck};
pub use wake::{Doorbell, Ticket};
