//! The outbox's data: ids, times, jobs, attempts and the queries over them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::outbox::error::OutboxError;
use crate::tenant::TenantId;

/// A point in time: milliseconds since the Unix epoch, UTC (a clock reading).
///
/// The outbox never reads the system clock itself; times come from a [`Clock`](super::Clock).
/// Its sibling [`event::Timestamp`](crate::event::Timestamp) is the same instant as written in
/// an event (with its style); both share their method names and convert into each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A time from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// A time from whole seconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_seconds(s: u64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_unix_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down): the `webhook-timestamp` value.
    #[must_use]
    pub const fn as_unix_seconds(self) -> u64 {
        self.0 / 1000
    }

    /// This time plus `d`, saturating at the far future; sub-millisecond parts are dropped.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// The time from `earlier` to this one, zero if `earlier` is later.
    #[must_use]
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// The instant as a `SystemTime`.
    #[must_use]
    pub fn to_system_time(self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

fn check_id(kind: &'static str, id: &str) -> Result<(), OutboxError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(OutboxError::Invalid {
            what: kind,
            problem: format!(
                "`{}` must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 _ - (no `.`)",
                id.chars()
                    .take(80)
                    .flat_map(char::escape_default)
                    .collect::<String>()
            ),
        })
    }
}

fn generate(prefix: &str, now: Timestamp, random: u64) -> Arc<str> {
    // Time first so ids sort roughly by creation; 48 bits of milliseconds last until 10889.
    // Lower-case hex without `format!` (it was about a tenth of an outbox cycle).
    let mut id = String::with_capacity(prefix.len() + 28);
    id.push_str(prefix);
    let millis = (now.as_unix_millis() & 0xffff_ffff_ffff).to_be_bytes();
    crate::sign::push_hex(&mut id, &millis[2..]);
    crate::sign::push_hex(&mut id, &random.to_be_bytes());
    Arc::from(id)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks and wraps an id read back from a store.
            ///
            /// # Errors
            /// [`OutboxError::Invalid`] unless the id is 1 to 64 characters of
            /// `A-Z a-z 0-9 _ -` (so never a `.`, which Standard Webhooks forbids in ids).
            pub fn new(id: &str) -> Result<Self, OutboxError> {
                check_id($kind, id)?;
                Ok(Self(Arc::from(id)))
            }

            /// A fresh id from the creation time and 64 random bits:
            #[doc = concat!("`", $prefix, "` then 28 hex digits.")]
            /// Ids sort by creation time (to the millisecond); the random bits must come from
            /// an unpredictable source ([`OsRandom`](crate::outbox::OsRandom), the default of
            /// the outbox and dispatcher), or ids leak how many were made between two of them.
            #[must_use]
            pub fn generate(now: Timestamp, random: u64) -> Self {
                Self(generate($prefix, now, random))
            }

            /// The id as a string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The id of a job: stable across every retry and replay, and sent as `webhook-id` so
    /// receivers can deduplicate. Never contains `.`.
    JobId,
    "job id",
    "msg_"
);
id_type!(
    /// The id of one attempt to deliver a job.
    AttemptId,
    "attempt id",
    "atmpt_"
);

/// A reference to where a job goes, resolved to the *current* target URL at every attempt.
///
/// Opaque to the outbox: the host's [`TargetResolver`](super::TargetResolver) reads it (for
/// example `assistant:asst_123`, resolved through the server-URL cascade). 1 to 256 bytes, no
/// control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetRef(Arc<str>);

impl TargetRef {
    /// Checks and wraps a target reference.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] when it is empty, longer than 256 bytes or has a control
    /// character.
    pub fn new(target: &str) -> Result<Self, OutboxError> {
        check_text("target reference", target, 256)?;
        Ok(Self(Arc::from(target)))
    }

    /// The reference as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetRef({})", self.0)
    }
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), OutboxError> {
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(OutboxError::Invalid {
            what,
            problem: format!("must be 1 to {max} bytes without control characters"),
        });
    }
    Ok(())
}

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The lowercase name, as stored and shown.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = OutboxError;
            fn from_str(s: &str) -> Result<Self, OutboxError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(OutboxError::Invalid {
                        what: $what,
                        problem: format!(
                            "`{}` is not one of: {}",
                            s.escape_default(),
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }
    };
}

