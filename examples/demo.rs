//! The demo: one phone call through the webhook boundary, end to end, in a few seconds.
//!
//! Run it with `cargo run --example demo --all-features` (the metrics summary at the end needs
//! feature `metrics`; the rest runs with the default features). Everything goes to servers the
//! demo starts on 127.0.0.1, over the crate's own guarded transport under a development policy
//! that opens loopback and nothing else; nothing leaves the machine.
//!
//! The story, in the order a runtime lives it:
//! 1. a call comes in: `assistant-request` to the phone number's server, answered;
//! 2. the assistant's webhook tool is compiled once (and refused for a chat agent);
//! 3. the model's turn: a webhook tool with a tenant secret header and a function tool;
//! 4. the model asks for the cloud metadata URL: the guard refuses it;
//! 5. status updates and the end-of-call report go through the SQLite outbox, one retried;
//! 6. another tenant's call: its server is too slow, the typed fallback instead;
//! 7. the receiver verified every signature it got;
//! 8. the logs of the two tenants, each seeing only its own rows, and an operator replay;
//! 9. the metrics.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_webhooks::directory::{MemoryDirectory, Route, Surface};
use agent_webhooks::event::{AssistantRequest, EndOfCallReport, ToolCall};
use agent_webhooks::live::{Answer, Fallback, Reason};
use agent_webhooks::logs::LogsApi;
use agent_webhooks::outbox::{AttemptQuery, JobStatus, NewJob, SqliteStore, Store};
use agent_webhooks::runtime::Runtime;
use agent_webhooks::tenant::{TenantConfig, TenantConfigs};
use agent_webhooks::tool::{FunctionTools, Turn};
use agent_webhooks::transport::{ReqwestTransport, TokioSpawn, TokioTimer};
use agent_webhooks::{
    AccessRole, AgentKind, Builtin, Call, CallStatus, Customer, Envelope, Event, EventBody, Origin,
    Policy, Principal, Profile, Scope, Secret, Signer, SigningSecret, StatusUpdate, TenantId,
    Timestamp, ToolInvocation, Vars, Verifier, WebhookTool,
};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use subtle::ConstantTimeEq;

/// The Standard Webhooks secret the runtime signs with and the receiver verifies with.
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Acme's CRM key: a tenant secret, sent in a header, never printed or logged.
const CRM_KEY: &str = "crm_live_7Qx2VbN9pLr4";

type Demo<T> = Result<T, Box<dyn std::error::Error>>;

fn step(title: &str) {
    println!("\n{title}");
}

fn now_ms() -> Demo<u64> {
    Ok(u64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis(),
    )?)
}

/// The customers' servers, on 127.0.0.1: what acme and globex run to receive webhooks. Every
/// server message must carry a valid Standard Webhooks signature; the CRM checks its bearer key.
#[derive(Debug)]
struct Receiver {
    verifier: Verifier,
    verified: AtomicUsize,
    refused: AtomicUsize,
    crm_calls: AtomicUsize,
    end_of_call_tries: AtomicUsize,
}

