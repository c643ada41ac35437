//! The guarded reqwest transport and tool runs against real HTTP servers on loopback.
//!
//! Every server here listens on 127.0.0.1 or ::1, and every URL, redirect and stub answer
//! names a loopback address, so that even a broken guard could only reach loopback: refusals
//! are shown with production (loopback refused) or with a policy that opens 127.0.0.1 alone
//! (127.0.0.2 and ::1 refused). Loopback is opened only by development policies, and the one
//! public address (the rebinding stub's first answer) goes to a check that never connects.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use agent_webhooks::guard::{Origin, Policy, Rejection};
use agent_webhooks::http::{HeaderMap, HeaderValue, Request, StatusCode};
use agent_webhooks::outbox::{AttemptStatus, JobStatus, Transport, TransportErrorKind};
use agent_webhooks::tool::ToolFailure;
use agent_webhooks::transport::{
    BodyTruncated, DnsResolver, GuardedResolver, ReqwestTransport, ResolveError,
};
use agent_webhooks::{AgentKind, Builtin, ToolInvocation, ToolRunner, Vars, WebhookTool};
use async_trait::async_trait;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Frame};
use tokio::net::TcpListener;

use crate::outbox::support::{Rig, target};

const WAIT: Duration = Duration::from_secs(10);

/// Loopback only, in development mode: the one way these tests reach their servers.
fn dev() -> Policy {
    Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap()
}

/// Development mode opening 127.0.0.1 alone: the rest of loopback stays refused, so refusals
/// can be shown with addresses that are harmless to reach.
fn narrow() -> Policy {
    Policy::builder()
        .development()
        .dangerous()
        .allow_network("127.0.0.1/32".parse().unwrap())
        .build()
        .unwrap()
}

fn transport(policy: Policy) -> ReqwestTransport {
    ReqwestTransport::new(policy).unwrap()
}

fn get(url: &str) -> Request<Vec<u8>> {
    Request::get(url).body(Vec::new()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Loopback only.

#[tokio::test]
async fn loopback_is_reached_only_under_a_development_policy() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let server = Server::start(bind, |_| Reply::text(200, "hello")).await;
        let url = server.url("/hook");

        let response = transport(dev()).send(get(&url), WAIT).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), b"hello");
        assert_eq!(server.connections(), 1);

        let err = transport(Policy::default())
            .send(get(&url), WAIT)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Refused, "{bind}");
        assert!(err.message().contains("Loopback"), "{err}");
        assert_eq!(server.connections(), 1, "production never connects");
    }
}

#[tokio::test]
async fn the_system_resolver_answers_are_checked_too() {
    let server = Server::start("127.0.0.1:0", |_| Reply::text(200, "ok")).await;
    let url = format!("http://localhost:{}/", server.addr.port());
    let response = transport(dev()).send(get(&url), WAIT).await.unwrap();
    assert_eq!(response.status(), 200);

    let err = transport(Policy::default())
        .send(get(&url), WAIT)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Refused);
    assert_eq!(
        err.message(),
        Rejection::LocalName { rule: "localhost" }.to_string()
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn names_go_through_the_guarded_resolver() {
    let server = Server::start("127.0.0.1:0", |_| Reply::text(200, "ok")).await;
    let url = format!("http://svc.test:{}/", server.addr.port());

    let stub = Stub::always(&["127.0.0.1"]);
    let dev_transport = ReqwestTransport::builder(dev())
        .dns_resolver(stub.clone())
        .build()
        .unwrap();
    assert_eq!(
        dev_transport.send(get(&url), WAIT).await.unwrap().status(),
        200
    );
    assert_eq!(stub.asked(), ["svc.test"]);

    let prod = ReqwestTransport::builder(Policy::default())
        .dns_resolver(stub.clone())
        .build()
        .unwrap();
    let err = prod.send(get(&url), WAIT).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Refused);
    assert!(err.message().contains("127.0.0.1"), "{err}");

    // Strict: one refused address refuses the whole answer, even with an allowed one.
    let mixed = Stub::always(&["127.0.0.1", "127.0.0.2"]);
    let narrow_mixed = ReqwestTransport::builder(narrow())
        .dns_resolver(mixed)
        .build()
        .unwrap();
    let err = narrow_mixed.send(get(&url), WAIT).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Refused);
    assert!(err.message().contains("127.0.0.2"), "{err}");

    let empty = ReqwestTransport::builder(dev())
        .dns_resolver(Stub::always(&[]))
        .build()
        .unwrap();
    let err = empty.send(get(&url), WAIT).await.unwrap_err();
    assert_eq!(err.message(), Rejection::NoAddress.to_string());

    assert_eq!(server.connections(), 1, "only the allowed answer connected");
}

