//! Running a tool call end to end: prepare -> guard -> send -> a result for the model; and a
//! whole model turn of webhook and function tools.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::permits::Permits;
use super::{CompiledTool, DEFAULT_RESULT_LIMIT, ToolFailure, ToolResult};
use crate::cascade::Cascade;
use crate::error::ErrorKind;
use crate::event::{
    Call, Envelope, Event, EventBody, Profile, ToolCall, ToolCallResult, ToolCalls,
    ToolCallsResponse,
};
use crate::guard::{Origin, Policy};
use crate::live::{Answer, Fallback, LiveRequest, Requester, TOOL_FAILED_SENTENCE};
use crate::observe::{ErrorClass, Exchange, ExchangeEnd};
use crate::outbox::{
    AttemptStatus, Clock, JobId, JobStatus, Observer, Random, SeededRandom, Sign, Store,
    SystemClock, stored_body,
};
use crate::tenant::TenantId;
use crate::transport::{Spawn, Timer, Transport, TransportErrorKind, within};
use crate::vars::{Builtin, Vars};

/// How many calls of one turn run at once by default.
pub const DEFAULT_CALL_CONCURRENCY: usize = 8;
/// How many tool calls run at once in the whole runtime (every clone of a runner) by default.
pub const DEFAULT_RUNTIME_CONCURRENCY: usize = 64;

/// Runs webhook tool calls for the model: prepares the request, checks its URL with the guard,
/// sends it through a [`Transport`] with the tool's timeout, and turns what came back into a
/// [`ToolResult`]. Nothing fails: a refused, timed-out or failed call becomes a short result
/// the model can speak about, and the reason is kept for logs ([`ToolOutcome::failure`]).
///
/// Use a guarded transport (the `reqwest` feature's `transport::ReqwestTransport`) with the
/// same policy, so that the addresses DNS answers and any redirect hop are checked too.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use agent_webhooks::outbox::{Transport, TransportError};
/// use agent_webhooks::{AgentKind, Builtin, Policy, ToolInvocation, ToolRunner, Vars, WebhookTool, http};
///
/// #[derive(Debug)]
/// struct Echo; // a stand-in for the real transport
/// #[async_trait::async_trait]
/// impl Transport for Echo {
///     async fn send(&self, request: http::Request<Vec<u8>>, _: Duration)
///         -> Result<http::Response<Vec<u8>>, TransportError> {
///         let body = format!(r#"{{"path": "{}"}}"#, request.uri().path());
///         Ok(http::Response::new(body.into_bytes()))
///     }
/// }
///
/// let tool = WebhookTool::from_json(r#"{"name": "lookup_customer", "config": {
///     "url": "https://api.example.com/customers/{{caller_phone}}", "method": "GET"}}"#)?
///     .compile(AgentKind::PhoneVoice)?;
/// let vars = Vars::new().with(Builtin::CallerPhone, "+15551234567");
/// let runner = ToolRunner::new(Policy::default(), Arc::new(Echo));
///
/// let outcome = runner.run(&tool, &vars).await;
/// assert_eq!(outcome.result().result(), Some(r#"{"path":"/customers/+15551234567"}"#));
///
/// // The answer to Vapi's tool-calls message: {"results": [{"toolCallId", "name", "result"}]}.
/// let response = runner.respond(&[ToolInvocation::new("call_1", &tool, &vars)]).await;
/// assert_eq!(
///     serde_json::to_value(&response)?,
///     serde_json::json!({"results": [{"toolCallId": "call_1", "name": "lookup_customer",
///                                     "result": r#"{"path":"/customers/+15551234567"}"#}]})
/// );
///
/// // A refused URL is a result too, never an error or a panic.
/// let blocked = WebhookTool::from_json(r#"{"name": "meta", "config": {
///     "url": "http://169.254.169.254/latest/meta-data/", "method": "GET"}}"#)?
///     .compile(AgentKind::PhoneVoice)?;
/// let outcome = runner.run(&blocked, &vars).await;
/// assert_eq!(
///     outcome.result().error(),
///     Some("The tool request was refused by the runtime's safety policy.")
/// );
/// # Ok(()) }
/// # let mut f = std::pin::pin!(demo());
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
/// ```
///
/// **Bounded**: the calls of one turn run at most [`ToolRunner::call_concurrency`] at once, and
/// all calls through a runner and its clones at most [`ToolRunner::runtime_concurrency`].
/// **Recorded** ([`ToolRunner::store`]): every webhook tool call of a [`Turn`] with a tenant
/// becomes a job and an attempt with [`Trigger::Tool`](crate::outbox::Trigger::Tool), written
/// after the result is known (on the [`Spawn`]er when one is set).
#[derive(Clone)]
pub struct ToolRunner {
    policy: Arc<Policy>,
    transport: Arc<dyn Transport>,
    result_limit: usize,
    per_call: usize,
    permits: Arc<Permits>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    timer: Option<Arc<dyn Timer>>,
    store: Option<Arc<dyn Store>>,
    spawn: Option<Arc<dyn Spawn>>,
    observer: Option<Arc<dyn Observer>>,
}

