//! What the SQL stores share: column lists, row decoding, the listing query builder, cursors and
//! the target-health transition. Pure: no connection in here.

use std::sync::Arc;

use crate::outbox::error::OutboxError;
use crate::outbox::lifecycle::{Erase, Purge};
use crate::outbox::model::JobStatus;
use crate::outbox::model::{
    Attempt, AttemptId, AttemptQuery, Cursor, Job, JobId, JobQuery, TargetRef, Timestamp,
};
use crate::outbox::store::{DisabledReason, Next, TargetEvent, TargetState};
use crate::tenant::{Scope, TenantId};

/// The job columns, in the order [`job_from_row`] reads them (after any leading columns).
pub(crate) const JOB_COLS: &str = "id, tenant_id, event_type, call_id, payload, target, status, \
     attempts, step, next_attempt_at, created_at, updated_at, idempotency_key, payload_state";

/// The columns an insert writes: [`JOB_COLS`] but the payload state (`kept` by default).
pub(crate) const JOB_INSERT_COLS: &str = "id, tenant_id, event_type, call_id, payload, target, \
     status, attempts, step, next_attempt_at, created_at, updated_at, idempotency_key";

/// How many columns [`JOB_COLS`] names.
#[cfg(any(test, feature = "postgres"))]
pub(crate) const JOB_COL_COUNT: usize = 14;

/// The attempt columns, in the order [`attempt_from_row`] reads them.
pub(crate) const ATTEMPT_COLS: &str = "id, job_id, tenant_id, triggered_by, url, level, status, \
     status_code, error, latency_ms, event_type, number, next_attempt_at, response_body, \
     response_truncated, started_at, ended_at";

/// A time as stored: milliseconds since the epoch, capped at `i64::MAX`.
pub(crate) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_unix_millis()).unwrap_or(i64::MAX)
}

/// A stored time back (negative values, which the stores never write, read as the epoch).
pub(crate) fn ts(v: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(v).unwrap_or(0))
}

/// A count as stored.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Why a stored row could not be read back: the database holds something this crate never
/// writes.
#[derive(Debug, thiserror::Error)]
#[error("outbox table row is corrupt: {0}")]
pub(crate) struct Corrupt(pub(crate) String);

pub(crate) fn corrupt(what: impl Into<String>) -> OutboxError {
    OutboxError::backend(Corrupt(what.into()))
}

/// The column reads both drivers offer, by position.
pub(crate) trait RowRead {
    fn text(&self, i: usize) -> Result<String, OutboxError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, OutboxError>;
    fn int(&self, i: usize) -> Result<i64, OutboxError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, OutboxError>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, OutboxError>;
    fn flag(&self, i: usize) -> Result<bool, OutboxError>;
}

fn u32_of(v: i64, what: &str) -> Result<u32, OutboxError> {
    u32::try_from(v).map_err(|_| corrupt(format!("{what} {v} is out of range")))
}

fn parsed<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, OutboxError> {
    r.map_err(|e| corrupt(format!("{what}: {e}")))
}

/// A job from [`JOB_COLS`] starting at column `at`.
pub(crate) fn job_from_row(r: &dyn RowRead, at: usize) -> Result<Job, OutboxError> {
    Ok(Job {
        id: parsed(JobId::new(&r.text(at)?), "job id")?,
        tenant: parsed(TenantId::new(&r.text(at + 1)?), "tenant id")?,
        event_type: r.text(at + 2)?,
        call_id: r.opt_text(at + 3)?,
        payload: Arc::from(r.bytes(at + 4)?),
        target: parsed(TargetRef::new(&r.text(at + 5)?), "target")?,
        status: parsed(r.text(at + 6)?.parse(), "job status")?,
        attempts: u32_of(r.int(at + 7)?, "attempts")?,
        step: u32_of(r.int(at + 8)?, "step")?,
        next_attempt_at: r.opt_int(at + 9)?.map(ts),
        created_at: ts(r.int(at + 10)?),
        updated_at: ts(r.int(at + 11)?),
        idempotency_key: r.opt_text(at + 12)?,
        payload_state: parsed(r.text(at + 13)?.parse(), "payload state")?,
    })
}

