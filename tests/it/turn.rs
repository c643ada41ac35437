//! A model turn of webhook and function tools: order, concurrency bounds, records, and what the
//! model never sees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::event::ToolCall;
use agent_webhooks::http;
use agent_webhooks::live::Requester;
use agent_webhooks::outbox::{
    AttemptQuery, AttemptStatus, JobQuery, JobStatus, ManualClock, MemoryStore, SeededRandom,
    Store, Transport, TransportError, Trigger,
};
use agent_webhooks::tool::{FunctionTools, Turn};
use agent_webhooks::transport::ManualTimer;
use agent_webhooks::{
    AgentKind, Builtin, Cascade, Policy, Scope, TenantId, ToolInvocation, ToolRunner, Vars,
    WebhookTool,
};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::outbox::support::T0;

/// Answers by URL: webhook tools under `/api/`, function-tool servers under `/fn/`; counts
/// how many requests are in flight at once.
#[derive(Debug, Default)]
struct Routes {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    seen: Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait]
impl Transport for Routes {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        // Let every other call in the turn start before this one ends.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let path = request.uri().path().to_owned();
        self.seen
            .lock()
            .unwrap()
            .push((path.clone(), request.body().clone()));
        let (status, body): (u16, Vec<u8>) = if let Some(rest) = path.strip_prefix("/api/fail") {
            let _ = rest;
            (
                500,
                br#"{"error":"db password is hunter2","stack":"at db.js:1"}"#.to_vec(),
            )
        } else if path.starts_with("/api/") {
            (200, format!(r#"{{"path":"{path}"}}"#).into_bytes())
        } else if path.starts_with("/fn/") {
            // Answer every call of the message, in reverse order.
            let message: Value = serde_json::from_slice(request.body()).unwrap();
            let mut results: Vec<Value> = message["message"]["toolCallList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| json!({"toolCallId": c["id"], "result": format!("{path}:{}", c["function"]["name"].as_str().unwrap())}))
                .collect();
            results.reverse();
            (
                200,
                serde_json::to_vec(&json!({ "results": results })).unwrap(),
            )
        } else {
            (404, Vec::new())
        };
        let mut r = http::Response::new(body);
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        Ok(r)
    }
}

fn webhook(name: &str, path: &str) -> agent_webhooks::CompiledTool {
    WebhookTool::from_value(json!({
        "name": name,
        "config": {"url": format!("https://api.example.com/api/{path}"), "method": "GET"},
    }))
    .unwrap()
    .compile(AgentKind::PhoneVoice)
    .unwrap()
}

fn function_tool(name: &str, server: Option<&str>) -> Value {
    let mut tool = json!({"type": "function", "function": {"name": name},
        "messages": [{"type": "request-failed", "content": format!("{name} failed.")}]});
    if let Some(url) = server {
        tool["server"] = json!({ "url": url });
    }
    tool
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

#[tokio::test]
async fn webhook_and_function_tools_answer_in_the_models_order() {
    let transport = Arc::new(Routes::default());
    let clock = ManualClock::new(T0);
    let store = Arc::new(MemoryStore::new());
    let requester =
        Requester::builder(transport.clone(), Arc::new(ManualTimer::new(clock.clone())))
            .clock(Arc::new(clock.clone()))
            .store(store.clone())
            .build();
    let runner = ToolRunner::new(Policy::default(), transport.clone())
        .clock(Arc::new(clock.clone()))
        .random(Arc::new(SeededRandom::new(3)))
        .store(store.clone());
    let cascade = Cascade::from_json(
        r#"{"assistant": {"server": {"url": "https://hooks.example.com/fn/assistant"}}}"#,
    )
    .unwrap();
    let vars = Vars::new().with(Builtin::CallId, "call_1");
    let (weather, fail) = (webhook("weather", "weather"), webhook("flaky", "fail"));
    let turn = Turn::new(acme())
        .function(
            ToolCall::new("c1", "book", "{}"),
            function_tool("book", Some("https://tools.example.com/fn/book")),
        )
        .webhook(ToolInvocation::new("c2", &weather, &vars))
        .function(
            ToolCall::new("c3", "lookup", "{}"),
            function_tool("lookup", None),
        )
        .webhook(ToolInvocation::new("c4", &fail, &vars))
        .function(
            ToolCall::new("c5", "cancel", "{}"),
            function_tool("cancel", Some("https://tools.example.com/fn/book")),
        )
        .functions(FunctionTools::new(requester, cascade));
    let response = runner.respond_turn(turn).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"results": [
            {"toolCallId": "c1", "name": "book", "result": "/fn/book:book"},
            {"toolCallId": "c2", "name": "weather", "result": r#"{"path":"/api/weather"}"#},
            {"toolCallId": "c3", "name": "lookup", "result": "/fn/assistant:lookup"},
            {"toolCallId": "c4", "name": "flaky", "error": "The tool request failed with HTTP 500 Internal Server Error."},
            {"toolCallId": "c5", "name": "cancel", "result": "/fn/book:cancel"},
        ]})
    );
    assert!(
        !serde_json::to_string(&response)
            .unwrap()
            .contains("hunter2")
    );
    // Two function servers: one tool-calls message each (the tool's own server, then the
    // assistant level), and the two webhook calls.
    let seen = transport.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let book: Value =
        serde_json::from_slice(&seen.iter().find(|(p, _)| p == "/fn/book").unwrap().1).unwrap();
    assert_eq!(book["message"]["type"], "tool-calls");
    assert_eq!(book["message"]["toolCallList"].as_array().unwrap().len(), 2);
    assert_eq!(
        book["message"]["toolWithToolCallList"][0]["toolCall"]["id"],
        "c1"
    );

    // Records: two webhook calls (trigger tool), two live exchanges (trigger live).
    let scope = Scope::tenant(acme());
    let tools = store
        .attempts(&scope, &AttemptQuery::new().trigger(Trigger::Tool))
        .await
        .unwrap()
        .items;
    assert_eq!(tools.len(), 2);
    let failed = tools
        .iter()
        .find(|a| a.status == AttemptStatus::Failed)
        .unwrap();
    assert_eq!(failed.status_code, Some(500));
    assert!(
        failed.response_body.contains("hunter2"),
        "the body is for admins, in the record"
    );
    assert_eq!(failed.level.as_deref(), Some("tool"));
    let jobs = store
        .jobs(&scope, &JobQuery::new().call_id("call_1"))
        .await
        .unwrap()
        .items;
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|j| j.event_type == "tool-call" && j.status.is_final())
    );
    assert!(jobs.iter().any(|j| j.status == JobStatus::Failed));
    let live = store
        .attempts(&scope, &AttemptQuery::new().trigger(Trigger::Live))
        .await
        .unwrap()
        .items;
    assert_eq!(live.len(), 2);
}

