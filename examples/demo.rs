//! The demo of the main job: the whole webhook boundary, locally, in a few seconds.
//!
//! Run it with `cargo run --example demo`. Everything it sends goes to a receiver it starts on
//! 127.0.0.1; nothing leaves the machine.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_webhooks::event::ToolCall;
use agent_webhooks::live::{LiveRequest, Requester};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{
    Attempt, AttemptQuery, CascadeTargets, Dispatcher, JobStatus, NewJob, Outbox, RetryPlan,
    SqliteStore, Store, TargetRef,
};
use agent_webhooks::tool::{FunctionTools, Turn};
use agent_webhooks::transport::ReqwestTransport;
use agent_webhooks::transport::{TokioSpawn, TokioTimer};
use agent_webhooks::{
    AccessRole, AgentKind, Builtin, Call, CallStatus, Cascade, Envelope, Event, EventBody, Origin,
    Policy, Principal, Profile, Scope, Signer, StatusUpdate, TenantId, Timestamp, Vars,
    WebhookTool,
};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;

const SEED_TOOL: &str = include_str!("data/lookup_customer.json");

fn section(title: &str) {
    println!("\n== {title}");
}

/// A server on 127.0.0.1 answering request events: `/phone` an assistant, `/tools` function
/// tool results, `/slow` nothing for 5 s.
async fn start_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<Incoming>| async move {
                        let path = req.uri().path().to_owned();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let message: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let answer = match path.as_str() {
                            "/phone" => serde_json::json!({"assistantId": "asst_support"}),
                            "/tools" => {
                                let id = &message["message"]["toolCallList"][0]["id"];
                                serde_json::json!({"results": [{"toolCallId": id, "result": "Order 42 ships tomorrow."}]})
                            }
                            _ => {
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                serde_json::json!({"assistantId": "too_late"})
                            }
                        };
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                            answer.to_string(),
                        ))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A receiver on 127.0.0.1 that answers 503 twice, then 200.