impl fmt::Debug for ToolRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolRunner")
            .field("transport", &self.transport)
            .field("result_limit", &self.result_limit)
            .field("per_call", &self.per_call)
            .field("store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

/// One call of a compiled tool, ready to run: the id to answer under (the
/// [`ToolCall`](crate::event::ToolCall)'s `id`, Vapi's `toolCallId`), the tool its function name
/// picks, and its variables (the call's built-ins and the model's arguments, [`Vars::with_args`]).
#[derive(Debug, Clone, Copy)]
pub struct ToolInvocation<'a> {
    id: &'a str,
    tool: &'a CompiledTool,
    vars: &'a Vars,
}

impl<'a> ToolInvocation<'a> {
    /// A call of `tool` with `vars`, answered under `id`.
    #[must_use]
    pub fn new(id: &'a str, tool: &'a CompiledTool, vars: &'a Vars) -> Self {
        ToolInvocation { id, tool, vars }
    }
}

/// What one tool call gave: the [`ToolResult`] for the model and, when no response came, why
/// (for logs; the model is told only a short sentence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    result: ToolResult,
    failure: Option<ToolFailure>,
    /// The response body as received: for the record (admins), never for the model.
    body: Option<Vec<u8>>,
}

impl ToolOutcome {
    /// The result for the model.
    #[must_use]
    pub fn result(&self) -> &ToolResult {
        &self.result
    }

    /// Why no response came (refused, timeout, transport), if so. A response with a failing
    /// status is not a failure here: its status is in [`ToolOutcome::result`].
    #[must_use]
    pub fn failure(&self) -> Option<&ToolFailure> {
        self.failure.as_ref()
    }

    /// The result for the model.
    #[must_use]
    pub fn into_result(self) -> ToolResult {
        self.result
    }

    /// The entry of a `tool-calls` answer: `result` on success, else `error`.
    #[must_use]
    pub fn to_call_result(&self, tool_call_id: &str, name: &str) -> ToolCallResult {
        match (self.result.result(), self.result.error()) {
            (Some(result), _) => ToolCallResult::ok(tool_call_id, name, result),
            (None, error) => ToolCallResult::err(tool_call_id, name, error.unwrap_or("")),
        }
    }

    fn failed(failure: ToolFailure) -> Self {
        ToolOutcome {
            result: ToolResult::from_failure(&failure),
            failure: Some(failure),
            body: None,
        }
    }
}

impl ToolRunner {
    /// A runner checking URLs with `policy` and sending through `transport`; results are cut
    /// at [`DEFAULT_RESULT_LIMIT`] bytes.
    #[must_use]
    pub fn new(policy: Policy, transport: Arc<dyn Transport>) -> Self {
        ToolRunner {
            policy: Arc::new(policy),
            transport,
            result_limit: DEFAULT_RESULT_LIMIT,
            per_call: DEFAULT_CALL_CONCURRENCY,
            permits: Arc::new(Permits::new(DEFAULT_RUNTIME_CONCURRENCY)),
            clock: Arc::new(SystemClock),
            random: Arc::new(SeededRandom::from_entropy()),
            timer: None,
            store: None,
            spawn: None,
            observer: None,
        }
    }

