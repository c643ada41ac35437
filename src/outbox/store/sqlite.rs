//! `SqliteStore`: the durable embedded store (feature `sqlite`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use futures_channel::oneshot;
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use crate::outbox::error::OutboxError;
use crate::outbox::lifecycle::{Erase, Erased, Purge, Purged, privacy_change};
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Job, JobId, JobQuery, JobStatus, Page, PayloadState,
    Timestamp,
};
use crate::outbox::store::sql::{
    self, ATTEMPT_COLS, JOB_COLS, JOB_INSERT_COLS, PurgeStep, RowRead, Sql, TargetRow, Val, int, ms,
};
use crate::outbox::store::{
    Claimed, Finish, Finished, Inserted, Lease, Recovered, Store, TargetState,
};
use crate::tenant::{Scope, TenantId};

/// How long a statement waits for another connection's write lock (another process on the
/// same file) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most writes one transaction (one fsync) carries.
const MAX_GROUP: usize = 256;

/// A write's answer, sent once its transaction's fate is known: the commit's error, if any,
/// turns a success into that error.
type Answer = Box<dyn FnOnce(Option<&OutboxError>) + Send>;

/// Work for the store's thread.
enum Task {
    /// Reads outside any transaction; answers at once.
    Read(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Writes inside the thread's current write transaction, in a savepoint of its own (an
    /// error rolls back only its own changes); answered after the commit. Handed the error
    /// instead of the connection when the transaction could not begin.
    Write(Write),
}

/// SQLite rolled back the whole transaction on its own (a full disk, an I/O error).
#[derive(Debug, thiserror::Error)]
#[error("SQLite rolled the write transaction back; nothing of it was stored")]
struct RolledBack;

/// Runs tasks as they come: writes that queued up together share one `BEGIN IMMEDIATE`
/// transaction, so one fsync covers them all (group commit), and each is answered only after
/// that commit. A read first commits the writes before it.
fn serve(conn: &mut Connection, queue: &mpsc::Receiver<Task>) {
    let mut group: Vec<Answer> = Vec::new();
    // Ends when the store (the only sender) is dropped.
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        while let Some(task) = next {
            match task {
                Task::Read(read) => {
                    commit(conn, &mut group);
                    read(conn);
                }
                Task::Write(write) => write_in_group(conn, &mut group, write),
            }
            next = queue.try_recv().ok();
        }
        commit(conn, &mut group);
    }
}

type Write = Box<dyn FnOnce(Result<&mut Connection, &OutboxError>) -> Answer + Send>;

fn write_in_group(conn: &mut Connection, group: &mut Vec<Answer>, write: Write) {
    if group.is_empty() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").map_err(backend) {
            write(Err(&e))(None);
            return;
        }
    }
    group.push(write(Ok(conn)));
    if conn.is_autocommit() {
        // The transaction is gone: nothing of this group is stored.
        let e = OutboxError::backend(RolledBack);
        for answer in group.drain(..) {
            answer(Some(&e));
        }
    } else if group.len() >= MAX_GROUP {
        commit(conn, group);
    }
}

/// Commits the group's transaction, if one is open, and answers its writes.
fn commit(conn: &mut Connection, group: &mut Vec<Answer>) {
    if group.is_empty() {
        return;
    }
    let result = conn.execute_batch("COMMIT").map_err(backend);
    if result.is_err() && !conn.is_autocommit() {
        // Leave no transaction open behind a failed commit.
        let _ = conn.execute_batch("ROLLBACK");
    }
    for answer in group.drain(..) {
        answer(result.as_ref().err());
    }
}

