//! The PostgreSQL the tests use: `AGENT_WEBHOOKS_PG_URL` (`eval "$(bash .ci/postgres.sh start)"`
//! sets it). Under `CI=true` a missing or unreachable database fails the test; elsewhere an
//! unset URL skips the PostgreSQL tests with a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use agent_webhooks::outbox::{PostgresStore, Store};

pub const URL_VAR: &str = "AGENT_WEBHOOKS_PG_URL";

/// The database URL, or `None` (with a message) when the tests may skip.
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{URL_VAR} is not set: in CI the PostgreSQL tests must run (.ci/run starts the server)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: PostgreSQL test; set {URL_VAR} (eval \"$(bash .ci/postgres.sh start)\")"
            );
            None
        }
    }
}

/// A schema name no other test uses.
pub fn fresh_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "aw_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty store in a schema of its own, or `None` when skipping.
pub async fn store() -> Option<Arc<dyn Store>> {
    let url = url()?;
    let store = PostgresStore::builder(&url)
        .schema(&fresh_schema())
        .max_connections(4)
        .build()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {URL_VAR} is unreachable: {e:?}"));
    Some(Arc::new(store))
}
