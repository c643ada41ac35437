//! Latency of a live request exchange where the caller feels it (from asking to the answer),
//! side by side with a bare reqwest client in one run, both against the same loopback receiver.
//!
//! - `live/requester_sqlite`: `live::Requester::request` for an `assistant-request`: cascade
//!   resolution, envelope, Standard Webhooks signature, the guard, `ReqwestTransport` under the
//!   7.5 s budget (tokio timer), the typed answer parsed; every exchange recorded in a SQLite
//!   store on a background task (`TokioSpawn`), off the critical path. The `LiveRequest` is
//!   built before the clock starts (the host hands its envelope over; the bench's clone of it
//!   is not the boundary's work).
//! - `live/bare_reqwest`: the same POST (same body, the same five headers with values of the
//!   same lengths, signature precomputed) with a plain `reqwest::Client` (HTTP/1.1, no proxy,
//!   keep-alive pool like the transport's), its JSON answer parsed into a `serde_json::Value`.
//!
//! After criterion, the two (and the requester without a store) are run interleaved one
//! exchange at a time ([`SAMPLES`] each, `AW_LIVE_SAMPLES=n` to change), after a warm-up of
//! both clients, and p50 and p99 are printed with their ratios. Goal: <= 1.10x at both.
//! 127.0.0.1 only. `cargo bench --all-features --bench live -- skip-criterion` runs only
//! the interleaved part (the filter matches no criterion case); `AW_LIVE_CASES=1` runs only
//! some of its cases (indices, comma-separated; for a profiler).

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_webhooks::guard::Policy;
use agent_webhooks::live::{ASSISTANT_REQUEST_BUDGET, LiveRequest, Requester};
use agent_webhooks::outbox::{AttemptQuery, SqliteStore, Store};
use agent_webhooks::reqwest;
use agent_webhooks::transport::{ReqwestTransport, TokioSpawn, TokioTimer, USER_AGENT_VALUE};
use agent_webhooks::{Cascade, Envelope, Scope, Signer, TenantId};
use criterion::{Criterion, criterion_group};
use tokio::runtime::Runtime;

#[allow(
    dead_code,
    reason = "this bench measures percentiles itself; it uses only is_bench_run"
)]
mod support;

/// Exchanges per side in the interleaved p50/p99 run (`AW_LIVE_SAMPLES` overrides).
const SAMPLES: usize = 10_000;

