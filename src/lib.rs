//! # agent-webhooks
//!
//! The controlled webhook boundary of a voice or chat agent runtime: everything that leaves the
//! runtime towards a customer's HTTP endpoint passes through it.
//!
//! It is a library you embed, not a service: it compiles webhook tool configs and renders them
//! per call with each value escaped for its place, and it checks what may leave. It does no IO of
//! its own in the core; the host brings the HTTP client and the clock.
//!
//! ```
//! use agent_webhooks::{AgentKind, Builtin, Policy, Vars, WebhookTool};
//!
//! let tool = WebhookTool::from_json(r#"{
//!   "name": "lookup_customer",
//!   "description": "Look up customer by phone number",
//!   "config": { "url": "https://api.example.com/customers/{{caller_phone}}", "method": "GET",
//!               "headers": { "Authorization": "Bearer YOUR_KEY", "X-Call-ID": "{{call_sid}}" } } }"#)?;
//! let compiled = tool.compile(AgentKind::PhoneVoice)?;            // once
//! let policy = Policy::default();                                  // production guard
//! let vars = Vars::new()
//!     .with(Builtin::CallerPhone, "+15551234567")
//!     .with(Builtin::CallSid, "CA123");
//! let prepared = compiled.prepare(&vars, &policy)?;               // per call, guard-checked
//! assert_eq!(prepared.url().as_str(), "https://api.example.com/customers/+15551234567");
//! assert_eq!(prepared.request().headers()["x-call-id"], "CA123");
//!
//! // A chat agent has no caller number: a config error at compile time, not mid-call.
//! assert!(tool.compile(AgentKind::Chat).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design
//!
//! Three flows pass through one boundary, and leave through one send step
//! ([`transport::SendStep`]: build, sign, guard, send under a deadline):
//!
//! - **Tool calls** (the model asks): a [`WebhookTool`] is compiled once per [`AgentKind`]
//!   (handlebars syntax parsed once, every variable checked against what the kind has), then
//!   [`CompiledTool::prepare`] renders it per call with each value escaped for its place and
//!   checks the URL with the guard's [`Policy`]; a transport sends it and [`ToolResult`] is what
//!   the model reads.
//! - **Server events** (the runtime emits): an [`Event`] in its [`Envelope`] is routed by the
//!   [`Cascade`] (most specific surface first, the winning [`Level`] kept for logs), written to
//!   the [`outbox`] *before* any byte is sent, and delivered by the [`outbox::Dispatcher`]:
//!   claim with a fenced lease, resolve the current target, guard, sign ([`Signer`], the job id
//!   as `webhook-id`), send, record the attempt, retry on the [`outbox::RetryPlan`]. Operators
//!   list, inspect, replay and requeue through [`logs::LogsApi`], under the [`Scope`] of their
//!   [`Principal`] ([`authorize`] decides every action in one table).
//! - **Request events** (the caller waits): [`live::Requester`] sends `assistant-request`,
//!   `tool-calls` and the other events that expect an answer within the call's budget (7.5 s
//!   for `assistant-request`), parses the typed answer or gives a stable failure reason and the
//!   event's fallback, and records the exchange in the same store after answering.
//!
//! A [`runtime::Runtime`] holds the parts in one place with one guard policy: jobs carry
//! their call's surfaces ([`directory::Route`]) and find their current server through the
//! host's [`directory::Directory`] at every attempt (so a restart loses no route), servers'
//! `credentialId`s resolve per tenant ([`credential`]: bearer, Vapi's HMAC, OAuth2 client
//! credentials), and [`sign::Scheme`] signs as Vapi, ElevenLabs, Retell or Bland do for
//! receivers written for those platforms.
//!
//! Everything left of the transport and the store is pure ([`template`], [`guard`],
//! [`cascade`], [`event`], [`sign`], retry scheduling): data in, data out, time and randomness
//! passed in. IO sits behind two small traits, [`outbox::Transport`] and [`outbox::Store`], with
//! ready implementations behind features. Errors are typed values ([`Rejection`],
//! [`TemplateError`], [`RenderError`], ...) gathered in one [`Error`] with [`Error::kind`].
//!
//! The crate root holds the types a first program names and the errors of the [`Error`] family;
//! the rest is reached through its module ([`event`] for every event payload, [`sign`] for the
//! header names, [`tenant`], [`tool`], ...).
//!
//! # Features
//!
//! `sqlite` and `reqwest` are on by default, so a runtime that turns nothing on still has a
//! durable outbox and the guarded transport.
//! With `default-features = false` the crate does no IO and pulls in no database or async
//! runtime: bring any [`outbox::Transport`] and [`outbox::Store`].
//!
//! - `reqwest` (default): `transport::ReqwestTransport`, the guarded HTTP transport on reqwest (rustls,
//!   tokio): every URL, every resolved address and every redirect hop is checked with the
//!   guard, no proxy, bodies read up to a limit.
//! - `tokio`: `transport::TokioTimer`, the [`transport::Timer`] on tokio's clock with which the
//!   boundary enforces its own deadlines (on with `reqwest` and `postgres`).
//! - `sqlite` (default): `outbox::SqliteStore`, the durable embedded store: one SQLite file (compiled
//!   in), WAL mode, versioned migrations, claims in `BEGIN IMMEDIATE`, its own thread so no
//!   executor is blocked.
//! - `postgres`: `outbox::PostgresStore`, the store for several runtime instances on one
//!   PostgreSQL: `FOR UPDATE SKIP LOCKED` claims, fenced leases, versioned migrations;
//!   re-exports `deadpool_postgres` (and through it `tokio_postgres`) for
//!   `PostgresStore::from_pool`; needs a tokio runtime.
//!
//! Items that need a feature carry its badge in the API docs (built with `--cfg docsrs`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cascade;
pub mod credential;
pub mod directory;
mod error;
pub mod event;
pub mod guard;
pub mod live;
pub mod logs;
pub mod outbox;
pub mod runtime;
pub mod sign;
pub mod template;
pub mod tenant;
pub mod tool;
pub mod transport;
mod vars;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use deadpool_postgres;
pub use http;
pub use ipnet;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use reqwest;
pub use url;

// The root holds what a first program names (the README's and the demo's types) and the errors
// of the crate `Error` family; everything else is reached through its module.
pub use cascade::{Cascade, CascadeError, Level};
pub use error::{Error, ErrorKind, Result};
pub use event::{
    Call, CallStatus, Customer, Envelope, Event, EventBody, EventError, EventType, Profile,
    StatusUpdate, Timestamp,
};
pub use guard::{Origin, Policy, PolicyError, Rejection};
pub use sign::{SignError, Signer, SigningSecret, Verifier, VerifyError};
pub use template::{RenderError, TemplateError};
pub use tenant::{AccessDenied, AccessRole, Action, Principal, Scope, TenantId, authorize};
pub use tool::{
    CompiledTool, ConfigError, PreparedRequest, ToolInvocation, ToolResult, ToolRunner, WebhookTool,
};
pub use vars::{AgentKind, Builtin, Secret, UnknownAgentKind, Vars};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
