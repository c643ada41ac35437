//! The dispatcher against a scripted transport on a manual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::http;
use agent_webhooks::outbox::{
    AttemptStatus, Clock, Dispatcher, JobStatus, MemoryStore, NewJob, Outbox, PlanError, RetryPlan,
    SeededRandom, Shutdown, Store, TargetRef, Transport, TransportError, TransportErrorKind,
    Trigger, UrlCheck,
};
use agent_webhooks::{Rejection, Scope, SignError, url::Url};
use async_trait::async_trait;

use super::support::{Reply, Rig, Scripted, T0, scope, signer, target, tenant, verifier};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn always_failing_target_is_tried_exactly_on_schedule_then_fails() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let job = rig
        .enqueue("acme", "end-of-call-report", "assistant:a1")
        .await;
    let done = rig.drive(&d, &job.id, 20).await;

    let offsets: Vec<u64> = transport
        .received()
        .iter()
        .map(|r| r.at.duration_since(T0).as_secs())
        .collect();
    assert_eq!(offsets, [0, 5, 305, 2105, 9305, 27305, 63305, 99305]);
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.next_attempt_at, None);
    assert_eq!(done.attempts, 8);
    let attempts = rig.attempts(&job.id).await;
    assert_eq!(attempts.len(), 8);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a.number as usize, i + 1);
        assert_eq!(a.status_code, Some(500));
        assert_eq!(a.status, AttemptStatus::Failed);
        assert_eq!(a.trigger, Trigger::Scheduled);
        assert_eq!(a.url.as_deref(), Some("https://hooks.example.com/a1"));
        assert_eq!(a.level.as_deref(), Some("assistant"));
        assert_eq!(a.event_type, "end-of-call-report");
        let next = offsets.get(i + 1).map(|&s| T0.saturating_add(secs(s)));
        assert_eq!(a.next_attempt_at, next, "attempt {}", i + 1);
    }
    // One final state: nothing more is ever claimed.
    rig.clock.advance(secs(10 * 24 * 3600));
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn success_on_the_fourth_attempt() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([
        Reply::Status(500),
        Reply::Status(502),
        Reply::Fail(TransportErrorKind::Timeout),
    ]));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let done = rig.drive(&d, &job.id, 20).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.attempts, 4);
    assert_eq!(rig.clock.now().duration_since(T0), secs(2105)); // 35 min 05 s
    let last = rig.attempts(&job.id).await.pop().unwrap();
    assert_eq!(
        (last.status, last.status_code, last.next_attempt_at),
        (AttemptStatus::Succeeded, Some(200), None)
    );
}

#[tokio::test]
async fn every_retry_keeps_the_webhook_id_with_a_fresh_timestamp_and_signature() {
    let rig = Rig::new();
    rig.targets.set(
        "assistant:a1",
        target("https://hooks.example.com/a1")
            .signer(signer())
            .timeout(secs(7))
            .header(http::header::AUTHORIZATION, {
                let mut v = http::HeaderValue::from_static("Bearer sk_1");
                v.set_sensitive(true);
                v
            }),
    );
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(503)));
    let d = rig
        .dispatcher(transport.clone())
        .plan(
            RetryPlan::builder()
                .schedule([secs(5), secs(60)])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    rig.drive(&d, &job.id, 10).await;
    let sent = transport.received();
    assert_eq!(sent.len(), 3);
    let mut stamps = Vec::new();
    let mut signatures = Vec::new();
    for r in &sent {
        assert_eq!(r.header("webhook-id"), job.id.as_str());
        let ts = r.header("webhook-timestamp");
        assert_eq!(ts.parse::<u64>().unwrap(), r.at.as_unix_seconds());
        let signature = r.header("webhook-signature");
        let at = r.at.as_unix_seconds();
        verifier()
            .verify(job.id.as_str(), at, signature, &r.body, at)
            .unwrap();
        signatures.push(signature.to_owned());
        assert_eq!(r.header("content-type"), "application/json");
        assert!(r.headers["authorization"].is_sensitive());
        assert_eq!(r.body, &job.payload[..]);
        assert_eq!(r.uri, "https://hooks.example.com/a1");
        assert_eq!(r.timeout, secs(7));
        stamps.push(ts.to_owned());
    }
    stamps.dedup();
    assert_eq!(stamps.len(), 3, "a fresh timestamp per attempt");
    signatures.dedup();
    assert_eq!(signatures.len(), 3, "a fresh signature per attempt");
}

