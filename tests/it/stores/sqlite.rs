//! `SqliteStore`: the conformance suite in memory, and what only a file shows.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::Scope;
use agent_webhooks::outbox::{JobQuery, JobStatus, OutboxError, SqliteStore, Store};

use crate::outbox::conformance::job;
use crate::outbox::support::T0;

mod conformance {
    crate::conformance_tests!(std::sync::Arc::new(
        agent_webhooks::outbox::SqliteStore::open(":memory:")
            .await
            .unwrap()
    ));
}

mod lifecycle {
    crate::lifecycle_conformance_tests!(std::sync::Arc::new(
        agent_webhooks::outbox::SqliteStore::open(":memory:")
            .await
            .unwrap()
    ));
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aw-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("outbox.sqlite3")
}

#[tokio::test]
async fn jobs_survive_reopening_the_file_in_wal_mode() {
    let path = temp_path("reopen");
    let store = SqliteStore::open(&path).await.unwrap();
    let j = store
        .insert(&Scope::AllTenants, job(1, "acme", T0), Duration::ZERO)
        .await
        .unwrap()
        .job;
    let claimed = store
        .claim(&Scope::AllTenants, T0, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // WAL mode: the write-ahead log sits beside the database while it is open.
    assert!(path.with_extension("sqlite3-wal").exists());
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    let back = store.job(&Scope::AllTenants, &j.id).await.unwrap().unwrap();
    assert_eq!((back.status, back.attempts), (JobStatus::InFlight, 1));
    // The lease outlives the process: claimable again only once it expires.
    let at = T0.saturating_add(Duration::from_secs(60));
    assert!(
        store
            .claim(&Scope::AllTenants, T0, Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim(&Scope::AllTenants, at, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(again[0].lease.fence, claimed[0].lease.fence + 1);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn migrations_are_versioned_and_a_newer_schema_is_refused() {
    let path = temp_path("migrate");
    drop(SqliteStore::open(&path).await.unwrap());
    // Opening again applies nothing twice.
    drop(SqliteStore::open(&path).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM outbox_schema ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        versions,
        (1..=i64::from(SqliteStore::SCHEMA_VERSION)).collect::<Vec<_>>()
    );
    conn.execute("INSERT INTO outbox_schema (version) VALUES (99)", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(err, OutboxError::Invalid { what: "outbox schema", ref problem } if problem.contains("99")),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn an_unopenable_path_is_a_backend_error() {
    let err = SqliteStore::open("/nonexistent-dir/for/sure/outbox.sqlite3")
        .await
        .unwrap_err();
    assert!(matches!(err, OutboxError::Backend(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_never_claim_the_same_job() {
    let path = temp_path("two");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    for n in 0..200 {
        a.insert(&Scope::AllTenants, job(n, "acme", T0), Duration::ZERO)
            .await
            .unwrap();
    }
    let take = |s: Arc<dyn Store>| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let c = s
                    .claim(&Scope::AllTenants, T0, Duration::from_secs(60), 3)
                    .await
                    .unwrap();
                if c.is_empty() {
                    return ids;
                }
                ids.extend(c.into_iter().map(|c| c.job.id));
            }
        })
    };
    let (x, y) = (take(a.clone()), take(b));
    let mut all = x.await.unwrap();
    all.extend(y.await.unwrap());
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (200, 200));
    let pending = a
        .jobs(
            &Scope::AllTenants,
            &JobQuery::new().status(JobStatus::Pending),
        )
        .await
        .unwrap();
    assert!(pending.items.is_empty());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// Writes that arrive together share one transaction (group commit), each with its own
/// answer (the conformance case), and what was answered as stored is in the file when it is
/// opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_writes_are_on_disk_when_answered() {
    let path = temp_path("group");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    crate::outbox::conformance::concurrent_inserts_each_get_their_own_answer(store.clone()).await;
    let claimed = store
        .claim(&Scope::AllTenants, T0, Duration::from_secs(60), 400)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 300);
    drop((store, claimed));
    let store = SqliteStore::open(&path).await.unwrap();
    let page = store
        .jobs(
            &Scope::AllTenants,
            &JobQuery::new().status(JobStatus::InFlight).limit(500),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 300);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
