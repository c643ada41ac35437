//! Live request events: the caller waits, the boundary answers within the call's budget.
//!
//! Every event whose [`EventType::expects_response`] is true (`assistant-request`,
//! `tool-calls`, `transfer-destination-request`, `knowledge-base-request`,
//! `call.endpointing.request`, `voice-request`) goes through a [`Requester`]: the target from
//! the cascade's per-event rules ([`Cascade::resolve_event`]; for `tool-calls` the called
//! tool's own `server` first), the envelope signed exactly as the outbox signs (Standard
//! Webhooks, one `webhook-id` per exchange kept on every try, the legacy secret header, the
//! server's headers), the guard, the shared [`SendStep`], and the answer parsed into the
//! event's typed response (lenient, as [`crate::event`] parses).
//!
//! **Budgets** ([`budget`]): one deadline per exchange covers resolving, connecting, every try
//! and wait and the whole body: [`ASSISTANT_REQUEST_BUDGET`] (7.5 s, fixed) for
//! `assistant-request`, the server's `timeoutSeconds` (1 to 300, default 20) for the others,
//! or the host's shorter deadline ([`LiveRequest::deadline`]). The [`Timer`] enforces it even
//! when a transport ignores its timeout.
//!
//! **Retries** follow the server's `backoffPlan` only (none without one, as Vapi does): a
//! connection failure or a status the plan retries (non-2xx, not excluded) is tried again
//! after the plan's delay, only while the time left after the delay can hold another try as
//! long as the last one. Never once an answer's bytes arrived: a 2xx body (usable or not), a
//! timeout (the server may be sending), a streamed voice chunk.
//!
//! **Outcomes** ([`Outcome`]): an [`Answer`], or a [`Failure`] with a stable [`Reason`]
//! (`no_target`, `refused`, `timeout`, `connect_error`, `http_status`, `invalid_response`,
//! `too_large`) and the [`Fallback`] the runtime should carry out:
//!
//! | event | fallback |
//! |---|---|
//! | `assistant-request` | speak the server's `error` text if its failed answer had one (one line, at most 200 characters), else transfer to the phone number's `fallbackDestination` if configured, else end the call |
//! | `tool-calls` | each tool's configured `request-failed` message, or [`TOOL_FAILED_SENTENCE`], as the model's results |
//! | `transfer-destination-request` | do not transfer; speak the server's `message` (or `error`) if it sent one |
//! | `knowledge-base-request` | no documents |
//! | `call.endpointing.request` | the runtime's default endpointing |
//! | `voice-request` | the fallback voice |
//!
//! **Nothing a failing endpoint says reaches the model**: a failure's body is recorded for
//! admins ([`Action::ViewResponseBodies`](crate::Action::ViewResponseBodies)); the model gets a
//! short sentence.
//!
//! **Every exchange is recorded** when a store is set ([`RequesterBuilder::store`]): one job
//! (its id is the `webhook-id`, its payload the request) and one attempt per try with
//! [`Trigger::Live`](crate::outbox::Trigger::Live), the level, status, latency, `reason: detail` as error, and the response
//! body cut to [`MAX_RESPONSE_BODY`](crate::outbox::MAX_RESPONSE_BODY). The answer comes
//! first: the record is written on the [`Spawn`]er, and a store failure goes to the
//! [`Observer`], never to the call. Replay it from the logs API like any attempt: the stored
//! request goes to the job's *current* target ([`TargetRef`] given with
//! [`LiveRequest::target_ref`]) and is recorded as a manual attempt; the call is not touched.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use agent_webhooks::live::{Answer, LiveRequest, Requester};
//! use agent_webhooks::outbox::{ManualClock, Timestamp, Transport, TransportError};
//! use agent_webhooks::transport::ManualTimer;
//! use agent_webhooks::{Cascade, Envelope, TenantId};
//!
//! #[derive(Debug)]
//! struct Server; // a stand-in for the real transport
//! #[async_trait::async_trait]
//! impl Transport for Server {
//!     async fn send(&self, _: http::Request<Vec<u8>>, _: Duration)
//!         -> Result<http::Response<Vec<u8>>, TransportError> {
//!         Ok(http::Response::new(br#"{"assistantId": "asst_sales"}"#.to_vec()))
//!     }
//! }
//!
//! let clock = ManualClock::new(Timestamp::from_unix_seconds(1_767_225_600));
//! let requester = Requester::builder(Arc::new(Server), Arc::new(ManualTimer::new(clock.clone())))
//!     .clock(Arc::new(clock))
//!     .build();
//! let cascade = Cascade::from_json(r#"{"phoneNumber": {"server": {"url": "https://hooks.example.com/vapi"}}}"#)?;
//! let envelope = Envelope::parse(br#"{"message": {"type": "assistant-request", "call": {"id": "call_1"}}}"#)?;
//! let request = LiveRequest::new(TenantId::new("acme")?, envelope, cascade)?;
//! let outcome = requester.request(request).await;
//! let Some(Answer::Assistant(answer)) = outcome.answer() else { panic!("{outcome:?}") };
//! assert_eq!(answer.assistant_id.as_deref(), Some("asst_sales"));
//! assert_eq!(outcome.level.as_deref(), Some("phoneNumber.server"));
//! # Ok(()) }
//! # let mut f = std::pin::pin!(demo());
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
//! ```

