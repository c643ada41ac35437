//! The integration tests, one binary with a module per concept.

mod event;
mod tool;
