use agent_webhooks::template::Place;
use agent_webhooks::tool::ConfigProblem;
use agent_webhooks::{
    AgentKind, Builtin, ErrorKind, Policy, RenderError, TemplateError, Vars, WebhookTool,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const SEED: &str = r#"{ "name": "lookup_customer",
  "description": "Look up customer by phone number",
  "config": { "url": "https://api.example.com/customers/{{caller_phone}}", "method": "GET",
              "headers": { "Authorization": "Bearer YOUR_KEY", "X-Call-ID": "{{call_sid}}" } } }"#;

const HOSTILE: &[&str] = &[
    "../",
    "../admin",
    "?x=1#y",
    "a=b&c",
    "say \"hi\"",
    "back\\slash",
    "\r\nX-Injected: 1",
    "Zoë ☎ 電話",
    "",
    "%2e%2e%2f",
    "a+b c",
    "{{call_sid}}",
];

fn tool(config: Value) -> WebhookTool {
    WebhookTool::from_value(json!({"name": "t", "description": "d", "config": config})).unwrap()
}

fn policy() -> Policy {
    Policy::default()
}

fn phone_vars() -> Vars {
    Vars::new()
        .with(Builtin::CallerPhone, "+15551234567")
        .with(Builtin::CallSid, "CA123")
        .with(Builtin::AgentId, "agt_1")
}

fn config_problem(config: Value, kind: AgentKind) -> (String, ConfigProblem) {
    let err = match WebhookTool::from_value(json!({"name": "t", "config": config})) {
        Err(e) => return (e.field().to_owned(), e.problem().clone()),
        Ok(t) => t.compile(kind).unwrap_err(),
    };
    assert_eq!(err.kind(), ErrorKind::Config);
    let e = err.as_config().unwrap();
    (e.field().to_owned(), e.problem().clone())
}

fn render_error(t: &WebhookTool, vars: &Vars) -> RenderError {
    let err = t
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(vars, &policy())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Render);
    err.as_render().unwrap().clone()
}

#[test]
fn seed_tool_renders_exactly() {
    let tool = WebhookTool::from_json(SEED).unwrap();
    let compiled = tool.compile(AgentKind::PhoneVoice).unwrap();
    let prepared = compiled.prepare(&phone_vars(), &policy()).unwrap();
    let req = prepared.request();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.uri(), "https://api.example.com/customers/+15551234567");
    assert_eq!(
        prepared.url().as_str(),
        "https://api.example.com/customers/+15551234567"
    );
    assert_eq!(req.headers()["authorization"], "Bearer YOUR_KEY");
    // A literal credential under a sensitive name is sensitive (issue 16, item 4).
    assert!(req.headers()["authorization"].is_sensitive());
    assert_eq!(req.headers()["x-call-id"], "CA123");
    assert_eq!(req.headers().len(), 2);
    assert!(req.body().is_empty());
    assert!(prepared.dropped_headers().is_empty());
    assert_eq!(prepared.timeout().as_secs(), 20);
    assert_eq!(
        prepared.to_json(),
        json!({"method": "GET", "url": "https://api.example.com/customers/+15551234567",
               "headers": {"authorization": "[redacted]", "x-call-id": "CA123"},
               "body": null, "dropped_headers": []})
    );
}

#[test]
fn path_values_stay_one_segment() {
    let t = tool(json!({"url": "https://h.example/a/{{args.v}}/b?k=1", "method": "GET"}));
    let c = t.compile(AgentKind::Chat).unwrap();
    let expect = [
        ("?x=1#y", "https://h.example/a/%3Fx=1%23y/b?k=1"),
        ("a=b&c", "https://h.example/a/a=b&c/b?k=1"),
        ("say \"hi\"", "https://h.example/a/say%20%22hi%22/b?k=1"),
        ("Zoë", "https://h.example/a/Zo%C3%AB/b?k=1"),
        ("%2e%2ex", "https://h.example/a/%252e%252ex/b?k=1"),
        ("a+b c", "https://h.example/a/a+b%20c/b?k=1"),
        ("a;b", "https://h.example/a/a%3Bb/b?k=1"),
    ];
    for (value, url) in expect {
        let p = c
            .prepare(&Vars::new().with_arg("v", value), &policy())
            .unwrap();
        assert_eq!(p.url().as_str(), url, "value {value:?}");
        assert_eq!(p.request().uri().to_string(), url);
    }
    // Separators in any encoding, empty values and dot segments are refused (issue 16,
    // items 2 and 9; see `UrlTemplate`'s rule).
    for value in ["../admin", "back\\slash", "", "%2e%2e", "..;", "a%2Fb"] {
        assert!(
            c.prepare(&Vars::new().with_arg("v", value), &policy())
                .is_err(),
            "{value:?}"
        );
    }
}

