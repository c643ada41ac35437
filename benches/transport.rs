//! Delivery throughput of the guarded reqwest transport, side by side with a bare reqwest client
//! in one run, both against the same loopback receiver at the same concurrency.
//!
//! - `dispatch/dispatcher_reqwest_transport`: enqueue [`BATCH`] jobs on a `MemoryStore`, then
//!   `Dispatcher::run` delivers them through `ReqwestTransport` (URL check, guarded resolver,
//!   bounded body read, attempt records), [`CONCURRENCY`] in flight.
//! - `dispatch/bare_reqwest`: the same [`BATCH`] POSTs (same body and headers) with a plain
//!   `reqwest::Client`, [`CONCURRENCY`] in flight through `buffer_unordered`.
//!
//! Goal: ours >= 85% of the bare client's throughput. After criterion, `support::compare` times
//! them interleaved, with a third case (the same requests through `ReqwestTransport` alone, no
//! outbox) that splits the cost between the transport and the outbox, and prints the ratios.
//! Our side includes the enqueue of its jobs, so the ratio is a lower bound. Everything talks to
//! 127.0.0.1 only.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_webhooks::guard::Policy;
use agent_webhooks::outbox::{
    Attempt, AttemptStatus, Dispatcher, Job, MemoryStore, NewJob, Observer, Outbox, Shutdown,
    Store, Target, TargetRef, TargetResolver, Transport, Unresolved,
};
use agent_webhooks::reqwest;
use agent_webhooks::transport::ReqwestTransport;
use agent_webhooks::{Scope, TenantId};
use async_trait::async_trait;
use criterion::{Criterion, criterion_group};
use futures_util::StreamExt;
use tokio::runtime::Runtime;

mod support;

/// Jobs (requests) per measured batch.
const BATCH: usize = 256;
/// Sends in flight, on both sides.
const CONCURRENCY: usize = 16;
/// A typical `status-update` envelope of about 1 KB (the size perf-baseline measures).
const PAYLOAD: &[u8] = br#"{"message":{"type":"status-update","status":"in-progress","timestamp":1767225600123,"call":{"id":"call_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4","orgId":"org_7f3e2d1c0b9a","assistantId":"asst_5e4d3c2b1a09","phoneNumberId":"pn_1a2b3c4d5e6f","type":"inboundPhoneCall","status":"in-progress","customer":{"number":"+15551234567","name":"Ada Lovelace"},"createdAt":"2026-01-01T00:00:00.000Z","startedAt":"2026-01-01T00:00:01.250Z"},"artifact":{"messages":[{"role":"system","message":"You are a helpful scheduling assistant for Acme Dental. Be brief and friendly.","time":1767225600000,"secondsFromStart":0},{"role":"bot","message":"Hi, this is Acme Dental. How can I help you today?","time":1767225601250,"secondsFromStart":1.25},{"role":"user","message":"I'd like to move my cleaning appointment to next Tuesday afternoon, if possible.","time":1767225606400,"secondsFromStart":6.4},{"role":"bot","message":"Sure, let me check what we have open next Tuesday afternoon.","time":1767225609800,"secondsFromStart":9.8}]},"phoneNumber":{"id":"pn_1a2b3c4d5e6f","number":"+15557654321"}}}"#;

/// A receiver on 127.0.0.1 that answers every request `200 {"ok":true}` (HTTP/1.1 keep-alive).
async fn receiver() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let _ = black_box(request.into_body().collect().await);
                        Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(
                            hyper::body::Bytes::from_static(br#"{"ok":true}"#),
                        )))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[derive(Debug)]
struct OneTarget(Target);

#[async_trait]
impl TargetResolver for OneTarget {
    async fn resolve(&self, _job: &Job) -> Result<Target, Unresolved> {
        Ok(self.0.clone())
    }
}

/// Triggers the shutdown once `want` attempts are recorded; counts the successes.
#[derive(Debug)]
struct Done {
    want: usize,
    finished: AtomicUsize,
    succeeded: AtomicUsize,
    shutdown: Shutdown,
}

impl Observer for Done {
    fn attempt_finished(&self, attempt: &Attempt) {
        if attempt.status == AttemptStatus::Succeeded {
            self.succeeded.fetch_add(1, Ordering::SeqCst);
        }
        if self.finished.fetch_add(1, Ordering::SeqCst) + 1 == self.want {
            self.shutdown.trigger();
        }
    }
}

struct Bench {
    rt: Runtime,
    url: String,
    ours: Arc<dyn Transport>,
    bare: reqwest::Client,
    /// The dispatcher's URL check: the same development policy as the transport's.
    policy: Arc<Policy>,
}

