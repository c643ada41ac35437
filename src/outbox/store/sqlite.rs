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
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Job, JobId, JobQuery, JobStatus, Page, Timestamp,
};
use crate::outbox::store::sql::{
    self, ATTEMPT_COLS, JOB_COLS, RowRead, Sql, TargetRow, Val, int, ms,
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
    Ok(conn)
}

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
    let due = *job.next_attempt_at.get_or_insert(job.created_at);
    let result = tx
        .prepare_cached(&format!(
            "INSERT INTO outbox_jobs ({JOB_COLS}, due_at, fence) VALUES \
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
            "INSERT INTO outbox_jobs ({JOB_COLS}, due_at, fence) VALUES \
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
        .push(" AND status = 'failed'")
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
}