#[tokio::test]
async fn dns_rebinding_is_refused_at_connect_time() {
    let server = Server::start("127.0.0.1:0", |_| Reply::text(200, "internal")).await;
    let url = format!("http://rebind.test:{}/", server.addr.port());
    // The first answer (public) goes to a check that never connects; every later one is
    // loopback, so nothing here can reach a public address.
    let stub = Stub::scripted(&[&["93.184.215.14"]], &["127.0.0.1"]);
    let policy = Policy::default();

    let checked = GuardedResolver::new(Arc::new(policy.clone()), stub.clone())
        .resolve_checked("rebind.test")
        .await
        .unwrap();
    assert_eq!(checked, ["93.184.215.14".parse::<IpAddr>().unwrap()]);

    let prod = ReqwestTransport::builder(policy)
        .dns_resolver(stub.clone())
        .build()
        .unwrap();
    let err = prod.send(get(&url), WAIT).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Refused);
    assert!(err.message().contains("127.0.0.1"), "{err}");
    assert_eq!(stub.asked(), ["rebind.test", "rebind.test"]);
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn ip_literals_are_checked_before_sending() {
    // reqwest's resolver never sees IP-literal hosts: the URL check must refuse them, in every
    // spelling, before anything is dialled.
    let server = Server::start("127.0.0.1:0", |_| Reply::text(200, "ok")).await;
    let port = server.addr.port();
    let t = transport(Policy::default());
    for host in [
        "127.0.0.1",
        "0x7f.1",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::1]",
    ] {
        let url = format!("http://{host}:{port}/");
        let err = t.send(get(&url), WAIT).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Refused, "{url}");
        assert!(matches!(
            Policy::default().parse(&url, Origin::Operator),
            Err(Rejection::SpecialAddress { .. })
        ));
    }
    assert_eq!(server.connections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Redirects.

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let b = Server::start("127.0.0.1:0", |_| Reply::text(200, "b")).await;
    let to = b.url("/landing");
    let a = Server::start("127.0.0.1:0", move |_| Reply::redirect(302, &to)).await;
    let response = transport(dev()).send(get(&a.url("/")), WAIT).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(b.connections(), 0);
}

#[tokio::test]
async fn a_redirect_to_a_blocked_address_is_refused() {
    // 127.0.0.1 is open, the rest of loopback is not: each hop below is refused.
    let stub = Stub::always(&["127.0.0.2"]);
    let t = ReqwestTransport::builder(narrow())
        .redirects(3)
        .dns_resolver(stub.clone())
        .build()
        .unwrap();
    for location in [
        "http://127.0.0.2:{port}/admin",
        "http://0177.0.0.2:{port}/",
        "http://[::ffff:127.0.0.2]:{port}/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",
        "http://{host}:0/",
        "file:///etc/passwd",
        "http://internal.test:{port}/", // resolves to 127.0.0.2: refused at connect
    ] {
        let a = Server::start("127.0.0.1:0", |_| Reply::text(500, "")).await;
        let location = location
            .replace("{port}", &a.addr.port().to_string())
            .replace("{host}", "127.0.0.1");
        let a = a.answer(move |_| Reply::redirect(302, &location));
        let err = t.send(get(&a.url("/")), WAIT).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Refused, "{err}");
        assert_eq!(a.connections(), 1);
    }
    assert_eq!(stub.asked(), ["internal.test"]);
}