/// An attempt from [`ATTEMPT_COLS`] starting at column `at`.
pub(crate) fn attempt_from_row(r: &dyn RowRead, at: usize) -> Result<Attempt, OutboxError> {
    let status_code = match r.opt_int(at + 7)? {
        Some(c) => Some(
            u16::try_from(c).map_err(|_| corrupt(format!("status code {c} is out of range")))?,
        ),
        None => None,
    };
    Ok(Attempt {
        id: parsed(AttemptId::new(&r.text(at)?), "attempt id")?,
        job_id: parsed(JobId::new(&r.text(at + 1)?), "job id")?,
        tenant: parsed(TenantId::new(&r.text(at + 2)?), "tenant id")?,
        trigger: parsed(r.text(at + 3)?.parse(), "trigger")?,
        url: r.opt_text(at + 4)?,
        level: r.opt_text(at + 5)?,
        status: parsed(r.text(at + 6)?.parse(), "attempt status")?,
        status_code,
        error: r.opt_text(at + 8)?,
        latency_ms: u64::try_from(r.int(at + 9)?).unwrap_or(0),
        event_type: r.text(at + 10)?,
        number: u32_of(r.int(at + 11)?, "attempt number")?,
        next_attempt_at: r.opt_int(at + 12)?.map(ts),
        // Stored as bytes: PostgreSQL text cannot hold NUL, which a lossy body may.
        response_body: String::from_utf8_lossy(&r.bytes(at + 13)?).into_owned(),
        response_truncated: r.flag(at + 14)?,
        started_at: ts(r.int(at + 15)?),
        ended_at: ts(r.int(at + 16)?),
    })
}

/// A value bound to a query.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
}

/// A statement under construction, with `$n` placeholders (the SQLite store turns them into
/// `?n`, which SQLite binds the same way).
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Val>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `text` with `{}` replaced by the next placeholder bound to `v`.
    pub(crate) fn bind(&mut self, text: &str, v: Val) -> &mut Self {
        self.args.push(v);
        let n = self.args.len();
        self.text
            .push_str(&text.replacen("{}", &format!("${n}"), 1));
        self
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// The scope's tenant predicate (`tenant_id = $n`), or `TRUE` for every tenant.
    pub(crate) fn scope(&mut self, scope: &Scope) -> &mut Self {
        match scope.as_tenant() {
            Some(t) => self.bind("tenant_id = {}", Val::Text(t.as_str().to_owned())),
            None => self.push("TRUE"),
        }
    }
}

/// `SELECT seq, <JOB_COLS> ... LIMIT limit + 1` for a job listing, newest first.
pub(crate) fn jobs_query(scope: &Scope, q: &JobQuery) -> Result<(Sql, usize), OutboxError> {
    let after = q.cursor.as_ref().map(Cursor::job_id).transpose()?;
    let mut sql = Sql::new(&format!("SELECT seq, {JOB_COLS} FROM outbox_jobs WHERE "));
    sql.scope(scope);
    if let Some(s) = q.status {
        sql.bind(" AND status = {}", Val::Text(s.as_str().into()));
    }
    if let Some(e) = &q.event_type {
        sql.bind(" AND event_type = {}", Val::Text(e.clone()));
    }
    if let Some(c) = &q.call_id {
        sql.bind(" AND call_id = {}", Val::Text(c.clone()));
    }
    if let Some(t) = &q.target {
        sql.bind(" AND target = {}", Val::Text(t.as_str().into()));
    }
    if let Some(t) = q.created_since {
        sql.bind(" AND created_at >= {}", Val::Int(ms(t)));
    }
    if let Some(t) = q.created_until {
        sql.bind(" AND created_at < {}", Val::Int(ms(t)));
    }
    let windowed = q.created_since.is_some() || q.created_until.is_some();
    let by = windowed.then_some("created_at");
    if let Some(id) = after {
        after_item(&mut sql, "outbox_jobs", id.as_str(), scope, by);
    }
    let limit = q.limit_or_default();
    sql.bind(
        &format!(" ORDER BY {} LIMIT {{}}", order(by)),
        Val::Int(int(limit as u64 + 1)),
    );
    Ok((sql, limit))
}

