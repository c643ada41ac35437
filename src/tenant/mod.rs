//! Tenants, roles and the scope every store call runs under.
//!
//! - [`TenantId`]: every tool config, secret, job and attempt belongs to one tenant.
//! - [`Scope`]: which tenants a store call may see; a store applies it itself.
//! - [`Principal`] (tenant, [`AccessRole`], user) and [`Action`]: [`authorize`] decides every
//!   action from one table, and [`Principal::scope_for`] gives the scope to query with.
//! - [`TenantConfigs`]: per-tenant tools, secrets, webhook targets and allowlist, looked up only
//!   within a scope.

use std::fmt;
use std::sync::Arc;

mod access;
mod config;

pub use access::{
    AccessDecision, AccessDenied, AccessRole, Action, InvalidPrincipal, MAX_USER_ID_LEN, Principal,
    Reach, UnknownAction, UnknownRole, authorize,
};
pub use config::{TenantConfig, TenantConfigs};

/// The longest tenant id accepted, in bytes.
pub const MAX_TENANT_ID_LEN: usize = 128;

/// The id of a tenant (an organization of the runtime): 1 to 128 bytes of `A-Z a-z 0-9 _ - :`.
///
/// Cheap to clone (shared string).
///
/// ```
/// use agent_webhooks::TenantId;
/// let acme = TenantId::new("org_acme")?;
/// assert_eq!(acme.as_str(), "org_acme");
/// assert!(TenantId::new("a b").is_err());
/// # Ok::<(), agent_webhooks::tenant::InvalidTenantId>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

/// A tenant id that is empty, too long or has a character outside `A-Z a-z 0-9 _ - :`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tenant id `{shown}` is invalid: use 1 to {MAX_TENANT_ID_LEN} characters of A-Z a-z 0-9 _ - :"
)]
pub struct InvalidTenantId {
    shown: String,
}

impl TenantId {
    /// Checks and wraps a tenant id.
    ///
    /// # Errors
    /// [`InvalidTenantId`] when the id is empty, longer than [`MAX_TENANT_ID_LEN`] or has a
    /// character outside `A-Z a-z 0-9 _ - :`.
    pub fn new(id: &str) -> Result<Self, InvalidTenantId> {
        let ok = !id.is_empty()
            && id.len() <= MAX_TENANT_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
        if ok {
            Ok(Self(Arc::from(id)))
        } else {
            Err(InvalidTenantId {
                shown: id.chars().take(40).flat_map(char::escape_default).collect(),
            })
        }
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which tenants a store call may see and change.
///
/// Every store method that reads or changes jobs or attempts takes one, and the store applies it
/// itself: a job of another tenant is *not found*, never *forbidden*, so its existence does not
/// leak.
///
/// ```
/// use agent_webhooks::{Scope, TenantId};
/// let acme = TenantId::new("acme")?;
/// let globex = TenantId::new("globex")?;
/// assert!(Scope::tenant(acme.clone()).contains(&acme));
/// assert!(!Scope::tenant(acme).contains(&globex));
/// assert!(Scope::all_tenants().contains(&globex));
/// # Ok::<(), agent_webhooks::tenant::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// One tenant's jobs and attempts only.
    Tenant(TenantId),
    /// Every tenant: the dispatcher, and a super admin.
    AllTenants,
}

impl Scope {
    /// The scope of one tenant.
    #[must_use]
    pub fn tenant(id: TenantId) -> Self {
        Scope::Tenant(id)
    }

    /// The scope of every tenant (the dispatcher, a super admin).
    #[must_use]
    pub fn all_tenants() -> Self {
        Scope::AllTenants
    }

    /// Whether this scope includes `tenant`.
    #[must_use]
    pub fn contains(&self, tenant: &TenantId) -> bool {
        match self {
            Scope::Tenant(id) => id == tenant,
            Scope::AllTenants => true,
        }
    }

    /// The one tenant of this scope, or `None` for [`Scope::AllTenants`].
    #[must_use]
    pub fn as_tenant(&self) -> Option<&TenantId> {
        match self {
            Scope::Tenant(id) => Some(id),
            Scope::AllTenants => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_rules() {
        assert!(TenantId::new("org_1:eu-west").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a.b").is_err());
        assert!(TenantId::new(&"x".repeat(MAX_TENANT_ID_LEN)).is_ok());
        assert!(TenantId::new(&"x".repeat(MAX_TENANT_ID_LEN + 1)).is_err());
        let e = TenantId::new("a\nb").unwrap_err();
        assert!(e.to_string().contains("a\\nb"), "{e}");
    }
}