str_enum!(
    /// Where a job is in its life.
    ///
    /// ```text
    /// pending -> in-flight -> succeeded
    ///    ^          |-------> pending (retry scheduled)
    ///    |          |-------> failed  (retries exhausted, excluded status, 410 Gone)
    ///    |          `-------> skipped (not sent: no target, target disabled, guard refused)
    ///    `---- requeue (failed or skipped only)
    /// ```
    JobStatus, "job status" {
        /// Waiting for its next attempt time.
        Pending = "pending",
        /// Claimed by a dispatcher under a lease.
        InFlight = "in-flight",
        /// A 2xx was received.
        Succeeded = "succeeded",
        /// Given up after a failed attempt; can be requeued.
        Failed = "failed",
        /// Not sent by decision (no target, target disabled, guard refused); can be requeued.
        Skipped = "skipped",
    }
);

impl JobStatus {
    /// Whether the job has reached an end (succeeded, failed or skipped).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Skipped
        )
    }
}

str_enum!(
    /// What is left of a job's payload: kept as enqueued, or taken out by the tenant's data
    /// policy once the job was final (see [`Lifecycle`](super::Lifecycle)). Only a `kept`
    /// payload can be replayed or requeued.
    PayloadState, "payload state" {
        /// The exact body enqueued.
        Kept = "kept",
        /// The privacy mode `redact` replaced the listed JSON paths with `"[redacted]"`.
        Redacted = "redacted",
        /// The privacy mode `metadata-only` dropped it once the job was final.
        Dropped = "dropped",
        /// The payload retention period passed; the job's row stays, the body is gone.
        Expired = "expired",
    }
);

str_enum!(
    /// How one attempt ended.
    AttemptStatus, "attempt status" {
        /// A 2xx response.
        Succeeded = "succeeded",
        /// A non-2xx response or a transport error.
        Failed = "failed",
        /// Nothing was sent: no target, a disabled target, or the guard refused the URL.
        Refused = "refused",
        /// Not known: the dispatcher's lease expired before it recorded an outcome (it
        /// stopped, or lost the store), so the receiver may or may not have seen the request.
        Unknown = "unknown",
    }
);

str_enum!(
    /// Why an attempt was made.
    Trigger, "trigger" {
        /// By the dispatcher, on the retry schedule.
        Scheduled = "scheduled",
        /// By an operator's replay; never rescheduled.
        Manual = "manual",
        /// A live exchange: a request event the caller waited for ([`crate::live`]); never
        /// scheduled.
        Live = "live",
        /// A webhook tool call the model made ([`crate::tool::ToolRunner`]); never scheduled.
        Tool = "tool",
    }
);

/// One webhook delivery: written to the store before any byte is sent.
///
/// Jobs are made by [`Outbox::enqueue`](super::Outbox::enqueue); the fields are public so that
/// store implementations (in this crate or another) can build them from their rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Stable across retries and replays; sent as `webhook-id`.
    pub id: JobId,
    /// The tenant the job belongs to.
    pub tenant: TenantId,
    /// The event type (`end-of-call-report`, `status-update`, ...).
    pub event_type: String,
    /// The call the event is about, if any.
    pub call_id: Option<String>,
    /// The exact body that is signed and sent.
    pub payload: Arc<[u8]>,
    /// Where it goes, resolved to the current target at every attempt.
    pub target: TargetRef,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// Claims so far (every claim starts a send), over the job's whole life.
    pub attempts: u32,
    /// Claims since the job was last enqueued or requeued: the position in the retry plan.
    pub step: u32,
    /// When the job is next due; `None` once final.
    pub next_attempt_at: Option<Timestamp>,
    /// When the job was enqueued.
    pub created_at: Timestamp,
    /// When the job last changed.
    pub updated_at: Timestamp,
    /// The idempotency key it was enqueued with, scoped to the tenant.
    pub idempotency_key: Option<String>,
    /// Whether `payload` is the body enqueued, or what the data policy did to it (an empty
    /// payload then, except for [`PayloadState::Redacted`]).
    pub payload_state: PayloadState,
}

