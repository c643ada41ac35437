//! `PostgresStore`: the shared store for many dispatchers (feature `postgres`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, Object, Pool};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

use crate::outbox::error::OutboxError;
use crate::outbox::lifecycle::{Erase, Erased, Purge, Purged, privacy_change};
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Job, JobId, JobQuery, JobStatus, Page, PayloadState,
    TargetRef, Timestamp,
};
use crate::outbox::store::batch::{Batcher, Pending};
use crate::outbox::store::sql::{
    self, ATTEMPT_COLS, JOB_COLS, JOB_INSERT_COLS, PurgeStep, RowRead, Sql, TargetRow, Val, int, ms,
};
use crate::outbox::store::{
    Backlog, BreakerEvent, BreakerState, ClaimRules, Claimed, Finish, Finished, Inserted, Lease,
    Recovered, Store, TargetEvent, TargetState,
};
use crate::outbox::wake::Doorbell;
use crate::tenant::{Scope, TenantId};

/// The advisory lock key that serializes migrations (and schema creation) across processes.
const MIGRATION_LOCK: i64 = 0x6177_6f75_7462_6f78; // "awoutbox"

type Param<'a> = &'a (dyn ToSql + Sync);

/// The shared [`Store`] on PostgreSQL, for several runtime instances dispatching from one
/// database (feature `postgres`).
///
/// - Claims are one statement with `FOR UPDATE SKIP LOCKED`: dispatchers never wait on each
///   other's rows and never take the same job while its lease holds.
/// - Leases are fenced: every claim increments the job's `fence`, and a finish only applies
///   to the fence it was claimed with.
/// - A finish is one statement (job update and attempt insert together); only a finish that
///   changes target health (410 Gone, retries exhausted) takes a short transaction.
/// - Concurrent calls share statements: plain enqueues (no idempotency key) and finishes that
///   arrive while one statement is on its way go together in the next, one multi-row
///   statement per batch, each caller with its own answer. Nothing waits for a batch to fill;
///   only concurrency makes batches. Needs a tokio runtime (so does tokio-postgres).
/// - Every query of a tenant's scope carries `tenant_id = $n` in its `WHERE` clause; the
///   listing filters have indexes.
/// - The schema is versioned; building the store runs the migrations it lacks (under an
///   advisory lock, so instances starting together take turns) and refuses a database
///   migrated by a newer build.
///
/// [`PostgresStore::builder`] connects without TLS (loopback or a unix socket); to bring your
/// own TLS connector, build a [`deadpool_postgres::Pool`] and use
/// [`PostgresStore::from_pool`].
///
/// ```no_run
/// # async fn demo() -> Result<(), agent_webhooks::outbox::OutboxError> {
/// use agent_webhooks::outbox::PostgresStore;
/// let store = PostgresStore::builder("postgres://outbox@127.0.0.1:5432/runtime")
///     .schema("webhooks")
///     .max_connections(16)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    shared: Arc<Shared>,
}

/// Connections taken out of the pool and used by many tasks at once for single statements:
/// tokio-postgres pipelines concurrent queries on one connection, so a dispatcher's claims,
/// target checks and finishes share round trips instead of each waiting for its own.
/// Transactions and listings take a pooled connection of their own.
struct Shared {
    slots: Vec<Mutex<Option<Arc<Object>>>>,
    next: AtomicUsize,
    /// Plain inserts (no idempotency key) waiting for the next multi-row `INSERT`.
    inserts: Batcher<Job, Inserted>,
    /// Finishes waiting for the next multi-row finish statement.
    finishes: Batcher<FinishCall, Finished>,
    /// Rung by this process's inserts and requeues, and by the `NOTIFY` of other processes'.
    bell: Doorbell,
    /// The `LISTEN`/`NOTIFY` channel: the schema's own, so stores in other schemas of the
    /// same database do not wake each other.
    channel: String,
    /// Dropped with the store: stops the listener task.
    _stop_listening: Option<futures_channel::oneshot::Sender<()>>,
}

/// The most jobs one multi-row `INSERT` carries.
const MAX_INSERT_BATCH: usize = 256;

type PendingInsert = Pending<Job, Inserted>;

/// The most finishes one statement carries.
const MAX_FINISH_BATCH: usize = 256;

/// A finish that changes no target health (a delivery, a retry, a failure, a skip): these go
/// together; a 410 or an exhausted job takes its own short transaction.
struct FinishCall {
    scope: Scope,
    lease: Lease,
    finish: Finish,
}

type PendingFinish = Pending<FinishCall, Finished>;

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the connection string: it may hold a password.
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .field("pipelined", &self.shared.slots.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`PostgresStore`]; checked and connected by [`PostgresStoreBuilder::build`].
#[must_use]
pub struct PostgresStoreBuilder {
    config: Option<tokio_postgres::Config>,
    schema: Option<String>,
    max_connections: usize,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> OutboxError {
    OutboxError::backend(e)
}

fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some(constraint)
}