/// A listing's order: newest first by insertion, or within a time window by that time, then
/// insertion (the same order unless clocks went back). The window's index then hands rows
/// over in order (a one-day window of a long history reads one page, never the whole day
/// sorted, nor the rows after it).
fn order(by: Option<&str>) -> String {
    match by {
        Some(time) => format!("{time} DESC, seq DESC"),
        None => "seq DESC".to_owned(),
    }
}

/// `SELECT seq, <ATTEMPT_COLS> ... LIMIT limit + 1` for an attempt listing, newest first.
pub(crate) fn attempts_query(scope: &Scope, q: &AttemptQuery) -> Result<(Sql, usize), OutboxError> {
    let after = q.cursor.as_ref().map(Cursor::attempt_id).transpose()?;
    let mut sql = Sql::new(&format!(
        "SELECT seq, {ATTEMPT_COLS} FROM outbox_attempts WHERE "
    ));
    sql.scope(scope);
    if let Some(j) = &q.job_id {
        sql.bind(" AND job_id = {}", Val::Text(j.as_str().into()));
    }
    if let Some(s) = q.status {
        sql.bind(" AND status = {}", Val::Text(s.as_str().into()));
    }
    if let Some(t) = q.trigger {
        sql.bind(" AND triggered_by = {}", Val::Text(t.as_str().into()));
    }
    if let Some(e) = &q.event_type {
        sql.bind(" AND event_type = {}", Val::Text(e.clone()));
    }
    if let Some(u) = &q.url {
        sql.bind(" AND url = {}", Val::Text(u.clone()));
    }
    if let Some(t) = q.started_since {
        sql.bind(" AND started_at >= {}", Val::Int(ms(t)));
    }
    if let Some(t) = q.started_until {
        sql.bind(" AND started_at < {}", Val::Int(ms(t)));
    }
    let windowed = q.started_since.is_some() || q.started_until.is_some();
    let by = windowed.then_some("started_at");
    if let Some(id) = after {
        after_item(&mut sql, "outbox_attempts", id.as_str(), scope, by);
    }
    let limit = q.limit_or_default();
    sql.bind(
        &format!(" ORDER BY {} LIMIT {{}}", order(by)),
        Val::Int(int(limit as u64 + 1)),
    );
    Ok((sql, limit))
}

/// Rows older than the cursor's item: `seq <` its row, looked up by id within the scope (an
/// id the scope does not hold, or none at all, leaves nothing after it).
/// Ordered by a time first (`by`), rows before the cursor's item in that order: a row value
/// compared with the item's, `NULL` (nothing) when the scope does not hold it.
fn after_item(sql: &mut Sql, table: &str, id: &str, scope: &Scope, by: Option<&str>) {
    if let Some(time) = by {
        sql.bind(
            &format!(
                " AND ({time}, seq) < (SELECT c.{time}, c.seq FROM {table} c WHERE c.id = {{}} AND "
            ),
            Val::Text(id.to_owned()),
        );
        sql.scope(scope).push(")");
        return;
    }
    sql.bind(
        &format!(" AND seq < COALESCE((SELECT c.seq FROM {table} c WHERE c.id = {{}} AND "),
        Val::Text(id.to_owned()),
    );
    sql.scope(scope).push("), 0)");
}

/// The stored form of a target's state: `(failing_since, disabled reason, disabled at)`.
pub(crate) type TargetRow = (Option<i64>, Option<String>, Option<i64>);

pub(crate) fn reason_str(r: DisabledReason) -> &'static str {
    match r {
        DisabledReason::Gone => "gone",
        DisabledReason::Failing => "failing",
    }
}

pub(crate) fn target_from_row(
    tenant: &TenantId,
    url: &str,
    (failing, reason, at): TargetRow,
) -> Result<TargetState, OutboxError> {
    let disabled = match (reason.as_deref(), at) {
        (None, _) => None,
        (Some("gone"), Some(at)) => Some((DisabledReason::Gone, ts(at))),
        (Some("failing"), Some(at)) => Some((DisabledReason::Failing, ts(at))),
        (Some(other), _) => return Err(corrupt(format!("disabled reason `{other}`"))),
    };
    Ok(TargetState::new(
        tenant.clone(),
        url.to_owned(),
        failing.map(ts),
        disabled,
    ))
}