    /// How many calls of one turn run at once (default [`DEFAULT_CALL_CONCURRENCY`]; 0 is
    /// taken as 1).
    #[must_use]
    pub fn call_concurrency(mut self, n: usize) -> Self {
        self.per_call = n.max(1);
        self
    }

    /// How many calls run at once through this runner and every clone made after this call
    /// (default [`DEFAULT_RUNTIME_CONCURRENCY`]; 0 is taken as 1).
    #[must_use]
    pub fn runtime_concurrency(mut self, n: usize) -> Self {
        self.permits = Arc::new(Permits::new(n.max(1)));
        self
    }

    /// The clock of records and latencies (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The randomness of record ids (default: process-seeded).
    #[must_use]
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// A timer enforcing each tool's timeout in the runner itself, not only in the transport.
    #[must_use]
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// Records the webhook tool calls of turns with a tenant in this store.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Writes records in the background on this spawner (default: before the turn returns).
    #[must_use]
    pub fn spawn(mut self, spawn: Arc<dyn Spawn>) -> Self {
        self.spawn = Some(spawn);
        self
    }

    /// Told when a record could not be written ([`Observer::store_failed`]).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Cuts results at `bytes` (default [`DEFAULT_RESULT_LIMIT`]). Keep the transport's own
    /// body limit above it.
    #[must_use]
    pub fn result_limit(mut self, bytes: usize) -> Self {
        self.result_limit = bytes;
        self
    }