impl Receiver {
    async fn answer(&self, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let path = parts.uri.path();
        if let Some(phone) = path.strip_prefix("/crm/customers/") {
            // acme's CRM: the webhook tool's endpoint, authenticated by the tenant's key.
            let expected = format!("Bearer {CRM_KEY}");
            let given = parts.headers.get(http::header::AUTHORIZATION);
            let ok = given.is_some_and(|v| bool::from(v.as_bytes().ct_eq(expected.as_bytes())));
            if !ok {
                return reply(401, serde_json::json!({"error": "bad key"}));
            }
            self.crm_calls.fetch_add(1, Ordering::SeqCst);
            return reply(
                200,
                serde_json::json!({"phone": phone, "name": "Ada Lovelace", "tier": "gold"}),
            );
        }
        // Every server message: verify the signature first, as a receiver must.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self
            .verifier
            .verify_headers(&parts.headers, &body, now)
            .is_err()
        {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return reply(401, serde_json::json!({"error": "bad signature"}));
        }
        self.verified.fetch_add(1, Ordering::SeqCst);
        let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = &message["message"];
        match (path, message["type"].as_str().unwrap_or("")) {
            ("/acme/phone", "assistant-request") => reply(
                200,
                serde_json::json!({"assistant": {
                    "name": "Acme support",
                    "firstMessage": "Hi, this is Acme. How can I help?",
                    "model": {"provider": "openai", "model": "gpt-4o-mini"}}}),
            ),
            ("/acme/tools", "tool-calls") => {
                let results: Vec<serde_json::Value> = (message["toolCallList"].as_array())
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        serde_json::json!({"toolCallId": c["id"],
                        "result": "Order 42 shipped today; it arrives Thursday."})
                    })
                    .collect();
                reply(200, serde_json::json!({ "results": results }))
            }
            ("/acme/events", "end-of-call-report")
                if self.end_of_call_tries.fetch_add(1, Ordering::SeqCst) == 0 =>
            {
                reply(503, serde_json::json!({"error": "warming up"}))
            }
            ("/globex/phone", "assistant-request") => {
                tokio::time::sleep(Duration::from_secs(3)).await; // far past the deadline
                reply(200, serde_json::json!({"assistantId": "too_late"}))
            }
            _ => reply(200, serde_json::json!({})),
        }
    }
}

fn reply(status: u16, body: serde_json::Value) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response
}

