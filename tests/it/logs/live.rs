//! Live exchanges and webhook tool calls in the logs: per tenant, bodies for admins only, and
//! replay to the current target.

use std::sync::Arc;

use agent_webhooks::AccessRole::{ClientAdmin as Admin, User};
use agent_webhooks::http::{Method, StatusCode};
use agent_webhooks::live::{LiveRequest, Requester};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    AttemptQuery, Dispatcher, JobStatus, ManualClock, MemoryStore, Outbox, RetryPlan, SeededRandom,
    Store, TargetRef, Trigger,
};
use agent_webhooks::tool::Turn;
use agent_webhooks::transport::ManualTimer;
use agent_webhooks::{
    AgentKind, Cascade, Envelope, Policy, Scope, ToolInvocation, ToolRunner, Vars, WebhookTool,
};
use serde_json::json;

use super::fixture::{Receiver, Reply, T0, Targets, principal, tenant};

struct Live {
    api: LogsApi,
    store: Arc<dyn Store>,
}

async fn seed() -> Live {
    let clock = ManualClock::new(T0);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let requester = Requester::builder(
        Arc::new(Receiver),
        Arc::new(ManualTimer::jumping(clock.clone())),
    )
    .clock(Arc::new(clock.clone()))
    .random(Arc::new(SeededRandom::new(5)))
    .store(store.clone())
    .build();
    let runner = ToolRunner::new(Policy::default(), Arc::new(Receiver))
        .clock(Arc::new(clock.clone()))
        .random(Arc::new(SeededRandom::new(6)))
        .store(store.clone());
    for t in ["acme", "globex"] {
        let cascade = Cascade::from_value(json!({"assistant": {"server": {
            "url": format!("https://hooks.example.com/{t}/fail")}}}))
        .unwrap();
        let envelope = Envelope::parse(
            br#"{"message": {"type": "transfer-destination-request", "call": {"id": "c9"}}}"#,
        )
        .unwrap();
        let request = LiveRequest::new(tenant(t), envelope, cascade)
            .unwrap()
            .target_ref(TargetRef::new("ok").unwrap());
        let outcome = requester.request(request).await;
        assert_eq!(outcome.status, Some(500));
        let tool = WebhookTool::from_value(json!({"name": "crm", "config": {
            "url": format!("https://api.example.com/{t}/fail"), "method": "GET"}}))
        .unwrap()
        .compile(AgentKind::PhoneVoice)
        .unwrap();
        let vars = Vars::new();
        runner
            .respond_turn(Turn::new(tenant(t)).webhook(ToolInvocation::new("tc_1", &tool, &vars)))
            .await;
    }
    let dispatcher = Dispatcher::builder(store.clone(), Arc::new(Receiver), Arc::new(Targets))
        .clock(Arc::new(clock.clone()))
        .plan(RetryPlan::none())
        .build()
        .unwrap();
    Live {
        api: LogsApi::new(Outbox::new(store.clone()), Arc::new(dispatcher)),
        store,
    }
}

async fn call(live: &Live, who: &agent_webhooks::Principal, method: Method, uri: &str) -> Reply {
    let request = agent_webhooks::http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Vec::<u8>::new())
        .unwrap();
    Reply::from(live.api.handle(who, &request).await)
}

#[tokio::test]
async fn live_exchanges_and_tool_calls_are_listed_per_tenant_and_role() {
    let live = seed().await;
    for (t, other) in [("acme", "globex"), ("globex", "acme")] {
        let admin = principal(t, Admin);
        for kind in ["live", "tool"] {
            let page = call(
                &live,
                &admin,
                Method::GET,
                &format!("/logs/webhooks?kind={kind}"),
            )
            .await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let items = page.json["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{}", page.text);
            assert_eq!(items[0]["trigger"], kind);
            assert!(page.text.contains(&format!("/{t}/fail")), "{}", page.text);
            assert!(
                !page.text.contains(&format!("/{other}/")),
                "another tenant's row: {}",
                page.text
            );
            assert!(
                page.text.contains("stack trace"),
                "admins see bodies: {}",
                page.text
            );
        }
        let live_page = call(&live, &admin, Method::GET, "/logs/webhooks?kind=live").await;
        let item = &live_page.json["items"][0];
        assert_eq!(item["event_type"], "transfer-destination-request");
        assert_eq!(item["level"], "assistant.server");
        assert_eq!(item["status_code"], 500);
        assert!(
            item["error"].as_str().unwrap().starts_with("http_status: "),
            "{item}"
        );
        let user = principal(t, User);
        for kind in ["live", "tool"] {
            let page = call(
                &live,
                &user,
                Method::GET,
                &format!("/logs/webhooks?kind={kind}"),
            )
            .await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(!page.text.contains("stack trace"), "{}", page.text);
            assert_eq!(page.json["items"][0]["response_body_hidden"], true);
        }
    }
}

#[tokio::test]
async fn a_recorded_exchange_replays_to_the_current_target_without_touching_the_call() {
    let live = seed().await;
    let admin = principal("acme", Admin);
    let scope = Scope::tenant(tenant("acme"));
    let page = call(&live, &admin, Method::GET, "/logs/webhooks?kind=live").await;
    let attempt = page.json["items"][0]["id"].as_str().unwrap().to_owned();
    let job = page.json["items"][0]["job_id"].as_str().unwrap().to_owned();
    let r = call(
        &live,
        &admin,
        Method::POST,
        &format!("/logs/webhooks/{attempt}/replay"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["trigger"], Trigger::Manual.as_str());
    assert_eq!(
        r.json["status_code"], 200,
        "the current target answers: {}",
        r.text
    );
    assert!(r.json["url"].as_str().unwrap().contains("/acme/ok"));
    let job = agent_webhooks::outbox::JobId::new(&job).unwrap();
    let attempts = live
        .store
        .attempts(&scope, &AttemptQuery::new().job(job.clone()))
        .await
        .unwrap()
        .items;
    assert_eq!(attempts.len(), 2, "the replay is recorded");
    let stored = live.store.job(&scope, &job).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        JobStatus::Failed,
        "the exchange's own record is unchanged"
    );
    // A user may not replay.
    let r = call(
        &live,
        &principal("acme", User),
        Method::POST,
        &format!("/logs/webhooks/{attempt}/replay"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
