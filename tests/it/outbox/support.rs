//! Test doubles for the outbox: a scripted transport, a target table, a recording observer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::http::{self, HeaderMap, HeaderValue};
use agent_webhooks::outbox::{
    Attempt, AttemptQuery, Clock, Dispatcher, DispatcherBuilder, Job, JobId, JobStatus, Lease,
    ManualClock, MemoryStore, NewJob, Observer, Outbox, RetryPlan, SeededRandom, Store, Target,
    TargetRef, TargetResolver, TargetState, Timestamp, Transport, TransportError,
    TransportErrorKind, Unresolved,
};
use agent_webhooks::{Scope, Signer, TenantId, Verifier};
use async_trait::async_trait;

/// 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp::from_unix_seconds(1_767_225_600);

pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

pub fn scope(name: &str) -> Scope {
    Scope::tenant(tenant(name))
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    WithHeader(u16, &'static str, String),
    Body(u16, Vec<u8>),
    Fail(TransportErrorKind),
}

/// What the transport received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Timestamp,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

/// Replies from a script, then the default forever; records every request.
#[derive(Debug)]
pub struct Scripted {
    clock: ManualClock,
    script: Mutex<VecDeque<Reply>>,
    default: Reply,
    latency: Duration,
    received: Mutex<Vec<Received>>,
}

impl Scripted {
    pub fn new(clock: &ManualClock, default: Reply) -> Self {
        Scripted {
            clock: clock.clone(),
            script: Mutex::new(VecDeque::new()),
            default,
            latency: Duration::ZERO,
            received: Mutex::new(Vec::new()),
        }
    }

    pub fn then(self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.script.lock().unwrap().extend(replies);
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

#[async_trait]
impl Transport for Scripted {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let (parts, body) = request.into_parts();
        self.received.lock().unwrap().push(Received {
            at: self.clock.now(),
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body,
            timeout,
        });
        self.clock.advance(self.latency);
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.default.clone());
        let response = |status: u16, body: Vec<u8>| {
            let mut r = http::Response::new(body);
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
            r
        };
        match reply {
            Reply::Status(s) => Ok(response(s, Vec::new())),
            Reply::Body(s, body) => Ok(response(s, body)),
            Reply::WithHeader(s, name, value) => {
                let mut r = response(s, Vec::new());
                r.headers_mut()
                    .insert(name, HeaderValue::from_str(&value).unwrap());
                Ok(r)
            }
            Reply::Fail(kind) => Err(TransportError::new(kind, "scripted failure")),
        }
    }
}

/// Target references to targets; changeable while jobs run.
#[derive(Debug, Default)]
pub struct Targets(Mutex<HashMap<String, Target>>);

impl Targets {
    pub fn with(self, reference: &str, target: Target) -> Self {
        self.set(reference, target);
        self
    }

    pub fn set(&self, reference: &str, target: Target) {
        self.0.lock().unwrap().insert(reference.into(), target);
    }
}

#[async_trait]
impl TargetResolver for Targets {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        self.0
            .lock()
            .unwrap()
            .get(job.target.as_str())
            .cloned()
            .ok_or_else(|| Unresolved(format!("no server for `{}`", job.target)))
    }
}

pub fn target(url: &str) -> Target {
    Target::new(url.parse().unwrap(), "assistant")
}

/// The Standard Webhooks test secret (vector A).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn signer() -> Arc<Signer> {
    Arc::new(Signer::new(SECRET.parse().unwrap()))
}

pub fn verifier() -> Verifier {
    Verifier::new(SECRET.parse().unwrap())
}

/// Counts what the dispatcher reports.
#[derive(Debug, Default)]
pub struct Recorder {
    pub started: Mutex<Vec<JobId>>,
    pub finished: Mutex<Vec<Attempt>>,
    pub fenced: Mutex<Vec<Lease>>,
    pub disabled: Mutex<Vec<TargetState>>,
    pub breakers: Mutex<Vec<BreakerSeen>>,
}

