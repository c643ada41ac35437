//! Durable store throughput, each store side by side with its database's own write rate on the
//! same machine, in one run.
//!
//! - `sqlite/store_cycle` (a file in WAL mode, `synchronous=FULL`): jobs through the full
//!   cycle, enqueue -> claim -> finish (attempt row and job update), with a
//!   dispatcher whose transport answers 200 at once; against `sqlite/insert_update_loop`, a
//!   single-row `INSERT` then `UPDATE` per iteration on another file with the same settings.
//! - `postgres/store_cycle_c16` and `_c64`: the same cycle on `PostgresStore` with the
//!   dispatcher at its default concurrency (16) and at 64; against `postgres/update_loop`, a
//!   single-row `UPDATE ... SET v = v + 1` loop through the same client (tokio-postgres via
//!   deadpool), like pgbench's simple update. Goal: the store reaches >= 30% of that rate.
//!
//! Sixteen enqueues are in flight at once (as concurrent calls make them); the write loops are
//! one client, one statement at a time, like a single-client pgbench. The PostgreSQL half needs
//! a server:
//!
//! ```text
//! eval "$(bash .ci/postgres.sh start)"     # exports AGENT_WEBHOOKS_PG_URL
//! cargo bench --bench stores --features sqlite,postgres -- --warm-up-time 1 --measurement-time 3
//! bash .ci/postgres.sh stop
//! ```
//!
//! Without `AGENT_WEBHOOKS_PG_URL` it says so and measures SQLite only. After criterion,
//! `support::compare` times each pair interleaved and prints jobs/s, writes/s and the ratio.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::http;
use agent_webhooks::outbox::{
    Dispatcher, Job, NewJob, Outbox, PostgresStore, SqliteStore, Store, Target, TargetRef,
    TargetResolver, Transport, TransportError, Unresolved,
};
use agent_webhooks::{Scope, TenantId};
use async_trait::async_trait;
use criterion::{Criterion, Throughput};
use futures_util::{StreamExt, stream};
use tokio::runtime::Runtime;

mod support;

const PAYLOAD: &[u8] =
    br#"{"message":{"type":"status-update","status":"in-progress","call":{"id":"call_123"}}}"#;
/// Jobs per measured iteration (and writes per iteration of the loops).
const SQLITE_BATCH: u64 = 50;
const PG_BATCH: u64 = 200;
/// Enqueues in flight at once, as concurrent calls make them.
const ENQUEUERS: usize = 16;
/// The dispatcher's default concurrency, and a wider one for PostgreSQL (more claims per
/// statement, longer pipelines on the shared connections).
const DEFAULT_CONCURRENCY: usize = 16;
const WIDE_CONCURRENCY: usize = 64;

#[derive(Debug)]
struct Ok200;

#[async_trait]
impl Transport for Ok200 {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
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

/// An outbox and a dispatcher over one store.
struct Cycle {
    outbox: Outbox,
    dispatcher: Dispatcher,
    tenant: TenantId,
    target: TargetRef,
}

impl Cycle {
    fn new(store: Arc<dyn Store>, concurrency: usize) -> Self {
        Cycle {
            outbox: Outbox::new(store.clone()),
            dispatcher: Dispatcher::builder(store, Arc::new(Ok200), Arc::new(OneServer))
                .concurrency(concurrency)
                // One tenant, one target: its shares are the whole concurrency. With the
                // default caps (8 per tenant, 4 per target) "concurrency 16" and "64" both
                // ran 4 sends in flight.
                .tenant_cap(concurrency)
                .target_cap(concurrency)
                .build()
                .unwrap(),
            tenant: TenantId::new("acme").unwrap(),
            target: TargetRef::new("assistant:a1").unwrap(),
        }
    }

    /// Enqueues `n` jobs and dispatches until none is due.
    async fn run(&self, n: u64) {
        let scope = Scope::tenant(self.tenant.clone());
        stream::iter(0..n)
            .map(|_| {
                let job = NewJob::new(
                    self.tenant.clone(),
                    "status-update",
                    self.target.clone(),
                    PAYLOAD.to_vec(),
                );
                self.outbox.enqueue(&scope, job)
            })
            .buffer_unordered(ENQUEUERS)
            .for_each(|r| {
                r.unwrap();
                async {}
            })
            .await;
        let mut done = 0;
        while done < n as usize {
            let tick = self.dispatcher.run_once().await.unwrap();
            assert!(tick.claimed > 0, "jobs were left undelivered");
            done += tick.succeeded;
        }
    }
}

/// The SQLite floor: a single-row insert, then an update of it, per write.
struct SqliteLoop {
    conn: rusqlite::Connection,
    next: i64,
}

impl SqliteLoop {
    fn open(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);",
        )
        .unwrap();
        SqliteLoop { conn, next: 0 }
    }

    fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.next += 1;
            self.conn
                .prepare_cached("INSERT INTO floor (id, v) VALUES (?1, 0)")
                .unwrap()
                .execute([self.next])
                .unwrap();
            self.conn
                .prepare_cached("UPDATE floor SET v = v + 1 WHERE id = ?1")
                .unwrap()
                .execute([self.next])
                .unwrap();
        }
    }
}

/// The PostgreSQL floor: a single-row update loop through one pooled client.
struct PgLoop {
    client: deadpool_postgres::Object,
    next: i64,
}