fn valid_schema(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && name.len() <= 63
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

impl PostgresStoreBuilder {
    /// Puts the outbox tables in this schema (created if missing) instead of the connection's
    /// default: lowercase letters, digits and `_`, at most 63 bytes.
    pub fn schema(mut self, name: &str) -> Self {
        self.schema = Some(name.to_owned());
        self
    }

    /// The most connections the pool opens (default 10).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Connects, and brings the schema up to date.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] for a malformed connection string or schema name, a
    /// `max_connections` of 0, or a database migrated by a newer build;
    /// [`OutboxError::Backend`] when the database cannot be reached or migrated.
    pub async fn build(self) -> Result<PostgresStore, OutboxError> {
        let Some(mut config) = self.config else {
            // Not the string itself or the parser's message: either may quote a password.
            return Err(OutboxError::Invalid {
                what: "postgres connection string",
                problem: "use postgres://user@host:port/database or `key=value` pairs".into(),
            });
        };
        if self.max_connections == 0 {
            return Err(OutboxError::Invalid {
                what: "max_connections",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(schema) = &self.schema {
            if !valid_schema(schema) {
                return Err(OutboxError::Invalid {
                    what: "postgres schema",
                    problem: "use 1 to 63 of a-z 0-9 _, not starting with a digit".into(),
                });
            }
            let options = match config.get_options() {
                Some(o) => format!("{o} -c search_path={schema}"),
                None => format!("-c search_path={schema}"),
            };
            config.options(options);
        }
        // Durable commits whatever the server's default: an acknowledged enqueue survives a
        // crash of the database. No JIT: the claim's estimated cost grows with the table's
        // statistics, and past `jit_above_cost` every claim spent ~0.7 s compiling itself
        // (measured: 220 jobs/s fell to 4 after the first autoanalyze of 20,000 jobs).
        let options = match config.get_options() {
            Some(o) => format!("{o} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        config.options(options);
        let pool = Pool::builder(Manager::new(config.clone(), NoTls))
            .max_size(self.max_connections)
            .build()
            .map_err(backend)?;
        PostgresStore::init(pool, self.schema.as_deref(), Some(config)).await
    }
}

/// The options every session of a built store starts with: durable commits, no JIT.
const SESSION_OPTIONS: &str = "-c synchronous_commit=on -c jit=off";

impl RowRead for Row {
    fn text(&self, i: usize) -> Result<String, OutboxError> {
        self.try_get(i).map_err(backend)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, OutboxError> {
        self.try_get(i).map_err(backend)
    }
    fn int(&self, i: usize) -> Result<i64, OutboxError> {
        self.try_get(i).map_err(backend)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, OutboxError> {
        self.try_get(i).map_err(backend)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, OutboxError> {
        self.try_get(i).map_err(backend)
    }
    fn flag(&self, i: usize) -> Result<bool, OutboxError> {
        self.try_get(i).map_err(backend)
    }
}

fn params(sql: &Sql) -> Vec<Param<'_>> {
    sql.args
        .iter()
        .map(|v| match v {
            Val::Text(s) => s as Param<'_>,
            Val::Int(i) => i as Param<'_>,
        })
        .collect()
}

/// Runs a built statement as an unnamed one, planned for its values every time.
///
/// Never a cached generic plan: one made while the table was small (a new database, the
/// first minute of a benchmark) scans the whole table, and stays until autovacuum analyzes
/// it; claims and listings would read every job ever sent. Planning costs a little; claims
/// are batched and listings are rare. The fixed hot statements (insert, finish) look rows up
/// by unique keys, which every plan does with the index, and stay prepared.
async fn query(
    client: &impl tokio_postgres::GenericClient,
    sql: &Sql,
) -> Result<Vec<Row>, OutboxError> {
    let typed: Vec<(Param<'_>, Type)> = sql
        .args
        .iter()
        .map(|v| match v {
            Val::Text(s) => (s as Param<'_>, Type::TEXT),
            Val::Int(i) => (i as Param<'_>, Type::INT8),
        })
        .collect();
    client.query_typed(&sql.text, &typed).await.map_err(backend)
}

/// PostgreSQL text cannot hold NUL: a free-text field (an error message, a level name) has
/// it replaced so the attempt is still recorded.
fn pg_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// An attempt's column values in [`ATTEMPT_COLS`] order.
struct AttemptRow<'a> {
    id: &'a str,
    job_id: &'a str,
    tenant: &'a str,
    trigger: &'static str,
    url: Option<Cow<'a, str>>,
    level: Option<Cow<'a, str>>,
    status: &'static str,
    status_code: Option<i64>,
    error: Option<Cow<'a, str>>,
    latency_ms: i64,
    event_type: Cow<'a, str>,
    number: i64,
    next_attempt_at: Option<i64>,
    body: &'a [u8],
    truncated: bool,
    started_at: i64,
    ended_at: i64,
}

impl<'a> AttemptRow<'a> {
    fn new(a: &'a Attempt) -> Self {
        AttemptRow {
            id: a.id.as_str(),
            job_id: a.job_id.as_str(),
            tenant: a.tenant.as_str(),
            trigger: a.trigger.as_str(),
            url: a.url.as_deref().map(pg_text),
            level: a.level.as_deref().map(pg_text),
            status: a.status.as_str(),
            status_code: a.status_code.map(i64::from),
            error: a.error.as_deref().map(pg_text),
            latency_ms: int(a.latency_ms),
            event_type: pg_text(&a.event_type),
            number: i64::from(a.number),
            next_attempt_at: a.next_attempt_at.map(ms),
            body: a.response_body.as_bytes(),
            truncated: a.response_truncated,
            started_at: ms(a.started_at),
            ended_at: ms(a.ended_at),
        }
    }

    fn params(&self) -> [Param<'_>; 17] {
        [
            &self.id,
            &self.job_id,
            &self.tenant,
            &self.trigger,
            &self.url,
            &self.level,
            &self.status,
            &self.status_code,
            &self.error,
            &self.latency_ms,
            &self.event_type,
            &self.number,
            &self.next_attempt_at,
            &self.body,
            &self.truncated,
            &self.started_at,
            &self.ended_at,
        ]
    }
}

/// `$first::text, ...` typed placeholders for an attempt's 17 values.
fn attempt_placeholders(first: usize) -> String {
    const TYPES: [&str; 17] = [
        "text", "text", "text", "text", "text", "text", "text", "bigint", "text", "bigint", "text",
        "bigint", "bigint", "bytea", "boolean", "bigint", "bigint",
    ];
    TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn duplicate_attempt(a: &Attempt) -> OutboxError {
    OutboxError::Invalid {
        what: "attempt id",
        problem: format!("`{}` is already recorded", a.id),
    }
}

fn check_job_text(job: &Job) -> Result<(), OutboxError> {
    let texts = [
        Some(&job.event_type),
        job.call_id.as_ref(),
        job.idempotency_key.as_ref(),
    ];
    if texts.into_iter().flatten().any(|s| s.contains('\0')) {
        return Err(OutboxError::Invalid {
            what: "job",
            problem: "event type, call id and idempotency key cannot contain NUL".into(),
        });
    }
    Ok(())
}

impl PostgresStore {
    /// A builder for a store at `url` (`postgres://user:password@host:port/database`, or
    /// libpq `key=value` pairs; a unix socket with `host=/path/to/dir`).
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            config: url.parse().ok(),
            schema: None,
            max_connections: 10,
        }
    }

    /// Connects to `url` with the defaults and brings the schema up to date.
    ///
    /// # Errors
    /// As [`PostgresStoreBuilder::build`].
    pub async fn connect(url: &str) -> Result<Self, OutboxError> {
        Self::builder(url).build().await
    }

    /// A store over a pool the host built (its own TLS, sizes and timeouts); the tables live
    /// in the connections' `search_path`. Brings the schema up to date.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the database cannot be reached or migrated;
    /// [`OutboxError::Invalid`] when it was migrated by a newer build.
    ///
    /// The pool's sessions must commit synchronously (`synchronous_commit` not `off`), or an
    /// acknowledged job could be lost in a crash of the database, and must not JIT-compile
    /// (`jit` off, or a server without JIT), or a claim can spend most of a second compiling
    /// itself once the table's statistics grow: the store refuses either
    /// ([`OutboxError::Invalid`]); set both with `-c synchronous_commit=on -c jit=off` in the
    /// connections' options. Other processes' enqueues do not wake this store's
    /// dispatchers (no `LISTEN` connection): they see them at their poll interval.
    pub async fn from_pool(pool: Pool) -> Result<Self, OutboxError> {
        let client = pool.get().await.map_err(backend)?;
        let row = client
            .query_one(
                "SELECT current_setting('synchronous_commit'), pg_jit_available()",
                &[],
            )
            .await
            .map_err(backend)?;
        if row.text(0)? == "off" {
            return Err(OutboxError::Invalid {
                what: "postgres session",
                problem: "synchronous_commit is off: a crash could lose acknowledged jobs; \
                          set it on for the pool's connections (`-c synchronous_commit=on`)"
                    .into(),
            });
        }
        let jit: bool = row.try_get(1).map_err(backend)?;
        if jit {
            return Err(OutboxError::Invalid {
                what: "postgres session",
                problem: "jit is on: past jit_above_cost every claim spends most of a second \
                          compiling itself; set it off for the pool's connections \
                          (`-c jit=off`)"
                    .into(),
            });
        }
        drop(client);
        Self::init(pool, None, None).await
    }

    /// The schema version this build migrates to.
    pub const SCHEMA_VERSION: u32 = sql::SCHEMA_VERSION;

    async fn init(
        pool: Pool,
        schema: Option<&str>,
        listen: Option<tokio_postgres::Config>,
    ) -> Result<Self, OutboxError> {
        let mut client = pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        if let Some(schema) = schema {
            // Checked by `valid_schema`: a plain identifier.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(backend)?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS outbox_schema (version BIGINT PRIMARY KEY)")
            .await
            .map_err(backend)?;
        let version: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::bigint FROM outbox_schema",
                &[],
            )
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        let applied = sql::applied_migrations(version)?;
        let dialect = sql::Dialect {
            serial: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            blob: "BYTEA",
            boolean: "BOOLEAN",
        };
        for (version, ddl) in sql::migrations_after(applied, &dialect) {
            tx.batch_execute(&ddl).await.map_err(backend)?;
            tx.execute(
                "INSERT INTO outbox_schema (version) VALUES ($1)",
                &[&version],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        drop(client);
        // A quarter of the pool (1 to 4) is shared; the rest stays for transactions.
        let max = pool.status().max_size;
        let shared = if max >= 2 { (max / 4).clamp(1, 4) } else { 0 };
        let bell = Doorbell::new();
        let channel = format!("aw_outbox_{}", schema.unwrap_or("public"));
        let stop = match listen {
            Some(config) => {
                let (stop, stopped) = futures_channel::oneshot::channel();
                tokio::spawn(listen_for_jobs(
                    config,
                    channel.clone(),
                    bell.clone(),
                    stopped,
                ));
                Some(stop)
            }
            None => None,
        };
        let shared = Shared {
            slots: (0..shared).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            inserts: Batcher::default(),
            finishes: Batcher::default(),
            bell,
            channel,
            _stop_listening: stop,
        };
        Ok(PostgresStore {
            pool,
            shared: Arc::new(shared),
        })
    }

    async fn client(&self) -> Result<Object, OutboxError> {
        self.pool.get().await.map_err(backend)
    }

    /// A shared connection for one autocommit statement (a pooled one if none are shared).
    async fn shared(&self) -> Result<Arc<Object>, OutboxError> {
        let slots = &self.shared.slots;
        if slots.is_empty() {
            return Ok(Arc::new(self.client().await?));
        }
        let slot = &slots[self.shared.next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        let lock = || slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = lock().as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        // A broken connection is dropped here (deadpool discards it) and replaced.
        let conn = Arc::new(self.client().await?);
        *lock() = Some(conn.clone());
        Ok(conn)
    }

    async fn insert_keyed(
        &self,
        job: Job,
        key: String,
        window: Duration,
    ) -> Result<Inserted, OutboxError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // One enqueue per tenant and key at a time: the window check and the insert agree.
        let lock_key = format!("{}\n{key}", job.tenant);
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&lock_key],
        )
        .await
        .map_err(backend)?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM outbox_jobs WHERE id = $1",
                &[&job.id.as_str()],
            )
            .await
            .map_err(backend)?;
        if exists.is_some() {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLS} FROM outbox_jobs WHERE tenant_id = $1 \
                 AND idempotency_key = $2 ORDER BY seq DESC LIMIT 1"
            ))
            .await
            .map_err(backend)?;
        let first = tx
            .query_opt(&stmt, &[&job.tenant.as_str(), &key])
            .await
            .map_err(backend)?;
        if let Some(row) = first {
            let first = sql::job_from_row(&row, 0)?;
            if job.created_at < first.created_at.saturating_add(window) {
                let same = first.payload == job.payload
                    && first.event_type == job.event_type
                    && first.target == job.target
                    && first.call_id == job.call_id;
                return if same {
                    Ok(Inserted::new(first, false))
                } else {
                    Err(OutboxError::IdempotencyConflict {
                        key,
                        existing: first.id,
                    })
                };
            }
        }
        let inserted = insert_row(&tx, job).await?;
        tx.execute("SELECT pg_notify($1, '')", &[&self.shared.channel])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(inserted)
    }

    /// Queues a plain insert for the next multi-row `INSERT` and waits for its answer.
    async fn insert_batched(&self, mut job: Job) -> Result<Inserted, OutboxError> {
        job.status = JobStatus::Pending;
        job.payload_state = PayloadState::Kept;
        job.next_attempt_at.get_or_insert(job.created_at);
        let store = self.clone();
        let start = move || {
            tokio::spawn(async move { store.flush_inserts().await });
        };
        self.shared.inserts.call(job, start).await
    }

    /// Sends the queued inserts, a batch per statement, until none waits.
    async fn flush_inserts(&self) {
        let mut flush = self.shared.inserts.flush();
        while let Some(batch) = flush.next_batch(MAX_INSERT_BATCH) {
            let inserted = match self.shared().await {
                Ok(client) => insert_rows(&client, &batch, &self.shared.channel).await,
                Err(e) => Err(BatchFailure::Store(e)),
            };
            match inserted {
                Ok(ids) => answer_inserts(batch, Ok(ids)),
                Err(BatchFailure::Store(e)) => answer_inserts(batch, Err(e)),
                Err(BatchFailure::OneByOne) => {
                    for pending in batch {
                        let result = match self.shared().await {
                            Ok(client) => insert_row(&*client, pending.req.clone()).await,
                            Err(e) => Err(e),
                        };
                        pending.answer(result);
                    }
                }
            }
        }
    }

    /// One finish in its own statement (or, when it changes target health, its own short
    /// transaction).
    async fn finish_one(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError> {
        let attempt = &finish.attempt;
        if attempt.job_id != lease.job_id {
            let client = self.client().await?;
            return Err(self.finish_refusal(&**client, scope, lease, attempt).await);
        }
        let (status, next) = sql::next_state(finish.next);
        let row = AttemptRow::new(attempt);
        let (status, next, at) = (status.as_str(), next.map(ms), ms(attempt.ended_at));
        let fence = int(lease.fence);
        let scope_tenant = scope.as_tenant().map(TenantId::as_str);
        let clear_url = match &finish.target {
            Some(TargetEvent::Delivered { url }) => Some(url.as_str()),
            _ => None,
        };
        let health = finish
            .target
            .as_ref()
            .filter(|e| !matches!(e, TargetEvent::Delivered { .. }));
        let mut values: Vec<Param<'_>> = vec![&status, &next, &at, &row.job_id];
        values.extend(row.params());
        values.extend([&fence as Param<'_>, &row.tenant]);
        let (scope_value, clear) = (
            scope_tenant.unwrap_or_default(),
            clear_url.unwrap_or_default(),
        );
        if scope_tenant.is_some() {
            values.push(&scope_value);
        }
        if clear_url.is_some() {
            values.push(&clear);
        }
        let text = finish_statement(scope_tenant.is_some(), clear_url.is_some());
        let (rows, disabled_target, breaker) = match (health, finish.breaker) {
            (None, None) => {
                let client = self.shared().await?;
                let rows = run_finish(&*client, &text, &values, attempt).await?;
                if rows.is_empty() {
                    return Err(self.finish_refusal(&***client, scope, lease, attempt).await);
                }
                (rows, None, None)
            }
            (health, breaker) => {
                let mut client = self.client().await?;
                let tx = client.transaction().await.map_err(backend)?;
                let rows = run_finish(&tx, &text, &values, attempt).await?;
                let Some(job_row) = rows.first() else {
                    drop(tx);
                    return Err(self.finish_refusal(&**client, scope, lease, attempt).await);
                };
                let disabled = match health {
                    Some(event) => {
                        record_health(&tx, &attempt.tenant, event, attempt.ended_at).await?
                    }
                    None => None,
                };
                let breaker = match breaker {
                    Some(event) => {
                        let target = sql::job_from_row(job_row, 0)?.target;
                        record_breaker(&tx, &attempt.tenant, &target, event, attempt.ended_at)
                            .await?
                    }
                    None => None,
                };
                tx.commit().await.map_err(backend)?;
                (rows, disabled, breaker)
            }
        };
        let Some(job_row) = rows.first() else {
            return Err(sql::corrupt("a finish returned no job"));
        };
        let job = sql::job_from_row(job_row, 0)?;
        Ok(Finished::new(job, disabled_target).with_breaker(breaker))
    }

    /// Queues a finish for the next multi-row finish statement and waits for its answer.
    async fn finish_batched(&self, call: FinishCall) -> Result<Finished, OutboxError> {
        let store = self.clone();
        let start = move || {
            tokio::spawn(async move { store.flush_finishes().await });
        };
        self.shared.finishes.call(call, start).await
    }

    /// Sends the queued finishes, a batch per statement, until none waits. A lone finish
    /// takes the prepared one-row statement; a batch refused for one of its finishes (a
    /// duplicate attempt id, a deadlock) is finished one by one, so that only that one fails.
    async fn flush_finishes(&self) {
        let mut flush = self.shared.finishes.flush();
        while let Some(batch) = flush.next_batch(MAX_FINISH_BATCH) {
            // One finish per job in a statement; another finish of the same job goes alone.
            let mut seen = HashSet::new();
            let (together, alone): (Vec<_>, Vec<_>) =
                (batch.into_iter()).partition(|p| seen.insert(p.req.lease.job_id.clone()));
            if together.len() == 1 {
                self.finish_each(together).await;
            } else {
                let result = match self.shared().await {
                    Ok(client) => finish_rows(&client, &together).await,
                    Err(e) => Err(BatchFailure::Store(e)),
                };
                match result {
                    Ok(rows) => self.answer_finishes(together, rows).await,
                    Err(BatchFailure::OneByOne) => self.finish_each(together).await,
                    Err(BatchFailure::Store(e)) => {
                        for pending in together {
                            pending.answer(Err(e.clone()));
                        }
                    }
                }
            }
            self.finish_each(alone).await;
        }
    }

    async fn finish_each(&self, calls: Vec<PendingFinish>) {
        for pending in calls {
            let FinishCall {
                scope,
                lease,
                finish,
            } = &pending.req;
            let result = self.finish_one(scope, lease, finish.clone()).await;
            pending.answer(result);
        }
    }

    /// Answers a batch from the jobs its statement updated; a finish that matched no row
    /// learns why (not found, stale) as it would alone.
    async fn answer_finishes(&self, batch: Vec<PendingFinish>, rows: Vec<Row>) {
        let mut jobs = HashMap::with_capacity(rows.len());
        for row in &rows {
            match sql::job_from_row(row, 0) {
                Ok(job) => {
                    jobs.insert(job.id.clone(), job);
                }
                Err(e) => {
                    for pending in batch {
                        pending.answer(Err(e.clone()));
                    }
                    return;
                }
            }
        }
        for pending in batch {
            let answer = match jobs.remove(&pending.req.lease.job_id) {
                Some(job) => Ok(Finished::new(job, None)),
                None => {
                    let FinishCall {
                        scope,
                        lease,
                        finish,
                    } = &pending.req;
                    Err(match self.client().await {
                        Ok(client) => {
                            self.finish_refusal(&**client, scope, lease, &finish.attempt)
                                .await
                        }
                        Err(e) => e,
                    })
                }
            };
            pending.answer(answer);
        }
    }

    /// Why a finish matched no row: not found, stale, or an attempt of another job.
    async fn finish_refusal(
        &self,
        client: &impl tokio_postgres::GenericClient,
        scope: &Scope,
        lease: &Lease,
        attempt: &Attempt,
    ) -> OutboxError {
        let mut find = Sql::new("SELECT tenant_id, status, fence FROM outbox_jobs WHERE ");
        find.scope(scope)
            .bind(" AND id = {}", Val::Text(lease.job_id.as_str().into()));
        let row = match query(client, &find).await {
            Ok(mut rows) => rows.pop(),
            Err(e) => return e,
        };
        let Some(row) = row else {
            return OutboxError::not_found("job", &lease.job_id);
        };
        let (tenant, status, fence) = match (row.text(0), row.text(1), row.int(2)) {
            (Ok(t), Ok(s), Ok(f)) => (t, s, f),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
        let stale = OutboxError::StaleLease {
            job: lease.job_id.clone(),
            fence: lease.fence,
        };
        if status != JobStatus::InFlight.as_str() || fence != int(lease.fence) {
            return stale;
        }
        if attempt.job_id != lease.job_id || attempt.tenant.as_str() != tenant {
            return OutboxError::Invalid {
                what: "attempt",
                problem: "its job id and tenant must be the leased job's".into(),
            };
        }
        // It changed between the statement and this look.
        stale
    }
}

async fn insert_row(client: &impl GenericClient, mut job: Job) -> Result<Inserted, OutboxError> {
    job.status = JobStatus::Pending;
    job.payload_state = PayloadState::Kept;
    let due = *job.next_attempt_at.get_or_insert(job.created_at);
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO outbox_jobs ({JOB_INSERT_COLS}, due_at, fence) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $10, 0)"
        ))
        .await
        .map_err(backend)?;
    let result = client
        .execute(
            &stmt,
            &[
                &job.id.as_str(),
                &job.tenant.as_str(),
                &job.event_type,
                &job.call_id,
                &&job.payload[..],
                &job.target.as_str(),
                &job.status.as_str(),
                &i64::from(job.attempts),
                &i64::from(job.step),
                &ms(due),
                &ms(job.created_at),
                &ms(job.updated_at),
                &job.idempotency_key,
            ],
        )
        .await;
    match result {
        Ok(_) => Ok(Inserted::new(job, true)),
        Err(e) if is_unique_violation(&e, "outbox_jobs_id_key") => {
            Err(OutboxError::DuplicateJob(job.id))
        }
        Err(e) => Err(backend(e)),
    }
}

/// One `INSERT` for a batch of pending jobs; the ids it stored (a job whose id is taken is
/// left out, `ON CONFLICT DO NOTHING`). Rows get their sequence numbers in batch order.
async fn insert_rows(
    client: &Object,
    batch: &[PendingInsert],
    channel: &str,
) -> Result<Vec<String>, BatchFailure> {
    let jobs = batch.iter().map(|p| &p.req);
    let ids: Vec<&str> = jobs.clone().map(|j| j.id.as_str()).collect();
    let tenants: Vec<&str> = jobs.clone().map(|j| j.tenant.as_str()).collect();
    let event_types: Vec<&str> = jobs.clone().map(|j| j.event_type.as_str()).collect();
    let call_ids: Vec<Option<&str>> = jobs.clone().map(|j| j.call_id.as_deref()).collect();
    let payloads: Vec<&[u8]> = jobs.clone().map(|j| &j.payload[..]).collect();
    let targets: Vec<&str> = jobs.clone().map(|j| j.target.as_str()).collect();
    let attempts: Vec<i64> = jobs.clone().map(|j| i64::from(j.attempts)).collect();
    let steps: Vec<i64> = jobs.clone().map(|j| i64::from(j.step)).collect();
    let due: Vec<i64> = (jobs.clone())
        .map(|j| ms(j.next_attempt_at.unwrap_or(j.created_at)))
        .collect();
    let created: Vec<i64> = jobs.clone().map(|j| ms(j.created_at)).collect();
    let updated: Vec<i64> = jobs.map(|j| ms(j.updated_at)).collect();
    let stmt = client
        .prepare_cached(&format!(
            "WITH ins AS (INSERT INTO outbox_jobs ({JOB_INSERT_COLS}, due_at, fence) \
             SELECT t.id, t.tenant_id, t.event_type, t.call_id, t.payload, t.target, 'pending', \
             t.attempts, t.step, t.due, t.created_at, t.updated_at, NULL, t.due, 0 \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
             $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], \
             $11::bigint[]) WITH ORDINALITY AS t(id, tenant_id, event_type, call_id, payload, \
             target, attempts, step, due, created_at, updated_at, n) \
             ORDER BY t.n ON CONFLICT (id) DO NOTHING RETURNING id), \
             woken AS (SELECT pg_notify($12, '')) SELECT ins.id FROM ins, woken"
        ))
        .await
        .map_err(backend)?;
    let rows = client
        .query(
            &stmt,
            &[
                &ids,
                &tenants,
                &event_types,
                &call_ids,
                &payloads,
                &targets,
                &attempts,
                &steps,
                &due,
                &created,
                &updated,
                &channel,
            ],
        )
        .await
        .map_err(|e| {
            if e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) {
                // Another runtime inserting some of the same ids in another order.
                BatchFailure::OneByOne
            } else {
                BatchFailure::Store(backend(e))
            }
        })?;
    Ok(rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?)
}

/// Answers each queued insert: stored, a duplicate id, or the batch's error.
fn answer_inserts(batch: Vec<PendingInsert>, inserted: Result<Vec<String>, OutboxError>) {
    let mut stored: HashSet<String> = match inserted {
        Ok(ids) => ids.into_iter().collect(),
        Err(e) => {
            for pending in batch {
                pending.answer(Err(e.clone()));
            }
            return;
        }
    };
    for pending in batch {
        // Two jobs of one batch with one id: the first is stored, the second is a duplicate.
        let answer = if stored.remove(pending.req.id.as_str()) {
            Ok(Inserted::new(pending.req.clone(), true))
        } else {
            Err(OutboxError::DuplicateJob(pending.req.id.clone()))
        };
        pending.answer(answer);
    }
}

/// Why a batched finish statement failed.
enum BatchFailure {
    /// The statement was refused for one of its finishes, so each goes alone: an attempt id
    /// of the batch is taken, or the database broke a deadlock with another batch (two
    /// dispatchers, each finishing a job the other re-claimed) by aborting this one.
    OneByOne,
    Store(OutboxError),
}

impl From<OutboxError> for BatchFailure {
    fn from(e: OutboxError) -> Self {
        BatchFailure::Store(e)
    }
}

/// A batch of finishes column by column, as `unnest` takes them (the attempt's values as
/// [`AttemptRow`] encodes them; the job's update time is the attempt's end).
#[derive(Default)]
struct FinishColumns<'a> {
    fence: Vec<i64>,
    status: Vec<&'static str>,
    next_at: Vec<Option<i64>>,
    scope_tenant: Vec<Option<&'a str>>,
    clear_url: Vec<Option<&'a str>>,
    id: Vec<&'a str>,
    job_id: Vec<&'a str>,
    tenant: Vec<&'a str>,
    trigger: Vec<&'static str>,
    url: Vec<Option<&'a str>>,
    level: Vec<Option<&'a str>>,
    a_status: Vec<&'static str>,
    code: Vec<Option<i64>>,
    error: Vec<Option<&'a str>>,
    latency: Vec<i64>,
    event: Vec<&'a str>,
    number: Vec<i64>,
    next: Vec<Option<i64>>,
    body: Vec<&'a [u8]>,
    truncated: Vec<bool>,
    started: Vec<i64>,
    ended: Vec<i64>,
}

/// One statement for a batch of finishes (one per job, none changing target health): the
/// fenced job updates, their attempt rows and the failure runs their deliveries clear; the
/// jobs it updated. Run unnamed: its join with the batch is planned for the table as it is.
async fn finish_rows(client: &Object, batch: &[PendingFinish]) -> Result<Vec<Row>, BatchFailure> {
    let rows: Vec<(AttemptRow<'_>, &FinishCall)> = (batch.iter())
        .map(|p| (AttemptRow::new(&p.req.finish.attempt), &p.req))
        .collect();
    let mut c = FinishColumns::default();
    for (a, call) in &rows {
        let (status, next) = sql::next_state(call.finish.next);
        c.fence.push(int(call.lease.fence));
        c.status.push(status.as_str());
        c.next_at.push(next.map(ms));
        c.scope_tenant
            .push(call.scope.as_tenant().map(TenantId::as_str));
        c.clear_url.push(match &call.finish.target {
            Some(TargetEvent::Delivered { url }) => Some(url.as_str()),
            _ => None,
        });
        c.id.push(a.id);
        c.job_id.push(a.job_id);
        c.tenant.push(a.tenant);
        c.trigger.push(a.trigger);
        c.url.push(a.url.as_deref());
        c.level.push(a.level.as_deref());
        c.a_status.push(a.status);
        c.code.push(a.status_code);
        c.error.push(a.error.as_deref());
        c.latency.push(a.latency_ms);
        c.event.push(&a.event_type);
        c.number.push(a.number);
        c.next.push(a.next_attempt_at);
        c.body.push(a.body);
        c.truncated.push(a.truncated);
        c.started.push(a.started_at);
        c.ended.push(a.ended_at);
    }
    let (texts, ints) = (Type::TEXT_ARRAY, Type::INT8_ARRAY);
    let params: [(Param<'_>, Type); 22] = [
        (&c.fence, ints.clone()),
        (&c.status, texts.clone()),
        (&c.next_at, ints.clone()),
        (&c.scope_tenant, texts.clone()),
        (&c.clear_url, texts.clone()),
        (&c.id, texts.clone()),
        (&c.job_id, texts.clone()),
        (&c.tenant, texts.clone()),
        (&c.trigger, texts.clone()),
        (&c.url, texts.clone()),
        (&c.level, texts.clone()),
        (&c.a_status, texts.clone()),
        (&c.code, ints.clone()),
        (&c.error, texts.clone()),
        (&c.latency, ints.clone()),
        (&c.event, texts.clone()),
        (&c.number, ints.clone()),
        (&c.next, ints.clone()),
        (&c.body, Type::BYTEA_ARRAY),
        (&c.truncated, Type::BOOL_ARRAY),
        (&c.started, ints.clone()),
        (&c.ended, ints),
    ];
    let job_cols = JOB_COLS
        .split(", ")
        .map(|c| format!("j.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "WITH input AS (SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) AS i(fence, new_status, next_at, \
         scope_tenant, clear_url, a_id, a_job, a_tenant, a_trigger, a_url, a_level, a_status, \
         a_code, a_error, a_latency, a_event, a_number, a_next, a_body, a_truncated, a_started, \
         a_ended)), \
         upd AS (UPDATE outbox_jobs j SET status = i.new_status, next_attempt_at = i.next_at, \
         due_at = i.next_at, updated_at = i.a_ended FROM input i WHERE j.id = i.a_job \
         AND j.fence = i.fence AND (j.status = 'in-flight') IS TRUE \
         AND (j.tenant_id = i.a_tenant AND (i.scope_tenant IS NULL \
         OR j.tenant_id = i.scope_tenant)) IS TRUE RETURNING {job_cols}), \
         ins AS (INSERT INTO outbox_attempts ({ATTEMPT_COLS}) SELECT i.a_id, i.a_job, \
         i.a_tenant, i.a_trigger, i.a_url, i.a_level, i.a_status, i.a_code, i.a_error, \
         i.a_latency, i.a_event, i.a_number, i.a_next, i.a_body, i.a_truncated, i.a_started, \
         i.a_ended FROM input i JOIN upd u ON u.id = i.a_job), \
         tgt AS (UPDATE outbox_targets t SET failing_since = NULL FROM (SELECT DISTINCT \
         i.a_tenant, i.clear_url FROM input i JOIN upd u ON u.id = i.a_job \
         WHERE i.clear_url IS NOT NULL) c WHERE t.tenant_id = c.a_tenant \
         AND t.url = c.clear_url AND t.failing_since IS NOT NULL) \
         SELECT * FROM upd"
    );
    match client.query_typed(&text, &params).await {
        Ok(rows) => Ok(rows),
        Err(e)
            if is_unique_violation(&e, "outbox_attempts_id_key")
                || e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) =>
        {
            Err(BatchFailure::OneByOne)
        }
        Err(e) => Err(BatchFailure::Store(backend(e))),
    }
}

/// The finish statement: the fenced job update and the attempt insert, in one statement.
/// `$1..$4` are the job's new status, due time, update time and id, `$5..$21` the attempt,
/// `$22` the fence and `$23` the tenant; then the scope's tenant when `scoped`, then the URL
/// whose failures a delivery clears when `clear_target`.
fn finish_statement(scoped: bool, clear_target: bool) -> String {
    let mut n = 23;
    // The status and tenant tests sit inside `IS TRUE`, which no index serves: the planner
    // then always finds the row by its unique id, never by walking the (tenant, status)
    // index's dead in-flight entries.
    let scope = if scoped {
        n += 1;
        format!(" AND tenant_id = ${n}")
    } else {
        String::new()
    };
    let target = if clear_target {
        n += 1;
        format!(
            ", tgt AS (UPDATE outbox_targets SET failing_since = NULL \
             WHERE tenant_id = $23 AND url = ${n} AND failing_since IS NOT NULL \
             AND EXISTS (SELECT 1 FROM upd))"
        )
    } else {
        String::new()
    };
    format!(
        "WITH upd AS (UPDATE outbox_jobs SET status = $1, next_attempt_at = $2, due_at = $2, \
         updated_at = $3 WHERE id = $4 AND fence = $22 AND (status = 'in-flight') IS TRUE \
         AND (tenant_id = $23{scope}) IS TRUE RETURNING {JOB_COLS}), \
         ins AS (INSERT INTO outbox_attempts ({ATTEMPT_COLS}) SELECT {} FROM upd){target} \
         SELECT {JOB_COLS} FROM upd",
        attempt_placeholders(5)
    )
}

async fn run_finish(
    client: &impl GenericClient,
    text: &str,
    values: &[Param<'_>],
    attempt: &Attempt,
) -> Result<Vec<Row>, OutboxError> {
    let stmt = client.prepare_cached(text).await.map_err(backend)?;
    match client.query(&stmt, values).await {
        Ok(rows) => Ok(rows),
        Err(e) if is_unique_violation(&e, "outbox_attempts_id_key") => {
            Err(duplicate_attempt(attempt))
        }
        Err(e) => Err(backend(e)),
    }
}

/// Applies an attempt to its target's breaker, under the breaker row's lock; the breaker's
/// state when this opened or closed it.
async fn record_breaker(
    tx: &impl GenericClient,
    tenant: &TenantId,
    target: &TargetRef,
    event: BreakerEvent,
    at: Timestamp,
) -> Result<Option<BreakerState>, OutboxError> {
    tx.execute(
        "INSERT INTO outbox_breakers (tenant_id, target, failures) VALUES ($1, $2, 0) \
         ON CONFLICT (tenant_id, target) DO NOTHING",
        &[&tenant.as_str(), &target.as_str()],
    )
    .await
    .map_err(backend)?;
    let r = tx
        .query_one(
            "SELECT failures, open_until FROM outbox_breakers \
             WHERE tenant_id = $1 AND target = $2 FOR UPDATE",
            &[&tenant.as_str(), &target.as_str()],
        )
        .await
        .map_err(backend)?;
    let current = sql::breaker_from_row(tenant, target, (r.int(0)?, r.opt_int(1)?));
    let (state, changed) = current.after(event, at);
    if state.failures == 0 && state.open_until.is_none() {
        tx.execute(
            "DELETE FROM outbox_breakers WHERE tenant_id = $1 AND target = $2",
            &[&tenant.as_str(), &target.as_str()],
        )
        .await
        .map_err(backend)?;
    } else {
        tx.execute(
            "UPDATE outbox_breakers SET failures = $3, open_until = $4 \
             WHERE tenant_id = $1 AND target = $2",
            &[
                &tenant.as_str(),
                &target.as_str(),
                &int(u64::from(state.failures)),
                &state.open_until.map(ms),
            ],
        )
        .await
        .map_err(backend)?;
    }
    Ok(changed.then_some(state))
}

/// Keeps a `LISTEN` connection on `channel` and rings `bell` at every notification, until
/// `stop` ends (the store was dropped). Reconnects after a pause when the connection fails;
/// meanwhile the dispatchers poll.
async fn listen_for_jobs(
    config: tokio_postgres::Config,
    channel: String,
    bell: Doorbell,
    mut stop: futures_channel::oneshot::Receiver<()>,
) {
    use futures_util::future::{Either, select};
    use futures_util::stream::{StreamExt, poll_fn};
    use tokio_postgres::AsyncMessage;
    loop {
        let session = async {
            let (client, mut connection) = config.connect(NoTls).await.map_err(backend)?;
            let mut messages = poll_fn(move |cx| connection.poll_message(cx));
            // The connection must be driven for the LISTEN to be answered.
            let statement = format!("LISTEN {channel}");
            let listen = client.batch_execute(&statement);
            let mut listen = std::pin::pin!(listen);
            loop {
                match select(listen.as_mut(), messages.next()).await {
                    Either::Left((result, _)) => {
                        result.map_err(backend)?;
                        break;
                    }
                    Either::Right((Some(Ok(_)), _)) => {}
                    Either::Right((Some(Err(e)), _)) => return Err(backend(e)),
                    Either::Right((None, _)) => return Ok(()),
                }
            }
            // Anything may have been enqueued while no one listened.
            bell.ring();
            // `client` stays alive with the session: dropping it would end the connection.
            while let Some(message) = messages.next().await {
                if let AsyncMessage::Notification(_) = message.map_err(backend)? {
                    bell.ring();
                }
            }
            Ok::<(), OutboxError>(())
        };
        let session = std::pin::pin!(session);
        match select(session, &mut stop).await {
            Either::Left(_) => {}
            Either::Right(_) => return,
        }
        let pause = std::pin::pin!(tokio::time::sleep(Duration::from_secs(1)));
        if let Either::Right(_) = select(pause, &mut stop).await {
            return;
        }
    }
}

/// Applies a 410 or an exhausted job to its target's health, under the target row's lock.
async fn record_health(
    tx: &impl GenericClient,
    tenant: &TenantId,
    event: &TargetEvent,
    at: Timestamp,
) -> Result<Option<TargetState>, OutboxError> {
    let url = sql::event_url(event);
    tx.execute(
        "INSERT INTO outbox_targets (tenant_id, url) VALUES ($1, $2) \
         ON CONFLICT (tenant_id, url) DO NOTHING",
        &[&tenant.as_str(), &url],
    )
    .await
    .map_err(backend)?;
    let r = tx
        .query_one(
            "SELECT failing_since, disabled_reason, disabled_at FROM outbox_targets \
             WHERE tenant_id = $1 AND url = $2 FOR UPDATE",
            &[&tenant.as_str(), &url],
        )
        .await
        .map_err(backend)?;
    let current: TargetRow = (r.opt_int(0)?, r.opt_text(1)?, r.opt_int(2)?);
    let current = sql::target_from_row(tenant, url, current)?;
    // A row made just now holds nothing yet: the same as no row.
    let current =
        (current.failing_since.is_some() || current.disabled.is_some()).then_some(current);
    let (write, disabled) = sql::apply_target(tenant, current, event, at);
    if let Some(state) = write {
        let (failing, reason, at) = sql::target_to_row(&state);
        tx.execute(
            "UPDATE outbox_targets SET failing_since = $3, disabled_reason = $4, \
             disabled_at = $5 WHERE tenant_id = $1 AND url = $2",
            &[&tenant.as_str(), &url, &failing, &reason, &at],
        )
        .await
        .map_err(backend)?;
    }
    Ok(disabled)
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert(
        &self,
        scope: &Scope,
        job: Job,
        idempotency_window: Duration,
    ) -> Result<Inserted, OutboxError> {
        if !scope.contains(&job.tenant) {
            return Err(OutboxError::OutOfScope { tenant: job.tenant });
        }
        check_job_text(&job)?;
        let inserted = match job.idempotency_key.clone() {
            Some(key) => self.insert_keyed(job, key, idempotency_window).await?,
            None => self.insert_batched(job).await?,
        };
        if inserted.created {
            self.shared.bell.ring();
        }
        Ok(inserted)
    }

    async fn claim(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_with(scope, now, lease, limit, &ClaimRules::unlimited())
            .await
    }

    async fn claim_with(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
        rules: &ClaimRules,
    ) -> Result<Vec<Claimed>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = now.saturating_add(lease);
        // The chosen rows are locked and updated by their sequence numbers and tuple ids
        // (index and TID scans), never through a join: a plan cached while the table was small
        // would otherwise hash-join against a scan of the whole table, which grows with every
        // job ever sent. A row another claim took meanwhile is skipped (locked) or no longer
        // due (re-checked once locked).
        let mut sql = Sql::new("WITH ");
        sql::fair_pick(&mut sql, scope, now, limit, rules);
        sql.push(
            ", picked AS (SELECT ctid, seq, status FROM outbox_jobs \
             WHERE seq = ANY(ARRAY(SELECT seq FROM chosen))",
        )
        .bind(
            " AND due_at <= {} FOR UPDATE SKIP LOCKED), ",
            Val::Int(ms(now)),
        )
        .push(
            "upd AS (UPDATE outbox_jobs SET status = 'in-flight', attempts = attempts + 1, \
             step = step + 1, fence = fence + 1",
        )
        .bind(", due_at = {}", Val::Int(ms(until)))
        .bind(", updated_at = {}", Val::Int(ms(now)))
        .push(&format!(
            " WHERE ctid = ANY(ARRAY(SELECT ctid FROM picked)) RETURNING seq, fence, {JOB_COLS}) \
             SELECT c.turn, c.due_at, u.*, (SELECT array_agg(t.url) FROM outbox_targets t \
             WHERE t.tenant_id = u.tenant_id AND t.disabled_reason IS NOT NULL), c.failures, \
             (SELECT p.status = 'in-flight' FROM picked p WHERE p.seq = u.seq) \
             FROM upd u JOIN chosen c ON c.seq = u.seq"
        ));
        let rows = query(&***self.shared().await?, &sql).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut disabled = crate::outbox::store::DisabledTargets::default();
        for row in rows {
            let job = sql::job_from_row(&row, 4)?;
            let fence = u64::try_from(row.int(3)?).unwrap_or(0);
            let at = 4 + sql::JOB_COL_COUNT;
            let urls: Option<Vec<String>> = row.try_get(at).map_err(backend)?;
            let urls = disabled.share(&job.tenant, || Ok(urls.unwrap_or_default()))?;
            let failures = u32::try_from(row.int(at + 1)?).unwrap_or(u32::MAX);
            let reclaimed: Option<bool> = row.try_get(at + 2).map_err(backend)?;
            let lease = Lease::new(job.id.clone(), job.tenant.clone(), fence, until);
            let c = Claimed::new(job, lease)
                .with_disabled_targets(urls)
                .with_breaker_failures(failures)
                .reclaimed(reclaimed.unwrap_or(false));
            claimed.push(((row.int(0)?, row.int(1)?, row.int(2)?), c));
        }
        claimed.sort_by_key(|(order, _)| *order);
        Ok(claimed.into_iter().map(|(_, c)| c).collect())
    }

    async fn renew(
        &self,
        scope: &Scope,
        lease: &Lease,
        until: Timestamp,
    ) -> Result<Lease, OutboxError> {
        let mut renew = Sql::new("UPDATE outbox_jobs SET ");
        renew
            .bind("due_at = {}", Val::Int(ms(until)))
            .bind(" WHERE id = {}", Val::Text(lease.job_id.as_str().into()))
            .bind(
                " AND fence = {} AND status = 'in-flight' AND ",
                Val::Int(int(lease.fence)),
            )
            .scope(scope)
            .push(" RETURNING id");
        if query(&***self.shared().await?, &renew).await?.is_empty() {
            return Err(OutboxError::StaleLease {
                job: lease.job_id.clone(),
                fence: lease.fence,
            });
        }
        let mut renewed = lease.clone();
        renewed.expires_at = until;
        Ok(renewed)
    }

    async fn breaker(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        target: &TargetRef,
    ) -> Result<Option<BreakerState>, OutboxError> {
        if !scope.contains(tenant) {
            return Ok(None);
        }
        let client = self.shared().await?;
        let row = client
            .query_opt(
                "SELECT failures, open_until FROM outbox_breakers \
                 WHERE tenant_id = $1 AND target = $2",
                &[&tenant.as_str(), &target.as_str()],
            )
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(sql::breaker_from_row(
                tenant,
                target,
                (r.int(0)?, r.opt_int(1)?),
            ))
        })
        .transpose()
    }

    fn doorbell(&self) -> Option<Doorbell> {
        Some(self.shared.bell.clone())
    }

    async fn finish(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError> {
        let changes_health = matches!(
            finish.target,
            Some(TargetEvent::Gone { .. } | TargetEvent::Exhausted { .. })
        );
        if changes_health || finish.breaker.is_some() || finish.attempt.job_id != lease.job_id {
            return self.finish_one(scope, lease, finish).await;
        }
        self.finish_batched(FinishCall {
            scope: scope.clone(),
            lease: lease.clone(),
            finish,
        })
        .await
    }

    async fn append_attempt(&self, scope: &Scope, attempt: Attempt) -> Result<(), OutboxError> {
        let row = AttemptRow::new(&attempt);
        let scope_tenant = scope.as_tenant().map(TenantId::as_str);
        let text = format!(
            "INSERT INTO outbox_attempts ({ATTEMPT_COLS}) SELECT {} FROM outbox_jobs \
             WHERE id = $2 AND tenant_id = $3{}",
            attempt_placeholders(1),
            if scope_tenant.is_some() {
                " AND tenant_id = $18"
            } else {
                ""
            }
        );
        let scope_value = scope_tenant.unwrap_or_default();
        let mut values: Vec<Param<'_>> = row.params().to_vec();
        if scope_tenant.is_some() {
            values.push(&scope_value);
        }
        let client = self.shared().await?;
        let stmt = client.prepare_cached(&text).await.map_err(backend)?;
        match client.execute(&stmt, &values).await {
            Ok(0) => Err(OutboxError::not_found("job", &attempt.job_id)),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e, "outbox_attempts_id_key") => {
                Err(duplicate_attempt(&attempt))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn record(
        &self,
        scope: &Scope,
        job: Job,
        attempts: Vec<Attempt>,
    ) -> Result<(), OutboxError> {
        crate::outbox::store::check_record(scope, &job, &attempts)?;
        check_job_text(&job)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO outbox_jobs ({JOB_INSERT_COLS}, due_at, fence) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12, NULL, 0)"
            ))
            .await
            .map_err(backend)?;
        let result = tx
            .execute(
                &stmt,
                &[
                    &job.id.as_str(),
                    &job.tenant.as_str(),
                    &job.event_type,
                    &job.call_id,
                    &&job.payload[..],
                    &job.target.as_str(),
                    &job.status.as_str(),
                    &i64::from(job.attempts),
                    &i64::from(job.step),
                    &ms(job.created_at),
                    &ms(job.updated_at),
                    &job.idempotency_key,
                ],
            )
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, "outbox_jobs_id_key") => {
                return Err(OutboxError::DuplicateJob(job.id));
            }
            Err(e) => return Err(backend(e)),
        }
        let text = format!(
            "INSERT INTO outbox_attempts ({ATTEMPT_COLS}) VALUES ({})",
            attempt_placeholders(1)
        );
        let stmt = tx.prepare_cached(&text).await.map_err(backend)?;
        for attempt in &attempts {
            let row = AttemptRow::new(attempt);
            match tx.execute(&stmt, &row.params()).await {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e, "outbox_attempts_id_key") => {
                    return Err(duplicate_attempt(attempt));
                }
                Err(e) => return Err(backend(e)),
            }
        }
        tx.commit().await.map_err(backend)
    }

    async fn job(&self, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError> {
        let mut sql = Sql::new(&format!("SELECT {JOB_COLS} FROM outbox_jobs WHERE "));
        sql.scope(scope)
            .bind(" AND id = {}", Val::Text(id.as_str().into()));
        let rows = query(&***self.shared().await?, &sql).await?;
        rows.first().map(|r| sql::job_from_row(r, 0)).transpose()
    }

    async fn jobs(&self, scope: &Scope, query_: &JobQuery) -> Result<Page<Job>, OutboxError> {
        let (sql, limit) = sql::jobs_query(scope, query_)?;
        let rows = query(&**self.client().await?, &sql).await?;
        let rows = rows
            .iter()
            .map(|r| sql::job_from_row(r, 1))
            .collect::<Result<Vec<_>, OutboxError>>()?;
        Ok(crate::outbox::model::cut_page(rows, limit))
    }

    async fn attempt(&self, scope: &Scope, id: &AttemptId) -> Result<Option<Attempt>, OutboxError> {
        let mut sql = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS} FROM outbox_attempts WHERE "
        ));
        sql.scope(scope)
            .bind(" AND id = {}", Val::Text(id.as_str().into()));
        let rows = query(&***self.shared().await?, &sql).await?;
        rows.first()
            .map(|r| sql::attempt_from_row(r, 0))
            .transpose()
    }

    async fn attempts(
        &self,
        scope: &Scope,
        query_: &AttemptQuery,
    ) -> Result<Page<Attempt>, OutboxError> {
        let (sql, limit) = sql::attempts_query(scope, query_)?;
        let rows = query(&**self.client().await?, &sql).await?;
        let rows = rows
            .iter()
            .map(|r| sql::attempt_from_row(r, 1))
            .collect::<Result<Vec<_>, OutboxError>>()?;
        Ok(crate::outbox::model::cut_page(rows, limit))
    }

    async fn requeue(&self, scope: &Scope, id: &JobId, now: Timestamp) -> Result<Job, OutboxError> {
        let mut sql = Sql::new("UPDATE outbox_jobs SET status = 'pending', step = 0");
        sql.bind(", next_attempt_at = {}", Val::Int(ms(now)))
            .bind(", due_at = {}", Val::Int(ms(now)))
            .bind(", updated_at = {}", Val::Int(ms(now)))
            .push(" WHERE ")
            .scope(scope)
            .bind(" AND id = {}", Val::Text(id.as_str().into()))
            .push(" AND status IN ('failed', 'skipped') AND payload_state = 'kept'")
            .push(&format!(" RETURNING {JOB_COLS}"));
        let client = self.client().await?;
        if let Some(row) = query(&**client, &sql).await?.first() {
            return sql::job_from_row(row, 0);
        }
        let mut find = Sql::new("SELECT status, payload_state FROM outbox_jobs WHERE ");
        find.scope(scope)
            .bind(" AND id = {}", Val::Text(id.as_str().into()));
        match query(&**client, &find).await?.first() {
            None => Err(OutboxError::not_found("job", id)),
            Some(row) if row.text(1)? != PayloadState::Kept.as_str() => {
                Err(OutboxError::PayloadRemoved {
                    job: id.clone(),
                    state: row
                        .text(1)?
                        .parse()
                        .map_err(|e: OutboxError| sql::corrupt(e.to_string()))?,
                })
            }
            Some(row) => Err(OutboxError::NotRequeueable {
                job: id.clone(),
                status: row
                    .text(0)?
                    .parse()
                    .map_err(|e: OutboxError| sql::corrupt(e.to_string()))?,
            }),
        }
    }

    async fn recover(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
        limit: usize,
    ) -> Result<Recovered, OutboxError> {
        let mut pick = Sql::new("SELECT seq, id FROM outbox_jobs WHERE ");
        pick.scope(scope)
            .push(" AND status = 'failed' AND payload_state = 'kept'")
            .bind(" AND created_at >= {}", Val::Int(ms(since)))
            .bind(" AND created_at < {}", Val::Int(ms(until)))
            .bind(
                " ORDER BY seq LIMIT {} FOR UPDATE",
                Val::Int(int(limit as u64 + 1)),
            );
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let rows = query(&*tx, &pick).await?;
        let capped = rows.len() > limit;
        let mut seqs = Vec::with_capacity(limit.min(rows.len()));
        let mut requeued = Vec::with_capacity(seqs.capacity());
        for row in rows.iter().take(limit) {
            seqs.push(row.int(0)?);
            requeued.push(JobId::new(&row.text(1)?).map_err(|e| sql::corrupt(e.to_string()))?);
        }
        let mut update = Sql::new("UPDATE outbox_jobs SET status = 'pending', step = 0");
        update
            .bind(", next_attempt_at = {}", Val::Int(ms(now)))
            .bind(", due_at = {}", Val::Int(ms(now)))
            .bind(", updated_at = {}", Val::Int(ms(now)))
            .push(" WHERE ")
            .scope(scope);
        let n = update.args.len() + 1;
        update.push(&format!(" AND seq = ANY(${n}::bigint[])"));
        let stmt = tx.prepare_cached(&update.text).await.map_err(backend)?;
        let mut values = params(&update);
        values.push(&seqs);
        tx.execute(&stmt, &values).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Recovered::new(requeued, capped))
    }

    async fn target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<Option<TargetState>, OutboxError> {
        if !scope.contains(tenant) {
            return Ok(None);
        }
        let client = self.shared().await?;
        let stmt = client
            .prepare_cached(
                "SELECT failing_since, disabled_reason, disabled_at FROM outbox_targets \
                 WHERE tenant_id = $1 AND url = $2",
            )
            .await
            .map_err(backend)?;
        let row = client
            .query_opt(&stmt, &[&tenant.as_str(), &url])
            .await
            .map_err(backend)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let row: TargetRow = (r.opt_int(0)?, r.opt_text(1)?, r.opt_int(2)?);
                sql::target_from_row(tenant, url, row).map(Some)
            }
        }
    }

    async fn enable_target(
        &self,
        scope: &Scope,
        tenant: &TenantId,
        url: &str,
    ) -> Result<(), OutboxError> {
        if !scope.contains(tenant) {
            return Err(OutboxError::not_found("target", url));
        }
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE outbox_targets SET failing_since = NULL, disabled_reason = NULL, \
                 disabled_at = NULL WHERE tenant_id = $1 AND url = $2",
                &[&tenant.as_str(), &url],
            )
            .await
            .map_err(backend)?;
        if changed == 0 {
            return Err(OutboxError::not_found("target", url));
        }
        Ok(())
    }

    async fn backlog(&self, scope: &Scope, now: Timestamp) -> Result<Option<Backlog>, OutboxError> {
        let sql = sql::backlog_query(scope, now);
        let rows = query(&***self.shared().await?, &sql).await?;
        rows.first()
            .map(|r| sql::backlog_from_row(r, now))
            .transpose()
    }

    async fn purge(&self, scope: &Scope, purge: &Purge) -> Result<Purged, OutboxError> {
        let mut total = Purged::default();
        for step in [PurgeStep::Delete, PurgeStep::Expire, PurgeStep::Privacy] {
            if let Some(pick) = sql::purge_pick(scope, purge, step) {
                total.add(self.purge_step(pick, purge, step).await?);
            }
        }
        Ok(total)
    }

    async fn erase(
        &self,
        scope: &Scope,
        erase: &Erase,
        limit: usize,
    ) -> Result<Erased, OutboxError> {
        let tenant = erase.tenant();
        if !scope.contains(tenant) {
            return Err(OutboxError::OutOfScope {
                tenant: tenant.clone(),
            });
        }
        let limit = limit.max(1);
        // Waits for a row a finish holds (never skips it): an erasure misses nothing.
        let mut pick = sql::erase_pick(scope, erase, limit);
        pick.push(" FOR UPDATE");
        let client = self.client().await?;
        let rows = query(&**client, &delete_picked(pick)).await?;
        let (jobs, attempts) = picked_counts(&rows)?;
        let more = jobs >= limit as u64;
        let mut erased = Erased::new(jobs, attempts, 0, more);
        if let (Erase::Tenant(tenant), false) = (erase, more) {
            // Attempts always have their job; any left without one go with the tenant too.
            erased.attempts += client
                .execute(
                    "DELETE FROM outbox_attempts WHERE tenant_id = $1",
                    &[&tenant.as_str()],
                )
                .await
                .map_err(backend)?;
            erased.targets = client
                .execute(
                    "DELETE FROM outbox_targets WHERE tenant_id = $1",
                    &[&tenant.as_str()],
                )
                .await
                .map_err(backend)?;
            // The tenant's breakers (failure counts per target reference) go with its health.
            erased.targets += client
                .execute(
                    "DELETE FROM outbox_breakers WHERE tenant_id = $1",
                    &[&tenant.as_str()],
                )
                .await
                .map_err(backend)?;
        }
        Ok(erased)
    }
}