pub(crate) fn target_to_row(state: &TargetState) -> TargetRow {
    (
        state.failing_since.map(ms),
        state.disabled.map(|(r, _)| reason_str(r).to_owned()),
        state.disabled.map(|(_, at)| ms(at)),
    )
}

/// What a [`TargetEvent`] does to a target's recorded state (`None`: nothing recorded yet):
/// the state to write, if it changes, and the state when this event disabled the target.
pub(crate) fn apply_target(
    tenant: &TenantId,
    current: Option<TargetState>,
    event: &TargetEvent,
    at: Timestamp,
) -> (Option<TargetState>, Option<TargetState>) {
    let fresh = |url: &str| TargetState::new(tenant.clone(), url.to_owned(), None, None);
    match event {
        TargetEvent::Delivered { .. } => match current {
            Some(mut s) if s.failing_since.is_some() => {
                s.failing_since = None;
                (Some(s), None)
            }
            _ => (None, None),
        },
        TargetEvent::Gone { url } => {
            let mut s = current.unwrap_or_else(|| fresh(url));
            if s.disabled.is_some() {
                return (None, None);
            }
            s.disabled = Some((DisabledReason::Gone, at));
            (Some(s.clone()), Some(s))
        }
        TargetEvent::Exhausted { url, disable_after } => {
            let mut s = current.unwrap_or_else(|| fresh(url));
            // A run of failures older than twice the period with nothing since has lapsed.
            let since = match s.failing_since {
                Some(f) if at.duration_since(f) <= disable_after.saturating_mul(2) => f,
                _ => at,
            };
            s.failing_since = Some(since);
            if s.disabled.is_none() && at.duration_since(since) >= *disable_after {
                s.disabled = Some((DisabledReason::Failing, at));
                return (Some(s.clone()), Some(s));
            }
            (Some(s), None)
        }
    }
}

/// The URL a target event is about.
pub(crate) fn event_url(event: &TargetEvent) -> &str {
    match event {
        TargetEvent::Delivered { url }
        | TargetEvent::Gone { url }
        | TargetEvent::Exhausted { url, .. } => url,
    }
}

/// The migrations both stores run, in order; version `n` is `MIGRATIONS[n - 1]`.
/// `{SERIAL}`, `{BLOB}` and `{BOOL}` are filled per database.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: jobs, attempts, target health.
    "CREATE TABLE outbox_jobs (
        seq {SERIAL},
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        call_id TEXT,
        payload {BLOB} NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        step BIGINT NOT NULL,
        next_attempt_at BIGINT,
        due_at BIGINT,
        fence BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        idempotency_key TEXT
    );
    CREATE INDEX outbox_jobs_due ON outbox_jobs (due_at, seq) WHERE due_at IS NOT NULL;
    CREATE INDEX outbox_jobs_tenant ON outbox_jobs (tenant_id, seq);
    CREATE INDEX outbox_jobs_status ON outbox_jobs (tenant_id, status, seq);
    CREATE INDEX outbox_jobs_event_type ON outbox_jobs (tenant_id, event_type, seq);
    CREATE INDEX outbox_jobs_call ON outbox_jobs (tenant_id, call_id, seq)
        WHERE call_id IS NOT NULL;
    CREATE INDEX outbox_jobs_target ON outbox_jobs (tenant_id, target, seq);
    CREATE INDEX outbox_jobs_created ON outbox_jobs (tenant_id, created_at);
    CREATE INDEX outbox_jobs_idempotency ON outbox_jobs (tenant_id, idempotency_key, seq)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE outbox_attempts (
        seq {SERIAL},
        id TEXT NOT NULL UNIQUE,
        job_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        triggered_by TEXT NOT NULL,
        url TEXT,
        level TEXT,
        status TEXT NOT NULL,
        status_code BIGINT,
        error TEXT,
        latency_ms BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        number BIGINT NOT NULL,
        next_attempt_at BIGINT,
        response_body {BLOB} NOT NULL,
        response_truncated {BOOL} NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT NOT NULL
    );
    CREATE INDEX outbox_attempts_job ON outbox_attempts (job_id, seq);
    CREATE INDEX outbox_attempts_tenant ON outbox_attempts (tenant_id, seq);
    CREATE INDEX outbox_attempts_status ON outbox_attempts (tenant_id, status, seq);
    CREATE INDEX outbox_attempts_event_type ON outbox_attempts (tenant_id, event_type, seq);
    CREATE INDEX outbox_attempts_url ON outbox_attempts (tenant_id, url, seq);
    CREATE INDEX outbox_attempts_started ON outbox_attempts (tenant_id, started_at);
    CREATE TABLE outbox_targets (
        tenant_id TEXT NOT NULL,
        url TEXT NOT NULL,
        failing_since BIGINT,
        disabled_reason TEXT,
        disabled_at BIGINT,
        PRIMARY KEY (tenant_id, url)
    );",
    // 2 (issue 17, data lifecycle): what is left of a payload; the lifecycle's scans of
    // final jobs (they have no due time) by end time; listings across tenants by status and
    // by time window; one job's attempts by job and tenant (without statistics SQLite took
    // the tenant's index for a tenant's `job_id = ?` and read all its attempts).
    "ALTER TABLE outbox_jobs ADD COLUMN payload_state TEXT NOT NULL DEFAULT 'kept';
    CREATE INDEX outbox_jobs_finished ON outbox_jobs (updated_at) WHERE due_at IS NULL;
    CREATE INDEX outbox_jobs_payload_left ON outbox_jobs (updated_at)
        WHERE due_at IS NULL AND payload_state IN ('kept', 'redacted');
    CREATE INDEX outbox_jobs_status_all ON outbox_jobs (status, seq);
    CREATE INDEX outbox_jobs_created_all ON outbox_jobs (created_at, seq);
    CREATE INDEX outbox_attempts_status_all ON outbox_attempts (status, seq);
    CREATE INDEX outbox_attempts_started_all ON outbox_attempts (started_at, seq);
    DROP INDEX outbox_attempts_job;
    CREATE INDEX outbox_attempts_job_tenant ON outbox_attempts (job_id, tenant_id, seq);",
];

