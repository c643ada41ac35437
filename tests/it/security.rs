//! Hostile cases for every class of the red-team pass (issue 16), beside the module of the
//! concept where one fits better (redirects: `transport`; the logs server: `logs::server`).
//! The classes that touch storage (redaction by value, refusals shown to tenants, ids) run on
//! every store: memory, SQLite and PostgreSQL.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::event::{Event, EventError};
use agent_webhooks::guard::{
    Origin, Policy, PolicyError, Rejection, is_sensitive_header, special_block,
};
use agent_webhooks::http::{self, Method};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    Dispatcher, Job, JobId, ManualClock, MemoryStore, NewJob, Outbox, RetryPlan, SeededRandom,
    Store, Target, TargetRef, TargetResolver, Timestamp, Transport, TransportError,
    TransportErrorKind, Unresolved,
};
use agent_webhooks::template::{BodyTemplate, MAX_JSON_DEPTH, TemplateError, UrlTemplate};
use agent_webhooks::tenant::{TenantConfig, TenantConfigs};
use agent_webhooks::{
    AccessRole, AgentKind, Builtin, Principal, RenderError, Scope, Secret, TenantId, Vars,
    WebhookTool,
};
use async_trait::async_trait;
use proptest::prelude::*;
use serde_json::{Value, json};

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// A value nested `depth` arrays deep.
fn deep(depth: usize) -> Value {
    let mut v = Value::Null;
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

/// Drops a deep value one level at a time (serde_json's own drop recurses per level).
fn unwind(mut v: Value) {
    while let Value::Array(mut items) = v {
        v = items.pop().unwrap_or(Value::Null);
    }
}

// ---------------------------------------------------------------------------------------------
// 2 and 9: path values under server normalisations.

fn path_template() -> UrlTemplate {
    UrlTemplate::compile("https://api.example.com/a/{{args.v}}/b", AgentKind::Chat).unwrap()
}

fn render_path(value: &str) -> Result<String, RenderError> {
    path_template().render(&Vars::new().with_arg("v", value))
}

#[test]
fn hostile_path_values_are_refused_with_their_class() {
    let dots = [
        ".",
        "..",
        "...",
        "..;",
        ".;",
        "..;jsessionid=x",
        ".;x=1",
        "%2e%2e",
        "%2E.",
        ".%2e;",
        "%252e%252e",
        "..%3b",
        "..%00",
        ".. ",
        "..\t",
        "\u{ff0e}\u{ff0e}",
        "%c0%ae",
    ];
    for v in dots {
        match render_path(v) {
            Err(RenderError::DotSegment { .. }) => {}
            // Overlong UTF-8 is not a dot to any server we know of: it passes, encoded.
            Ok(url) if v == "%c0%ae" => assert!(url.contains("%25c0%25ae"), "{url}"),
            other => panic!("{v:?}: {other:?}"),
        }
    }
    for v in ["", ";", ";jsessionid=1", "%3b", "%00"] {
        assert!(
            matches!(render_path(v), Err(RenderError::EmptyPathValue { .. })),
            "{v:?}: {:?}",
            render_path(v)
        );
    }
    for v in [
        "../admin",
        "a/b",
        "a%2Fb",
        "a%252Fb",
        "a\\b",
        "%5c",
        "..%2f",
        "a\u{ff0f}b",
    ] {
        assert!(
            matches!(render_path(v), Err(RenderError::PathSeparator { .. })),
            "{v:?}: {:?}",
            render_path(v)
        );
    }
    // Ordinary values pass, `;` and `%` encoded.
    assert_eq!(
        render_path("+1 (555) 010-9999").unwrap(),
        "https://api.example.com/a/+1%20(555)%20010-9999/b"
    );
    assert_eq!(
        render_path("a;b=1").unwrap(),
        "https://api.example.com/a/a%3Bb=1/b"
    );
    assert_eq!(
        render_path("50%").unwrap(),
        "https://api.example.com/a/50%25/b"
    );
    assert_eq!(
        render_path("v1.2").unwrap(),
        "https://api.example.com/a/v1.2/b"
    );
    // A segment made of a value and the literal around it is judged whole.
    let t =
        UrlTemplate::compile("https://api.example.com/x/{{args.v}}./y", AgentKind::Chat).unwrap();
    assert!(matches!(
        t.render(&Vars::new().with_arg("v", ".")),
        Err(RenderError::DotSegment { .. })
    ));
}

/// The segments of a rendered path as the harshest common normaliser reads them: decoded
/// until stable, split on both slashes, each cut at `;`, trailing spaces dropped.
fn normalised_segments(rendered: &str) -> Vec<String> {
    let path = &rendered["https://api.example.com".len()..];
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..8 {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        bytes = out;
    }
    String::from_utf8_lossy(&bytes)
        .split(['/', '\\', '\u{ff0f}', '\u{ff3c}'])
        .skip(1)
        .map(|s| {
            s.split(';')
                .next()
                .unwrap()
                .trim_end_matches([' ', '\t', '\0'])
                .replace(['\u{ff0e}', '\u{2024}', '\u{fe52}'], ".")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the value, a rendered path has exactly its three segments, the middle one
    /// neither empty nor dots only, under the URL parser and under the normaliser above.
    #[test]
    fn a_path_value_stays_one_plain_segment(
        value in prop_oneof![
            "[./;%2eEfF5c\\\\ a\u{ff0e}\u{ff0f}]{0,12}",
            any::<String>(),
        ]
    ) {
        if let Ok(rendered) = render_path(&value) {
            let url = url::Url::parse(&rendered).unwrap();
            prop_assert_eq!(url.path_segments().unwrap().count(), 3, "{}", rendered);
            let segs = normalised_segments(&rendered);
            prop_assert_eq!(segs.len(), 3, "{} -> {:?}", rendered, segs);
            prop_assert_eq!(&segs[0], "a");
            prop_assert_eq!(&segs[2], "b");
            prop_assert!(!segs[1].is_empty(), "{}", rendered);
            prop_assert!(!segs[1].chars().all(|c| c == '.'), "{} -> {:?}", rendered, segs);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4 and 10: literal credentials, whole-value placeholders.

fn hostile_tool(parameters: Option<Value>) -> agent_webhooks::CompiledTool {
    let mut tool = json!({"name": "t", "config": {
        "url": "https://api.example.com/orders",
        "headers": {"Authorization": "Bearer sk_live_literal", "X-Api-Key": "k_literal_1",
                    "X-Call-Id": "{{call_sid}}", "X-Partner-Account": "{{secrets.acct}}"},
        "body": {"filter": "{{args.filter}}", "role": "{{args.role}}"}}});
    if let Some(p) = parameters {
        tool["parameters"] = p;
    }
    WebhookTool::from_value(tool)
        .unwrap()
        .compile(AgentKind::Chat)
        .unwrap()
}

#[test]
fn literal_credentials_are_sensitive_everywhere_they_are_shown() {
    let vars = Vars::new()
        .with(Builtin::CallSid, "CA1")
        .with_secret("acct", "acct_secret_9")
        .with_arg("filter", "open")
        .with_arg("role", "user");
    let prepared = hostile_tool(None)
        .prepare(&vars, &Policy::default())
        .unwrap();
    let headers = prepared.request().headers();
    for name in ["authorization", "x-api-key", "x-partner-account"] {
        assert!(headers[name].is_sensitive(), "{name}");
    }
    assert!(!headers["x-call-id"].is_sensitive());
    let shown = format!("{} {:?}", prepared.to_json(), prepared);
    for leak in ["sk_live_literal", "k_literal_1", "acct_secret_9"] {
        assert!(!shown.contains(leak), "{leak}: {shown}");
    }
    assert!(shown.contains("CA1"));
}

#[test]
fn whole_value_leaves_take_model_objects_only_where_declared() {
    let scalar_only = hostile_tool(None);
    for hostile in [json!({"$gt": 0}), json!({"role": "admin"}), json!(["a"])] {
        let vars = Vars::new()
            .with(Builtin::CallSid, "CA1")
            .with_secret("acct", "a")
            .with_arg("filter", "open")
            .with_arg("role", hostile.clone());
        let err = scalar_only.prepare(&vars, &Policy::default()).unwrap_err();
        assert!(
            matches!(
                err.as_render(),
                Some(RenderError::UndeclaredStructure { name }) if name == "args.role"
            ),
            "{err:?}"
        );
    }
    // Declared as an object: the filter may be one; the role still may not.
    let declared = hostile_tool(Some(json!({"type": "object", "properties": {
        "filter": {"type": "object"}, "role": {"type": "string"}}})));
    let vars = Vars::new()
        .with(Builtin::CallSid, "CA1")
        .with_secret("acct", "a")
        .with_arg("filter", json!({"status": "open"}))
        .with_arg("role", 7);
    let body: Value = serde_json::from_slice(
        declared
            .prepare(&vars, &Policy::default())
            .unwrap()
            .request()
            .body(),
    )
    .unwrap();
    assert_eq!(body, json!({"filter": {"status": "open"}, "role": 7}));
    let vars = vars.with_arg("role", json!({"role": "admin"}));
    assert!(declared.prepare(&vars, &Policy::default()).is_err());
    // A schema that is not an object is a config error at the field.
    let err = WebhookTool::from_value(json!({"name": "t", "parameters": [],
        "config": {"url": "https://api.example.com/"}}))
    .unwrap_err();
    assert_eq!(err.field(), "parameters");
}

// ---------------------------------------------------------------------------------------------
// 14: deep host JSON.

#[test]
fn deep_host_json_is_a_typed_error_not_a_stack_overflow() {
    let t = BodyTemplate::compile(&json!({"v": "{{args.v}}"}), AgentKind::Chat).unwrap();
    let vars = Vars::new().with_arg("v", deep(10_000));
    let declared = WebhookTool::from_value(json!({"name": "t",
        "parameters": {"properties": {"v": {"type": "array"}}},
        "config": {"url": "https://api.example.com/", "body": {"v": "{{args.v}}"}}}))
    .unwrap()
    .compile(AgentKind::Chat)
    .unwrap();
    let err = declared.prepare(&vars, &Policy::default()).unwrap_err();
    assert!(
        matches!(err.as_render(), Some(RenderError::TooDeep { limit, .. }) if *limit == MAX_JSON_DEPTH),
        "{err:?}"
    );
    // Undeclared, the structure is refused before its depth matters.
    assert!(t.render(&vars).is_err());
    // Just inside the limit renders.
    let ok = Vars::new().with_arg("v", deep(MAX_JSON_DEPTH - 1));
    assert!(declared.prepare(&ok, &Policy::default()).is_ok());
    // serde_json's drop of the host's value recurses; that is the host's value, not ours.
    std::mem::forget(vars);

    let mut body = json!({});
    body["b"] = deep(10_000);
    assert_eq!(
        BodyTemplate::compile(&body, AgentKind::Chat).unwrap_err(),
        TemplateError::TooDeep {
            limit: MAX_JSON_DEPTH
        }
    );
    unwind(body["b"].take());

    // Built by assignment: `json!` would serialize the interpolated value, recursively.
    let mut config = json!({"name": "t", "config": {"url": "https://api.example.com/"}});
    config["config"]["body"] = deep(10_000);
    assert!(WebhookTool::from_value(config).is_err());

    let mut message = json!({"type": "status-update"});
    message["x"] = deep(10_000);
    assert_eq!(
        Event::from_value(message).unwrap_err(),
        EventError::TooDeep {
            limit: MAX_JSON_DEPTH
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 6, 8, 13, 5: the guard.

#[test]
fn gateway_identity_client_ip_and_routing_headers_are_sensitive() {
    for name in [
        "X-Forwarded-Client-Cert",
        "True-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "X-Originating-IP",
        "X-Ms-Client-Principal",
        "X-Ms-Client-Principal-Name",
        "X-Ms-Client-Principal-Id",
        "X-Amzn-Oidc-Data",
        "X-Amzn-Oidc-Identity",
        "X-Amzn-Oidc-Accesstoken",
        "Cf-Access-Jwt-Assertion",
        "X-Jwt-Assertion",
        "X-Forwarded-Groups",
        "X-Forwarded-Preferred-Username",
        "Remote-Groups",
        "Remote-Email",
        "Remote-Name",
        "X-Original-URI",
        "X-Original-Host",
        "X-Forwarded-Uri",
        "X-Forwarded-Prefix",
        "X-Forwarded-Server",
        "X-Host",
        "X-Hmac",
        "X-Client-IP",
        "X-Cluster-Client-IP",
        "X-Envoy-Original-Path",
        "X-Pomerium-Jwt-Assertion",
        "X-Auth-Request-Groups",
        "X-Ssl-Client-Cert",
    ] {
        assert!(is_sensitive_header(name), "{name}");
    }
    for name in [
        "X-Call-Id",
        "Content-Type",
        "Idempotency-Key",
        "Accept-Language",
    ] {
        assert!(!is_sensitive_header(name), "{name}");
    }
}

#[test]
fn model_allowlist_entries_name_scheme_and_port() {
    let policy = Policy::builder()
        .allow_host("api.example.com")
        .allow_host("*.hooks.example.com")
        .allow_host("http://legacy.example.com:8080")
        .build()
        .unwrap();
    let allowed = [
        "https://api.example.com/v1",
        "https://api.example.com:443/v1",
        "https://a.hooks.example.com/",
        "http://legacy.example.com:8080/x",
    ];
    for url in allowed {
        assert!(policy.parse(url, Origin::Model).is_ok(), "{url}");
    }
    let refused = [
        "http://api.example.com/v1",
        "https://api.example.com:8443/v1",
        "http://a.hooks.example.com/",
        "https://a.hooks.example.com:444/",
        "http://legacy.example.com/x",
        "https://legacy.example.com:8080/x",
    ];
    for url in refused {
        assert_eq!(
            policy.parse(url, Origin::Model),
            Err(Rejection::HostNotAllowed),
            "{url}"
        );
        // Operator URLs are not bound by the model allowlist.
        assert!(policy.parse(url, Origin::Operator).is_ok(), "{url}");
    }
    for entry in [
        "*.com",
        "*.co.uk",
        "*.github.io",
        "*.s3.amazonaws.com",
        "*.unknowntld",
        "ftp://api.example.com",
        "api.example.com:0",
    ] {
        assert!(
            matches!(
                Policy::builder().allow_host(entry).build(),
                Err(PolicyError::AllowedHost { .. })
            ),
            "{entry}"
        );
    }
    // The same rule through the environment and a tenant's own hosts.
    assert!(
        Policy::from_env_with(|n| (n == "TOOL_API_REQUEST_ALLOWED_HOSTS").then(|| "*.co.uk".into()))
            .is_err()
    );
    assert!(
        TenantConfig::new()
            .allow_host("*.com")
            .policy(&Policy::default())
            .is_err()
    );
}

const METADATA: [&str; 10] = [
    "fd00:ec2::254",
    "fd00:ec2::23",
    "fd20:ce::254",
    "fd00:c1::a9fe:a9fe",
    "100.100.100.200",
    "::ffff:100.100.100.200",
    "169.254.169.254",
    "169.254.170.2",
    "168.63.129.16",
    "192.0.0.192",
];

fn every_hatch() -> Vec<(&'static str, Policy)> {
    let dev = || Policy::builder().development().dangerous();
    let mut out = vec![
        ("private", dev().allow_private_networks().build().unwrap()),
        ("loopback", dev().allow_loopback().build().unwrap()),
        (
            "all three",
            dev()
                .allow_private_networks()
                .dangerous()
                .allow_loopback()
                .dangerous()
                .allow_network("0.0.0.0/0".parse().unwrap())
                .dangerous()
                .allow_network("::/0".parse().unwrap())
                .build()
                .unwrap(),
        ),
    ];
    for net in [
        "fc00::/7",
        "fd00:ec2::/32",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "168.63.129.16/32",
        "192.0.0.0/24",
    ] {
        out.push((
            "network",
            dev().allow_network(net.parse().unwrap()).build().unwrap(),
        ));
    }
    out
}

#[test]
fn metadata_addresses_stay_refused_under_every_hatch() {
    for (hatch, policy) in every_hatch() {
        for text in METADATA {
            let addr: IpAddr = text.parse().unwrap();
            assert!(special_block(addr).is_some(), "{text}");
            assert!(policy.check_ip(addr).is_err(), "{hatch}: {text}");
            let url = match addr {
                IpAddr::V4(_) => format!("http://{addr}/latest/meta-data/"),
                IpAddr::V6(_) => format!("http://[{addr}]/latest/meta-data/"),
            };
            assert!(
                policy.parse(&url, Origin::Operator).is_err(),
                "{hatch}: {url}"
            );
            let named = policy
                .parse("http://hooks.example.com/", Origin::Operator)
                .unwrap();
            assert!(
                policy.check_resolved(&named, &[addr]).is_err(),
                "{hatch}: DNS answer {text}"
            );
        }
    }
    // Their neighbours open as documented.
    let private = Policy::builder()
        .development()
        .dangerous()
        .allow_private_networks()
        .build()
        .unwrap();
    for text in ["fd00:ec2::1", "fd20:ce::1", "100.100.100.201", "10.0.0.1"] {
        assert!(private.check_ip(text.parse().unwrap()).is_ok(), "{text}");
    }
    assert_eq!(
        private.check_ip("100.100.100.200".parse().unwrap()),
        Err(Rejection::MetadataAddress {
            address: "100.100.100.200".parse().unwrap()
        })
    );
}

#[test]
fn refusals_for_tenants_name_the_class_not_the_address() {
    let policy = Policy::default();
    let url = policy
        .parse("https://hooks.example.com/", Origin::Operator)
        .unwrap();
    for text in [
        "10.20.30.40",
        "fd12:3456::7",
        "100.64.1.2",
        "169.254.169.254",
    ] {
        let err = policy
            .check_resolved(&url, &[text.parse().unwrap()])
            .unwrap_err();
        assert!(err.to_string().contains(text), "{err}");
        let shown = err.for_tenant().to_string();
        assert!(!shown.contains(text), "{shown}");
        assert!(shown.contains("not globally reachable"), "{shown}");
        assert_eq!(err.for_tenant().code(), "special-address");
    }
}

// ---------------------------------------------------------------------------------------------
// 3, 5, 7 on every store: redaction by value, addresses hidden from tenants, ids.

async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    #[allow(unused_mut)]
    let mut out: Vec<(&'static str, Arc<dyn Store>)> =
        vec![("memory", Arc::new(MemoryStore::new()))];
    #[cfg(feature = "sqlite")]
    out.push((
        "sqlite",
        Arc::new(
            agent_webhooks::outbox::SqliteStore::open(":memory:")
                .await
                .unwrap(),
        ),
    ));
    #[cfg(feature = "postgres")]
    if let Some(store) = crate::stores::pg::store().await {
        out.push(("postgres", store));
    }
    out
}

const SECRET: &str = "sk_live_9f8e7d6c";
const NUMBER_SECRET: &str = "87654321";

/// Answers like a leaky receiver: the tenant's key and a capability URL in a 500 body; the
/// `dns` target is refused as the reqwest transport refuses a private DNS answer.
#[derive(Debug)]
struct Leaky;

#[async_trait]
impl Transport for Leaky {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        if request.uri().path().ends_with("/dns") {
            let policy = Policy::default();
            let url = policy
                .parse("https://hooks.acme.example/dns", Origin::Operator)
                .unwrap();
            let rejection = policy
                .check_resolved(&url, &["10.20.30.40".parse().unwrap()])
                .unwrap_err();
            return Err(TransportError::new(
                TransportErrorKind::Refused,
                rejection.to_string(),
            ));
        }
        let body = format!(
            "denied key {SECRET}; retry at https://hooks.slack.com/services/T0/B0/hushhushhush \
             or https://u:pw@api.acme.example/x?sig=AbCdEf123"
        );
        let mut response = http::Response::new(body.into_bytes());
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        Ok(response)
    }
}

#[derive(Debug)]
struct CapabilityTargets;

#[async_trait]
impl TargetResolver for CapabilityTargets {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        let url = match job.target.as_str() {
            "dns" => "https://hooks.acme.example/dns".to_owned(),
            _ => format!(
                "https://discord.com/api/webhooks/123456/{SECRET}tok?token={SECRET}&X-Amz-Signature=abc123"
            ),
        };
        Ok(Target::new(url.parse().unwrap(), "assistant"))
    }
}

fn hostile_payload() -> String {
    json!({"message": {"type": "end-of-call-report",
        "password": NUMBER_SECRET.parse::<u64>().unwrap(),
        "pin": 4321,
        "apiKey": true,
        "note": format!("customer read out {SECRET}"),
        "recordingUrl": "https://bucket.s3.amazonaws.com/r.wav?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA1",
        "callback": "https://user:hunter2@crm.acme.example/cb",
        "slack": "https://hooks.slack.com/services/T00/B00/XXXXsecretXXXX",
        "costBreakdown": {"llmPromptTokens": 12}}})
    .to_string()
}

#[tokio::test]
async fn log_views_redact_by_value_and_hide_addresses_from_tenants_on_every_store() {
    for (name, store) in stores().await {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_767_225_600));
        let dispatcher =
            Dispatcher::builder(store.clone(), Arc::new(Leaky), Arc::new(CapabilityTargets))
                .clock(Arc::new(clock.clone()))
                .plan(RetryPlan::none())
                .build()
                .unwrap();
        let outbox = Outbox::new(store.clone()).with_clock(Arc::new(clock.clone()));
        let acme = tenant("acme");
        for target in ["hook", "dns"] {
            outbox
                .enqueue(
                    &Scope::tenant(acme.clone()),
                    NewJob::new(
                        acme.clone(),
                        "end-of-call-report",
                        TargetRef::new(target).unwrap(),
                        hostile_payload(),
                    ),
                )
                .await
                .unwrap();
        }
        dispatcher.run_once().await.unwrap();
        let mut configs = TenantConfigs::new();
        configs.insert(
            acme.clone(),
            TenantConfig::new()
                .with_secret("crm", Secret::new(SECRET))
                .with_secret("pin", Secret::new(NUMBER_SECRET)),
        );
        let api = LogsApi::new(outbox, Arc::new(dispatcher)).with_secrets(Arc::new(configs));
        let leaks = [
            SECRET,
            NUMBER_SECRET,
            "hunter2",
            "deadbeef",
            "AKIA1",
            "XXXXsecretXXXX",
            "hushhushhush",
            "AbCdEf123",
            "abc123",
            "123456",
        ];
        for role in AccessRole::ALL {
            let who = Principal::new(acme.clone(), role, "u").unwrap();
            for uri in ["/logs/webhooks", "/logs/webhooks?kind=attempts"] {
                let request = http::Request::builder()
                    .method(Method::GET)
                    .uri(uri)
                    .body(Vec::<u8>::new())
                    .unwrap();
                let response = api.handle(&who, &request).await;
                assert_eq!(response.status(), 200, "{name} {role} {uri}");
                let text = String::from_utf8(response.body().clone()).unwrap();
                for leak in leaks {
                    assert!(
                        !text.contains(leak),
                        "{name} {role} {uri}: {leak} in {text}"
                    );
                }
                let page: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(page["items"].as_array().unwrap().len(), 2, "{name} {role}");
                let operator = role == AccessRole::SuperAdmin;
                if uri.contains("attempts") {
                    // The refused DNS answer: operators see the address, tenants the class.
                    assert_eq!(
                        text.contains("10.20.30.40"),
                        operator,
                        "{name} {role}: {text}"
                    );
                    assert!(text.contains("Private-Use"), "{name} {role}: {text}");
                } else {
                    // Counts are kept.
                    assert!(text.contains("\"llmPromptTokens\":12"), "{name} {role}");
                }
            }
        }
    }
}

/// The SplitMix64 state behind one output of [`SeededRandom`]: its output function is a
/// bijection, so an observer inverts it.
fn splitmix_state(z: u64) -> u64 {
    fn unshift(z: u64, s: u32) -> u64 {
        let mut x = z;
        let mut k = s;
        while k < 64 {
            x ^= z >> k;
            k += s;
        }
        x
    }
    fn inverse(a: u64) -> u64 {
        let mut x = a;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        }
        x
    }
    let mut x = unshift(z, 31);
    x = x.wrapping_mul(inverse(0x94d0_49bb_1331_11eb));
    x = unshift(x, 27);
    x = x.wrapping_mul(inverse(0xbf58_476d_1ce4_e5b9));
    unshift(x, 30)
}

/// How many draws lie between two SplitMix64 outputs, as a tenant holding both ids computes.
fn draws_between(first: &JobId, second: &JobId) -> u64 {
    let random =
        |id: &JobId| u64::from_str_radix(&id.as_str()[id.as_str().len() - 16..], 16).unwrap();
    let gamma_inverse = {
        let a: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut x = a;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        }
        x
    };
    splitmix_state(random(second))
        .wrapping_sub(splitmix_state(random(first)))
        .wrapping_mul(gamma_inverse)
}

async fn enqueue(outbox: &Outbox, t: &str) -> JobId {
    let new = NewJob::new(
        tenant(t),
        "status-update",
        TargetRef::new("a").unwrap(),
        b"{}".to_vec(),
    );
    outbox
        .enqueue(&Scope::tenant(tenant(t)), new)
        .await
        .unwrap()
        .job
        .id
}

#[tokio::test]
async fn ids_reveal_nothing_about_other_tenants_volume_on_every_store() {
    for (name, store) in stores().await {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_767_225_600));
        // The attack works against an invertible generator: the test can see a leak.
        let seeded = Outbox::new(store.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_random(Arc::new(SeededRandom::new(99)));
        let first = enqueue(&seeded, "acme").await;
        for _ in 0..7 {
            enqueue(&seeded, "globex").await;
        }
        let second = enqueue(&seeded, "acme").await;
        assert_eq!(draws_between(&first, &second), 8, "{name}");

        // The default outbox: the same computation yields noise, never the count.
        let outbox = Outbox::new(store.clone()).with_clock(Arc::new(clock.clone()));
        let mut ids = Vec::new();
        for round in 0..20 {
            let first = enqueue(&outbox, "acme").await;
            for _ in 0..round % 4 {
                enqueue(&outbox, "globex").await;
            }
            clock.advance(Duration::from_millis(1));
            let second = enqueue(&outbox, "acme").await;
            let n = draws_between(&first, &second);
            assert!(n > 1_000_000, "{name}: round {round} gave {n}");
            ids.push(first);
            ids.push(second);
            clock.advance(Duration::from_millis(1));
        }
        // Still time-sortable: later milliseconds sort later.
        for pair in ids.windows(2) {
            assert!(pair[0].as_str()[..16] <= pair[1].as_str()[..16], "{name}");
        }
        let page = store
            .jobs(
                &Scope::tenant(tenant("acme")),
                &agent_webhooks::outbox::JobQuery::new(),
            )
            .await
            .unwrap();
        assert!(!page.items.is_empty(), "{name}");
    }
}
