//! Outbox throughput and dispatcher overhead, each side by side with its floor in one run.
//!
//! - `cycle/memory_store`: enqueue -> claim -> finish on `MemoryStore` (goal >= 200k cycles/s),
//!   against the floor `cycle/mutex_hashmap_floor` (insert, lookup, update and remove a job in a
//!   `Mutex<HashMap>`: the least any locked store does).
//! - `attempt/dispatcher`: one attempt through `Dispatcher::run_once` (claim, resolve, check,
//!   sign, send, record), against `attempt/transport_direct` (building the same request and
//!   calling the transport). Goal: overhead < 10 us per attempt.
//!
//! After criterion, `support::compare` times each pair interleaved and prints the medians and
//! ratios. The futures here never wait (the store and transport answer at
//! once), so they are polled to completion without a runtime.

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use agent_webhooks::http;
use agent_webhooks::outbox::{
    Attempt, AttemptId, AttemptStatus, Dispatcher, Finish, Job, JobId, JobStatus, MemoryStore,
    NewJob, Next, Outbox, PayloadState, SeededRandom, Store, Target, TargetRef, TargetResolver,
    Timestamp, Transport, TransportError, Trigger, Unresolved,
};
use agent_webhooks::{Scope, Signer, TenantId};
use async_trait::async_trait;
use criterion::{Criterion, criterion_group};

mod support;

/// Polls a future that never waits; panics if it does.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a bench future waited"),
    }
}

const PAYLOAD: &[u8] =
    br#"{"message":{"type":"status-update","status":"in-progress","call":{"id":"call_123"}}}"#;
const LEASE: Duration = Duration::from_secs(60);

fn job(n: u64, tenant: &TenantId, target: &TargetRef, payload: &Arc<[u8]>) -> Job {
    let at = Timestamp::from_unix_millis(1_767_225_600_000);
    Job {
        id: JobId::generate(at, n),
        tenant: tenant.clone(),
        event_type: "status-update".into(),
        call_id: Some("call_123".into()),
        payload: payload.clone(),
        target: target.clone(),
        status: JobStatus::Pending,
        attempts: 0,
        step: 0,
        next_attempt_at: Some(at),
        created_at: at,
        updated_at: at,
        idempotency_key: None,
        payload_state: PayloadState::Kept,
    }
}

fn attempt_for(job: &Job, n: u64) -> Attempt {
    Attempt {
        id: AttemptId::generate(job.created_at, n),
        job_id: job.id.clone(),
        tenant: job.tenant.clone(),
        trigger: Trigger::Scheduled,
        url: Some("https://hooks.example.com/a1".into()),
        level: Some("assistant".into()),
        status: AttemptStatus::Succeeded,
        status_code: Some(200),
        error: None,
        latency_ms: 1,
        event_type: job.event_type.clone(),
        number: job.attempts,
        next_attempt_at: None,
        response_body: String::new(),
        response_truncated: false,
        started_at: job.created_at,
        ended_at: job.created_at,
    }
}

/// `iters` enqueue -> claim -> finish cycles on a fresh store; the time of the cycles only.
fn memory_cycles(iters: u64) -> Duration {
    let store = MemoryStore::new();
    let tenant = TenantId::new("acme").unwrap();
    let target = TargetRef::new("assistant:a1").unwrap();
    let payload: Arc<[u8]> = Arc::from(PAYLOAD);
    let scope = Scope::AllTenants;
    let start = Instant::now();
    for n in 0..iters {
        let j = job(n, &tenant, &target, &payload);
        let at = j.created_at;
        now(store.insert(&scope, j, Duration::ZERO)).unwrap();
        let c = now(store.claim(&scope, at, LEASE, 1))
            .unwrap()
            .pop()
            .unwrap();
        let a = attempt_for(&c.job, n);
        black_box(
            now(store.finish(&scope, &c.lease, Finish::new(a, Next::Succeeded, None))).unwrap(),
        );
    }
    let elapsed = start.elapsed();
    drop(black_box(store));
    elapsed
}