/// The schema version this build migrates to.
#[allow(
    clippy::cast_possible_truncation,
    reason = "a handful of migrations; `u32::try_from` is not const"
)]
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The column types a database spells its own way, filled into [`MIGRATIONS`].
pub(crate) struct Dialect {
    pub(crate) serial: &'static str,
    pub(crate) blob: &'static str,
    pub(crate) boolean: &'static str,
}

/// The migrations after the first `applied`, as `(version, DDL in the dialect)`.
pub(crate) fn migrations_after(
    applied: usize,
    dialect: &Dialect,
) -> impl Iterator<Item = (i64, String)> + '_ {
    (1_i64..).zip(MIGRATIONS).skip(applied).map(|(version, m)| {
        let ddl = m
            .replace("{SERIAL}", dialect.serial)
            .replace("{BLOB}", dialect.blob)
            .replace("{BOOL}", dialect.boolean);
        (version, ddl)
    })
}

/// How many migrations the database at `version` has already run, or why it cannot be used: a
/// version newer than this build knows, or a negative one (a hand-edited table).
pub(crate) fn applied_migrations(version: i64) -> Result<usize, OutboxError> {
    match usize::try_from(version) {
        Ok(n) if n <= MIGRATIONS.len() => Ok(n),
        Ok(_) => Err(too_new(version)),
        Err(_) => Err(OutboxError::Invalid {
            what: "outbox schema",
            problem: format!(
                "the database records schema version {version}, which is not a version"
            ),
        }),
    }
}

fn too_new(found: i64) -> OutboxError {
    OutboxError::Invalid {
        what: "outbox schema",
        problem: format!(
            "the database is at schema version {found}, newer than this build knows ({}); \
             upgrade agent-webhooks",
            MIGRATIONS.len()
        ),
    }
}

/// The final statuses: the only jobs the lifecycle touches.
const FINAL: &str = "due_at IS NULL AND status IN ('succeeded', 'failed', 'skipped')";

/// Which payloads a lifecycle change still has to touch.
pub(crate) const PAYLOAD_LEFT: &str = "payload_state IN ('kept', 'redacted')";

/// The scope's tenants but `exclude`.
fn purge_scope(sql: &mut Sql, scope: &Scope, exclude: &[crate::tenant::TenantId]) {
    sql.scope(scope);
    if !exclude.is_empty() {
        sql.push(" AND tenant_id NOT IN (");
        for (i, t) in exclude.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " });
            sql.bind("{}", Val::Text(t.as_str().to_owned()));
        }
        sql.push(")");
    }
}

