//! The integration tests, one binary with a module per concept.

mod cascade;
mod event;
mod logs;
mod outbox;
mod sign;
mod tenant;
mod tool;