impl Observer for Recorder {
    fn attempt_started(
        &self,
        job: &Job,
        _attempt: &agent_webhooks::outbox::AttemptId,
        _trigger: agent_webhooks::outbox::Trigger,
    ) {
        self.started.lock().unwrap().push(job.id.clone());
    }
    fn attempt_finished(&self, attempt: &Attempt) {
        self.finished.lock().unwrap().push(attempt.clone());
    }
    fn fenced_out(&self, lease: &Lease) {
        self.fenced.lock().unwrap().push(lease.clone());
    }
    fn target_disabled(&self, target: &TargetState) {
        self.disabled.lock().unwrap().push(target.clone());
    }
    fn breaker_changed(&self, change: &agent_webhooks::observe::BreakerChange<'_>) {
        self.breakers.lock().unwrap().push(BreakerSeen {
            change: (change.from.as_str(), change.to.as_str()),
            failures: change.failures,
            open_until: change.open_until,
        });
    }
}

/// What the observer was told of a breaker change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSeen {
    /// From which phase to which (`closed`, `open`, `half_open`).
    pub change: (&'static str, &'static str),
    /// Consecutive failures when it changed.
    pub failures: u32,
    /// Until when it defers (`None`: closed).
    pub open_until: Option<Timestamp>,
}

/// A memory store, an outbox and the parts of a dispatcher, on a manual clock at [`T0`].
pub struct Rig {
    pub clock: ManualClock,
    pub store: Arc<MemoryStore>,
    pub outbox: Outbox,
    pub targets: Arc<Targets>,
    pub observer: Arc<Recorder>,
}

impl Rig {
    pub fn new() -> Self {
        let clock = ManualClock::new(T0);
        let store = Arc::new(MemoryStore::new());
        let outbox = Outbox::new(store.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_random(Arc::new(SeededRandom::new(1)));
        let targets = Arc::new(
            Targets::default().with("assistant:a1", target("https://hooks.example.com/a1")),
        );
        Rig {
            clock,
            store,
            outbox,
            targets,
            observer: Arc::new(Recorder::default()),
        }
    }

    pub fn dispatcher(&self, transport: Arc<dyn Transport>) -> DispatcherBuilder {
        Dispatcher::builder(self.store.clone(), transport, self.targets.clone())
            .clock(Arc::new(self.clock.clone()))
            .random(Arc::new(SeededRandom::new(2)))
            .observer(self.observer.clone())
            .plan(
                RetryPlan::builder()
                    .schedule([5, 300, 1800, 7200, 18000, 36000, 36000].map(Duration::from_secs))
                    .build()
                    .unwrap(),
            )
    }

    pub async fn enqueue(&self, tenant_name: &str, event: &str, target_ref: &str) -> Job {
        let job = NewJob::new(
            tenant(tenant_name),
            event,
            TargetRef::new(target_ref).unwrap(),
            format!(r#"{{"message":{{"type":"{event}"}}}}"#).into_bytes(),
        );
        self.outbox
            .enqueue(&scope(tenant_name), job)
            .await
            .unwrap()
            .job
    }

    pub async fn job(&self, id: &JobId) -> Job {
        self.store
            .job(&Scope::AllTenants, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The job's attempts, oldest first.
    pub async fn attempts(&self, id: &JobId) -> Vec<Attempt> {
        let page = self
            .store
            .attempts(
                &Scope::AllTenants,
                &AttemptQuery::new().job(id.clone()).limit(1000),
            )
            .await
            .unwrap();
        page.items.into_iter().rev().collect()
    }

    /// Runs the dispatcher at each due time until the job is final (at most `max` rounds).
    pub async fn drive(&self, dispatcher: &Dispatcher, id: &JobId, max: usize) -> Job {
        for _ in 0..max {
            let job = self.job(id).await;
            if job.status.is_final() {
                return job;
            }
            if let Some(at) = job.next_attempt_at {
                if at > self.clock.now() {
                    self.clock.set(at);
                }
            }
            dispatcher.run_once().await.unwrap();
        }
        let job = self.job(id).await;
        assert!(job.status != JobStatus::InFlight);
        job
    }
}
