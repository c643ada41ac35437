//! The `Store` conformance suite, written once against the trait.
//!
//! Every store runs it unchanged: `conformance_tests!(make_store)` in a module expands to one
//! test per case, where `make_store` is an expression (evaluated once per test, may `.await`)
//! that yields a fresh, empty `Arc<dyn Store>`. Cases use only the `Store` trait.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::Scope;
use agent_webhooks::outbox::{
    Attempt, AttemptId, AttemptQuery, AttemptStatus, Cursor, DisabledReason, Finish, Job, JobId,
    JobQuery, JobStatus, Next, OutboxError, PayloadState, Store, TargetEvent, TargetRef, Timestamp,
    Trigger,
};

use super::support::{T0, scope, tenant};

const LEASE: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(3600);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A pending job `n` of `tenant`, created (and due) at `at`.
pub fn job(n: u64, tenant_name: &str, at: Timestamp) -> Job {
    Job {
        id: JobId::generate(at, n),
        tenant: tenant(tenant_name),
        event_type: if n % 2 == 0 {
            "status-update"
        } else {
            "end-of-call-report"
        }
        .into(),
        call_id: Some(format!("call_{}", n % 3)),
        payload: Arc::from(format!(r#"{{"n":{n}}}"#).into_bytes()),
        target: TargetRef::new("assistant:a1").unwrap(),
        status: JobStatus::Pending,
        attempts: 0,
        step: 0,
        next_attempt_at: Some(at),
        created_at: at,
        updated_at: at,
        idempotency_key: None,
        payload_state: PayloadState::Kept,
    }
}

/// A scheduled attempt for a claimed job, ended at `at`.
pub fn attempt(job: &Job, n: u64, status: Option<u16>, at: Timestamp) -> Attempt {
    Attempt {
        id: AttemptId::generate(at, n),
        job_id: job.id.clone(),
        tenant: job.tenant.clone(),
        trigger: Trigger::Scheduled,
        url: Some("https://hooks.example.com/a1".into()),
        level: Some("assistant".into()),
        status: match status {
            Some(200..=299) => AttemptStatus::Succeeded,
            _ => AttemptStatus::Failed,
        },
        status_code: status,
        error: status.is_none().then(|| "timeout".into()),
        latency_ms: 12,
        event_type: job.event_type.clone(),
        number: job.attempts,
        next_attempt_at: None,
        response_body: "ok".into(),
        response_truncated: false,
        started_at: at,
        ended_at: at,
    }
}

async fn insert(store: &dyn Store, job: Job) -> Job {
    let s = Scope::tenant(job.tenant.clone());
    store.insert(&s, job, WINDOW).await.unwrap().job
}

pub async fn insert_and_get_under_scope(store: Arc<dyn Store>) {
    let a = insert(&*store, job(1, "acme", T0)).await;
    assert_eq!(a.status, JobStatus::Pending);
    assert_eq!(
        store.job(&scope("acme"), &a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.job(&Scope::AllTenants, &a.id).await.unwrap(),
        Some(a.clone())
    );
    // Another tenant's job is not found: no existence leak.
    assert_eq!(store.job(&scope("globex"), &a.id).await.unwrap(), None);
    // A write for a tenant outside the scope is refused.
    let err = store
        .insert(&scope("globex"), job(2, "acme", T0), WINDOW)
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::OutOfScope { .. }), "{err:?}");
    // Ids are unique.
    let err = store
        .insert(&scope("acme"), a.clone(), WINDOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::DuplicateJob(ref id) if *id == a.id),
        "{err:?}"
    );
}