impl Bench {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = rt.block_on(receiver());
        // Loopback is open only because this is a development policy.
        let policy = Policy::builder()
            .development()
            .dangerous()
            .allow_loopback()
            .build()
            .unwrap();
        let ours = Arc::new(ReqwestTransport::new(policy.clone()).unwrap());
        // The same TLS stack as ours (unused over http://, but reqwest needs a provider).
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let bare = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .http1_only()
            .build()
            .unwrap();
        Bench {
            rt,
            url: format!("http://{addr}/vapi"),
            ours,
            bare,
            policy: Arc::new(policy),
        }
    }

    /// Enqueues and delivers [`BATCH`] jobs through the dispatcher and our transport.
    fn dispatcher_batch(&self) -> Duration {
        self.rt.block_on(async {
            let start = Instant::now();
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let outbox = Outbox::new(store.clone());
            let tenant = TenantId::new("acme").unwrap();
            let scope = Scope::tenant(tenant.clone());
            let target_ref = TargetRef::new("assistant:a1").unwrap();
            for _ in 0..BATCH {
                let new = NewJob::new(
                    tenant.clone(),
                    "status-update",
                    target_ref.clone(),
                    PAYLOAD.to_vec(),
                );
                outbox.enqueue(&scope, new).await.unwrap();
            }
            let done = Arc::new(Done {
                want: BATCH,
                finished: AtomicUsize::new(0),
                succeeded: AtomicUsize::new(0),
                shutdown: Shutdown::new(),
            });
            let target = Target::new(self.url.parse().unwrap(), "assistant");
            let dispatcher =
                Dispatcher::builder(store, self.ours.clone(), Arc::new(OneTarget(target)))
                    .concurrency(CONCURRENCY)
                    .url_check(self.policy.clone())
                    .observer(done.clone())
                    .build()
                    .unwrap();
            let tick = dispatcher.run(&done.shutdown, tokio::time::sleep).await;
            assert_eq!(tick.succeeded, BATCH, "{tick:?}");
            assert_eq!(done.succeeded.load(Ordering::SeqCst), BATCH);
            start.elapsed()
        })
    }

    /// Sends the same [`BATCH`] requests through `ReqwestTransport` alone (no outbox).
    fn transport_batch(&self) -> Duration {
        self.rt.block_on(async {
            let start = Instant::now();
            let ok = futures_util::stream::iter(0..BATCH)
                .map(|n| {
                    let mut request = agent_webhooks::http::Request::post(&self.url)
                        .body(PAYLOAD.to_vec())
                        .unwrap();
                    let h = request.headers_mut();
                    h.insert("content-type", "application/json".parse().unwrap());
                    h.insert("user-agent", "agent-webhooks/0.1.0".parse().unwrap());
                    h.insert("webhook-id", format!("msg_{n:026}").parse().unwrap());
                    h.insert("webhook-timestamp", "1767225600".parse().unwrap());
                    async move {
                        let response = self
                            .ours
                            .send(request, Duration::from_secs(20))
                            .await
                            .unwrap();
                        response.status().is_success()
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .filter(|ok| std::future::ready(*ok))
                .count()
                .await;
            assert_eq!(ok, BATCH);
            start.elapsed()
        })
    }

    /// Sends the same [`BATCH`] requests with the bare client.
    fn bare_batch(&self) -> Duration {
        self.rt.block_on(async {
            let start = Instant::now();
            let ok = futures_util::stream::iter(0..BATCH)
                .map(|n| {
                    let request = self
                        .bare
                        .post(&self.url)
                        .header("content-type", "application/json")
                        .header("user-agent", "agent-webhooks/0.1.0")
                        .header("webhook-id", format!("msg_{n:026}"))
                        .header("webhook-timestamp", "1767225600")
                        .body(PAYLOAD.to_vec());
                    async move {
                        let response = request.send().await.unwrap();
                        let status = response.status();
                        black_box(response.bytes().await.unwrap());
                        status.is_success()
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .filter(|ok| std::future::ready(*ok))
                .count()
                .await;
            assert_eq!(ok, BATCH);
            start.elapsed()
        })
    }
}

fn benches(c: &mut Criterion) {
    let bench = Bench::new();
    let mut g = c.benchmark_group("dispatch");
    g.sample_size(10);
    g.bench_function("dispatcher_reqwest_transport", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.dispatcher_batch()).sum())
    });
    g.bench_function("bare_reqwest", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.bare_batch()).sum())
    });
    g.finish();
}

fn summary() {
    let bench = Bench::new();
    let medians = support::compare(
        &format!("{BATCH} deliveries to a loopback receiver, {CONCURRENCY} in flight"),
        vec![
            (
                "bare reqwest client (floor)",
                Box::new(|| {
                    black_box(bench.bare_batch());
                }),
            ),
            (
                "ReqwestTransport alone (no outbox)",
                Box::new(|| {
                    black_box(bench.transport_batch());
                }),
            ),
            (
                "enqueue + Dispatcher::run + ReqwestTransport",
                Box::new(|| {
                    black_box(bench.dispatcher_batch());
                }),
            ),
        ],
    );
    let per_second = |ns: f64| BATCH as f64 * 1e9 / ns;
    println!(
        "  throughput: bare {:.0} req/s, transport alone {:.0} req/s, dispatcher {:.0} req/s",
        per_second(medians[0]),
        per_second(medians[1]),
        per_second(medians[2]),
    );
    println!(
        "  transport alone / bare = {:.2}; ratio = {:.2} (dispatcher + transport / bare, goal >= 0.85)",
        medians[0] / medians[1],
        medians[0] / medians[2]
    );
}

criterion_group!(transport, benches);

fn main() {
    transport();
    Criterion::default().configure_from_args().final_summary();
    if support::is_bench_run() {
        summary();
    }
}
