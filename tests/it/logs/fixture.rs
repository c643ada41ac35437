//! Two tenants' deliveries in a MemoryStore, an in-process receiver, and a helper to call the
//! logs API as a principal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::http::{self, HeaderMap, Method, StatusCode};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    AttemptId, AttemptQuery, Dispatcher, Job, JobId, ManualClock, MemoryStore, NewJob, Outbox,
    RetryPlan, SeededRandom, Store, Target, TargetRef, TargetResolver, Timestamp, Transport,
    TransportError, Unresolved,
};
use agent_webhooks::{AccessRole, Principal, Scope, TenantId};
use async_trait::async_trait;
use serde_json::Value;

/// 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp::from_unix_seconds(1_767_225_600);
/// A secret that must never appear in a response: in target URLs, payloads and bodies.
pub const LEAK: &str = "TOPSECRET";

pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

pub fn principal(tenant_name: &str, role: AccessRole) -> Principal {
    Principal::new(tenant(tenant_name), role, "u_test").unwrap()
}

/// Answers by path, in process: `/ok` 200, `/fail` 500, `/gone` 410. Never opens a socket.
#[derive(Debug)]
pub struct Receiver;

#[async_trait]
impl Transport for Receiver {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let path = request.uri().path().to_owned();
        let (status, body) = if path.ends_with("/ok") {
            (200, format!("fine for {path}"))
        } else if path.ends_with("/gone") {
            (410, "gone".to_owned())
        } else {
            (500, format!("stack trace at {path}"))
        };
        let mut response = http::Response::new(body.into_bytes());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        Ok(response)
    }
}

/// `ok`, `fail`, `gone` to `https://hooks.example.com/TENANT/REF?token=TOPSECRET`; `private`
/// to 10.0.0.7; `none` unresolved.
#[derive(Debug)]
pub struct Targets;

#[async_trait]
impl TargetResolver for Targets {
    async fn resolve(&self, job: &Job) -> Result<Target, Unresolved> {
        match job.target.as_str() {
            "none" => Err(Unresolved("no server configured".into())),
            // A private address: the guard's policy refuses it before anything is sent.
            "private" => {
                let url = format!("https://10.0.0.7/{}/private?token={LEAK}", job.tenant);
                Ok(Target::new(url.parse().unwrap(), "assistant"))
            }
            name => {
                let url = format!(
                    "https://hooks.example.com/{}/{name}?token={LEAK}",
                    job.tenant
                );
                Ok(Target::new(url.parse().unwrap(), "assistant"))
            }
        }
    }
}

/// One tenant's seeded items by label: `ok` (succeeded), `fail` (failed, 500), `none`
/// (skipped), `gone` (failed, 410, target disabled), `private` (skipped: the guard refused
/// 10.0.0.7), `pending` (never attempted).
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub jobs: HashMap<&'static str, JobId>,
    pub attempts: HashMap<&'static str, AttemptId>,
}

pub struct Fixture {
    pub api: LogsApi,
    pub store: Arc<dyn Store>,
    pub acme: Seeded,
    pub globex: Seeded,
}

const SEED: [(&str, &str, &str); 5] = [
    ("ok", "status-update", "c1"),
    ("fail", "end-of-call-report", "c1"),
    ("none", "transcript", "c2"),
    ("gone", "tool-calls", "c2"),
    ("private", "hang", "c4"),
];

fn payload(event_type: &str) -> String {
    serde_json::json!({"message": {"type": event_type,
        "assistant": {"server": {"url": "https://hooks.example.com", "secret": LEAK}},
        "costBreakdown": {"llmPromptTokens": 12}}})
    .to_string()
}

impl Fixture {
    pub async fn new() -> Fixture {
        let clock = ManualClock::new(T0);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let dispatcher = Dispatcher::builder(store.clone(), Arc::new(Receiver), Arc::new(Targets))
            .clock(Arc::new(clock.clone()))
            .random(Arc::new(SeededRandom::new(7)))
            .plan(RetryPlan::none())
            .build()
            .unwrap();
        let outbox = Outbox::new(store.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_random(Arc::new(SeededRandom::new(11)));
        let mut seeded: HashMap<&str, Seeded> = HashMap::new();
        let enqueue = |t: &'static str, label: &'static str, event: &'static str, call: &str| {
            let target = if label == "pending" { "ok" } else { label };
            let new = NewJob::new(
                tenant(t),
                event,
                TargetRef::new(target).unwrap(),
                payload(event),
            )
            .call_id(format!("{t}_{call}"));
            let outbox = outbox.clone();
            async move {
                outbox
                    .enqueue(&Scope::tenant(tenant(t)), new)
                    .await
                    .unwrap()
                    .job
                    .id
            }
        };
        for t in ["acme", "globex"] {
            for (label, event, call) in SEED {
                let id = enqueue(t, label, event, call).await;
                seeded.entry(t).or_default().jobs.insert(label, id);
                clock.advance(Duration::from_secs(1));
            }
        }
        let tick = dispatcher.run_once().await.unwrap();
        assert_eq!(
            (tick.claimed, tick.succeeded, tick.failed, tick.skipped),
            (10, 2, 4, 4)
        );
        for t in ["acme", "globex"] {
            let id = enqueue(t, "pending", "status-update", "c3").await;
            seeded.get_mut(t).unwrap().jobs.insert("pending", id);
            clock.advance(Duration::from_secs(1));
        }
        for (t, s) in &mut seeded {
            for (label, id) in s.jobs.clone() {
                let page = store
                    .attempts(&Scope::tenant(tenant(t)), &AttemptQuery::new().job(id))
                    .await
                    .unwrap();
                if let Some(a) = page.items.first() {
                    s.attempts.insert(label, a.id.clone());
                }
            }
        }
        let api = LogsApi::new(outbox, Arc::new(dispatcher));
        Fixture {
            api,
            store,
            acme: seeded.remove("acme").unwrap(),
            globex: seeded.remove("globex").unwrap(),
        }
    }

    pub async fn call(&self, who: &Principal, method: Method, uri: &str) -> Reply {
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Vec::<u8>::new())
            .unwrap();
        let response = self.api.handle(who, &request).await;
        Reply::from(response)
    }
}

/// A response, its body read as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl From<http::Response<Vec<u8>>> for Reply {
    fn from(response: http::Response<Vec<u8>>) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = String::from_utf8(response.into_body()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

impl Reply {
    /// The `error.code` of an error response, after checking its shape.
    pub fn error_code(&self) -> &str {
        assert_eq!(
            self.json["error"]["status"].as_u64(),
            Some(u64::from(self.status.as_u16())),
            "{}",
            self.text
        );
        assert!(self.json["error"]["message"].is_string(), "{}", self.text);
        self.json["error"]["code"].as_str().unwrap()
    }

    /// The `id`s of a listing's items.
    pub fn ids(&self) -> Vec<String> {
        self.json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a page: {}", self.text))
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    }
}
