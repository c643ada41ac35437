//! Durable routing and server credentials, on loopback HTTP servers: jobs survive a restart
//! with only the directory, retries follow the current config, deleted surfaces are clear
//! skips; bearer, every HMAC variant, OAuth2 client credentials (expiry, one refresh for
//! concurrent waiters, a refused or failing token endpoint).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use agent_webhooks::credential::{Credential, CredentialResolver, Credentials, MemoryCredentials};
use agent_webhooks::directory::{DirectoryTargets, MemoryDirectory, Route, Surface};
use agent_webhooks::http::HeaderMap;
use agent_webhooks::outbox::{
    AttemptQuery, Dispatcher, JobStatus, ManualClock, NewJob, Outbox, RetryPlan, SqliteStore,
    Store, Target, Timestamp, Transport,
};
use agent_webhooks::sign::{Message, Scheme};
use agent_webhooks::tenant::{TenantConfig, TenantConfigs};
use agent_webhooks::transport::ReqwestTransport;
use agent_webhooks::{Policy, Scope, TenantId};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::json;
use tokio::net::TcpListener;

const T0: Timestamp = Timestamp::from_unix_seconds(1_767_225_600);

fn dev() -> Policy {
    Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap()
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn transport() -> Arc<dyn Transport> {
    Arc::new(ReqwestTransport::new(dev()).unwrap())
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

type Handler = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A loopback HTTP/1.1 server recording what it got; `delay` before every answer.
struct Hook {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hook {
    async fn start(
        delay: Duration,
        handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    ) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, handler) = (log.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let (log, handler) = (log.clone(), handler.clone());
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                let seen = Seen {
                                    path: parts.uri.path().to_owned(),
                                    headers: parts.headers,
                                    body,
                                };
                                log.lock().unwrap().push(seen.clone());
                                let (status, text) = handler(&seen);
                                if !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                let mut response =
                                    hyper::Response::new(Full::new(Bytes::from(text)));
                                *response.status_mut() =
                                    hyper::StatusCode::from_u16(status).unwrap();
                                Ok::<_, Infallible>(response)
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Hook { addr, seen, task }
    }

    async fn ok() -> Hook {
        Hook::start(Duration::ZERO, |_| (200, "ok".into())).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn server(url: &str) -> serde_json::Value {
    json!({"server": {"url": url}})
}

fn dispatcher(store: Arc<dyn Store>, targets: DirectoryTargets, clock: &ManualClock) -> Dispatcher {
    Dispatcher::builder(store, transport(), Arc::new(targets))
        .url_check(Arc::new(dev()))
        .clock(Arc::new(clock.clone()))
        .plan(
            RetryPlan::builder()
                .schedule([Duration::from_secs(10)])
                .jitter(0.0)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn enqueue(outbox: &Outbox, tenant: &TenantId, event: &str, route: &Route) {
    let body = format!(r#"{{"message":{{"type":"{event}"}}}}"#).into_bytes();
    outbox
        .enqueue(
            &Scope::tenant(tenant.clone()),
            NewJob::new(tenant.clone(), event, route.to_target_ref().unwrap(), body),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn jobs_enqueued_before_a_restart_reach_the_current_target() {
    let (old, current, phone, account) = (
        Hook::ok().await,
        Hook::ok().await,
        Hook::ok().await,
        Hook::ok().await,
    );
    let acme = tenant("acme");
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(
            &acme,
            Surface::Assistant,
            "asst_1",
            server(&old.url("/old")),
        )
        .unwrap();
    directory
        .insert(
            &acme,
            Surface::PhoneNumber,
            "pn_1",
            server(&phone.url("/phone")),
        )
        .unwrap();
    directory
        .insert(
            &acme,
            Surface::Assistant,
            "asst_gone",
            server(&old.url("/gone")),
        )
        .unwrap();
    directory
        .insert(
            &acme,
            Surface::Account,
            "",
            server(&account.url("/account")),
        )
        .unwrap();
    let dir = crate::TempDir::new("routing-restart");
    let path = dir.join("outbox.sqlite3");
    let clock = ManualClock::new(T0);

    // Process 1: jobs are written, nothing is sent, the process goes away.
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let outbox = Outbox::new(store).with_clock(Arc::new(clock.clone()));
        let assistant = Route::new()
            .assistant("asst_1")
            .unwrap()
            .phone_number("pn_1")
            .unwrap();
        for event in ["status-update", "end-of-call-report", "conversation-update"] {
            enqueue(&outbox, &acme, event, &assistant).await;
        }
        let phone_only = Route::new().phone_number("pn_1").unwrap();
        enqueue(&outbox, &acme, "assistant-request", &phone_only).await;
        enqueue(&outbox, &acme, "status-update", &Route::new()).await;
        enqueue(
            &outbox,
            &acme,
            "status-update",
            &Route::new().assistant("asst_gone").unwrap(),
        )
        .await;
    }

    // Meanwhile the assistant's server moves, and one assistant is deleted.
    directory
        .insert(
            &acme,
            Surface::Assistant,
            "asst_1",
            server(&current.url("/current")),
        )
        .unwrap();
    assert!(directory.remove(&acme, Surface::Assistant, "asst_gone"));

    // Process 2: a new store on the same file and a dispatcher with only the directory.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let d = dispatcher(
        store.clone(),
        DirectoryTargets::new(directory.clone()),
        &clock,
    );
    let tick = d.run_once().await.unwrap();
    assert_eq!(
        (tick.claimed, tick.succeeded, tick.skipped),
        (6, 5, 1),
        "{tick:?}"
    );

    assert!(old.seen().is_empty(), "nothing goes to the old URL");
    let mut paths: Vec<_> = current.seen().iter().map(|s| s.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["/current"; 3]);
    assert_eq!(
        phone.seen().len(),
        1,
        "assistant-request goes to the phone number"
    );
    assert_eq!(
        account.seen().len(),
        1,
        "a route with no surface goes to the account"
    );

    let jobs = store
        .jobs(&Scope::tenant(acme.clone()), &Default::default())
        .await
        .unwrap();
    let skipped: Vec<_> = jobs
        .items
        .iter()
        .filter(|j| j.status == JobStatus::Skipped)
        .collect();
    assert_eq!(skipped.len(), 1);
    let attempts = store
        .attempts(
            &Scope::tenant(acme.clone()),
            &AttemptQuery::new().job(skipped[0].id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        attempts.items[0].error.as_deref(),
        Some(format!(
            "job `{}` has no target: assistant `asst_gone` of tenant `acme` no longer exists",
            skipped[0].id
        ))
        .as_deref()
    );
}

#[tokio::test]
async fn retries_follow_the_current_config() {
    let failing = Hook::start(Duration::ZERO, |_| (503, "down".into())).await;
    let moved = Hook::ok().await;
    let acme = tenant("acme");
    let directory = Arc::new(RwLock::new(TenantConfigs::new()));
    let config =
        |url: &str| TenantConfig::new().with_webhook_target("assistant:a1", url.parse().unwrap());
    directory
        .write()
        .unwrap()
        .insert(acme.clone(), config(&failing.url("/v1")));
    let clock = ManualClock::new(T0);
    let store: Arc<dyn Store> = Arc::new(agent_webhooks::outbox::MemoryStore::new());
    let outbox = Outbox::new(store.clone()).with_clock(Arc::new(clock.clone()));
    enqueue(
        &outbox,
        &acme,
        "status-update",
        &Route::new().assistant("a1").unwrap(),
    )
    .await;
    let d = dispatcher(
        store.clone(),
        DirectoryTargets::new(directory.clone()),
        &clock,
    );

    assert_eq!(d.run_once().await.unwrap().retried, 1);
    directory
        .write()
        .unwrap()
        .insert(acme.clone(), config(&moved.url("/v2")));
    clock.advance(Duration::from_secs(10));
    assert_eq!(d.run_once().await.unwrap().succeeded, 1);
    assert_eq!((failing.seen().len(), moved.seen().len()), (1, 1));

    // A replay goes to the target configured now, too.
    let third = Hook::ok().await;
    directory
        .write()
        .unwrap()
        .insert(acme.clone(), config(&third.url("/v3")));
    let scope = Scope::tenant(acme.clone());
    let first = store
        .attempts(&scope, &AttemptQuery::new())
        .await
        .unwrap()
        .items
        .pop()
        .unwrap();
    let replayed = d.replay(&scope, &first.id).await.unwrap();
    assert_eq!(replayed.url.as_deref(), Some(third.url("/v3").as_str()));
    assert_eq!(third.seen().len(), 1);

    // The tenant's configuration loses the target: the next job is skipped, saying why.
    directory
        .write()
        .unwrap()
        .insert(acme.clone(), TenantConfig::new());
    enqueue(
        &outbox,
        &acme,
        "end-of-call-report",
        &Route::new().assistant("a1").unwrap(),
    )
    .await;
    assert_eq!(d.run_once().await.unwrap().skipped, 1);
}

fn credentials(entries: Vec<(&str, Credential)>) -> Arc<MemoryCredentials> {
    let store = MemoryCredentials::new();
    for (id, credential) in entries {
        store.insert(tenant("acme"), id, credential);
    }
    Arc::new(store)
}

fn resolver(
    credentials: Arc<dyn Credentials>,
    clock: &ManualClock,
    policy: Policy,
) -> Arc<CredentialResolver> {
    Arc::new(
        CredentialResolver::new(credentials, transport())
            .url_check(Arc::new(policy))
            .clock(Arc::new(clock.clone())),
    )
}

/// Sends one status-update of `acme` through an assistant server using `credentialId`.
async fn deliver_with(
    hook: &Hook,
    resolver: Arc<CredentialResolver>,
    clock: &ManualClock,
    credential_id: &str,
) -> (agent_webhooks::outbox::Tick, Option<String>) {
    let acme = tenant("acme");
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(
            &acme,
            Surface::Assistant,
            "a1",
            json!({"server": {"url": hook.url("/hook"), "credentialId": credential_id}}),
        )
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(agent_webhooks::outbox::MemoryStore::new());
    let outbox = Outbox::new(store.clone()).with_clock(Arc::new(clock.clone()));
    enqueue(
        &outbox,
        &acme,
        "status-update",
        &Route::new().assistant("a1").unwrap(),
    )
    .await;
    let targets = DirectoryTargets::new(directory).with_credentials(resolver);
    let tick = dispatcher(store.clone(), targets, clock)
        .run_once()
        .await
        .unwrap();
    let attempts = store
        .attempts(&Scope::tenant(acme), &AttemptQuery::default())
        .await
        .unwrap();
    (tick, attempts.items[0].error.clone())
}

#[tokio::test]
async fn bearer_credentials_default_and_custom() {
    let hook = Hook::ok().await;
    let clock = ManualClock::new(T0);
    let creds = credentials(vec![
        ("cred_default", Credential::from_json(json!({"type": "bearer", "token": "tok_1"})).unwrap()),
        (
            "cred_custom",
            Credential::from_json(json!({"provider": "webhook", "authenticationPlan":
                {"type": "bearer", "token": "tok_2", "headerName": "X-Vapi-Secret", "bearerPrefixEnabled": false}}))
            .unwrap(),
        ),
    ]);
    let r = resolver(creds, &clock, dev());
    assert_eq!(
        deliver_with(&hook, r.clone(), &clock, "cred_default")
            .await
            .0
            .succeeded,
        1
    );
    assert_eq!(
        deliver_with(&hook, r.clone(), &clock, "cred_custom")
            .await
            .0
            .succeeded,
        1
    );
    let (tick, reason) = deliver_with(&hook, r, &clock, "cred_missing").await;
    assert_eq!(tick.skipped, 1);
    assert!(
        reason
            .unwrap()
            .contains("credential `cred_missing` not found")
    );
    let seen = hook.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer tok_1");
    assert_eq!(seen[1].headers["x-vapi-secret"], "tok_2");
    assert!(seen[1].headers.get("authorization").is_none());
    assert_eq!(seen.len(), 2, "a missing credential sends nothing");
}

#[tokio::test]
async fn hmac_credentials_in_every_variant_verify_at_the_receiver() {
    let hook = Hook::ok().await;
    let clock = ManualClock::new(T0);
    let plans = [
        json!({"type": "hmac", "secretKey": "k1", "algorithm": "sha256"}),
        json!({"type": "hmac", "secretKey": "k2", "algorithm": "sha1"}),
        json!({"type": "hmac", "secretKey": "k3", "algorithm": "sha512", "signatureEncoding": "base64"}),
        json!({"type": "hmac", "secretKey": "k4", "algorithm": "sha256", "signaturePrefix": "sha256=",
               "signatureHeader": "X-Hub-Signature-256", "includeTimestamp": false}),
        json!({"type": "hmac", "secretKey": "k5", "algorithm": "sha256", "payloadFormat": "{body}",
               "timestampHeader": "X-Sent-At"}),
        json!({"type": "hmac", "secretKey": "azU=", "secretIsBase64": true, "algorithm": "sha512",
               "payloadFormat": "{svix-id}.{timestamp}.{method}.{url}.{body}", "messageIdHeader": "svix-id"}),
        json!({"type": "signature", "scheme": "retell", "secret": "key_r"}),
        json!({"type": "signature", "scheme": "elevenlabs", "secret": "wsec_e"}),
        json!({"type": "signature", "scheme": "bland", "secret": "b"}),
        json!({"type": "signature", "scheme": "vapi-signature", "secret": "v"}),
    ];
    for (i, plan) in plans.iter().enumerate() {
        let id = format!("cred_{i}");
        let creds = credentials(vec![(&id, Credential::from_json(plan.clone()).unwrap())]);
        let (tick, _) = deliver_with(&hook, resolver(creds, &clock, dev()), &clock, &id).await;
        assert_eq!(tick.succeeded, 1, "{plan}");
        let seen = hook.seen().pop().unwrap();
        let scheme = match Credential::from_json(plan.clone()).unwrap() {
            Credential::Hmac(p) => Scheme::vapi_hmac(p),
            Credential::Signature(s) => s,
            other => panic!("{other:?}"),
        };
        let url = hook.url("/hook");
        let id = seen.headers["webhook-id"].to_str().unwrap().to_owned();
        let message = Message::new(&id, T0.as_unix_millis(), &url, &seen.body);
        scheme
            .verify(&seen.headers, &message, T0.as_unix_millis())
            .unwrap_or_else(|e| panic!("{plan}: {e}"));
        // And a tampered body does not verify.
        let tampered = Message::new(&id, T0.as_unix_millis(), &url, b"{}");
        assert!(
            scheme
                .verify(&seen.headers, &tampered, T0.as_unix_millis())
                .is_err(),
            "{plan}"
        );
    }
}

fn oauth(url: &str) -> Credential {
    Credential::from_json(json!({"type": "oauth2", "url": url, "clientId": "cid", "clientSecret": "csecret", "scope": "hooks"})).unwrap()
}

fn token_endpoint_answer(
    counter: Arc<AtomicUsize>,
    expires_in: u64,
) -> impl Fn(&Seen) -> (u16, String) + Send + Sync {
    move |seen: &Seen| {
        let form = String::from_utf8_lossy(&seen.body).into_owned();
        if !form.contains("grant_type=client_credentials")
            || !form.contains("client_secret=csecret")
        {
            return (400, r#"{"error":"invalid_request"}"#.into());
        }
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        (
            200,
            format!(
                r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":{expires_in}}}"#
            ),
        )
    }
}

#[tokio::test]
async fn oauth2_tokens_are_cached_until_expiry_less_the_margin() {
    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = Hook::start(Duration::ZERO, token_endpoint_answer(issued.clone(), 120)).await;
    let hook = Hook::ok().await;
    let clock = ManualClock::new(T0);
    let r = resolver(
        credentials(vec![("cred_oauth", oauth(&tokens.url("/token")))]),
        &clock,
        dev(),
    );

    assert_eq!(
        deliver_with(&hook, r.clone(), &clock, "cred_oauth")
            .await
            .0
            .succeeded,
        1
    );
    clock.advance(Duration::from_secs(59)); // 120 s less the 60 s margin: still fresh
    assert_eq!(
        deliver_with(&hook, r.clone(), &clock, "cred_oauth")
            .await
            .0
            .succeeded,
        1
    );
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1)); // now due for refresh
    assert_eq!(
        deliver_with(&hook, r.clone(), &clock, "cred_oauth")
            .await
            .0
            .succeeded,
        1
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let auth: Vec<_> = hook
        .seen()
        .iter()
        .map(|s| s.headers["authorization"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    let form = String::from_utf8(tokens.seen()[0].body.clone()).unwrap();
    assert!(
        form.contains("scope=hooks") && form.contains("client_id=cid"),
        "{form}"
    );
    assert_eq!(r.tokens_fetched(), 2);
}

#[tokio::test]
async fn concurrent_waiters_share_one_token_request() {
    let issued = Arc::new(AtomicUsize::new(0));
    // Slow, so every waiter arrives while the one request is in flight.
    let tokens = Hook::start(
        Duration::from_millis(200),
        token_endpoint_answer(issued.clone(), 3600),
    )
    .await;
    let clock = ManualClock::new(T0);
    let r = resolver(
        credentials(vec![("cred_oauth", oauth(&tokens.url("/token")))]),
        &clock,
        dev(),
    );
    let acme = tenant("acme");
    let target = || Target::new("http://127.0.0.1:9/hook".parse().unwrap(), "assistant");
    let waiters = (0..16).map(|_| r.apply(&acme, "cred_oauth", target()));
    let results = futures_util::future::join_all(waiters).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(tokens.seen().len(), 1, "exactly one token request");
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // A failing endpoint: the waiters share the one failure.
    let failing = Hook::start(Duration::from_millis(200), |_| {
        (401, r#"{"error":"invalid_client"}"#.into())
    })
    .await;
    let r = resolver(
        credentials(vec![("cred_oauth", oauth(&failing.url("/token")))]),
        &clock,
        dev(),
    );
    let waiters = (0..8).map(|_| r.apply(&acme, "cred_oauth", target()));
    let results = futures_util::future::join_all(waiters).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().to_string().contains("answered 401"))
    );
    assert_eq!(failing.seen().len(), 1, "one request for all the waiters");
}

#[tokio::test]
async fn a_refused_or_failing_token_endpoint_refuses_the_attempt_with_the_reason() {
    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = Hook::start(Duration::ZERO, token_endpoint_answer(issued.clone(), 3600)).await;
    let hook = Hook::ok().await;
    let clock = ManualClock::new(T0);
    // The production guard refuses the loopback token endpoint: nothing reaches it.
    let r = resolver(
        credentials(vec![("cred_oauth", oauth(&tokens.url("/token")))]),
        &clock,
        Policy::default(),
    );
    let (tick, reason) = deliver_with(&hook, r, &clock, "cred_oauth").await;
    assert_eq!(tick.skipped, 1);
    let reason = reason.unwrap();
    assert!(
        reason.contains("OAuth2 token endpoint") && reason.contains("refused by the guard"),
        "{reason}"
    );
    assert!(tokens.seen().is_empty() && hook.seen().is_empty());

    let failing = Hook::start(Duration::ZERO, |_| (500, "oops".into())).await;
    let creds = credentials(vec![("cred_oauth", oauth(&failing.url("/token")))]);
    let r = resolver(creds, &clock, dev());
    let acme = tenant("acme");
    let refused = r
        .apply(
            &acme,
            "cred_oauth",
            Target::new("http://127.0.0.1:9/".parse().unwrap(), "assistant"),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("answered 500"), "{refused}");
    assert!(!refused.to_string().contains("csecret"));
    assert_eq!(tick.claimed, 1);
}

#[tokio::test]
async fn one_runtime_one_policy_for_dispatcher_credentials_and_tools() {
    use agent_webhooks::Origin;
    use agent_webhooks::runtime::{Runtime, RuntimeError};

    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = Hook::start(Duration::ZERO, token_endpoint_answer(issued.clone(), 3600)).await;
    let hook = Hook::ok().await;
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(
            &acme,
            Surface::Assistant,
            "a1",
            json!({"server": {"url": hook.url("/hook"), "credentialId": "cred_oauth"}}),
        )
        .unwrap();
    let mut configs = TenantConfigs::new();
    configs.insert(
        acme.clone(),
        TenantConfig::new().allow_host("crm.acme.example"),
    );
    configs.insert(
        globex.clone(),
        TenantConfig::new().allow_host("crm.globex.example"),
    );
    let clock = ManualClock::new(T0);

    // No transport given: it is built from the one (development, loopback) policy, and the
    // dispatcher and the token endpoint's check use the same one.
    let runtime = Runtime::builder(dev())
        .directory(directory)
        .credentials(credentials(vec![(
            "cred_oauth",
            oauth(&tokens.url("/token")),
        )]))
        .tenants(Arc::new(RwLock::new(configs)))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    enqueue(
        &runtime.outbox(),
        &acme,
        "status-update",
        &Route::new().assistant("a1").unwrap(),
    )
    .await;
    let tick = runtime
        .dispatcher()
        .build()
        .unwrap()
        .run_once()
        .await
        .unwrap();
    assert_eq!(tick.succeeded, 1, "{tick:?}");
    assert_eq!(hook.seen()[0].headers["authorization"], "Bearer tok-1");

    // A tenant's allowlist applies to its own tool calls only.
    let acme_policy = runtime.tenant_policy(&acme).unwrap();
    assert!(
        acme_policy
            .parse("https://crm.acme.example/x", Origin::Model)
            .is_ok()
    );
    assert!(
        acme_policy
            .parse("https://crm.globex.example/x", Origin::Model)
            .is_err()
    );
    let globex_policy = runtime.tenant_policy(&globex).unwrap();
    assert!(
        globex_policy
            .parse("https://crm.acme.example/x", Origin::Model)
            .is_err()
    );
    assert!(runtime.tool_runner(&acme).is_ok());

    assert_eq!(
        Runtime::builder(Policy::default()).build().unwrap_err(),
        RuntimeError::NoDirectory
    );
}

#[tokio::test]
async fn the_live_path_hook_resolves_and_sends_like_the_outbox() {
    use agent_webhooks::runtime::Runtime;

    let hook = Hook::ok().await;
    let acme = tenant("acme");
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(
            &acme,
            Surface::PhoneNumber,
            "pn_1",
            json!({"server": {"url": hook.url("/live"), "credentialId": "cred_hmac"}}),
        )
        .unwrap();
    let creds = credentials(vec![(
        "cred_hmac",
        Credential::from_json(json!({"type": "hmac", "secretKey": "k", "algorithm": "sha256"}))
            .unwrap(),
    )]);
    let clock = ManualClock::new(T0);
    let runtime = Runtime::builder(dev())
        .directory(directory)
        .credentials(creds)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let route = Route::new().phone_number("pn_1").unwrap();
    let target = runtime
        .targets()
        .target(&acme, &route, "assistant-request")
        .await
        .unwrap();
    let body = br#"{"message":{"type":"assistant-request"}}"#;
    let exchange = runtime
        .send_step()
        .send(&target, "live_1", body, Duration::from_secs(5))
        .await;
    assert_eq!(exchange.status().map(|s| s.as_u16()), Some(200));
    let seen = hook.seen().pop().unwrap();
    let plan = match Credential::from_json(
        json!({"type": "hmac", "secretKey": "k", "algorithm": "sha256"}),
    )
    .unwrap()
    {
        Credential::Hmac(p) => p,
        other => panic!("{other:?}"),
    };
    let message = Message::new("live_1", T0.as_unix_millis(), "", body);
    Scheme::vapi_hmac(plan)
        .verify(&seen.headers, &message, T0.as_unix_millis())
        .unwrap();
}

#[tokio::test]
async fn the_runtime_sends_live_requests_to_the_directorys_current_server_and_records_them() {
    use agent_webhooks::Envelope;
    use agent_webhooks::live::Answer;
    use agent_webhooks::outbox::{JobQuery, Trigger};
    use agent_webhooks::runtime::Runtime;
    use agent_webhooks::transport::TokioTimer;

    let old = Hook::ok().await;
    let hook = Hook::start(Duration::ZERO, |_| {
        (200, r#"{"assistantId": "asst_support"}"#.into())
    })
    .await;
    let acme = tenant("acme");
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .insert(
            &acme,
            Surface::PhoneNumber,
            "pn_1",
            server(&old.url("/old")),
        )
        .unwrap();
    let runtime = Runtime::builder(dev())
        .directory(directory.clone())
        .build()
        .unwrap();
    // The number's server changes after the runtime was built: the live path asks the
    // directory at every request, as the dispatcher does at every attempt.
    directory
        .insert(
            &acme,
            Surface::PhoneNumber,
            "pn_1",
            server(&hook.url("/phone")),
        )
        .unwrap();
    let requester = runtime.requester(Arc::new(TokioTimer)).build();
    let route = Route::new().phone_number("pn_1").unwrap();
    let envelope =
        Envelope::parse(br#"{"message": {"type": "assistant-request", "call": {"id": "call_1"}}}"#)
            .unwrap();
    let request = runtime.live_request(&acme, envelope, &route).await.unwrap();
    let outcome = requester.request(request).await;
    assert!(outcome.is_answered(), "{}", outcome.to_json_line());
    assert!(
        matches!(outcome.answer(), Some(Answer::Assistant(_))),
        "{}",
        outcome.to_json_line()
    );
    assert_eq!(hook.seen().len(), 1);
    assert!(old.seen().is_empty(), "the old server was not asked");
    // Recorded (no spawner: before returning) under the route, for the logs and replays.
    let jobs = runtime
        .store()
        .jobs(&Scope::tenant(acme.clone()), &JobQuery::new())
        .await
        .unwrap();
    assert_eq!(jobs.items.len(), 1);
    assert_eq!(jobs.items[0].target, route.to_target_ref().unwrap());
    let attempts = runtime
        .store()
        .attempts(&Scope::tenant(acme.clone()), &AttemptQuery::new())
        .await
        .unwrap();
    assert_eq!(attempts.items[0].trigger, Trigger::Live);
    // A deleted number is a clear refusal before anything is sent.
    let globex = tenant("globex");
    let envelope = Envelope::parse(br#"{"message": {"type": "assistant-request"}}"#).unwrap();
    let err = runtime
        .live_request(&globex, envelope, &route)
        .await
        .unwrap_err();
    assert!(err.as_unresolved().is_some(), "{err}");
}
