//! Roles, principals, actions and the one table that decides who may do what.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tenant::{Scope, TenantId};

/// What a principal is allowed to be in the runtime.
///
/// | role | reach |
/// |---|---|
/// | [`AccessRole::SuperAdmin`] | every tenant; creates and manages agents, models, users and tenants |
/// | [`AccessRole::ClientAdmin`] | its own tenant; manages users, agents, tools, secrets and webhook targets; replays and retries webhooks |
/// | [`AccessRole::User`] | its own tenant; views agents, conversations and webhook logs (without response bodies) |
///
/// The full table is [`authorize`]'s; [`AccessRole::reach`] reads one cell of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessRole {
    /// The operator of the whole runtime: every tenant.
    SuperAdmin,
    /// The administrator of one tenant (a client of an agency, a customer of a platform).
    ClientAdmin,
    /// A member of one tenant who looks but does not change.
    User,
}

impl AccessRole {
    /// Every role, in table order.
    pub const ALL: [AccessRole; 3] = [
        AccessRole::SuperAdmin,
        AccessRole::ClientAdmin,
        AccessRole::User,
    ];

    /// The name used in configuration files: `super_admin`, `client_admin`, `user`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::SuperAdmin => "super_admin",
            AccessRole::ClientAdmin => "client_admin",
            AccessRole::User => "user",
        }
    }

    /// How far this role may perform `action`: one cell of the authorization table.
    #[must_use]
    pub fn reach(self, action: Action) -> Reach {
        let row = &TABLE[action as usize];
        match self {
            AccessRole::SuperAdmin => row.super_admin,
            AccessRole::ClientAdmin => row.client_admin,
            AccessRole::User => row.user,
        }
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `super_admin`, `client_admin` or `user`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role `{0}` is unknown: use super_admin, client_admin or user")]
pub struct UnknownRole(String);

impl FromStr for AccessRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        AccessRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(40).flat_map(char::escape_default).collect()))
    }
}

/// Every operation a principal can ask for; [`authorize`] decides each in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// List and inspect webhook jobs and attempts (status, timings, errors, payloads).
    ViewWebhookLogs,
    /// Read the response bodies receivers sent back on attempts. Not for a
    /// [`AccessRole::User`]: a body is whatever the customer's endpoint answered (stack traces,
    /// internal ids, echoed credentials), which is for the people who run the integration.
    ViewResponseBodies,
    /// Send a stored attempt's job again, now, to its current target.
    ReplayWebhook,
    /// Requeue a failed or skipped job so its retry plan runs again.
    RetryWebhook,
    /// See agents and their configuration (never secret values).
    ViewAgents,
    /// Create, change and delete agents.
    ManageAgents,
    /// Create, change and delete webhook tools.
    ManageTools,
    /// Read conversations (transcripts, call records).
    ViewConversations,
    /// Create, change and delete users and their roles.
    ManageUsers,
    /// Create and change the models agents may use (platform-wide).
    ManageModels,
    /// Set and rotate a tenant's secrets (API keys, signing secrets). Write-only: no action
    /// reads a secret value back.
    ManageSecrets,
    /// Set a tenant's webhook targets (server URLs of the cascade).
    ManageWebhookTargets,
    /// Change the hosts the guard lets a tenant's requests reach. A platform control: widening
    /// egress is the operator's call, not the client's.
    ManageAllowlist,
    /// Create and remove tenants.
    ManageTenants,
}

impl Action {
    /// Every action, in table order.
    pub const ALL: [Action; 14] = [
        Action::ViewWebhookLogs,
        Action::ViewResponseBodies,
        Action::ReplayWebhook,
        Action::RetryWebhook,
        Action::ViewAgents,
        Action::ManageAgents,
        Action::ManageTools,
        Action::ViewConversations,
        Action::ManageUsers,
        Action::ManageModels,
        Action::ManageSecrets,
        Action::ManageWebhookTargets,
        Action::ManageAllowlist,
        Action::ManageTenants,
    ];

    /// The snake-case name (`view_webhook_logs`), as in logs and test tables.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        TABLE[self as usize].name
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, UnknownAction> {
        TABLE
            .iter()
            .find(|row| row.name == s)
            .map(|row| row.action)
            .ok_or_else(|| {
                UnknownAction(s.chars().take(40).flat_map(char::escape_default).collect())
            })
    }
}

/// An action name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("action `{0}` is unknown")]
pub struct UnknownAction(String);

/// How far a role may perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reach {
    /// Not at all.
    Nowhere,
    /// Within the principal's own tenant.
    OwnTenant,
    /// In every tenant.
    AllTenants,
}

