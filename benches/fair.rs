//! Fair and prompt delivery, measured where users feel it: from enqueue to the receiver, on
//! real loopback HTTP (`ReqwestTransport` to a hyper server), on every store, in one run.
//!
//! - `noisy neighbour`: tenant B sends status updates at 10/s to a healthy endpoint; tenant A
//!   has a backlog for an endpoint that hangs until its 5 s timeout. One dispatcher with every
//!   default. B's p50/p99 with A's tarpit present, then alone, and the ratio of the p99s.
//!   Goal: ratio <= 1.5 and B's p99 < 250 ms.
//! - `idle pickup`: one job enqueued to an idle dispatcher (poll interval 1 s), then the next
//!   once it arrived. Goal: p50 < 20 ms on every store (the doorbell, not the poll, wakes it).
//!
//! ```text
//! eval "$(bash .ci/postgres.sh start)"     # exports AGENT_WEBHOOKS_PG_URL (else: no PostgreSQL)
//! cargo bench --features sqlite,postgres,reqwest --bench fair
//! ```
//!
//! `AW_FAIR_STORES=sqlite` (a comma list of `memory`, `sqlite`, `postgres`) measures only
//! those stores. Run without `--bench` (as `cargo test --benches` does) it does a short pass only.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_webhooks::guard::Policy;
use agent_webhooks::outbox::{
    Dispatcher, Job, MemoryStore, NewJob, Outbox, PostgresStore, Shutdown, SqliteStore, Store,
    Target, TargetRef, TargetResolver, Unresolved,
};
use agent_webhooks::transport::ReqwestTransport;
use agent_webhooks::{Scope, TenantId};
use async_trait::async_trait;

#[allow(
    dead_code,
    reason = "this bench prints its own table; it uses `is_bench_run` only"
)]
mod support;

/// When each `webhook-id` reached the receiver.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// `/tarpit` holds a request for a minute (past any timeout); `/ok` answers 200 at once and
/// notes when each `webhook-id` arrived.
async fn receiver() -> (SocketAddr, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals: Arrivals = Arc::default();
    let log = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let log = log.clone();
                        async move {
                            if request.uri().path() == "/tarpit" {
                                tokio::time::sleep(Duration::from_secs(60)).await;
                            } else if let Some(id) = request.headers().get("webhook-id") {
                                let id = id.to_str().unwrap_or_default().to_owned();
                                log.lock().unwrap().insert(id, Instant::now());
                            }
                            let body = http_body_util::Full::new(hyper::body::Bytes::new());
                            Ok::<_, Infallible>(hyper::Response::new(body))
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (addr, arrivals)
}

#[derive(Debug)]
struct Routes(HashMap<String, Target>);

#[async_trait]
impl TargetResolver for Routes {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        (self.0.get(job.target.as_str()).cloned()).ok_or_else(|| Unresolved("no route".into()))
    }
}

fn policy() -> Policy {
    Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap()
}

/// A dispatcher with every default over `store`, to `/tarpit` (5 s timeout) and `/ok`.
fn dispatcher(store: Arc<dyn Store>, addr: SocketAddr) -> Dispatcher {
    let url = |path: &str| format!("http://{addr}{path}").parse().unwrap();
    let routes = HashMap::from([
        (
            "assistant:tarpit".to_owned(),
            Target::new(url("/tarpit"), "assistant").timeout(Duration::from_secs(5)),
        ),
        (
            "assistant:ok".to_owned(),
            Target::new(url("/ok"), "assistant"),
        ),
    ]);
    let transport = Arc::new(ReqwestTransport::new(policy()).unwrap());
    Dispatcher::builder(store, transport, Arc::new(Routes(routes)))
        .url_check(Arc::new(policy()))
        .build()
        .unwrap()
}