mod budget;
pub(crate) mod outcome;
pub(crate) mod record;
mod voice;

use crate::observe::{ErrorClass, Exchange as ObservedExchange, ExchangeEnd, ExchangeId};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::cascade::{Cascade, Level, Server, ServerAuth};
use crate::event::{
    AssistantRequestResponse, EndpointingResponse, Envelope, EventBody, EventType,
    KnowledgeBaseResponse, ToolCalls, ToolCallsResponse, TransferDestinationResponse,
};
use crate::outbox::{
    Clock, JobId, Observer, Random, RetryPlan, SeededRandom, Sign, Store, SystemClock, Target,
    TargetRef, Timestamp, UrlCheck,
};
use crate::tenant::TenantId;
use crate::transport::{
    BodyTruncated, Exchange, ExchangeResult, SendStep, Spawn, Timer, Transport, TransportErrorKind,
};

pub use budget::{ASSISTANT_REQUEST_BUDGET, budget};
pub use outcome::{
    Answer, Failure, Fallback, MAX_SPOKEN_ERROR, Outcome, Reason, TOOL_FAILED_SENTENCE,
};
pub use voice::{DEFAULT_VOICE_LIMIT, VoiceSink};

/// The most answer bytes a live exchange reads by default (1 MiB); more is `too_large`.
pub const DEFAULT_RESPONSE_LIMIT: usize = 1024 * 1024;

/// The event is not a request event: nothing waits for its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` expects no answer: send it through the outbox (live requests are assistant-request, \
     tool-calls, transfer-destination-request, knowledge-base-request, call.endpointing.request \
     and voice-request)"
)]
pub struct NotARequest(pub String);

/// Where a live request goes: through a cascade, or to a target the host resolved.
#[derive(Debug, Clone)]
enum Route {
    Cascade(Arc<Cascade>),
    Target(Box<Target>),
}

/// One request event to send: the tenant, the envelope, where it goes, how it is signed, and
/// what the host knows about the call (its remaining deadline, the phone number's fallback).
#[derive(Debug, Clone)]
#[must_use]
pub struct LiveRequest {
    tenant: TenantId,
    envelope: Envelope,
    event: EventType,
    route: Route,
    signer: Option<Arc<dyn Sign>>,
    deadline: Option<Duration>,
    target_ref: Option<TargetRef>,
    fallback_destination: Option<Value>,
}

impl LiveRequest {
    /// A request for `envelope`'s event, to the server `cascade` resolves for it (for
    /// `tool-calls`, the called tool's own `server` in `toolWithToolCallList` first).
    ///
    /// # Errors
    /// [`NotARequest`] when the event expects no answer.
    pub fn new(
        tenant: TenantId,
        envelope: Envelope,
        cascade: impl Into<Arc<Cascade>>,
    ) -> Result<Self, NotARequest> {
        Self::with_route(tenant, envelope, Route::Cascade(cascade.into()))
    }

    /// A request for `envelope`'s event to a target the host resolved itself (a directory, a
    /// credential header added).
    ///
    /// # Errors
    /// [`NotARequest`] when the event expects no answer.
    pub fn to_target(
        tenant: TenantId,
        envelope: Envelope,
        target: Target,
    ) -> Result<Self, NotARequest> {
        Self::with_route(tenant, envelope, Route::Target(Box::new(target)))
    }

