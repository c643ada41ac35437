//! The integration tests, one binary with a module per concept.

mod cascade;
mod event;
mod guard;
mod live;
mod logs;
mod outbox;
#[cfg(all(feature = "reqwest", feature = "sqlite"))]
mod routing;
mod schemes;
mod security;
mod send;
mod sign;
mod stores;
mod tenant;
mod tool;
#[cfg(feature = "reqwest")]
mod transport;
mod turn;

// The `webhookctl check-url` command, compiled into the tests so they drive the real code.
#[allow(dead_code)]
#[path = "../../examples/webhookctl/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../../examples/webhookctl/check_url.rs"]
mod check_url;
#[cfg(feature = "reqwest")]
#[allow(dead_code)]
#[path = "../../examples/webhookctl/request.rs"]
mod request;