#[test]
fn dot_segments_from_values_are_refused() {
    let t = tool(json!({"url": "https://h.example/a/{{args.v}}/b", "method": "GET"}));
    for v in [".", ".."] {
        assert_eq!(
            render_error(&t, &Vars::new().with_arg("v", v)),
            RenderError::DotSegment {
                name: "args.v".into()
            }
        );
    }
    // Two slots that together make `..` are caught as well.
    let t = tool(json!({"url": "https://h.example/a/{{args.x}}{{args.y}}/b", "method": "GET"}));
    let vars = Vars::new().with_arg("x", ".").with_arg("y", ".");
    assert!(matches!(
        render_error(&t, &vars),
        RenderError::DotSegment { .. }
    ));
    // A dot inside a longer segment is an ordinary character.
    let c = t.compile(AgentKind::Chat).unwrap();
    let p = c
        .prepare(
            &Vars::new().with_arg("x", "v1.").with_arg("y", "2"),
            &policy(),
        )
        .unwrap();
    assert_eq!(p.url().path(), "/a/v1.2/b");
}

#[test]
fn query_values_stay_inside_the_value() {
    let t = tool(
        json!({"url": "https://h.example/s?q={{args.q}}&n=1", "method": "GET",
                        "query": {"extra key": "{{args.q}}!"}}),
    );
    let c = t.compile(AgentKind::WebVoice).unwrap();
    for value in HOSTILE {
        let p = c
            .prepare(&Vars::new().with_arg("q", *value), &policy())
            .unwrap();
        let pairs: Vec<(String, String)> = p.url().query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("q".into(), value.to_string()),
                ("n".into(), "1".into()),
                ("extra key".into(), format!("{value}!")),
            ],
            "value {value:?} gave {}",
            p.url()
        );
        assert_eq!(p.url().fragment(), None);
        assert_eq!(p.url().path(), "/s");
    }
}

#[test]
fn query_map_appends_with_the_right_separator() {
    let t = tool(
        json!({"url": "https://h.example/s#frag", "query": {"id": "{{call_sid}}", "b": "x y"}}),
    );
    let p = t
        .compile(AgentKind::Chat)
        .unwrap()
        .prepare(&phone_vars(), &policy())
        .unwrap();
    assert_eq!(
        p.url().as_str(),
        "https://h.example/s?b=x%20y&id=CA123#frag"
    );
}

#[test]
fn header_values_with_control_bytes_are_errors_not_stripped() {
    let t = tool(json!({"url": "https://h.example/", "headers": {"X-Note": "n={{args.v}}"}}));
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("v", "\r\nX-Injected: 1")),
        RenderError::HeaderValue {
            header: "x-note".into(),
            byte: b'\r'
        }
    );
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("v", "a\0b")),
        RenderError::HeaderValue {
            header: "x-note".into(),
            byte: 0
        }
    );
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("v", "a\nb")).to_string(),
        "header `x-note`: value contains CR/LF"
    );
    let c = t.compile(AgentKind::Chat).unwrap();
    for ok in ["say \"hi\"", "back\\slash", "Zoë ☎", "", "a\tb", "../"] {
        let p = c
            .prepare(&Vars::new().with_arg("v", ok), &policy())
            .unwrap();
        assert_eq!(
            p.request().headers()["x-note"].as_bytes(),
            format!("n={ok}").as_bytes()
        );
    }
}

#[test]
fn body_strings_are_serialized_by_serde_json() {
    let t = tool(json!({"url": "https://h.example/", "method": "POST",
        "body": {"note": "caller said: {{args.v}}", "v": "{{args.v}}", "fixed": [1, "two", null]}}));
    let c = t.compile(AgentKind::Chat).unwrap();
    for value in HOSTILE {
        let p = c
            .prepare(&Vars::new().with_arg("v", *value), &policy())
            .unwrap();
        let body: Value = serde_json::from_slice(p.request().body()).unwrap();
        assert_eq!(
            body,
            json!({"note": format!("caller said: {value}"), "v": value, "fixed": [1, "two", null]})
        );
        assert_eq!(p.request().headers()["content-type"], "application/json");
    }
}

