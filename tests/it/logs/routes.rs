//! Every route and error status of the logs API, through the handler.

use agent_webhooks::AccessRole::{ClientAdmin, SuperAdmin, User};
use agent_webhooks::http::{Method, StatusCode, header};
use agent_webhooks::outbox::{AttemptQuery, JobStatus, Trigger};
use agent_webhooks::{Principal, Scope};

use super::fixture::{Fixture, LEAK, principal, tenant};

fn acme_admin() -> Principal {
    principal("acme", ClientAdmin)
}

#[tokio::test]
async fn list_jobs_newest_first_within_the_tenant_with_filters() {
    let f = Fixture::new().await;
    let user = principal("acme", User);
    let all = f.call(&user, Method::GET, "/logs/webhooks").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json["kind"], "jobs");
    let expected: Vec<String> = ["pending", "private", "gone", "none", "fail", "ok"]
        .iter()
        .map(|l| f.acme.jobs[l].to_string())
        .collect();
    assert_eq!(all.ids(), expected);
    assert!(all.json["next_cursor"].is_null());
    assert_eq!(all.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(all.headers[header::CACHE_CONTROL], "no-store");

    let failed = f
        .call(&user, Method::GET, "/logs/webhooks?status=failed")
        .await;
    let ids = failed.ids();
    assert_eq!(
        ids,
        [
            f.acme.jobs["gone"].to_string(),
            f.acme.jobs["fail"].to_string()
        ]
    );
    let by_type = f
        .call(&user, Method::GET, "/logs/webhooks?event_type=transcript")
        .await;
    assert_eq!(by_type.ids(), [f.acme.jobs["none"].to_string()]);
    let by_call = f
        .call(&user, Method::GET, "/logs/webhooks?call_id=acme_c2")
        .await;
    assert_eq!(
        by_call.ids(),
        [
            f.acme.jobs["gone"].to_string(),
            f.acme.jobs["none"].to_string()
        ]
    );
    // Created at T0+1s (fail) and T0+2s (none): [since, until).
    let window = f
        .call(
            &user,
            Method::GET,
            "/logs/webhooks?since=2026-01-01T00:00:01Z&until=1767225603000",
        )
        .await;
    assert_eq!(
        window.ids(),
        [
            f.acme.jobs["none"].to_string(),
            f.acme.jobs["fail"].to_string()
        ]
    );
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let full = f
        .call(&admin, Method::GET, "/logs/webhooks?kind=attempts")
        .await
        .ids();
    assert_eq!(full.len(), 5);
    let mut paged = Vec::new();
    let mut uri = "/logs/webhooks?kind=attempts&limit=1".to_owned();
    for _ in 0..10 {
        let page = f.call(&admin, Method::GET, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        paged.extend(page.ids());
        match page.json["next_cursor"].as_str() {
            Some(c) => uri = format!("/logs/webhooks?kind=attempts&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, full);
}

#[tokio::test]
async fn attempts_listing_and_its_filters() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let failed = f
        .call(
            &admin,
            Method::GET,
            "/logs/webhooks?kind=attempts&status=failed",
        )
        .await;
    assert_eq!(failed.json["kind"], "attempts");
    assert_eq!(
        failed.ids(),
        [
            f.acme.attempts["gone"].to_string(),
            f.acme.attempts["fail"].to_string()
        ]
    );
    let uri = format!(
        "/logs/webhooks?kind=attempts&job_id={}",
        f.acme.jobs["none"]
    );
    let of_job = f.call(&admin, Method::GET, &uri).await;
    assert_eq!(of_job.ids(), [f.acme.attempts["none"].to_string()]);
    assert_eq!(of_job.json["items"][0]["status"], "refused");
    // Another tenant's job id as a filter just matches nothing.
    let uri = format!(
        "/logs/webhooks?kind=attempts&job_id={}",
        f.globex.jobs["fail"]
    );
    assert!(f.call(&admin, Method::GET, &uri).await.ids().is_empty());
}

#[tokio::test]
async fn bad_filters_are_400_with_what_to_fix() {
    let f = Fixture::new().await;
    let user = principal("acme", User);
    for query in [
        "limit=201",
        "limit=0",
        "status=done",
        "since=yesterday",
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        "cursor=not-a-cursor",
        "colour=blue",
        "kind=attempts&call_id=x",
        "limit=1&limit=2",
    ] {
        let r = f
            .call(&user, Method::GET, &format!("/logs/webhooks?{query}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.error_code(), "bad_filter", "{query}");
    }
    let r = f.call(&user, Method::GET, "/logs/webhooks?limit=200").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_super_admin_sees_every_tenant_and_can_narrow_others_cannot() {
    let f = Fixture::new().await;
    let sa = principal("platform", SuperAdmin);
    let all = f.call(&sa, Method::GET, "/logs/webhooks").await;
    assert_eq!(all.ids().len(), 12);
    let globex = f
        .call(&sa, Method::GET, "/logs/webhooks?tenant=globex")
        .await;
    assert_eq!(globex.ids().len(), 6);
    assert!(
        globex.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["tenant"] == "globex")
    );
    let admin = acme_admin();
    let own = f
        .call(&admin, Method::GET, "/logs/webhooks?tenant=acme")
        .await;
    assert_eq!(own.ids().len(), 6);
    let other = f
        .call(&admin, Method::GET, "/logs/webhooks?tenant=globex")
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.error_code(), "not_found");
}

#[tokio::test]
async fn get_a_job_with_its_attempts_and_an_attempt() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let job = f
        .call(
            &admin,
            Method::GET,
            &format!("/logs/webhooks/{}", f.acme.jobs["fail"]),
        )
        .await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.text);
    assert_eq!(job.json["kind"], "job");
    assert_eq!(job.json["status"], "failed");
    assert_eq!(job.json["call_id"], "acme_c1");
    assert_eq!(job.json["created_at"], "2026-01-01T00:00:01.000Z");
    // Its target's breaker counted the 500 (one failure: still closed).
    assert_eq!(job.json["target_breaker"]["state"], "closed");
    assert_eq!(job.json["target_breaker"]["failures"], 1);
    assert_eq!(
        job.json["recent_attempts"][0]["id"],
        f.acme.attempts["fail"].as_str()
    );
    // Payload: JSON, the secret redacted, counts kept.
    assert_eq!(
        job.json["payload"]["message"]["assistant"]["server"]["secret"],
        "[redacted]"
    );
    assert_eq!(
        job.json["payload"]["message"]["costBreakdown"]["llmPromptTokens"],
        12
    );

    let attempt = f
        .call(
            &admin,
            Method::GET,
            &format!("/logs/webhooks/{}", f.acme.attempts["fail"]),
        )
        .await;
    assert_eq!(attempt.json["kind"], "attempt");
    assert_eq!(attempt.json["status_code"], 500);
    assert_eq!(
        attempt.json["url"],
        "https://hooks.example.com/acme/fail?token=redacted"
    );
    assert_eq!(attempt.json["response_body"], "stack trace at /acme/fail");
    assert_eq!(attempt.json["response_body_hidden"], false);
    for reply in [&job, &attempt] {
        assert!(!reply.text.contains(LEAK), "{}", reply.text);
    }
}

#[tokio::test]
async fn a_user_sees_attempts_without_response_bodies() {
    let f = Fixture::new().await;
    let user = principal("acme", User);
    let attempt = f
        .call(
            &user,
            Method::GET,
            &format!("/logs/webhooks/{}", f.acme.attempts["fail"]),
        )
        .await;
    assert_eq!(attempt.status, StatusCode::OK);
    assert!(attempt.json["response_body"].is_null());
    assert_eq!(attempt.json["response_body_hidden"], true);
    assert_eq!(attempt.json["status_code"], 500);
    let list = f
        .call(&user, Method::GET, "/logs/webhooks?kind=attempts")
        .await;
    assert!(!list.text.contains("stack trace"), "{}", list.text);
    let job = f
        .call(
            &user,
            Method::GET,
            &format!("/logs/webhooks/{}", f.acme.jobs["ok"]),
        )
        .await;
    assert!(!job.text.contains("fine for"), "{}", job.text);
}

#[tokio::test]
async fn another_tenants_id_is_exactly_an_unknown_id() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let unknown = f
        .call(&admin, Method::GET, "/logs/webhooks/msg_doesnotexist")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for id in [
        f.globex.jobs["ok"].to_string(),
        f.globex.attempts["fail"].to_string(),
    ] {
        let other = f
            .call(&admin, Method::GET, &format!("/logs/webhooks/{id}"))
            .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
        assert_eq!(
            other.text, unknown.text,
            "the body must not tell them apart"
        );
    }
    let bad = f.call(&admin, Method::GET, "/logs/webhooks/msg.1").await;
    assert_eq!(bad.text, unknown.text);
}

#[tokio::test]
async fn replay_sends_again_as_a_manual_attempt() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let scope = Scope::tenant(tenant("acme"));
    let job = f.acme.jobs["fail"].clone();
    let before = f
        .store
        .attempts(&scope, &AttemptQuery::new().job(job.clone()))
        .await
        .unwrap();
    let uri = format!("/logs/webhooks/{}/replay", f.acme.attempts["fail"]);
    let r = f.call(&admin, Method::POST, &uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["trigger"], Trigger::Manual.as_str());
    assert_eq!(r.json["job_id"], job.as_str());
    assert_eq!(r.json["status_code"], 500);
    assert_eq!(r.json["number"], 0);
    let after = f
        .store
        .attempts(&scope, &AttemptQuery::new().job(job.clone()))
        .await
        .unwrap();
    assert_eq!(after.items.len(), before.items.len() + 1);
    // The job's own state is untouched by a replay.
    let stored = f.store.job(&scope, &job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);

    let ok = format!("/logs/webhooks/{}/replay", f.acme.attempts["ok"]);
    let r = f
        .call(&principal("platform", SuperAdmin), Method::POST, &ok)
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (StatusCode::OK, Some("succeeded"))
    );
}