    /// Runs one call of `tool` with `vars`: prepare, check the URL, send with the tool's
    /// timeout, read the result. Never fails; see [`ToolOutcome`].
    pub async fn run(&self, tool: &CompiledTool, vars: &Vars) -> ToolOutcome {
        // A webhook tool's host is the operator's: the config fixes it at compile time, and
        // prepare checks the rendered URL as such.
        let origin = Origin::Operator;
        let started = self.clock.now();
        let exchange = Exchange::tool(tool.name(), tool.method());
        if let Some(o) = &self.observer {
            o.exchange_started(&exchange);
        }
        let prepared = match tool.prepare(vars, &self.policy) {
            Ok(p) => p,
            Err(e) => {
                let reason = e.to_string();
                let (failure, class) = if e.kind() == ErrorKind::Guard {
                    (ToolFailure::Refused { reason }, ErrorClass::Refused)
                } else {
                    (
                        ToolFailure::Unrenderable { reason },
                        ErrorClass::InvalidRequest,
                    )
                };
                self.observed(&exchange, started, None, Some(class));
                return ToolOutcome::failed(failure);
            }
        };
        let url = prepared.url().as_str().to_owned();
        let exchange = exchange.with_url(&url);
        let timeout = prepared.timeout();
        let mut request = prepared.into_request();
        request.extensions_mut().insert(origin);
        let sent = match &self.timer {
            Some(timer) => within(
                timer.as_ref(),
                timeout,
                self.transport.send(request, timeout),
            )
            .await
            .unwrap_or_else(|_| {
                Err(crate::transport::TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no complete response within {} ms", timeout.as_millis()),
                ))
            }),
            None => self.transport.send(request, timeout).await,
        };
        match &sent {
            Ok(response) => {
                let status = response.status();
                let class = (!status.is_success()).then_some(ErrorClass::HttpStatus);
                self.observed(&exchange, started, Some(status.as_u16()), class);
            }
            Err(e) => {
                let class = ErrorClass::of_transport(e.kind());
                self.observed(&exchange, started, None, Some(class));
            }
        }
        match sent {
            Ok(response) => ToolOutcome {
                result: ToolResult::from_mapped_response(
                    &response,
                    tool.response_map(),
                    self.result_limit,
                ),
                failure: None,
                body: Some(response.into_body()),
            },
            Err(e) => ToolOutcome::failed(match e.kind() {
                TransportErrorKind::Timeout => ToolFailure::Timeout(timeout),
                TransportErrorKind::Refused => ToolFailure::Refused {
                    reason: e.message().to_owned(),
                },
                _ => ToolFailure::Transport {
                    reason: e.to_string(),
                },
            }),
        }
    }

    /// Tells the observer, if any, how the call ended.
    fn observed(
        &self,
        exchange: &Exchange<'_>,
        started: crate::outbox::Timestamp,
        status: Option<u16>,
        class: Option<ErrorClass>,
    ) {
        let Some(o) = &self.observer else { return };
        let duration = self.clock.now().duration_since(started);
        let end = match class {
            Some(class) => ExchangeEnd::failed(class, status, duration),
            None => ExchangeEnd::answered(status.unwrap_or(200), duration),
        };
        o.exchange_finished(exchange, &end);
    }

    /// Runs the calls, [`ToolRunner::call_concurrency`] at a time, and answers the `tool-calls`
    /// message, one result per call in the calls' order; serialized it is Vapi's
    /// `{"results": [{"toolCallId", "name", "result" | "error"}, ...]}`. Not recorded (a
    /// [`Turn`] with a tenant is).
    pub async fn respond(&self, calls: &[ToolInvocation<'_>]) -> ToolCallsResponse {
        let mut turn = Turn::unrecorded();
        for call in calls {
            turn = turn.webhook(*call);
        }
        self.respond_turn(turn).await
    }

    /// Answers one model turn that may call webhook tools and function tools (a tool with a
    /// `server`): one result per call in the model's order, as Vapi-shaped results. Webhook
    /// calls run here; function calls go to their server as `tool-calls` messages through the
    /// turn's [`Requester`] (one message per server, to the tool level of the cascade). At most
    /// [`ToolRunner::call_concurrency`] units (a webhook call, or one server's message) run at
    /// once, and the runtime-wide bound holds across turns. Never fails: a failed call gets a
    /// short sentence, never what the endpoint said.
    pub async fn respond_turn(&self, turn: Turn<'_>) -> ToolCallsResponse {
        let Turn {
            tenant,
            calls,
            functions,
        } = turn;
        let mut results: Vec<Option<ToolCallResult>> = vec![None; calls.len()];
        let mut units: Vec<Unit<'_>> = Vec::new();
        let mut groups: Vec<(Option<Value>, Vec<usize>)> = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            match call {
                TurnCall::Webhook(invocation) => units.push(Unit::Webhook(i, *invocation)),
                TurnCall::Function { tool, .. } => {
                    let server = tool.get("server").filter(|s| !s.is_null()).cloned();
                    match groups.iter_mut().find(|(s, _)| *s == server) {
                        Some((_, members)) => members.push(i),
                        None => groups.push((server, vec![i])),
                    }
                }
            }
        }
        for (_, members) in groups {
            units.push(Unit::Functions(members));
        }
        let tenant = tenant.as_ref();
        let functions = functions.as_ref();
        let calls = &calls;
        let done: Vec<Vec<(usize, ToolCallResult)>> = stream::iter(units)
            .map(|unit| async move {
                let _permit = self.permits.acquire().await;
                match unit {
                    Unit::Webhook(i, c) => {
                        let outcome = self.run_recorded(tenant, c).await;
                        vec![(i, outcome.to_call_result(c.id, c.tool.name()))]
                    }
                    Unit::Functions(members) => {
                        self.send_functions(tenant, functions, calls, &members)
                            .await
                    }
                }
            })
            .buffer_unordered(self.per_call)
            .collect()
            .await;
        for (i, result) in done.into_iter().flatten() {
            results[i] = Some(result);
        }
        let results = results
            .into_iter()
            .zip(calls.iter())
            .map(|(r, call)| {
                r.unwrap_or_else(|| {
                    let (id, name) = call.id_and_name();
                    ToolCallResult::err(id, name, TOOL_FAILED_SENTENCE)
                })
            })
            .collect();
        ToolCallsResponse::new(results)
    }

    /// One webhook call, recorded when the turn has a tenant and the runner a store.
    async fn run_recorded(
        &self,
        tenant: Option<&TenantId>,
        call: ToolInvocation<'_>,
    ) -> ToolOutcome {
        let started = self.clock.now();
        let prepared = call.tool.prepare(call.vars, &self.policy).ok();
        let outcome = self.run(call.tool, call.vars).await;
        let (Some(tenant), Some(store)) = (tenant, &self.store) else {
            return outcome;
        };
        let ended = self.clock.now();
        let (url, payload) = prepared.as_ref().map_or((None, Vec::new()), |p| {
            (
                Some(p.url().as_str().to_owned()),
                p.request().body().clone(),
            )
        });
        let id = JobId::generate(started, self.random.next_u64());
        let mut record = crate::live::record::Record::for_job(
            crate::outbox::Trigger::Tool,
            &id,
            tenant.clone(),
            "tool-call",
            call.vars
                .builtin(Builtin::CallId)
                .filter(|c| !c.is_empty() && c.len() <= 128 && !c.chars().any(char::is_control))
                .map(str::to_owned),
            crate::live::record::Record::tool_target(call.tool.name()),
            &payload,
            started,
        );
        let result = outcome.result();
        let (status, job_status) = match (outcome.failure(), result.is_success()) {
            (Some(ToolFailure::Refused { .. } | ToolFailure::Unrenderable { .. }), _) => {
                (AttemptStatus::Refused, JobStatus::Skipped)
            }
            (None, true) => (AttemptStatus::Succeeded, JobStatus::Succeeded),
            _ => (AttemptStatus::Failed, JobStatus::Failed),
        };
        let error = match (outcome.failure(), result.status()) {
            (Some(f), _) => Some(f.to_string()),
            (None, Some(s)) if !result.is_success() => Some(format!("HTTP {s}")),
            _ => None,
        };
        record.push_tool_try(
            url,
            status,
            result.status(),
            error,
            outcome.body.as_deref().map_or((String::new(), false), |b| {
                stored_body(b, crate::outbox::MAX_RESPONSE_BODY)
            }),
            started,
            ended,
        );
        let (job, attempts) = record.finish(job_status, ended, self.random.as_ref());
        let task = crate::live::record::write(job, attempts, store.clone(), self.observer.clone());
        match &self.spawn {
            Some(spawn) => spawn.spawn(Box::pin(task)),
            None => task.await,
        }
        outcome
    }

    /// One server's function calls as one `tool-calls` message: its answer's results, or each
    /// tool's failure message.
    async fn send_functions(
        &self,
        tenant: Option<&TenantId>,
        functions: Option<&FunctionTools>,
        calls: &[TurnCall<'_>],
        members: &[usize],
    ) -> Vec<(usize, ToolCallResult)> {
        let request = ToolCalls::with_tools(members.iter().filter_map(|&i| match &calls[i] {
            TurnCall::Function { call, tool } => Some((call.clone(), tool.clone())),
            TurnCall::Webhook(_) => None,
        }));
        let failed = |request: &ToolCalls| crate::live::outcome::failed_tool_results(Some(request));
        let answer = match (functions, tenant) {
            (Some(f), Some(tenant)) => {
                let mut event = Event::new(EventBody::ToolCalls(request.clone()));
                if let Some(c) = &f.call {
                    event = event.with_call(c.clone());
                }
                let envelope = Envelope::new(event, Profile::Vapi);
                match LiveRequest::new(tenant.clone(), envelope, f.cascade.clone()) {
                    Ok(mut live) => {
                        if let Some(s) = &f.signer {
                            live = live.signer(s.clone());
                        }
                        if let Some(d) = f.deadline {
                            live = live.deadline(d);
                        }
                        let outcome = f.requester.request(live).await;
                        match (outcome.answer(), outcome.fallback()) {
                            (Some(Answer::ToolCalls(r)), _) => r.clone(),
                            (_, Some(Fallback::ToolResults(r))) => r.clone(),
                            _ => failed(&request),
                        }
                    }
                    Err(_) => failed(&request),
                }
            }
            _ => failed(&request),
        };
        members
            .iter()
            .zip(&request.tool_call_list)
            .map(|(&i, call)| {
                let result = answer
                    .results
                    .iter()
                    .find(|r| r.tool_call_id == call.id)
                    .cloned()
                    .unwrap_or_else(|| {
                        ToolCallResult::err(
                            &call.id,
                            &call.function.name,
                            crate::live::outcome::failure_message(
                                &request,
                                &call.id,
                                &call.function.name,
                            ),
                        )
                    });
                (i, result)
            })
            .collect()
    }
}