/// One statement deleting the jobs `pick` selects (with their rows locked) and their
/// attempts; answers `(jobs, attempts)`.
fn delete_picked(mut pick: Sql) -> Sql {
    let mut sql = Sql::new("WITH picked AS (");
    sql.args = std::mem::take(&mut pick.args);
    sql.push(&pick.text).push(
        "), a AS (DELETE FROM outbox_attempts WHERE job_id IN (SELECT id FROM picked) \
         RETURNING 1), j AS (DELETE FROM outbox_jobs WHERE seq IN (SELECT seq FROM picked) \
         RETURNING 1) SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM a)",
    );
    sql
}

fn picked_counts(rows: &[Row]) -> Result<(u64, u64), OutboxError> {
    let Some(row) = rows.first() else {
        return Ok((0, 0));
    };
    let n = |i| row.int(i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok((n(0)?, n(1)?))
}

impl PostgresStore {
    /// One lifecycle change in one statement or one short transaction. The picked rows are
    /// locked `FOR UPDATE SKIP LOCKED`: instances purging at once take different rows, and a
    /// row a finish or requeue holds is left for the next step.
    async fn purge_step(
        &self,
        mut pick: Sql,
        purge: &Purge,
        step: PurgeStep,
    ) -> Result<Purged, OutboxError> {
        pick.push(" FOR UPDATE SKIP LOCKED");
        let limit = purge.limit as u64;
        match step {
            PurgeStep::Delete => {
                let client = self.client().await?;
                let rows = query(&**client, &delete_picked(pick)).await?;
                let (jobs, attempts) = picked_counts(&rows)?;
                Ok(Purged::new((jobs, attempts), (0, 0, 0), jobs >= limit))
            }
            PurgeStep::Expire => {
                let mut sql = Sql::new("WITH picked AS (");
                sql.args = std::mem::take(&mut pick.args);
                sql.push(&pick.text).push(
                    "), j AS (UPDATE outbox_jobs SET payload = '\\x'::bytea, \
                     payload_state = 'expired' WHERE seq IN (SELECT seq FROM picked) \
                     RETURNING id), a AS (UPDATE outbox_attempts SET response_body = \
                     '\\x'::bytea WHERE job_id IN (SELECT id FROM j) \
                     AND length(response_body) > 0) SELECT count(*) FROM j",
                );
                let client = self.client().await?;
                let rows = query(&**client, &sql).await?;
                let (expired, _) = match rows.first() {
                    Some(r) => (u64::try_from(r.int(0)?).unwrap_or(0), 0),
                    None => (0, 0),
                };
                Ok(Purged::new((0, 0), (expired, 0, 0), expired >= limit))
            }
            PurgeStep::Privacy => {
                let mut client = self.client().await?;
                let tx = client.transaction().await.map_err(backend)?;
                let rows = query(&*tx, &pick).await?;
                let mut seqs = Vec::new();
                let mut payloads = Vec::new();
                let mut states = Vec::new();
                let mut cleared = Vec::new();
                let mut done = Purged::new((0, 0), (0, 0, 0), rows.len() as u64 >= limit);
                for row in &rows {
                    let state: PayloadState = row
                        .text(3)?
                        .parse()
                        .map_err(|e: OutboxError| sql::corrupt(e.to_string()))?;
                    let Some((payload, state)) =
                        privacy_change(&purge.privacy, state, &row.bytes(2)?)
                    else {
                        continue;
                    };
                    if state == PayloadState::Dropped {
                        done.payloads_dropped += 1;
                        cleared.push(row.text(1)?);
                    } else {
                        done.payloads_redacted += 1;
                    }
                    seqs.push(row.int(0)?);
                    payloads.push(payload);
                    states.push(state.as_str());
                }
                if !seqs.is_empty() {
                    tx.execute(
                        "UPDATE outbox_jobs j SET payload = c.payload, payload_state = c.state \
                         FROM unnest($1::bigint[], $2::bytea[], $3::text[]) \
                         AS c(seq, payload, state) WHERE j.seq = c.seq",
                        &[&seqs, &payloads, &states],
                    )
                    .await
                    .map_err(backend)?;
                }
                if !cleared.is_empty() {
                    tx.execute(
                        "UPDATE outbox_attempts SET response_body = '\\x'::bytea \
                         WHERE job_id = ANY($1::text[]) AND length(response_body) > 0",
                        &[&cleared],
                    )
                    .await
                    .map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(done)
            }
        }
    }
}