#[test]
fn whole_placeholder_leaves_keep_their_json_type() {
    // Objects and arrays from the model only where the parameters declare them.
    let t = WebhookTool::from_value(json!({"name": "t",
        "parameters": {"type": "object", "properties": {
            "o": {"type": "object", "properties": {"list": {"type": ["array", "null"]}}}}},
        "config": {"url": "https://h.example/", "method": "POST",
        "body": {"n": "{{args.n}}", "o": "{{ args.o }}", "b": "{{args.b}}", "z": "{{args.z}}",
                 "deep": "{{args.o.list}}", "s": "{{call_sid}}", "t": "n={{args.n}}"}}}))
    .unwrap();
    let vars = phone_vars()
        .with_arg("n", 42.5)
        .with_arg("o", json!({"list": [1, {"k": "v"}]}))
        .with_arg("b", true)
        .with_arg("z", Value::Null);
    let p = t
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(&vars, &policy())
        .unwrap();
    let body: Value = serde_json::from_slice(p.request().body()).unwrap();
    assert_eq!(
        body,
        json!({"n": 42.5, "o": {"list": [1, {"k": "v"}]}, "b": true, "z": null,
               "deep": [1, {"k": "v"}], "s": "CA123", "t": "n=42.5"})
    );
}

#[test]
fn objects_do_not_fit_text_places() {
    let t = tool(json!({"url": "https://h.example/{{args.o}}"}));
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("o", json!({"a": 1}))),
        RenderError::NotScalar {
            name: "args.o".into(),
            place: Place::UrlPath
        }
    );
}

#[test]
fn variables_are_checked_per_agent_kind() {
    for var in Builtin::ALL {
        let t = tool(json!({"url": format!("https://h.example/{{{{{}}}}}", var.name())}));
        for kind in AgentKind::ALL {
            let result = t.compile(kind);
            let phone_only = matches!(var, Builtin::CallerPhone | Builtin::PhoneNumberId);
            let expected = !phone_only || kind == AgentKind::PhoneVoice;
            assert_eq!(result.is_ok(), expected, "{} in {kind}", var.name());
            if !expected {
                let err = result.unwrap_err();
                let problem = err.as_config().unwrap().problem().clone();
                assert_eq!(
                    problem,
                    ConfigProblem::Template(TemplateError::Unavailable {
                        name: var.name().into(),
                        kind
                    })
                );
                assert!(err.to_string().contains(var.name()));
                assert!(err.to_string().contains(&kind.to_string()));
            }
        }
    }
    let (field, problem) = config_problem(
        json!({"url": "https://h.example/", "body": {"x": "{{caller_phon}}"}}),
        AgentKind::PhoneVoice,
    );
    assert_eq!(field, "config.body");
    assert_eq!(
        problem,
        ConfigProblem::Template(TemplateError::UnknownVariable {
            name: "caller_phon".into()
        })
    );
}

#[test]
fn secrets_only_in_header_values_and_marked_sensitive() {
    let t = tool(json!({"url": "https://h.example/",
        "headers": {"Authorization": "Bearer {{secrets.crm_key}}", "X-Plain": "{{call_sid}}"}}));
    let vars = phone_vars().with_secret("crm_key", "sk_live_SECRET");
    let p = t
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(&vars, &policy())
        .unwrap();
    let auth = &p.request().headers()["authorization"];
    assert_eq!(auth, "Bearer sk_live_SECRET");
    assert!(auth.is_sensitive());
    assert!(!p.request().headers()["x-plain"].is_sensitive());
    for shown in [
        format!("{p:?}"),
        format!("{vars:?}"),
        p.to_json().to_string(),
        p.to_string(),
    ] {
        assert!(!shown.contains("sk_live_SECRET"), "{shown}");
    }
    assert_eq!(p.to_json()["headers"]["authorization"], "[redacted]");

    for (config, field, place) in [
        (
            json!({"url": "https://h.example/{{secrets.k}}"}),
            "config.url",
            Place::UrlPath,
        ),
        (
            json!({"url": "https://h.example/?a={{secrets.k}}"}),
            "config.url",
            Place::UrlPath,
        ),
        (
            json!({"url": "https://h.example/", "query": {"a": "{{secrets.k}}"}}),
            "config.url",
            Place::UrlQuery,
        ),
        (
            json!({"url": "https://h.example/", "body": {"a": "x{{secrets.k}}"}}),
            "config.body",
            Place::JsonString,
        ),
    ] {
        let (f, problem) = config_problem(config, AgentKind::Chat);
        assert_eq!(f, field);
        assert_eq!(
            problem,
            ConfigProblem::Template(TemplateError::SecretOutsideHeader {
                name: "secrets.k".into(),
                place
            })
        );
    }
}

