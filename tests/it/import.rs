//! Imports from other platforms: fixtures written from each platform's published schema and
//! docs (tests/data/platforms/), the variable tables, the Liquid subset and response mapping.

use std::path::Path;

use agent_webhooks::import::{ImportProblem, ImportedTool, MappedVariable, Platform, import};
use agent_webhooks::tool::ResponseMap;
use agent_webhooks::{AgentKind, Policy, TemplateError, Timestamp, ToolResult, Vars, WebhookTool};
use serde_json::{Value, json};

fn fixture(path: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/platforms")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

fn platform_of(path: &str) -> Platform {
    path.split('/').next().unwrap().parse().unwrap()
}

fn vars() -> Vars {
    serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/migrated_call_vars.json"),
        )
        .unwrap(),
    )
    .unwrap()
}

/// Every fixture: imported, or refused naming the field (and never a panic).
#[test]
fn every_fixture_imports_or_names_the_field() {
    let cases: &[(&str, Result<(), &str>)] = &[
        ("vapi/api-request-coffee-order.json", Ok(())),
        ("vapi/api-request-order-status.json", Ok(())),
        ("vapi/function-with-server.json", Ok(())),
        ("vapi/refused-credential.json", Err("credentialId")),
        ("vapi/refused-custom-variable.json", Err("url")),
        ("vapi/refused-filter.json", Err("parameters[0].value")),
        ("vapi/refused-retries.json", Err("backoffPlan.maxRetries")),
        ("vapi/refused-timezone.json", Err("parameters[0].value")),
        ("vapi/refused-unknown-field.json", Err("mystery")),
        ("elevenlabs/webhook-get-order.json", Ok(())),
        (
            "elevenlabs/refused-duration.json",
            Err("api_schema.request_body_schema.properties.secs.dynamic_variable"),
        ),
        (
            "elevenlabs/refused-auth-connection.json",
            Err("api_schema.auth_connection"),
        ),
        ("retell/custom-args-at-root.json", Ok(())),
        ("retell/refused-wrapped-args.json", Err("args_at_root")),
        ("retell/refused-local-time.json", Err("url")),
        ("bland/custom-tool-book.json", Ok(())),
        ("bland/refused-from.json", Err("url")),
        ("bland/refused-jsonpath-filter.json", Err("response")),
    ];
    for (path, expected) in cases {
        let got = import(platform_of(path), fixture(path));
        match (expected, got) {
            (Ok(()), Ok(_)) => {}
            (Err(field), Err(e)) => {
                assert_eq!(e.field(), *field, "{path}: {e}");
                assert!(e.to_string().contains(field), "{path}: {e}");
                // Into the crate error, with the cause chained.
                let err: agent_webhooks::Error = e.into();
                assert_eq!(err.kind(), agent_webhooks::ErrorKind::Import);
            }
            (expected, got) => panic!("{path}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn vapi_api_request_maps_body_headers_parameters_and_liquid() {
    let imported = import(
        Platform::Vapi,
        fixture("vapi/api-request-coffee-order.json"),
    )
    .unwrap();
    let set_aside: Vec<&str> = imported
        .set_aside
        .iter()
        .map(|s| s.field.as_str())
        .collect();
    assert_eq!(
        set_aside,
        ["id", "orgId", "createdAt", "updatedAt", "messages"]
    );
    let tool = imported.webhook_tool().unwrap().clone();
    assert_eq!(tool.config.headers["X-Docs-Call-Type"], "{{ call_type }}");
    // The tool round-trips through its JSON (what `webhookctl import` prints).
    let again = WebhookTool::from_value(imported.to_json()).unwrap();
    assert_eq!(again, tool);
    let prepared = tool
        .compile(AgentKind::Chat)
        .unwrap()
        .prepare(&vars(), &Policy::default())
        .unwrap();
    let body: Value = serde_json::from_slice(prepared.request().body()).unwrap();
    assert_eq!(
        body,
        json!({"customerName": "Ada", "productId": "tea-sampler", "quantity": 2,
               "source": "inbound-phone", "requestTimestamp": "2026-05-31T13:05:09Z"})
    );
}

#[test]
fn platform_variables_keep_our_availability_and_escaping() {
    let imported = import(
        Platform::Vapi,
        fixture("vapi/api-request-order-status.json"),
    )
    .unwrap();
    let tool = imported.webhook_tool().unwrap();
    // customer.number is the caller's number: phone agents only.
    let err = tool.compile(AgentKind::Chat).unwrap_err();
    assert!(err.to_string().contains("caller_phone"), "{err}");
    let prepared = tool
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(&vars(), &Policy::default())
        .unwrap();
    // The model's `A-17 x` stays one path segment; `+` is escaped in the query.
    assert_eq!(
        prepared.url().as_str(),
        "https://api.example.com/orders/A-17%20x?caller=%2B15551234567&line=%2B15550001111&call=call_7f3c2a"
    );
    // A path value with a separator is refused, as for any tool.
    let slash = vars().with_arg("orderNumber", "A-17/../admin");
    let compiled = tool.compile(AgentKind::PhoneVoice).unwrap();
    assert!(compiled.prepare(&slash, &Policy::default()).is_err());
    for platform in Platform::ALL {
        let (name, ours) = match platform {
            Platform::Vapi => ("phoneNumber.number", "phone_number"),
            Platform::ElevenLabs => ("system__caller_id", "caller_phone"),
            Platform::Retell => ("user_number", "caller_phone"),
            Platform::Bland => ("PHONE_NUMBER", "caller_phone"),
            _ => unreachable!(),
        };
        assert_eq!(
            platform.map_variable(name),
            Ok(MappedVariable::Var(ours.into()))
        );
    }
    assert!(matches!(
        Platform::Vapi.map_variable("now"),
        Ok(MappedVariable::Clock(_))
    ));
}

#[test]
fn vapi_function_tool_gives_the_cascade_its_tool_server() {
    let imported = import(Platform::Vapi, fixture("vapi/function-with-server.json")).unwrap();
    let ImportedTool::Function(f) = &imported.tool else {
        panic!("a function tool")
    };
    assert_eq!(f.name, "book_table");
    let server = f.server.as_ref().unwrap();
    assert_eq!(server.timeout_seconds(), 30);
    assert_eq!(server.retry_plan().unwrap().max_retries(), 3);
    let cascade = agent_webhooks::Cascade::from_value(
        json!({"tool": {"server": f.server_config().unwrap()}}),
    )
    .unwrap();
    let resolved = cascade.resolve("tool-calls").unwrap();
    assert_eq!(resolved.level, agent_webhooks::Level::Tool);
    // A server field this runtime cannot honour is refused, not dropped.
    let mut raw = fixture("vapi/function-with-server.json");
    raw["server"]["staticIpAddressesEnabled"] = json!(true);
    let err = import(Platform::Vapi, raw).unwrap_err();
    assert_eq!(err.field(), "server.staticIpAddressesEnabled");
}

#[test]
fn elevenlabs_path_params_secrets_and_system_variables() {
    let tool = import(
        Platform::ElevenLabs,
        fixture("elevenlabs/webhook-get-order.json"),
    )
    .unwrap()
    .webhook_tool()
    .unwrap()
    .clone();
    let prepared = tool
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(&vars(), &Policy::default())
        .unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "https://api.example.com/agents/agent_42/orders/o-1?caller=%2B15551234567&verbose="
    );
    let auth = &prepared.request().headers()["authorization"];
    assert!(auth.is_sensitive());
    assert_eq!(auth, "Bearer sk_live_123");
    assert_eq!(prepared.request().headers()["x-call-sid"], "CA9f2b");
}

#[test]
fn retell_and_bland_response_mapping() {
    let retell = import(Platform::Retell, fixture("retell/custom-args-at-root.json")).unwrap();
    let compiled = retell
        .webhook_tool()
        .unwrap()
        .compile(AgentKind::PhoneVoice)
        .unwrap();
    let answer = br#"{"data": {"user": {"name": "Ada", "age": 36, "ssn": "secret"}}}"#;
    let response = http::Response::builder()
        .status(200)
        .body(answer.to_vec())
        .unwrap();
    let result = ToolResult::from_mapped_response(&response, compiled.response_map(), 1024);
    let seen: Value = serde_json::from_str(result.result().unwrap()).unwrap();
    assert_eq!(seen, json!({"user_name": "Ada", "user_age": 36}));

    let bland = import(Platform::Bland, fixture("bland/custom-tool-book.json")).unwrap();
    let map = ResponseMap::new(&bland.webhook_tool().unwrap().config.response).unwrap();
    let values = map
        .extract(br#"{"data": {"confirmation_id": "c-9", "slots": [{"start": "09:00"}]}}"#)
        .unwrap();
    assert_eq!(
        Value::Object(values),
        json!({"confirmation": "c-9", "slot": "09:00"})
    );
    // An unreadable answer is a short error for the model, not the body.
    let bad = http::Response::builder()
        .status(200)
        .body(b"<html>".to_vec())
        .unwrap();
    let result = ToolResult::from_mapped_response(&bad, &map, 1024);
    assert!(result.result().is_none());
    assert!(!result.error().unwrap().contains("html"));
}

#[test]
fn liquid_filters_run_before_the_places_escaping() {
    let tool = WebhookTool::from_value(json!({
        "name": "t",
        "config": {
            "url": "https://api.example.com/u/{{ args.name | upcase }}?d={{ now | date: '%Y-%m-%d %H:%M' }}",
            "headers": {"X-Who": "{{ args.missing | default: 'anon' | capitalize }}",
                        "X-Bad": "{{ args.missing | default: 'a' | append: 'b' }}"},
            "body": {"when": "{{ \"now\" | date: '%A, %B %-d' }}", "n": "{{ args.name | downcase }}"}
        }
    }))
    .unwrap();
    let compiled = tool.compile(AgentKind::Chat).unwrap();
    let now = Timestamp::from_unix_millis(1_780_232_709_000).unwrap(); // 2026-05-31T13:05:09Z
    let vars = Vars::new().with_arg("name", "ab c").with_now(now);
    let prepared = compiled.prepare(&vars, &Policy::default()).unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "https://api.example.com/u/AB%20C?d=2026-05-31%2013:05"
    );
    assert_eq!(prepared.request().headers()["x-who"], "Anon");
    let body: Value = serde_json::from_slice(prepared.request().body()).unwrap();
    assert_eq!(body, json!({"when": "Sunday, May 31", "n": "ab c"}));
    // The filter runs first, the place's rule after it: a `/` it leaves is still refused.
    let slash = Vars::new().with_arg("name", "a/b").with_now(now);
    assert!(compiled.prepare(&slash, &Policy::default()).is_err());
    // Without a clock reading, `now` is missing like any other value.
    let err = compiled.prepare(&Vars::new().with_arg("name", "x"), &Policy::default());
    assert!(err.unwrap_err().to_string().contains("now"));
    // A filter can never put CR/LF into a header.
    let crlf = WebhookTool::from_value(json!({"name": "t", "config": {
        "url": "https://api.example.com/", "headers": {"X-A": "{{ args.v | strip | append: 'x' }}"}}}))
        .unwrap()
        .compile(AgentKind::Chat)
        .unwrap();
    assert!(
        crlf.prepare(&Vars::new().with_arg("v", "a\r\nB: c"), &Policy::default())
            .is_err()
    );
}

#[test]
fn liquid_outside_the_subset_is_refused_at_compile_time_by_name() {
    let compile = |url: &str| {
        WebhookTool::from_value(json!({"name": "t", "config": {"url": url}}))
            .unwrap()
            .compile(AgentKind::Chat)
            .map_err(|e| e.as_config().unwrap().problem().clone())
    };
    let template_error = |url: &str| match compile(url) {
        Err(agent_webhooks::tool::ConfigProblem::Template(t)) => t,
        other => panic!("{url}: {other:?}"),
    };
    assert_eq!(
        template_error("https://a.example/{{ args.x | where: 'y' }}"),
        TemplateError::Filter {
            name: "where".into()
        }
    );
    assert_eq!(
        template_error("https://a.example/{% if args.x %}y{% endif %}"),
        TemplateError::LiquidTag { name: "if".into() }
    );
    assert!(matches!(
        template_error("https://a.example/{{ now | date: '%H', 'America/New_York' }}"),
        TemplateError::FilterArgument { .. }
    ));
    assert!(matches!(
        template_error("https://a.example/{{ args.x | date: '%H' }}"),
        TemplateError::FilterArgument { .. }
    ));
    assert!(matches!(
        template_error("https://{{ args.host | downcase }}/x"),
        TemplateError::VarInAuthority { .. }
    ));
    let _ = ImportProblem::Invalid(String::new());
}