impl PgLoop {
    async fn open(url: &str, schema: &str) -> Self {
        let mut config: tokio_postgres::Config = url.parse().unwrap();
        config.options(format!("-c search_path={schema}"));
        let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(
            config,
            tokio_postgres::NoTls,
        ))
        .max_size(1)
        .build()
        .unwrap();
        let client = pool.get().await.unwrap();
        client
            .batch_execute(
                "CREATE TABLE floor (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);
                 INSERT INTO floor SELECT g, 0 FROM generate_series(0, 9999) g;",
            )
            .await
            .unwrap();
        PgLoop { client, next: 0 }
    }

    async fn run(&mut self, n: u64) {
        let stmt = self
            .client
            .prepare_cached("UPDATE floor SET v = v + 1 WHERE id = $1")
            .await
            .unwrap();
        for _ in 0..n {
            self.next = (self.next + 7919) % 10_000;
            self.client.execute(&stmt, &[&self.next]).await.unwrap();
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("aw-bench-stores-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let sqlite: Arc<dyn Store> = Arc::new(
        rt.block_on(SqliteStore::open(dir.join("store.sqlite3")))
            .unwrap(),
    );
    let sqlite_cycle = Cycle::new(sqlite, DEFAULT_CONCURRENCY);
    let mut sqlite_loop = SqliteLoop::open(&dir.join("floor.sqlite3"));

    let url = std::env::var("AGENT_WEBHOOKS_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let schema = format!("aw_bench_{}", std::process::id());
    let pg = url.as_deref().map(|url| {
        let store = rt
            .block_on(
                PostgresStore::builder(url)
                    .schema(&schema)
                    .max_connections(16)
                    .build(),
            )
            .unwrap();
        let floor = rt.block_on(PgLoop::open(url, &schema));
        let store: Arc<dyn Store> = Arc::new(store);
        let cycles = [
            Cycle::new(store.clone(), DEFAULT_CONCURRENCY),
            Cycle::new(store, WIDE_CONCURRENCY),
        ];
        (cycles, floor)
    });
    if pg.is_none() {
        eprintln!(
            "AGENT_WEBHOOKS_PG_URL is not set: measuring SQLite only \
             (eval \"$(bash .ci/postgres.sh start)\" for PostgreSQL)"
        );
    }
    let mut pg = pg;

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("sqlite");
        g.sample_size(10)
            .throughput(Throughput::Elements(SQLITE_BATCH));
        g.bench_function("store_cycle", |b| {
            b.iter(|| rt.block_on(sqlite_cycle.run(SQLITE_BATCH)))
        });
        g.bench_function("insert_update_loop", |b| {
            b.iter(|| sqlite_loop.run(SQLITE_BATCH))
        });
        g.finish();
    }
    if let Some(([narrow, wide], floor)) = &mut pg {
        let mut g = c.benchmark_group("postgres");
        g.sample_size(10).throughput(Throughput::Elements(PG_BATCH));
        g.bench_function("store_cycle_c16", |b| {
            b.iter(|| rt.block_on(narrow.run(PG_BATCH)))
        });
        g.bench_function("store_cycle_c64", |b| {
            b.iter(|| rt.block_on(wide.run(PG_BATCH)))
        });
        g.bench_function("update_loop", |b| {
            b.iter(|| rt.block_on(floor.run(PG_BATCH)))
        });
        g.finish();
    }
    c.final_summary();

    if support::is_bench_run() {
        summary(&rt, &sqlite_cycle, &mut sqlite_loop, pg.as_mut());
    }
    if let (Some(url), Some(_)) = (&url, &pg) {
        rt.block_on(drop_schema(url, &schema));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn per_second(batch: u64, ns: f64) -> f64 {
    batch as f64 / (ns / 1e9)
}

fn summary(
    rt: &Runtime,
    sqlite_cycle: &Cycle,
    sqlite_loop: &mut SqliteLoop,
    pg: Option<&mut ([Cycle; 2], PgLoop)>,
) {
    let m = support::compare(
        &format!("SQLite: {SQLITE_BATCH} jobs through the store vs {SQLITE_BATCH} insert+update"),
        vec![
            (
                "sqlite/insert_update_loop",
                Box::new(|| sqlite_loop.run(SQLITE_BATCH)),
            ),
            (
                "sqlite/store_cycle",
                Box::new(|| rt.block_on(sqlite_cycle.run(SQLITE_BATCH))),
            ),
        ],
    );
    let (floor, store) = (
        per_second(SQLITE_BATCH, m[0]),
        per_second(SQLITE_BATCH, m[1]),
    );
    println!(
        "  sqlite: store {store:.0} jobs/s, insert+update loop {floor:.0} writes/s, \
         ratio = {:.2}",
        store / floor
    );
    if let Some(([narrow, wide], floor_loop)) = pg {
        let floor_loop = std::cell::RefCell::new(floor_loop);
        let m = support::compare(
            &format!("PostgreSQL: {PG_BATCH} jobs through the store vs {PG_BATCH} updates"),
            vec![
                (
                    "postgres/update_loop",
                    Box::new(|| rt.block_on(floor_loop.borrow_mut().run(PG_BATCH))),
                ),
                (
                    "postgres/store_cycle_c16",
                    Box::new(|| rt.block_on(narrow.run(PG_BATCH))),
                ),
                (
                    "postgres/store_cycle_c64",
                    Box::new(|| rt.block_on(wide.run(PG_BATCH))),
                ),
            ],
        );
        let floor = per_second(PG_BATCH, m[0]);
        println!("  postgres: update loop {floor:.0} writes/s");
        for (name, ns) in [("16", m[1]), ("64", m[2])] {
            let store = per_second(PG_BATCH, ns);
            let ratio = store / floor;
            println!(
                "  postgres: store, dispatcher concurrency {name}: {store:.0} jobs/s, \
                 ratio = {ratio:.2} (goal >= 0.30: {})",
                if ratio >= 0.30 { "met" } else { "NOT met" }
            );
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
    }
}
