//! Running a tool call end to end: prepare -> guard -> send -> a result for the model.

use std::sync::Arc;

use super::{CompiledTool, DEFAULT_RESULT_LIMIT, ToolFailure, ToolResult};
use crate::error::ErrorKind;
use crate::event::{ToolCallResult, ToolCallsResponse};
use crate::guard::{Origin, Policy};
use crate::observe::{ErrorClass, Exchange, ExchangeEnd, NoObserver, Observer};
use crate::outbox::{Clock, SystemClock};
use crate::transport::{Transport, TransportErrorKind};
use crate::vars::Vars;

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
#[derive(Debug, Clone)]
pub struct ToolRunner {
    policy: Arc<Policy>,
    transport: Arc<dyn Transport>,
    result_limit: usize,
    observer: Arc<dyn Observer>,
    clock: Arc<dyn Clock>,
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
            observer: Arc::new(NoObserver),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reports every call to `observer` ([`Observer::exchange_started`] and
    /// [`Observer::exchange_finished`], kind [`Tool`](crate::observe::ExchangeKind::Tool)).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The clock that times calls for the observer (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
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
        let started = self.clock.now();
        let exchange = Exchange::tool(tool.name(), tool.method());
        self.observer.exchange_started(&exchange);
        let prepared = tool.prepare(vars, &self.policy);
        let (outcome, status) = match prepared {
            Ok(prepared) => {
                let url = prepared.url().as_str().to_owned();
                let (outcome, status, class) = self.send(prepared).await;
                let mut end = self.end(&outcome, status, started);
                if let Some(class) = class {
                    end.error = Some(class);
                }
                self.observer
                    .exchange_finished(&exchange.with_url(&url), &end);
                return outcome;
            }
            Err(e) => {
                let reason = e.to_string();
                let failure = if e.kind() == ErrorKind::Guard {
                    ToolFailure::Refused { reason }
                } else {
                    ToolFailure::Unrenderable { reason }
                };
                (ToolOutcome::failed(failure), None)
            }
        };
        let end = self.end(&outcome, status, started);
        self.observer.exchange_finished(&exchange, &end);
        outcome
    }

    /// How a call ended, for the observer.
    fn end(
        &self,
        outcome: &ToolOutcome,
        status: Option<u16>,
        started: crate::outbox::Timestamp,
    ) -> ExchangeEnd {
        let duration = self.clock.now().duration_since(started);
        let error = match &outcome.failure {
            Some(ToolFailure::Refused { .. }) => Some(ErrorClass::Refused),
            Some(ToolFailure::Unrenderable { .. }) => Some(ErrorClass::InvalidRequest),
            Some(ToolFailure::Timeout(_)) => Some(ErrorClass::Timeout),
            Some(ToolFailure::Transport { .. }) => Some(ErrorClass::Transport),
            None if status.is_some_and(|s| !(200..300).contains(&s)) => {
                Some(ErrorClass::HttpStatus)
            }
            None => None,
        };
        match (error, status) {
            (Some(class), status) => ExchangeEnd::failed(class, status, duration),
            (None, status) => ExchangeEnd::answered(status.unwrap_or(200), duration),
        }
    }

    /// Sends a prepared call; the outcome, the response status if one came, and the transport
    /// failure's class if none came.
    async fn send(
        &self,
        prepared: crate::tool::PreparedRequest,
    ) -> (ToolOutcome, Option<u16>, Option<ErrorClass>) {
        // A webhook tool's host is the operator's: the config fixes it at compile time, and
        // prepare checks the rendered URL as such.
        let origin = Origin::Operator;
        let timeout = prepared.timeout();
        let mut request = prepared.into_request();
        request.extensions_mut().insert(origin);
        match self.transport.send(request, timeout).await {
            Ok(response) => (
                ToolOutcome {
                    result: ToolResult::from_response(&response, self.result_limit),
                    failure: None,
                },
                Some(response.status().as_u16()),
                None,
            ),
            Err(e) => (
                ToolOutcome::failed(match e.kind() {
                    TransportErrorKind::Timeout => ToolFailure::Timeout(timeout),
                    TransportErrorKind::Refused => ToolFailure::Refused {
                        reason: e.message().to_owned(),
                    },
                    _ => ToolFailure::Transport {
                        reason: e.to_string(),
                    },
                }),
                None,
                Some(ErrorClass::of_transport(e.kind())),
            ),
        }
    }

    /// Runs every call at once and answers the `tool-calls` message, one result per call in
    /// the calls' order; serialized it is Vapi's
    /// `{"results": [{"toolCallId", "name", "result" | "error"}, ...]}`.
    pub async fn respond(&self, calls: &[ToolInvocation<'_>]) -> ToolCallsResponse {
        let runs = calls.iter().map(|c| self.run(c.tool, c.vars));
        let outcomes = futures_util::future::join_all(runs).await;
        let results = calls
            .iter()
            .zip(outcomes)
            .map(|(c, o)| o.to_call_result(c.id, c.tool.name()))
            .collect();
        ToolCallsResponse::new(results)
    }
}
