//! Live request events: budgets, retries, reasons, fallbacks, records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::event::EventType;
use agent_webhooks::http;
use agent_webhooks::live::{
    Answer, Fallback, LiveRequest, Outcome, Reason, Requester, TOOL_FAILED_SENTENCE,
};
use agent_webhooks::outbox::{
    AttemptQuery, AttemptStatus, Clock, Job, JobId, JobStatus, ManualClock, MemoryStore, Observer,
    OutboxError, Random, SeededRandom, Store, Timestamp, Transport, TransportError,
    TransportErrorKind, Trigger,
};
use agent_webhooks::transport::ManualTimer;
use agent_webhooks::{Cascade, Envelope, Scope, TenantId};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::outbox::support::{Reply, Scripted, T0, signer, verifier};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

/// A transport that never answers and ignores its timeout.
#[derive(Debug)]
struct Hangs;

#[async_trait]
impl Transport for Hangs {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        std::future::pending().await
    }
}

#[derive(Debug, Default)]
struct StoreFailures(Mutex<Vec<(Option<JobId>, String)>>);

impl Observer for StoreFailures {
    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        self.0
            .lock()
            .unwrap()
            .push((job.cloned(), error.to_string()));
    }
}

struct Rig {
    clock: ManualClock,
    store: Arc<MemoryStore>,
}

impl Rig {
    fn new() -> Self {
        Rig {
            clock: ManualClock::new(T0),
            store: Arc::new(MemoryStore::new()),
        }
    }

    fn requester(&self, transport: Arc<dyn Transport>) -> agent_webhooks::live::RequesterBuilder {
        Requester::builder(
            transport,
            Arc::new(ManualTimer::jumping(self.clock.clone())),
        )
        .clock(Arc::new(self.clock.clone()))
        .random(Arc::new(SeededRandom::new(7)))
        .store(self.store.clone())
    }

    fn scripted(&self, replies: impl IntoIterator<Item = Reply>) -> Arc<Scripted> {
        Arc::new(Scripted::new(&self.clock, Reply::Status(500)).then(replies))
    }
}

fn envelope(message: Value) -> Envelope {
    Envelope::parse(&serde_json::to_vec(&json!({ "message": message })).unwrap()).unwrap()
}

const SERVER: &str = "https://hooks.example.com/vapi";

fn cascade(server: Value) -> Cascade {
    Cascade::from_value(json!({
        "phoneNumber": {"server": server.clone()},
        "assistant": {
            "server": server.clone(),
            "voice": {"server": server.clone()},
            "knowledgeBase": {"server": server.clone()},
            "startSpeakingPlan": {"smartEndpointingPlan": {"server": server}},
        },
    }))
    .unwrap()
}

fn plain_cascade() -> Cascade {
    cascade(json!({"url": SERVER}))
}