    fn with_route(tenant: TenantId, envelope: Envelope, route: Route) -> Result<Self, NotARequest> {
        let event = envelope
            .event()
            .known_type()
            .filter(|t| t.expects_response())
            .ok_or_else(|| NotARequest(envelope.event().event_type().to_owned()))?;
        let fallback_destination = envelope
            .event()
            .phone_number
            .as_ref()
            .and_then(|p| p.get("fallbackDestination"))
            .filter(|d| !d.is_null())
            .cloned();
        Ok(LiveRequest {
            tenant,
            envelope,
            event,
            route,
            signer: None,
            deadline: None,
            target_ref: None,
            fallback_destination,
        })
    }

    /// Signs every try (`webhook-signature`), as the outbox does.
    pub fn signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// What is left of the host's own deadline: the exchange's budget is never longer.
    pub fn deadline(mut self, left: Duration) -> Self {
        self.deadline = Some(left);
        self
    }

    /// The target reference the record carries, so a replay from the logs API resolves the
    /// *current* target (default `live:<event type>`, which a resolver may not know).
    pub fn target_ref(mut self, target: TargetRef) -> Self {
        self.target_ref = Some(target);
        self
    }

    /// The phone number's `fallbackDestination` for a failed `assistant-request` (default: the
    /// envelope's `phoneNumber.fallbackDestination`).
    pub fn fallback_destination(mut self, destination: Value) -> Self {
        self.fallback_destination = Some(destination);
        self
    }

    /// The event type.
    #[must_use]
    pub fn event_type(&self) -> EventType {
        self.event
    }

    fn tool_calls(&self) -> Option<&ToolCalls> {
        match &self.envelope.event().body {
            EventBody::ToolCalls(calls) => Some(calls),
            _ => None,
        }
    }

    /// The target: the host's, or the cascade's for this event.
    fn resolve(&self) -> Result<(Target, Option<RetryPlan>), String> {
        let cascade = match &self.route {
            Route::Target(target) => return Ok(((**target).clone(), None)),
            Route::Cascade(cascade) => cascade,
        };
        // A tool-calls message goes to the called tool's own server first.
        let tool_server = self
            .tool_calls()
            .and_then(|calls| {
                calls
                    .tool_with_tool_call_list
                    .iter()
                    .find_map(|t| t.get("server").filter(|s| !s.is_null()))
            })
            .map(|s| Server::from_value(s.clone()).map_err(|e| format!("the tool's {e}")))
            .transpose()?;
        let with_tool;
        let cascade: &Cascade = match tool_server {
            Some(server) => {
                with_tool = (**cascade).clone().with_server(Level::Tool, server);
                &with_tool
            }
            None => cascade,
        };
        let resolved = cascade
            .resolve_event(self.envelope.event())
            .map_err(|e| e.to_string())?;
        if let ServerAuth::Credential(id) = resolved.server.auth() {
            return Err(format!(
                "the {} server uses credential `{id}`: resolve it and pass the target \
                 (LiveRequest::to_target)",
                resolved.level
            ));
        }
        let plan = resolved.server.retry_plan().cloned();
        let mut target = Target::from_resolved(resolved).map_err(|e| e.to_string())?;
        if let Some(signer) = &self.signer {
            target = target.signer(signer.clone());
        }
        Ok((target, plan))
    }
}

/// Sends live request events and answers within their budget; see the [module](self) docs.
#[derive(Clone)]
pub struct Requester {
    step: SendStep,
    clock: Arc<dyn Clock>,
    timer: Arc<dyn Timer>,
    random: Arc<dyn Random>,
    store: Option<Arc<dyn Store>>,
    spawn: Option<Arc<dyn Spawn>>,
    observer: Option<Arc<dyn Observer>>,
    response_limit: usize,
    voice_limit: u64,
}