#[tokio::test]
async fn replay_errors() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    let user = principal("acme", User);
    let own = format!("/logs/webhooks/{}/replay", f.acme.attempts["fail"]);
    let other = format!("/logs/webhooks/{}/replay", f.globex.attempts["fail"]);
    // A user may not replay: 403 for its own, another tenant's and unknown ids alike.
    for uri in [&own, &other, &"/logs/webhooks/atmpt_nope/replay".to_owned()] {
        let r = f.call(&user, Method::POST, uri).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(r.error_code(), "forbidden");
    }
    let unknown = f
        .call(&admin, Method::POST, "/logs/webhooks/atmpt_nope/replay")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let r = f.call(&admin, Method::POST, &other).await;
    assert_eq!((r.status, &r.text), (StatusCode::NOT_FOUND, &unknown.text));
    // A job id is not an attempt id.
    let job = format!("/logs/webhooks/{}/replay", f.acme.jobs["fail"]);
    assert_eq!(
        f.call(&admin, Method::POST, &job).await.status,
        StatusCode::NOT_FOUND
    );
    // The gone target was disabled by its 410: nothing is sent, 409.
    let gone = format!("/logs/webhooks/{}/replay", f.acme.attempts["gone"]);
    let r = f.call(&admin, Method::POST, &gone).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.error_code(), "replay_refused");
    assert!(
        r.text.contains("disabled") && !r.text.contains(LEAK),
        "{}",
        r.text
    );
    // The guard refuses the private address: 409, the URL's token redacted.
    let private = format!("/logs/webhooks/{}/replay", f.acme.attempts["private"]);
    let r = f.call(&admin, Method::POST, &private).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "replay_refused")
    );
    assert!(
        r.text.contains("guard") && r.text.contains("token=redacted"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(LEAK), "{}", r.text);
    let listed = f
        .call(
            &admin,
            Method::GET,
            "/logs/webhooks?kind=attempts&status=refused",
        )
        .await;
    assert!(!listed.text.contains(LEAK), "{}", listed.text);
    assert!(listed.text.contains("10.0.0.7"), "{}", listed.text);
    let none = format!("/logs/webhooks/{}/replay", f.acme.attempts["none"]);
    let r = f.call(&admin, Method::POST, &none).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "replay_refused")
    );
}