/// The lifecycle's three kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PurgeStep {
    /// Delete final jobs that ended before the time, with their attempts.
    Delete,
    /// Empty the payloads of final jobs that ended before the time.
    Expire,
    /// Apply the privacy mode to final jobs.
    Privacy,
}

/// `SELECT seq, id[, payload, payload_state] FROM outbox_jobs WHERE <final> AND ...
/// LIMIT n` for one lifecycle change, or `None` when the purge asks nothing of it. The
/// PostgreSQL store appends `FOR UPDATE SKIP LOCKED`.
pub(crate) fn purge_pick(scope: &Scope, purge: &Purge, step: PurgeStep) -> Option<Sql> {
    use crate::outbox::lifecycle::PrivacyMode;
    let cols = match step {
        PurgeStep::Privacy => "seq, id, payload, payload_state",
        _ => "seq, id",
    };
    let mut sql = Sql::new(&format!(
        "SELECT {cols} FROM outbox_jobs WHERE {FINAL} AND "
    ));
    purge_scope(&mut sql, scope, &purge.exclude);
    if let (Some(t), false) = (purge.delete_finished_before, step == PurgeStep::Delete) {
        // Jobs the same step deletes are not worth rewriting first.
        sql.bind(" AND updated_at >= {}", Val::Int(ms(t)));
    }
    match step {
        PurgeStep::Delete => {
            let t = purge.delete_finished_before?;
            sql.bind(" AND updated_at < {}", Val::Int(ms(t)));
        }
        PurgeStep::Expire => {
            let t = purge.expire_payloads_finished_before?;
            sql.push(&format!(" AND {PAYLOAD_LEFT}"))
                .bind(" AND updated_at < {}", Val::Int(ms(t)));
        }
        PurgeStep::Privacy => match purge.privacy {
            PrivacyMode::Redact(_) => {
                sql.push(&format!(" AND {PAYLOAD_LEFT} AND payload_state = 'kept'"));
            }
            PrivacyMode::MetadataOnly => {
                sql.push(&format!(" AND {PAYLOAD_LEFT}"));
            }
            _ => return None,
        },
    }
    sql.bind(" LIMIT {}", Val::Int(int(purge.limit as u64)));
    Some(sql)
}

/// `SELECT seq, id FROM outbox_jobs WHERE <the erasure's jobs> LIMIT n`, in any state.
pub(crate) fn erase_pick(scope: &Scope, erase: &Erase, limit: usize) -> Sql {
    let mut sql = Sql::new("SELECT seq, id FROM outbox_jobs WHERE ");
    sql.scope(scope).bind(
        " AND tenant_id = {}",
        Val::Text(erase.tenant().as_str().into()),
    );
    if let Erase::Call { call_id, .. } = erase {
        sql.bind(" AND call_id = {}", Val::Text(call_id.clone()));
    }
    sql.bind(" LIMIT {}", Val::Int(int(limit as u64)));
    sql
}

/// The status and due time a job takes after [`Next`].
pub(crate) fn next_state(next: Next) -> (JobStatus, Option<Timestamp>) {
    match next {
        Next::Retry(t) => (JobStatus::Pending, Some(t)),
        Next::Succeeded => (JobStatus::Succeeded, None),
        Next::Failed => (JobStatus::Failed, None),
        Next::Skipped => (JobStatus::Skipped, None),
    }
}

#[cfg(test)]
mod schema_version_tests {
    use super::*;

    #[test]
    fn job_col_count_counts_job_cols() {
        assert_eq!(JOB_COLS.split(", ").count(), JOB_COL_COUNT);
    }

    #[test]
    fn stored_versions_are_checked_before_migrating() {
        assert_eq!(applied_migrations(0).unwrap(), 0);
        let known = i64::try_from(MIGRATIONS.len()).unwrap();
        assert_eq!(applied_migrations(known).unwrap(), MIGRATIONS.len());
        assert!(
            applied_migrations(known + 1)
                .unwrap_err()
                .to_string()
                .contains("newer")
        );
        assert!(
            applied_migrations(-1)
                .unwrap_err()
                .to_string()
                .contains("not a version")
        );
    }
}