fn new_job(tenant: &TenantId, to: &str) -> NewJob {
    let body = br#"{"message":{"type":"status-update","status":"in-progress"}}"#.to_vec();
    NewJob::new(
        tenant.clone(),
        "status-update",
        TargetRef::new(to).unwrap(),
        body,
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// B's delivery latencies in ms, sorted: `b_jobs` at 10/s, with A's `a_jobs` enqueued first.
async fn b_latencies(store: Arc<dyn Store>, a_jobs: usize, b_jobs: usize) -> Vec<f64> {
    let (addr, arrivals) = receiver().await;
    let d = dispatcher(store.clone(), addr);
    let outbox = Outbox::new(store);
    let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
    for _ in 0..a_jobs {
        let scope = Scope::tenant(a.clone());
        outbox
            .enqueue(&scope, new_job(&a, "assistant:tarpit"))
            .await
            .unwrap();
    }
    let shutdown = Shutdown::new();
    let run = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { d.run(&shutdown, tokio::time::sleep).await })
    };
    let mut sent = Vec::with_capacity(b_jobs);
    let scope = Scope::tenant(b.clone());
    for _ in 0..b_jobs {
        let started = Instant::now();
        let job = outbox
            .enqueue(&scope, new_job(&b, "assistant:ok"))
            .await
            .unwrap()
            .job;
        sent.push((job.id.as_str().to_owned(), started));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Bounded: at most a minute for the stragglers.
    for _ in 0..600 {
        if arrivals.lock().unwrap().len() >= b_jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
    let arrived = arrivals.lock().unwrap();
    let mut ms: Vec<f64> = sent
        .iter()
        .map(|(id, at)| match arrived.get(id) {
            Some(t) => t.duration_since(*at).as_secs_f64() * 1000.0,
            None => f64::INFINITY,
        })
        .collect();
    if std::env::var_os("AW_FAIR_DETAIL").is_some() {
        // When B's slowest jobs were enqueued (seconds after B's first), to tell a burst of
        // A's from noise spread over the run.
        let first = sent.first().map(|(_, at)| *at);
        let mut worst: Vec<(f64, f64)> = (sent.iter().zip(&ms))
            .map(|((_, at), l)| {
                (
                    *l,
                    first.map_or(0.0, |f| at.duration_since(f).as_secs_f64()),
                )
            })
            .collect();
        worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        let worst: Vec<String> = (worst.iter().take(5))
            .map(|(l, t)| format!("{l:.1} ms at {t:.1} s"))
            .collect();
        println!("    a_jobs={a_jobs}: slowest B jobs: {}", worst.join(", "));
    }
    ms.sort_by(f64::total_cmp);
    ms
}

/// Enqueue-to-receiver latencies in ms of `n` jobs, each enqueued to an idle dispatcher.
async fn idle_pickups(store: Arc<dyn Store>, n: usize) -> Vec<f64> {
    let (addr, arrivals) = receiver().await;
    let d = dispatcher(store.clone(), addr);
    let outbox = Outbox::new(store);
    let b = TenantId::new("b").unwrap();
    let shutdown = Shutdown::new();
    let run = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { d.run(&shutdown, tokio::time::sleep).await })
    };
    let scope = Scope::tenant(b.clone());
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        // Idle: nothing due, the dispatcher sleeps its poll interval (1 s).
        tokio::time::sleep(Duration::from_millis(30)).await;
        let started = Instant::now();
        let job = outbox
            .enqueue(&scope, new_job(&b, "assistant:ok"))
            .await
            .unwrap()
            .job;
        let id = job.id.as_str().to_owned();
        for _ in 0..3000 {
            if arrivals.lock().unwrap().contains_key(&id) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let arrived = arrivals.lock().unwrap().get(&id).copied();
        ms.push(arrived.map_or(f64::INFINITY, |t| {
            t.duration_since(started).as_secs_f64() * 1000.0
        }));
    }
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
    ms.sort_by(f64::total_cmp);
    ms
}

fn main() {
    let full = support::is_bench_run();
    let (a_jobs, b_jobs, pickups) = if full { (2000, 200, 100) } else { (50, 10, 5) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("aw-bench-fair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = std::env::var("AGENT_WEBHOOKS_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        println!("AGENT_WEBHOOKS_PG_URL is not set: PostgreSQL is not measured");
    }
    // `AW_FAIR_STORES=sqlite` (a comma list of memory, sqlite, postgres) measures only those.
    let only = std::env::var("AW_FAIR_STORES").unwrap_or_default();
    let kinds: Vec<&str> = ["memory", "sqlite", "postgres"]
        .into_iter()
        .filter(|k| only.is_empty() || only.split(',').any(|o| o.trim() == *k))
        .collect();
    let mut n = 0;
    let mut fresh = |kind: &str| -> Option<Arc<dyn Store>> {
        n += 1;
        match kind {
            "memory" => Some(Arc::new(MemoryStore::new())),
            "sqlite" => Some(Arc::new(
                rt.block_on(SqliteStore::open(dir.join(format!("s{n}.sqlite3"))))
                    .unwrap(),
            )),
            _ => url.as_deref().map(|url| {
                let schema = format!("aw_bench_fair_{}_{n}", std::process::id());
                let store = PostgresStore::builder(url).schema(&schema).build();
                Arc::new(rt.block_on(store).unwrap()) as Arc<dyn Store>
            }),
        }
    };
    println!(
        "\nnoisy neighbour: B sends {b_jobs} at 10/s; A has {a_jobs} jobs for an endpoint that \
         hangs past its 5 s timeout; one dispatcher, every default (latency enqueue -> receiver)"
    );
    println!(
        "  {:<10} {:>12} {:>12} {:>12} {:>12} {:>14}",
        "store", "alone p50", "alone p99", "noisy p50", "noisy p99", "p99 ratio"
    );
    for &kind in &kinds {
        let (Some(alone_store), Some(noisy_store)) = (fresh(kind), fresh(kind)) else {
            continue;
        };
        let alone = rt.block_on(b_latencies(alone_store, 0, b_jobs));
        let noisy = rt.block_on(b_latencies(noisy_store, a_jobs, b_jobs));
        let (a99, n99) = (percentile(&alone, 0.99), percentile(&noisy, 0.99));
        println!(
            "  {kind:<10} {:>9.1} ms {a99:>9.1} ms {:>9.1} ms {n99:>9.1} ms {:>13.2}x",
            percentile(&alone, 0.5),
            percentile(&noisy, 0.5),
            n99 / a99
        );
    }
    println!(
        "\nidle pickup: one job enqueued to an idle dispatcher (poll interval 1 s), {pickups} times"
    );
    println!("  {:<10} {:>12} {:>12}", "store", "p50", "p99");
    for &kind in &kinds {
        let Some(store) = fresh(kind) else { continue };
        let ms = rt.block_on(idle_pickups(store, pickups));
        println!(
            "  {kind:<10} {:>9.2} ms {:>9.2} ms",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
