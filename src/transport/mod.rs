//! The guarded HTTP transport on reqwest (feature `reqwest`).
//!
//! [`ReqwestTransport`] implements the outbox's [`Transport`](crate::outbox::Transport) and is
//! what the tool runner ([`ToolRunner`](crate::ToolRunner)) sends through. Checking a URL once
//! is not enough to keep requests inside the [`Policy`](crate::Policy): DNS can answer
//! differently at connect time, reqwest's resolver never sees IP-literal hosts, and redirects
//! and proxies go around a URL check. So the transport checks at every step:
//!
//! | where | check |
//! |---|---|
//! | before sending | [`Policy::check_url`](crate::Policy::check_url) on the request's URL (IP literals included) |
//! | at connect | [`GuardedResolver`]: every address DNS answers, strict ([`Policy::check_resolved`](crate::Policy::check_resolved)'s rule) |
//! | proxies | none: `no_proxy()`, environment proxies ignored |
//! | redirects | not followed by default; when enabled, each hop through [`Policy::check_redirect`](crate::Policy::check_redirect), sensitive headers dropped off the first origin |
//! | response | body read up to a limit ([`BodyTruncated`] marks a cut), the whole exchange bounded by the send's timeout |

mod client;
mod resolve;

pub use client::{
    BodyTruncated, DEFAULT_BODY_LIMIT, DEFAULT_CONNECT_TIMEOUT, MAX_REDIRECTS, ReqwestTransport,
    ReqwestTransportBuilder, TransportBuildError,
};
pub use resolve::{DnsResolver, GuardedResolver, ResolveError, SystemResolver};
