//! The data lifecycle conformance cases (retention, payload expiry, privacy modes, erasure,
//! purging while dispatchers work), written once against the `Store` trait like
//! `conformance.rs`: `lifecycle_conformance_tests!(make_store)` expands to one test per case.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::Scope;
use agent_webhooks::outbox::{
    AttemptQuery, DataPolicies, DataPolicy, Erase, Finish, Job, JobQuery, JobStatus, Lifecycle,
    ManualClock, Next, OutboxError, PayloadState, PrivacyMode, Purge, Retention, Store,
    TargetEvent, Timestamp,
};

use super::conformance::{attempt, job};
use super::support::{T0, scope, tenant};

const LEASE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn at(secs: u64) -> Timestamp {
    T0.saturating_add(Duration::from_secs(secs))
}

async fn insert(store: &dyn Store, job: Job) -> Job {
    let s = Scope::tenant(job.tenant.clone());
    store.insert(&s, job, Duration::ZERO).await.unwrap().job
}

/// Inserts a job with `payload` and `call`, claims it and finishes it with `next` at `end`
/// (one attempt with response body `ok`); answers the finished job.
async fn finished(
    store: &dyn Store,
    n: u64,
    tenant_name: &str,
    payload: &str,
    next: Next,
    end: Timestamp,
) -> Job {
    let mut j = job(n, tenant_name, end);
    j.payload = Arc::from(payload.as_bytes());
    let j = insert(store, j).await;
    let s = Scope::tenant(j.tenant.clone());
    let claimed = store.claim(&s, end, LEASE, 100).await.unwrap();
    let c = claimed.into_iter().find(|c| c.job.id == j.id).unwrap();
    let status = if next == Next::Succeeded { 200 } else { 500 };
    let a = attempt(&c.job, n, Some(status), end);
    store
        .finish(&s, &c.lease, Finish::new(a, next, None))
        .await
        .unwrap()
        .job
}

async fn get(store: &dyn Store, j: &Job) -> Option<Job> {
    store.job(&Scope::AllTenants, &j.id).await.unwrap()
}

async fn attempts_of(store: &dyn Store, j: &Job) -> Vec<agent_webhooks::outbox::Attempt> {
    let q = AttemptQuery::new().job(j.id.clone()).limit(100);
    store.attempts(&Scope::AllTenants, &q).await.unwrap().items
}

const EOCR: &str = r#"{"message":{"type":"end-of-call-report","artifact":{"transcript":"AI: hi","recordingUrl":"https://rec/1","messages":[{"role":"user"}]},"call":{"id":"call_1"}}}"#;

fn lifecycle(store: Arc<dyn Store>, clock: &ManualClock, policies: DataPolicies) -> Lifecycle {
    Lifecycle::new(store, policies).with_clock(Arc::new(clock.clone()))
}

pub async fn retention_purges_finished_jobs_at_the_boundary(store: Arc<dyn Store>) {
    let done = finished(&*store, 1, "acme", EOCR, Next::Succeeded, T0).await;
    let failed = finished(&*store, 2, "acme", EOCR, Next::Failed, at(10)).await;
    // Old but never finished: a pending job and an in-flight one are never purged.
    let mut waiting = job(3, "acme", T0);
    waiting.next_attempt_at = Some(at(365 * 86_400));
    let waiting = insert(&*store, waiting).await;
    let flying = insert(&*store, job(4, "acme", T0)).await;
    let claimed = store
        .claim(&scope("acme"), at(20), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job.id, flying.id);
    let other = finished(&*store, 5, "globex", EOCR, Next::Succeeded, T0).await;

    let clock = ManualClock::new(T0);
    let policies = DataPolicies::new(DataPolicy::new().retention(Retention::forever()))
        .with_tenant(
            tenant("acme"),
            DataPolicy::new().retention(Retention::forever().jobs(DAY)),
        );
    let life = lifecycle(store.clone(), &clock, policies);
    // Exactly one day after the end: kept.
    clock.set(T0.saturating_add(DAY));
    let step = life.run_once().await.unwrap();
    assert_eq!((step.jobs, step.attempts), (0, 0));
    assert!(get(&*store, &done).await.is_some());
    // One millisecond later: the first finished job goes with its attempt; the one that
    // ended ten seconds later stays.
    clock.set(
        T0.saturating_add(DAY)
            .saturating_add(Duration::from_millis(1)),
    );
    let step = life.run_once().await.unwrap();
    assert_eq!((step.jobs, step.attempts, step.more), (1, 1, false));
    assert!(get(&*store, &done).await.is_none());
    assert!(attempts_of(&*store, &done).await.is_empty());
    assert!(get(&*store, &failed).await.is_some());
    clock.set(at(86_400 + 11));
    assert_eq!(life.run_once().await.unwrap().jobs, 1);
    assert!(get(&*store, &failed).await.is_none());
    // Years later: the pending and in-flight jobs stay, and so does the other tenant's
    // (its default keeps everything).
    clock.set(at(10 * 365 * 86_400));
    assert_eq!(life.run_once().await.unwrap(), Default::default());
    assert_eq!(
        get(&*store, &waiting).await.unwrap().status,
        JobStatus::Pending
    );
    assert_eq!(
        get(&*store, &flying).await.unwrap().status,
        JobStatus::InFlight
    );
    assert!(get(&*store, &other).await.is_some());
    let listed = store
        .jobs(&scope("acme"), &JobQuery::new())
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 2);
}

