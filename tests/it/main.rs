//! The integration tests, one binary with a module per concept.

mod outbox;
mod stores;
mod tool;