/// The default cap on a stored response body, in bytes (Svix keeps the first 20,000 too);
/// longer bodies are cut (on a character boundary) and flagged with
/// [`Attempt::response_truncated`]. A dispatcher can keep less or more
/// ([`DispatcherBuilder::max_response_body`](super::DispatcherBuilder::max_response_body)).
pub const MAX_RESPONSE_BODY: usize = 20_000;

/// One try to deliver a job, successful or not: every attempt is a row.
///
/// The fields are public so that store implementations can build attempts from their rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The attempt's id.
    pub id: AttemptId,
    /// The job it delivered.
    pub job_id: JobId,
    /// The job's tenant.
    pub tenant: TenantId,
    /// Scheduled by the dispatcher or manual (a replay).
    pub trigger: Trigger,
    /// The target URL used, if one was resolved.
    pub url: Option<String>,
    /// The cascade level whose server was used (`assistant`, `phone-number`, ...), if resolved.
    pub level: Option<String>,
    /// How the attempt ended.
    pub status: AttemptStatus,
    /// The HTTP status received; `None` on a transport error or when nothing was sent.
    pub status_code: Option<u16>,
    /// What went wrong, if anything: the transport error, the guard's rejection, ...
    pub error: Option<String>,
    /// Milliseconds from the start of the send to its end.
    pub latency_ms: u64,
    /// The job's event type.
    pub event_type: String,
    /// The job's claim count at this attempt (1 for the first); 0 for a manual attempt.
    pub number: u32,
    /// When the job is tried next; `None` when this attempt was final (always for manual).
    pub next_attempt_at: Option<Timestamp>,
    /// The response body, lossily UTF-8, at most the dispatcher's cap ([`MAX_RESPONSE_BODY`]
    /// by default); emptied when the job's payload expires or is dropped.
    pub response_body: String,
    /// Whether the response body was cut to the cap.
    pub response_truncated: bool,
    /// When the attempt started.
    pub started_at: Timestamp,
    /// When the attempt ended.
    pub ended_at: Timestamp,
}

/// Cuts a response body to `max` bytes on a character boundary, lossily UTF-8.
pub(crate) fn stored_body(body: &[u8], max: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(&body[..body.len().min(max.saturating_add(4))]);
    if body.len() <= max && text.len() <= max {
        return (text.into_owned(), false);
    }
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// An opaque position in a listing; pass [`Page::next`] back to get the following page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor string a store produced (for example from an HTTP query).
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Cursor(s.into())
    }

    /// The cursor as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    // Cursors name the last item shown, never a row number: a row number counts every
    // tenant's jobs, and would tell one tenant how busy the others are.

    /// The cursor after this job in a job listing.
    pub(crate) fn after_job(id: &JobId) -> Cursor {
        Cursor(format!("j{id}"))
    }

    /// The cursor after this attempt in an attempt listing.
    pub(crate) fn after_attempt(id: &AttemptId) -> Cursor {
        Cursor(format!("a{id}"))
    }

    /// The job a job-listing cursor names.
    pub(crate) fn job_id(&self) -> Result<JobId, OutboxError> {
        (self.0.strip_prefix('j'))
            .and_then(|id| JobId::new(id).ok())
            .ok_or_else(not_a_cursor)
    }

    /// The attempt an attempt-listing cursor names.
    pub(crate) fn attempt_id(&self) -> Result<AttemptId, OutboxError> {
        (self.0.strip_prefix('a'))
            .and_then(|id| AttemptId::new(id).ok())
            .ok_or_else(not_a_cursor)
    }
}

fn not_a_cursor() -> OutboxError {
    OutboxError::Invalid {
        what: "cursor",
        problem: "not a cursor from this store's listing; pass `next` back unchanged".into(),
    }
}

