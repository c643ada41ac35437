use agent_webhooks::{AgentKind, Builtin, Vars, WebhookTool};

const SEED: &str = r#"{ "name": "lookup_customer",
  "description": "Look up customer by phone number",
  "config": { "url": "https://api.example.com/customers/{{caller_phone}}", "method": "GET",
              "headers": { "Authorization": "Bearer YOUR_KEY", "X-Call-ID": "{{call_sid}}" } } }"#;

#[test]
fn seed_tool_renders_exactly() {
    let tool = WebhookTool::from_json(SEED).unwrap();
    let compiled = tool.compile(AgentKind::PhoneVoice).unwrap();
    let vars = Vars::new()
        .with(Builtin::CallerPhone, "+15551234567")
        .with(Builtin::CallSid, "CA123");
    let prepared = compiled.prepare(&vars).unwrap();
    let req = prepared.request();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.uri(), "https://api.example.com/customers/+15551234567");
    assert_eq!(req.headers()["authorization"], "Bearer YOUR_KEY");
    assert_eq!(req.headers()["x-call-id"], "CA123");
    assert_eq!(req.headers().len(), 2);
    assert!(req.body().is_empty());
    assert!(prepared.dropped_headers().is_empty());
}