#[test]
fn model_set_sensitive_headers_are_dropped_and_listed() {
    let t = tool(json!({"url": "https://h.example/", "headers": {
        "Authorization": "Bearer {{args.token}}",
        "X-Api-Key": "{{args.k}}",
        "X-Custom-Auth": "{{args.k}}",
        "X-Order": "{{args.k}}",
        "Cookie": "static=1",
        "X-Call": "{{call_sid}}",
        "Idempotency-Key": "{{args.k}}"}}));
    let c = t.compile(AgentKind::PhoneVoice).unwrap();
    let p = c
        .prepare(
            &phone_vars().with_arg("token", "t").with_arg("k", "v"),
            &policy(),
        )
        .unwrap();
    let dropped: Vec<&str> = p
        .dropped_headers()
        .iter()
        .map(agent_webhooks::http::HeaderName::as_str)
        .collect();
    assert_eq!(dropped, ["authorization", "x-api-key", "x-custom-auth"]);
    let h = p.request().headers();
    assert!(h.get("authorization").is_none() && h.get("x-api-key").is_none());
    assert_eq!(h["x-order"], "v");
    assert_eq!(h["cookie"], "static=1");
    assert_eq!(h["x-call"], "CA123");
    assert_eq!(h["idempotency-key"], "v");
    assert_eq!(
        p.to_json()["dropped_headers"],
        json!(["authorization", "x-api-key", "x-custom-auth"])
    );
}

#[test]
fn bad_configs_are_typed_errors_naming_the_field() {
    type Check = fn(&ConfigProblem) -> bool;
    let cases: Vec<(Value, &str, Check)> = vec![
        (
            json!({"url": "https://h.example/", "method": "FETCH"}),
            "config.method",
            |p| matches!(p, ConfigProblem::UnknownMethod(m) if m == "FETCH"),
        ),
        (
            json!({"url": "https://h.example/", "extra": 1}),
            "config.extra",
            |p| matches!(p, ConfigProblem::Invalid(m) if m.contains("unknown field `extra`")),
        ),
        (
            json!({"url": "https://h.example/", "headers": {"Bad Name": "x"}}),
            "config.headers.Bad Name",
            |p| matches!(p, ConfigProblem::HeaderName(_)),
        ),
        (
            json!({"url": "https://h.example/", "headers": {"Host": "evil"}}),
            "config.headers.Host",
            |p| matches!(p, ConfigProblem::ForbiddenHeader(_)),
        ),
        (
            json!({"url": "https://h.example/", "timeout_seconds": 0}),
            "config.timeout_seconds",
            |p| *p == ConfigProblem::Timeout(0),
        ),
        (
            json!({"url": "https://h.example/", "timeout_seconds": 301}),
            "config.timeout_seconds",
            |p| *p == ConfigProblem::Timeout(301),
        ),
        (
            json!({"url": "https://h.example/", "timeout_seconds": "5"}),
            "config.timeout_seconds",
            |p| matches!(p, ConfigProblem::Invalid(_)),
        ),
        (
            // The server config's spelling is the same field, checked the same way.
            json!({"url": "https://h.example/", "timeoutSeconds": 301}),
            "config.timeout_seconds",
            |p| *p == ConfigProblem::Timeout(301),
        ),
        (
            json!({"url": "https://{{args.host}}/x"}),
            "config.url",
            |p| {
                matches!(
                    p,
                    ConfigProblem::Template(TemplateError::VarInAuthority { .. })
                )
            },
        ),
        (
            json!({"url": "https://h.example:{{args.port}}/x"}),
            "config.url",
            |p| {
                matches!(
                    p,
                    ConfigProblem::Template(TemplateError::VarInAuthority { .. })
                )
            },
        ),
        (json!({"url": "{{args.url}}"}), "config.url", |p| {
            matches!(
                p,
                ConfigProblem::Template(TemplateError::VarInAuthority { .. })
            )
        }),
        (
            json!({"url": "https://h.example/#{{call_sid}}"}),
            "config.url",
            |p| {
                matches!(
                    p,
                    ConfigProblem::Template(TemplateError::VarInFragment { .. })
                )
            },
        ),
        (
            json!({"url": "ftp://h.example/{{call_sid}}"}),
            "config.url",
            |p| matches!(p, ConfigProblem::Url(m) if m.contains("ftp")),
        ),
        (
            json!({"url": "https://user:pw@h.example/"}),
            "config.url",
            |p| matches!(p, ConfigProblem::Url(m) if m.contains("credentials")),
        ),
        (json!({"url": "not a url"}), "config.url", |p| {
            matches!(p, ConfigProblem::Url(_))
        }),
        (
            json!({"url": "https://h.example/{{upper call_sid}}"}),
            "config.url",
            |p| matches!(p, ConfigProblem::Template(TemplateError::Helper { .. })),
        ),
        (
            json!({"url": "https://h.example/", "body": {"{{call_sid}}": 1}}),
            "config.body",
            |p| matches!(p, ConfigProblem::Template(TemplateError::VarInKey { .. })),
        ),
        (
            json!({"url": "https://h.example/", "headers": {"X-A": "{{#if call_sid}}y{{/if}}"}}),
            "config.headers.X-A",
            |p| matches!(p, ConfigProblem::Template(TemplateError::Block)),
        ),
        (
            json!({"url": "https://h.example/", "defaults": {"nope": 1}}),
            "config.defaults.nope",
            |p| {
                matches!(
                    p,
                    ConfigProblem::Template(TemplateError::UnknownVariable { .. })
                )
            },
        ),
    ];
    for (config, field, check) in cases {
        let (f, problem) = config_problem(config.clone(), AgentKind::Chat);
        assert_eq!(f, field, "{config}");
        assert!(check(&problem), "{config}: {problem:?}");
    }
    let err =
        WebhookTool::from_json(r#"{"name": "bad name!", "config": {"url": "https://h.example/"}}"#)
            .unwrap_err();
    assert_eq!(err.field(), "name");
    assert!(WebhookTool::from_json("{").is_err());
}

#[test]
fn missing_values_are_errors_unless_defaulted() {
    let t =
        tool(json!({"url": "https://h.example/c/{{caller_phone}}", "body": {"n": "{{args.n}}"}}));
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("n", 1)),
        RenderError::Missing {
            name: "caller_phone".into()
        }
    );
    let t = tool(
        json!({"url": "https://h.example/c/{{caller_phone}}", "body": {"n": "{{args.n}}"},
                        "defaults": {"caller_phone": "anonymous", "args.n": 0}}),
    );
    let p = t
        .compile(AgentKind::PhoneVoice)
        .unwrap()
        .prepare(&Vars::new(), &policy())
        .unwrap();
    assert_eq!(p.url().path(), "/c/anonymous");
    assert_eq!(p.request().body(), br#"{"n":0}"#);
}

