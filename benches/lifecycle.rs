//! Log queries and the data lifecycle as history grows, on SQLite and PostgreSQL: run by hand.
//!
//! For each size (default 100,000 and 500,000 jobs; `AW_LIFECYCLE_SIZES=100000,500000`) and
//! each store, a fresh table is seeded with that many finished jobs (20 tenants, 50,000 jobs a
//! day, a 1.4 KB end-of-call-report payload, one attempt each and a second for every other:
//! 1.5 attempts a job), then:
//!
//! - **listings** through the `Store` trait, as the logs API asks them: a tenant's first page,
//!   a super admin's one-day window (a day in the middle of history), a cross-tenant
//!   `status=pending` that matches nothing, one job's attempts (a client admin's
//!   `GET /logs/webhooks/:id`). p50 and p99 of 31 runs each, interleaved. Goal: each under
//!   50 ms at 500k, and 100k -> 500k within 1.5x.
//! - **purge with dispatch running**: a dispatcher delivers freshly enqueued jobs (16 enqueues
//!   in flight, a transport answering 200 at once) while `Lifecycle` steps (batch 500) delete
//!   the oldest 40% of the seeded jobs and expire the payloads of the rest: jobs removed and
//!   payloads expired per second, and the deliveries per second meanwhile.
//! - **bytes kept per job**: the database's size over the jobs it holds, before and after
//!   the payloads expired (after `VACUUM`, which gives the space back to the file system).
//!
//! SQLite statistics come from the store itself (`PRAGMA optimize` on open); PostgreSQL's
//! from an `ANALYZE` after seeding (what autovacuum does within a minute of a bulk load).
//!
//! ```text
//! eval "$(bash .ci/postgres.sh start)"     # exports AGENT_WEBHOOKS_PG_URL
//! AW_LIFECYCLE_SIZES=100000,500000 cargo bench --bench lifecycle --features sqlite,postgres
//! ```
//!
//! Without `AGENT_WEBHOOKS_PG_URL` only SQLite is measured. Without `--bench` (as `cargo test
//! --benches` runs it) it does nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_webhooks::http;
use agent_webhooks::outbox::{
    AttemptQuery, DataPolicies, DataPolicy, Dispatcher, Job, JobId, JobQuery, JobStatus, Lifecycle,
    ManualClock, NewJob, Outbox, PostgresStore, Retention, Shutdown, SqliteStore, Store, Target,
    TargetRef, TargetResolver, Timestamp, Transport, TransportError, Unresolved,
};
use agent_webhooks::{Scope, TenantId};
use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use tokio::runtime::Runtime;

/// Whether the binary runs as a benchmark (`cargo bench`), not as a quick test.
fn is_bench_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// 2026-01-01T00:00:00Z, the first seeded job.
const T0: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;
/// 50,000 jobs a day.
const GAP_MS: i64 = DAY / 50_000;
const TENANTS: i64 = 20;
const ROUNDS: usize = 31;

const PAYLOAD: &str = r#"{"message":{"type":"end-of-call-report","endedReason":"customer-ended-call","call":{"id":"call_0123456789","orgId":"org_1"},"artifact":{"transcript":"AI: Thank you for calling Acme dental, how can I help you today?\nUser: Hi, I'd like to book a cleaning for next Tuesday morning if possible.\nAI: Of course. I have 9:30 or 11:00 available on Tuesday. Which works better?\nUser: 9:30 please.\nAI: Booked: Tuesday at 9:30. Can I have your name and date of birth to confirm?\nUser: Jane Doe, March 3rd 1985.\nAI: Thank you Jane, you're all set. Anything else?\nUser: No, that's all.","recordingUrl":"https://storage.example.com/recordings/call_0123456789.wav","messages":[{"role":"assistant","message":"Thank you for calling Acme dental, how can I help you today?","time":1767225600000},{"role":"user","message":"Hi, I'd like to book a cleaning for next Tuesday morning if possible.","time":1767225604000}]},"summary":"The caller booked a cleaning for Tuesday at 9:30.","cost":0.1234,"costBreakdown":{"llmPromptTokens":1234,"llmCompletionTokens":123}}}"#;

#[derive(Debug)]
struct Ok200;

