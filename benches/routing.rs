//! Per-attempt routing and signing, side by side with their floors in one run.
//!
//! - `resolve`: a job's current target through `DirectoryTargets` (the directory's surfaces
//!   composed and read as a cascade at every attempt, so a restart or a config change needs
//!   nothing re-registered) against `CascadeTargets` (a cascade parsed once and held in memory)
//!   and the floor, a `HashMap` lookup cloning a prepared `Target`.
//! - `sign`: the headers of one attempt for each receiver-compatible scheme against Standard
//!   Webhooks and the floor, one bare HMAC-SHA256 over the same body.
//!
//! The futures never wait (in-memory directory), so they are polled without a runtime.

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use agent_webhooks::directory::{DirectoryTargets, MemoryDirectory, Route, Surface};
use agent_webhooks::outbox::{
    CascadeTargets, Job, JobId, JobStatus, Target, TargetResolver, Timestamp,
};
use agent_webhooks::sign::{Message, Scheme, SchemeKind};
use agent_webhooks::{Cascade, TenantId};
use criterion::{Criterion, criterion_group};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

mod support;

fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a bench future waited"),
    }
}

const BODY: &[u8] = br#"{"message":{"type":"end-of-call-report","endedReason":"customer-ended-call","call":{"id":"call_123"},"artifact":{"transcript":"AI: Hello, how can I help?\nUser: I would like to book a table for two tonight at eight."}}}"#;

struct Fixture {
    job: Job,
    by_directory: DirectoryTargets,
    by_cascade: CascadeTargets,
    floor: HashMap<(TenantId, agent_webhooks::outbox::TargetRef), Target>,
}

fn fixture() -> Fixture {
    let acme = TenantId::new("acme").unwrap();
    let assistant = serde_json::json!({"server": {"url": "https://hooks.acme.example/vapi", "timeoutSeconds": 10,
        "headers": {"X-Env": "prod"}, "backoffPlan": {"type": "exponential", "maxRetries": 3, "baseDelaySeconds": 1}}});
    let phone = serde_json::json!({"server": {"url": "https://hooks.acme.example/phone"}});
    let account = serde_json::json!({"server": {"url": "https://hooks.acme.example/account"}});
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(&acme, Surface::Assistant, "asst_1", assistant.clone())
        .unwrap();
    directory
        .insert(&acme, Surface::PhoneNumber, "pn_1", phone.clone())
        .unwrap();
    directory
        .insert(&acme, Surface::Account, "", account.clone())
        .unwrap();
    let route = Route::new()
        .assistant("asst_1")
        .unwrap()
        .phone_number("pn_1")
        .unwrap();
    let target_ref = route.to_target_ref().unwrap();
    let at = Timestamp::from_unix_millis(1_767_225_600_000);
    let job = Job {
        id: JobId::generate(at, 1),
        tenant: acme.clone(),
        event_type: "end-of-call-report".into(),
        call_id: None,
        payload: Arc::from(BODY),
        target: target_ref.clone(),
        status: JobStatus::Pending,
        attempts: 0,
        step: 0,
        next_attempt_at: Some(at),
        created_at: at,
        updated_at: at,
        idempotency_key: None,
        payload_state: agent_webhooks::outbox::PayloadState::Kept,
    };
    let by_directory = DirectoryTargets::new(directory);
    let by_cascade = CascadeTargets::new();
    let cascade = Cascade::from_value(
        serde_json::json!({"assistant": assistant, "phoneNumber": phone, "account": account}),
    )
    .unwrap();
    by_cascade.insert(acme.clone(), target_ref.clone(), cascade, None);
    let mut floor = HashMap::new();
    floor.insert(
        (acme.clone(), target_ref.clone()),
        Target::new(
            "https://hooks.acme.example/vapi".parse().unwrap(),
            "assistant.server",
        ),
    );

    Fixture {
        job,
        by_directory,
        by_cascade,
        floor,
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    c.bench_function("resolve/directory", |b| {
        b.iter(|| black_box(now(f.by_directory.resolve(&f.job)).unwrap()))
    });
    c.bench_function("resolve/cascade_targets", |b| {
        b.iter(|| black_box(now(f.by_cascade.resolve(&f.job)).unwrap()))
    });
}

fn summary() {
    let Fixture {
        job,
        by_directory,
        by_cascade,
        floor,
    } = fixture();
    let resolve = support::compare(
        "resolve one job's current target",
        vec![
            (
                "HashMap lookup of a prepared Target (floor)",
                Box::new(|| {
                    let _ = black_box(
                        floor
                            .get(&(job.tenant.clone(), job.target.clone()))
                            .cloned()
                            .unwrap(),
                    );
                }),
            ),
            (
                "CascadeTargets (cascade held in memory)",
                Box::new(|| {
                    let _ = black_box(now(by_cascade.resolve(&job)).unwrap());
                }),
            ),
            (
                "DirectoryTargets (surfaces read at each attempt)",
                Box::new(|| {
                    let _ = black_box(now(by_directory.resolve(&job)).unwrap());
                }),
            ),
        ],
    );
    println!(
        "  directory resolve = {:.2} us per attempt; ratio to CascadeTargets = {:.2}",
        resolve[2] / 1000.0,
        resolve[2] / resolve[1]
    );

    let message = Message::new(
        "msg_2Yh3Zd9kLq",
        1_767_225_600_123,
        "https://hooks.acme.example/vapi",
        BODY,
    );
    let schemes: Vec<(SchemeKind, Scheme)> = SchemeKind::ALL
        .into_iter()
        .map(|k| {
            let secret = if k == SchemeKind::Standard {
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            } else {
                "s3cret_key_1234567890"
            };
            (k, Scheme::from_secret(k, secret).unwrap())
        })
        .collect();
    let names: Vec<String> = schemes
        .iter()
        .map(|(k, _)| format!("Scheme::sign {k}"))
        .collect();
    let mut cases: Vec<support::Case<'_>> = vec![(
        "bare HMAC-SHA256 of the body (floor)",
        Box::new(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret_key_1234567890").unwrap();
            mac.update(BODY);
            black_box(mac.finalize());
        }),
    )];
    for ((_, scheme), name) in schemes.iter().zip(&names) {
        let message = &message;
        cases.push((
            name.as_str(),
            Box::new(move || {
                black_box(scheme.sign(message).unwrap());
            }),
        ));
    }
    support::compare("sign one attempt, per scheme", cases);
}

criterion_group!(routing, benches);

fn main() {
    routing();
    Criterion::default().configure_from_args().final_summary();
    if support::is_bench_run() {
        summary();
    }
}