fn tool_calls() -> Value {
    json!({
        "type": "tool-calls",
        "call": {"id": "call_1"},
        "toolCallList": [
            {"id": "tc_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}},
            {"id": "tc_2", "type": "function", "function": {"name": "book", "arguments": "{}"}},
        ],
        "toolWithToolCallList": [
            {"type": "function", "function": {"name": "lookup"}, "toolCall": {"id": "tc_1"}},
            {"type": "function", "function": {"name": "book"}, "toolCall": {"id": "tc_2"},
             "messages": [{"type": "request-failed", "content": "Booking is down, sorry."}]},
        ],
    })
}

async fn send(rig: &Rig, requester: &Requester, message: Value, cascade: Cascade) -> Outcome {
    let _ = rig;
    let request = LiveRequest::new(acme(), envelope(message), cascade).unwrap();
    requester.request(request).await
}

#[tokio::test]
async fn every_request_event_is_answered_with_its_typed_answer() {
    let rig = Rig::new();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "assistant-request"}),
            r#"{"assistantId": "asst_1"}"#,
        ),
        (
            tool_calls(),
            r#"{"results": [{"toolCallId": "tc_1", "result": "ok"}, {"toolCallId": "tc_2", "name": "book", "result": "booked"}]}"#,
        ),
        (
            json!({"type": "transfer-destination-request"}),
            r#"{"destination": {"type": "number", "number": "+15550001111"}}"#,
        ),
        (
            json!({"type": "knowledge-base-request", "messagesOpenAIFormatted": []}),
            r#"{"documents": [{"content": "Open 9 to 5."}]}"#,
        ),
        (
            json!({"type": "call.endpointing.request", "messagesOpenAIFormatted": []}),
            r#"{"timeoutSeconds": "1.5"}"#,
        ),
    ];
    for (message, answer) in cases {
        let transport = rig.scripted([Reply::Body(200, answer.as_bytes().to_vec())]);
        let requester = rig.requester(transport).build();
        let outcome = send(&rig, &requester, message.clone(), plain_cascade()).await;
        assert!(outcome.is_answered(), "{message}: {outcome:?}");
        assert_eq!(outcome.status, Some(200));
        assert_eq!(outcome.tries, 1);
        match (outcome.event_type, outcome.answer().unwrap()) {
            (EventType::AssistantRequest, Answer::Assistant(a)) => {
                assert_eq!(a.assistant_id.as_deref(), Some("asst_1"));
            }
            (EventType::ToolCalls, Answer::ToolCalls(r)) => {
                assert_eq!(r.results.len(), 2);
                assert_eq!(
                    r.results[0].name, "lookup",
                    "a missing name comes from the call"
                );
            }
            (EventType::TransferDestinationRequest, Answer::TransferDestination(t)) => {
                assert_eq!(t.destination.as_ref().unwrap()["number"], "+15550001111");
            }
            (EventType::KnowledgeBaseRequest, Answer::KnowledgeBase(k)) => {
                assert_eq!(k.documents[0].content, "Open 9 to 5.");
            }
            (EventType::EndpointingRequest, Answer::Endpointing(e)) => {
                assert!(
                    (e.timeout_seconds - 1.5).abs() < f64::EPSILON,
                    "lenient: a numeric string"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            outcome.to_json()["outcome"],
            "answered",
            "{}",
            outcome.to_json()
        );
    }
    // voice-request through a transport that does not stream (the provided method).
    let transport = rig.scripted([Reply::Body(200, vec![1, 0, 2, 0, 3, 0])]);
    let requester = rig.requester(transport).build();
    let request = LiveRequest::new(
        acme(),
        envelope(json!({"type": "voice-request", "text": "Hello", "sampleRate": 16000})),
        plain_cascade(),
    )
    .unwrap();
    let mut audio = Vec::new();
    let outcome = requester
        .voice(request, &mut |pcm: &[u8]| audio.extend_from_slice(pcm))
        .await;
    assert_eq!(outcome.answer(), Some(&Answer::Voice { bytes: 6 }));
    assert_eq!(outcome.level.as_deref(), Some("assistant.voice.server"));
    assert_eq!(audio, vec![1, 0, 2, 0, 3, 0]);
}

#[tokio::test]
async fn events_that_expect_no_answer_are_refused_at_build() {
    let e = LiveRequest::new(
        acme(),
        envelope(json!({"type": "status-update", "status": "ringing"})),
        plain_cascade(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("outbox"), "{e}");
}

#[tokio::test]
async fn every_failure_has_its_reason_and_fallback() {
    let rig = Rig::new();
    let assistant = json!({"type": "assistant-request", "call": {"id": "call_9"}});

    // no_target: no server for the event; the phone number's fallback destination.
    let requester = rig.requester(rig.scripted([])).build();
    let mut message = assistant.clone();
    message["phoneNumber"] =
        json!({"fallbackDestination": {"type": "number", "number": "+15550002222"}});
    let outcome = send(&rig, &requester, message, Cascade::new()).await;
    assert_eq!(outcome.reason(), Some(Reason::NoTarget));
    assert_eq!(outcome.tries, 0);
    assert!(
        matches!(outcome.fallback(), Some(Fallback::Transfer { destination }) if destination["number"] == "+15550002222")
    );

    // refused: the guard's production rules refuse a loopback server.
    let transport = rig.scripted([]);
    let requester = rig.requester(transport.clone()).build();
    let outcome = send(
        &rig,
        &requester,
        assistant.clone(),
        cascade(json!({"url": "http://127.0.0.1:9/hook"})),
    )
    .await;
    assert_eq!(outcome.reason(), Some(Reason::Refused));
    assert_eq!(outcome.fallback(), Some(&Fallback::EndCall));
    assert_eq!(transport.count(), 0, "nothing left");

    // timeout: the server never answers; the 7.5 s budget holds whatever the server says.
    let requester = rig.requester(Arc::new(Hangs)).build();
    let start = rig.clock.now();
    let outcome = send(
        &rig,
        &requester,
        assistant.clone(),
        cascade(json!({"url": SERVER, "timeoutSeconds": 20})),
    )
    .await;
    assert_eq!(outcome.reason(), Some(Reason::Timeout));
    assert_eq!(outcome.latency, ms(7_500));
    assert_eq!(rig.clock.now().duration_since(start), ms(7_500));

    // connect_error.
    let requester = rig
        .requester(rig.scripted([Reply::Fail(TransportErrorKind::Connect)]))
        .build();
    let outcome = send(&rig, &requester, assistant.clone(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::ConnectError));

    // http_status: the server's one-line error is spoken; a stack trace is not.
    let requester = rig
        .requester(
            rig.scripted([
                Reply::Body(503, br#"{"error": "We are closed today."}"#.to_vec()),
                Reply::Body(
                    500,
                    b"Traceback (most recent call last):\n  File \"app.py\"\nKeyError: sk_live_123"
                        .to_vec(),
                ),
            ]),
        )
        .build();
    let outcome = send(&rig, &requester, assistant.clone(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::HttpStatus));
    assert_eq!(outcome.status, Some(503));
    assert_eq!(
        outcome.fallback(),
        Some(&Fallback::Speak {
            text: "We are closed today.".into()
        })
    );
    let outcome = send(&rig, &requester, assistant.clone(), plain_cascade()).await;
    assert_eq!(outcome.fallback(), Some(&Fallback::EndCall));
    assert!(
        !format!("{outcome:?}").contains("sk_live_123"),
        "the body stays in the record"
    );

    // invalid_response: not the event's answer.
    let requester = rig
        .requester(rig.scripted([Reply::Body(200, b"<html>ok</html>".to_vec())]))
        .build();
    let outcome = send(&rig, &requester, assistant.clone(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::InvalidResponse));

    // too_large: more than the response limit.
    let requester = rig
        .requester(rig.scripted([Reply::Body(200, vec![b' '; 2048])]))
        .response_limit(1024)
        .build();
    let outcome = send(&rig, &requester, assistant.clone(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::TooLarge));

    // The other events' fallbacks.
    let fallbacks = [
        (
            json!({"type": "transfer-destination-request"}),
            Fallback::NoTransfer {
                message: Some("No agent is free.".into()),
            },
        ),
        (
            json!({"type": "knowledge-base-request", "messagesOpenAIFormatted": []}),
            Fallback::NoDocuments,
        ),
        (
            json!({"type": "call.endpointing.request", "messagesOpenAIFormatted": []}),
            Fallback::DefaultEndpointing,
        ),
    ];
    for (message, fallback) in fallbacks {
        let requester = rig
            .requester(
                rig.scripted([Reply::Body(
                    500,
                    br#"{"message": {"type": "request-failed", "content": "No agent is free."}}"#
                        .to_vec(),
                )]),
            )
            .build();
        let outcome = send(&rig, &requester, message, plain_cascade()).await;
        assert_eq!(outcome.fallback(), Some(&fallback));
    }
    // Every reason code is stable.
    let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "no_target",
            "refused",
            "timeout",
            "connect_error",
            "http_status",
            "invalid_response",
            "too_large"
        ]
    );
}

#[tokio::test]
async fn tool_call_failures_give_the_model_short_sentences_never_the_body() {
    let rig = Rig::new();
    let requester = rig
        .requester(rig.scripted([Reply::Body(
            401,
            br#"{"error": "bad key sk_live_123", "stack": "at handler (app.js:10)"}"#.to_vec(),
        )]))
        .build();
    let outcome = send(&rig, &requester, tool_calls(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::HttpStatus));
    let Some(Fallback::ToolResults(results)) = outcome.fallback() else {
        panic!("{outcome:?}")
    };
    let json = serde_json::to_value(results).unwrap();
    assert_eq!(
        json,
        json!({"results": [
            {"toolCallId": "tc_1", "name": "lookup", "error": TOOL_FAILED_SENTENCE},
            {"toolCallId": "tc_2", "name": "book", "error": "Booking is down, sorry."},
        ]})
    );
    assert!(!outcome.to_json().to_string().contains("sk_live_123"));
    // The body is in the record, for admins.
    let attempts = rig
        .store
        .attempts(&Scope::tenant(acme()), &AttemptQuery::new())
        .await
        .unwrap()
        .items;
    assert!(attempts[0].response_body.contains("sk_live_123"));
}

#[tokio::test]
async fn a_tool_call_id_mismatch_is_an_invalid_response_and_results_follow_the_calls() {
    let rig = Rig::new();
    let requester = rig
        .requester(rig.scripted([
            Reply::Body(
                200,
                br#"{"results": [{"toolCallId": "tc_404", "result": "?"}]}"#.to_vec(),
            ),
            // Out of order, one missing, an object result: reordered, filled, stringified.
            Reply::Body(
                200,
                br#"{"results": [{"toolCallId": "tc_2", "result": {"booked": true}}]}"#.to_vec(),
            ),
        ]))
        .build();
    let outcome = send(&rig, &requester, tool_calls(), plain_cascade()).await;
    assert_eq!(outcome.reason(), Some(Reason::InvalidResponse));
    assert!(outcome.failure().unwrap().detail.contains("tc_404"));
    let outcome = send(&rig, &requester, tool_calls(), plain_cascade()).await;
    let Some(Answer::ToolCalls(r)) = outcome.answer() else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        serde_json::to_value(r).unwrap(),
        json!({"results": [
            {"toolCallId": "tc_1", "name": "lookup", "error": TOOL_FAILED_SENTENCE},
            {"toolCallId": "tc_2", "name": "book", "result": r#"{"booked":true}"#},
        ]})
    );
}

#[tokio::test]
async fn a_tool_calls_message_goes_to_the_called_tools_own_server() {
    let rig = Rig::new();
    let transport = rig.scripted([Reply::Body(200, br#"{"results": []}"#.to_vec())]);
    let requester = rig.requester(transport.clone()).build();
    let mut message = tool_calls();
    message["toolWithToolCallList"][0]["server"] =
        json!({"url": "https://tools.example.com/lookup"});
    let outcome = send(&rig, &requester, message, plain_cascade()).await;
    assert_eq!(outcome.level.as_deref(), Some("tool"));
    assert_eq!(
        transport.received()[0].uri,
        "https://tools.example.com/lookup"
    );
}

#[tokio::test]
async fn backoff_plan_retries_inside_the_budget_and_none_beyond() {
    let rig = Rig::new();
    // 5 s budget, up to 4 retries 1 s apart, each try takes 1 s: tries at 0, 2 and 4 s;
    // after the third (ending at 5 s) no time is left.
    let transport = Arc::new(
        Scripted::new(&rig.clock, Reply::Fail(TransportErrorKind::Connect)).latency(ms(1_000)),
    );
    let server = json!({"url": SERVER, "timeoutSeconds": 5,
        "backoffPlan": {"type": "fixed", "maxRetries": 4, "baseDelaySeconds": 1}});
    let requester = rig.requester(transport.clone()).build();
    let request = LiveRequest::new(
        acme(),
        envelope(json!({"type": "transfer-destination-request"})),
        cascade(server.clone()),
    )
    .unwrap()
    .signer(signer());
    let outcome = requester.request(request).await;
    assert_eq!(outcome.reason(), Some(Reason::ConnectError));
    assert_eq!(outcome.tries, 3);
    assert_eq!(outcome.latency, ms(5_000));
    let sent = transport.received();
    let at: Vec<u64> = sent
        .iter()
        .map(|r| r.at.duration_since(T0).as_secs())
        .collect();
    assert_eq!(at, [0, 2, 4]);
    let timeouts: Vec<Duration> = sent.iter().map(|r| r.timeout).collect();
    assert_eq!(
        timeouts,
        [ms(5_000), ms(3_000), ms(1_000)],
        "each try gets what is left"
    );
    for r in &sent {
        assert_eq!(
            r.header("webhook-id"),
            outcome.webhook_id.as_str(),
            "one id per exchange"
        );
        let ts = r.at.as_unix_seconds();
        verifier()
            .verify(
                r.header("webhook-id"),
                ts,
                r.header("webhook-signature"),
                &r.body,
                ts,
            )
            .unwrap();
    }
    // Without a plan, no retry (as Vapi).
    let transport = rig.scripted([Reply::Fail(TransportErrorKind::Connect)]);
    let requester = rig.requester(transport.clone()).build();
    let outcome = send(
        &rig,
        &requester,
        json!({"type": "transfer-destination-request"}),
        plain_cascade(),
    )
    .await;
    assert_eq!((outcome.tries, transport.count()), (1, 1));
    // An excluded status is not retried, nor 410 Gone (as in the outbox: the server's plan is
    // the same RetryPlan), nor a 2xx that cannot be used (bytes arrived).
    let server = json!({"url": SERVER, "backoffPlan": {"maxRetries": 3, "baseDelaySeconds": 0,
        "excludedStatusCodes": [400]}});
    for reply in [
        Reply::Status(400),
        Reply::Status(410),
        Reply::Body(200, b"nope".to_vec()),
    ] {
        let transport = rig.scripted([reply, Reply::Status(200)]);
        let requester = rig.requester(transport.clone()).build();
        let outcome = send(
            &rig,
            &requester,
            json!({"type": "transfer-destination-request"}),
            cascade(server.clone()),
        )
        .await;
        assert_eq!(transport.count(), 1, "{outcome:?}");
    }
    // A retried status then an answer.
    let transport = rig.scripted([
        Reply::Status(503),
        Reply::Body(200, br#"{"error": "no"}"#.to_vec()),
    ]);
    let requester = rig.requester(transport.clone()).build();
    let outcome = send(
        &rig,
        &requester,
        json!({"type": "transfer-destination-request"}),
        cascade(server),
    )
    .await;
    assert!(outcome.is_answered());
    assert_eq!(outcome.tries, 2);
}

#[tokio::test]
async fn the_host_deadline_shortens_the_budget() {
    let rig = Rig::new();
    let requester = rig.requester(Arc::new(Hangs)).build();
    let request = LiveRequest::new(acme(), envelope(tool_calls()), plain_cascade())
        .unwrap()
        .deadline(ms(1_200));
    let outcome = requester.request(request).await;
    assert_eq!(outcome.reason(), Some(Reason::Timeout));
    assert_eq!(outcome.latency, ms(1_200));
    // A server timeout shorter than the host's wins.
    let request = LiveRequest::new(
        acme(),
        envelope(tool_calls()),
        cascade(json!({"url": SERVER, "timeoutSeconds": 1})),
    )
    .unwrap()
    .deadline(ms(3_000));
    assert_eq!(requester.request(request).await.latency, ms(1_000));
}

#[tokio::test]
async fn every_exchange_is_recorded_as_a_live_job_with_one_attempt_per_try() {
    let rig = Rig::new();
    let transport = rig.scripted([
        Reply::Status(503),
        Reply::Body(200, br#"{"assistantId": "a"}"#.to_vec()),
    ]);
    let requester = rig.requester(transport).build();
    let server = json!({"url": SERVER, "backoffPlan": {"maxRetries": 1, "baseDelaySeconds": 1}});
    let outcome = send(
        &rig,
        &requester,
        json!({"type": "assistant-request", "call": {"id": "call_7"}}),
        cascade(server),
    )
    .await;
    assert!(outcome.is_answered());
    let scope = Scope::tenant(acme());
    let job = rig
        .store
        .job(&scope, &outcome.webhook_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.event_type, "assistant-request");
    assert_eq!(job.call_id.as_deref(), Some("call_7"));
    assert_eq!(job.target.as_str(), "live:assistant-request");
    assert_eq!(job.next_attempt_at, None);
    let mut attempts = rig
        .store
        .attempts(&scope, &AttemptQuery::new().job(job.id.clone()))
        .await
        .unwrap()
        .items;
    attempts.reverse();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a.trigger == Trigger::Live));
    assert_eq!(attempts[0].status, AttemptStatus::Failed);
    assert_eq!(attempts[0].status_code, Some(503));
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("http_status: the server answered 503 Service Unavailable")
    );
    assert_eq!(attempts[0].level.as_deref(), Some("phoneNumber.server"));
    assert_eq!(attempts[1].status, AttemptStatus::Succeeded);
    assert_eq!(attempts[1].number, 2);
    // Another tenant sees none of it.
    let globex = Scope::tenant(TenantId::new("globex").unwrap());
    assert_eq!(rig.store.job(&globex, &job.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_store_failure_goes_to_the_observer_never_to_the_call() {
    let rig = Rig::new();
    // The exchange's id is known in advance (seeded randomness, manual clock): take it first.
    let id = JobId::generate(T0, SeededRandom::new(7).next_u64());
    let mut taken = crate::outbox::conformance::job(1, "acme", T0);
    taken.id = id.clone();
    taken.status = JobStatus::Succeeded;
    let scope = Scope::tenant(acme());
    rig.store.record(&scope, taken, Vec::new()).await.unwrap();
    let failures = Arc::new(StoreFailures::default());
    let requester = rig
        .requester(rig.scripted([Reply::Body(200, br#"{"assistantId": "a"}"#.to_vec())]))
        .observer(failures.clone())
        .build();
    let outcome = send(
        &rig,
        &requester,
        json!({"type": "assistant-request"}),
        plain_cascade(),
    )
    .await;
    assert!(outcome.is_answered());
    assert_eq!(outcome.webhook_id, id);
    let seen = failures.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_ref(), Some(&id));
    let _ = Timestamp::EPOCH;
    let _: Option<Job> = None;
}

/// One scripted streaming answer: a status, then chunks (an `Err` ends the stream with a
/// failure), then the end, or a stall that never ends.
#[derive(Debug, Clone)]
enum Streamed {
    Head(u16, Vec<Result<Vec<u8>, TransportErrorKind>>, bool),
    Fail(TransportErrorKind),
}

/// A streaming transport playing [`Streamed`] answers in order; counts the sends.
#[derive(Debug)]
struct StreamScript(Mutex<std::collections::VecDeque<Streamed>>, Mutex<usize>);

impl StreamScript {
    fn new(replies: impl IntoIterator<Item = Streamed>) -> Arc<Self> {
        Arc::new(StreamScript(
            Mutex::new(replies.into_iter().collect()),
            Mutex::new(0),
        ))
    }
    fn count(&self) -> usize {
        *self.1.lock().unwrap()
    }
}

#[async_trait]
impl Transport for StreamScript {
    async fn send(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        unreachable!("voice-request streams")
    }

    async fn send_streaming(
        &self,
        _: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<agent_webhooks::transport::BodyStream>, TransportError> {
        use futures_util::StreamExt;
        *self.1.lock().unwrap() += 1;
        let reply = self
            .0
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted reply");
        let (status, chunks, stall) = match reply {
            Streamed::Fail(kind) => return Err(TransportError::new(kind, "scripted failure")),
            Streamed::Head(status, chunks, stall) => (status, chunks, stall),
        };
        let chunks = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| c.map_err(|kind| TransportError::new(kind, "scripted failure"))),
        );
        let body: agent_webhooks::transport::BodyStream = if stall {
            Box::pin(chunks.chain(futures_util::stream::pending()))
        } else {
            Box::pin(chunks)
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        Ok(response)
    }
}

/// A plan that would retry anything (3 retries, no delay) in a 20 s budget: whatever is not
/// retried below is refused by the kind of failure, not by the plan or the time left.
#[tokio::test]
async fn retries_only_before_answer_bytes_and_only_for_retryable_failures() {
    let rig = Rig::new();
    let server = json!({"url": SERVER, "timeoutSeconds": 20,
        "backoffPlan": {"type": "fixed", "maxRetries": 3, "baseDelaySeconds": 0}});
    let transfer = || json!({"type": "transfer-destination-request"});
    let answer = || {
        Reply::Body(
            200,
            br#"{"destination": {"type": "number", "number": "+15550001111"}}"#.to_vec(),
        )
    };
    // Retried: a connection failure, a 5xx, a 429 (nothing of an answer arrived yet).
    for first in [
        Reply::Fail(TransportErrorKind::Connect),
        Reply::Status(503),
        Reply::Status(429),
    ] {
        let transport = rig.scripted([first.clone(), answer()]);
        let requester = rig.requester(transport.clone()).build();
        let outcome = send(&rig, &requester, transfer(), cascade(server.clone())).await;
        assert!(outcome.is_answered(), "{first:?}: {outcome:?}");
        assert_eq!((outcome.tries, transport.count()), (2, 2), "{first:?}");
    }
    // Never retried: a timeout (the server may be sending; the answer may come after the
    // headers), a failure mid-answer, a refusal, a 2xx that cannot be used, a 2xx too large.
    let too_large = Reply::Body(200, vec![b' '; 64]);
    for (first, reason) in [
        (Reply::Fail(TransportErrorKind::Timeout), Reason::Timeout),
        (Reply::Fail(TransportErrorKind::Other), Reason::ConnectError),
        (Reply::Fail(TransportErrorKind::Refused), Reason::Refused),
        (Reply::Body(200, b"nope".to_vec()), Reason::InvalidResponse),
        (too_large, Reason::TooLarge),
    ] {
        let transport = rig.scripted([first.clone(), answer()]);
        let requester = rig.requester(transport.clone()).response_limit(32).build();
        let outcome = send(&rig, &requester, transfer(), cascade(server.clone())).await;
        assert_eq!(outcome.reason(), Some(reason), "{first:?}");
        assert_eq!((outcome.tries, transport.count()), (1, 1), "{first:?}");
    }
    // A retryable failure with no time left for another try as long as the last: no retry.
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(503)).latency(ms(1_500)));
    let requester = rig.requester(transport.clone()).build();
    let outcome = send(
        &rig,
        &requester,
        transfer(),
        cascade(json!({"url": SERVER, "timeoutSeconds": 2,
            "backoffPlan": {"type": "fixed", "maxRetries": 3, "baseDelaySeconds": 0}})),
    )
    .await;
    assert_eq!(outcome.reason(), Some(Reason::HttpStatus));
    assert_eq!((outcome.tries, transport.count()), (1, 1));

    // voice-request: a 503 before any audio is retried; once a chunk was handed on, neither
    // a broken stream nor a stalled one is.
    let voice = || json!({"type": "voice-request", "text": "Hello", "sampleRate": 16000});
    let pcm = || Ok(vec![1, 0, 2, 0]);
    let cases = [
        (
            vec![
                Streamed::Head(503, vec![], false),
                Streamed::Fail(TransportErrorKind::Connect),
                Streamed::Head(200, vec![pcm()], false),
            ],
            None,
            3,
            4,
        ),
        (
            vec![
                Streamed::Head(200, vec![pcm(), Err(TransportErrorKind::Other)], false),
                Streamed::Head(200, vec![pcm()], false),
            ],
            Some(Reason::ConnectError),
            1,
            4,
        ),
        (
            vec![
                Streamed::Head(200, vec![pcm()], true),
                Streamed::Head(200, vec![pcm()], false),
            ],
            Some(Reason::Timeout),
            1,
            4,
        ),
        (
            // The head came, no audio within the budget: a timeout, not retried.
            vec![
                Streamed::Head(200, vec![], true),
                Streamed::Head(200, vec![pcm()], false),
            ],
            Some(Reason::Timeout),
            1,
            0,
        ),
    ];
    for (script, reason, tries, heard) in cases {
        let transport = StreamScript::new(script.clone());
        let requester = rig.requester(transport.clone()).build();
        let request = LiveRequest::new(acme(), envelope(voice()), cascade(server.clone())).unwrap();
        let mut audio = Vec::new();
        let outcome = requester
            .voice(request, &mut |c: &[u8]| audio.extend_from_slice(c))
            .await;
        assert_eq!(outcome.reason(), reason, "{script:?}: {outcome:?}");
        assert_eq!(outcome.tries, tries, "{script:?}");
        assert_eq!(transport.count(), tries as usize, "{script:?}");
        assert_eq!(audio.len(), heard, "{script:?}: audio handed on once");
    }
}