enum Unit<'a> {
    Webhook(usize, ToolInvocation<'a>),
    Functions(Vec<usize>),
}

/// One call of a model turn.
#[derive(Debug, Clone)]
enum TurnCall<'a> {
    Webhook(ToolInvocation<'a>),
    Function { call: ToolCall, tool: Value },
}

impl TurnCall<'_> {
    fn id_and_name(&self) -> (&str, &str) {
        match self {
            TurnCall::Webhook(c) => (c.id, c.tool.name()),
            TurnCall::Function { call, .. } => (&call.id, &call.function.name),
        }
    }
}

/// How a turn's function tools reach their servers: the live [`Requester`], the call's
/// cascade (the tool's own `server` is its tool level), the signer, the call and what is left
/// of the host's deadline.
#[derive(Debug, Clone)]
#[must_use]
pub struct FunctionTools {
    requester: Requester,
    cascade: Arc<Cascade>,
    signer: Option<Arc<dyn Sign>>,
    call: Option<Call>,
    deadline: Option<Duration>,
}

impl FunctionTools {
    /// Function tools sent through `requester`, resolved through `cascade`.
    pub fn new(requester: Requester, cascade: impl Into<Arc<Cascade>>) -> Self {
        FunctionTools {
            requester,
            cascade: cascade.into(),
            signer: None,
            call: None,
            deadline: None,
        }
    }
    /// Signs the `tool-calls` messages.
    pub fn signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }
    /// The call the messages are about (`message.call`).
    pub fn call(mut self, call: Call) -> Self {
        self.call = Some(call);
        self
    }
    /// What is left of the host's deadline for the turn.
    pub fn deadline(mut self, left: Duration) -> Self {
        self.deadline = Some(left);
        self
    }
}

