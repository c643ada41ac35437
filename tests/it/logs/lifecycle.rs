//! What the logs show once the data lifecycle ran: which mode and retention applied, why a
//! body is gone, and replay and retry refused with a clear reason.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::AccessRole::{ClientAdmin, SuperAdmin};
use agent_webhooks::http::{self, Method, StatusCode};
use agent_webhooks::outbox::{
    DataPolicies, DataPolicy, Lifecycle, ManualClock, PrivacyMode, Retention,
};

use super::fixture::{Fixture, Reply, T0, principal, tenant};

#[tokio::test]
async fn the_logs_say_which_policy_applied_and_why_a_body_is_gone() {
    let f = Fixture::new().await;
    let policies = DataPolicies::new(DataPolicy::new())
        .with_tenant(
            tenant("acme"),
            DataPolicy::new().privacy(PrivacyMode::MetadataOnly),
        )
        .with_tenant(
            tenant("globex"),
            DataPolicy::new()
                .retention(Retention::forever())
                .privacy(PrivacyMode::redact(["message.assistant"]).unwrap()),
        );
    let clock = ManualClock::new(T0.saturating_add(Duration::from_secs(60)));
    let step = Lifecycle::new(f.store.clone(), policies.clone())
        .with_clock(Arc::new(clock))
        .run_once()
        .await
        .unwrap();
    // Five final jobs per tenant; the pending ones are left alone.
    assert_eq!((step.payloads_dropped, step.payloads_redacted), (5, 5));
    let api = f.api.clone().with_data_policies(policies);
    let call = |who, method: Method, uri: String| {
        let api = api.clone();
        async move {
            let request = http::Request::builder()
                .method(method)
                .uri(uri)
                .body(Vec::<u8>::new())
                .unwrap();
            Reply::from(api.handle(&who, &request).await)
        }
    };

    let admin = principal("acme", ClientAdmin);
    let fail = &f.acme.jobs["fail"];
    let r = call(admin.clone(), Method::GET, format!("/logs/webhooks/{fail}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["payload_state"], "dropped");
    assert_eq!(r.json["payload"], serde_json::Value::Null);
    assert_eq!(r.json["payload_bytes"], 0);
    assert!(
        r.json["payload_note"]
            .as_str()
            .unwrap()
            .contains("metadata-only"),
        "{}",
        r.text
    );
    assert_eq!(r.json["data_policy"]["privacy"], "metadata-only");
    assert_eq!(r.json["data_policy"]["job_retention_seconds"], 30 * 86_400);
    assert_eq!(
        r.json["data_policy"]["payload_retention_seconds"],
        7 * 86_400
    );
    assert_eq!(r.json["recent_attempts"][0]["response_body"], "");
    // The pending job keeps its payload and says so.
    let pending = &f.acme.jobs["pending"];
    let r = call(
        admin.clone(),
        Method::GET,
        format!("/logs/webhooks/{pending}"),
    )
    .await;
    assert_eq!(r.json["payload_state"], "kept");
    assert!(r.json.get("payload_note").is_none());
    assert_eq!(r.json["payload"]["message"]["type"], "status-update");

    // Replay and retry refuse, saying why.
    let attempt = &f.acme.attempts["fail"];
    let r = call(
        admin.clone(),
        Method::POST,
        format!("/logs/webhooks/{attempt}/replay"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "payload_removed");
    assert!(r.text.contains("metadata-only"), "{}", r.text);
    let r = call(
        admin,
        Method::POST,
        format!("/logs/webhooks/jobs/{fail}/retry"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "payload_removed");

    // globex: redacted paths, listed with the policy.
    let root = principal("platform", SuperAdmin);
    let r = call(
        root,
        Method::GET,
        "/logs/webhooks?tenant=globex&status=failed".into(),
    )
    .await;
    let items = r.json["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        assert_eq!(item["payload_state"], "redacted");
        assert_eq!(item["payload"]["message"]["assistant"], "[redacted]");
        assert_eq!(
            item["data_policy"]["redacted_paths"][0],
            "message.assistant"
        );
        assert_eq!(
            item["data_policy"]["job_retention_seconds"],
            serde_json::Value::Null
        );
    }
}