pub async fn payloads_expire_before_their_jobs(store: Arc<dyn Store>) {
    let old = finished(&*store, 1, "acme", EOCR, Next::Failed, T0).await;
    let young = finished(&*store, 2, "acme", EOCR, Next::Succeeded, at(7200)).await;
    let pending = insert(&*store, job(3, "acme", T0)).await;
    let clock = ManualClock::new(at(3600 + 1));
    let policy = DataPolicy::new().retention(
        Retention::forever()
            .jobs(30 * DAY)
            .payloads(Duration::from_secs(3600)),
    );
    let life = lifecycle(store.clone(), &clock, DataPolicies::new(policy));
    let step = life.run_once().await.unwrap();
    assert_eq!((step.payloads_expired, step.jobs), (1, 0));
    // The row stays, listable; the body and the response bodies go.
    let back = get(&*store, &old).await.unwrap();
    assert_eq!(back.payload_state, PayloadState::Expired);
    assert!(back.payload.is_empty());
    assert_eq!((back.status, back.attempts), (JobStatus::Failed, 1));
    let attempts = attempts_of(&*store, &old).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_body, "");
    assert_eq!(attempts[0].status_code, Some(500));
    // Nothing else changed.
    let young_back = get(&*store, &young).await.unwrap();
    assert_eq!(young_back.payload_state, PayloadState::Kept);
    assert_eq!(&young_back.payload[..], EOCR.as_bytes());
    assert_eq!(attempts_of(&*store, &young).await[0].response_body, "ok");
    assert_eq!(
        get(&*store, &pending).await.unwrap().payload,
        pending.payload
    );
    // An expired job cannot be requeued (it would send an empty body), nor recovered.
    let err = store.requeue(&scope("acme"), &old.id, at(4000)).await;
    assert!(
        matches!(
            err,
            Err(OutboxError::PayloadRemoved {
                state: PayloadState::Expired,
                ..
            })
        ),
        "{err:?}"
    );
    let recovered = store
        .recover(&scope("acme"), T0, at(86_400), at(4000), 10)
        .await
        .unwrap();
    assert!(recovered.requeued.is_empty());
    // A second pass finds nothing left to do.
    assert_eq!(life.run_once().await.unwrap(), Default::default());
}