#[tokio::test]
async fn excluded_status_codes_stop_retries() {
    let rig = Rig::new();
    let plan = RetryPlan::from_backoff_json(r#"{"type":"fixed","maxRetries":5,"baseDelaySeconds":2,"excludedStatusCodes":[400,401,403,404]}"#).unwrap();
    let transport =
        Arc::new(Scripted::new(&rig.clock, Reply::Status(404)).then([Reply::Status(500)]));
    let d = rig
        .dispatcher(transport.clone())
        .plan(plan)
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let done = rig.drive(&d, &job.id, 20).await;
    // 500 retried after 2 s; 404 is excluded: failed at once.
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.attempts, 2);
    assert_eq!(transport.received()[1].at, T0.saturating_add(secs(2)));
}

#[tokio::test]
async fn a_target_plan_overrides_the_dispatcher_plan() {
    let rig = Rig::new();
    rig.targets.set(
        "assistant:a1",
        target("https://hooks.example.com/a1").plan(RetryPlan::none()),
    );
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    assert_eq!(rig.drive(&d, &job.id, 20).await.status, JobStatus::Failed);
    assert_eq!(transport.count(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_within_bounds_on_429_and_503_only() {
    // (reply, expected delay before the second attempt) with the first step 5 s and cap 1 h.
    let cases = [
        (Reply::WithHeader(429, "retry-after", "120".into()), 120),
        (Reply::WithHeader(503, "retry-after", "86400".into()), 3600),
        (Reply::WithHeader(503, "retry-after", "2".into()), 5),
        (Reply::WithHeader(429, "retry-after", "abc".into()), 5),
        (
            Reply::WithHeader(429, "retry-after", "Thu, 01 Jan 1970 00:00:00 GMT".into()),
            5,
        ),
        (
            Reply::WithHeader(429, "retry-after", "Thu, 01 Jan 2026 00:10:00 GMT".into()),
            600,
        ),
        (Reply::WithHeader(500, "retry-after", "120".into()), 5),
        (
            Reply::WithHeader(302, "location", "http://169.254.169.254/".into()),
            5,
        ),
    ];
    for (reply, want) in cases {
        let rig = Rig::new();
        let transport =
            Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([reply.clone()]));
        let d = rig.dispatcher(transport.clone()).build().unwrap();
        let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
        let done = rig.drive(&d, &job.id, 5).await;
        assert_eq!(done.status, JobStatus::Succeeded, "{reply:?}");
        let sent = transport.received();
        assert_eq!(sent.len(), 2, "{reply:?}: a 3xx is never followed");
        assert_eq!(
            sent[1].at.duration_since(sent[0].at),
            secs(want),
            "{reply:?}"
        );
        assert_eq!(sent[1].uri, "https://hooks.example.com/a1");
    }
}

#[tokio::test]
async fn transport_errors_are_recorded_with_no_status_and_retried() {
    let rig = Rig::new();
    let transport = Arc::new(
        Scripted::new(&rig.clock, Reply::Status(200))
            .then([Reply::Fail(TransportErrorKind::Connect)])
            .latency(Duration::from_millis(250)),
    );
    let d = rig.dispatcher(transport).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    let a = rig.attempts(&job.id).await.remove(0);
    assert_eq!(a.status, AttemptStatus::Failed);
    assert_eq!(a.status_code, None);
    assert_eq!(
        a.error.as_deref(),
        Some("connection failed: scripted failure")
    );
    assert_eq!(a.latency_ms, 250);
    assert_eq!(a.next_attempt_at, Some(a.ended_at.saturating_add(secs(5))));
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Pending);
}

#[tokio::test]
async fn response_bodies_are_stored_truncated() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(
        &rig.clock,
        Reply::Body(200, vec![b'x'; 1 << 20]),
    ));
    let d = rig.dispatcher(transport).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    let a = rig.attempts(&job.id).await.remove(0);
    assert_eq!(
        a.response_body.len(),
        agent_webhooks::outbox::MAX_RESPONSE_BODY
    );
    assert!(a.response_truncated);
}

