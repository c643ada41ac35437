//! Roles and authorization: the table from tests/data/authorization.tsv, cell by cell;
//! principals; per-tenant configuration lookups.

use std::collections::HashSet;

use agent_webhooks::guard::{Origin, Policy, PolicyError, Rejection};

use agent_webhooks::tenant::{
    AccessDecision, InvalidPrincipal, Reach, TenantConfig, TenantConfigs,
};
use agent_webhooks::{
    AccessDenied, AccessRole, Action, Principal, Scope, Secret, TenantId, authorize,
};

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn expect(decision: &AccessDecision, word: &str, role: AccessRole, action: Action) -> bool {
    match word {
        "allow" => *decision == AccessDecision::Allow,
        "forbidden" => {
            *decision == AccessDecision::Deny(AccessDenied::RoleNotAllowed { role, action })
        }
        "not_found" => *decision == AccessDecision::Deny(AccessDenied::OtherTenant { action }),
        other => panic!("unknown decision `{other}` in authorization.tsv"),
    }
}

#[test]
fn authorization_table_every_role_action_and_tenant() {
    let data = include_str!("../data/authorization.tsv");
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let mut seen = HashSet::new();
    for line in data.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [role, action, own, other] = cols[..] else {
            panic!("bad line {line:?}");
        };
        let role: AccessRole = role.parse().unwrap();
        let action: Action = action.parse().unwrap();
        assert!(seen.insert((role, action)), "duplicate line {line:?}");
        let principal = Principal::new(acme.clone(), role, "u_1").unwrap();
        let on_own = authorize(&principal, action, &acme);
        let on_other = authorize(&principal, action, &globex);
        assert!(
            expect(&on_own, own, role, action),
            "{line}: own tenant gave {on_own:?}"
        );
        assert!(
            expect(&on_other, other, role, action),
            "{line}: other tenant gave {on_other:?}"
        );
        // The scope handed to stores agrees with the table.
        let scope = principal.scope_for(action);
        match (own, other) {
            ("allow", "allow") => assert_eq!(scope, Ok(Scope::AllTenants)),
            ("allow", "not_found") => assert_eq!(scope, Ok(Scope::tenant(acme.clone()))),
            _ => assert!(scope.is_err(), "{line}"),
        }
        let reach = role.reach(action);
        assert_eq!(reach == Reach::Nowhere, own == "forbidden", "{line}");
    }
    // Every role x action is in the file: nothing is decided by accident.
    assert_eq!(seen.len(), AccessRole::ALL.len() * Action::ALL.len());
}

#[test]
fn users_see_logs_but_not_response_bodies_and_do_not_replay() {
    let acme = tenant("acme");
    let user = Principal::new(acme.clone(), AccessRole::User, "bob").unwrap();
    assert!(authorize(&user, Action::ViewWebhookLogs, &acme).is_allowed());
    for action in [
        Action::ViewResponseBodies,
        Action::ReplayWebhook,
        Action::RetryWebhook,
    ] {
        let denied = authorize(&user, action, &acme).into_result().unwrap_err();
        assert!(denied.to_string().contains("user may not"), "{denied}");
    }
}

#[test]
fn principals_deserialize_checked() {
    let p: Principal =
        serde_json::from_str(r#"{"tenant": "acme", "role": "client_admin", "user": "ann"}"#)
            .unwrap();
    assert_eq!(
        (p.tenant().as_str(), p.role(), p.user()),
        ("acme", AccessRole::ClientAdmin, "ann")
    );
    for bad in [
        r#"{"tenant": "a b", "role": "user", "user": "ann"}"#,
        r#"{"tenant": "acme", "role": "admin", "user": "ann"}"#,
        r#"{"tenant": "acme", "role": "user", "user": ""}"#,
        r#"{"tenant": "acme", "role": "user", "user": "ann", "extra": 1}"#,
        r#"{"tenant": "acme", "role": "user"}"#,
    ] {
        assert!(serde_json::from_str::<Principal>(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Principal::new(tenant("acme"), AccessRole::User, "a\nb"),
        Err(InvalidPrincipal::User)
    );
    let sa = Principal::new(tenant("platform"), AccessRole::SuperAdmin, "ops").unwrap();
    assert_eq!(sa.scope(), Scope::AllTenants);
}

#[test]
fn tenant_config_is_looked_up_only_within_the_scope() {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let mut configs = TenantConfigs::new();
    configs.insert(
        acme.clone(),
        TenantConfig::new()
            .with_secret("crm_key", Secret::new("sk_acme"))
            .with_webhook_target(
                "assistant",
                "https://hooks.acme.example/vapi".parse().unwrap(),
            )
            .allow_host("api.acme.example"),
    );
    configs.insert(
        globex.clone(),
        TenantConfig::new()
            .with_secret("crm_key", Secret::new("sk_globex"))
            .allow_host("api.globex.example"),
    );
    let admin = Principal::new(acme.clone(), AccessRole::ClientAdmin, "ann").unwrap();
    let scope = admin.scope_for(Action::ManageSecrets).unwrap();
    let own = configs.get(&scope, &acme).unwrap();
    assert_eq!(own.secret("crm_key").unwrap().expose(), "sk_acme");
    assert!(own.allows_host("api.acme.example"));
    assert!(!own.allows_host("api.globex.example"));
    // Each tenant's guard policy: the runtime's plus its own hosts, never another's.
    let runtime = Policy::builder().build().unwrap();
    let acme_policy = own.policy(&runtime).unwrap();
    assert!(
        acme_policy
            .parse("https://api.acme.example/x", Origin::Model)
            .is_ok()
    );
    assert_eq!(
        acme_policy.parse("https://api.globex.example/x", Origin::Model),
        Err(Rejection::HostNotAllowed)
    );
    assert_eq!(
        runtime.parse("https://api.acme.example/x", Origin::Model),
        Err(Rejection::HostNotAllowed)
    );
    // The allowlist opens hosts, not refused addresses.
    let odd = TenantConfig::new()
        .allow_host("169.254.169.254")
        .policy(&runtime)
        .unwrap();
    assert!(
        odd.parse("http://169.254.169.254/latest", Origin::Model)
            .is_err()
    );
    assert!(matches!(
        TenantConfig::new().allow_host("a b").policy(&runtime),
        Err(PolicyError::AllowedHost { .. })
    ));
    assert!(configs.get(&scope, &globex).is_none());
    assert_eq!(configs.tenants(&scope), vec![&acme]);
    // A user may not manage secrets at all; a super admin reaches both tenants.
    let user = Principal::new(acme.clone(), AccessRole::User, "bob").unwrap();
    assert!(user.scope_for(Action::ManageSecrets).is_err());
    let sa = Principal::new(tenant("platform"), AccessRole::SuperAdmin, "ops").unwrap();
    let all = sa.scope_for(Action::ManageAllowlist).unwrap();
    assert_eq!(configs.tenants(&all), vec![&acme, &globex]);
    // Debug never shows a secret value.
    let shown = format!("{configs:?}");
    assert!(
        !shown.contains("sk_acme") && !shown.contains("sk_globex"),
        "{shown}"
    );
}
