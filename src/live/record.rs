//! The record of a live exchange: one job and one attempt per try, written after the answer.

use std::future::Future;
use std::sync::Arc;

use super::{LiveRequest, Outcome, Reason};
use crate::live::outcome::Answer;
use crate::outbox::{
    Attempt, AttemptId, AttemptStatus, Job, JobId, JobStatus, Observer, Random, Store, TargetRef,
    Timestamp, Trigger,
};
use crate::tenant::Scope;
use crate::transport::{Exchange, ExchangeResult};

/// A try before it has an id.
struct Try {
    url: String,
    level: String,
    status: AttemptStatus,
    status_code: Option<u16>,
    error: Option<String>,
    latency_ms: u64,
    number: u32,
    body: Body,
    started_at: Timestamp,
    ended_at: Timestamp,
}

/// A try's response body, turned into the stored text (lossy UTF-8, cut) only when the
/// record is written, off the critical path.
enum Body {
    /// The bytes as they came.
    Raw(Vec<u8>),
    /// The count of audio bytes handed on.
    Audio(u64),
    /// Text already cut, and whether it was.
    Text(String, bool),
}

impl Body {
    fn stored(self) -> (String, bool) {
        match self {
            Body::Raw(bytes) => {
                crate::outbox::stored_body(&bytes, crate::outbox::MAX_RESPONSE_BODY)
            }
            // Audio is not text: the count says what came.
            Body::Audio(bytes) => (format!("({bytes} bytes of audio)"), false),
            Body::Text(text, cut) => (text, cut),
        }
    }
}

/// What a live exchange or a webhook tool call leaves in the store.
pub(crate) struct Record {
    job: Job,
    trigger: Trigger,
    tries: Vec<Try>,
}

/// The target reference recorded for a live exchange without one: `live:<event type>`.
fn default_target(kind: &str, name: &str) -> TargetRef {
    TargetRef::new(&format!("{kind}:{name}"))
        .or_else(|_| TargetRef::new(kind))
        .expect("`live` and `tool` are valid target references")
}

/// The envelope's call id, if it is fit for the job's `call_id` column (1 to 128 bytes, no
/// control characters); observers' spans show the same.
pub(crate) fn call_id_of(request: &LiveRequest) -> Option<&str> {
    let call = request.envelope.event().call.as_ref()?.id.as_deref();
    call.filter(|id| !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control))
}

impl Record {
    pub(crate) fn new(
        request: &LiveRequest,
        webhook_id: &JobId,
        body: &[u8],
        started: Timestamp,
    ) -> Self {
        let event = request.event.as_str();
        let target = request
            .target_ref
            .clone()
            .unwrap_or_else(|| default_target("live", event));
        Record::for_job(
            Trigger::Live,
            webhook_id,
            request.tenant.clone(),
            event,
            call_id_of(request).map(str::to_owned),
            target,
            body,
            started,
        )
    }

    #[allow(clippy::too_many_arguments, reason = "the columns of one job row")]
    pub(crate) fn for_job(
        trigger: Trigger,
        id: &JobId,
        tenant: crate::tenant::TenantId,
        event_type: &str,
        call_id: Option<String>,
        target: TargetRef,
        payload: &[u8],
        started: Timestamp,
    ) -> Self {
        Record {
            job: Job {
                id: id.clone(),
                tenant,
                event_type: event_type.to_owned(),
                call_id,
                payload: Arc::from(payload),
                target,
                status: JobStatus::Pending,
                attempts: 0,
                step: 0,
                next_attempt_at: None,
                created_at: started,
                updated_at: started,
                idempotency_key: None,
                payload_state: crate::outbox::PayloadState::Kept,
            },
            trigger,
            tries: Vec::new(),
        }
    }

    /// The target reference of a tool call: `tool:<name>`.
    pub(crate) fn tool_target(name: &str) -> TargetRef {
        default_target("tool", name)
    }

    /// One try, taking the exchange's strings and response body as they are (the stored
    /// text is made when the record is written).
    pub(crate) fn push_try(
        &mut self,
        exchange: Exchange,
        result: &Result<Answer, (Reason, String)>,
        number: u32,
    ) {
        let status_code = exchange.status().map(|s| s.as_u16());
        let (status, body) = match (exchange.result, result) {
            (ExchangeResult::Refused(_), _) => (AttemptStatus::Refused, Body::Raw(Vec::new())),
            (_, Ok(Answer::Voice { bytes })) => (AttemptStatus::Succeeded, Body::Audio(*bytes)),
            (ExchangeResult::Response(r), Ok(_)) => {
                (AttemptStatus::Succeeded, Body::Raw(r.into_body()))
            }
            (ExchangeResult::Response(r), Err(_)) => {
                (AttemptStatus::Failed, Body::Raw(r.into_body()))
            }
            (ExchangeResult::Failed(_), _) => (AttemptStatus::Failed, Body::Raw(Vec::new())),
        };
        self.push(Try {
            url: exchange.url,
            level: exchange.level,
            status,
            status_code,
            error: result.as_ref().err().map(|(r, d)| format!("{r}: {d}")),
            latency_ms: u64::try_from(exchange.latency.as_millis()).unwrap_or(u64::MAX),
            number,
            body,
            started_at: exchange.started_at,
            ended_at: exchange.ended_at,
        });
    }