#[derive(Debug)]
struct DenyHost(&'static str);
impl UrlCheck for DenyHost {
    fn check(&self, url: &Url) -> Result<(), Rejection> {
        if url.host_str() == Some(self.0) {
            Err(Rejection::HostNotAllowed)
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn refused_unresolved_and_unsigned_targets_are_skipped_with_a_refused_attempt() {
    let rig = Rig::new();
    rig.targets
        .set("assistant:bad", target("https://internal.example/x"));
    #[derive(Debug)]
    struct BrokenSigner;
    impl agent_webhooks::outbox::Sign for BrokenSigner {
        fn sign(&self, _: &str, _: u64, _: &[u8]) -> Result<http::HeaderValue, SignError> {
            Err(SignError::EmptySecret)
        }
    }
    rig.targets.set(
        "assistant:unsigned",
        target("https://hooks.example.com/u").signer(Arc::new(BrokenSigner)),
    );
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = rig
        .dispatcher(transport.clone())
        .url_check(Arc::new(DenyHost("internal.example")))
        .build()
        .unwrap();
    let refused = rig.enqueue("acme", "status-update", "assistant:bad").await;
    let missing = rig
        .enqueue("acme", "status-update", "assistant:nowhere")
        .await;
    let unsigned = rig
        .enqueue("acme", "status-update", "assistant:unsigned")
        .await;
    let tick = d.run_once().await.unwrap();
    assert_eq!(tick.skipped, 3);
    assert_eq!(transport.count(), 0, "nothing is sent");
    for (job, error) in [
        (
            &refused,
            &format!(
                "target `https://internal.example/x` refused by the guard: {}",
                Rejection::HostNotAllowed
            ),
        ),
        (
            &missing,
            &"has no target: no server for `assistant:nowhere`".into(),
        ),
        (
            &unsigned,
            &"could not be signed: signing secret is empty".into(),
        ),
    ] {
        assert_eq!(rig.job(&job.id).await.status, JobStatus::Skipped);
        let a = rig.attempts(&job.id).await.remove(0);
        assert_eq!((a.status, a.status_code), (AttemptStatus::Refused, None));
        assert!(a.error.as_deref().unwrap().contains(error), "{:?}", a.error);
    }
}

#[tokio::test]
async fn gone_disables_the_target_and_later_jobs_are_skipped() {
    let rig = Rig::new();
    let transport =
        Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([Reply::Status(410)]));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let first = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&first.id).await.status, JobStatus::Failed);
    assert_eq!(rig.observer.disabled.lock().unwrap().len(), 1);
    let second = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&second.id).await.status, JobStatus::Skipped);
    assert_eq!(transport.count(), 1);
    // Enable it and requeue: delivered.
    rig.outbox
        .enable_target(
            &scope("acme"),
            &tenant("acme"),
            "https://hooks.example.com/a1",
        )
        .await
        .unwrap();
    rig.outbox
        .requeue(&scope("acme"), &second.id)
        .await
        .unwrap();
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&second.id).await.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn auto_disable_after_a_long_run_of_exhausted_failures() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = rig
        .dispatcher(transport.clone())
        .plan(RetryPlan::none())
        .auto_disable_after(secs(120 * 3600))
        .build()
        .unwrap();
    let a = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&a.id).await.status, JobStatus::Failed);
    rig.clock.advance(secs(121 * 3600));
    rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    let disabled = rig.observer.disabled.lock().unwrap().clone();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].failing_since, Some(T0));
    let c = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&c.id).await.status, JobStatus::Skipped);
    assert_eq!(transport.count(), 2);
}

