//! Outbound request guardrails: what may leave the runtime.

mod header;

pub use header::{is_forbidden_header, is_sensitive_header};