    /// A try that failed before anything was sent (no target): no URL, no level.
    pub(crate) fn push_unsent(&mut self, reason: Reason, detail: &str, at: Timestamp) {
        self.push(Try {
            url: String::new(),
            level: String::new(),
            status: AttemptStatus::Refused,
            status_code: None,
            error: Some(format!("{reason}: {detail}")),
            latency_ms: 0,
            number: 0,
            body: Body::Raw(Vec::new()),
            started_at: at,
            ended_at: at,
        });
    }

    /// A try of a webhook tool call.
    #[allow(clippy::too_many_arguments, reason = "the columns of one attempt row")]
    pub(crate) fn push_tool_try(
        &mut self,
        url: Option<String>,
        status: AttemptStatus,
        status_code: Option<u16>,
        error: Option<String>,
        body: (String, bool),
        started_at: Timestamp,
        ended_at: Timestamp,
    ) {
        self.push(Try {
            url: url.unwrap_or_default(),
            level: "tool".to_owned(),
            status,
            status_code,
            error,
            latency_ms: u64::try_from(ended_at.duration_since(started_at).as_millis())
                .unwrap_or(u64::MAX),
            number: 1,
            body: Body::Text(body.0, body.1),
            started_at,
            ended_at,
        });
    }

    fn push(&mut self, t: Try) {
        self.tries.push(t);
    }

    /// The job with its final status, and its attempts with fresh ids.
    pub(crate) fn finish(
        mut self,
        status: JobStatus,
        now: Timestamp,
        random: &dyn Random,
    ) -> (Job, Vec<Attempt>) {
        let tries = u32::try_from(self.tries.len()).unwrap_or(u32::MAX);
        self.job.status = status;
        self.job.attempts = tries;
        self.job.step = tries;
        self.job.updated_at = now;
        let attempts = self
            .tries
            .into_iter()
            .map(|t| {
                let (response_body, response_truncated) = t.body.stored();
                Attempt {
                    id: AttemptId::generate(t.started_at, random.next_u64()),
                    job_id: self.job.id.clone(),
                    tenant: self.job.tenant.clone(),
                    trigger: self.trigger,
                    url: (!t.url.is_empty()).then_some(t.url),
                    level: (!t.level.is_empty()).then_some(t.level),
                    status: t.status,
                    status_code: t.status_code,
                    error: t.error,
                    latency_ms: t.latency_ms,
                    event_type: self.job.event_type.clone(),
                    number: t.number,
                    next_attempt_at: None,
                    response_body,
                    response_truncated,
                    started_at: t.started_at,
                    ended_at: t.ended_at,
                }
            })
            .collect();
        (self.job, attempts)
    }

    /// The task that writes the record of `outcome`, finished at `now`: the rows are built
    /// inside it, so the caller only hands it over.
    pub(crate) fn into_task(
        mut self,
        outcome: &Outcome,
        now: Timestamp,
        store: Arc<dyn Store>,
        observer: Option<Arc<dyn Observer>>,
        random: Arc<dyn Random>,
    ) -> impl Future<Output = ()> + Send + 'static {
        if self.tries.is_empty() {
            if let Some(f) = outcome.failure() {
                self.push_unsent(f.reason, &f.detail, self.job.created_at);
            }
        }
        let status = match outcome.reason() {
            None => JobStatus::Succeeded,
            Some(Reason::NoTarget | Reason::Refused) => JobStatus::Skipped,
            Some(_) => JobStatus::Failed,
        };
        async move {
            let (job, attempts) = self.finish(status, now, random.as_ref());
            write(job, attempts, store, observer).await;
        }
    }
}

/// Writes a finished job and its attempts; a failure goes to the observer.
pub(crate) async fn write(
    job: Job,
    attempts: Vec<Attempt>,
    store: Arc<dyn Store>,
    observer: Option<Arc<dyn Observer>>,
) {
    let scope = Scope::tenant(job.tenant.clone());
    let id = job.id.clone();
    // The observer is told of the attempts written: keep them only when one listens.
    let written = observer.as_ref().map(|_| attempts.clone());
    match store.record(&scope, job, attempts).await {
        Ok(()) => {
            if let (Some(o), Some(written)) = (&observer, &written) {
                for a in written {
                    o.attempt_finished(a);
                }
            }
        }
        Err(e) => {
            if let Some(o) = &observer {
                o.store_failed(Some(&id), &e);
            }
        }
    }
}
