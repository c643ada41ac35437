//! Tool templates: compiling any config never panics; rendering any value never panics, never
//! moves the host, never changes the number of path segments (also as a decoding proxy, a
//! servlet container cutting `;` parameters or IIS trimming spaces reads them), never makes a
//! dot or empty segment, and the body always parses as JSON holding the value intact; a
//! model-provided object or array never fills an undeclared whole-value leaf.
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

/// A path's segments as the harshest common normaliser reads them: percent-decoded until
/// stable, split on both slashes, each cut at `;`, trailing spaces dropped.
fn normalised_segments(path: &str) -> Vec<String> {
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
                .unwrap_or("")
                .trim_end_matches([' ', '\t', '\0'])
                .replace(['\u{ff0e}', '\u{2024}', '\u{fe52}'], ".")
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // 1. Any value through a fixed tool.
    let (tool, policy) = fixed();
    let vars = Vars::new().with_arg("v", text.as_ref());
    if let Ok(p) = tool.prepare(&vars, policy) {
        assert_eq!(p.url().host_str(), Some("api.example.com"));
        assert_eq!(p.url().path_segments().unwrap().count(), 3);
        let segments = normalised_segments(p.url().path());
        assert_eq!(segments.len(), 3, "{segments:?}");
        assert!(!segments[1].is_empty() && !segments[1].chars().all(|c| c == '.'));
        let body: Value = serde_json::from_slice(p.request().body()).unwrap();
        assert_eq!(body["v"], Value::from(text.as_ref()));
        assert_eq!(p.request().headers().get("authorization"), None);
    }
    // 1b. The same bytes as JSON: objects and arrays never fill the undeclared leaf.
    if let Ok(json) = serde_json::from_slice::<Value>(data) {
        let structured = json.is_object() || json.is_array();
        let vars = Vars::new().with_arg("v", json);
        let prepared = tool.prepare(&vars, policy);
        if structured {
            assert!(prepared.is_err());
        }
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