async fn start_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: http::Request<Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let status = if n < 2 { 503 } else { 200 };
                    async move {
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(if n < 2 { "busy" } else { "ok" })))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn print_attempts(attempts: &[Attempt]) {
    println!("  #   trigger   status    code    latency  level              next retry");
    for a in attempts.iter().rev() {
        println!(
            "  {:<3} {:<9} {:<9} {:<6} {:>6}ms  {:<18} {}",
            a.number,
            format!("{:?}", a.trigger).to_lowercase(),
            format!("{:?}", a.status).to_lowercase(),
            a.status_code.map_or("-".to_owned(), |c| c.to_string()),
            a.latency_ms,
            a.level.as_deref().unwrap_or("-"),
            a.next_attempt_at.map_or("-".to_owned(), |t| format!(
                "+{} ms",
                t.as_unix_millis()
                    .saturating_sub(a.ended_at.as_unix_millis())
            )),
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    #[cfg(feature = "metrics")]
    let metrics = metrics_summary::install()?;
    let acme = TenantId::new("acme")?;
    let globex = TenantId::new("globex")?;
    println!("agent-webhooks demo: tenants `{acme}` and `{globex}`, everything on 127.0.0.1");

    section("1. A webhook tool, compiled once for a phone voice agent, rendered for one call");
    let tool = WebhookTool::from_json(SEED_TOOL)?;
    let compiled = tool.compile(AgentKind::PhoneVoice)?;
    let production = Policy::default(); // the strictest guard: what a runtime ships with
    let vars = Vars::new()
        .with(Builtin::TenantId, acme.as_str())
        .with(Builtin::CallerPhone, "+15551234567")
        .with(Builtin::CallSid, "CA9f2c0e1d4b")
        .with(Builtin::AgentId, "agt_support");
    let prepared = compiled.prepare(&vars, &production)?;
    println!("{}", serde_json::to_string_pretty(&prepared.to_json())?);
    let odd = vars.clone().with(Builtin::CallerPhone, "+1 555;x=1?y#z");
    println!(
        "an odd caller id stays in its segment: {}",
        compiled.prepare(&odd, &production)?.url()
    );
    for traversal in ["../admin", "..;jsessionid=1", ""] {
        let hostile = vars.clone().with(Builtin::CallerPhone, traversal);
        match compiled.prepare(&hostile, &production) {
            Ok(p) => return Err(format!("{traversal:?} must not render: {}", p.url()).into()),
            Err(e) => println!("refused {traversal:?}: {e}"),
        }
    }

    section("2. The same tool for a chat agent: refused at compile time, not mid-call");
    match tool.compile(AgentKind::Chat) {
        Ok(_) => return Err("a chat agent must not compile a tool that needs caller_phone".into()),
        Err(e) => println!("refused: {e}"),
    }

    section("3. Model-provided URLs meet the guard");
    let model_policy = Policy::builder().allow_host("*.acme-crm.example").build()?;
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/",
        "https://attacker.example/collect",
        "https://api.acme-crm.example/v1/orders",
    ] {
        match model_policy.parse(url, Origin::Model) {
            Ok(_) => println!("  allow  {url}"),
            Err(rejection) => println!("  deny   {url}\n         {rejection}"),
        }
    }

    section("4. A server event, routed through the cascade");
    let (receiver, seen) = start_receiver().await;
    let cascade_json = format!(
        r#"{{"assistant": {{"server": {{"url": "{receiver}/acme/assistant"}}}},
             "account": {{"server": {{"url": "{receiver}/acme/account"}}}}}}"#
    );
    let cascade = Cascade::from_json(&cascade_json)?;
    // The host's clock: the core never reads it itself.
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let event = Event::new(EventBody::StatusUpdate(StatusUpdate::new(
        CallStatus::InProgress,
    )))
    .with_timestamp(Timestamp::from_unix_millis(now_ms)?)
    .with_call(Call::new("call_7f3a9c"));
    let resolved = cascade.resolve_event(&event)?;
    println!(
        "status-update -> {} (level that won: {:?})",
        resolved.server.url(),
        resolved.level
    );
    let envelope = Envelope::new(event, Profile::Default);
    println!("{}", String::from_utf8_lossy(&envelope.to_vec()));

    section("5. Written to the outbox before dispatch, delivered with retries");
    // The durable embedded store: a SQLite file (WAL) in a fresh temporary directory.
    let dir = std::env::temp_dir().join(format!("agent-webhooks-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("outbox.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await?);
    println!("outbox store: SQLite at {}", db.display());
    let outbox = Outbox::new(store.clone());
    let target = TargetRef::new("assistant:asst_support")?;
    let targets = Arc::new(CascadeTargets::new());
    let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?);
    targets.insert(
        acme.clone(),
        target.clone(),
        cascade,
        Some(Arc::new(signer)),
    );
    let scope = Scope::tenant(acme.clone());
    let job = NewJob::from_envelope(acme.clone(), target.clone(), &envelope);
    let stored = outbox.enqueue(&scope, job).await?.job;
    println!(
        "job {} stored as {:?} before any byte was sent",
        stored.id, stored.status
    );
    // The receiver is on loopback, which production refuses; the demo opts in by name.
    let dev = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()?;
    // The crate's guarded transport, under the same development policy: it checks every
    // resolved address and redirect hop too.
    let transport = ReqwestTransport::builder(dev.clone()).build()?;
    let dispatcher = Dispatcher::builder(store.clone(), Arc::new(transport), targets.clone())
        .observer(metrics_summary::observer())
        .url_check(Arc::new(dev))
        .plan(
            RetryPlan::builder()
                .schedule([Duration::from_millis(400); 4])
                .jitter(0.0)
                .build()?,
        )
        .build()?;
    let dispatcher = Arc::new(dispatcher);
    for round in 1..=40 {
        let tick = dispatcher.run_once().await?;
        if tick.claimed > 0 {
            println!(
                "  round {round}: claimed {}, retried {}, succeeded {}",
                tick.claimed, tick.retried, tick.succeeded
            );
        }
        if tick.succeeded > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = store.job(&scope, &stored.id).await?.ok_or("job vanished")?;
    if job.status != JobStatus::Succeeded {
        return Err(format!("the job should have succeeded, it is {:?}", job.status).into());
    }
    println!(
        "job is now {:?} after {} attempts; the receiver saw {} requests",
        job.status,
        job.attempts,
        seen.load(Ordering::SeqCst)
    );
    let attempts = store
        .attempts(&scope, &AttemptQuery::new().job(stored.id.clone()))
        .await?;
    print_attempts(&attempts.items);

    section("6. Operators repair deliveries through the logs API");
    let api = LogsApi::new(outbox.clone(), dispatcher.clone());
    let acme_admin = Principal::new(acme.clone(), AccessRole::ClientAdmin, "ops@acme")?;
    let globex_admin = Principal::new(globex.clone(), AccessRole::ClientAdmin, "ops@globex")?;
    let acme_user = Principal::new(acme.clone(), AccessRole::User, "agent@acme")?;
    let last = attempts.items.first().ok_or("no attempt")?;
    let call = |method: &str, path: String| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(Vec::new())
    };
    let show = |who: &str, what: &str, response: &http::Response<Vec<u8>>, want: u16| {
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
        let summary = match &body["error"]["message"] {
            serde_json::Value::String(message) => message.clone(),
            _ => format!(
                "{} {} is {}",
                body["kind"].as_str().unwrap_or("?"),
                body["id"].as_str().unwrap_or("?"),
                body["status"].as_str().unwrap_or("?")
            ),
        };
        println!(
            "  {who:<20} {what:<26} -> {} {summary}",
            response.status().as_u16()
        );
        if response.status().as_u16() == want {
            Ok(())
        } else {
            Err(format!("{who} {what}: expected {want}"))
        }
    };
    let r = api
        .handle(
            &acme_admin,
            &call("POST", format!("/logs/webhooks/{}/replay", last.id))?,
        )
        .await;
    show("acme client admin", "replay the last attempt", &r, 200)?;
    // A job whose target has no route is skipped, with a recorded reason; then requeued.
    let orphan = NewJob::from_envelope(
        acme.clone(),
        TargetRef::new("assistant:asst_deleted")?,
        &envelope,
    );
    let orphan = outbox.enqueue(&scope, orphan).await?.job;
    dispatcher.run_once().await?;
    let skipped = store.job(&scope, &orphan.id).await?.ok_or("job vanished")?;
    println!(
        "  job {} to a deleted assistant is {:?}",
        skipped.id, skipped.status
    );
    let r = api
        .handle(
            &acme_user,
            &call("POST", format!("/logs/webhooks/jobs/{}/retry", orphan.id))?,
        )
        .await;
    show("acme user", "retry the skipped job", &r, 403)?;
    let r = api
        .handle(
            &acme_admin,
            &call("POST", format!("/logs/webhooks/jobs/{}/retry", orphan.id))?,
        )
        .await;
    show("acme client admin", "retry the skipped job", &r, 200)?;
    let r = api
        .handle(
            &acme_admin,
            &call("POST", format!("/logs/webhooks/jobs/{}/retry", stored.id))?,
        )
        .await;
    show("acme client admin", "retry the succeeded job", &r, 409)?;
    let r = api
        .handle(
            &globex_admin,
            &call("GET", format!("/logs/webhooks/{}", stored.id))?,
        )
        .await;
    show("globex client admin", "read acme's job", &r, 404)?;
    let r = api
        .handle(
            &globex_admin,
            &call("POST", format!("/logs/webhooks/{}/replay", last.id))?,
        )
        .await;
    show("globex client admin", "replay acme's attempt", &r, 404)?;

    section("7. The attempt log after the replay");
    let attempts = store
        .attempts(&scope, &AttemptQuery::new().job(stored.id.clone()))
        .await?;
    print_attempts(&attempts.items);

    section("8. Live requests: the caller waits, the boundary answers within the budget");
    let server = start_server().await;
    let dev = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()?;
    let live_transport: Arc<ReqwestTransport> =
        Arc::new(ReqwestTransport::builder(dev.clone()).build()?);
    let requester = Requester::builder(live_transport.clone(), Arc::new(TokioTimer))
        .url_check(Arc::new(dev.clone()))
        .store(store.clone())
        .spawn(Arc::new(TokioSpawn))
        .observer(metrics_summary::observer())
        .build();
    let signer: Arc<Signer> = Arc::new(Signer::new(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?,
    ));
    let phone = Cascade::from_json(&format!(
        r#"{{"phoneNumber": {{"server": {{"url": "{server}/phone"}}}}}}"#
    ))?;
    let ringing = Envelope::parse(
        br#"{"message": {"type": "assistant-request", "call": {"id": "call_live_1"},
        "phoneNumber": {"fallbackDestination": {"type": "number", "number": "+15550001111"}}}}"#,
    )?;
    let outcome = requester
        .request(LiveRequest::new(acme.clone(), ringing.clone(), phone)?.signer(signer.clone()))
        .await;
    println!("  assistant-request -> {}", outcome.to_json_line());
    if !outcome.is_answered() {
        return Err("the assistant-request should have been answered".into());
    }
    // A function tool with its own server, in one turn with the model's other calls.
    let assistant = Cascade::from_json(&format!(
        r#"{{"assistant": {{"server": {{"url": "{server}/assistant"}}}}}}"#
    ))?;
    let runner = agent_webhooks::ToolRunner::new(dev, live_transport.clone());
    let turn = Turn::new(acme.clone())
        .function(
            ToolCall::new("tc_1", "order_status", r#"{"order": 42}"#),
            serde_json::json!({"type": "function", "function": {"name": "order_status"},
                "server": {"url": format!("{server}/tools")}}),
        )
        .functions(FunctionTools::new(requester.clone(), assistant).signer(signer.clone()));
    let results = runner.respond_turn(turn).await;
    println!(
        "  function tool     -> {}",
        serde_json::to_string(&results)?
    );
    if results.results[0].result.as_deref() != Some("Order 42 ships tomorrow.") {
        return Err("the function tool should have been answered by its server".into());
    }
    // A slow server: cut at the host's deadline, the phone number's fallback instead.
    let slow = Cascade::from_json(&format!(
        r#"{{"phoneNumber": {{"server": {{"url": "{server}/slow"}}}}}}"#
    ))?;
    let outcome = requester
        .request(
            LiveRequest::new(acme.clone(), ringing, slow)?
                .signer(signer)
                .deadline(Duration::from_millis(500)),
        )
        .await;
    println!("  slow server       -> {}", outcome.to_json_line());
    if outcome.reason() != Some(agent_webhooks::live::Reason::Timeout) {
        return Err("the slow server should have timed out".into());
    }
    // The records are written in the background; they show up in the logs.
    let mut rows = serde_json::Value::Null;
    for _ in 0..200 {
        let r = api
            .handle(
                &acme_admin,
                &call("GET", "/logs/webhooks?kind=live".to_owned())?,
            )
            .await;
        rows = serde_json::from_slice(r.body())?;
        if rows["items"].as_array().map_or(0, Vec::len) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("  GET /logs/webhooks?kind=live as acme's client admin:");
    let items = rows["items"].as_array().cloned().unwrap_or_default();
    for item in &items {
        println!(
            "    {:<26} {:<9} {:<22} {:>4}  {}",
            item["event_type"].as_str().unwrap_or("?"),
            item["status"].as_str().unwrap_or("?"),
            item["level"].as_str().unwrap_or("-"),
            item["status_code"]
                .as_u64()
                .map_or("-".to_owned(), |c| c.to_string()),
            item["error"].as_str().unwrap_or(""),
        );
    }
    if items.len() < 3 {
        return Err(format!(
            "three live exchanges should be in the logs, found {}",
            items.len()
        )
        .into());
    }
    let r = api
        .handle(
            &acme_user,
            &call("GET", "/logs/webhooks?kind=live".to_owned())?,
        )
        .await;
    let as_user: serde_json::Value = serde_json::from_slice(r.body())?;
    println!(
        "  the same listing as acme's user hides the bodies: response_body_hidden = {}",
        as_user["items"][0]["response_body_hidden"]
    );
    let r = api
        .handle(
            &globex_admin,
            &call("GET", "/logs/webhooks?kind=live".to_owned())?,
        )
        .await;
    let other: serde_json::Value = serde_json::from_slice(r.body())?;
    println!(
        "  and globex's client admin sees {} of them",
        other["items"].as_array().map_or(0, Vec::len)
    );

    #[cfg(feature = "metrics")]
    metrics_summary::print(&metrics, &dispatcher).await?;
    drop(api);
    drop(dispatcher);
    drop(outbox);
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// With `--features metrics`: the dispatcher reports to a `MetricsObserver`, and the demo ends
/// with a few lines of what it counted (metrics-util's debugging recorder stands in for an
/// exporter).
mod metrics_summary {
    use std::sync::Arc;

    use agent_webhooks::observe::Observer;

    /// The observer the demo's dispatcher reports to.
    pub fn observer() -> Arc<dyn Observer> {
        #[cfg(feature = "metrics")]
        return Arc::new(agent_webhooks::observe::MetricsObserver::new());
        #[cfg(not(feature = "metrics"))]
        Arc::new(agent_webhooks::observe::NoObserver)
    }

    /// Installs the recorder (before any observer is made, so they describe to it).
    #[cfg(feature = "metrics")]
    pub fn install() -> Result<metrics_util::debugging::Snapshotter, Box<dyn std::error::Error>> {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder)?;
        Ok(snapshotter)
    }

    /// Samples the backlog and prints every metric recorded, one line each.
    #[cfg(feature = "metrics")]
    pub async fn print(
        snapshotter: &metrics_util::debugging::Snapshotter,
        dispatcher: &agent_webhooks::outbox::Dispatcher,
    ) -> Result<(), Box<dyn std::error::Error>> {
        use metrics_util::debugging::DebugValue;
        dispatcher.sample_backlog().await?;
        super::section("9. Metrics (feature `metrics`; Prometheus names in the README)");
        let mut lines: Vec<String> = (snapshotter.snapshot().into_vec().into_iter())
            .map(|(key, _, _, value)| {
                let labels: Vec<String> = (key.key().labels())
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let value = match value {
                    DebugValue::Counter(n) => n.to_string(),
                    DebugValue::Gauge(v) => format!("{:.1}", v.into_inner()),
                    DebugValue::Histogram(v) => {
                        let max = v.iter().map(|x| x.into_inner()).fold(0.0, f64::max);
                        format!("{} recorded, max {max:.3} s", v.len())
                    }
                };
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", labels.join(","))
                };
                format!("  {}{labels} {value}", key.key().name())
            })
            .collect();
        lines.sort();
        println!("{}", lines.join("\n"));
        Ok(())
    }
}
