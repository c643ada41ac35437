//! Operator operations: replay, requeue, recover, idempotent enqueue.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::outbox::{
    AttemptId, AttemptStatus, Clock, JobStatus, NewJob, OutboxError, RetryPlan, TargetRef, Trigger,
};
use agent_webhooks::{ErrorKind, Scope};

use super::support::{FakeSigner, Reply, Rig, Scripted, T0, scope, target, tenant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn outbox_error(e: &agent_webhooks::Error) -> &OutboxError {
    assert_eq!(e.kind(), ErrorKind::Outbox, "{e}");
    e.as_outbox().unwrap()
}

#[tokio::test]
async fn replay_sends_to_the_current_target_as_a_new_manual_attempt() {
    let rig = Rig::new();
    rig.targets.set(
        "assistant:a1",
        target("https://hooks.example.com/a1").signer(Arc::new(FakeSigner)),
    );
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = rig
        .dispatcher(transport.clone())
        .plan(RetryPlan::none())
        .build()
        .unwrap();
    let job = rig
        .enqueue("acme", "end-of-call-report", "assistant:a1")
        .await;
    d.run_once().await.unwrap();
    let original = rig.attempts(&job.id).await.remove(0);
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Failed);

    // The server URL changed since: the replay goes to the new one.
    rig.targets.set(
        "assistant:a1",
        target("https://new.example.com/hook").signer(Arc::new(FakeSigner)),
    );
    rig.clock.advance(secs(3600));
    let replayed = d.replay(&scope("acme"), &original.id).await.unwrap();
    assert_eq!(replayed.trigger, Trigger::Manual);
    assert_eq!(replayed.number, 0);
    assert_eq!(
        replayed.next_attempt_at, None,
        "a manual attempt is never rescheduled"
    );
    assert_eq!(
        replayed.url.as_deref(),
        Some("https://new.example.com/hook")
    );
    assert_eq!(replayed.status_code, Some(500));
    let sent = transport.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].header("webhook-id"), job.id.as_str());
    assert_ne!(
        sent[1].header("webhook-timestamp"),
        sent[0].header("webhook-timestamp")
    );
    assert_ne!(
        sent[1].header("webhook-signature"),
        sent[0].header("webhook-signature")
    );
    assert_eq!(sent[1].body, sent[0].body);

    // The original attempt and the job are unchanged; nothing is scheduled.
    let attempts = rig.attempts(&job.id).await;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0], original);
    assert_eq!(attempts[1], replayed);
    let after = rig.job(&job.id).await;
    assert_eq!(
        (after.status, after.attempts, after.next_attempt_at),
        (JobStatus::Failed, 1, None)
    );
    rig.clock.advance(secs(24 * 3600));
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn replay_is_scoped_and_refuses_a_disabled_target() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(410)));
    let d = rig.dispatcher(transport.clone()).build().unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    let original = rig.attempts(&job.id).await.remove(0);

    let err = d.replay(&scope("globex"), &original.id).await.unwrap_err();
    assert!(
        matches!(
            outbox_error(&err),
            OutboxError::NotFound {
                what: "attempt",
                ..
            }
        ),
        "{err}"
    );
    let missing = AttemptId::new("atmpt_nope").unwrap();
    assert!(matches!(
        outbox_error(&d.replay(&Scope::AllTenants, &missing).await.unwrap_err()),
        OutboxError::NotFound { .. }
    ));

    // 410 disabled the target: replay is refused, and the refusal is recorded.
    let err = d.replay(&scope("acme"), &original.id).await.unwrap_err();
    assert!(
        matches!(outbox_error(&err), OutboxError::TargetDisabled { url } if url == "https://hooks.example.com/a1"),
        "{err}"
    );
    assert_eq!(transport.count(), 1);
    let attempts = rig.attempts(&job.id).await;
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[1].status, attempts[1].trigger),
        (AttemptStatus::Refused, Trigger::Manual)
    );
}