/// An item of a listing: the cursor that continues after it.
pub(crate) trait Listed {
    fn cursor_after(&self) -> Cursor;
}

impl Listed for Job {
    fn cursor_after(&self) -> Cursor {
        Cursor::after_job(&self.id)
    }
}

impl Listed for Attempt {
    fn cursor_after(&self) -> Cursor {
        Cursor::after_attempt(&self.id)
    }
}

/// A page of the first `limit` of `limit + 1` fetched items, with a cursor when more follow.
pub(crate) fn cut_page<T: Listed>(mut items: Vec<T>, limit: usize) -> Page<T> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(Listed::cursor_after)
    } else {
        None
    };
    Page::new(items, next)
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page from its items and next cursor (for store implementations).
    #[must_use]
    pub fn new(items: Vec<T>, next: Option<Cursor>) -> Self {
        Page { items, next }
    }
}

/// The default page size of listings.
pub const DEFAULT_PAGE_LIMIT: usize = 50;
/// The largest page size of listings; larger limits are lowered to it.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// Filters for listing jobs; every filter is optional and they combine with AND.
///
/// ```
/// use agent_webhooks::outbox::{JobQuery, JobStatus};
/// let q = JobQuery::new().status(JobStatus::Failed).event_type("end-of-call-report").limit(20);
/// assert_eq!(q.limit_or_default(), 20);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobQuery {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this event type.
    pub event_type: Option<String>,
    /// Only jobs about this call.
    pub call_id: Option<String>,
    /// Only jobs to this target reference.
    pub target: Option<TargetRef>,
    /// Only jobs created at or after this time.
    pub created_since: Option<Timestamp>,
    /// Only jobs created before this time.
    pub created_until: Option<Timestamp>,
    /// Start after this cursor.
    pub cursor: Option<Cursor>,
    /// Page size; 0 means [`DEFAULT_PAGE_LIMIT`], more than [`MAX_PAGE_LIMIT`] is lowered.
    pub limit: usize,
}

impl JobQuery {
    /// Every job, first page.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Only jobs in this status.
    #[must_use]
    pub fn status(mut self, status: JobStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only jobs of this event type.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }
    /// Only jobs about this call.
    #[must_use]
    pub fn call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }
    /// Only jobs to this target reference.
    #[must_use]
    pub fn target(mut self, target: TargetRef) -> Self {
        self.target = Some(target);
        self
    }
    /// Only jobs created in `[since, until)`.
    #[must_use]
    pub fn created_between(mut self, since: Timestamp, until: Timestamp) -> Self {
        self.created_since = Some(since);
        self.created_until = Some(until);
        self
    }
    /// Start after this cursor.
    #[must_use]
    pub fn cursor(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
    /// The page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    /// The page size to use: the limit, defaulted and capped.
    #[must_use]
    pub fn limit_or_default(&self) -> usize {
        page_limit(self.limit)
    }
    /// Whether `job` passes every filter (not the cursor).
    #[must_use]
    pub fn matches(&self, job: &Job) -> bool {
        self.status.is_none_or(|s| job.status == s)
            && self
                .event_type
                .as_deref()
                .is_none_or(|e| job.event_type == e)
            && self
                .call_id
                .as_deref()
                .is_none_or(|c| job.call_id.as_deref() == Some(c))
            && self.target.as_ref().is_none_or(|t| &job.target == t)
            && self.created_since.is_none_or(|t| job.created_at >= t)
            && self.created_until.is_none_or(|t| job.created_at < t)
    }
}

pub(crate) fn page_limit(limit: usize) -> usize {
    match limit {
        0 => DEFAULT_PAGE_LIMIT,
        n => n.min(MAX_PAGE_LIMIT),
    }
}

