//! Outbound request guardrails: what may leave the runtime.
//!
//! A [`Policy`] is built once (in code with [`Policy::builder`], or from the environment with
//! [`Policy::from_env`]) and checks, without any IO of its own:
//! - every URL before a request is built ([`Policy::parse`], [`Policy::check_url`]), with the
//!   URL's [`Origin`] (operator-configured or model-provided);
//! - every address DNS returns, before the transport connects ([`Policy::check_resolved`]);
//! - every redirect hop, with the headers to drop when it leaves the first URL's origin
//!   ([`Policy::check_redirect`]).
//!
//! A refusal is a typed [`Rejection`]. The special-purpose address tables reproduce the IANA
//! registries (snapshot [`REGISTRY_DATE`]) row by row; [`special_block`] is the classifier.
//!
//! ```
//! use agent_webhooks::guard::{Origin, Policy, Rejection};
//!
//! let policy = Policy::default(); // production, empty allowlist
//! let url = policy.parse("https://hooks.example.com/call-ended", Origin::Operator)?;
//! // The transport resolved the name: check before connecting.
//! assert!(policy.check_resolved(&url, &["93.184.215.14".parse()?]).is_ok());
//! assert!(matches!(
//!     policy.check_resolved(&url, &["93.184.215.14".parse()?, "10.0.0.7".parse()?]),
//!     Err(Rejection::SpecialAddress { .. })
//! ));
//! // Model-provided URLs need the host allowlist.
//! assert_eq!(
//!     policy.parse("https://hooks.example.com/", Origin::Model),
//!     Err(Rejection::HostNotAllowed)
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
mod header;
mod name;
mod policy;
mod rejection;

pub use address::{REGISTRY_DATE, SpecialBlock, special_block};
pub use header::{is_forbidden_header, is_sensitive_header};
pub use policy::{
    DangerousPolicyBuilder, ENV_ALLOW_LOOPBACK, ENV_ALLOW_PRIVATE_NETWORKS, ENV_ALLOWED_HOSTS,
    ENV_ALLOWED_NETWORKS, ENV_ALLOWED_PORTS, ENV_MODE, Mode, Origin, Policy, PolicyBuilder,
    RedirectHop,
};
pub use rejection::{Hatch, PolicyError, Rejection, TenantRejection};
