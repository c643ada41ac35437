//! `MemoryStore` against a plain model: random sequences of enqueue, claim, finish (current or
//! stale lease), requeue and clock moves must leave both in the same state.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use agent_webhooks::Scope;
use agent_webhooks::outbox::{
    Finish, JobId, JobStatus, Lease, MemoryStore, Next, OutboxError, Store, Timestamp,
};
use proptest::prelude::*;

use super::conformance::{attempt, job};
use super::support::T0;

/// MemoryStore's futures never wait.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("MemoryStore waited"),
    }
}

const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
enum Op {
    Enqueue,
    Claim(usize),
    Finish { lease: usize, outcome: u8 },
    Requeue(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Enqueue),
        3 => (1usize..4).prop_map(Op::Claim),
        4 => (0usize..64, 0u8..4).prop_map(|(lease, outcome)| Op::Finish { lease, outcome }),
        1 => (0usize..64).prop_map(Op::Requeue),
        2 => (0u64..40).prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct ModelJob {
    id: JobId,
    status: JobStatus,
    fence: u64,
    lease_until: Option<Timestamp>,
    due: Option<Timestamp>,
    attempts: u32,
    step: u32,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn memory_store_matches_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let store = Arc::new(MemoryStore::new());
        let all = Scope::AllTenants;
        let mut clock = T0;
        let mut model: Vec<ModelJob> = Vec::new();
        let mut leases: Vec<Lease> = Vec::new();
        let mut n = 0u64;
        for op in ops {
            n += 1;
            match op {
                Op::Enqueue => {
                    let j = job(n, "acme", clock);
                    model.push(ModelJob { id: j.id.clone(), status: JobStatus::Pending, fence: 0,
                        lease_until: None, due: Some(clock), attempts: 0, step: 0 });
                    now(store.insert(&all, j, Duration::ZERO)).unwrap();
                }
                Op::Claim(limit) => {
                    // Expired leases first (by expiry, then age), then due jobs (by due time, then age).
                    let mut expired: Vec<(Timestamp, usize)> = model.iter().enumerate()
                        .filter(|(_, m)| m.status == JobStatus::InFlight && m.lease_until.is_some_and(|t| t <= clock))
                        .map(|(i, m)| (m.lease_until.unwrap(), i)).collect();
                    expired.sort();
                    let mut due: Vec<(Timestamp, usize)> = model.iter().enumerate()
                        .filter(|(_, m)| m.status == JobStatus::Pending && m.due.is_some_and(|t| t <= clock))
                        .map(|(i, m)| (m.due.unwrap(), i)).collect();
                    due.sort();
                    let want: Vec<usize> = expired.into_iter().chain(due).take(limit).map(|(_, i)| i).collect();
                    let got = now(store.claim(&all, clock, LEASE, limit)).unwrap();
                    prop_assert_eq!(got.iter().map(|c| c.job.id.clone()).collect::<Vec<_>>(),
                        want.iter().map(|&i| model[i].id.clone()).collect::<Vec<_>>());
                    for (c, &i) in got.into_iter().zip(&want) {
                        let m = &mut model[i];
                        m.status = JobStatus::InFlight;
                        m.fence += 1;
                        m.lease_until = Some(clock.saturating_add(LEASE));
                        m.attempts += 1;
                        m.step += 1;
                        prop_assert_eq!(c.lease.fence, m.fence);
                        leases.push(c.lease);
                    }
                }
                Op::Finish { lease, outcome } => {
                    let Some(lease) = leases.get(lease % leases.len().max(1)).cloned() else { continue };
                    let i = model.iter().position(|m| m.id == lease.job_id).unwrap();
                    let current = model[i].status == JobStatus::InFlight && model[i].fence == lease.fence;
                    let snapshot = now(store.job(&all, &lease.job_id)).unwrap().unwrap();
                    let next = match outcome {
                        0 => Next::Succeeded,
                        1 => Next::Failed,
                        2 => Next::Skipped,
                        _ => Next::Retry(clock.saturating_add(Duration::from_secs(5))),
                    };
                    let result = now(store.finish(&all, &lease,
                        Finish::new(attempt(&snapshot, n, Some(500), clock), next, None)));
                    if current {
                        result.unwrap();
                        let m = &mut model[i];
                        m.lease_until = None;
                        (m.status, m.due) = match next {
                            Next::Succeeded => (JobStatus::Succeeded, None),
                            Next::Failed => (JobStatus::Failed, None),
                            Next::Skipped => (JobStatus::Skipped, None),
                            Next::Retry(t) => (JobStatus::Pending, Some(t)),
                            _ => unreachable!(),
                        };
                    } else {
                        let stale = matches!(result, Err(OutboxError::StaleLease { .. }));
                        prop_assert!(stale, "{:?}", result);
                    }
                }
                Op::Requeue(i) => {
                    let len = model.len().max(1);
                    let Some(m) = model.get_mut(i % len) else { continue };
                    let result = now(store.requeue(&all, &m.id, clock));
                    if matches!(m.status, JobStatus::Failed | JobStatus::Skipped) {
                        result.unwrap();
                        m.status = JobStatus::Pending;
                        m.due = Some(clock);
                        m.step = 0;
                    } else {
                        let refused = matches!(result, Err(OutboxError::NotRequeueable { status, .. }) if status == m.status);
                        prop_assert!(refused, "{:?}", result);
                    }
                }
                Op::Advance(s) => clock = clock.saturating_add(Duration::from_secs(s)),
            }
            for m in &model {
                let j = now(store.job(&all, &m.id)).unwrap().unwrap();
                prop_assert_eq!((j.status, j.attempts, j.step), (m.status, m.attempts, m.step), "{:?}", m.id);
                if m.status == JobStatus::Pending {
                    prop_assert_eq!(j.next_attempt_at, m.due);
                }
            }
        }
    }
}

#[test]
fn generated_ids_are_the_prefix_then_time_and_random_in_lower_case_hex() {
    use agent_webhooks::outbox::{AttemptId, JobId, Timestamp};
    let at = Timestamp::from_unix_millis(0x0123_4567_89ab);
    assert_eq!(
        JobId::generate(at, 0xfedc_ba98_7654_3210).as_str(),
        "msg_0123456789abfedcba9876543210"
    );
    assert_eq!(
        AttemptId::generate(Timestamp::from_unix_millis(1), 0).as_str(),
        "atmpt_0000000000010000000000000000"
    );
    // 48 bits of milliseconds: the time wraps, never widens the id.
    let id = JobId::generate(Timestamp::from_unix_millis(u64::MAX), u64::MAX);
    assert_eq!(id.as_str(), "msg_ffffffffffffffffffffffffffff");
    assert!(JobId::new(id.as_str()).is_ok());
    // Later ids sort after earlier ones.
    let (a, b) = (
        JobId::generate(Timestamp::from_unix_millis(1_000), u64::MAX),
        JobId::generate(Timestamp::from_unix_millis(1_001), 0),
    );
    assert!(a.as_str() < b.as_str());
}