pub async fn privacy_modes_apply_once_jobs_are_final(store: Arc<dyn Store>) {
    let red = finished(&*store, 1, "acme", EOCR, Next::Succeeded, T0).await;
    let red_pending = insert(&*store, {
        let mut j = job(2, "acme", T0);
        j.payload = Arc::from(EOCR.as_bytes());
        j.next_attempt_at = Some(at(86_400));
        j
    })
    .await;
    let not_json = finished(&*store, 3, "acme", "plain text", Next::Failed, T0).await;
    let meta = finished(&*store, 4, "globex", EOCR, Next::Failed, T0).await;
    let full = finished(&*store, 5, "initech", EOCR, Next::Succeeded, T0).await;

    let clock = ManualClock::new(at(1));
    let redact = PrivacyMode::redact([
        "message.artifact.transcript",
        "message.artifact.recordingUrl",
        "message.artifact.messages",
    ])
    .unwrap();
    let policies = DataPolicies::new(DataPolicy::new().retention(Retention::forever()))
        .with_tenant(
            tenant("acme"),
            DataPolicy::new()
                .retention(Retention::forever())
                .privacy(redact),
        )
        .with_tenant(
            tenant("globex"),
            DataPolicy::new()
                .retention(Retention::forever())
                .privacy(PrivacyMode::MetadataOnly),
        );
    let life = lifecycle(store.clone(), &clock, policies);
    let step = life.run_once().await.unwrap();
    assert_eq!((step.payloads_redacted, step.payloads_dropped), (2, 1));

    let back = get(&*store, &red).await.unwrap();
    assert_eq!(back.payload_state, PayloadState::Redacted);
    let v: serde_json::Value = serde_json::from_slice(&back.payload).unwrap();
    for path in ["transcript", "recordingUrl", "messages"] {
        assert_eq!(v["message"]["artifact"][path], "[redacted]", "{path}");
    }
    assert_eq!(v["message"]["call"]["id"], "call_1");
    // Redaction keeps the response bodies (they are not the payload).
    assert_eq!(attempts_of(&*store, &red).await[0].response_body, "ok");
    // A payload that is not JSON cannot be redacted path by path: it goes whole.
    let back = get(&*store, &not_json).await.unwrap();
    assert_eq!(
        (back.payload_state, back.payload.len()),
        (PayloadState::Redacted, 0)
    );
    // Not final yet: untouched.
    let back = get(&*store, &red_pending).await.unwrap();
    assert_eq!(
        (back.payload_state, &back.payload[..]),
        (PayloadState::Kept, EOCR.as_bytes())
    );
    // metadata-only: payload and response bodies dropped, the rows stay.
    let back = get(&*store, &meta).await.unwrap();
    assert_eq!(
        (back.payload_state, back.payload.len(), back.status),
        (PayloadState::Dropped, 0, JobStatus::Failed)
    );
    assert_eq!(attempts_of(&*store, &meta).await[0].response_body, "");
    let err = store.requeue(&scope("globex"), &meta.id, at(2)).await;
    assert!(
        matches!(
            err,
            Err(OutboxError::PayloadRemoved {
                state: PayloadState::Dropped,
                ..
            })
        ),
        "{err:?}"
    );
    // full: nothing happens.
    let back = get(&*store, &full).await.unwrap();
    assert_eq!(
        (back.payload_state, &back.payload[..]),
        (PayloadState::Kept, EOCR.as_bytes())
    );
    assert_eq!(life.run_once().await.unwrap(), Default::default());
}

pub async fn purge_runs_in_bounded_batches(store: Arc<dyn Store>) {
    for n in 0..5 {
        finished(&*store, n, "acme", EOCR, Next::Succeeded, T0).await;
    }
    let mut purge = Purge::new(2);
    purge.delete_finished_before = Some(at(1));
    let mut counts = Vec::new();
    loop {
        let step = store.purge(&Scope::AllTenants, &purge).await.unwrap();
        counts.push((step.jobs, step.more));
        if !step.more {
            break;
        }
        assert!(counts.len() < 10);
    }
    assert_eq!(counts, vec![(2, true), (2, true), (1, false)]);
    // A purge scoped to one tenant, or excluding it, leaves it alone.
    finished(&*store, 9, "acme", EOCR, Next::Succeeded, T0).await;
    assert_eq!(store.purge(&scope("globex"), &purge).await.unwrap().jobs, 0);
    purge.exclude = vec![tenant("acme")];
    assert_eq!(
        store.purge(&Scope::AllTenants, &purge).await.unwrap().jobs,
        0
    );
}

