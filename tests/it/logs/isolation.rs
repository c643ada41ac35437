//! Property: no list, get, replay or retry by a principal of tenant A returns or changes
//! tenant B's data, whatever the sequence, the role, the filters and the ids tried.

use agent_webhooks::AccessRole::{ClientAdmin, User};
use agent_webhooks::http::{Method, StatusCode};
use agent_webhooks::outbox::{AttemptQuery, JobQuery};
use agent_webhooks::{AccessRole, Scope};
use proptest::prelude::*;

use super::fixture::{Fixture, principal, tenant};

#[derive(Debug, Clone)]
enum Op {
    List {
        attempts: bool,
        status: Option<&'static str>,
        limit: u8,
        name_other_tenant: bool,
    },
    Get(usize),
    Replay(usize),
    Retry(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop::option::of(prop::sample::select(vec![
        "pending",
        "succeeded",
        "failed",
        "skipped",
        "refused",
    ]));
    prop_oneof![
        (any::<bool>(), status, 1u8..=20, any::<bool>()).prop_map(
            |(attempts, status, limit, name_other_tenant)| Op::List {
                attempts,
                status,
                limit,
                name_other_tenant,
            }
        ),
        any::<usize>().prop_map(Op::Get),
        any::<usize>().prop_map(Op::Replay),
        any::<usize>().prop_map(Op::Retry),
    ]
}

async fn snapshot(f: &Fixture, name: &str) -> String {
    let scope = Scope::tenant(tenant(name));
    let jobs = f
        .store
        .jobs(&scope, &JobQuery::new().limit(1000))
        .await
        .unwrap();
    let attempts = f
        .store
        .attempts(&scope, &AttemptQuery::new().limit(1000))
        .await
        .unwrap();
    format!("{:?}\n{:?}", jobs.items, attempts.items)
}

async fn run(role: AccessRole, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let f = Fixture::new().await;
    let who = principal("acme", role);
    let before = snapshot(&f, "globex").await;
    let theirs: Vec<String> = f
        .globex
        .jobs
        .values()
        .map(ToString::to_string)
        .chain(f.globex.attempts.values().map(ToString::to_string))
        .collect();
    let pool: Vec<String> = f
        .acme
        .jobs
        .values()
        .chain(f.globex.jobs.values())
        .map(ToString::to_string)
        .chain(
            f.acme
                .attempts
                .values()
                .chain(f.globex.attempts.values())
                .map(ToString::to_string),
        )
        .chain(["msg_unknown".to_owned(), "atmpt_unknown".to_owned()])
        .collect();
    for op in ops {
        let (method, uri, id) = match &op {
            Op::List {
                attempts,
                status,
                limit,
                name_other_tenant,
            } => {
                let mut q = format!("limit={limit}");
                if *attempts {
                    q.push_str("&kind=attempts");
                }
                if let Some(s) = status {
                    q.push_str(&format!("&status={s}"));
                }
                if *name_other_tenant {
                    q.push_str("&tenant=globex");
                }
                (Method::GET, format!("/logs/webhooks?{q}"), None)
            }
            Op::Get(i) => {
                let id = &pool[i % pool.len()];
                (Method::GET, format!("/logs/webhooks/{id}"), Some(id))
            }
            Op::Replay(i) => {
                let id = &pool[i % pool.len()];
                (
                    Method::POST,
                    format!("/logs/webhooks/{id}/replay"),
                    Some(id),
                )
            }
            Op::Retry(i) => {
                let id = &pool[i % pool.len()];
                (
                    Method::POST,
                    format!("/logs/webhooks/jobs/{id}/retry"),
                    Some(id),
                )
            }
        };
        let r = f.call(&who, method.clone(), &uri).await;
        prop_assert!(!r.text.contains("globex"), "{op:?}: {}", r.text);
        for id in &theirs {
            prop_assert!(
                !r.text.contains(id.as_str()),
                "{op:?} leaked {id}: {}",
                r.text
            );
        }
        if let Some(id) = id {
            if theirs.contains(id) {
                // Only "not found", or "forbidden" for a role that may not act anywhere.
                let allowed = [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN];
                prop_assert!(allowed.contains(&r.status), "{op:?}: {}", r.status);
                if r.status == StatusCode::FORBIDDEN {
                    prop_assert!(role == User && method == Method::POST, "{op:?}");
                }
            }
        }
        if let Op::List {
            name_other_tenant: true,
            ..
        } = op
        {
            // Not found, or a bad filter found first: never a page.
            let allowed = [StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST];
            prop_assert!(allowed.contains(&r.status), "{op:?}: {}", r.status);
        }
    }
    prop_assert_eq!(snapshot(&f, "globex").await, before);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tenant_a_never_sees_or_changes_tenant_b(
        admin in any::<bool>(),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let role = if admin { ClientAdmin } else { User };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(role, ops))?;
    }
}