/// Serves `receiver` on 127.0.0.1 (hyper's HTTP/1 server); its base URL.
async fn serve(receiver: Arc<Receiver>) -> Demo<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let receiver = receiver.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let receiver = receiver.clone();
                    async move { Ok::<_, Infallible>(receiver.answer(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Demo<()> {
    let started = Instant::now();
    #[cfg(feature = "metrics")]
    let metrics = metrics_summary::install()?;
    let acme = TenantId::new("acme")?;
    let globex = TenantId::new("globex")?;
    let receiver = Arc::new(Receiver {
        verifier: Verifier::new(SIGNING_SECRET.parse()?),
        verified: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        crm_calls: AtomicUsize::new(0),
        end_of_call_tries: AtomicUsize::new(0),
    });
    let base = serve(receiver.clone()).await?;
    println!("agent-webhooks demo: one phone call through the boundary");
    println!("  customers' servers on {base}; tenants `{acme}` and `{globex}`");

    // -- The runtime's parts, set up once at start-up. --------------------------------------
    // A development policy that opens loopback and nothing else (production refuses it).
    let policy = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()?;
    // Where each tenant's phone numbers and assistants send their webhooks (Vapi's shape).
    let directory = Arc::new(MemoryDirectory::new());
    directory.insert(
        &acme,
        Surface::PhoneNumber,
        "pn_acme",
        serde_json::json!({"server": {"url": format!("{base}/acme/phone")}}),
    )?;
    directory.insert(
        &acme,
        Surface::Assistant,
        "asst_support",
        serde_json::json!({"server": {"url": format!("{base}/acme/events"),
            "backoffPlan": {"type": "fixed", "maxRetries": 3, "baseDelaySeconds": 0.3}}}),
    )?;
    directory.insert(
        &globex,
        Surface::PhoneNumber,
        "pn_globex",
        serde_json::json!({"server": {"url": format!("{base}/globex/phone")}}),
    )?;
    // Tenant configuration: acme's CRM key is a secret of acme's, nobody else's.
    let mut configs = TenantConfigs::new();
    configs.insert(
        acme.clone(),
        TenantConfig::new().with_secret("crm_key", Secret::new(CRM_KEY)),
    );
    configs.insert(globex.clone(), TenantConfig::new());
    let configs = Arc::new(configs);
    // The durable outbox: a SQLite file (WAL) in a fresh temporary directory.
    let dir = std::env::temp_dir().join(format!("agent-webhooks-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("outbox.sqlite3")).await?);
    let signer = Arc::new(Signer::new(SIGNING_SECRET.parse::<SigningSecret>()?));
    let runtime = Runtime::builder(policy.clone())
        // The crate's guarded transport: every resolved address and redirect hop is checked
        // with the same policy.
        .transport(Arc::new(ReqwestTransport::new(policy)?))
        .store(store.clone())
        .directory(directory)
        .signer(signer.clone())
        .tenants(Arc::new(RwLock::new((*configs).clone())))
        .build()?;
    let observer = metrics_summary::observer();
    let requester = runtime
        .requester(Arc::new(TokioTimer))
        .spawn(Arc::new(TokioSpawn)) // records are written after the caller has its answer
        .observer(observer.clone())
        .build();
    let outbox = runtime.outbox();

    // -- 1. The call comes in. ---------------------------------------------------------------
    step("1. A call comes in on acme's number: `assistant-request` to the number's server");
    let call_id = "call_7f3a9c";
    let call = Call::new(call_id);
    let caller = "+15551234567";
    let acme_route = Route::new()
        .phone_number("pn_acme")?
        .assistant("asst_support")?;
    let mut ringing = Event::new(EventBody::AssistantRequest(AssistantRequest::default()))
        .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
        .with_call(call.clone())
        .with_customer(Customer::new(caller));
    ringing.phone_number = Some(serde_json::json!({"id": "pn_acme"}));
    let request = runtime
        .live_request(
            &acme,
            Envelope::new(ringing, Profile::Default),
            &Route::new().phone_number("pn_acme")?,
        )
        .await?;
    let outcome = requester.request(request).await;
    let Some(Answer::Assistant(answer)) = outcome.answer() else {
        return Err(format!("assistant-request not answered: {}", outcome.to_json_line()).into());
    };
    let assistant = answer.assistant.clone().unwrap_or_default();
    println!(
        "   answered within the 7.5 s budget: assistant {}, greeting {}",
        assistant["name"], assistant["firstMessage"]
    );
    // The call is live: its first server event goes to the outbox, written before any send.
    let scope = Scope::tenant(acme.clone());
    let in_progress = Event::new(EventBody::StatusUpdate(StatusUpdate::new(
        CallStatus::InProgress,
    )))
    .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
    .with_call(call.clone());
    let job = NewJob::from_envelope(
        acme.clone(),
        acme_route.to_target_ref()?,
        &Envelope::new(in_progress, Profile::Default),
    );
    let queued = outbox.enqueue(&scope, job).await?.job;
    println!(
        "   status-update `in-progress` written to the SQLite outbox before any send: {} ({})",
        queued.id,
        queued.status.as_str()
    );

    // -- 2. The assistant's tool, compiled once. ---------------------------------------------
    step("2. The assistant's webhook tool is compiled once for a phone agent");
    let tool = WebhookTool::from_json(&format!(
        r#"{{"name": "lookup_customer", "description": "Look up the caller in the CRM",
            "config": {{"url": "{base}/crm/customers/{{{{caller_phone}}}}", "method": "GET",
                        "headers": {{"Authorization": "Bearer {{{{secrets.crm_key}}}}",
                                     "X-Call-ID": "{{{{call_sid}}}}"}}}}}}"#
    ))?;
    let lookup = tool.compile(AgentKind::PhoneVoice)?;
    println!("   compiled: every variable checked against what a phone call knows");
    match tool.compile(AgentKind::Chat) {
        Ok(_) => return Err("a chat agent has no caller phone: must not compile".into()),
        Err(e) => {
            println!("   the same tool for a chat agent is refused now, not mid-call:\n     {e}")
        }
    }

    // -- 3. The model's turn. ----------------------------------------------------------------
    step("3. The model's turn calls a webhook tool and a function tool");
    let secret = (configs.get(&scope, &acme))
        .and_then(|c| c.secret("crm_key"))
        .ok_or("acme has no crm_key")?;
    let vars = Vars::new()
        .with(Builtin::TenantId, acme.as_str())
        .with(Builtin::CallerPhone, caller)
        .with(Builtin::CallSid, call_id)
        .with_secret("crm_key", secret.expose());
    let prepared = lookup.prepare(&vars, runtime.policy())?;
    println!(
        "   what a log of the prepared request shows: Authorization = {}",
        prepared.to_json()["headers"]["authorization"]
    );
    let runner = runtime
        .tool_runner(&acme)?
        .timer(Arc::new(TokioTimer))
        .store(store.clone())
        .spawn(Arc::new(TokioSpawn))
        .observer(observer.clone());
    let cascade = runtime.targets().cascade(&acme, &acme_route).await?;
    let turn = Turn::new(acme.clone())
        .webhook(ToolInvocation::new("tc_1", &lookup, &vars))
        .function(
            ToolCall::new("tc_2", "order_status", r#"{"order": 42}"#),
            serde_json::json!({"type": "function", "function": {"name": "order_status"},
                "server": {"url": format!("{base}/acme/tools")}}),
        )
        .functions(
            FunctionTools::new(requester.clone(), cascade)
                .signer(signer.clone())
                .call(call.clone()),
        );
    let results = runner.respond_turn(turn).await;
    for r in &results.results {
        println!(
            "   {:<16} -> {}",
            r.name,
            r.result.as_deref().or(r.error.as_deref()).unwrap_or("")
        );
    }
    if results.results.iter().any(|r| r.result.is_none()) {
        return Err("both tools should have been answered".into());
    }
    println!(
        "   the CRM got the tenant's key ({} call, checked in constant time); no output above shows it",
        receiver.crm_calls.load(Ordering::SeqCst)
    );

    // -- 4. The guard. -----------------------------------------------------------------------
    step("4. The model asks to fetch the cloud metadata URL: the guard refuses");
    let metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    match runtime.tenant_policy(&acme)?.parse(metadata, Origin::Model) {
        Ok(_) => return Err("the metadata address must be refused".into()),
        Err(rejection) => {
            println!("   {metadata}\n   refused before any socket opens: {rejection}")
        }
    }

    // -- 5. The call ends; the outbox delivers. ----------------------------------------------
    step("5. The call ends: status update and end-of-call report through the outbox");
    let ended = Event::new(EventBody::StatusUpdate(StatusUpdate::new(
        CallStatus::Ended,
    )))
    .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
    .with_call(call.clone());
    let report = Event::new(EventBody::EndOfCallReport(EndOfCallReport::new(
        "customer-ended-call".into(),
        serde_json::json!({"transcript": "AI: Hi, this is Acme. User: Where is order 42? ..."}),
        serde_json::json!({"summary": "Order 42 status given.", "successEvaluation": "true"}),
    )))
    .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
    .with_call(call.clone());
    let mut report_job = None;
    for event in [ended, report] {
        let job = NewJob::from_envelope(
            acme.clone(),
            acme_route.to_target_ref()?,
            &Envelope::new(event, Profile::Default),
        );
        let stored = outbox.enqueue(&scope, job).await?.job;
        println!("   {} stored as {}", stored.event_type, stored.id);
        report_job = Some(stored.id);
    }
    let report_job = report_job.ok_or("no report job")?;
    let dispatcher = Arc::new(runtime.dispatcher().observer(observer.clone()).build()?);
    let mut delivered = 0;
    for _ in 0..50 {
        let tick = dispatcher.run_once().await?;
        if tick.claimed > 0 {
            println!(
                "   dispatcher: claimed {}, delivered {}, retry scheduled {}",
                tick.claimed, tick.succeeded, tick.retried
            );
        }
        delivered += tick.succeeded;
        if delivered == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job = store
        .job(&scope, &report_job)
        .await?
        .ok_or("job vanished")?;
    if job.status != JobStatus::Succeeded || delivered != 3 {
        return Err(format!(
            "all three should be delivered; the report is {:?}",
            job.status
        )
        .into());
    }
    let attempts = store
        .attempts(&scope, &AttemptQuery::new().job(report_job.clone()))
        .await?;
    println!(
        "   the cascade routed them to the {} (the level that won, kept for the logs)",
        attempts.items[0].level.as_deref().unwrap_or("?")
    );
    for a in attempts.items.iter().rev() {
        println!(
            "   end-of-call-report attempt {}: {} {}{}",
            a.number,
            a.status_code.map_or("-".into(), |c| c.to_string()),
            a.status.as_str(),
            a.next_attempt_at.map_or(String::new(), |t| format!(
                ", retried {} ms later (the server's backoffPlan)",
                t.as_unix_millis()
                    .saturating_sub(a.ended_at.as_unix_millis())
            )),
        );
    }

    // -- 6. A live request that times out. ---------------------------------------------------
    step("6. Meanwhile globex's number rings, and globex's server is too slow");
    let mut ringing = Event::new(EventBody::AssistantRequest(AssistantRequest::default()))
        .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
        .with_call(Call::new("call_globex_1"))
        .with_customer(Customer::new("+15559876543"));
    ringing.phone_number = Some(serde_json::json!({"id": "pn_globex",
        "fallbackDestination": {"type": "number", "number": "+15550001111"}}));
    let request = runtime
        .live_request(
            &globex,
            Envelope::new(ringing, Profile::Default),
            &Route::new().phone_number("pn_globex")?,
        )
        .await?
        // What is left of the host's own deadline; the event's budget is 7.5 s at most.
        .deadline(Duration::from_millis(400));
    let outcome = requester.request(request).await;
    match (outcome.reason(), outcome.fallback()) {
        (Some(Reason::Timeout), Some(Fallback::Transfer { destination })) => println!(
            "   no answer within 400 ms: reason `timeout`, fallback: transfer to {}",
            destination["number"]
        ),
        _ => return Err(format!("expected a timeout: {}", outcome.to_json_line()).into()),
    }
    let ended = Event::new(EventBody::StatusUpdate(StatusUpdate::new(
        CallStatus::Ended,
    )))
    .with_timestamp(Timestamp::from_unix_millis(now_ms()?)?)
    .with_call(Call::new("call_globex_1"));
    let globex_scope = Scope::tenant(globex.clone());
    let job = NewJob::from_envelope(
        globex.clone(),
        Route::new().phone_number("pn_globex")?.to_target_ref()?,
        &Envelope::new(ended, Profile::Default),
    );
    outbox.enqueue(&globex_scope, job).await?;
    let mut delivered = 0;
    for _ in 0..50 {
        delivered += dispatcher.run_once().await?.succeeded;
        if delivered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if delivered != 1 {
        return Err("globex's status-update should be delivered".into());
    }
    println!("   globex's status-update `ended` delivered to globex's own server");

    // -- 7. The receiver's side. -------------------------------------------------------------
    step("7. The receiver verified the Standard Webhooks signature of every server message");
    let (verified, refused) = (
        receiver.verified.load(Ordering::SeqCst),
        receiver.refused.load(Ordering::SeqCst),
    );
    println!("   verified {verified}, refused {refused}");
    if refused != 0 || verified != 8 {
        return Err("every server message should be signed and verified".into());
    }
    // What the receiver's check is worth: a body changed after signing does not pass it.
    let now = now_ms()? / 1000;
    let mut headers = http::HeaderMap::new();
    (signer.headers("msg_demo", now, br#"{"message":{"type":"status-update"}}"#)?)
        .apply(&mut headers);
    match (receiver.verifier).verify_headers(&headers, br#"{"message":{"type":"hang-up"}}"#, now) {
        Ok(()) => return Err("a tampered body must not verify".into()),
        Err(e) => println!("   a body changed after signing would be refused: {e}"),
    }

    // -- 8. The logs. ------------------------------------------------------------------------
    step("8. The logs API: each tenant's admin sees its own rows, and only those");
    let logs = LogsApi::new(outbox.clone(), dispatcher.clone()).with_secrets(configs.clone());
    let acme_admin = Principal::new(acme.clone(), AccessRole::ClientAdmin, "ops@acme")?;
    let globex_admin = Principal::new(globex.clone(), AccessRole::ClientAdmin, "ops@globex")?;
    let get = |uri: &str| http::Request::get(uri).body(Vec::new());
    // The live and tool records are written off the call's path; wait until they are in.
    let mut seen = String::new();
    for (principal, want) in [(&acme_admin, 7), (&globex_admin, 2)] {
        let mut page = serde_json::Value::Null;
        for _ in 0..100 {
            let response = logs
                .handle(principal, &get("/logs/webhooks?kind=attempts")?)
                .await;
            seen.push_str(&String::from_utf8_lossy(response.body()));
            page = serde_json::from_slice(response.body())?;
            if page["items"].as_array().map_or(0, Vec::len) >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let items = page["items"].as_array().cloned().unwrap_or_default();
        println!(
            "   GET /logs/webhooks?kind=attempts as {}:",
            principal.tenant()
        );
        let row = |cells: [&str; 6]| {
            let line = format!(
                "     {:<7} {:<19} {:<9} {:>4}  {:<18} {}",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
            );
            println!("{}", line.trim_end());
        };
        row(["kind", "event", "status", "code", "level", "error"]);
        for item in items.iter().rev() {
            let trigger = item["trigger"].as_str().unwrap_or("?");
            row([
                if trigger == "scheduled" {
                    "outbox"
                } else {
                    trigger
                },
                item["event_type"].as_str().unwrap_or("?"),
                item["status"].as_str().unwrap_or("?"),
                &item["status_code"]
                    .as_u64()
                    .map_or("-".into(), |c| c.to_string()),
                item["level"].as_str().unwrap_or("-"),
                item["error"].as_str().unwrap_or(""),
            ]);
        }
        if items.len() != want
            || items
                .iter()
                .any(|i| i["tenant"] != principal.tenant().as_str())
        {
            return Err(format!("{} should see its {want} rows only", principal.tenant()).into());
        }
    }
    let last = &attempts.items[0].id; // the end-of-call report's successful attempt
    let replay = http::Request::post(format!("/logs/webhooks/{last}/replay")).body(Vec::new())?;
    let response = logs.handle(&globex_admin, &replay).await;
    println!(
        "   globex's admin replays acme's attempt: {} (another tenant's id is not found)",
        response.status()
    );
    let response = logs.handle(&acme_admin, &replay).await;
    println!(
        "   acme's admin replays it to the current target: {}, the receiver verified it too ({} in all)",
        response.status(),
        receiver.verified.load(Ordering::SeqCst)
    );
    if response.status() != 200
        || receiver.verified.load(Ordering::SeqCst) != 9
        || receiver.refused.load(Ordering::SeqCst) != 0
    {
        return Err("the replay should be delivered and verified".into());
    }
    if seen.contains(CRM_KEY) || seen.contains(SIGNING_SECRET) {
        return Err("a secret reached the logs".into());
    }
    println!("   no secret in any of these log pages");

    #[cfg(feature = "metrics")]
    metrics_summary::print(&metrics, &dispatcher).await?;
    #[cfg(not(feature = "metrics"))]
    println!(
        "\n9. (build with `--features metrics`, or `--all-features`, for the metrics summary)"
    );
    drop((logs, dispatcher, outbox, runner, requester, runtime, store));
    std::fs::remove_dir_all(&dir)?;
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// With feature `metrics`: every part reports to a `MetricsObserver`, and the demo ends with
/// what it counted (metrics-util's debugging recorder stands in for an exporter).
mod metrics_summary {
    use std::sync::Arc;

    use agent_webhooks::observe::Observer;

    /// The observer the runtime's parts report to.
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
        super::step("9. The metrics (feature `metrics`; Prometheus names in the README)");
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
                format!("   {}{labels} {value}", key.key().name())
            })
            .collect();
        lines.sort();
        println!("{}", lines.join("\n"));
        Ok(())
    }
}