/// Blocks its first send until released, then answers 500; answers 200 afterwards.
#[derive(Debug)]
struct Stall {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl Transport for Stall {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let first = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(request.headers()["webhook-id"].to_str().unwrap().to_owned());
            calls.len() == 1
        };
        let mut response = http::Response::new(Vec::new());
        if first {
            self.entered.notify_one();
            self.release.notified().await;
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        }
        Ok(response)
    }
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_the_late_finisher_is_fenced_out() {
    let rig = Rig::new();
    let stall = Arc::new(Stall {
        entered: Default::default(),
        release: Default::default(),
        calls: Mutex::new(Vec::new()),
    });
    let a = Arc::new(
        rig.dispatcher(stall.clone())
            .lease(secs(60))
            .build()
            .unwrap(),
    );
    let b = rig
        .dispatcher(stall.clone())
        .lease(secs(60))
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;

    let slow = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await.unwrap() }
    });
    stall.entered.notified().await;
    rig.clock.advance(secs(61));
    let tick = b.run_once().await.unwrap();
    assert_eq!((tick.claimed, tick.succeeded), (1, 1));
    stall.release.notify_one();
    let late = slow.await.unwrap();
    assert_eq!((late.claimed, late.fenced), (1, 1));

    let done = rig.job(&job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "the late failure did not overwrite the success"
    );
    assert_eq!(done.attempts, 2);
    let calls = stall.calls.lock().unwrap().clone();
    assert_eq!(calls, vec![job.id.to_string(), job.id.to_string()]);
    // Both attempts are rows; the fenced one has no next attempt.
    let attempts = rig.attempts(&job.id).await;
    assert_eq!(
        attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(),
        [Some(200), Some(500)]
    );
    assert_eq!(attempts[1].next_attempt_at, None);
    assert_eq!(rig.observer.fenced.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_dispatcher_dropped_mid_send_leaves_the_job_to_its_lease() {
    let rig = Rig::new();
    let stall = Arc::new(Stall {
        entered: Default::default(),
        release: Default::default(),
        calls: Mutex::new(Vec::new()),
    });
    let a = Arc::new(rig.dispatcher(stall.clone()).build().unwrap());
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let crashed = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    stall.entered.notified().await;
    crashed.abort();
    assert!(crashed.await.unwrap_err().is_cancelled());
    assert_eq!(rig.job(&job.id).await.status, JobStatus::InFlight);
    let b = rig
        .dispatcher(Arc::new(Scripted::new(&rig.clock, Reply::Status(200))))
        .build()
        .unwrap();
    assert_eq!(
        b.run_once().await.unwrap().claimed,
        0,
        "the lease still holds"
    );
    rig.clock.advance(secs(60));
    assert_eq!(b.run_once().await.unwrap().succeeded, 1);
    let done = rig.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2));
}

#[test]
fn a_lease_not_longer_than_the_timeout_is_a_build_error() {
    let rig = Rig::new();
    let t = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let err = rig
        .dispatcher(t.clone())
        .lease(secs(30))
        .max_timeout(secs(30))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        PlanError::LeaseTooShort {
            lease: secs(30),
            timeout: secs(30),
            margin: secs(5)
        }
    );
    assert!(
        rig.dispatcher(t.clone())
            .lease(secs(35))
            .max_timeout(secs(30))
            .build()
            .is_err()
    );
    assert!(
        rig.dispatcher(t.clone())
            .lease(secs(36))
            .max_timeout(secs(30))
            .build()
            .is_ok()
    );
    assert_eq!(
        rig.dispatcher(t).concurrency(0).build().unwrap_err(),
        PlanError::Zero("concurrency")
    );
}

/// Always 200; counts sends per webhook-id.
#[derive(Debug, Default)]
struct Counting(Mutex<HashMap<String, u32>>);

