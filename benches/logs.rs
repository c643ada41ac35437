//! The logs API's listing against its floor, side by side in one run.
//!
//! - `list/logs_api`: `GET /logs/webhooks?limit=50` through `LogsApi::handle` as a client admin
//!   (route, parse filters, scope, store query, authorize each item, redact, JSON).
//! - `list/store_query_floor`: the `Store::jobs` query alone (the least any listing does).
//! - `list/store_plus_json_value`: the obvious alternative: the same query and a plain
//!   `serde_json::json!` rendering of the same fields and payloads, with no authorization or
//!   redaction.
//!
//! The issue sets no speed goal; the ratios show what routing, authorization, redaction and
//! JSON cost on top of the query. The futures never wait (MemoryStore), so they are polled to
//! completion without a runtime.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use agent_webhooks::http;
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    Dispatcher, Job, JobQuery, MemoryStore, NewJob, Outbox, SeededRandom, Store, Target, TargetRef,
    TargetResolver, Transport, TransportError, Unresolved,
};
use agent_webhooks::{AccessRole, Principal, Scope, TenantId};
use async_trait::async_trait;
use criterion::{Criterion, criterion_group};

mod support;

fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a bench future waited"),
    }
}

#[derive(Debug)]
struct Unused;

#[async_trait]
impl Transport for Unused {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        Ok(http::Response::new(Vec::new()))
    }
}

#[async_trait]
impl TargetResolver for Unused {
    async fn resolve(&self, _: &Job) -> Result<Target, Unresolved> {
        Err(Unresolved("unused".into()))
    }
}

struct Setup {
    api: LogsApi,
    store: Arc<dyn Store>,
    admin: Principal,
}

fn setup() -> Setup {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let outbox = Outbox::new(store.clone()).with_random(Arc::new(SeededRandom::new(3)));
    let target = TargetRef::new("assistant:a1").unwrap();
    for i in 0..2000u32 {
        let tenant = TenantId::new(if i % 2 == 0 { "acme" } else { "globex" }).unwrap();
        let payload = serde_json::json!({"message": {"type": "status-update", "status": "in-progress",
            "call": {"id": format!("call_{i}")},
            "assistant": {"name": "support", "server": {"url": "https://hooks.example.com/vapi", "secret": "whsec_x"}}}});
        let new = NewJob::new(
            tenant.clone(),
            "status-update",
            target.clone(),
            payload.to_string(),
        )
        .call_id(format!("call_{i}"));
        now(outbox.enqueue(&Scope::tenant(tenant), new)).unwrap();
    }
    let dispatcher = Dispatcher::builder(store.clone(), Arc::new(Unused), Arc::new(Unused))
        .build()
        .unwrap();
    let admin = Principal::new(
        TenantId::new("acme").unwrap(),
        AccessRole::ClientAdmin,
        "ann",
    )
    .unwrap();
    Setup {
        api: LogsApi::new(outbox, Arc::new(dispatcher)),
        store,
        admin,
    }
}

fn via_api(s: &Setup, request: &http::Request<Vec<u8>>) -> usize {
    let response = now(s.api.handle(&s.admin, request));
    assert_eq!(response.status(), 200);
    response.body().len()
}

fn query_only(s: &Setup) -> usize {
    let scope = Scope::tenant(s.admin.tenant().clone());
    now(s.store.jobs(&scope, &JobQuery::new().limit(50)))
        .unwrap()
        .items
        .len()
}

fn with_json_value(s: &Setup) -> usize {
    let scope = Scope::tenant(s.admin.tenant().clone());
    let page = now(s.store.jobs(&scope, &JobQuery::new().limit(50))).unwrap();
    let items: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|j| {
            serde_json::json!({"id": j.id.as_str(), "tenant": j.tenant.as_str(),
                "event_type": j.event_type, "call_id": j.call_id, "target": j.target.as_str(),
                "status": j.status.as_str(), "attempts": j.attempts,
                "created_at": j.created_at.as_unix_millis(),
                "payload": serde_json::from_slice::<serde_json::Value>(&j.payload).ok()})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"items": items}))
        .unwrap()
        .len()
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let request = http::Request::get("/logs/webhooks?limit=50")
        .body(Vec::new())
        .unwrap();
    let mut g = c.benchmark_group("list");
    g.bench_function("logs_api", |b| b.iter(|| black_box(via_api(&s, &request))));
    g.bench_function("store_query_floor", |b| {
        b.iter(|| black_box(query_only(&s)))
    });
    g.bench_function("store_plus_json_value", |b| {
        b.iter(|| black_box(with_json_value(&s)))
    });
    g.finish();
}

fn summary() {
    let s = setup();
    let request = http::Request::get("/logs/webhooks?limit=50")
        .body(Vec::new())
        .unwrap();
    let medians = support::compare(
        "logs list: 50 jobs of one tenant out of 2000",
        vec![
            (
                "Store::jobs alone (floor)",
                Box::new(|| {
                    black_box(query_only(&s));
                }),
            ),
            (
                "Store::jobs + serde_json::json! (alternative)",
                Box::new(|| {
                    black_box(with_json_value(&s));
                }),
            ),
            (
                "LogsApi::handle GET /logs/webhooks",
                Box::new(|| {
                    black_box(via_api(&s, &request));
                }),
            ),
        ],
    );
    println!(
        "  logs API list: {:.1} us per page of 50; ratio to query floor = {:.2}, to json! alternative = {:.2}",
        medians[2] / 1000.0,
        medians[2] / medians[0],
        medians[2] / medians[1]
    );
}

criterion_group!(logs, benches);

fn main() {
    logs();
    Criterion::default().configure_from_args().final_summary();
    if support::is_bench_run() {
        summary();
    }
}