#[tokio::test]
async fn requeue_rules() {
    let rig = Rig::new();
    let transport =
        Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([Reply::Status(500)]));
    let d = rig
        .dispatcher(transport.clone())
        .plan(RetryPlan::none())
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let acme = scope("acme");

    let pending = rig.outbox.requeue(&acme, &job.id).await.unwrap_err();
    assert!(matches!(
        outbox_error(&pending),
        OutboxError::NotRequeueable {
            status: JobStatus::Pending,
            ..
        }
    ));
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Failed);

    let hidden = rig
        .outbox
        .requeue(&scope("globex"), &job.id)
        .await
        .unwrap_err();
    assert!(
        matches!(outbox_error(&hidden), OutboxError::NotFound { .. }),
        "no existence leak"
    );

    rig.clock.advance(secs(60));
    let back = rig.outbox.requeue(&acme, &job.id).await.unwrap();
    assert_eq!(
        (back.status, back.next_attempt_at),
        (JobStatus::Pending, Some(rig.clock.now()))
    );
    d.run_once().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(
        rig.attempts(&job.id).await.len(),
        2,
        "history kept, new attempt appended"
    );

    let err = rig.outbox.requeue(&acme, &job.id).await.unwrap_err();
    assert!(matches!(
        outbox_error(&err),
        OutboxError::NotRequeueable {
            status: JobStatus::Succeeded,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("only failed or skipped jobs can be requeued"),
        "{err}"
    );
}

#[tokio::test]
async fn recover_requeues_failed_jobs_in_a_bounded_window() {
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
    let d = rig
        .dispatcher(transport.clone())
        .plan(RetryPlan::none())
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(
            rig.enqueue("acme", "status-update", "assistant:a1")
                .await
                .id,
        );
        d.run_once().await.unwrap();
        rig.clock.advance(secs(3600));
    }
    let acme = scope("acme");
    let err = rig
        .outbox
        .recover(&acme, T0, T0.saturating_add(secs(15 * 24 * 3600)))
        .await
        .unwrap_err();
    assert!(
        matches!(outbox_error(&err), OutboxError::InvalidWindow { .. }),
        "{err}"
    );
    let err = rig.outbox.recover(&acme, T0, T0).await.unwrap_err();
    assert!(
        matches!(outbox_error(&err), OutboxError::InvalidWindow { .. }),
        "{err}"
    );

    let r = rig
        .outbox
        .recover(
            &acme,
            T0.saturating_add(secs(3600)),
            T0.saturating_add(secs(3 * 3600)),
        )
        .await
        .unwrap();
    assert_eq!(r.requeued, jobs[1..].to_vec());
    assert!(!r.capped);
    assert_eq!(
        rig.outbox
            .recover(&scope("globex"), T0, T0.saturating_add(secs(7200)))
            .await
            .unwrap()
            .requeued,
        vec![]
    );
    let tick = d.run_once().await.unwrap();
    assert_eq!(tick.claimed, 2);
    assert_eq!(rig.job(&jobs[0]).await.status, JobStatus::Failed);
}

#[tokio::test]
async fn idempotent_enqueue_per_tenant() {
    let rig = Rig::new();
    let new = |t: &str, body: &str| {
        NewJob::new(
            tenant(t),
            "end-of-call-report",
            TargetRef::new("assistant:a1").unwrap(),
            body.as_bytes().to_vec(),
        )
        .call_id("call_1")
        .idempotency_key("call_1:eocr")
    };
    let first = rig
        .outbox
        .enqueue(&scope("acme"), new("acme", "{}"))
        .await
        .unwrap();
    assert!(first.created);
    rig.clock.advance(secs(60));
    let again = rig
        .outbox
        .enqueue(&scope("acme"), new("acme", "{}"))
        .await
        .unwrap();
    assert_eq!((again.created, &again.job.id), (false, &first.job.id));
    let err = rig
        .outbox
        .enqueue(&scope("acme"), new("acme", "{\"changed\":true}"))
        .await
        .unwrap_err();
    assert!(
        matches!(outbox_error(&err), OutboxError::IdempotencyConflict { existing, .. } if *existing == first.job.id),
        "{err}"
    );
    assert!(
        rig.outbox
            .enqueue(&scope("globex"), new("globex", "{}"))
            .await
            .unwrap()
            .created
    );
    rig.clock.advance(secs(24 * 3600));
    assert!(
        rig.outbox
            .enqueue(&scope("acme"), new("acme", "{}"))
            .await
            .unwrap()
            .created
    );
}

#[tokio::test]
async fn enqueue_checks_its_input_and_scope() {
    let rig = Rig::new();
    let target_ref = TargetRef::new("assistant:a1").unwrap();
    let bad = [
        NewJob::new(tenant("acme"), "", target_ref.clone(), b"{}".to_vec()),
        NewJob::new(
            tenant("acme"),
            "x".repeat(129),
            target_ref.clone(),
            b"{}".to_vec(),
        ),
        NewJob::new(tenant("acme"), "a\nb", target_ref.clone(), b"{}".to_vec()),
        NewJob::new(tenant("acme"), "ok", target_ref.clone(), b"{}".to_vec()).call_id(""),
        NewJob::new(tenant("acme"), "ok", target_ref.clone(), b"{}".to_vec())
            .idempotency_key("k\r"),
    ];
    for job in bad {
        let err = rig
            .outbox
            .enqueue(&scope("acme"), job.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(outbox_error(&err), OutboxError::Invalid { .. }),
            "{job:?}: {err}"
        );
    }
    let err = rig
        .outbox
        .enqueue(
            &scope("globex"),
            NewJob::new(tenant("acme"), "ok", target_ref, b"{}".to_vec()),
        )
        .await
        .unwrap_err();
    assert!(matches!(outbox_error(&err), OutboxError::OutOfScope { .. }));
    assert!(TargetRef::new("").is_err());
    assert!(TargetRef::new("a\u{7}").is_err());
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<agent_webhooks::outbox::Dispatcher>();
    check::<agent_webhooks::outbox::Outbox>();
    check::<agent_webhooks::outbox::MemoryStore>();
    check::<Arc<dyn agent_webhooks::outbox::Store>>();
    check::<OutboxError>();
}