pub async fn erasure_by_call_and_by_tenant(store: Arc<dyn Store>) {
    // acme: calls call_0, call_1, call_2 (job n is about call_{n % 3}); globex likewise.
    let mut acme = Vec::new();
    for n in 0..6 {
        acme.push(finished(&*store, n, "acme", EOCR, Next::Failed, T0).await);
    }
    let mut globex = Vec::new();
    for n in 10..16 {
        globex.push(finished(&*store, n, "globex", EOCR, Next::Failed, T0).await);
    }
    // One pending and one in-flight acme job of call_1.
    let pending = insert(&*store, job(21, "acme", at(100))).await;
    let flying = insert(&*store, job(24, "acme", at(5))).await;
    let claimed = store.claim(&scope("acme"), at(50), LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].job.id, flying.id);
    // Target health for both tenants.
    for t in ["acme", "globex"] {
        let again = insert(&*store, {
            let mut k = job(40 + u64::from(t == "acme"), t, T0);
            k.call_id = Some("call_x".into());
            k
        })
        .await;
        let c = store.claim(&scope(t), at(60), LEASE, 1).await.unwrap();
        assert_eq!(c[0].job.id, again.id);
        let gone = TargetEvent::Gone {
            url: "https://hooks.example.com/a1".into(),
        };
        store
            .finish(
                &scope(t),
                &c[0].lease,
                Finish::new(
                    attempt(&c[0].job, 90 + u64::from(t == "acme"), Some(410), at(60)),
                    Next::Failed,
                    Some(gone),
                ),
            )
            .await
            .unwrap();
    }
    let clock = ManualClock::new(at(100));
    let life = lifecycle(store.clone(), &clock, DataPolicies::default()).with_batch(2);

    // Outside the scope: refused.
    let erase_acme = Erase::Tenant(tenant("acme"));
    let err = store.erase(&scope("globex"), &erase_acme, 10).await;
    assert!(
        matches!(err, Err(OutboxError::OutOfScope { .. })),
        "{err:?}"
    );

    // One call: acme's call_1 jobs (n = 1 and 4; the pending 21 and in-flight 24 are
    // call_0's, the 410 job call_x's).
    let call = Erase::Call {
        tenant: tenant("acme"),
        call_id: "call_1".into(),
    };
    let erased = life.erase(&scope("acme"), &call).await.unwrap();
    assert_eq!((erased.jobs, erased.attempts, erased.targets), (2, 2, 0));
    for j in &acme {
        let left = get(&*store, j).await.is_some();
        assert_eq!(
            left,
            j.call_id.as_deref() != Some("call_1"),
            "{:?}",
            j.call_id
        );
    }
    // Another tenant's same call id is untouched.
    for j in &globex {
        assert!(get(&*store, j).await.is_some());
    }

    // The whole tenant, in flight and pending included, target health too.
    let erased = life.erase(&Scope::AllTenants, &erase_acme).await.unwrap();
    // acme left: 4 finished jobs of calls 0 and 2 (an attempt each), the pending one, the
    // in-flight one (no attempt yet) and the 410 one (an attempt): 7 jobs, 5 attempts, and
    // the disabled target.
    assert_eq!((erased.jobs, erased.attempts, erased.targets), (7, 5, 1));
    let acme_scope = scope("acme");
    let q = JobQuery::new().limit(1000);
    assert!(store.jobs(&acme_scope, &q).await.unwrap().items.is_empty());
    let all = store.jobs(&Scope::AllTenants, &q).await.unwrap().items;
    assert!(all.iter().all(|j| j.tenant == tenant("globex")));
    assert_eq!(all.len(), 7);
    let aq = AttemptQuery::new().limit(1000);
    let attempts = store.attempts(&Scope::AllTenants, &aq).await.unwrap().items;
    assert!(attempts.iter().all(|a| a.tenant == tenant("globex")));
    assert_eq!(attempts.len(), 7);
    let url = "https://hooks.example.com/a1";
    assert!(
        store
            .target(&acme_scope, &tenant("acme"), url)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .target(&scope("globex"), &tenant("globex"), url)
            .await
            .unwrap()
            .is_some()
    );
    assert!(get(&*store, &pending).await.is_none());
    // The in-flight job's late finish finds nothing and records nothing.
    let late = store
        .finish(
            &acme_scope,
            &claimed[0].lease,
            Finish::new(
                attempt(&claimed[0].job, 77, Some(200), at(70)),
                Next::Succeeded,
                None,
            ),
        )
        .await;
    assert!(
        matches!(late, Err(OutboxError::NotFound { .. })),
        "{late:?}"
    );
    assert!(
        store
            .attempts(&acme_scope, &aq)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Erasing again finds nothing.
    assert_eq!(
        life.erase(&acme_scope, &erase_acme).await.unwrap(),
        Default::default()
    );
}

