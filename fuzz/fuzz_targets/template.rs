//! Tool templates: compiling any config never panics; rendering any value never panics, never
//! moves the host, never changes the number of path segments, and the body always parses as
//! JSON holding the value intact.
#![no_main]

use std::sync::OnceLock;

use agent_webhooks::{AgentKind, Builtin, CompiledTool, Policy, Vars, WebhookTool};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn fixed() -> &'static (CompiledTool, Policy) {
    static FIXED: OnceLock<(CompiledTool, Policy)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let tool = WebhookTool::from_value(json!({"name": "t", "config": {
            "url": "https://api.example.com/a/{{args.v}}/b?q={{args.v}}",
            "method": "POST",
            "headers": {"X-V": "{{args.v}}", "Authorization": "Bearer {{args.v}}"},
            "body": {"v": "{{args.v}}", "s": "pre {{args.v}} post"}}}))
        .unwrap();
        (tool.compile(AgentKind::Chat).unwrap(), Policy::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // 1. Any value through a fixed tool.
    let (tool, policy) = fixed();
    let vars = Vars::new().with_arg("v", text.as_ref());
    if let Ok(p) = tool.prepare(&vars, policy) {
        assert_eq!(p.url().host_str(), Some("api.example.com"));
        assert_eq!(p.url().path_segments().unwrap().count(), 3);
        let body: Value = serde_json::from_slice(p.request().body()).unwrap();
        assert_eq!(body["v"], Value::from(text.as_ref()));
        assert_eq!(p.request().headers().get("authorization"), None);
    }
    // 2. Any template in every place, for every agent kind.
    let mut parts = text.splitn(3, '\u{0}');
    let url = parts.next().unwrap_or_default();
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let config = json!({"name": "t", "config": {
        "url": url, "headers": {"X-H": header}, "query": {"k": header}, "body": {"b": body}}});
    if let Ok(tool) = WebhookTool::from_value(config) {
        for kind in AgentKind::ALL {
            if let Ok(compiled) = tool.compile(kind) {
                let vars = Vars::new()
                    .with(Builtin::CallerPhone, header)
                    .with(Builtin::CallSid, body)
                    .with_arg("v", url)
                    .with_secret("k", header);
                let _ = compiled.prepare(&vars, &Policy::default());
            }
        }
    }
});