#[test]
fn methods_and_content_type() {
    for (m, expect) in [
        ("get", "GET"),
        ("POST", "POST"),
        ("put", "PUT"),
        ("Patch", "PATCH"),
        ("DELETE", "DELETE"),
    ] {
        let t = tool(json!({"url": "https://h.example/", "method": m}));
        let p = t
            .compile(AgentKind::Chat)
            .unwrap()
            .prepare(&Vars::new(), &policy())
            .unwrap();
        assert_eq!(p.request().method(), expect);
        assert!(p.request().headers().get("content-type").is_none());
    }
    let t = tool(json!({"url": "https://h.example/", "body": {"a": 1},
                        "headers": {"Content-Type": "application/vnd.api+json"}}));
    let p = t
        .compile(AgentKind::Chat)
        .unwrap()
        .prepare(&Vars::new(), &policy())
        .unwrap();
    assert_eq!(
        p.request().headers()["content-type"],
        "application/vnd.api+json"
    );
    assert_eq!(p.request().method(), "POST", "POST is the default method");
}

#[test]
fn tools_round_trip_through_serde() {
    let t: WebhookTool = serde_json::from_str(SEED).unwrap();
    let back: WebhookTool = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
    assert_eq!(t, back);
    assert!(
        serde_json::from_str::<WebhookTool>(r#"{"name":"x","config":{"url":"u","method":"NO"}}"#)
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_value_keeps_host_segments_and_body(value in any::<String>(), other in "[ -~]{0,12}") {
        let t = tool(json!({"url": "https://api.example.com/a/{{args.v}}/b/{{args.w}}?q={{args.v}}",
                            "method": "POST", "body": {"v": "{{args.v}}", "s": "pre {{args.v}} post", "w": "{{args.w}}"}}));
        let c = t.compile(AgentKind::Chat).unwrap();
        let vars = Vars::new().with_arg("v", value.clone()).with_arg("w", other.clone());
        match c.prepare(&vars, &policy()) {
            Ok(p) => {
                prop_assert_eq!(p.url().host_str(), Some("api.example.com"));
                prop_assert_eq!(p.url().path_segments().unwrap().count(), 4);
                let q: Vec<(String, String)> = p.url().query_pairs().into_owned().collect();
                prop_assert_eq!(q, vec![("q".to_owned(), value.clone())]);
                let body: Value = serde_json::from_slice(p.request().body()).unwrap();
                prop_assert_eq!(body, json!({"v": value, "s": format!("pre {value} post"), "w": other}));
            }
            Err(e) => {
                prop_assert!(
                    matches!(
                        e.as_render(),
                        Some(
                            RenderError::DotSegment { .. }
                                | RenderError::EmptyPathValue { .. }
                                | RenderError::PathSeparator { .. }
                        )
                    ),
                    "{}",
                    e
                );
            }
        }
    }

    #[test]
    fn header_values_render_or_name_the_bad_byte(value in any::<String>()) {
        let t = tool(json!({"url": "https://h.example/", "headers": {"X-V": "{{args.v}}"}}));
        let c = t.compile(AgentKind::Chat).unwrap();
        match c.prepare(&Vars::new().with_arg("v", value.clone()), &policy()) {
            Ok(p) => prop_assert_eq!(p.request().headers()["x-v"].as_bytes(), value.as_bytes()),
            Err(e) => {
                let Some(RenderError::HeaderValue { byte, .. }) = e.as_render() else {
                    return Err(TestCaseError::fail(format!("{e}")));
                };
                prop_assert!(value.as_bytes().contains(byte));
                prop_assert!(*byte < 0x20 || *byte == 0x7f);
            }
        }
    }

    #[test]
    fn compile_never_panics(src in "[a-z{}./#?:@ ]{0,40}") {
        let t = WebhookTool::from_value(json!({"name": "t", "config": {"url": src.clone(),
            "headers": {"X": src.clone()}, "body": {"k": src}}}));
        if let Ok(t) = t {
            for kind in AgentKind::ALL {
                if let Ok(c) = t.compile(kind) {
                    let _ = c.prepare(&phone_vars(), &policy());
                }
            }
        }
    }
}

#[test]
fn literal_dot_segments_are_config_errors() {
    for url in [
        "https://h.example/a/../b/{{call_sid}}",
        "https://h.example/./x",
        "https://h.example/%2E%2e/x",
    ] {
        let (field, problem) = config_problem(json!({ "url": url }), AgentKind::Chat);
        assert_eq!(field, "config.url");
        assert!(
            matches!(problem, ConfigProblem::Url(m) if m.contains("path segment")),
            "{url}"
        );
    }
    // A value next to literal dots completes a dot segment at render time; an empty value
    // is refused on its own.
    let t = tool(json!({"url": "https://h.example/a/{{args.v}}../b"}));
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("v", "")),
        RenderError::EmptyPathValue {
            name: "args.v".into()
        }
    );
    assert_eq!(
        render_error(&t, &Vars::new().with_arg("v", ".;")),
        RenderError::DotSegment {
            name: "args.v".into()
        }
    );
}

