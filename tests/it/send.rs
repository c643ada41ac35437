//! The send step shared by the outbox and the live path, and the boundary's own deadlines.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::guard::Policy;
use agent_webhooks::http::{self, HeaderName, HeaderValue};
use agent_webhooks::outbox::{
    AttemptQuery, AttemptStatus, Clock, ManualClock, Store, Transport, TransportError,
    TransportErrorKind,
};
use agent_webhooks::transport::{
    ExchangeResult, ManualTimer, Refusal, SendStep, Timer, USER_AGENT_VALUE,
};
use async_trait::async_trait;

use crate::outbox::support::{Reply, Rig, Scripted, T0, signer, target, verifier};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
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

/// Lets the other branch run until `timer` has a sleeper, then moves it by `by`.
async fn advance_when_waiting(timer: &ManualTimer, by: Duration) {
    for _ in 0..1000 {
        if timer.sleepers() > 0 {
            timer.advance(by);
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("nothing waited on the timer");
}

#[tokio::test]
async fn the_request_carries_the_standard_headers_the_signature_and_the_servers_own() {
    let clock = ManualClock::new(T0);
    let transport = Arc::new(Scripted::new(&clock, Reply::Body(200, b"{}".to_vec())));
    let step = SendStep::new(transport.clone()).with_clock(Arc::new(clock.clone()));
    let mut secret = HeaderValue::from_static("s3cret");
    secret.set_sensitive(true);
    let target = target("https://hooks.example.com/vapi")
        .signer(signer())
        .header(HeaderName::from_static("x-vapi-secret"), secret);
    let body = br#"{"message":{"type":"assistant-request"}}"#;
    let exchange = step.send(&target, "msg_1", body, ms(7500)).await;
    assert_eq!(exchange.status(), Some(http::StatusCode::OK));
    assert_eq!(exchange.body(), b"{}");
    assert_eq!(exchange.level, "assistant");
    assert_eq!(exchange.url, "https://hooks.example.com/vapi");
    let sent = transport.received();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("user-agent"), USER_AGENT_VALUE);
    assert_eq!(r.header("webhook-id"), "msg_1");
    let at = T0.as_unix_seconds();
    assert_eq!(r.header("webhook-timestamp"), at.to_string());
    verifier()
        .verify("msg_1", at, r.header("webhook-signature"), body, at)
        .unwrap();
    assert!(r.headers["x-vapi-secret"].is_sensitive());
    assert_eq!(r.timeout, ms(7500));
    assert_eq!(r.body, body);
}

#[tokio::test]
async fn a_refused_url_is_never_sent() {
    let clock = ManualClock::new(T0);
    let transport = Arc::new(Scripted::new(&clock, Reply::Status(200)));
    let step = SendStep::new(transport.clone()).with_url_check(Arc::new(Policy::default()));
    let exchange = step
        .send(&target("http://127.0.0.1/hook"), "msg_1", b"{}", ms(1000))
        .await;
    assert!(exchange.is_refused());
    assert!(matches!(
        exchange.result,
        ExchangeResult::Refused(Refusal::Guard { .. })
    ));
    assert_eq!(transport.count(), 0);
}

#[tokio::test]
async fn the_timer_cuts_a_transport_that_ignores_its_timeout() {
    let clock = ManualClock::new(T0);
    let timer = ManualTimer::new(clock.clone());
    let step = SendStep::new(Arc::new(Hangs))
        .with_clock(Arc::new(clock.clone()))
        .with_timer(Arc::new(timer.clone()));
    let target = target("https://hooks.example.com/vapi");
    let (exchange, ()) = tokio::join!(
        step.send(&target, "msg_1", b"{}", ms(7500)),
        advance_when_waiting(&timer, ms(7500)),
    );
    assert_eq!(exchange.error_kind(), Some(TransportErrorKind::Timeout));
    assert_eq!(exchange.latency, ms(7500));
    assert_eq!(timer.sleepers(), 0, "the deadline's sleep is dropped");
}

#[tokio::test]
async fn an_answer_after_the_limit_is_a_timeout_with_a_timer_and_an_answer_without() {
    let clock = ManualClock::new(T0);
    let timer: Arc<dyn Timer> = Arc::new(ManualTimer::new(clock.clone()));
    let slow = Arc::new(Scripted::new(&clock, Reply::Status(200)).latency(ms(9000)));
    let target = target("https://hooks.example.com/vapi");
    let strict = SendStep::new(slow.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_timer(timer);
    let exchange = strict.send(&target, "msg_1", b"{}", ms(7500)).await;
    assert_eq!(exchange.error_kind(), Some(TransportErrorKind::Timeout));
    let trusting = SendStep::new(slow).with_clock(Arc::new(clock.clone()));
    let exchange = trusting.send(&target, "msg_2", b"{}", ms(7500)).await;
    assert_eq!(exchange.status(), Some(http::StatusCode::OK));
    assert_eq!(exchange.latency, ms(9000));
}

#[tokio::test]
async fn the_dispatcher_enforces_its_timeout_with_a_timer() {
    let rig = Rig::new();
    let timer = ManualTimer::new(rig.clock.clone());
    rig.targets.set(
        "assistant:a1",
        target("https://hooks.example.com/a1").timeout(Duration::from_secs(3)),
    );
    let d = rig
        .dispatcher(Arc::new(Hangs))
        .timer(Arc::new(timer.clone()))
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let (tick, ()) = tokio::join!(
        d.run_once(),
        advance_when_waiting(&timer, Duration::from_secs(3))
    );
    assert_eq!(tick.unwrap().retried, 1);
    let scope = crate::outbox::support::scope("acme");
    let attempts = rig
        .store
        .attempts(&scope, &AttemptQuery::new().job(job.id))
        .await
        .unwrap()
        .items;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, AttemptStatus::Failed);
    assert_eq!(attempts[0].status_code, None);
    assert!(attempts[0].error.as_deref().unwrap().starts_with("timeout"));
    assert_eq!(attempts[0].latency_ms, 3000);
    assert_eq!(rig.clock.now(), T0.saturating_add(Duration::from_secs(3)));
}