pub async fn claim_takes_due_jobs_once_under_a_lease(store: Arc<dyn Store>) {
    let due = insert(&*store, job(1, "acme", T0)).await;
    let mut later = job(2, "acme", T0);
    later.next_attempt_at = Some(T0.saturating_add(secs(10)));
    let later = insert(&*store, later).await;

    let claimed = store
        .claim(&Scope::AllTenants, T0, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(c.job.id, due.id);
    assert_eq!(c.job.status, JobStatus::InFlight);
    assert_eq!((c.job.attempts, c.job.step), (1, 1));
    assert_eq!(c.lease.expires_at, T0.saturating_add(LEASE));
    // Claimed once while the lease holds; not before it is due.
    assert!(
        store
            .claim(&Scope::AllTenants, T0.saturating_add(secs(5)), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let at10 = store
        .claim(&Scope::AllTenants, T0.saturating_add(secs(10)), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        at10.iter().map(|c| c.job.id.clone()).collect::<Vec<_>>(),
        vec![later.id.clone()]
    );
    assert!(
        store
            .claim(&Scope::AllTenants, T0.saturating_add(secs(59)), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The limit holds, oldest due first.
    let mut more = Vec::new();
    for n in 3..6 {
        more.push(
            insert(&*store, job(n, "acme", T0.saturating_add(secs(n))))
                .await
                .id,
        );
    }
    let two = store
        .claim(&Scope::AllTenants, T0.saturating_add(secs(30)), LEASE, 2)
        .await
        .unwrap();
    assert_eq!(
        two.iter().map(|c| c.job.id.clone()).collect::<Vec<_>>(),
        more[..2].to_vec()
    );
}

pub async fn expired_lease_is_reclaimed_and_the_late_finisher_is_fenced_out(store: Arc<dyn Store>) {
    let j = insert(&*store, job(1, "acme", T0)).await;
    let first = store
        .claim(&Scope::AllTenants, T0, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    let t1 = T0.saturating_add(LEASE);
    let second = store
        .claim(&Scope::AllTenants, t1, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.job.id, j.id);
    assert!(second.lease.fence > first.lease.fence);
    assert_eq!(second.job.attempts, 2);

    let won = store
        .finish(
            &Scope::AllTenants,
            &second.lease,
            Finish::new(
                attempt(&second.job, 2, Some(200), t1),
                Next::Succeeded,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(won.job.status, JobStatus::Succeeded);
    let late = store
        .finish(
            &Scope::AllTenants,
            &first.lease,
            Finish::new(attempt(&first.job, 1, Some(500), t1), Next::Failed, None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(late, OutboxError::StaleLease { ref job, fence } if *job == j.id && fence == first.lease.fence),
        "{late:?}"
    );
    let now = store.job(&Scope::AllTenants, &j.id).await.unwrap().unwrap();
    assert_eq!(now.status, JobStatus::Succeeded);
    // The fenced finisher's attempt can still be recorded, without touching the job.
    store
        .append_attempt(&Scope::AllTenants, attempt(&first.job, 1, Some(500), t1))
        .await
        .unwrap();
    let attempts = store
        .attempts(&Scope::AllTenants, &AttemptQuery::new().job(j.id.clone()))
        .await
        .unwrap();
    assert_eq!(attempts.items.len(), 2);
    assert_eq!(
        store
            .job(&Scope::AllTenants, &j.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Succeeded
    );
}

pub async fn finish_records_attempt_and_state_atomically(store: Arc<dyn Store>) {
    let j = insert(&*store, job(1, "acme", T0)).await;
    let c = store
        .claim(&Scope::AllTenants, T0, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    let retry_at = T0.saturating_add(secs(5));
    let mut a = attempt(&c.job, 1, Some(503), T0);
    a.next_attempt_at = Some(retry_at);
    let f = store
        .finish(
            &Scope::AllTenants,
            &c.lease,
            Finish::new(a.clone(), Next::Retry(retry_at), None),
        )
        .await
        .unwrap();
    assert_eq!(f.job.status, JobStatus::Pending);
    assert_eq!(f.job.next_attempt_at, Some(retry_at));
    assert_eq!(
        store.attempt(&scope("acme"), &a.id).await.unwrap(),
        Some(a.clone())
    );
    // Finishing twice with the same lease is refused.
    let again = store
        .finish(
            &Scope::AllTenants,
            &c.lease,
            Finish::new(attempt(&c.job, 9, Some(200), T0), Next::Succeeded, None),
        )
        .await;
    assert!(
        matches!(again, Err(OutboxError::StaleLease { .. })),
        "{again:?}"
    );
    // Not due before its time; due at it.
    assert!(
        store
            .claim(&Scope::AllTenants, T0.saturating_add(secs(4)), LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let c2 = store
        .claim(&Scope::AllTenants, retry_at, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((c2.job.id.clone(), c2.job.attempts), (j.id.clone(), 2));
    let done = store
        .finish(
            &Scope::AllTenants,
            &c2.lease,
            Finish::new(
                attempt(&c2.job, 2, Some(204), retry_at),
                Next::Succeeded,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(done.job.status, JobStatus::Succeeded);
    assert_eq!(done.job.next_attempt_at, None);
    assert!(
        store
            .claim(
                &Scope::AllTenants,
                retry_at.saturating_add(secs(3600)),
                LEASE,
                1
            )
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn claim_and_finish_respect_scope(store: Arc<dyn Store>) {
    insert(&*store, job(1, "acme", T0)).await;
    let g = insert(&*store, job(2, "globex", T0)).await;
    let claimed = store.claim(&scope("globex"), T0, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job.id, g.id);
    // A finish under another tenant's scope does not see the job.
    let err = store
        .finish(
            &scope("acme"),
            &claimed[0].lease,
            Finish::new(
                attempt(&claimed[0].job, 1, Some(200), T0),
                Next::Succeeded,
                None,
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::NotFound { .. }), "{err:?}");
    let err = store
        .append_attempt(&scope("acme"), attempt(&g, 5, Some(200), T0))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::NotFound { .. }), "{err:?}");
    let a = attempt(&claimed[0].job, 1, Some(200), T0);
    store
        .finish(
            &scope("globex"),
            &claimed[0].lease,
            Finish::new(a.clone(), Next::Succeeded, None),
        )
        .await
        .unwrap();
    assert_eq!(store.attempt(&scope("acme"), &a.id).await.unwrap(), None);
    assert!(
        store
            .attempts(&scope("acme"), &AttemptQuery::new())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .attempts(&scope("globex"), &AttemptQuery::new())
            .await
            .unwrap()
            .items,
        vec![a]
    );
}

pub async fn requeue_moves_only_failed_or_skipped_jobs(store: Arc<dyn Store>) {
    let s = Scope::AllTenants;
    let j = insert(&*store, job(1, "acme", T0)).await;
    let err = store.requeue(&s, &j.id, T0).await.unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::NotRequeueable {
                status: JobStatus::Pending,
                ..
            }
        ),
        "{err:?}"
    );
    let c = store.claim(&s, T0, LEASE, 1).await.unwrap().remove(0);
    let err = store.requeue(&s, &j.id, T0).await.unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::NotRequeueable {
                status: JobStatus::InFlight,
                ..
            }
        ),
        "{err:?}"
    );
    store
        .finish(
            &s,
            &c.lease,
            Finish::new(attempt(&c.job, 1, Some(500), T0), Next::Failed, None),
        )
        .await
        .unwrap();
    // Another tenant cannot requeue it.
    let err = store
        .requeue(&scope("globex"), &j.id, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::NotFound { .. }), "{err:?}");
    let t1 = T0.saturating_add(secs(100));
    let back = store.requeue(&scope("acme"), &j.id, t1).await.unwrap();
    assert_eq!(back.status, JobStatus::Pending);
    assert_eq!((back.attempts, back.step), (1, 0));
    assert_eq!(back.next_attempt_at, Some(t1));
    let c = store.claim(&s, t1, LEASE, 1).await.unwrap().remove(0);
    assert_eq!((c.job.attempts, c.job.step), (2, 1));
    store
        .finish(
            &s,
            &c.lease,
            Finish::new(attempt(&c.job, 2, Some(200), t1), Next::Succeeded, None),
        )
        .await
        .unwrap();
    let err = store.requeue(&s, &j.id, t1).await.unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::NotRequeueable {
                status: JobStatus::Succeeded,
                ..
            }
        ),
        "{err:?}"
    );
    // Skipped jobs can be requeued too; history is kept.
    let k = insert(&*store, job(2, "acme", t1)).await;
    let c = store.claim(&s, t1, LEASE, 1).await.unwrap().remove(0);
    store
        .finish(
            &s,
            &c.lease,
            Finish::new(attempt(&c.job, 3, None, t1), Next::Skipped, None),
        )
        .await
        .unwrap();
    assert_eq!(
        store.requeue(&s, &k.id, t1).await.unwrap().status,
        JobStatus::Pending
    );
    assert_eq!(
        store
            .attempts(&s, &AttemptQuery::new().job(j.id.clone()))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

pub async fn idempotency_key_returns_the_first_job_within_the_window(store: Arc<dyn Store>) {
    let keyed = |n, tenant_name: &str, at: Timestamp, body: &str| {
        let mut j = job(n, tenant_name, at);
        j.payload = Arc::from(body.as_bytes());
        j.idempotency_key = Some("call_1:eocr".into());
        j.call_id = Some("call_1".into());
        j.event_type = "end-of-call-report".into();
        j
    };
    let first = store
        .insert(&scope("acme"), keyed(1, "acme", T0, "{}"), WINDOW)
        .await
        .unwrap();
    assert!(first.created);
    let again = store
        .insert(
            &scope("acme"),
            keyed(2, "acme", T0.saturating_add(secs(10)), "{}"),
            WINDOW,
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.job.id, first.job.id);
    let err = store
        .insert(
            &scope("acme"),
            keyed(3, "acme", T0.saturating_add(secs(10)), "{\"x\":1}"),
            WINDOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::IdempotencyConflict { ref existing, .. } if *existing == first.job.id),
        "{err:?}"
    );
    // Per tenant: the same key elsewhere is a new job.
    let other = store
        .insert(&scope("globex"), keyed(4, "globex", T0, "{}"), WINDOW)
        .await
        .unwrap();
    assert!(other.created);
    // After the window: a new job.
    let later = store
        .insert(
            &scope("acme"),
            keyed(5, "acme", T0.saturating_add(WINDOW), "{}"),
            WINDOW,
        )
        .await
        .unwrap();
    assert!(later.created);
    assert_ne!(later.job.id, first.job.id);
    let all = store
        .jobs(&Scope::AllTenants, &JobQuery::new())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
}

pub async fn listing_filters_and_pages_newest_first(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for n in 0..30u64 {
        let tenant_name = if n % 5 == 4 { "globex" } else { "acme" };
        ids.push((
            n,
            insert(&*store, job(n, tenant_name, T0.saturating_add(secs(n)))).await,
        ));
    }
    let acme: Vec<&Job> = ids
        .iter()
        .filter(|(n, _)| n % 5 != 4)
        .map(|(_, j)| j)
        .rev()
        .collect();
    // Every filter, checked against the same filter applied by hand.
    let queries = [
        JobQuery::new(),
        JobQuery::new().status(JobStatus::Pending),
        JobQuery::new().status(JobStatus::Failed),
        JobQuery::new().event_type("status-update"),
        JobQuery::new().call_id("call_1"),
        JobQuery::new().created_between(T0.saturating_add(secs(5)), T0.saturating_add(secs(12))),
        JobQuery::new()
            .event_type("end-of-call-report")
            .call_id("call_2"),
    ];
    for q in queries {
        let want: Vec<JobId> = acme
            .iter()
            .filter(|j| q.matches(j))
            .map(|j| j.id.clone())
            .collect();
        let mut got = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let page = store
                .jobs(&scope("acme"), &q.clone().cursor(cursor).limit(4))
                .await
                .unwrap();
            assert!(page.items.len() <= 4);
            got.extend(page.items.iter().map(|j| j.id.clone()));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(got, want, "{q:?}");
    }
    let err = store
        .jobs(
            &Scope::AllTenants,
            &JobQuery::new().cursor(Some(Cursor::new("bogus"))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::Invalid { what: "cursor", .. }),
        "{err:?}"
    );
    assert_eq!(
        store
            .jobs(&Scope::AllTenants, &JobQuery::new().limit(0))
            .await
            .unwrap()
            .items
            .len(),
        30
    );
}

pub async fn pagination_is_stable_under_concurrent_inserts(store: Arc<dyn Store>) {
    for n in 0..20u64 {
        insert(&*store, job(n, "acme", T0)).await;
    }
    let before: Vec<JobId> = store
        .jobs(&Scope::AllTenants, &JobQuery::new().limit(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|j| j.id)
        .collect();
    let mut got = Vec::new();
    let mut cursor = None;
    let mut n = 100;
    loop {
        let page = store
            .jobs(&scope("acme"), &JobQuery::new().cursor(cursor).limit(3))
            .await
            .unwrap();
        got.extend(page.items.into_iter().map(|j| j.id));
        // Inserts land between pages.
        for _ in 0..2 {
            insert(&*store, job(n, "acme", T0)).await;
            n += 1;
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(got, before);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 20);
}

/// A cursor names the last item shown, never a row number that counts every tenant's jobs;
/// another tenant's cursor, or one naming no item, leaves nothing after it; a cursor of the
/// other listing is refused.
pub async fn cursors_name_items_and_stay_in_their_scope(store: Arc<dyn Store>) {
    insert(&*store, job(1, "acme", T0)).await;
    for n in 2..40u64 {
        insert(&*store, job(n, "globex", T0)).await;
    }
    insert(&*store, job(40, "acme", T0)).await;
    let acme_jobs = JobQuery::new().limit(1);
    let page = store.jobs(&scope("acme"), &acme_jobs).await.unwrap();
    let cursor = page.next.clone().expect("a second page");
    // What globex did in between is not in acme's cursor.
    assert!(
        cursor.as_str().contains(page.items[0].id.as_str()),
        "{cursor:?}"
    );
    assert!(!cursor.as_str().contains("40"), "{cursor:?}");
    let next = store
        .jobs(
            &scope("acme"),
            &acme_jobs.clone().cursor(Some(cursor.clone())),
        )
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
    assert_eq!(next.items[0].id, JobId::generate(T0, 1));
    // In globex's scope acme's job is no position at all.
    let foreign = store
        .jobs(
            &scope("globex"),
            &JobQuery::new().cursor(Some(cursor.clone())),
        )
        .await
        .unwrap();
    assert!(foreign.items.is_empty(), "{:?}", foreign.items);
    let unknown = Cursor::new(format!("j{}", JobId::generate(T0, 999)));
    let none = store
        .jobs(&Scope::AllTenants, &JobQuery::new().cursor(Some(unknown)))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    // A job cursor is not an attempt cursor.
    let err = store
        .attempts(&scope("acme"), &AttemptQuery::new().cursor(Some(cursor)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::Invalid { what: "cursor", .. }),
        "{err:?}"
    );
}

pub async fn attempts_filter_by_job_status_trigger_and_time(store: Arc<dyn Store>) {
    let s = Scope::AllTenants;
    let mut all = Vec::new();
    for n in 0..6u64 {
        insert(&*store, job(n, "acme", T0)).await;
    }
    let mut t = T0;
    for round in 0..3u64 {
        for c in store.claim(&s, t, LEASE, 10).await.unwrap() {
            let status = if round == 2 {
                Some(200)
            } else if c.job.attempts % 2 == 0 {
                None
            } else {
                Some(500)
            };
            let a = attempt(
                &c.job,
                round * 10 + c.job.attempts as u64 + 100 * (all.len() as u64),
                status,
                t,
            );
            let next = if round == 2 {
                Next::Succeeded
            } else {
                Next::Retry(t.saturating_add(secs(10)))
            };
            store
                .finish(&s, &c.lease, Finish::new(a.clone(), next, None))
                .await
                .unwrap();
            all.push(a);
        }
        t = t.saturating_add(secs(10));
    }
    assert_eq!(all.len(), 18);
    let one_job = all[0].job_id.clone();
    let queries = [
        AttemptQuery::new(),
        AttemptQuery::new().job(one_job),
        AttemptQuery::new().status(AttemptStatus::Succeeded),
        AttemptQuery::new().status(AttemptStatus::Failed),
        AttemptQuery::new().trigger(Trigger::Manual),
        AttemptQuery::new().event_type("status-update"),
        AttemptQuery::new()
            .started_between(T0.saturating_add(secs(10)), T0.saturating_add(secs(20))),
        AttemptQuery::new().url("https://hooks.example.com/a1"),
    ];
    for q in queries {
        let want: Vec<&AttemptId> = all
            .iter()
            .rev()
            .filter(|a| q.matches(a))
            .map(|a| &a.id)
            .collect();
        let mut got = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let page = store
                .attempts(&scope("acme"), &q.clone().cursor(cursor).limit(5))
                .await
                .unwrap();
            got.extend(page.items.into_iter().map(|a| a.id));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{q:?}");
    }
}

pub async fn recover_requeues_failed_jobs_in_the_window(store: Arc<dyn Store>) {
    let s = Scope::AllTenants;
    let mut failed = Vec::new();
    for n in 0..8u64 {
        let tenant_name = if n == 7 { "globex" } else { "acme" };
        let at = T0.saturating_add(secs(n * 60));
        insert(&*store, job(n, tenant_name, at)).await;
        let c = store.claim(&s, at, LEASE, 1).await.unwrap().remove(0);
        let next = if n == 3 {
            Next::Succeeded
        } else {
            Next::Failed
        };
        store
            .finish(
                &s,
                &c.lease,
                Finish::new(attempt(&c.job, n, Some(500), at), next, None),
            )
            .await
            .unwrap();
        failed.push(c.job.id);
    }
    let now = T0.saturating_add(secs(3600));
    // Window [60 s, 360 s): jobs 1..=5 of acme, 3 succeeded: 1, 2, 4, 5.
    let r = store
        .recover(
            &scope("acme"),
            T0.saturating_add(secs(60)),
            T0.saturating_add(secs(360)),
            now,
            3,
        )
        .await
        .unwrap();
    assert_eq!(
        r.requeued,
        vec![failed[1].clone(), failed[2].clone(), failed[4].clone()]
    );
    assert!(r.capped);
    let r = store
        .recover(
            &scope("acme"),
            T0.saturating_add(secs(60)),
            T0.saturating_add(secs(360)),
            now,
            3,
        )
        .await
        .unwrap();
    assert_eq!(r.requeued, vec![failed[5].clone()]);
    assert!(!r.capped);
    for id in [&failed[1], &failed[2], &failed[4], &failed[5]] {
        let j = store.job(&s, id).await.unwrap().unwrap();
        assert_eq!(
            (j.status, j.next_attempt_at),
            (JobStatus::Pending, Some(now))
        );
    }
    assert_eq!(
        store.job(&s, &failed[0]).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    assert_eq!(
        store.job(&s, &failed[7]).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
}

pub async fn target_health_gone_exhausted_delivered(store: Arc<dyn Store>) {
    let s = Scope::AllTenants;
    let acme = tenant("acme");
    let url = "https://hooks.example.com/a1";
    let finish_with = |event: TargetEvent, n: u64, at: Timestamp| {
        let store = store.clone();
        async move {
            insert(&*store, job(n, "acme", at)).await;
            let c = store
                .claim(&Scope::AllTenants, at, LEASE, 1)
                .await
                .unwrap()
                .remove(0);
            store
                .finish(
                    &Scope::AllTenants,
                    &c.lease,
                    Finish::new(attempt(&c.job, n, Some(500), at), Next::Failed, Some(event)),
                )
                .await
                .unwrap()
        }
    };
    let period = secs(120 * 3600);
    let exhausted = || TargetEvent::Exhausted {
        url: url.into(),
        disable_after: period,
    };
    assert_eq!(store.target(&s, &acme, url).await.unwrap(), None);
    let f = finish_with(exhausted(), 1, T0).await;
    assert!(f.disabled_target.is_none());
    assert_eq!(
        store
            .target(&s, &acme, url)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        Some(T0)
    );
    // A success clears the run of failures.
    let f = finish_with(
        TargetEvent::Delivered { url: url.into() },
        2,
        T0.saturating_add(secs(60 * 3600)),
    )
    .await;
    assert!(f.disabled_target.is_none());
    assert_eq!(
        store
            .target(&s, &acme, url)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );
    let t1 = T0.saturating_add(secs(61 * 3600));
    finish_with(exhausted(), 3, t1).await;
    let t2 = t1.saturating_add(secs(121 * 3600));
    let f = finish_with(exhausted(), 4, t2).await;
    let state = f.disabled_target.expect("disabled after 121 h of failures");
    assert_eq!(state.disabled, Some((DisabledReason::Failing, t2)));
    assert_eq!(state.failing_since, Some(t1));
    // Scoped: another tenant sees nothing, cannot enable.
    assert_eq!(
        store.target(&scope("globex"), &acme, url).await.unwrap(),
        None
    );
    assert!(matches!(
        store.enable_target(&scope("globex"), &acme, url).await,
        Err(OutboxError::NotFound { .. })
    ));
    store
        .enable_target(&scope("acme"), &acme, url)
        .await
        .unwrap();
    assert!(
        !store
            .target(&s, &acme, url)
            .await
            .unwrap()
            .unwrap()
            .is_disabled()
    );
    // 410 disables at once.
    let f = finish_with(TargetEvent::Gone { url: url.into() }, 5, t2).await;
    assert_eq!(
        f.disabled_target.unwrap().disabled,
        Some((DisabledReason::Gone, t2))
    );
    // A failure run with nothing for twice the period lapses.
    store.enable_target(&s, &acme, url).await.unwrap();
    finish_with(exhausted(), 6, t2).await;
    let t3 = t2.saturating_add(secs(241 * 3600));
    let f = finish_with(exhausted(), 7, t3).await;
    assert!(f.disabled_target.is_none());
    assert_eq!(
        store
            .target(&s, &acme, url)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        Some(t3)
    );
}

/// A claim reports exactly the claimed job's tenant's disabled targets (every store of this
/// crate does; a store may leave it to the dispatcher's `target()` read): a target another
/// dispatcher disabled is refused without that read, and another tenant's is not listed.
pub async fn claim_reports_the_tenants_disabled_targets(store: Arc<dyn Store>) {
    let gone = "https://hooks.example.com/gone";
    let failing = "https://hooks.example.com/failing";
    // acme: one target gone (410), one failing but not disabled.
    for (n, event) in [
        (1, TargetEvent::Gone { url: gone.into() }),
        (
            2,
            TargetEvent::Exhausted {
                url: failing.into(),
                disable_after: secs(3600),
            },
        ),
    ] {
        insert(&*store, job(n, "acme", T0)).await;
        let c = store
            .claim(&Scope::AllTenants, T0, LEASE, 1)
            .await
            .unwrap()
            .remove(0);
        let a = attempt(&c.job, n, Some(410), T0);
        store
            .finish(
                &Scope::AllTenants,
                &c.lease,
                Finish::new(a, Next::Failed, Some(event)),
            )
            .await
            .unwrap();
    }
    let t1 = T0.saturating_add(secs(1));
    insert(&*store, job(3, "acme", t1)).await;
    insert(&*store, job(4, "globex", t1)).await;
    insert(&*store, job(5, "acme", t1)).await;
    let claimed = store
        .claim(&Scope::AllTenants, t1, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    for c in &claimed {
        let urls = (c.disabled_targets.as_ref())
            .expect("the stores of this crate report target health with the claim");
        let expected: &[&str] = if c.job.tenant == tenant("acme") {
            &[gone]
        } else {
            &[]
        };
        assert_eq!(&urls[..], expected, "job of {}", c.job.tenant);
    }
    // Enabled again: the next claim no longer lists it.
    store
        .enable_target(&scope("acme"), &tenant("acme"), gone)
        .await
        .unwrap();
    insert(&*store, job(6, "acme", t1)).await;
    let c = store
        .claim(&scope("acme"), t1, LEASE, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.disabled_targets.as_deref(), Some(&[][..]));
}

/// Inserts that arrive together (batched or grouped by the store, or not) each get their own
/// answer: a taken id fails only its own insert, and every job is stored once. 300 jobs of
/// two tenants plus 50 repeated ids; job 0 was stored before.
pub async fn concurrent_inserts_each_get_their_own_answer(store: Arc<dyn Store>) {
    insert(&*store, job(0, "acme", T0)).await;
    let mut tasks = Vec::new();
    for n in (0..300u64).chain(0..50) {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let j = job(n, if n % 2 == 0 { "acme" } else { "globex" }, T0);
            (n, store.insert(&Scope::AllTenants, j, WINDOW).await)
        }));
    }
    let (mut stored, mut duplicates) = (HashSet::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            (n, Ok(inserted)) => {
                assert_eq!(inserted.job.id, job(n, "acme", T0).id);
                assert!(stored.insert(n), "job {n} stored twice");
            }
            (n, Err(OutboxError::DuplicateJob(id))) => {
                assert_eq!(id, job(n, "acme", T0).id);
                duplicates += 1;
            }
            (n, Err(e)) => panic!("job {n}: {e:?}"),
        }
    }
    assert_eq!((stored.len(), duplicates), (299, 51));
    assert!(!stored.contains(&0));
    let listed = store
        .jobs(&Scope::AllTenants, &JobQuery::new().limit(1000))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 300);
}

pub async fn concurrent_claims_never_share_a_job(store: Arc<dyn Store>) {
    for n in 0..2000u64 {
        insert(
            &*store,
            job(n, if n % 2 == 0 { "acme" } else { "globex" }, T0),
        )
        .await;
    }
    let mut tasks = Vec::new();
    for task in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut n = task << 32;
            loop {
                let claimed = store.claim(&Scope::AllTenants, T0, LEASE, 7).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for c in claimed {
                    n += 1;
                    let a = attempt(&c.job, n, Some(200), T0);
                    store
                        .finish(
                            &Scope::AllTenants,
                            &c.lease,
                            Finish::new(a, Next::Succeeded, None),
                        )
                        .await
                        .unwrap();
                    mine.push(c.job.id);
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "a job was claimed twice");
        }
    }
    assert_eq!(seen.len(), 2000);
}

/// A live exchange's record: a final job with its attempts in one step, never claimed, listed
/// and filtered by trigger, in its tenant only.
pub async fn record_stores_a_final_job_with_its_attempts(store: Arc<dyn Store>) {
    let acme = scope("acme");
    let mut live = job(1, "acme", T0);
    live.status = JobStatus::Failed;
    live.next_attempt_at = None;
    live.attempts = 2;
    live.step = 2;
    let tries: Vec<Attempt> = (1..=2)
        .map(|n| {
            let mut a = attempt(&live, 100 + n, Some(503), T0);
            a.trigger = Trigger::Live;
            a.number = u32::try_from(n).unwrap();
            a.error = Some("http_status: the server answered 503".into());
            a
        })
        .collect();
    store
        .record(&acme, live.clone(), tries.clone())
        .await
        .unwrap();
    assert_eq!(
        store.job(&acme, &live.id).await.unwrap(),
        Some(live.clone())
    );
    assert!(
        store
            .claim(&Scope::AllTenants, T0.saturating_add(secs(3600)), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "a recorded job is never due"
    );
    let listed = store
        .attempts(&acme, &AttemptQuery::new().trigger(Trigger::Live))
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|a| a.trigger == Trigger::Live && a.job_id == live.id)
    );
    let scheduled = store
        .attempts(&acme, &AttemptQuery::new().trigger(Trigger::Scheduled))
        .await
        .unwrap()
        .items;
    assert!(scheduled.is_empty());
    // Another tenant sees nothing and cannot write into acme.
    let globex = scope("globex");
    assert_eq!(store.job(&globex, &live.id).await.unwrap(), None);
    assert!(
        store
            .attempts(&globex, &AttemptQuery::new())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let mut other = job(2, "acme", T0);
    other.status = JobStatus::Succeeded;
    assert!(matches!(
        store.record(&globex, other.clone(), Vec::new()).await,
        Err(OutboxError::OutOfScope { .. })
    ));
    // Not final, or a duplicate: refused, nothing written.
    let mut pending = job(3, "acme", T0);
    pending.status = JobStatus::Pending;
    assert!(matches!(
        store.record(&acme, pending.clone(), Vec::new()).await,
        Err(OutboxError::Invalid { .. })
    ));
    assert_eq!(store.job(&acme, &pending.id).await.unwrap(), None);
    assert!(matches!(
        store.record(&acme, live.clone(), Vec::new()).await,
        Err(OutboxError::DuplicateJob(_))
    ));
}

/// One test per conformance case for the store made by `$make` (an expression, may `.await`).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@cases $make;
            insert_and_get_under_scope,
            claim_takes_due_jobs_once_under_a_lease,
            expired_lease_is_reclaimed_and_the_late_finisher_is_fenced_out,
            finish_records_attempt_and_state_atomically,
            claim_and_finish_respect_scope,
            requeue_moves_only_failed_or_skipped_jobs,
            idempotency_key_returns_the_first_job_within_the_window,
            listing_filters_and_pages_newest_first,
            pagination_is_stable_under_concurrent_inserts,
            cursors_name_items_and_stay_in_their_scope,
            attempts_filter_by_job_status_trigger_and_time,
            recover_requeues_failed_jobs_in_the_window,
            target_health_gone_exhausted_delivered,
            claim_reports_the_tenants_disabled_targets,
            record_stores_a_final_job_with_its_attempts,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_claims_never_share_a_job() {
            $crate::outbox::conformance::concurrent_claims_never_share_a_job($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_inserts_each_get_their_own_answer() {
            $crate::outbox::conformance::concurrent_inserts_each_get_their_own_answer($make)
                .await;
        }
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::outbox::conformance::$case($make).await;
            }
        )+
    };
}
