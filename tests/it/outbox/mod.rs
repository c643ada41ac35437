//! The outbox: store conformance, retry schedules, dispatch, operations.

pub mod conformance;
pub mod lifecycle;
pub mod support;

mod dispatch;
mod model;
mod ops;
mod plan;

/// The conformance suite against the in-memory store.
mod memory_store {
    crate::conformance_tests!(std::sync::Arc::new(
        agent_webhooks::outbox::MemoryStore::new()
    ));
}

/// The data lifecycle cases against the in-memory store.
mod memory_store_lifecycle {
    crate::lifecycle_conformance_tests!(std::sync::Arc::new(
        agent_webhooks::outbox::MemoryStore::new()
    ));
}