#[tokio::test]
async fn function_calls_without_a_way_to_their_server_get_their_failure_message() {
    let runner = ToolRunner::new(Policy::default(), Arc::new(Routes::default()));
    let turn = Turn::new(acme()).function(
        ToolCall::new("c1", "book", "{}"),
        function_tool("book", None),
    );
    let response = runner.respond_turn(turn).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"results": [{"toolCallId": "c1", "name": "book", "error": "book failed."}]})
    );
}

#[tokio::test]
async fn tool_calls_are_bounded_per_call_and_per_runtime() {
    let transport = Arc::new(Routes::default());
    let tool = webhook("weather", "weather");
    let vars = Vars::new();
    let ids: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let calls: Vec<ToolInvocation<'_>> = ids
        .iter()
        .map(|id| ToolInvocation::new(id, &tool, &vars))
        .collect();

    let runner = ToolRunner::new(Policy::default(), transport.clone()).call_concurrency(3);
    let response = runner.respond(&calls).await;
    assert_eq!(response.results.len(), 40);
    assert!(
        response
            .results
            .iter()
            .zip(&ids)
            .all(|(r, id)| &r.tool_call_id == id),
        "model order"
    );
    assert_eq!(
        transport.most.load(Ordering::SeqCst),
        3,
        "at most 3 at once for one call"
    );

    // Two turns at once share the runtime's bound.
    let transport = Arc::new(Routes::default());
    let runner = ToolRunner::new(Policy::default(), transport.clone())
        .call_concurrency(8)
        .runtime_concurrency(5);
    let other = runner.clone();
    let (a, b) = tokio::join!(runner.respond(&calls), other.respond(&calls));
    assert_eq!((a.results.len(), b.results.len()), (40, 40));
    assert_eq!(
        transport.most.load(Ordering::SeqCst),
        5,
        "at most 5 at once in the runtime"
    );
}
