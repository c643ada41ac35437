//! `PostgresStore`: the conformance suite against a real server, migrations, connection
//! settings and the indexes behind the listings.

use std::time::Duration;

use agent_webhooks::Scope;
use agent_webhooks::outbox::{JobQuery, OutboxError, PostgresStore, Store};

use super::pg;
use crate::outbox::conformance::job;
use crate::outbox::support::T0;

mod conformance {
    crate::conformance_tests!(match crate::stores::pg::store().await {
        Some(store) => store,
        None => return,
    });
}

mod lifecycle {
    crate::lifecycle_conformance_tests!(match crate::stores::pg::store().await {
        Some(store) => store,
        None => return,
    });
}

async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test]
async fn migrations_are_versioned_idempotent_and_a_newer_schema_is_refused() {
    let Some(url) = pg::url() else { return };
    let schema = pg::fresh_schema();
    let open = || {
        PostgresStore::builder(&url)
            .schema(&schema)
            .max_connections(2)
            .build()
    };
    let store = open().await.unwrap();
    store
        .insert(&Scope::AllTenants, job(1, "acme", T0), Duration::ZERO)
        .await
        .unwrap();
    // Building again (another instance starting) applies nothing twice and keeps the data.
    let again = open().await.unwrap();
    assert_eq!(
        again
            .jobs(&Scope::AllTenants, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let client = raw_client(&url).await;
    let versions: Vec<i64> = client
        .query(
            &format!("SELECT version FROM {schema}.outbox_schema ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        versions,
        (1..=i64::from(PostgresStore::SCHEMA_VERSION)).collect::<Vec<_>>()
    );
    client
        .execute(
            &format!("INSERT INTO {schema}.outbox_schema (version) VALUES (99)"),
            &[],
        )
        .await
        .unwrap();
    let err = open().await.unwrap_err();
    assert!(
        matches!(err, OutboxError::Invalid { what: "outbox schema", ref problem } if problem.contains("99")),
        "{err:?}"
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let Some(url) = pg::url() else { return };
    let schema = pg::fresh_schema();
    let mut starts = Vec::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        starts.push(tokio::spawn(async move {
            PostgresStore::builder(&url)
                .schema(&schema)
                .max_connections(1)
                .build()
                .await
        }));
    }
    for s in starts {
        s.await.unwrap().unwrap();
    }
    let client = raw_client(&url).await;
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {schema}.outbox_schema"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::from(PostgresStore::SCHEMA_VERSION));
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_settings_are_typed_errors_that_never_echo_the_password() {
    let err = PostgresStore::connect("postgres://user:hunter2@[bad")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::Invalid {
                what: "postgres connection string",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    for schema in ["", "Upper", "1abc", "a;drop", &"a".repeat(64)] {
        let err = PostgresStore::builder("postgres://u@127.0.0.1:1/db")
            .schema(schema)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                OutboxError::Invalid {
                    what: "postgres schema",
                    ..
                }
            ),
            "{schema}: {err:?}"
        );
    }
    let err = PostgresStore::builder("postgres://u@127.0.0.1:1/db")
        .max_connections(0)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        OutboxError::Invalid {
            what: "max_connections",
            ..
        }
    ));
    // Nothing listens on port 1: a backend error, not a hang or a panic.
    let err = PostgresStore::connect("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::Backend(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn listing_filters_and_claims_have_indexes() {
    let Some(url) = pg::url() else { return };
    let schema = pg::fresh_schema();
    PostgresStore::builder(&url)
        .schema(&schema)
        .max_connections(1)
        .build()
        .await
        .unwrap();
    let client = raw_client(&url).await;
    let defs: Vec<String> = client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let has = |table: &str, cols: &str| {
        defs.iter()
            .any(|d| d.contains(&format!("{schema}.{table} USING btree ({cols}")))
    };
    // The fair claim: each target's queue by due time, and its sends in flight.
    assert!(
        has("outbox_jobs", "tenant_id, target, due_at, seq)"),
        "{defs:#?}"
    );
    assert!(
        has("outbox_jobs", "tenant_id, target, due_at)"),
        "{defs:#?}"
    );
    for col in ["status", "event_type", "call_id", "target"] {
        assert!(
            has("outbox_jobs", &format!("tenant_id, {col}, seq)")),
            "{col}"
        );
    }
    assert!(has("outbox_jobs", "tenant_id, created_at)"));
    for col in ["status", "event_type", "url"] {
        assert!(
            has("outbox_attempts", &format!("tenant_id, {col}, seq)")),
            "{col}"
        );
    }
    assert!(has("outbox_attempts", "job_id, tenant_id, seq)"));
    assert!(has("outbox_attempts", "tenant_id, started_at)"));
    // Across tenants (a super admin): by status, by time window; the lifecycle's scans.
    assert!(has("outbox_jobs", "status, seq)"));
    assert!(has("outbox_jobs", "created_at, seq)"));
    assert!(has("outbox_attempts", "status, seq)"));
    assert!(has("outbox_attempts", "started_at, seq)"));
    assert!(
        has("outbox_jobs", "updated_at) WHERE (due_at IS NULL)"),
        "{defs:#?}"
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// The database drops every connection of the store (a failover, a restart, an idle timeout):
/// the next calls reconnect by themselves and nothing written before is lost; the job that was
/// in flight is claimed again once its lease ends.
#[tokio::test]
async fn dropped_connections_are_replaced_and_nothing_is_lost() {
    let Some(url) = pg::url() else { return };
    let app = format!("aw_drop_{}", pg::fresh_schema());
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = PostgresStore::builder(&format!("{url}{sep}application_name={app}"))
        .schema(&pg::fresh_schema())
        .max_connections(4)
        .build()
        .await
        .unwrap();
    let all = Scope::AllTenants;
    let lease = Duration::from_secs(60);
    store
        .insert(&all, job(1, "acme", T0), Duration::ZERO)
        .await
        .unwrap();
    let claimed = store.claim(&all, T0, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Open some pooled connections too (a listing takes one of its own).
    store.jobs(&all, &Default::default()).await.unwrap();

    let admin = raw_client(&url).await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the store had no connection to drop");
    for _ in 0..100 {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the store's connection tasks read the closed sockets (no timing involved).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }

    store
        .insert(&all, job(2, "acme", T0), Duration::ZERO)
        .await
        .unwrap();
    let page = store.jobs(&all, &Default::default()).await.unwrap();
    assert_eq!(page.items.len(), 2);
    // After the lease, both are claimable: the in-flight one again, with a new fence.
    let later = T0.saturating_add(lease + Duration::from_secs(1));
    let again = store.claim(&all, later, lease, 10).await.unwrap();
    assert_eq!(again.len(), 2);
    let reclaimed = again
        .iter()
        .find(|c| c.job.id == claimed[0].job.id)
        .expect("the in-flight job is claimed again");
    assert!(reclaimed.lease.fence > claimed[0].lease.fence);
}

/// Finishes that arrive together share statements, and each still gets its own answer: a
/// stale lease is refused as stale, a taken attempt id fails only its own finish, the rest
/// land with their attempt rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_finishes_each_get_their_own_answer() {
    use crate::outbox::conformance::attempt;
    use agent_webhooks::outbox::{
        Attempt, AttemptQuery, Claimed, Finish, JobStatus, Next, TargetEvent,
    };

    /// Finishes every claim at once (attempt ids from `first`; the two claims at `shared`
    /// positions get one id) and counts (succeeded, stale, duplicate attempt id).
    async fn finish_all(
        store: &std::sync::Arc<dyn Store>,
        claims: &[Claimed],
        first: u64,
        shared: Option<(usize, usize)>,
        at: agent_webhooks::outbox::Timestamp,
    ) -> (usize, usize, usize) {
        let attempts: Vec<Attempt> = (claims.iter().enumerate())
            .map(|(i, c)| attempt(&c.job, first + i as u64, Some(200), at))
            .collect();
        let mut tasks = Vec::new();
        for (i, c) in claims.iter().enumerate() {
            let (store, c) = (store.clone(), c.clone());
            let mut a = attempts[i].clone();
            if let Some((x, y)) = shared {
                if i == y {
                    a.id = attempts[x].id.clone();
                }
            }
            let url = "https://hooks.example.com/a1".to_string();
            tasks.push(tokio::spawn(async move {
                let finish = Finish::new(a, Next::Succeeded, Some(TargetEvent::Delivered { url }));
                (
                    c.job.id.clone(),
                    store.finish(&Scope::AllTenants, &c.lease, finish).await,
                )
            }));
        }
        let mut counts = (0, 0, 0);
        for task in tasks {
            let (id, result) = task.await.unwrap();
            match result {
                Ok(finished) => {
                    assert_eq!(finished.job.id, id);
                    assert_eq!(finished.job.status, JobStatus::Succeeded);
                    counts.0 += 1;
                }
                Err(OutboxError::StaleLease { job, .. }) => {
                    assert_eq!(job, id);
                    counts.1 += 1;
                }
                Err(OutboxError::Invalid {
                    what: "attempt id", ..
                }) => counts.2 += 1,
                Err(e) => panic!("{id}: {e:?}"),
            }
        }
        counts
    }

    let Some(store) = pg::store().await else {
        return;
    };
    let all = Scope::AllTenants;
    let lease = Duration::from_secs(60);
    for n in 0..60u64 {
        let tenant = if n % 2 == 0 { "acme" } else { "globex" };
        store
            .insert(&all, job(n, tenant, T0), Duration::ZERO)
            .await
            .unwrap();
    }
    let claimed = store.claim(&all, T0, lease, 100).await.unwrap();
    assert_eq!(claimed.len(), 60);
    // Ten leases run out and their jobs are claimed again: the first claims are stale.
    let later = T0.saturating_add(lease + Duration::from_secs(1));
    let reclaimed = store.claim(&all, later, lease, 10).await.unwrap();
    assert_eq!(reclaimed.len(), 10);
    assert_eq!(
        finish_all(&store, &claimed, 0, None, later).await,
        (50, 10, 0)
    );
    for c in &reclaimed {
        let job = store.job(&all, &c.job.id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::InFlight, "still under its new lease");
    }
    // The re-claimed ten, two of them with one attempt id: only the second is refused.
    assert_eq!(
        finish_all(&store, &reclaimed, 1000, Some((3, 7)), later).await,
        (9, 0, 1)
    );
    let attempts = store
        .attempts(&all, &AttemptQuery::new().limit(200))
        .await
        .unwrap();
    assert_eq!(attempts.items.len(), 59);
}

/// A pool built from `options`, in a schema of its own.
fn pool_with(url: &str, schema: &str, options: &str) -> agent_webhooks::deadpool_postgres::Pool {
    use agent_webhooks::deadpool_postgres::{Manager, Pool};
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.options(format!("-c search_path={schema} {options}"));
    Pool::builder(Manager::new(config, tokio_postgres::NoTls))
        .max_size(2)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_hosts_pool_must_commit_synchronously_and_never_jit_compile_a_claim() {
    let Some(url) = pg::url() else { return };
    let raw = raw_client(&url).await;
    let jit_here: bool = raw
        .query_one("SELECT pg_jit_available()", &[])
        .await
        .unwrap()
        .get(0);

    // A host's own pool: refused while it could lose a commit or JIT-compile a claim.
    let refused = |r: Result<PostgresStore, OutboxError>| match r {
        Err(OutboxError::Invalid { problem, .. }) => problem,
        other => panic!("expected a refusal, got {:?}", other.map(|_| "a store")),
    };
    let problem = refused(
        PostgresStore::from_pool(pool_with(
            &url,
            "nowhere",
            "-c synchronous_commit=off -c jit=off",
        ))
        .await,
    );
    assert!(problem.contains("synchronous_commit"), "{problem}");
    let with_jit = PostgresStore::from_pool(pool_with(
        &url,
        "nowhere",
        "-c synchronous_commit=on -c jit=on",
    ))
    .await;
    if jit_here {
        let problem = refused(with_jit);
        assert!(problem.contains("jit=off"), "{problem}");
    } else {
        // This server cannot JIT-compile: nothing to refuse.
        with_jit.unwrap();
    }
    // Accepted with both set; the tables go to the connections' search_path.
    let schema = pg::fresh_schema();
    let pool = pool_with(&url, &schema, "-c synchronous_commit=on -c jit=off");
    raw.execute(&format!("CREATE SCHEMA {schema}"), &[])
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool).await.unwrap();
    let listed = store.jobs(&Scope::AllTenants, &JobQuery::new()).await;
    assert!(listed.unwrap().items.is_empty());
}