#[async_trait]
impl Transport for Counting {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let id = request.headers()["webhook-id"].to_str().unwrap().to_owned();
        *self.0.lock().unwrap().entry(id).or_default() += 1;
        tokio::task::yield_now().await;
        Ok(http::Response::new(Vec::new()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_send_ten_thousand_jobs_exactly_once() {
    let rig = Rig::new();
    let mut ids = Vec::new();
    for n in 0..10_000 {
        let tenant_name = if n % 3 == 0 { "globex" } else { "acme" };
        ids.push(
            rig.enqueue(tenant_name, "status-update", "assistant:a1")
                .await
                .id,
        );
    }
    let transport = Arc::new(Counting::default());
    let shutdowns: Vec<Shutdown> = (0..2).map(|_| Shutdown::new()).collect();
    let mut runs = Vec::new();
    for (i, shutdown) in shutdowns.iter().enumerate() {
        let d = rig
            .dispatcher(transport.clone())
            .random(Arc::new(SeededRandom::new(i as u64 + 10)))
            .concurrency(8)
            .poll_interval(Duration::from_millis(1))
            .build()
            .unwrap();
        let shutdown = shutdown.clone();
        runs.push(tokio::spawn(async move {
            d.run(&shutdown, |d| tokio::time::sleep(d)).await
        }));
    }
    // Wait (bounded) until every job is delivered, then shut both down.
    for _ in 0..20_000 {
        if transport.0.lock().unwrap().len() == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    shutdowns.iter().for_each(Shutdown::trigger);
    let mut claimed = 0;
    for r in runs {
        let tick = r.await.unwrap();
        assert_eq!(tick.fenced + tick.store_errors, 0);
        assert!(tick.claimed > 0, "both dispatchers took part");
        claimed += tick.claimed;
    }
    assert_eq!(claimed, 10_000);
    {
        let counts = transport.0.lock().unwrap();
        assert_eq!(counts.len(), 10_000);
        assert!(
            counts.values().all(|&c| c == 1),
            "every job sent exactly once"
        );
    }
    let succeeded = rig
        .store
        .jobs(
            &Scope::AllTenants,
            &agent_webhooks::outbox::JobQuery::new()
                .status(JobStatus::Succeeded)
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(succeeded.items.len(), 1000);
    assert!(succeeded.next.is_some());
    for status in [JobStatus::Pending, JobStatus::InFlight, JobStatus::Failed] {
        let q = agent_webhooks::outbox::JobQuery::new().status(status);
        assert!(
            rig.store
                .jobs(&Scope::AllTenants, &q)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_what_it_claimed() {
    let store = Arc::new(MemoryStore::new());
    let clock = agent_webhooks::outbox::ManualClock::new(T0);
    let outbox = Outbox::new(store.clone()).with_clock(Arc::new(clock.clone()));
    for _ in 0..500 {
        let job = NewJob::new(
            tenant("acme"),
            "status-update",
            TargetRef::new("assistant:a1").unwrap(),
            b"{}".to_vec(),
        );
        outbox.enqueue(&scope("acme"), job).await.unwrap();
    }
    let transport = Arc::new(Counting::default());
    let targets = Arc::new(
        super::support::Targets::default()
            .with("assistant:a1", target("https://hooks.example.com/a1")),
    );
    let d = Dispatcher::builder(store.clone(), transport.clone(), targets)
        .clock(Arc::new(clock))
        .concurrency(4)
        .build()
        .unwrap();
    let shutdown = Shutdown::new();
    let run = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { d.run(&shutdown, |d| tokio::time::sleep(d)).await }
    });
    for _ in 0..10_000 {
        if transport.0.lock().unwrap().len() >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    shutdown.trigger();
    let tick = run.await.unwrap();
    assert!(tick.claimed >= 50);
    assert_eq!(
        tick.succeeded, tick.claimed,
        "every claimed job was finished"
    );
    let in_flight = store
        .jobs(
            &Scope::AllTenants,
            &agent_webhooks::outbox::JobQuery::new().status(JobStatus::InFlight),
        )
        .await
        .unwrap();
    assert!(in_flight.items.is_empty(), "nothing left claimed");
    let pending = store
        .jobs(
            &Scope::AllTenants,
            &agent_webhooks::outbox::JobQuery::new()
                .status(JobStatus::Pending)
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 500 - tick.claimed);
}

#[tokio::test]
async fn a_dispatcher_scoped_to_a_tenant_claims_only_its_jobs() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = rig
        .dispatcher(transport.clone())
        .scope(scope("globex"))
        .build()
        .unwrap();
    let a = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let g = rig.enqueue("globex", "status-update", "assistant:a1").await;
    assert_eq!(d.run_once().await.unwrap().succeeded, 1);
    assert_eq!(rig.job(&a.id).await.status, JobStatus::Pending);
    assert_eq!(rig.job(&g.id).await.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn cascade_targets_route_sign_and_retry_by_the_server_config() {
    use agent_webhooks::outbox::CascadeTargets;
    use agent_webhooks::{Cascade, TenantId};

    let rig = Rig::new();
    let routes = Arc::new(CascadeTargets::new());
    let cascade = Cascade::from_json(
        r#"{
          "assistant": {"server": {"url": "https://hooks.example.com/assistant", "timeoutSeconds": 9,
                                   "backoffPlan": {"type": "fixed", "maxRetries": 1, "baseDelaySeconds": 2}}},
          "phoneNumber": {"serverUrl": "https://hooks.example.com/phone", "serverUrlSecret": "s3cret"}
        }"#,
    )
    .unwrap();
    let acme = TenantId::new("acme").unwrap();
    let call = TargetRef::new("call:c1").unwrap();
    routes.insert(acme.clone(), call.clone(), cascade, Some(signer()));
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = Dispatcher::builder(rig.store.clone(), transport.clone(), routes.clone())
        .clock(Arc::new(rig.clock.clone()))
        .build()
        .unwrap();

    let status = rig.enqueue("acme", "status-update", "call:c1").await;
    let request = rig.enqueue("acme", "assistant-request", "call:c1").await;
    let muted = rig.enqueue("acme", "transcript", "call:c1").await;
    let stray = rig.enqueue("globex", "status-update", "call:c1").await;
    rig.drive(&d, &status.id, 10).await;

    // status-update: the assistant server, its timeout, its backoffPlan (1 retry after 2 s).
    let to_assistant: Vec<_> = transport
        .received()
        .into_iter()
        .filter(|r| r.uri == "https://hooks.example.com/assistant")
        .collect();
    assert_eq!(to_assistant.len(), 2);
    assert_eq!(
        to_assistant[1].at.duration_since(to_assistant[0].at),
        secs(2)
    );
    assert_eq!(to_assistant[0].timeout, secs(9));
    let at = to_assistant[0].at.as_unix_seconds();
    verifier()
        .verify_headers(&to_assistant[0].headers, &to_assistant[0].body, at)
        .unwrap();
    let attempts = rig.attempts(&status.id).await;
    assert_eq!(attempts[0].level.as_deref(), Some("assistant.server"));
    assert_eq!(rig.job(&status.id).await.status, JobStatus::Failed);

    // assistant-request: the phone number's legacy server with its shared secret, sensitive.
    let to_phone = transport
        .received()
        .into_iter()
        .find(|r| r.uri == "https://hooks.example.com/phone")
        .unwrap();
    assert_eq!(to_phone.header("x-vapi-secret"), "s3cret");
    assert!(to_phone.headers["x-vapi-secret"].is_sensitive());
    assert_eq!(
        rig.attempts(&request.id).await[0].level.as_deref(),
        Some("phoneNumber.serverUrl")
    );

    // Not subscribed, or no route for that tenant: skipped with the reason.
    for (job, reason) in [
        (&muted, "not in the assistant's serverMessages"),
        (&stray, "no cascade for `call:c1`"),
    ] {
        assert_eq!(rig.job(&job.id).await.status, JobStatus::Skipped);
        let a = rig.attempts(&job.id).await.remove(0);
        assert!(
            a.error.as_deref().unwrap().contains(reason),
            "{:?}",
            a.error
        );
    }
    assert!(routes.remove(&acme, &call));
    assert!(!format!("{routes:?}").contains("s3cret"));
}

#[tokio::test]
async fn cascade_targets_honour_the_final_transcript_subscription() {
    use agent_webhooks::outbox::{CascadeTargets, NewJob};
    use agent_webhooks::{Cascade, Envelope, TenantId};

    let rig = Rig::new();
    let routes = Arc::new(CascadeTargets::new());
    let cascade = Cascade::from_json(
        r#"{"assistant": {"server": {"url": "https://hooks.example.com/a"},
                          "serverMessages": ["transcript[transcriptType=\"final\"]"]}}"#,
    )
    .unwrap();
    let acme = TenantId::new("acme").unwrap();
    let call = TargetRef::new("call:c1").unwrap();
    routes.insert(acme.clone(), call.clone(), cascade, None);
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = Dispatcher::builder(rig.store.clone(), transport.clone(), routes)
        .clock(Arc::new(rig.clock.clone()))
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for kind in ["final", "partial"] {
        let body = format!(
            r#"{{"message":{{"type":"transcript","role":"user","transcriptType":"{kind}","transcript":"hi"}}}}"#
        );
        let envelope = Envelope::parse(body.as_bytes()).unwrap();
        let new = NewJob::from_envelope(acme.clone(), call.clone(), &envelope);
        jobs.push(rig.outbox.enqueue(&scope("acme"), new).await.unwrap().job);
    }
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&jobs[0].id).await.status, JobStatus::Succeeded);
    assert_eq!(rig.job(&jobs[1].id).await.status, JobStatus::Skipped);
    assert_eq!(transport.count(), 1);
    assert!(
        transport.received()[0]
            .body
            .windows(7)
            .any(|w| w == b"\"final\"")
    );
}

#[tokio::test]
async fn the_default_url_check_is_the_guard_policy() {
    let rig = Rig::new();
    rig.targets.set(
        "assistant:meta",
        target("http://169.254.169.254/latest/meta-data/"),
    );
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:meta").await;
    assert_eq!(d.run_once().await.unwrap().skipped, 1);
    assert_eq!(transport.count(), 0, "nothing is sent to a refused target");
    let attempt = rig.attempts(&job.id).await.remove(0);
    assert_eq!(attempt.status, AttemptStatus::Refused);
    assert!(
        attempt.error.as_deref().unwrap().contains("169.254.0.0/16"),
        "{:?}",
        attempt.error
    );
    // A replay is refused the same way, with the typed rejection.
    let err = d.replay(&scope("acme"), &attempt.id).await.unwrap_err();
    let outbox = err.as_outbox().unwrap();
    assert!(
        matches!(
            outbox,
            agent_webhooks::outbox::OutboxError::TargetRefused {
                rejection: Rejection::SpecialAddress { .. },
                ..
            }
        ),
        "{outbox:?}"
    );
    assert_eq!(transport.count(), 0);
}

#[tokio::test]
async fn response_bodies_are_capped_by_the_dispatcher_setting() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([
        Reply::Body(500, b"hello world".to_vec()),
        Reply::Body(200, b"ok".to_vec()),
    ]));
    let d = rig
        .dispatcher(transport.clone())
        .max_response_body(5)
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    rig.drive(&d, &job.id, 5).await;
    let attempts = rig.attempts(&job.id).await;
    let kept: Vec<(&str, bool)> = (attempts.iter())
        .map(|a| (a.response_body.as_str(), a.response_truncated))
        .collect();
    assert_eq!(kept, vec![("hello", true), ("ok", false)]);
    // 0 keeps no body at all.
    let none = rig
        .dispatcher(Arc::new(Scripted::new(
            &rig.clock,
            Reply::Body(200, b"x".to_vec()),
        )))
        .max_response_body(0)
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    rig.drive(&none, &job.id, 2).await;
    let a = &rig.attempts(&job.id).await[0];
    assert_eq!((a.response_body.as_str(), a.response_truncated), ("", true));
}