#[tokio::test]
async fn retry_requeues_failed_and_skipped_jobs_only() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    for label in ["fail", "none"] {
        let uri = format!("/logs/webhooks/jobs/{}/retry", f.acme.jobs[label]);
        let r = f.call(&admin, Method::POST, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{label}: {}", r.text);
        assert_eq!(r.json["status"], "pending");
        assert_eq!(r.json["id"], f.acme.jobs[label].as_str());
    }
    for label in ["ok", "pending"] {
        let uri = format!("/logs/webhooks/jobs/{}/retry", f.acme.jobs[label]);
        let r = f.call(&admin, Method::POST, &uri).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{label}: {}", r.text);
        assert_eq!(r.error_code(), "not_requeueable");
    }
    let user = principal("acme", User);
    let uri = format!("/logs/webhooks/jobs/{}/retry", f.acme.jobs["gone"]);
    let r = f.call(&user, Method::POST, &uri).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let unknown = f
        .call(&admin, Method::POST, "/logs/webhooks/jobs/msg_nope/retry")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let other = format!("/logs/webhooks/jobs/{}/retry", f.globex.jobs["fail"]);
    let r = f.call(&admin, Method::POST, &other).await;
    assert_eq!((r.status, &r.text), (StatusCode::NOT_FOUND, &unknown.text));
    let stored = f
        .store
        .job(&Scope::tenant(tenant("globex")), &f.globex.jobs["fail"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let f = Fixture::new().await;
    let admin = acme_admin();
    for (method, uri, allow) in [
        (Method::POST, "/logs/webhooks", "GET"),
        (Method::DELETE, "/logs/webhooks/msg_1", "GET"),
        (Method::GET, "/logs/webhooks/atmpt_1/replay", "POST"),
        (Method::PUT, "/logs/webhooks/jobs/msg_1/retry", "POST"),
    ] {
        let r = f.call(&admin, method.clone(), uri).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(r.error_code(), "method_not_allowed");
        assert_eq!(r.headers[header::ALLOW], allow);
    }
    for uri in [
        "/",
        "/logs",
        "/logs/webhooks/",
        "/logs/webhooks/a/b",
        "/logs/webhooks/jobs/x/retry/y",
    ] {
        let r = f.call(&admin, Method::GET, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error_code(), "not_found");
    }
}

#[tokio::test]
async fn the_handler_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let f = Fixture::new().await;
    let admin = acme_admin();
    let request = agent_webhooks::http::Request::get("/logs/webhooks")
        .body(Vec::new())
        .unwrap();
    let future = f.api.handle(&admin, &request);
    assert_send(&future);
    assert_eq!(future.await.status(), StatusCode::OK);
}