/// Claims and finishes run on two tasks while two purgers delete every finished job: every
/// job is claimed once, every finish succeeds (no in-flight job was purged under it), and
/// in the end nothing is left pending, in flight or unpurged.
pub async fn purging_while_dispatchers_run(store: Arc<dyn Store>) {
    const JOBS: u64 = 600;
    for n in 0..JOBS {
        let t = if n % 2 == 0 { "acme" } else { "globex" };
        insert(&*store, job(n, t, T0)).await;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut purgers = Vec::new();
    for _ in 0..2 {
        let (store, stop) = (store.clone(), stop.clone());
        purgers.push(tokio::spawn(async move {
            let mut purge = Purge::new(25);
            purge.delete_finished_before = Some(at(3600));
            let mut removed = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                removed += store.purge(&Scope::AllTenants, &purge).await.unwrap().jobs;
                tokio::task::yield_now().await;
            }
            removed
        }));
    }
    let mut workers = Vec::new();
    for w in 0..2u64 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut n = w << 32;
            loop {
                let claimed = store.claim(&Scope::AllTenants, T0, LEASE, 8).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for c in claimed {
                    n += 1;
                    let a = attempt(&c.job, n, Some(200), T0);
                    // Never NotFound: the purgers do not touch a job in flight.
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
    for w in workers {
        for id in w.await.unwrap() {
            assert!(seen.insert(id), "a job was claimed twice");
        }
    }
    assert_eq!(seen.len() as u64, JOBS);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut removed = 0;
    for p in purgers {
        removed += p.await.unwrap();
    }
    // What the purgers left, one more pass removes; then nothing is left at all.
    let mut purge = Purge::new(1000);
    purge.delete_finished_before = Some(at(3600));
    let last = store.purge(&Scope::AllTenants, &purge).await.unwrap();
    assert_eq!(removed + last.jobs, JOBS, "every job purged exactly once");
    let q = JobQuery::new().limit(1000);
    assert!(
        store
            .jobs(&Scope::AllTenants, &q)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let aq = AttemptQuery::new().limit(1000);
    assert!(
        store
            .attempts(&Scope::AllTenants, &aq)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Within a time window a listing is ordered by that time, then insertion (what the window's
/// index hands over without sorting a whole day), and its cursor pages on in that order.
pub async fn windowed_listings_page_by_time(store: Arc<dyn Store>) {
    // Inserted out of creation order, as two instances with skewed clocks would.
    let mut ids = Vec::new();
    for (n, secs) in [(1, 5), (2, 3), (3, 4), (4, 10), (5, 4)] {
        ids.push(insert(&*store, job(n, "acme", at(secs))).await.id);
    }
    let window = JobQuery::new().created_between(at(3), at(6)).limit(2);
    for s in [Scope::AllTenants, scope("acme")] {
        let first = store.jobs(&s, &window).await.unwrap();
        let shown: Vec<_> = first.items.iter().map(|j| j.id.clone()).collect();
        // 5 s, then the two at 4 s newest insertion first.
        assert_eq!(shown, vec![ids[0].clone(), ids[4].clone()]);
        let next = window.clone().cursor(first.next.clone());
        let second = store.jobs(&s, &next).await.unwrap();
        let shown: Vec<_> = second.items.iter().map(|j| j.id.clone()).collect();
        assert_eq!(shown, vec![ids[2].clone(), ids[1].clone()]);
        assert_eq!(second.next, None);
    }
    // Another tenant's cursor: an empty page.
    let first = store.jobs(&scope("acme"), &window).await.unwrap();
    let foreign = window.clone().cursor(first.next);
    assert!(
        store
            .jobs(&scope("globex"), &foreign)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// One test per lifecycle case for the store made by `$make` (an expression, may `.await`).
#[macro_export]
macro_rules! lifecycle_conformance_tests {
    ($make:expr) => {
        $crate::lifecycle_conformance_tests!(@cases $make;
            retention_purges_finished_jobs_at_the_boundary,
            payloads_expire_before_their_jobs,
            privacy_modes_apply_once_jobs_are_final,
            purge_runs_in_bounded_batches,
            erasure_by_call_and_by_tenant,
            windowed_listings_page_by_time,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn purging_while_dispatchers_run() {
            $crate::outbox::lifecycle::purging_while_dispatchers_run($make).await;
        }
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::outbox::lifecycle::$case($make).await;
            }
        )+
    };
}