/// Filters for listing attempts; every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptQuery {
    /// Only attempts of this job.
    pub job_id: Option<JobId>,
    /// Only attempts that ended this way.
    pub status: Option<AttemptStatus>,
    /// Only attempts with this trigger.
    pub trigger: Option<Trigger>,
    /// Only attempts of jobs of this event type.
    pub event_type: Option<String>,
    /// Only attempts to this URL.
    pub url: Option<String>,
    /// Only attempts started at or after this time.
    pub started_since: Option<Timestamp>,
    /// Only attempts started before this time.
    pub started_until: Option<Timestamp>,
    /// Start after this cursor.
    pub cursor: Option<Cursor>,
    /// Page size; 0 means [`DEFAULT_PAGE_LIMIT`], more than [`MAX_PAGE_LIMIT`] is lowered.
    pub limit: usize,
}

impl AttemptQuery {
    /// Every attempt, first page.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Only attempts of this job.
    #[must_use]
    pub fn job(mut self, job: JobId) -> Self {
        self.job_id = Some(job);
        self
    }
    /// Only attempts that ended this way.
    #[must_use]
    pub fn status(mut self, status: AttemptStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only attempts with this trigger.
    #[must_use]
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = Some(trigger);
        self
    }
    /// Only attempts of jobs of this event type.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }
    /// Only attempts to this URL.
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    /// Only attempts started in `[since, until)`.
    #[must_use]
    pub fn started_between(mut self, since: Timestamp, until: Timestamp) -> Self {
        self.started_since = Some(since);
        self.started_until = Some(until);
        self
    }
    /// Start after this cursor.
    #[must_use]
    pub fn cursor(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
    /// The page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    /// The page size to use: the limit, defaulted and capped.
    #[must_use]
    pub fn limit_or_default(&self) -> usize {
        page_limit(self.limit)
    }
    /// Whether `attempt` passes every filter (not the cursor).
    #[must_use]
    pub fn matches(&self, a: &Attempt) -> bool {
        self.job_id.as_ref().is_none_or(|j| &a.job_id == j)
            && self.status.is_none_or(|s| a.status == s)
            && self.trigger.is_none_or(|t| a.trigger == t)
            && self.event_type.as_deref().is_none_or(|e| a.event_type == e)
            && self
                .url
                .as_deref()
                .is_none_or(|u| a.url.as_deref() == Some(u))
            && self.started_since.is_none_or(|t| a.started_at >= t)
            && self.started_until.is_none_or(|t| a.started_at < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_no_dot_and_round_trip() {
        let id = JobId::generate(Timestamp::from_unix_millis(1_700_000_000_000), 42);
        assert_eq!(id.as_str(), "msg_018bcfe56800000000000000002a");
        assert_eq!(JobId::new(id.as_str()).unwrap(), id);
        assert!(JobId::new("msg.1").is_err());
        assert!(JobId::new("").is_err());
        assert!(AttemptId::new(&"a".repeat(65)).is_err());
    }

    #[test]
    fn statuses_parse_their_names() {
        for s in ["pending", "in-flight", "succeeded", "failed", "skipped"] {
            assert_eq!(s.parse::<JobStatus>().unwrap().as_str(), s);
        }
        let e = "done".parse::<JobStatus>().unwrap_err();
        assert!(e.to_string().contains("pending, in-flight"), "{e}");
    }

    #[test]
    fn response_bodies_are_cut_on_char_boundaries() {
        let (b, cut) = stored_body(b"ok", MAX_RESPONSE_BODY);
        assert_eq!((b.as_str(), cut), ("ok", false));
        let long = "\u{e9}".repeat(MAX_RESPONSE_BODY); // 2 bytes each
        let (b, cut) = stored_body(long.as_bytes(), MAX_RESPONSE_BODY);
        assert!(cut);
        assert_eq!(b.len(), MAX_RESPONSE_BODY);
        let (b, cut) = stored_body("\u{e9}\u{e9}".as_bytes(), 3);
        assert_eq!((b.as_str(), cut), ("\u{e9}", true));
        let (b, cut) = stored_body(b"anything", 0);
        assert_eq!((b.as_str(), cut), ("", true));
        let (b, cut) = stored_body(&[0xff, b'a'], MAX_RESPONSE_BODY);
        assert_eq!((b.as_str(), cut), ("\u{fffd}a", false));
    }
}
