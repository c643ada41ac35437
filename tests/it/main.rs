//! The integration tests, one binary with a module per concept.

mod cascade;
mod event;
mod guard;
mod logs;
#[cfg(all(feature = "tracing", feature = "metrics"))]
mod observe;
mod outbox;
mod security;
mod send;
mod sign;
mod stores;
mod tenant;
mod tool;
#[cfg(feature = "reqwest")]
mod transport;

// The `webhookctl check-url` command, compiled into the tests so they drive the real code.
#[allow(dead_code)]
#[path = "../../examples/webhookctl/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../../examples/webhookctl/check_url.rs"]
mod check_url;