struct Row {
    action: Action,
    name: &'static str,
    super_admin: Reach,
    client_admin: Reach,
    user: Reach,
}

const fn row(
    action: Action,
    name: &'static str,
    super_admin: Reach,
    client_admin: Reach,
    user: Reach,
) -> Row {
    Row {
        action,
        name,
        super_admin,
        client_admin,
        user,
    }
}

use Reach::{AllTenants as ANY, Nowhere as NO, OwnTenant as OWN};

/// THE authorization table: one row per [`Action`], in declaration order (a unit test checks
/// that `TABLE[action as usize].action == action`).
#[rustfmt::skip]
const TABLE: [Row; Action::ALL.len()] = [
    //   action                        name                      super  client user
    row(Action::ViewWebhookLogs,      "view_webhook_logs",      ANY,   OWN,   OWN),
    row(Action::ViewResponseBodies,   "view_response_bodies",   ANY,   OWN,   NO),
    row(Action::ReplayWebhook,        "replay_webhook",         ANY,   OWN,   NO),
    row(Action::RetryWebhook,         "retry_webhook",          ANY,   OWN,   NO),
    row(Action::ViewAgents,           "view_agents",            ANY,   OWN,   OWN),
    row(Action::ManageAgents,         "manage_agents",          ANY,   OWN,   NO),
    row(Action::ManageTools,          "manage_tools",           ANY,   OWN,   NO),
    row(Action::ViewConversations,    "view_conversations",     ANY,   OWN,   OWN),
    row(Action::ManageUsers,          "manage_users",           ANY,   OWN,   NO),
    row(Action::ManageModels,         "manage_models",          ANY,   NO,    NO),
    row(Action::ManageSecrets,        "manage_secrets",         ANY,   OWN,   NO),
    row(Action::ManageWebhookTargets, "manage_webhook_targets", ANY,   OWN,   NO),
    row(Action::ManageAllowlist,      "manage_allowlist",       ANY,   NO,    NO),
    row(Action::ManageTenants,        "manage_tenants",         ANY,   NO,    NO),
];

/// The longest user id accepted, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

/// Who is asking: a user of a tenant, in a role. The host authenticates and builds it.
///
/// Deserializes from `{"tenant": "acme", "role": "client_admin", "user": "u_1"}` (checked).
///
/// ```
/// use agent_webhooks::{AccessRole, Action, Principal, Scope, TenantId};
/// let acme = TenantId::new("acme")?;
/// let admin = Principal::new(acme.clone(), AccessRole::ClientAdmin, "u_1")?;
/// assert_eq!(admin.scope(), Scope::tenant(acme.clone()));
/// assert!(agent_webhooks::authorize(&admin, Action::ReplayWebhook, &acme).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "RawPrincipal")]
pub struct Principal {
    tenant: TenantId,
    role: AccessRole,
    user: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    tenant: String,
    role: AccessRole,
    user: String,
}

impl TryFrom<RawPrincipal> for Principal {
    type Error = InvalidPrincipal;
    fn try_from(raw: RawPrincipal) -> Result<Self, InvalidPrincipal> {
        let tenant = TenantId::new(&raw.tenant).map_err(InvalidPrincipal::Tenant)?;
        Principal::new(tenant, raw.role, raw.user)
    }
}

/// A principal that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPrincipal {
    /// The tenant id is invalid.
    #[error(transparent)]
    Tenant(crate::tenant::InvalidTenantId),
    /// The user id is empty, too long or has a control character.
    #[error("user id is invalid: use 1 to {MAX_USER_ID_LEN} bytes without control characters")]
    User,
}

impl Principal {
    /// A principal of `tenant` in `role`, acting as `user`.
    ///
    /// # Errors
    /// [`InvalidPrincipal::User`] when the user id is empty, longer than [`MAX_USER_ID_LEN`]
    /// or has a control character.
    pub fn new(
        tenant: TenantId,
        role: AccessRole,
        user: impl Into<String>,
    ) -> Result<Self, InvalidPrincipal> {
        let user = user.into();
        if user.is_empty() || user.len() > MAX_USER_ID_LEN || user.chars().any(char::is_control) {
            return Err(InvalidPrincipal::User);
        }
        Ok(Principal { tenant, role, user })
    }

    /// The principal's own tenant.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The principal's role.
    #[must_use]
    pub fn role(&self) -> AccessRole {
        self.role
    }

    /// The user id.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The widest scope this principal ever sees: every tenant for a super admin, its own
    /// tenant otherwise. Prefer [`Principal::scope_for`], which also checks the action.
    #[must_use]
    pub fn scope(&self) -> Scope {
        match self.role {
            AccessRole::SuperAdmin => Scope::AllTenants,
            _ => Scope::tenant(self.tenant.clone()),
        }
    }