impl fmt::Debug for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requester")
            .field("step", &self.step)
            .field("store", &self.store.is_some())
            .field("spawn", &self.spawn)
            .field("response_limit", &self.response_limit)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Requester`].
#[derive(Debug)]
#[must_use]
pub struct RequesterBuilder {
    transport: Arc<dyn Transport>,
    check: Option<Arc<dyn UrlCheck>>,
    r: Requester,
}

impl RequesterBuilder {
    /// The clock (default: the system clock); keep it in step with the timer.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.r.clock = clock;
        self
    }
    /// The randomness of `webhook-id`s and attempt ids (default: process-seeded).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.r.random = random;
        self
    }
    /// The URL check before every try (default: the guard's production [`Policy`](crate::Policy)).
    pub fn url_check(mut self, check: Arc<dyn UrlCheck>) -> Self {
        self.check = Some(check);
        self
    }
    /// Records every exchange in this store (the outbox's).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.r.store = Some(store);
        self
    }
    /// Writes records in the background on this spawner (default: none, the record is
    /// written after the answer is known, before [`Requester::request`] returns).
    pub fn spawn(mut self, spawn: Arc<dyn Spawn>) -> Self {
        self.r.spawn = Some(spawn);
        self
    }
    /// Told when recording fails ([`Observer::store_failed`]) and when a record is written
    /// ([`Observer::attempt_finished`]).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.r.observer = Some(observer);
        self
    }
    /// The most answer bytes read (default [`DEFAULT_RESPONSE_LIMIT`]); more is `too_large`.
    pub fn response_limit(mut self, bytes: usize) -> Self {
        self.r.response_limit = bytes;
        self
    }
    /// The most audio bytes a `voice-request` may stream (default [`DEFAULT_VOICE_LIMIT`]).
    pub fn voice_limit(mut self, bytes: u64) -> Self {
        self.r.voice_limit = bytes;
        self
    }
    /// The requester.
    pub fn build(self) -> Requester {
        let mut r = self.r;
        let mut step = SendStep::new(self.transport)
            .with_clock(r.clock.clone())
            .with_timer(r.timer.clone());
        if let Some(check) = self.check {
            step = step.with_url_check(check);
        }
        r.step = step;
        r
    }
}

/// One try's classification.
struct Tried {
    result: Result<Answer, (Reason, String)>,
    retryable: bool,
    body: Option<Vec<u8>>,
}

impl Requester {
    /// A requester sending through `transport`, enforcing budgets with `timer`
    /// (`transport::TokioTimer` with feature `tokio`).
    pub fn builder(transport: Arc<dyn Transport>, timer: Arc<dyn Timer>) -> RequesterBuilder {
        RequesterBuilder {
            transport: transport.clone(),
            check: None,
            r: Requester {
                step: SendStep::new(transport),
                clock: Arc::new(SystemClock),
                timer,
                random: Arc::new(SeededRandom::from_entropy()),
                store: None,
                spawn: None,
                observer: None,
                response_limit: DEFAULT_RESPONSE_LIMIT,
                voice_limit: DEFAULT_VOICE_LIMIT,
            },
        }
    }

    /// Sends a request event and waits for its answer within its budget. Never fails: the
    /// [`Outcome`] holds the answer or the failure with its fallback. A `voice-request` sent
    /// here discards its audio (use [`Requester::voice`] to receive it).
    pub async fn request(&self, request: LiveRequest) -> Outcome {
        self.exchange(request, None).await
    }

    async fn exchange(
        &self,
        request: LiveRequest,
        mut voice: Option<&mut dyn VoiceSink>,
    ) -> Outcome {
        let started = self.clock.now();
        let method = http::Method::POST;
        let watched = self.observer.as_ref().map(|o| {
            let watched = Watched {
                id: ExchangeId::next(),
                tenant: &request.tenant,
                call_id: record::call_id_of(&request),
            };
            o.exchange_started(&watched.exchange(request.event.as_str(), &method));
            watched
        });
        let webhook_id = JobId::generate(started, self.random.next_u64());
        let body = request.envelope.to_vec();
        let mut outcome = Outcome {
            event_type: request.event,
            webhook_id: webhook_id.clone(),
            level: None,
            url: None,
            status: None,
            latency: Duration::ZERO,
            tries: 0,
            result: Ok(Answer::Voice { bytes: 0 }),
        };
        let mut record = record::Record::new(&request, &webhook_id, &body, started);
        let (target, plan) = match request.resolve() {
            Ok(t) => t,
            Err(detail) => {
                outcome.result = Err(self.failure(&request, Reason::NoTarget, detail, None));
                return self.finish(outcome, record, started, watched).await;
            }
        };
        outcome.level = Some(target.level().to_owned());
        outcome.url = Some(target.url().as_str().to_owned());
        let limit = budget(request.event, target.request_timeout(), request.deadline);
        let deadline = started.saturating_add(limit);
        loop {
            let left = left_until(self.clock.now(), deadline);
            let try_started = self.clock.now();
            let (exchange, tried) = if let Some(sink) = voice.as_deref_mut() {
                let (exchange, mut tried) = self
                    .voice_try(&target, &webhook_id, &body, left, sink)
                    .await;
                if let (Err((Reason::HttpStatus, _)), Some(status)) =
                    (&tried.result, exchange.status())
                {
                    tried.retryable = plan
                        .as_ref()
                        .is_some_and(|p| p.retries_status(status.as_u16()));
                }
                (exchange, tried)
            } else {
                let exchange = self
                    .step
                    .send(&target, webhook_id.as_str(), &body, left)
                    .await;
                let tried = self.classify(&request, &exchange, plan.as_ref());
                (exchange, tried)
            };
            outcome.tries += 1;
            outcome.status = exchange.status().map(|s| s.as_u16()).or(outcome.status);
            record.push_try(exchange, &tried.result, outcome.tries);
            let last_try = self.clock.now().duration_since(try_started);
            match tried.result {
                Ok(answer) => {
                    outcome.result = Ok(answer);
                    break;
                }
                Err((reason, detail)) => {
                    let left = left_until(self.clock.now(), deadline);
                    let wait = budget::next_try(
                        plan.as_ref(),
                        outcome.tries,
                        tried.retryable,
                        left,
                        last_try,
                    );
                    match wait {
                        Some(delay) => self.timer.sleep(delay).await,
                        None => {
                            let body = tried.body.as_deref();
                            outcome.result = Err(self.failure(&request, reason, detail, body));
                            break;
                        }
                    }
                }
            }
        }
        self.finish(outcome, record, started, watched).await
    }

    fn failure(
        &self,
        request: &LiveRequest,
        reason: Reason,
        detail: String,
        body: Option<&[u8]>,
    ) -> Failure {
        Failure {
            reason,
            detail,
            fallback: Fallback::for_event(
                request.event,
                request.tool_calls(),
                body,
                request.fallback_destination.as_ref(),
            ),
        }
    }

    /// What one try gave: the answer, or why not and whether another try may help.
    fn classify(
        &self,
        request: &LiveRequest,
        exchange: &Exchange,
        plan: Option<&RetryPlan>,
    ) -> Tried {
        let fail = |reason, detail: String, retryable| Tried {
            result: Err((reason, detail)),
            retryable,
            body: None,
        };
        let response = match &exchange.result {
            ExchangeResult::Refused(refusal) => {
                return fail(Reason::Refused, refusal.to_string(), false);
            }
            ExchangeResult::Failed(e) => {
                // The reason names the kind; the detail is the transport's message.
                let detail = e.message().to_owned();
                return match e.kind() {
                    TransportErrorKind::Timeout => fail(Reason::Timeout, detail, false),
                    TransportErrorKind::Refused => fail(Reason::Refused, detail, false),
                    TransportErrorKind::Connect => fail(Reason::ConnectError, detail, true),
                    // A failure mid-answer: bytes may have arrived, so no retry.
                    _ => fail(Reason::ConnectError, e.to_string(), false),
                };
            }
            ExchangeResult::Response(r) => r,
        };
        let status = response.status();
        let body = response.body();
        if !status.is_success() {
            return Tried {
                result: Err((Reason::HttpStatus, format!("the server answered {status}"))),
                retryable: plan.is_some_and(|p| p.retries_status(status.as_u16())),
                body: Some(body.clone()),
            };
        }
        if body.len() > self.response_limit
            || response.extensions().get::<BodyTruncated>().is_some()
        {
            return fail(
                Reason::TooLarge,
                format!("the answer is larger than {} bytes", self.response_limit),
                false,
            );
        }
        let parsed = parse_answer(request, body);
        match parsed {
            Ok(answer) => Tried {
                result: Ok(answer),
                retryable: false,
                body: None,
            },
            Err(detail) => Tried {
                result: Err((Reason::InvalidResponse, detail)),
                retryable: false,
                body: Some(body.clone()),
            },
        }
    }

    /// Latency, then the record: in the background on the spawner, else before returning.
    async fn finish(
        &self,
        mut outcome: Outcome,
        record: record::Record,
        started: Timestamp,
        watched: Option<Watched<'_>>,
    ) -> Outcome {
        outcome.latency = self.clock.now().duration_since(started);
        if let (Some(o), Some(watched)) = (&self.observer, watched) {
            let method = http::Method::POST;
            let mut e = watched.exchange(outcome.event_type.as_str(), &method);
            if let Some(url) = outcome.url.as_deref() {
                e = e.with_url(url);
            }
            if let Some(level) = outcome.level.as_deref() {
                e = e.with_level(level);
            }
            let end = match &outcome.result {
                Ok(_) => ExchangeEnd::answered(outcome.status.unwrap_or(200), outcome.latency),
                Err(f) => {
                    ExchangeEnd::failed(error_class(f.reason), outcome.status, outcome.latency)
                }
            };
            o.exchange_finished(&e, &end);
        }
        if let Some(store) = &self.store {
            let task = record.into_task(
                &outcome,
                started.saturating_add(outcome.latency),
                store.clone(),
                self.observer.clone(),
                self.random.clone(),
            );
            match &self.spawn {
                Some(spawn) => spawn.spawn(Box::pin(task)),
                None => task.await,
            }
        }
        outcome
    }
}

/// What observers were told when an exchange started, to tell them its end under the same id.
#[derive(Clone, Copy)]
struct Watched<'a> {
    id: ExchangeId,
    tenant: &'a TenantId,
    call_id: Option<&'a str>,
}

impl<'a> Watched<'a> {
    fn exchange(self, event_type: &'a str, method: &'a http::Method) -> ObservedExchange<'a> {
        let mut e = ObservedExchange::live(event_type, method).with_tenant(self.tenant);
        e.id = self.id;
        if let Some(call_id) = self.call_id {
            e = e.with_call_id(call_id);
        }
        e
    }
}

/// The observers' word for a failure's reason (the same codes).
fn error_class(reason: Reason) -> ErrorClass {
    match reason {
        Reason::NoTarget => ErrorClass::NoTarget,
        Reason::Refused => ErrorClass::Refused,
        Reason::Timeout => ErrorClass::Timeout,
        Reason::ConnectError => ErrorClass::ConnectError,
        Reason::HttpStatus => ErrorClass::HttpStatus,
        Reason::InvalidResponse => ErrorClass::InvalidResponse,
        Reason::TooLarge => ErrorClass::TooLarge,
    }
}

fn left_until(now: Timestamp, deadline: Timestamp) -> Duration {
    if now >= deadline {
        Duration::ZERO
    } else {
        deadline.duration_since(now)
    }
}

/// The event's typed answer, or why the body is not one.
fn parse_answer(request: &LiveRequest, body: &[u8]) -> Result<Answer, String> {
    let text = |e: crate::event::ResponseError| e.to_string();
    Ok(match request.event {
        EventType::AssistantRequest => {
            Answer::Assistant(AssistantRequestResponse::parse(body).map_err(text)?)
        }
        EventType::ToolCalls => {
            let calls = request
                .tool_calls()
                .ok_or_else(|| "the request holds no tool calls".to_owned())?;
            let parsed = ToolCallsResponse::parse(body, calls).map_err(text)?;
            Answer::ToolCalls(in_call_order(parsed, calls))
        }
        EventType::TransferDestinationRequest => {
            Answer::TransferDestination(TransferDestinationResponse::parse(body).map_err(text)?)
        }
        EventType::KnowledgeBaseRequest => {
            Answer::KnowledgeBase(KnowledgeBaseResponse::parse(body).map_err(text)?)
        }
        EventType::EndpointingRequest => {
            Answer::Endpointing(EndpointingResponse::parse(body).map_err(text)?)
        }
        _ => Answer::Voice {
            bytes: body.len() as u64,
        },
    })
}

/// The results in the calls' order, one per call: a call the server did not answer gets its
/// tool's `request-failed` message (or [`TOOL_FAILED_SENTENCE`]) as its error.
fn in_call_order(mut response: ToolCallsResponse, calls: &ToolCalls) -> ToolCallsResponse {
    let mut ordered = Vec::with_capacity(calls.tool_call_list.len());
    for call in &calls.tool_call_list {
        match response
            .results
            .iter()
            .position(|r| r.tool_call_id == call.id)
        {
            Some(i) => ordered.push(response.results.swap_remove(i)),
            None => ordered.push(crate::event::ToolCallResult::err(
                &call.id,
                &call.function.name,
                outcome::failure_message(calls, &call.id, &call.function.name),
            )),
        }
    }
    response.results = ordered;
    response
}