/// The floor: insert, look up, update and remove the same job in a `Mutex<HashMap>`.
fn floor_cycles(iters: u64) -> Duration {
    let map: Mutex<HashMap<JobId, Job>> = Mutex::new(HashMap::new());
    let tenant = TenantId::new("acme").unwrap();
    let target = TargetRef::new("assistant:a1").unwrap();
    let payload: Arc<[u8]> = Arc::from(PAYLOAD);
    let start = Instant::now();
    for n in 0..iters {
        let j = job(n, &tenant, &target, &payload);
        let id = j.id.clone();
        map.lock().unwrap().insert(id.clone(), j);
        let claimed = {
            let mut m = map.lock().unwrap();
            let j = m.get_mut(&id).unwrap();
            j.status = JobStatus::InFlight;
            j.clone()
        };
        let a = attempt_for(&claimed, n);
        black_box(map.lock().unwrap().remove(&a.job_id));
    }
    start.elapsed()
}

#[derive(Debug)]
struct Ok200;

#[async_trait]
impl Transport for Ok200 {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        black_box(&request);
        Ok(http::Response::new(Vec::new()))
    }
}

#[derive(Debug)]
struct OneTarget(Target);

#[async_trait]
impl TargetResolver for OneTarget {
    async fn resolve(&self, _job: &Job) -> Result<Target, Unresolved> {
        Ok(self.0.clone())
    }
}

fn signer() -> Signer {
    Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap())
}

fn target() -> Target {
    Target::new("https://hooks.example.com/a1".parse().unwrap(), "assistant")
        .signer(Arc::new(signer()))
}

/// `iters` attempts through the dispatcher (jobs enqueued before the clock starts).
fn dispatcher_attempts(iters: u64) -> Duration {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let outbox = Outbox::new(store.clone()).with_random(Arc::new(SeededRandom::new(1)));
    let tenant = TenantId::new("acme").unwrap();
    let scope = Scope::tenant(tenant.clone());
    let target_ref = TargetRef::new("assistant:a1").unwrap();
    for _ in 0..iters {
        let new = NewJob::new(
            tenant.clone(),
            "status-update",
            target_ref.clone(),
            PAYLOAD.to_vec(),
        );
        now(outbox.enqueue(&scope, new)).unwrap();
    }
    let dispatcher = Dispatcher::builder(store, Arc::new(Ok200), Arc::new(OneTarget(target())))
        .random(Arc::new(SeededRandom::new(2)))
        .concurrency(64)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut sent = 0;
    while sent < iters {
        let tick = now(dispatcher.run_once()).unwrap();
        assert!(tick.claimed > 0, "jobs were not due");
        sent += tick.succeeded as u64;
    }
    start.elapsed()
}

/// `iters` direct transport calls with the same request the dispatcher would build.
fn direct_attempts(iters: u64) -> Duration {
    let transport = Ok200;
    let signer = signer();
    let id = JobId::generate(Timestamp::from_unix_millis(0), 1);
    let start = Instant::now();
    for n in 0..iters {
        let mut request = http::Request::post("https://hooks.example.com/a1")
            .body(PAYLOAD.to_vec())
            .unwrap();
        let h = request.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        h.insert(
            "webhook-id",
            http::HeaderValue::from_str(id.as_str()).unwrap(),
        );
        h.insert("webhook-timestamp", http::HeaderValue::from(n));
        h.insert(
            "webhook-signature",
            http::HeaderValue::from_str(&signer.sign(id.as_str(), n, PAYLOAD).unwrap()).unwrap(),
        );
        black_box(now(transport.send(request, Duration::from_secs(20))).unwrap());
    }
    start.elapsed()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cycle");
    g.bench_function("memory_store", |b| b.iter_custom(memory_cycles));
    g.bench_function("mutex_hashmap_floor", |b| b.iter_custom(floor_cycles));
    g.finish();
    let mut g = c.benchmark_group("attempt");
    g.bench_function("dispatcher", |b| b.iter_custom(dispatcher_attempts));
    g.bench_function("transport_direct", |b| b.iter_custom(direct_attempts));
    g.finish();
}