/// One model turn: its tool calls in the model's order, webhook tools and function tools
/// mixed, for [`ToolRunner::respond_turn`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Turn<'a> {
    tenant: Option<TenantId>,
    calls: Vec<TurnCall<'a>>,
    functions: Option<FunctionTools>,
}

impl<'a> Turn<'a> {
    /// A turn of `tenant`'s call (its webhook tool calls are recorded under the tenant).
    pub fn new(tenant: TenantId) -> Self {
        Turn {
            tenant: Some(tenant),
            calls: Vec::new(),
            functions: None,
        }
    }

    /// A turn whose calls are not recorded.
    pub fn unrecorded() -> Self {
        Turn {
            tenant: None,
            calls: Vec::new(),
            functions: None,
        }
    }

    /// A webhook tool call, next in the model's order.
    pub fn webhook(mut self, invocation: ToolInvocation<'a>) -> Self {
        self.calls.push(TurnCall::Webhook(invocation));
        self
    }

    /// A function tool call, next in the model's order: the model's `call` and the tool's
    /// config as Vapi describes it (`{"type": "function", "function": {...}, "server": {...},
    /// "messages": [...]}`).
    pub fn function(mut self, call: ToolCall, tool: Value) -> Self {
        self.calls.push(TurnCall::Function { call, tool });
        self
    }

    /// How function tool calls reach their servers (without it they fail with the tool's
    /// failure message).
    pub fn functions(mut self, functions: FunctionTools) -> Self {
        self.functions = Some(functions);
        self
    }
}