    /// The scope in which this principal may perform `action`: the scope to pass to every
    /// store call made for it.
    ///
    /// # Errors
    /// [`AccessDenied::RoleNotAllowed`] when the role may not perform `action` anywhere.
    pub fn scope_for(&self, action: Action) -> Result<Scope, AccessDenied> {
        match self.role.reach(action) {
            Reach::AllTenants => Ok(Scope::AllTenants),
            Reach::OwnTenant => Ok(Scope::tenant(self.tenant.clone())),
            _ => Err(AccessDenied::RoleNotAllowed {
                role: self.role,
                action,
            }),
        }
    }
}

/// What [`authorize`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessDecision {
    /// Go ahead.
    Allow,
    /// Refused, and why.
    Deny(AccessDenied),
}

impl AccessDecision {
    /// Whether the action is allowed.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        matches!(self, AccessDecision::Allow)
    }

    /// `Ok(())` when allowed.
    ///
    /// # Errors
    /// The [`AccessDenied`] reason otherwise.
    pub fn into_result(self) -> Result<(), AccessDenied> {
        match self {
            AccessDecision::Allow => Ok(()),
            AccessDecision::Deny(denied) => Err(denied),
        }
    }
}

/// Why an action was refused.
///
/// An API shows [`AccessDenied::RoleNotAllowed`] as *forbidden* (403) and
/// [`AccessDenied::OtherTenant`] as *not found* (404), so that another tenant's ids do not leak
/// their existence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessDenied {
    /// The role may not perform the action in any tenant.
    #[error("role {role} may not {action}; ask an administrator")]
    RoleNotAllowed {
        /// The principal's role.
        role: AccessRole,
        /// The action asked for.
        action: Action,
    },
    /// The role may perform the action only in its own tenant, and the resource is another's.
    #[error("not found")]
    OtherTenant {
        /// The action asked for.
        action: Action,
    },
}

/// Decides whether `principal` may perform `action` on a resource of `resource_tenant`, from
/// the one authorization table:
///
/// | action | super admin | client admin | user |
/// |---|---|---|---|
/// | view webhook logs | all tenants | own tenant | own tenant |
/// | view response bodies | all tenants | own tenant | - |
/// | replay webhook, retry webhook | all tenants | own tenant | - |
/// | view agents, view conversations | all tenants | own tenant | own tenant |
/// | manage agents, tools, users, secrets, webhook targets | all tenants | own tenant | - |
/// | manage models, allowlist, tenants | all tenants | - | - |
///
/// A role that may not perform the action at all is refused with
/// [`AccessDenied::RoleNotAllowed`] whatever the tenant, so the answer never depends on
/// whether another tenant's resource exists.
///
/// ```
/// use agent_webhooks::{authorize, AccessDenied, AccessRole, Action, Principal, TenantId};
/// let (acme, globex) = (TenantId::new("acme")?, TenantId::new("globex")?);
/// let user = Principal::new(acme.clone(), AccessRole::User, "u_2")?;
/// assert!(authorize(&user, Action::ViewWebhookLogs, &acme).is_allowed());
/// assert!(!authorize(&user, Action::ViewWebhookLogs, &globex).is_allowed());
/// assert!(matches!(
///     authorize(&user, Action::RetryWebhook, &acme).into_result(),
///     Err(AccessDenied::RoleNotAllowed { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn authorize(
    principal: &Principal,
    action: Action,
    resource_tenant: &TenantId,
) -> AccessDecision {
    match principal.role.reach(action) {
        Reach::AllTenants => AccessDecision::Allow,
        Reach::OwnTenant if principal.tenant == *resource_tenant => AccessDecision::Allow,
        Reach::OwnTenant => AccessDecision::Deny(AccessDenied::OtherTenant { action }),
        _ => AccessDecision::Deny(AccessDenied::RoleNotAllowed {
            role: principal.role,
            action,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_action_in_order() {
        for (i, action) in Action::ALL.into_iter().enumerate() {
            assert_eq!(action as usize, i);
            assert_eq!(TABLE[i].action, action);
            assert_eq!(TABLE[i].name.parse::<Action>(), Ok(action));
        }
    }

    #[test]
    fn a_super_admin_reaches_everything() {
        for action in Action::ALL {
            assert_eq!(AccessRole::SuperAdmin.reach(action), Reach::AllTenants);
        }
    }

    #[test]
    fn roles_parse_their_names() {
        for role in AccessRole::ALL {
            assert_eq!(role.as_str().parse::<AccessRole>(), Ok(role));
        }
        assert!("admin".parse::<AccessRole>().is_err());
    }
}
