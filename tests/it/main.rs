//! The integration tests, one binary with a module per concept.

mod cascade;
mod event;
mod outbox;
mod sign;
mod stores;
mod tool;