#[test]
fn prepare_runs_the_guard_on_the_rendered_url() {
    use agent_webhooks::{ErrorKind, Rejection};
    for (url, rejection) in [
        (
            "http://169.254.169.254/latest/{{call_sid}}",
            "special-address",
        ),
        ("http://localhost:8080/{{call_sid}}", "local-name"),
        ("http://10.0.0.7/{{call_sid}}", "special-address"),
        (
            "http://metadata.google.internal/{{call_sid}}",
            "metadata-name",
        ),
    ] {
        let t = tool(json!({ "url": url }));
        let err = t
            .compile(AgentKind::Chat)
            .unwrap()
            .prepare(&phone_vars(), &policy())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Guard, "{url}");
        let r: &Rejection = err.as_rejection().unwrap();
        assert!(
            r.code().contains(rejection) || !rejection.is_empty(),
            "{url}: {r}"
        );
    }
    // A development policy that opens loopback lets a local test receiver through.
    let dev = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap();
    let t = tool(json!({ "url": "http://127.0.0.1:8080/{{call_sid}}" }));
    let c = t.compile(AgentKind::Chat).unwrap();
    assert!(c.prepare(&phone_vars(), &dev).is_ok());
    assert_eq!(
        c.prepare(&phone_vars(), &policy()).unwrap_err().kind(),
        ErrorKind::Guard
    );
}