#[tokio::test]
async fn a_cross_origin_redirect_drops_sensitive_headers() {
    let b = Server::start("127.0.0.1:0", |_| Reply::text(200, "b")).await;
    let to = b.url("/landing");
    // Two loopback servers on different ports: different origins.
    let a = Server::start("127.0.0.1:0", move |seen| {
        if seen.path == "/same" {
            Reply::redirect(307, "/moved")
        } else if seen.path == "/moved" {
            Reply::text(200, "a")
        } else {
            Reply::redirect(307, &to)
        }
    })
    .await;
    let t = ReqwestTransport::builder(dev())
        .redirects(2)
        .build()
        .unwrap();
    let request = |path: &str| {
        let mut r = Request::post(a.url(path))
            .header("authorization", "Bearer sk_live_1")
            .header("x-api-key", "k_1")
            .header("x-call-id", "CA1")
            .body(br#"{"ok":true}"#.to_vec())
            .unwrap();
        r.headers_mut()
            .get_mut("authorization")
            .unwrap()
            .set_sensitive(true);
        r
    };

    let response = t.send(request("/cross"), WAIT).await.unwrap();
    assert_eq!(response.body(), b"b");
    let landed = b.seen().pop().unwrap();
    assert_eq!(landed.method, "POST", "307 keeps the method");
    assert_eq!(landed.body, br#"{"ok":true}"#, "and the body");
    assert_eq!(landed.header("x-call-id"), Some("CA1"));
    assert_eq!(landed.header("authorization"), None);
    assert_eq!(landed.header("x-api-key"), None);

    let response = t.send(request("/same"), WAIT).await.unwrap();
    assert_eq!(response.body(), b"a");
    let landed = a.seen().pop().unwrap();
    assert_eq!(landed.path, "/moved");
    assert_eq!(landed.header("authorization"), Some("Bearer sk_live_1"));
    assert_eq!(landed.header("x-api-key"), Some("k_1"));
}

/// Issue 16, item 1: a tool header carrying a tenant secret under a name the list does not
/// know (`X-Partner-Account`), and a literal credential, never reach a second origin, on a
/// 302 or a 307, between two ports of 127.0.0.1 or from 127.0.0.1 to [::1].
#[tokio::test]
async fn secret_bearing_headers_never_cross_origins_on_redirects() {
    let tool = WebhookTool::from_value(serde_json::json!({"name": "t", "config": {
        "url": "{URL}",
        "method": "POST",
        "headers": {"X-Partner-Account": "{{secrets.partner}}", "X-Call-Id": "{{call_sid}}",
                    "Authorization": "Bearer sk_literal_1", "X-Tenant-Label": "acme-{{secrets.label}}"},
        "body": {"ok": true}}}))
    .unwrap();
    for landing_bind in ["127.0.0.1:0", "[::1]:0"] {
        for status in [302, 307] {
            let b = Server::start(landing_bind, |_| Reply::text(200, "b")).await;
            let to = b.url("/landing");
            let a = Server::start("127.0.0.1:0", move |seen| {
                if seen.path == "/same" {
                    Reply::redirect(status, "/moved")
                } else if seen.path == "/moved" {
                    Reply::text(200, "a")
                } else {
                    Reply::redirect(status, &to)
                }
            })
            .await;
            let t = ReqwestTransport::builder(dev())
                .redirects(2)
                .build()
                .unwrap();
            let vars = Vars::new()
                .with(Builtin::CallSid, "CA1")
                .with_secret("partner", "acct_77_secret")
                .with_secret("label", "lbl_secret");
            let send = |path: &str| {
                let mut config = tool.clone();
                config.config.url = a.url(path);
                let prepared = config
                    .compile(AgentKind::Chat)
                    .unwrap()
                    .prepare(&vars, &dev())
                    .unwrap();
                t.send(prepared.into_request(), WAIT)
            };
            let response = send("/cross").await.unwrap();
            assert_eq!(response.body(), b"b", "{landing_bind} {status}");
            let landed = b.seen().pop().unwrap();
            assert_eq!(landed.header("x-call-id"), Some("CA1"), "{status}");
            for name in ["x-partner-account", "x-tenant-label", "authorization"] {
                assert_eq!(landed.header(name), None, "{landing_bind} {status}: {name}");
            }
            let everything = format!("{:?} {:?}", landed.headers, landed.body);
            for secret in ["acct_77_secret", "lbl_secret", "sk_literal_1"] {
                assert!(!everything.contains(secret), "{status}: {everything}");
            }
            // The same origin keeps them: the first origin is where the operator sends them.
            let response = send("/same").await.unwrap();
            assert_eq!(response.body(), b"a");
            let landed = a.seen().pop().unwrap();
            assert_eq!(landed.path, "/moved");
            assert_eq!(landed.header("x-partner-account"), Some("acct_77_secret"));
            assert_eq!(landed.header("authorization"), Some("Bearer sk_literal_1"));
        }
    }
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_and_hops_are_bounded() {
    let b = Server::start("127.0.0.1:0", |_| Reply::text(200, "b")).await;
    let to = b.url("/result");
    let a = Server::start("127.0.0.1:0", move |seen| {
        if seen.path == "/loop" {
            Reply::redirect(302, "/loop")
        } else {
            Reply::redirect(303, &to)
        }
    })
    .await;
    let t = ReqwestTransport::builder(dev())
        .redirects(3)
        .build()
        .unwrap();
    let post = Request::post(a.url("/submit"))
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .unwrap();
    assert_eq!(t.send(post, WAIT).await.unwrap().status(), 200);
    let landed = b.seen().pop().unwrap();
    assert_eq!((landed.method.as_str(), landed.body.len()), ("GET", 0));
    assert_eq!(landed.header("content-type"), None);

    let before = a.seen().len();
    let response = t.send(get(&a.url("/loop")), WAIT).await.unwrap();
    assert_eq!(response.status(), 302, "the last hop's 3xx is the response");
    assert_eq!(a.seen().len() - before, 4, "the first request and 3 hops");
}

#[tokio::test]
async fn a_model_provided_chain_stays_in_the_allowlist() {
    let b = Server::start("127.0.0.1:0", |_| Reply::text(200, "b")).await;
    let to = format!("http://localhost:{}/", b.addr.port());
    let a = Server::start("127.0.0.1:0", move |_| Reply::redirect(302, &to)).await;
    let policy = Policy::builder()
        .development()
        .allow_host("127.0.0.1")
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap();
    let t = ReqwestTransport::builder(policy)
        .redirects(2)
        .build()
        .unwrap();

    let mut request = get(&a.url("/"));
    request.extensions_mut().insert(Origin::Model);
    let err = t.send(request, WAIT).await.unwrap_err();
    assert_eq!(err.message(), Rejection::HostNotAllowed.to_string());
    assert_eq!(b.connections(), 0);

    // The same chain chosen by the operator may leave the allowlist.
    assert_eq!(t.send(get(&a.url("/")), WAIT).await.unwrap().status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Bodies and timeouts.

#[tokio::test]
async fn large_responses_are_cut_at_the_body_limit() {
    // 1 GiB if read to the end: the transport must stop at its limit.
    let server = Server::start("127.0.0.1:0", |seen| {
        if seen.path == "/exact" {
            Reply::text(200, &"x".repeat(65_536))
        } else {
            Reply::endless(1 << 30)
        }
    })
    .await;
    let t = ReqwestTransport::builder(dev())
        .body_limit(65_536)
        .build()
        .unwrap();
    let response = t.send(get(&server.url("/big")), WAIT).await.unwrap();
    assert_eq!(response.body().len(), 65_536);
    assert_eq!(
        response.extensions().get::<BodyTruncated>(),
        Some(&BodyTruncated)
    );

    let response = t.send(get(&server.url("/exact")), WAIT).await.unwrap();
    assert_eq!(response.body().len(), 65_536);
    assert_eq!(response.extensions().get::<BodyTruncated>(), None);
}

#[tokio::test]
async fn a_slow_server_times_out_within_the_send_timeout() {
    let server = Server::start("127.0.0.1:0", |_| Reply::slow(Duration::from_secs(30))).await;
    let err = transport(dev())
        .send(get(&server.url("/")), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Timeout);
    assert_eq!(err.message(), "no complete response within 200 ms");
}

/// The transport keeps the timer of an answered send armed for the next: a later, shorter
/// deadline still cuts, a send after a cut is answered, and a runtime never gets another's
/// timer (the first runtime is gone when the second sends).
#[test]
fn a_kept_deadline_timer_is_rearmed_for_each_send() {
    let t = transport(dev());
    let send_all = |t: ReqwestTransport| async move {
        let server = Server::start("127.0.0.1:0", |seen| {
            if seen.path == "/slow" {
                Reply::slow(Duration::from_secs(30))
            } else {
                Reply::text(200, "ok")
            }
        })
        .await;
        for _ in 0..3 {
            let r = t.send(get(&server.url("/fast")), WAIT).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        let err = t
            .send(get(&server.url("/slow")), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Timeout);
        let r = t.send(get(&server.url("/fast")), WAIT).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    };
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sends = send_all(t.clone());
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), sends).await })
            .expect("every send ends by its deadline");
    }
}

#[tokio::test]
async fn timeouts_are_recorded_as_attempts_through_the_dispatcher() {
    let server = Server::start("127.0.0.1:0", |seen| {
        if seen.header("webhook-id").is_some() {
            Reply::slow(Duration::from_secs(30))
        } else {
            Reply::text(400, "no webhook-id")
        }
    })
    .await;
    let rig = Rig::new();
    let url = server.url("/vapi");
    rig.targets.set(
        "assistant:a1",
        target(&url).timeout(Duration::from_millis(200)),
    );
    // The dispatcher's own URL check is the guard too; loopback needs the same dev policy.
    let d = rig
        .dispatcher(Arc::new(transport(dev())))
        .url_check(Arc::new(dev()))
        .build()
        .unwrap();
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;

    let tick = d.run_once().await.unwrap();
    assert_eq!((tick.claimed, tick.retried), (1, 1));
    let attempts = rig.attempts(&job.id).await;
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt.status, AttemptStatus::Failed);
    assert_eq!(attempt.status_code, None);
    assert_eq!(attempt.url.as_deref(), Some(url.as_str()));
    assert_eq!(
        attempt.error.as_deref(),
        Some("timeout: no complete response within 200 ms")
    );
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Pending);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn transport_errors_carry_no_url() {
    // A port nothing listens on (bound, then closed).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
    let err = transport(dev()).send(get(&url), WAIT).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Tool calls end to end.

fn tool(url: &str, timeout_seconds: u16) -> agent_webhooks::CompiledTool {
    let json = serde_json::json!({
        "name": "lookup_customer",
        "description": "Look up customer by phone number",
        "config": {
            "url": format!("{url}/customers/{{{{caller_phone}}}}"),
            "method": "GET",
            "headers": { "Authorization": "Bearer YOUR_KEY", "X-Call-ID": "{{call_sid}}" },
            "timeout_seconds": timeout_seconds,
        }
    });
    WebhookTool::from_value(json)
        .unwrap()
        .compile(AgentKind::PhoneVoice)
        .unwrap()
}

fn call_vars() -> Vars {
    Vars::new()
        .with(Builtin::CallerPhone, "+15551234567")
        .with(Builtin::CallSid, "CA123")
}

#[tokio::test]
async fn a_tool_call_runs_end_to_end_in_the_vapi_shape() {
    let server = Server::start("127.0.0.1:0", |seen| match seen.path.as_str() {
        "/customers/+15551234567" => Reply::json(200, r#"{ "name": "Ada", "tier": "gold" }"#),
        _ => Reply::text(404, "no such customer"),
    })
    .await;
    let t = Arc::new(transport(dev()));
    let runner = ToolRunner::new(dev(), t);
    let lookup = tool(&server.url(""), 5);
    let vars = call_vars();

    let response = runner
        .respond(&[ToolInvocation::new("call_1", &lookup, &vars)])
        .await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({"results": [{
            "toolCallId": "call_1",
            "name": "lookup_customer",
            "result": r#"{"name":"Ada","tier":"gold"}"#,
        }]})
    );
    let seen = server.seen().pop().unwrap();
    assert_eq!(seen.header("authorization"), Some("Bearer YOUR_KEY"));
    assert_eq!(seen.header("x-call-id"), Some("CA123"));
}

#[tokio::test]
async fn tool_failures_become_sentences_the_model_can_speak() {
    let server = Server::start("127.0.0.1:0", |seen| match seen.path.as_str() {
        p if p.starts_with("/down") => Reply::json(503, r#"{"error":"maintenance"}"#),
        p if p.starts_with("/slow") => Reply::slow(Duration::from_secs(30)),
        p if p.starts_with("/big") => Reply::text(200, &"y".repeat(20_000)),
        _ => Reply::text(200, "?"),
    })
    .await;
    let runner = ToolRunner::new(dev(), Arc::new(transport(dev()))).result_limit(100);
    let vars = call_vars();

    let outcome = runner.run(&tool(&server.url("/down"), 5), &vars).await;
    assert_eq!(outcome.result().status(), Some(503));
    assert_eq!(
        outcome.result().error(),
        Some("The tool request failed with HTTP 503 Service Unavailable.")
    );
    assert_eq!(outcome.failure(), None);

    let outcome = runner.run(&tool(&server.url("/slow"), 1), &vars).await;
    assert_eq!(
        outcome.failure(),
        Some(&ToolFailure::Timeout(Duration::from_secs(1)))
    );
    assert_eq!(
        outcome.result().error(),
        Some("The tool did not answer within 1 seconds.")
    );

    let outcome = runner.run(&tool(&server.url("/big"), 5), &vars).await;
    assert!(outcome.result().is_truncated());
    assert_eq!(
        outcome.result().result().map(str::len),
        Some(100 + "… [truncated]".len())
    );

    // Refused under production: the guard at prepare time, the model told only "refused".
    let prod = ToolRunner::new(Policy::default(), Arc::new(transport(Policy::default())));
    let outcome = prod.run(&tool(&server.url("/down"), 5), &vars).await;
    assert!(matches!(
        outcome.failure(),
        Some(ToolFailure::Refused { .. })
    ));
    assert_eq!(
        outcome.result().error(),
        Some("The tool request was refused by the runtime's safety policy.")
    );
    let answer = prod
        .respond(&[ToolInvocation::new(
            "call_2",
            &tool(&server.url("/down"), 5),
            &vars,
        )])
        .await;
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        serde_json::json!({"results": [{
            "toolCallId": "call_2",
            "name": "lookup_customer",
            "error": "The tool request was refused by the runtime's safety policy.",
        }]})
    );
    // Refused by the transport alone (a runner with a looser policy): the same sentence.
    let loose = ToolRunner::new(dev(), Arc::new(transport(Policy::default())));
    let outcome = loose.run(&tool(&server.url("/down"), 5), &vars).await;
    assert!(matches!(
        outcome.failure(),
        Some(ToolFailure::Refused { .. })
    ));

    // Nothing listening: a transport failure.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let outcome = runner
        .run(&tool(&format!("http://127.0.0.1:{port}"), 5), &vars)
        .await;
    assert!(matches!(
        outcome.failure(),
        Some(ToolFailure::Transport { .. })
    ));
    assert_eq!(
        outcome.result().error(),
        Some("The tool could not be reached.")
    );
    assert_eq!(
        server.seen().len(),
        3,
        "down, slow, big; nothing refused was sent"
    );
}

// ---------------------------------------------------------------------------------------------
// Test doubles: a stub resolver and a loopback HTTP server.

/// Answers from a script, then `then` forever; records the names asked.
#[derive(Debug)]
struct Stub {
    script: Mutex<VecDeque<Vec<IpAddr>>>,
    then: Vec<IpAddr>,
    asked: Mutex<Vec<String>>,
}

impl Stub {
    fn scripted(script: &[&[&str]], then: &[&str]) -> Arc<Self> {
        let parse = |a: &[&str]| a.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>();
        Arc::new(Stub {
            script: Mutex::new(script.iter().map(|a| parse(a)).collect()),
            then: parse(then),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn always(answer: &[&str]) -> Arc<Self> {
        Self::scripted(&[], answer)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait]
impl DnsResolver for Stub {
    async fn lookup(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        self.asked.lock().unwrap().push(name.to_owned());
        let next = self.script.lock().unwrap().pop_front();
        Ok(next.unwrap_or_else(|| self.then.clone()))
    }
}

#[test]
fn resolve_errors_say_what_was_refused() {
    let err = ResolveError::Refused {
        name: "svc.test".into(),
        rejection: Rejection::NoAddress,
    };
    assert_eq!(
        err.to_string(),
        "DNS answer for `svc.test` refused: the name resolved to no address"
    );
    assert_eq!(err.rejection(), Some(Rejection::NoAddress));
}

fn live_requester(policy: Policy) -> agent_webhooks::live::Requester {
    agent_webhooks::live::Requester::builder(
        Arc::new(transport(policy.clone())),
        Arc::new(agent_webhooks::transport::TokioTimer),
    )
    .url_check(Arc::new(policy))
    .build()
}

fn live_request(
    message: serde_json::Value,
    url: &str,
    timeout_s: u16,
) -> agent_webhooks::live::LiveRequest {
    let cascade = agent_webhooks::Cascade::from_value(serde_json::json!({
        "phoneNumber": {"server": {"url": url, "timeoutSeconds": timeout_s}},
        "assistant": {"server": {"url": url, "timeoutSeconds": timeout_s},
                      "voice": {"server": {"url": url, "timeoutSeconds": timeout_s}}},
    }))
    .unwrap();
    let body = serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap();
    let envelope = agent_webhooks::Envelope::parse(&body).unwrap();
    agent_webhooks::live::LiveRequest::new(
        agent_webhooks::TenantId::new("acme").unwrap(),
        envelope,
        cascade,
    )
    .unwrap()
}

#[tokio::test]
async fn a_live_exchange_is_signed_and_verified_by_a_real_receiver() {
    use crate::outbox::support::{SECRET, signer, verifier};
    let server = Server::start("127.0.0.1:0", |seen| {
        let id = seen.header("webhook-id").unwrap_or("");
        let ts: u64 = seen
            .header("webhook-timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let signature = seen.header("webhook-signature").unwrap_or("");
        match verifier().verify(id, ts, signature, &seen.body, ts) {
            Ok(_) => Reply::json(200, r#"{"assistantId": "asst_verified"}"#),
            Err(_) => Reply::json(401, r#"{"error": "bad signature"}"#),
        }
    })
    .await;
    let _ = SECRET;
    let requester = live_requester(dev());
    let message = serde_json::json!({"type": "assistant-request", "call": {"id": "call_1"}});
    let outcome = requester
        .request(live_request(message.clone(), &server.url("/vapi"), 20).signer(signer()))
        .await;
    let Some(agent_webhooks::live::Answer::Assistant(answer)) = outcome.answer() else {
        panic!("{outcome:?}")
    };
    assert_eq!(answer.assistant_id.as_deref(), Some("asst_verified"));
    let seen = server.seen();
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        seen[0].header("webhook-id"),
        Some(outcome.webhook_id.as_str())
    );
    // Unsigned, the receiver refuses: http_status, and the phone number's fallback.
    let outcome = requester
        .request(live_request(message, &server.url("/vapi"), 20))
        .await;
    assert_eq!(
        outcome.reason(),
        Some(agent_webhooks::live::Reason::HttpStatus)
    );
    assert_eq!(outcome.status, Some(401));
}

#[tokio::test]
async fn a_slow_receiver_is_cut_at_the_deadline() {
    let server = Server::start("127.0.0.1:0", |_| Reply::slow(Duration::from_secs(30))).await;
    let requester = live_requester(dev());
    let message = serde_json::json!({"type": "transfer-destination-request"});
    let outcome = requester
        .request(
            live_request(message, &server.url("/slow"), 20).deadline(Duration::from_millis(300)),
        )
        .await;
    assert_eq!(
        outcome.reason(),
        Some(agent_webhooks::live::Reason::Timeout)
    );
    assert_eq!(
        outcome.fallback(),
        Some(&agent_webhooks::live::Fallback::NoTransfer { message: None })
    );
    assert_eq!(
        server.seen().len(),
        1,
        "the request arrived; its answer came too late"
    );
}

#[tokio::test]
async fn voice_streams_to_the_host_chunk_by_chunk() {
    let server = Server::start("127.0.0.1:0", |_| Reply::endless(256 * 1024)).await;
    let requester = live_requester(dev());
    let message =
        serde_json::json!({"type": "voice-request", "text": "Hello", "sampleRate": 24000});
    let mut chunks = 0usize;
    let mut bytes = 0usize;
    let outcome = requester
        .voice(
            live_request(message.clone(), &server.url("/tts"), 20),
            &mut |pcm: &[u8]| {
                chunks += 1;
                bytes += pcm.len();
            },
        )
        .await;
    assert_eq!(
        outcome.answer(),
        Some(&agent_webhooks::live::Answer::Voice { bytes: 256 * 1024 })
    );
    assert_eq!(bytes, 256 * 1024);
    assert!(
        chunks > 1,
        "handed on as it came, not buffered whole ({chunks} chunk)"
    );
    // More than the voice limit: too_large, the fallback voice.
    let small = agent_webhooks::live::Requester::builder(
        Arc::new(transport(dev())),
        Arc::new(agent_webhooks::transport::TokioTimer),
    )
    .url_check(Arc::new(dev()))
    .voice_limit(64 * 1024)
    .build();
    let mut total = 0usize;
    let outcome = small
        .voice(
            live_request(message, &server.url("/tts"), 20),
            &mut |pcm: &[u8]| total += pcm.len(),
        )
        .await;
    assert_eq!(
        outcome.reason(),
        Some(agent_webhooks::live::Reason::TooLarge)
    );
    assert_eq!(
        outcome.fallback(),
        Some(&agent_webhooks::live::Fallback::FallbackVoice)
    );
    assert!(total <= 64 * 1024);
}

#[tokio::test]
async fn webhookctl_request_answers_from_a_local_server() {
    let server = Server::start("127.0.0.1:0", |seen| {
        if seen.header("webhook-signature").is_some() {
            Reply::json(
                200,
                r#"{"results": [{"toolCallId": "tc_1", "result": "shipped"}]}"#,
            )
        } else {
            Reply::json(500, "{}")
        }
    })
    .await;
    let dir = std::env::temp_dir().join(format!("aw-request-{}", server.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let cascade = dir.join("cascade.json");
    std::fs::write(
        &cascade,
        serde_json::json!({"tool": {"server": {"url": server.url("/tools")}}}).to_string(),
    )
    .unwrap();
    let event = "examples/data/tool_calls.json".to_owned();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["--cascade", cascade.to_str().unwrap(), "--event", &event]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let secret = crate::outbox::support::SECRET;
    let outcome = crate::request::exchange(&args(&["--dev", "--secret", secret]))
        .await
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(&outcome.to_json_line()).unwrap();
    assert_eq!(line["outcome"], "answered", "{line}");
    assert_eq!(line["level"], "tool");
    assert_eq!(line["status"], 200);
    assert_eq!(line["reason"], serde_json::Value::Null);
    assert_eq!(
        line["response"],
        serde_json::json!({"results": [{"toolCallId": "tc_1", "name": "lookup", "result": "shipped"}]})
    );
    assert_eq!(line["fallback"], serde_json::Value::Null);
    let text = outcome.to_json_line();
    let order: Vec<usize> = [
        "level",
        "url",
        "status",
        "latency_ms",
        "outcome",
        "reason",
        "response",
        "fallback",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\":")).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "the documented key order: {text}"
    );
    // Unsigned: the server answers 500; the tool's own failure message is the fallback.
    let outcome = crate::request::exchange(&args(&["--dev"])).await.unwrap();
    assert_eq!(outcome.to_json()["reason"], "http_status");
    assert_eq!(
        outcome.to_json()["fallback"]["response"]["results"][0]["error"],
        "The order system is not answering."
    );
    // Without --dev the production policy refuses loopback before anything is sent.
    let before = server.seen().len();
    let outcome = crate::request::exchange(&args(&[])).await.unwrap();
    assert_eq!(outcome.to_json()["reason"], "refused");
    assert_eq!(server.seen().len(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// What a server answers.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
    delay: Duration,
}

impl Reply {
    fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "text/plain".into())],
            body: http_body_util::Full::new(Bytes::from(body.to_owned())).boxed(),
            delay: Duration::ZERO,
        }
    }

    fn json(status: u16, body: &str) -> Self {
        let mut r = Reply::text(status, body);
        r.headers = vec![("content-type", "application/json".into())];
        r
    }

    fn redirect(status: u16, location: &str) -> Self {
        let mut r = Reply::text(status, "");
        r.headers.push(("location", location.to_owned()));
        r
    }

    fn slow(delay: Duration) -> Self {
        let mut r = Reply::text(200, "late");
        r.delay = delay;
        r
    }

    /// `len` bytes of `x`, made as they are read.
    fn endless(len: u64) -> Self {
        Reply {
            status: 200,
            headers: vec![("content-type", "text/plain".into())],
            body: Endless { left: len }.boxed(),
            delay: Duration::ZERO,
        }
    }
}

struct Endless {
    left: u64,
}

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        static CHUNK: [u8; 16 * 1024] = [b'x'; 16 * 1024];
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &CHUNK[..n as usize],
        )))))
    }
}

type Handler = Arc<Mutex<Arc<dyn Fn(&Seen) -> Reply + Send + Sync>>>;

/// An HTTP/1.1 server on a loopback port; stops when dropped.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    handler: Handler,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(bind: &str, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(Mutex::new(Arc::new(handler)));
        let (log, count, answers) = (seen.clone(), connections.clone(), handler.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (log, handler) = (log.clone(), answers.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (log, handler) = (log.clone(), handler.clone());
                        async move { Ok::<_, Infallible>(answer(request, &log, &handler).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Server {
            addr,
            seen,
            connections,
            handler,
            task,
        }
    }

    /// Answers with `handler` from now on.
    fn answer(self, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        *self.handler.lock().unwrap() = Arc::new(handler);
        self
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    log: &Mutex<Vec<Seen>>,
    handler: &Handler,
) -> hyper::Response<Body> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec());
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body: body.unwrap_or_default(),
    };
    log.lock().unwrap().push(seen.clone());
    let handler = handler.lock().unwrap().clone();
    let reply = handler(&seen);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = hyper::Response::new(reply.body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}
