//! The PostgreSQL store's job rate at a fixed concurrency for a fixed time, in the shape of
//! `pgbench -T`: run by `benches/pg_vs_pgbench.sh`, which starts a durable server and runs
//! `pgbench -N` on it too, and prints the ratio.
//!
//! One **job** counts when it has gone the whole cycle, each step committed before it is
//! acknowledged: enqueued (`Outbox::enqueue` returned, the row committed), claimed, sent to a
//! transport that answers 200 at once, and finished (attempt row inserted and the job marked
//! delivered, committed). `AW_CYCLE_WORKERS` (default 16) enqueuers each enqueue one job at a
//! time in a loop for `AW_CYCLE_SECS` seconds (default 20) while one dispatcher with
//! concurrency `AW_CYCLE_WORKERS` delivers; then enqueuing stops and the dispatcher drains
//! what is left. Rate = jobs delivered / seconds from the first enqueue to the last send (every
//! job is checked finished before the bench exits).
//! The pool has `AW_CYCLE_WORKERS` connections, as `pgbench -c` opens.
//! `AW_CYCLE_CONCURRENCY` sets the dispatcher's concurrency apart from the enqueuers'.
//!
//! ```text
//! AGENT_WEBHOOKS_PG_URL=postgres://... AW_CYCLE_SECS=20 \
//!   cargo bench --bench pg_cycle --features postgres
//! ```
//!
//! Prints one line `store_jobs_per_sec=<rate> jobs=<n> secs=<s>` for the script to read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_webhooks::http;
use agent_webhooks::outbox::{
    Dispatcher, Job, NewJob, Outbox, PostgresStore, Shutdown, Store, Target, TargetRef,
    TargetResolver, Transport, TransportError, Unresolved,
};
use agent_webhooks::{Scope, TenantId};
use async_trait::async_trait;

const PAYLOAD: &[u8] =
    br#"{"message":{"type":"status-update","status":"in-progress","call":{"id":"call_123"}}}"#;

/// Answers 200 at once and counts the sends.
#[derive(Debug, Default)]
struct Ok200(AtomicU64);

#[async_trait]
impl Transport for Ok200 {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(http::Response::new(Vec::new()))
    }
}

#[derive(Debug)]
struct OneServer;

#[async_trait]
impl TargetResolver for OneServer {
    async fn resolve(&self, _: &Job) -> Result<Target, Unresolved> {
        Ok(Target::new(
            "https://hooks.example.com/vapi".parse().unwrap(),
            "assistant",
        ))
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Some(url) = std::env::var("AGENT_WEBHOOKS_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("pg_cycle: AGENT_WEBHOOKS_PG_URL is not set; run benches/pg_vs_pgbench.sh");
        return;
    };
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench binaries as tests: measure nothing there.
        return;
    }
    let secs = env_num("AW_CYCLE_SECS", 20);
    let workers = env_num("AW_CYCLE_WORKERS", 16).max(1) as usize;
    // The dispatcher's concurrency (sends in flight); the workers' count unless set.
    let concurrency = env_num("AW_CYCLE_CONCURRENCY", workers as u64).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = format!("aw_cycle_{}", std::process::id());
    rt.block_on(async {
        let store = PostgresStore::builder(&url)
            .schema(&schema)
            .max_connections(workers)
            .build()
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let transport = Arc::new(Ok200::default());
        let dispatcher = Dispatcher::builder(store.clone(), transport.clone(), Arc::new(OneServer))
            .concurrency(concurrency)
            // One tenant and one target: its shares are the whole concurrency (the defaults,
            // 8 per tenant and 4 per target, would leave 4 sends in flight, not 16).
            .tenant_cap(concurrency)
            .target_cap(concurrency)
            .build()
            .unwrap();
        let outbox = Arc::new(Outbox::new(store));
        let tenant = TenantId::new("acme").unwrap();
        let target = TargetRef::new("assistant:a1").unwrap();

        let start = Instant::now();
        let stop_enqueuing = Arc::new(AtomicBool::new(false));
        let enqueued = Arc::new(AtomicU64::new(0));
        let enqueuers: Vec<_> = (0..workers)
            .map(|_| {
                let (outbox, tenant, target) = (outbox.clone(), tenant.clone(), target.clone());
                let (stop, enqueued) = (stop_enqueuing.clone(), enqueued.clone());
                tokio::spawn(async move {
                    let scope = Scope::tenant(tenant.clone());
                    while !stop.load(Ordering::Relaxed) {
                        let job = NewJob::new(
                            tenant.clone(),
                            "status-update",
                            target.clone(),
                            PAYLOAD.to_vec(),
                        );
                        outbox.enqueue(&scope, job).await.unwrap();
                        enqueued.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let shutdown = Shutdown::new();
        let watcher = {
            let (shutdown, stop, enqueued) =
                (shutdown.clone(), stop_enqueuing.clone(), enqueued.clone());
            let transport = transport.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
                for e in enqueuers {
                    e.await.unwrap();
                }
                let total = enqueued.load(Ordering::Relaxed);
                let sent_at_stop = transport.0.load(Ordering::Relaxed);
                while transport.0.load(Ordering::Relaxed) < total {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                // Timed here: an idle dispatcher notices the shutdown only at its next poll.
                // The last sends' finishes (at most `workers`) are not waited for.
                let took = start.elapsed().as_secs_f64();
                shutdown.trigger();
                (total, sent_at_stop, took)
            }
        };
        let (totals, (total, sent_at_stop, took)) =
            tokio::join!(dispatcher.run(&shutdown, tokio::time::sleep), watcher);
        assert_eq!(totals.succeeded as u64, total, "every job delivered once");
        eprintln!(
            "pg_cycle: {workers} enqueuers + dispatcher concurrency {concurrency}; {total} jobs \
             enqueued in {secs} s ({sent_at_stop} delivered by then), all delivered after \
             {took:.1} s"
        );
        println!(
            "store_jobs_per_sec={:.0} jobs={total} secs={took:.2}",
            total as f64 / took
        );
        if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
        }
    });
}
