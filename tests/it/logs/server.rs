//! The example server (examples/logs_server) end to end on 127.0.0.1:0: the same module the
//! example runs, with a raw HTTP/1.1 client.

#[path = "../../../examples/logs_server/app.rs"]
mod app;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PRINCIPALS: &str = r#"{
  "acme-admin-key": {"tenant": "acme", "role": "client_admin", "user": "ann"},
  "acme-user-key": {"tenant": "acme", "role": "user", "user": "bob"},
  "globex-admin-key": {"tenant": "globex", "role": "client_admin", "user": "gil"},
  "platform-root-key": {"tenant": "platform", "role": "super_admin", "user": "ops"}
}"#;

/// One request on a fresh connection; (status, body as JSON).
async fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A bound, not a timing assertion: a hung server fails the test instead of hanging CI.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("the server answered")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_server_on_loopback() {
    let keys = app::Keys::from_json(PRINCIPALS).unwrap();
    let (api, receiver, outbox, dispatcher) = app::demo_api().unwrap();
    app::seed_demo(&outbox, &dispatcher, &receiver)
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(app::serve(
        listener,
        Arc::new(app::App::new(keys, api)),
        stop.clone(),
    ));

    // No key, an unknown key, a malformed header: 401.
    assert_eq!(request(addr, "GET", "/logs/webhooks", None).await.0, 401);
    let (status, body) = request(addr, "GET", "/logs/webhooks", Some("wrong-key-123")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let (status, acme) = request(addr, "GET", "/logs/webhooks", Some("acme-admin-key")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&acme).len(), 5);
    assert!(
        acme["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["tenant"] == "acme")
    );
    let (_, all) = request(addr, "GET", "/logs/webhooks", Some("platform-root-key")).await;
    assert_eq!(ids(&all).len(), 7);

    // A failed acme attempt: replay it (the flaky receiver has recovered), then retry its job.
    let (_, failed) = request(
        addr,
        "GET",
        "/logs/webhooks?kind=attempts&status=failed",
        Some("acme-admin-key"),
    )
    .await;
    let flaky = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["url"].as_str().is_some_and(|u| u.contains("/flaky")))
        .unwrap();
    assert_eq!(
        flaky["url"],
        "https://hooks.example.com/acme/flaky?token=redacted"
    );
    let (attempt, job) = (
        flaky["id"].as_str().unwrap(),
        flaky["job_id"].as_str().unwrap(),
    );

    // Globex cannot see it; an acme user cannot replay it.
    let path = format!("/logs/webhooks/{attempt}");
    assert_eq!(
        request(addr, "GET", &path, Some("globex-admin-key"))
            .await
            .0,
        404
    );
    assert_eq!(
        request(addr, "GET", &path, Some("acme-user-key")).await.0,
        200
    );
    let replay = format!("/logs/webhooks/{attempt}/replay");
    assert_eq!(
        request(addr, "POST", &replay, Some("acme-user-key"))
            .await
            .0,
        403
    );
    assert_eq!(
        request(addr, "POST", &replay, Some("globex-admin-key"))
            .await
            .0,
        404
    );
    let (status, replayed) = request(addr, "POST", &replay, Some("acme-admin-key")).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(
        (replayed["trigger"].as_str(), replayed["status"].as_str()),
        (Some("manual"), Some("succeeded"))
    );

    let retry = format!("/logs/webhooks/jobs/{job}/retry");
    let (status, requeued) = request(addr, "POST", &retry, Some("acme-admin-key")).await;
    assert_eq!(
        (status, requeued["status"].as_str()),
        (200, Some("pending"))
    );
    let (status, again) = request(addr, "POST", &retry, Some("acme-admin-key")).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("not_requeueable"))
    );

    let (status, _) = request(
        addr,
        "GET",
        "/logs/webhooks?limit=500",
        Some("acme-user-key"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        request(addr, "DELETE", "/logs/webhooks", Some("acme-user-key"))
            .await
            .0,
        405
    );
    assert_eq!(
        request(addr, "GET", "/nope", Some("acme-user-key")).await.0,
        404
    );

    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn principals_file_is_checked() {
    assert!(app::Keys::from_json(PRINCIPALS).is_ok());
    for bad in [
        r#"{"short": {"tenant": "acme", "role": "user", "user": "u"}}"#,
        r#"{"long-enough-key": {"tenant": "acme", "role": "owner", "user": "u"}}"#,
        r#"["not", "a", "map"]"#,
    ] {
        assert!(app::Keys::from_json(bad).is_err(), "{bad}");
    }
}

/// Issue 16, item 12: a client that never finishes its request head loses the connection
/// (hyper's header-read timeout), and an unknown caller is answered 401 before the server
/// reads any of the body it announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_are_cut_and_bodies_wait_for_authentication() {
    let keys = app::Keys::from_json(PRINCIPALS).unwrap();
    let (api, _receiver, _outbox, _dispatcher) = app::demo_api().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(app::serve_with(
        listener,
        Arc::new(app::App::new(keys, api)),
        stop.clone(),
        Duration::from_millis(300),
    ));

    // Half a request head, then silence: the server closes the connection.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /logs/webhooks HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    for mut stream in slow {
        let mut rest = Vec::new();
        // A bound, not a timing assertion: without the timeout this read never ends.
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest))
            .await
            .expect("the server dropped the half-open connection");
        // Closed (EOF, possibly after a 408) or reset: either way it is gone.
        if let Ok(n) = read {
            let text = String::from_utf8_lossy(&rest[..n]);
            assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 408"),
                "{text}"
            );
        }
    }

    // No key, a large body announced and never sent: 401 at once.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /logs/webhooks/x/replay HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut raw = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut raw))
        .await
        .expect("401 without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&raw[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");

    // A known key still works on a well-formed request.
    assert_eq!(
        request(addr, "GET", "/logs/webhooks", Some("acme-user-key"))
            .await
            .0,
        200
    );

    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap();
}