fn summary() {
    // Cycle: one enqueue -> claim -> finish per call, on one store that grows as it would.
    let store = MemoryStore::new();
    let floor_map: Mutex<HashMap<JobId, Job>> = Mutex::new(HashMap::new());
    let tenant = TenantId::new("acme").unwrap();
    let target_ref = TargetRef::new("assistant:a1").unwrap();
    let payload: Arc<[u8]> = Arc::from(PAYLOAD);
    let (mut n, mut m) = (0u64, 0u64);
    let cycle = support::compare(
        "outbox cycle: enqueue -> claim -> finish",
        vec![
            (
                "Mutex<HashMap> insert/update/remove (floor)",
                Box::new(|| {
                    m += 1;
                    let j = job(m, &tenant, &target_ref, &payload);
                    let id = j.id.clone();
                    floor_map.lock().unwrap().insert(id.clone(), j);
                    let claimed = {
                        let mut map = floor_map.lock().unwrap();
                        let j = map.get_mut(&id).unwrap();
                        j.status = JobStatus::InFlight;
                        j.clone()
                    };
                    let a = attempt_for(&claimed, m);
                    black_box(floor_map.lock().unwrap().remove(&a.job_id));
                }),
            ),
            (
                "MemoryStore",
                Box::new(|| {
                    n += 1;
                    let scope = Scope::AllTenants;
                    let j = job(n, &tenant, &target_ref, &payload);
                    let at = j.created_at;
                    now(store.insert(&scope, j, Duration::ZERO)).unwrap();
                    let c = now(store.claim(&scope, at, LEASE, 1))
                        .unwrap()
                        .pop()
                        .unwrap();
                    let a = attempt_for(&c.job, n);
                    black_box(
                        now(store.finish(&scope, &c.lease, Finish::new(a, Next::Succeeded, None)))
                            .unwrap(),
                    );
                }),
            ),
        ],
    );
    println!(
        "  MemoryStore: {:.0} cycles/s (goal >= 200000); ratio to floor = {:.2}",
        1e9 / cycle[1],
        cycle[1] / cycle[0]
    );

    // Attempt: the dispatcher's whole path for one job (enqueue included, so the overhead is
    // an upper bound) against building the same request and calling the transport.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let outbox = Outbox::new(store.clone()).with_random(Arc::new(SeededRandom::new(1)));
    let dispatcher = Dispatcher::builder(store, Arc::new(Ok200), Arc::new(OneTarget(target())))
        .random(Arc::new(SeededRandom::new(2)))
        .build()
        .unwrap();
    let scope = Scope::tenant(tenant.clone());
    let mut k = 0u64;
    let attempt = support::compare(
        "outbox attempt: dispatcher vs transport",
        vec![
            (
                "build request + Transport::send (floor)",
                Box::new(|| {
                    k += 1;
                    black_box(direct_attempts(1));
                }),
            ),
            (
                "enqueue + Dispatcher::run_once (1 attempt)",
                Box::new(|| {
                    let new = NewJob::new(
                        tenant.clone(),
                        "status-update",
                        target_ref.clone(),
                        PAYLOAD.to_vec(),
                    );
                    now(outbox.enqueue(&scope, new)).unwrap();
                    let tick = now(dispatcher.run_once()).unwrap();
                    assert_eq!(tick.succeeded, 1);
                }),
            ),
        ],
    );
    println!(
        "  dispatcher overhead = {:.2} us per attempt (goal < 10 us); ratio = {:.2}",
        (attempt[1] - attempt[0]) / 1000.0,
        attempt[1] / attempt[0]
    );
}

criterion_group!(outbox, benches);

fn main() {
    outbox();
    Criterion::default().configure_from_args().final_summary();
    if support::is_bench_run() {
        summary();
    }
}