fn samples() -> usize {
    std::env::var("AW_LIVE_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(SAMPLES)
}

const ENVELOPE: &[u8] = br#"{"message":{"type":"assistant-request","timestamp":1767225600123,"call":{"id":"call_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4","orgId":"org_7f3e2d1c0b9a","phoneNumberId":"pn_1a2b3c4d5e6f","type":"inboundPhoneCall","status":"ringing","customer":{"number":"+15551234567"}},"phoneNumber":{"id":"pn_1a2b3c4d5e6f","number":"+15557654321"},"customer":{"number":"+15551234567"}}}"#;
const ANSWER: &[u8] = br#"{"assistantId":"asst_5e4d3c2b1a09","assistantOverrides":{"variableValues":{"name":"Ada"}}}"#;
/// A `webhook-id` as long as the requester's (`JobId`: prefix, 12 + 16 hex digits).
const BARE_ID: &str = "msg_0193a1b2c3d4e5f6a7b8c9d0e1f2";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A receiver on 127.0.0.1 that answers every request with [`ANSWER`] (HTTP/1.1 keep-alive).
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
                        let mut r = hyper::Response::new(http_body_util::Full::new(
                            hyper::body::Bytes::from_static(ANSWER),
                        ));
                        r.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(r)
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

struct Bench {
    rt: Runtime,
    url: String,
    requester: Requester,
    /// The same requester without a store: splits the recording's share from the rest.
    unrecorded: Requester,
    store: Arc<SqliteStore>,
    cascade: Arc<Cascade>,
    envelope: Envelope,
    signer: Arc<Signer>,
    tenant: TenantId,
    bare: reqwest::Client,
    /// The bare client's re-armed deadline timer.
    sleep: std::sync::Mutex<Option<std::pin::Pin<Box<tokio::time::Sleep>>>>,
    _dir: TempDir,
}

/// How the bare client bounds an exchange.
#[derive(Clone, Copy)]
enum Budget {
    /// `tokio::time::timeout`: a timer registered per exchange.
    Fresh(Duration),
    /// One timer re-armed per exchange.
    Rearmed(Duration),
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Bench {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = rt.block_on(receiver());
        let url = format!("http://{addr}/vapi");
        // Loopback is open only because this is a development policy.
        let policy = Policy::builder()
            .development()
            .dangerous()
            .allow_loopback()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("aw-live-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(rt.block_on(SqliteStore::open(dir.join("live.db"))).unwrap());
        let transport = Arc::new(ReqwestTransport::new(policy.clone()).unwrap());
        let requester = Requester::builder(transport.clone(), Arc::new(TokioTimer))
            .url_check(Arc::new(policy.clone()))
            .store(store.clone())
            .spawn(Arc::new(TokioSpawn))
            .build();
        let unrecorded = Requester::builder(transport, Arc::new(TokioTimer))
            .url_check(Arc::new(policy))
            .build();
        let cascade = Arc::new(
            Cascade::from_value(serde_json::json!({"phoneNumber": {"server": {"url": url}}}))
                .unwrap(),
        );
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
            url,
            requester,
            unrecorded,
            store,
            cascade,
            envelope: Envelope::parse(ENVELOPE).unwrap(),
            signer: Arc::new(Signer::new(SECRET.parse().unwrap())),
            tenant: TenantId::new("acme").unwrap(),
            bare,
            sleep: std::sync::Mutex::new(None),
            _dir: TempDir(dir),
        }
    }

    /// One live exchange through the boundary, recorded in SQLite in the background.
    fn ours(&self) -> Duration {
        self.exchange(&self.requester)
    }

    fn exchange(&self, requester: &Requester) -> Duration {
        // The host hands its envelope over; cloning the bench's copy is not the boundary's
        // work, so the request is built before the clock starts (as the bare side's signature).
        let request = LiveRequest::new(
            self.tenant.clone(),
            self.envelope.clone(),
            self.cascade.clone(),
        )
        .unwrap()
        .signer(self.signer.clone());
        self.rt.block_on(async {
            let start = Instant::now();
            let outcome = requester.request(request).await;
            let took = start.elapsed();
            assert!(outcome.is_answered(), "{outcome:?}");
            black_box(outcome);
            took
        })
    }

    /// The same request with a bare client: the same five headers (values of the same
    /// lengths, signature precomputed), the answer parsed as JSON.
    fn bare(&self) -> Duration {
        self.bare_within(None)
    }

    /// [`Bench::bare`], optionally under `tokio::time::timeout` over the whole exchange (what
    /// a hand-written send-and-wait needs for a budget): shows what a deadline costs a bare
    /// client.
    fn bare_within(&self, budget: Option<Budget>) -> Duration {
        let signature = self.signer.sign(BARE_ID, 1_767_225_600, ENVELOPE).unwrap();
        self.rt.block_on(async {
            let start = Instant::now();
            let exchange = async {
                let response = self
                    .bare
                    .post(&self.url)
                    .header("content-type", "application/json")
                    .header("user-agent", USER_AGENT_VALUE)
                    .header("webhook-id", BARE_ID)
                    .header("webhook-timestamp", "1767225600")
                    .header("webhook-signature", &signature)
                    .body(ENVELOPE)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                let body = response.bytes().await.unwrap();
                serde_json::from_slice::<serde_json::Value>(&body).unwrap()
            };
            let value = match budget {
                Some(Budget::Fresh(budget)) => {
                    tokio::time::timeout(budget, exchange).await.unwrap()
                }
                Some(Budget::Rearmed(budget)) => {
                    // One timer kept registered and re-armed per exchange (what
                    // `ReqwestTransport` does).
                    let taken = self.sleep.lock().unwrap().take();
                    let mut sleep = taken.unwrap_or_else(|| Box::pin(tokio::time::sleep(budget)));
                    sleep.as_mut().reset(tokio::time::Instant::now() + budget);
                    let exchange = std::pin::pin!(exchange);
                    let value = match futures_util::future::select(exchange, sleep.as_mut()).await {
                        futures_util::future::Either::Left((value, _)) => value,
                        futures_util::future::Either::Right(_) => panic!("timed out"),
                    };
                    *self.sleep.lock().unwrap() = Some(sleep);
                    value
                }
                None => exchange.await,
            };
            let took = start.elapsed();
            black_box(value);
            took
        })
    }
}

fn benches(c: &mut Criterion) {
    let bench = Bench::new();
    let mut g = c.benchmark_group("live");
    g.bench_function("requester_sqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.ours()).sum())
    });
    g.bench_function("bare_reqwest", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.bare()).sum())
    });
    g.finish();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary() {
    let bench = Bench::new();
    // Warm both clients (connections pooled, code and caches hot) and the store.
    for _ in 0..200 {
        bench.ours();
        bench.exchange(&bench.unrecorded);
        bench.bare();
    }
    let samples = samples();
    let cases: [(&str, &dyn Fn() -> Duration); 5] = [
        ("bare reqwest", &|| bench.bare()),
        ("live::Requester + SQLite record", &|| bench.ours()),
        ("live::Requester without a store", &|| {
            bench.exchange(&bench.unrecorded)
        }),
        ("bare reqwest + tokio timeout 7.5 s", &|| {
            bench.bare_within(Some(Budget::Fresh(ASSISTANT_REQUEST_BUDGET)))
        }),
        ("bare reqwest + re-armed timer 7.5 s", &|| {
            bench.bare_within(Some(Budget::Rearmed(ASSISTANT_REQUEST_BUDGET)))
        }),
    ];
    // `AW_LIVE_CASES=1` (indices into `cases`) runs some cases only, e.g. under `perf`.
    let only: Option<Vec<usize>> = std::env::var("AW_LIVE_CASES")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect());
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(samples); cases.len()];
    for i in 0..samples {
        // Rotate which goes first, so none always follows another.
        for k in 0..cases.len() {
            let c = (i + k) % cases.len();
            if only.as_ref().is_none_or(|o| o.contains(&c)) {
                times[c].push((cases[c].1)());
            }
        }
    }
    for t in &mut times {
        t.sort();
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "\nlive exchange latency, {samples} each, interleaved (from asking to the answer); \
         ratio to bare reqwest (goal <= 1.10x for the requester + SQLite record)"
    );
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        for ((case, _), t) in cases.iter().zip(&times) {
            if t.is_empty() || times[0].is_empty() {
                continue;
            }
            let b = percentile(&times[0], p);
            let o = percentile(t, p);
            println!(
                "  {name}: {case:<36} {:>8.1} us   ratio {:.2}x",
                us(o),
                us(o) / us(b)
            );
        }
    }
    // The records did land (off the critical path): give the background writes a moment.
    let scope = Scope::tenant(bench.tenant.clone());
    let recorded = bench.rt.block_on(async {
        for _ in 0..100 {
            let page = bench
                .store
                .attempts(&scope, &AttemptQuery::new().limit(1))
                .await
                .unwrap();
            if !page.items.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    println!("  records written: {recorded}");
}

criterion_group!(live, benches);

fn main() {
    live();
    Criterion::default().configure_from_args().final_summary();
    if support::is_bench_run() {
        summary();
    }
}