/// The durable embedded [`Store`] on SQLite: one file, for a single runtime (feature `sqlite`).
///
/// - SQLite is compiled in (`bundled`), in WAL mode with `synchronous=FULL`: an enqueued job
///   survives a crash of the process and of the machine.
/// - The schema is versioned; [`SqliteStore::open`] runs the migrations it lacks and refuses a
///   file migrated by a newer build.
/// - Writes and claims run in `BEGIN IMMEDIATE` transactions, so several processes may share
///   the file (each waits up to 10 s for the write lock); one process is the intended use,
///   `PostgresStore` (feature `postgres`) is for many. Writes that arrive together share
///   one transaction, and so one fsync (group commit), each in a savepoint of its own (an
///   error undoes only its own changes); every write is answered only after its
///   transaction is committed.
/// - The connection lives on its own thread: the async methods hand it the work and await the
///   answer, so they never block the executor, and no particular async runtime is needed.
///
/// ```no_run
/// # async fn demo() -> Result<(), agent_webhooks::outbox::OutboxError> {
/// use agent_webhooks::outbox::SqliteStore;
/// let store = SqliteStore::open("/var/lib/my-runtime/outbox.sqlite3").await?;
/// let tests = SqliteStore::open(":memory:").await?; // in memory, for tests
/// # Ok(()) }
/// ```
pub struct SqliteStore {
    tasks: mpsc::Sender<Task>,
    path: PathBuf,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The store's thread is gone: it could not start, or it panicked.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite store's thread has stopped")]
struct Stopped;

fn backend(e: rusqlite::Error) -> OutboxError {
    OutboxError::backend(e)
}

fn is_unique_violation(e: &rusqlite::Error, column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg))
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && msg.contains(column))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` (`":memory:"` for a private in-memory database)
    /// and brings its schema up to date.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the file cannot be opened or migrated;
    /// [`OutboxError::Invalid`] when it was migrated by a newer build of this crate.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OutboxError> {
        let path = path.as_ref().to_path_buf();
        let (tasks, queue) = mpsc::channel::<Task>();
        let (ready, opened) = oneshot::channel();
        let at = path.clone();
        std::thread::Builder::new()
            .name("agent-webhooks-sqlite".into())
            .spawn(move || {
                let mut conn = match open_connection(&at) {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                serve(&mut conn, &queue);
            })
            .map_err(OutboxError::backend)?;
        opened.await.map_err(|_| OutboxError::backend(Stopped))??;
        Ok(SqliteStore { tasks, path })
    }

    /// The schema version this build migrates to.
    pub const SCHEMA_VERSION: u32 = sql::SCHEMA_VERSION;

    /// Brings the planner's statistics up to date (`PRAGMA optimize`: it analyzes the tables
    /// whose statistics are missing or stale, sampling at most 1000 rows per index, so it
    /// takes milliseconds at any size). Runs on open and after every
    /// [`Store::purge`] (the [`Lifecycle`](crate::outbox::Lifecycle) step the host
    /// schedules); call it yourself on a schedule if you run no lifecycle step.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when SQLite fails.
    pub async fn optimize(&self) -> Result<(), OutboxError> {
        self.write(|c| c.execute_batch(OPTIMIZE).map_err(backend))
            .await
    }

    /// Runs the read `f` on the store's thread and awaits its answer.
    async fn call<T, F>(&self, f: F) -> Result<T, OutboxError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OutboxError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.tasks
            .send(Task::Read(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            })))
            .map_err(|_| OutboxError::backend(Stopped))?;
        rx.await.map_err(|_| OutboxError::backend(Stopped))?
    }

    /// Runs the write `f` on the store's thread, inside the current group transaction, and
    /// awaits its answer, which comes once that transaction is committed.
    async fn write<T, F>(&self, f: F) -> Result<T, OutboxError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, OutboxError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let task = move |conn: Result<&mut Connection, &OutboxError>| -> Answer {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(e) => Err(e.clone()),
            };
            Box::new(move |commit: Option<&OutboxError>| {
                let answer = match (result, commit) {
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (result, _) => result,
                };
                let _ = tx.send(answer);
            })
        };
        self.tasks
            .send(Task::Write(Box::new(task)))
            .map_err(|_| OutboxError::backend(Stopped))?;
        rx.await.map_err(|_| OutboxError::backend(Stopped))?
    }
}

fn open_connection(path: &Path) -> Result<Connection, OutboxError> {
    let mut conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    // `journal_mode` answers with the mode in force (`memory` for an in-memory database).
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    conn.execute_batch("PRAGMA synchronous = FULL")
        .map_err(backend)?;
    migrate(&mut conn)?;
    // Planner statistics: SQLite never gathers them by itself, and without them a listing
    // can pick the wrong index as history grows. `optimize` analyzes what needs it, each
    // table read in at most `analysis_limit` rows per index (milliseconds, at any size);
    // the lifecycle step runs it again ([`SqliteStore::optimize`]).
    conn.execute_batch(OPTIMIZE_ON_OPEN).map_err(backend)?;
    Ok(conn)
}

/// `PRAGMA optimize` as SQLite advises on opening a long-lived connection: every table
/// checked (0x10000), analyzed where statistics are missing or stale (0x02), sampled.
/// `PRAGMA optimize` on a schedule: the tables this connection used, sampled.
const OPTIMIZE: &str = "PRAGMA analysis_limit = 1000; PRAGMA optimize;";

const OPTIMIZE_ON_OPEN: &str = "PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;";

fn migrate(conn: &mut Connection) -> Result<(), OutboxError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS outbox_schema (version INTEGER PRIMARY KEY)")
        .map_err(backend)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let version: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM outbox_schema",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let applied = sql::applied_migrations(version)?;
    let dialect = sql::Dialect {
        serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
        blob: "BLOB",
        boolean: "INTEGER",
    };
    for (version, ddl) in sql::migrations_after(applied, &dialect) {
        tx.execute_batch(&ddl).map_err(backend)?;
        tx.execute("INSERT INTO outbox_schema (version) VALUES (?1)", [version])
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Text(s) => ToSqlOutput::from(s.as_str()),
            Val::Int(i) => ToSqlOutput::from(*i),
        })
    }
}

impl RowRead for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, OutboxError> {
        self.get(i).map_err(backend)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, OutboxError> {
        self.get(i).map_err(backend)
    }
    fn int(&self, i: usize) -> Result<i64, OutboxError> {
        self.get(i).map_err(backend)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, OutboxError> {
        self.get(i).map_err(backend)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, OutboxError> {
        self.get(i).map_err(backend)
    }
    fn flag(&self, i: usize) -> Result<bool, OutboxError> {
        self.get(i).map_err(backend)
    }
}

/// Runs a built statement and decodes every row with `decode`.
fn query_all<T>(
    conn: &Connection,
    sql: &Sql,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, OutboxError>,
) -> Result<Vec<T>, OutboxError> {
    let text = sql.text.replace('$', "?");
    let mut stmt = conn.prepare_cached(&text).map_err(backend)?;
    let mut rows = stmt.query(params_from_iter(&sql.args)).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn job_by_id(conn: &Connection, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError> {
    let mut sql = Sql::new(&format!("SELECT {JOB_COLS} FROM outbox_jobs WHERE "));
    sql.scope(scope)
        .bind(" AND id = {}", Val::Text(id.as_str().into()));
    Ok(query_all(conn, &sql, |r| sql::job_from_row(r, 0))?.pop())
}

fn insert_attempt(conn: &Connection, a: &Attempt) -> Result<(), OutboxError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO outbox_attempts ({ATTEMPT_COLS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ))
        .map_err(backend)?;
    let result = stmt.execute(params![
        a.id.as_str(),
        a.job_id.as_str(),
        a.tenant.as_str(),
        a.trigger.as_str(),
        a.url,
        a.level,
        a.status.as_str(),
        a.status_code.map(i64::from),
        a.error,
        int(a.latency_ms),
        a.event_type,
        i64::from(a.number),
        a.next_attempt_at.map(ms),
        a.response_body.as_bytes(),
        a.response_truncated,
        ms(a.started_at),
        ms(a.ended_at),
    ]);
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e, "outbox_attempts.id") => Err(OutboxError::Invalid {
            what: "attempt id",
            problem: format!("`{}` is already recorded", a.id),
        }),
        Err(e) => Err(backend(e)),
    }
}

fn read_target(
    conn: &Connection,
    tenant: &TenantId,
    url: &str,
) -> Result<Option<TargetState>, OutboxError> {
    let row: Option<TargetRow> = conn
        .prepare_cached(
            "SELECT failing_since, disabled_reason, disabled_at FROM outbox_targets \
             WHERE tenant_id = ?1 AND url = ?2",
        )
        .map_err(backend)?
        .query_row(params![tenant.as_str(), url], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(backend)?;
    row.map(|row| sql::target_from_row(tenant, url, row))
        .transpose()
}

fn write_target(conn: &Connection, state: &TargetState) -> Result<(), OutboxError> {
    let (failing, reason, at) = sql::target_to_row(state);
    conn.prepare_cached(
        "INSERT INTO outbox_targets (tenant_id, url, failing_since, disabled_reason, disabled_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, url) DO UPDATE SET \
         failing_since = excluded.failing_since, disabled_reason = excluded.disabled_reason, \
         disabled_at = excluded.disabled_at",
    )
    .map_err(backend)?
    .execute(params![
        state.tenant.as_str(),
        state.url,
        failing,
        reason,
        at
    ])
    .map_err(backend)?;
    Ok(())
}

fn insert_job(
    conn: &mut Connection,
    mut job: Job,
    window: Duration,
) -> Result<Inserted, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    if let Some(key) = &job.idempotency_key {
        if job_by_id(&tx, &Scope::AllTenants, &job.id)?.is_some() {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        let first = tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLS} FROM outbox_jobs WHERE tenant_id = ?1 \
                 AND idempotency_key = ?2 ORDER BY seq DESC LIMIT 1"
            ))
            .map_err(backend)?
            .query_row(params![job.tenant.as_str(), key], |r| {
                Ok(sql::job_from_row(r, 0))
            })
            .optional()
            .map_err(backend)?
            .transpose()?;
        if let Some(first) = first {
            if job.created_at < first.created_at.saturating_add(window) {
                let same = first.payload == job.payload
                    && first.event_type == job.event_type
                    && first.target == job.target
                    && first.call_id == job.call_id;
                return if same {
                    Ok(Inserted::new(first, false))
                } else {
                    Err(OutboxError::IdempotencyConflict {
                        key: key.clone(),
                        existing: first.id,
                    })
                };
            }
        }
    }
    job.status = JobStatus::Pending;
    job.payload_state = PayloadState::Kept;
    let due = *job.next_attempt_at.get_or_insert(job.created_at);
    let result = tx
        .prepare_cached(&format!(
            "INSERT INTO outbox_jobs ({JOB_INSERT_COLS}, due_at, fence) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?10, 0)"
        ))
        .map_err(backend)?
        .execute(params![
            job.id.as_str(),
            job.tenant.as_str(),
            job.event_type,
            job.call_id,
            &job.payload[..],
            job.target.as_str(),
            job.status.as_str(),
            i64::from(job.attempts),
            i64::from(job.step),
            ms(due),
            ms(job.created_at),
            ms(job.updated_at),
            job.idempotency_key,
        ]);
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "outbox_jobs.id") => {
            return Err(OutboxError::DuplicateJob(job.id));
        }
        Err(e) => return Err(backend(e)),
    }
    tx.commit().map_err(backend)?;
    Ok(Inserted::new(job, true))
}

/// A final job and its attempts in one savepoint; never due.
fn record_job(conn: &mut Connection, job: &Job, attempts: &[Attempt]) -> Result<(), OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let result = tx
        .prepare_cached(&format!(
            "INSERT INTO outbox_jobs ({JOB_INSERT_COLS}, due_at, fence) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11, ?12, NULL, 0)"
        ))
        .map_err(backend)?
        .execute(params![
            job.id.as_str(),
            job.tenant.as_str(),
            job.event_type,
            job.call_id,
            &job.payload[..],
            job.target.as_str(),
            job.status.as_str(),
            i64::from(job.attempts),
            i64::from(job.step),
            ms(job.created_at),
            ms(job.updated_at),
            job.idempotency_key,
        ]);
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "outbox_jobs.id") => {
            return Err(OutboxError::DuplicateJob(job.id.clone()));
        }
        Err(e) => return Err(backend(e)),
    }
    for attempt in attempts {
        insert_attempt(&tx, attempt)?;
    }
    tx.commit().map_err(backend)
}

fn claim_jobs(
    conn: &mut Connection,
    scope: &Scope,
    now: Timestamp,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Claimed>, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let mut pick = Sql::new("SELECT seq FROM outbox_jobs WHERE ");
    pick.scope(scope)
        .bind(" AND due_at <= {}", Val::Int(ms(now)))
        .bind(
            " ORDER BY due_at, seq LIMIT {}",
            Val::Int(int(limit as u64)),
        );
    let seqs = query_all(&tx, &pick, |r| r.int(0))?;
    let until = now.saturating_add(lease);
    let mut claimed = Vec::with_capacity(seqs.len());
    let mut disabled = crate::outbox::store::DisabledTargets::default();
    {
        let mut update = tx
            .prepare_cached(&format!(
                "UPDATE outbox_jobs SET status = 'in-flight', attempts = attempts + 1, \
                 step = step + 1, fence = fence + 1, due_at = ?1, updated_at = ?2 \
                 WHERE seq = ?3 RETURNING fence, {JOB_COLS}"
            ))
            .map_err(backend)?;
        for seq in seqs {
            let (fence, job) = update
                .query_row(params![ms(until), ms(now), seq], |r| {
                    Ok((r.int(0), sql::job_from_row(r, 1)))
                })
                .map_err(backend)?;
            let (fence, job) = (fence?, job?);
            let urls = disabled.share(&job.tenant, || {
                let mut find = Sql::new(
                    "SELECT url FROM outbox_targets WHERE disabled_reason IS NOT NULL AND ",
                );
                find.bind("tenant_id = {}", Val::Text(job.tenant.as_str().into()));
                query_all(&tx, &find, |r| r.text(0))
            })?;
            let lease = Lease::new(
                job.id.clone(),
                job.tenant.clone(),
                u64::try_from(fence).unwrap_or(0),
                until,
            );
            claimed.push(Claimed::new(job, lease).with_disabled_targets(urls));
        }
    }
    tx.commit().map_err(backend)?;
    Ok(claimed)
}

fn finish_job(
    conn: &mut Connection,
    scope: &Scope,
    lease: &Lease,
    finish: &Finish,
) -> Result<Finished, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let mut find = Sql::new("SELECT tenant_id, status, fence FROM outbox_jobs WHERE ");
    find.scope(scope)
        .bind(" AND id = {}", Val::Text(lease.job_id.as_str().into()));
    let found = query_all(&tx, &find, |r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))?.pop();
    let Some((tenant, status, fence)) = found else {
        return Err(OutboxError::not_found("job", &lease.job_id));
    };
    if status != JobStatus::InFlight.as_str() || fence != int(lease.fence) {
        return Err(OutboxError::StaleLease {
            job: lease.job_id.clone(),
            fence: lease.fence,
        });
    }
    let attempt = &finish.attempt;
    if attempt.job_id != lease.job_id || attempt.tenant.as_str() != tenant {
        return Err(OutboxError::Invalid {
            what: "attempt",
            problem: "its job id and tenant must be the leased job's".into(),
        });
    }
    let at = attempt.ended_at;
    insert_attempt(&tx, attempt)?;
    let mut disabled_target = None;
    if let Some(event) = &finish.target {
        let current = read_target(&tx, &attempt.tenant, sql::event_url(event))?;
        let (write, disabled) = sql::apply_target(&attempt.tenant, current, event, at);
        if let Some(state) = write {
            write_target(&tx, &state)?;
        }
        disabled_target = disabled;
    }
    let (status, next) = sql::next_state(finish.next);
    let job = tx
        .prepare_cached(&format!(
            "UPDATE outbox_jobs SET status = ?1, next_attempt_at = ?2, due_at = ?2, \
             updated_at = ?3 WHERE id = ?4 RETURNING {JOB_COLS}"
        ))
        .map_err(backend)?
        .query_row(
            params![status.as_str(), next.map(ms), ms(at), lease.job_id.as_str()],
            |r| Ok(sql::job_from_row(r, 0)),
        )
        .map_err(backend)??;
    tx.commit().map_err(backend)?;
    Ok(Finished::new(job, disabled_target))
}

fn requeue_job(
    conn: &mut Connection,
    scope: &Scope,
    id: &JobId,
    now: Timestamp,
) -> Result<Job, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let Some(job) = job_by_id(&tx, scope, id)? else {
        return Err(OutboxError::not_found("job", id));
    };
    if job.payload_state != PayloadState::Kept {
        return Err(OutboxError::PayloadRemoved {
            job: id.clone(),
            state: job.payload_state,
        });
    }
    if !matches!(job.status, JobStatus::Failed | JobStatus::Skipped) {
        return Err(OutboxError::NotRequeueable {
            job: id.clone(),
            status: job.status,
        });
    }
    let job = requeue_row(&tx, id, now)?;
    tx.commit().map_err(backend)?;
    Ok(job)
}

fn requeue_row(conn: &Connection, id: &JobId, now: Timestamp) -> Result<Job, OutboxError> {
    conn.prepare_cached(&format!(
        "UPDATE outbox_jobs SET status = 'pending', step = 0, next_attempt_at = ?1, \
         due_at = ?1, updated_at = ?1 WHERE id = ?2 RETURNING {JOB_COLS}"
    ))
    .map_err(backend)?
    .query_row(params![ms(now), id.as_str()], |r| {
        Ok(sql::job_from_row(r, 0))
    })
    .map_err(backend)?
}

fn recover_jobs(
    conn: &mut Connection,
    scope: &Scope,
    since: Timestamp,
    until: Timestamp,
    now: Timestamp,
    limit: usize,
) -> Result<Recovered, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let mut pick = Sql::new("SELECT id FROM outbox_jobs WHERE ");
    pick.scope(scope)
        .push(" AND status = 'failed' AND payload_state = 'kept'")
        .bind(" AND created_at >= {}", Val::Int(ms(since)))
        .bind(" AND created_at < {}", Val::Int(ms(until)))
        .bind(" ORDER BY seq LIMIT {}", Val::Int(int(limit as u64 + 1)));
    let mut ids = query_all(&tx, &pick, |r| r.text(0))?;
    let capped = ids.len() > limit;
    ids.truncate(limit);
    let mut requeued = Vec::with_capacity(ids.len());
    for id in ids {
        let id = JobId::new(&id).map_err(|e| sql::corrupt(e.to_string()))?;
        requeue_row(&tx, &id, now)?;
        requeued.push(id);
    }
    tx.commit().map_err(backend)?;
    Ok(Recovered::new(requeued, capped))
}

/// Deletes a job's attempts and then the job; answers how many attempts went.
fn delete_job(conn: &Connection, seq: i64, id: &str) -> Result<u64, OutboxError> {
    let attempts = conn
        .prepare_cached("DELETE FROM outbox_attempts WHERE job_id = ?1")
        .map_err(backend)?
        .execute([id])
        .map_err(backend)?;
    conn.prepare_cached("DELETE FROM outbox_jobs WHERE seq = ?1")
        .map_err(backend)?
        .execute([seq])
        .map_err(backend)?;
    Ok(attempts as u64)
}

/// Sets a job's payload and its state; empties its attempts' response bodies unless the
/// payload is only redacted.
fn strip_job(
    conn: &Connection,
    seq: i64,
    id: &str,
    payload: &[u8],
    state: PayloadState,
) -> Result<(), OutboxError> {
    conn.prepare_cached("UPDATE outbox_jobs SET payload = ?1, payload_state = ?2 WHERE seq = ?3")
        .map_err(backend)?
        .execute(params![payload, state.as_str(), seq])
        .map_err(backend)?;
    if state != PayloadState::Redacted {
        conn.prepare_cached(
            "UPDATE outbox_attempts SET response_body = x'' WHERE job_id = ?1 \
             AND length(response_body) > 0",
        )
        .map_err(backend)?
        .execute([id])
        .map_err(backend)?;
    }
    Ok(())
}

/// One lifecycle change, in its own savepoint of the group transaction.
fn purge_step(
    conn: &mut Connection,
    scope: &Scope,
    purge: &Purge,
    step: PurgeStep,
) -> Result<Purged, OutboxError> {
    let Some(pick) = sql::purge_pick(scope, purge, step) else {
        return Ok(Purged::default());
    };
    let tx = conn.savepoint().map_err(backend)?;
    let mut done = Purged::default();
    let mut picked = 0;
    match step {
        PurgeStep::Delete | PurgeStep::Expire => {
            let rows = query_all(&tx, &pick, |r| Ok((r.int(0)?, r.text(1)?)))?;
            picked = rows.len();
            for (seq, id) in rows {
                if step == PurgeStep::Delete {
                    done.jobs += 1;
                    done.attempts += delete_job(&tx, seq, &id)?;
                } else {
                    done.payloads_expired += 1;
                    strip_job(&tx, seq, &id, &[], PayloadState::Expired)?;
                }
            }
        }
        PurgeStep::Privacy => {
            let rows = query_all(&tx, &pick, |r| {
                Ok((r.int(0)?, r.text(1)?, r.bytes(2)?, r.text(3)?))
            })?;
            for (seq, id, payload, state) in rows {
                picked += 1;
                let state: PayloadState = state
                    .parse()
                    .map_err(|e: OutboxError| sql::corrupt(e.to_string()))?;
                if let Some((payload, state)) = privacy_change(&purge.privacy, state, &payload) {
                    if state == PayloadState::Dropped {
                        done.payloads_dropped += 1;
                    } else {
                        done.payloads_redacted += 1;
                    }
                    strip_job(&tx, seq, &id, &payload, state)?;
                }
            }
        }
    }
    done.more = picked >= purge.limit;
    tx.commit().map_err(backend)?;
    Ok(done)
}

fn erase_jobs(
    conn: &mut Connection,
    scope: &Scope,
    erase: &Erase,
    limit: usize,
) -> Result<Erased, OutboxError> {
    let tx = conn.savepoint().map_err(backend)?;
    let pick = sql::erase_pick(scope, erase, limit);
    let rows = query_all(&tx, &pick, |r| Ok((r.int(0)?, r.text(1)?)))?;
    let more = rows.len() >= limit;
    let mut erased = Erased::new(rows.len() as u64, 0, 0, more);
    for (seq, id) in rows {
        erased.attempts += delete_job(&tx, seq, &id)?;
    }
    if let (Erase::Tenant(tenant), false) = (erase, more) {
        // Attempts always have their job; any left without one go with the tenant too.
        erased.attempts += tx
            .prepare_cached("DELETE FROM outbox_attempts WHERE tenant_id = ?1")
            .map_err(backend)?
            .execute([tenant.as_str()])
            .map_err(backend)? as u64;
        erased.targets = tx
            .prepare_cached("DELETE FROM outbox_targets WHERE tenant_id = ?1")
            .map_err(backend)?
            .execute([tenant.as_str()])
            .map_err(backend)? as u64;
    }
    tx.commit().map_err(backend)?;
    Ok(erased)
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(
        &self,
        scope: &Scope,
        job: Job,
        idempotency_window: Duration,
    ) -> Result<Inserted, OutboxError> {
        if !scope.contains(&job.tenant) {
            return Err(OutboxError::OutOfScope { tenant: job.tenant });
        }
        self.write(move |c| insert_job(c, job, idempotency_window))
            .await
    }

    async fn claim(
        &self,
        scope: &Scope,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let scope = scope.clone();
        self.write(move |c| claim_jobs(c, &scope, now, lease, limit))
            .await
    }

    async fn finish(
        &self,
        scope: &Scope,
        lease: &Lease,
        finish: Finish,
    ) -> Result<Finished, OutboxError> {
        let (scope, lease) = (scope.clone(), lease.clone());
        self.write(move |c| finish_job(c, &scope, &lease, &finish))
            .await
    }

    async fn append_attempt(&self, scope: &Scope, attempt: Attempt) -> Result<(), OutboxError> {
        let scope = scope.clone();
        self.write(move |c| {
            let tx = c.savepoint().map_err(backend)?;
            match job_by_id(&tx, &scope, &attempt.job_id)? {
                Some(job) if job.tenant == attempt.tenant => insert_attempt(&tx, &attempt)?,
                _ => return Err(OutboxError::not_found("job", &attempt.job_id)),
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn record(
        &self,
        scope: &Scope,
        job: Job,
        attempts: Vec<Attempt>,
    ) -> Result<(), OutboxError> {
        crate::outbox::store::check_record(scope, &job, &attempts)?;
        self.write(move |c| record_job(c, &job, &attempts)).await
    }

    async fn job(&self, scope: &Scope, id: &JobId) -> Result<Option<Job>, OutboxError> {
        let (scope, id) = (scope.clone(), id.clone());
        self.call(move |c| job_by_id(c, &scope, &id)).await
    }

    async fn jobs(&self, scope: &Scope, query: &JobQuery) -> Result<Page<Job>, OutboxError> {
        let (sql, limit) = sql::jobs_query(scope, query)?;
        self.call(move |c| {
            let rows = query_all(c, &sql, |r| sql::job_from_row(r, 1))?;
            Ok(crate::outbox::model::cut_page(rows, limit))
        })
        .await
    }

    async fn attempt(&self, scope: &Scope, id: &AttemptId) -> Result<Option<Attempt>, OutboxError> {
        let mut sql = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS} FROM outbox_attempts WHERE "
        ));
        sql.scope(scope)
            .bind(" AND id = {}", Val::Text(id.as_str().into()));
        self.call(move |c| Ok(query_all(c, &sql, |r| sql::attempt_from_row(r, 0))?.pop()))
            .await
    }

    async fn attempts(
        &self,
        scope: &Scope,
        query: &AttemptQuery,
    ) -> Result<Page<Attempt>, OutboxError> {
        let (sql, limit) = sql::attempts_query(scope, query)?;
        self.call(move |c| {
            let rows = query_all(c, &sql, |r| sql::attempt_from_row(r, 1))?;
            Ok(crate::outbox::model::cut_page(rows, limit))
        })
        .await
    }

    async fn requeue(&self, scope: &Scope, id: &JobId, now: Timestamp) -> Result<Job, OutboxError> {
        let (scope, id) = (scope.clone(), id.clone());
        self.write(move |c| requeue_job(c, &scope, &id, now)).await
    }

    async fn recover(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
        limit: usize,
    ) -> Result<Recovered, OutboxError> {
        let scope = scope.clone();
        self.write(move |c| recover_jobs(c, &scope, since, until, now, limit))
            .await
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
        let (tenant, url) = (tenant.clone(), url.to_owned());
        self.call(move |c| read_target(c, &tenant, &url)).await
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
        let (tenant, url) = (tenant.clone(), url.to_owned());
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE outbox_targets SET failing_since = NULL, disabled_reason = NULL, \
                     disabled_at = NULL WHERE tenant_id = ?1 AND url = ?2",
                )
                .map_err(backend)?
                .execute(params![tenant.as_str(), url])
                .map_err(backend)?;
            if changed == 0 {
                return Err(OutboxError::not_found("target", &url));
            }
            Ok(())
        })
        .await
    }

    async fn purge(&self, scope: &Scope, purge: &Purge) -> Result<Purged, OutboxError> {
        let mut total = Purged::default();
        // Each change its own write: claims and finishes queued meanwhile go in between.
        for step in [PurgeStep::Delete, PurgeStep::Expire, PurgeStep::Privacy] {
            let (scope, purge) = (scope.clone(), purge.clone());
            let done = self
                .write(move |c| purge_step(c, &scope, &purge, step))
                .await?;
            total.add(done);
        }
        // The lifecycle step is the host's schedule: statistics follow the table's growth.
        self.optimize().await?;
        Ok(total)
    }

    async fn erase(
        &self,
        scope: &Scope,
        erase: &Erase,
        limit: usize,
    ) -> Result<Erased, OutboxError> {
        if !scope.contains(erase.tenant()) {
            return Err(OutboxError::OutOfScope {
                tenant: erase.tenant().clone(),
            });
        }
        let (scope, erase) = (scope.clone(), erase.clone());
        self.write(move |c| erase_jobs(c, &scope, &erase, limit.max(1)))
            .await
    }
}

#[cfg(test)]
mod plan_tests {
    //! The listings' query plans on a seeded table, without statistics and after
    //! `PRAGMA optimize`/`ANALYZE`: each one walks an index in the listing's order, never
    //! the whole table and never a sort.

    use super::*;
    use crate::outbox::model::{AttemptQuery, JobQuery, JobStatus};

    const T0: i64 = 1_767_225_600_000;

    /// `n` jobs of 20 tenants, 50,000 a day, one attempt each and a second for every other.
    fn seed(conn: &Connection, n: i64) {
        conn.execute(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 - 1) \
             INSERT INTO outbox_jobs (id, tenant_id, event_type, call_id, payload, target, \
             status, attempts, step, next_attempt_at, due_at, fence, created_at, updated_at) \
             SELECT printf('msg_%012x', i), printf('t%02d', i % 20), 'end-of-call-report', \
             printf('call_%d', i / 4), x'7b7d', 'assistant:a1', \
             CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END, 1 + i % 2, 1 + i % 2, \
             NULL, NULL, 1, ?2 + i * 1728, ?2 + i * 1728 + 500 FROM k",
            params![n, T0],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO outbox_attempts (id, job_id, tenant_id, triggered_by, url, level, \
             status, status_code, error, latency_ms, event_type, number, next_attempt_at, \
             response_body, response_truncated, started_at, ended_at) \
             SELECT printf('atmpt_%012x_%d', j.seq, k.k), j.id, j.tenant_id, 'scheduled', \
             'https://hooks.example.com/a', 'assistant', 'succeeded', 200, NULL, 12, \
             j.event_type, k.k, NULL, x'6f6b', 0, j.created_at + k.k, j.created_at + k.k \
             FROM outbox_jobs j JOIN (SELECT 1 AS k UNION ALL SELECT 2) k ON k.k <= j.attempts \
             ORDER BY j.seq, k.k",
        )
        .unwrap();
    }

    fn plan(conn: &Connection, sql: &Sql) -> String {
        let text = format!("EXPLAIN QUERY PLAN {}", sql.text.replace('$', "?"));
        let mut stmt = conn.prepare(&text).unwrap();
        let rows = stmt
            .query_map(params_from_iter(&sql.args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    /// The four listings the logs API serves most, as the store builds them.
    fn listings() -> Vec<(&'static str, Sql, &'static str)> {
        let tenant = Scope::tenant(TenantId::new("t07").unwrap());
        let day = (T0 + 3_600_000, T0 + 25 * 3_600_000);
        let window = JobQuery::new().created_between(ts(day.0), ts(day.1));
        let pending = JobQuery::new().status(JobStatus::Pending);
        let job = JobId::new("msg_000000000107").unwrap();
        vec![
            (
                "a tenant's first page",
                sql::jobs_query(&tenant, &JobQuery::new()).unwrap().0,
                "outbox_jobs_tenant",
            ),
            (
                "a super admin's one-day window",
                sql::jobs_query(&Scope::AllTenants, &window).unwrap().0,
                "outbox_jobs_created_all",
            ),
            (
                "a cross-tenant status that matches nothing",
                sql::jobs_query(&Scope::AllTenants, &pending).unwrap().0,
                "outbox_jobs_status_all",
            ),
            (
                "one job's attempts",
                sql::attempts_query(&tenant, &AttemptQuery::new().job(job).limit(20))
                    .unwrap()
                    .0,
                "outbox_attempts_job",
            ),
        ]
    }

    fn ts(ms: i64) -> Timestamp {
        sql::ts(ms)
    }

    fn check(conn: &Connection, when: &str) {
        for (what, sql, index) in listings() {
            let plan = plan(conn, &sql);
            assert!(
                plan.contains(index)
                    && !plan.contains("TEMP B-TREE")
                    && !plan.contains("SCAN outbox"),
                "{what} ({when}): {plan}"
            );
        }
    }

    #[test]
    fn listings_walk_an_index_in_order_with_and_without_statistics() {
        let mut conn = open_connection(Path::new(":memory:")).unwrap();
        seed(&conn, 20_000);
        check(&conn, "no statistics");
        conn.execute_batch(OPTIMIZE_ON_OPEN).unwrap();
        check(&conn, "after PRAGMA optimize");
        conn.execute_batch("ANALYZE").unwrap();
        check(&conn, "after a full ANALYZE");
        let analyzed: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_stat1", [], |r| r.get(0))
            .unwrap();
        assert!(analyzed > 0);
        let _ = &mut conn;
    }
}