#[async_trait]
impl Transport for Ok200 {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        Ok(http::Response::new(b"ok".to_vec()))
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

fn sizes() -> Vec<i64> {
    std::env::var("AW_LIFECYCLE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 500_000])
}

/// The seeded table's `n` jobs: `(seq order) created_at`, tenant, status, attempts.
const SQLITE_SEED_JOBS: &str = "WITH RECURSIVE k(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM k \
     WHERE i < ?2 - 1) INSERT INTO outbox_jobs (id, tenant_id, event_type, call_id, payload, \
     target, status, attempts, step, next_attempt_at, due_at, fence, created_at, updated_at) \
     SELECT printf('msg_%012x', i), printf('t%02d', i % 20), 'end-of-call-report', \
     printf('call_%d', i), CAST(?3 AS BLOB), 'assistant:a1', \
     CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END, 1 + i % 2, 1 + i % 2, NULL, NULL, \
     1, ?4 + i * ?5, ?4 + i * ?5 + 500 FROM k";

const SQLITE_SEED_ATTEMPTS: &str = "INSERT INTO outbox_attempts (id, job_id, tenant_id, \
     triggered_by, url, level, status, status_code, error, latency_ms, event_type, number, \
     next_attempt_at, response_body, response_truncated, started_at, ended_at) \
     SELECT printf('atmpt_%012x_%d', j.seq, k.k), j.id, j.tenant_id, 'scheduled', \
     'https://hooks.example.com/vapi', 'assistant', \
     CASE WHEN k.k < j.attempts THEN 'failed' ELSE 'succeeded' END, \
     CASE WHEN k.k < j.attempts THEN 503 ELSE 200 END, NULL, 42, j.event_type, k.k, NULL, \
     CAST('{\"received\":true}' AS BLOB), 0, j.created_at + k.k * 100, \
     j.created_at + k.k * 100 + 42 FROM outbox_jobs j \
     JOIN (SELECT 1 AS k UNION ALL SELECT 2) k ON k.k <= j.attempts \
     WHERE j.seq > ?1 ORDER BY j.seq, k.k";

const PG_SEED_JOBS: &str = "INSERT INTO outbox_jobs (id, tenant_id, event_type, call_id, \
     payload, target, status, attempts, step, next_attempt_at, due_at, fence, created_at, \
     updated_at) SELECT 'msg_' || lpad(to_hex(i), 12, '0'), 't' || lpad((i % 20)::text, 2, '0'), \
     'end-of-call-report', 'call_' || i, convert_to($3::text, 'UTF8'), 'assistant:a1', \
     CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END, 1 + i % 2, 1 + i % 2, NULL, NULL, \
     1, $4::bigint + i * $5::bigint, $4::bigint + i * $5::bigint + 500 \
     FROM generate_series($1::bigint, $2::bigint - 1) i ORDER BY i";

const PG_SEED_ATTEMPTS: &str = "INSERT INTO outbox_attempts (id, job_id, tenant_id, triggered_by, \
     url, level, status, status_code, error, latency_ms, event_type, number, next_attempt_at, \
     response_body, response_truncated, started_at, ended_at) \
     SELECT 'atmpt_' || lpad(to_hex(j.seq), 12, '0') || '_' || k, j.id, j.tenant_id, \
     'scheduled', 'https://hooks.example.com/vapi', 'assistant', \
     CASE WHEN k < j.attempts THEN 'failed' ELSE 'succeeded' END, \
     CASE WHEN k < j.attempts THEN 503 ELSE 200 END, NULL, 42, j.event_type, k, NULL, \
     convert_to('{\"received\":true}', 'UTF8'), false, j.created_at + k * 100, \
     j.created_at + k * 100 + 42 FROM outbox_jobs j CROSS JOIN generate_series(1, 2) k \
     WHERE k <= j.attempts AND j.seq > $1::bigint AND j.seq <= $2::bigint ORDER BY j.seq, k";

/// The database's size in bytes (after giving free space back when asked).
type SizeOf = Box<dyn Fn(&Runtime, bool) -> u64>;
/// A listing's name, p50 and p99 in ms.
type Row = (&'static str, f64, f64);
/// Seeds a store and answers it.
type Make = Box<dyn Fn(&Runtime) -> Subject>;

/// One store under measurement.
struct Subject {
    name: &'static str,
    store: Arc<dyn Store>,
    /// Bytes the database uses now (after giving free space back when `compact`).
    size: SizeOf,
    /// Removes the seeded file or schema.
    cleanup: Box<dyn Fn(&Runtime)>,
}

fn sqlite_subject(rt: &Runtime, n: i64) -> Subject {
    let dir = std::env::temp_dir().join(format!("aw-lifecycle-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("outbox.sqlite3");
    drop(rt.block_on(SqliteStore::open(&path)).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    let chunk = 50_000;
    let mut done = 0;
    while done < n {
        let end = (done + chunk).min(n);
        let last_seq: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox_jobs", [], |r| {
                r.get(0)
            })
            .unwrap();
        conn.execute(
            SQLITE_SEED_JOBS,
            rusqlite::params![done, end, PAYLOAD, T0, GAP_MS],
        )
        .unwrap();
        conn.execute(SQLITE_SEED_ATTEMPTS, [last_seq]).unwrap();
        done = end;
    }
    drop(conn);
    // Opening the store runs `PRAGMA optimize`: the statistics the listings are planned with.
    let store = Arc::new(rt.block_on(SqliteStore::open(&path)).unwrap());
    let size_path = path.clone();
    Subject {
        name: "sqlite",
        store,
        size: Box::new(move |_rt, compact| {
            let conn = rusqlite::Connection::open(&size_path).unwrap();
            if compact {
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
                    .unwrap();
            }
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            let page: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap();
            (pages * page) as u64
        }),
        cleanup: Box::new(move |_rt| {
            let _ = std::fs::remove_dir_all(&dir);
        }),
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn pg_subject(rt: &Runtime, url: &str, n: i64) -> Subject {
    let schema = format!("aw_bench_lifecycle_{}_{n}", std::process::id());
    let store = rt
        .block_on(
            PostgresStore::builder(url)
                .schema(&schema)
                .max_connections(8)
                .build(),
        )
        .unwrap();
    rt.block_on(async {
        let client = pg_client(url).await;
        client
            .batch_execute(&format!("SET search_path = {schema}"))
            .await
            .unwrap();
        let chunk = 50_000;
        let mut done = 0;
        while done < n {
            let end = (done + chunk).min(n);
            let last: i64 = client
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM outbox_jobs", &[])
                .await
                .unwrap()
                .get(0);
            client
                .execute(PG_SEED_JOBS, &[&done, &end, &PAYLOAD, &T0, &GAP_MS])
                .await
                .unwrap();
            let top: i64 = client
                .query_one("SELECT MAX(seq) FROM outbox_jobs", &[])
                .await
                .unwrap()
                .get(0);
            client
                .execute(PG_SEED_ATTEMPTS, &[&last, &top])
                .await
                .unwrap();
            done = end;
        }
        // One statement each: VACUUM cannot run in the implicit transaction of a batch.
        for table in ["outbox_jobs", "outbox_attempts"] {
            client
                .batch_execute(&format!("VACUUM ANALYZE {table}"))
                .await
                .unwrap();
        }
    });
    let (url, schema2) = (url.to_owned(), schema.clone());
    let drop_url = url.clone();
    Subject {
        name: "postgres",
        store: Arc::new(store),
        size: Box::new(move |rt, compact| {
            rt.block_on(async {
                let client = pg_client(&url).await;
                client
                    .batch_execute(&format!("SET search_path = {schema2}"))
                    .await
                    .unwrap();
                if compact {
                    for table in ["outbox_jobs", "outbox_attempts"] {
                        client
                            .batch_execute(&format!("VACUUM FULL {table}"))
                            .await
                            .unwrap();
                    }
                }
                let row = client
                    .query_one(
                        "SELECT pg_total_relation_size('outbox_jobs') \
                         + pg_total_relation_size('outbox_attempts')",
                        &[],
                    )
                    .await
                    .unwrap();
                u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
            })
        }),
        cleanup: Box::new(move |rt| {
            rt.block_on(async {
                let client = pg_client(&drop_url).await;
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                    .await;
            });
        }),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    ms(samples[i])
}

/// The four listings, interleaved; answers `(name, p50 ms, p99 ms)`.
fn listings(rt: &Runtime, s: &Subject, n: i64) -> Vec<Row> {
    let store = &s.store;
    let tenant = Scope::tenant(TenantId::new("t07").unwrap());
    let days = (n * GAP_MS / DAY).max(1);
    let mid = T0 + (days / 2) * DAY;
    let window = JobQuery::new()
        .created_between(
            Timestamp::from_unix_millis(mid as u64),
            Timestamp::from_unix_millis((mid + DAY) as u64),
        )
        .limit(50);
    let pending = JobQuery::new().status(JobStatus::Pending).limit(50);
    // A job of t07 in the middle of history.
    let job = JobId::new(&format!("msg_{:012x}", (n / 2 / TENANTS) * TENANTS + 7)).unwrap();
    let attempts = AttemptQuery::new().job(job.clone()).limit(20);
    let first = JobQuery::new().limit(50);
    let names = [
        "tenant first page",
        "super admin one-day window",
        "cross-tenant status=pending (none)",
        "one job's attempts (GET /logs/webhooks/:id)",
    ];
    let mut samples = vec![Vec::with_capacity(ROUNDS); names.len()];
    rt.block_on(async {
        // Checks once that each listing answers what it should.
        assert_eq!(store.jobs(&tenant, &first).await.unwrap().items.len(), 50);
        let w = store.jobs(&Scope::AllTenants, &window).await.unwrap();
        assert_eq!(w.items.len(), 50, "the window holds jobs");
        assert!(
            store
                .jobs(&Scope::AllTenants, &pending)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            !store
                .attempts(&tenant, &attempts)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        for _ in 0..ROUNDS {
            for (i, sample) in samples.iter_mut().enumerate() {
                let start = Instant::now();
                match i {
                    0 => drop(store.jobs(&tenant, &first).await.unwrap()),
                    1 => drop(store.jobs(&Scope::AllTenants, &window).await.unwrap()),
                    2 => drop(store.jobs(&Scope::AllTenants, &pending).await.unwrap()),
                    _ => {
                        drop(store.job(&tenant, &job).await.unwrap());
                        drop(store.attempts(&tenant, &attempts).await.unwrap());
                    }
                }
                sample.push(start.elapsed());
            }
        }
    });
    names
        .iter()
        .zip(samples.iter_mut())
        .map(|(name, s)| (*name, p(s, 0.5), p(s, 0.99)))
        .collect()
}

/// Purges the seeded history while a dispatcher delivers new jobs; prints the rates.
fn purge_with_dispatch(rt: &Runtime, s: &Subject, n: i64) {
    let store = s.store.clone();
    let delivered = Arc::new(AtomicU64::new(0));
    let shutdown = Shutdown::new();
    let tenant = TenantId::new("live").unwrap();
    let dispatcher = Arc::new(
        Dispatcher::builder(store.clone(), Arc::new(Ok200), Arc::new(OneServer))
            .build()
            .unwrap(),
    );
    let outbox = Outbox::new(store.clone());
    // "Now" is the end of the seeded history: the oldest 40% are past the job retention, and
    // every seeded payload past the payload retention.
    let end = T0 + n * GAP_MS;
    let history = Duration::from_millis((n * GAP_MS) as u64);
    let clock = ManualClock::new(Timestamp::from_unix_millis(end as u64));
    let policy = DataPolicy::new().retention(
        Retention::forever()
            .jobs(history.mul_f64(0.6))
            .payloads(Duration::ZERO),
    );
    // The live tenant's fresh jobs are kept: only the seeded history goes.
    let policies = DataPolicies::new(policy).with_tenant(
        tenant.clone(),
        DataPolicy::new().retention(Retention::forever()),
    );
    let lifecycle = Lifecycle::new(store.clone(), policies).with_clock(Arc::new(clock));
    let (removed, expired, took, live) = rt.block_on(async {
        let d = dispatcher.clone();
        let sd = shutdown.clone();
        let runner = tokio::spawn(async move { d.run(&sd, tokio::time::sleep).await });
        let (sd, count) = (shutdown.clone(), delivered.clone());
        let target = TargetRef::new("assistant:a1").unwrap();
        let enqueuer = tokio::spawn(async move {
            let scope = Scope::tenant(tenant.clone());
            while !sd.is_triggered() {
                stream::iter(0..64)
                    .map(|_| {
                        let job = NewJob::new(
                            tenant.clone(),
                            "status-update",
                            target.clone(),
                            br#"{"message":{"type":"status-update"}}"#.to_vec(),
                        );
                        outbox.enqueue(&scope, job)
                    })
                    .buffer_unordered(16)
                    .for_each(|r| {
                        r.unwrap();
                        async {}
                    })
                    .await;
                count.fetch_add(64, Ordering::Relaxed);
            }
        });
        let start = Instant::now();
        let (mut removed, mut expired) = (0, 0);
        loop {
            let step = lifecycle.run_once().await.unwrap();
            removed += step.jobs;
            expired += step.payloads_expired;
            if !step.more {
                break;
            }
        }
        let took = start.elapsed();
        shutdown.trigger();
        enqueuer.await.unwrap();
        let tick = runner.await.unwrap();
        (removed, expired, took, tick.succeeded)
    });
    let secs = took.as_secs_f64();
    println!(
        "  purge with dispatch running: {removed} jobs deleted and {expired} payloads expired \
         in {secs:.1} s: {:.0} jobs/s deleted, {:.0} payloads/s expired; meanwhile {live} live \
         jobs delivered ({:.0}/s; {} enqueued)",
        removed as f64 / secs,
        expired as f64 / secs,
        live as f64 / secs,
        delivered.load(Ordering::Relaxed),
    );
}

fn main() {
    if !is_bench_run() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pg = std::env::var("AGENT_WEBHOOKS_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if pg.is_none() {
        println!("AGENT_WEBHOOKS_PG_URL is not set: measuring SQLite only");
    }
    let mut table: Vec<(String, i64, Vec<Row>)> = Vec::new();
    for n in sizes() {
        let mut subjects: Vec<Make> = vec![Box::new(move |rt| sqlite_subject(rt, n))];
        if let Some(url) = pg.clone() {
            subjects.push(Box::new(move |rt| pg_subject(rt, &url, n)));
        }
        for make in subjects {
            let start = Instant::now();
            let s = make(&rt);
            println!(
                "\n{} with {n} jobs ({} attempts): seeded in {:.1} s",
                s.name,
                n + n / 2,
                start.elapsed().as_secs_f64()
            );
            let rows = listings(&rt, &s, n);
            for (name, p50, p99) in &rows {
                println!("  {name:<46} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms");
            }
            let before = (s.size)(&rt, false);
            println!(
                "  size: {:.0} MB, {:.0} bytes per job",
                before as f64 / 1e6,
                before as f64 / n as f64
            );
            purge_with_dispatch(&rt, &s, n);
            let kept = rt
                .block_on(s.store.jobs(&Scope::AllTenants, &JobQuery::new().limit(1)))
                .unwrap();
            drop(kept);
            let after = (s.size)(&rt, true);
            let left = (n as f64 * 0.6).round();
            println!(
                "  after the purge and VACUUM: {:.0} MB for ~{left:.0} seeded jobs: {:.0} bytes \
                 per job kept after payload expiry (attempts included)",
                after as f64 / 1e6,
                after as f64 / left
            );
            (s.cleanup)(&rt);
            table.push((s.name.to_owned(), n, rows));
        }
    }
    println!("\nlistings, p50 (p99) ms; the ratio is the largest size over the smallest");
    let stores: Vec<String> = {
        let mut v: Vec<String> = table.iter().map(|(s, _, _)| s.clone()).collect();
        v.dedup();
        v.sort();
        v.dedup();
        v
    };
    for store in stores {
        let rows: Vec<_> = table.iter().filter(|(s, _, _)| *s == store).collect();
        let (Some(small), Some(large)) = (rows.first(), rows.last()) else {
            continue;
        };
        for (i, (name, _, _)) in small.2.iter().enumerate() {
            let line: Vec<String> = rows
                .iter()
                .map(|(_, n, r)| format!("{n}: {:.2} ({:.2})", r[i].1, r[i].2))
                .collect();
            println!(
                "  {store:<8} {name:<46} {}   ratio {:.2}x",
                line.join("  "),
                large.2[i].1 / small.2[i].1
            );
        }
    }
}
