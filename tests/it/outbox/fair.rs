//! Fair, prompt delivery at the dispatcher: breakers with a scripted transport on a manual
//! clock, the doorbell waking an idle dispatcher, and the noisy neighbour on loopback HTTP
//! against every store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::outbox::{
    Dispatcher, JobStatus, MemoryStore, NewJob, Outbox, Shutdown, Store, TargetRef, Transport,
    TransportError, TransportErrorKind, UrlCheck,
};
use agent_webhooks::{Rejection, Scope, http, url::Url};
use async_trait::async_trait;

use super::support::{Reply, Rig, Scripted, T0, Targets, scope, target, tenant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn a_failing_target_opens_its_breaker_defers_its_jobs_and_a_probe_closes_it() {
    let rig = Rig::new();
    let timeouts = (0..4).map(|_| Reply::Fail(TransportErrorKind::Timeout));
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then(timeouts));
    let d = rig
        .dispatcher(transport.clone())
        .breaker(3, secs(60))
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for _ in 0..8 {
        jobs.push(rig.enqueue("acme", "status-update", "assistant:a1").await);
    }
    // The target's cap (4) sends four; all time out; the third failure opens the breaker.
    let tick = d.run_once().await.unwrap();
    assert_eq!((tick.claimed, tick.retried), (4, 4));
    let opened = rig.observer.breakers.lock().unwrap().clone();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].open_until, Some(T0.saturating_add(secs(60))));
    // Open: nothing is sent, not even the retries due at +5 s; no attempt is spent.
    rig.clock.advance(secs(30));
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
    assert_eq!(transport.count(), 4);
    for job in &jobs[4..] {
        let j = rig.job(&job.id).await;
        assert_eq!((j.status, j.attempts), (JobStatus::Pending, 0));
    }
    // Half-open after the cool-down: one probe; it succeeds and closes the breaker.
    rig.clock.advance(secs(31));
    let tick = d.run_once().await.unwrap();
    assert_eq!((tick.claimed, tick.succeeded), (1, 1));
    let events = rig.observer.breakers.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!((events[1].failures, events[1].open_until), (0, None));
    let (acme, a1) = (tenant("acme"), TargetRef::new("assistant:a1").unwrap());
    let state = rig.store.breaker(&Scope::AllTenants, &acme, &a1).await.unwrap();
    assert_eq!(state, None);
    // Closed: the rest go, four at a time.
    assert_eq!(d.run_once().await.unwrap().succeeded, 4);
    assert_eq!(d.run_once().await.unwrap().succeeded, 3);
    for job in &jobs {
        assert_eq!(rig.job(&job.id).await.status, JobStatus::Succeeded);
    }
}

#[tokio::test]
async fn gone_still_disables_a_target_whose_breaker_counts_failures() {
    let rig = Rig::new();
    let replies = [Reply::Status(503), Reply::Status(503), Reply::Status(410)];
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then(replies));
    let d = rig
        .dispatcher(transport.clone())
        .breaker(5, secs(60))
        .target_cap(1)
        .build()
        .unwrap();
    let first = rig.enqueue("acme", "status-update", "assistant:a1").await;
    let done = rig.drive(&d, &first.id, 5).await;
    assert_eq!(done.status, JobStatus::Failed, "410 stops the job");
    assert_eq!(rig.observer.disabled.lock().unwrap().len(), 1);
    // The breaker never opened (two failures of five), and a 410 is an answer: it closed.
    let events = rig.observer.breakers.lock().unwrap().clone();
    assert!(events.iter().all(|b| b.open_until.is_none()), "{events:?}");
    let later = rig.enqueue("acme", "status-update", "assistant:a1").await;
    d.run_once().await.unwrap();
    assert_eq!(rig.job(&later.id).await.status, JobStatus::Skipped);
}

/// Answers 200 and keeps every `webhook-id` it was sent.
#[derive(Debug, Default)]
struct Recording(Mutex<Vec<String>>);

impl Recording {
    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[async_trait]
impl Transport for Recording {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let id = request.headers()["webhook-id"].to_str().unwrap().to_owned();
        self.0.lock().unwrap().push(id);
        Ok(http::Response::new(Vec::new()))
    }
}

/// Lets every URL through (the example.com targets are never reached: see `Recording`).
#[derive(Debug)]
struct AllowAll;

impl UrlCheck for AllowAll {
    fn check(&self, _: &Url) -> Result<(), Rejection> {
        Ok(())
    }
}

/// A sleep that never ends: only the doorbell can wake the dispatcher.
fn never(_: Duration) -> std::future::Pending<()> {
    std::future::pending()
}

async fn enqueue_wakes_an_idle_dispatcher(enqueue_into: Arc<dyn Store>, claim_from: Arc<dyn Store>) {
    let transport = Arc::new(Recording::default());
    let targets = Arc::new(Targets::default().with("assistant:a1", target("https://hooks.example.com/a1")));
    let d = Dispatcher::builder(claim_from, transport.clone(), targets)
        .url_check(Arc::new(AllowAll))
        .build()
        .unwrap();
    let shutdown = Shutdown::new();
    let run = tokio::spawn(async move { d.run(&shutdown, never).await });
    // Let the dispatcher claim nothing and go idle first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let outbox = Outbox::new(enqueue_into);
    let job = NewJob::new(tenant("acme"), "status-update", TargetRef::new("assistant:a1").unwrap(), b"{}".to_vec());
    let job = outbox.enqueue(&scope("acme"), job).await.unwrap().job;
    // Bounded: the doorbell, not the (endless) poll sleep, brings the dispatcher back.
    for _ in 0..1000 {
        if transport.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run.abort();
    assert_eq!(transport.ids(), vec![job.id.as_str().to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_wakes_an_idle_dispatcher_on_the_memory_store() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    enqueue_wakes_an_idle_dispatcher(store.clone(), store).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_wakes_an_idle_dispatcher_on_sqlite() {
    let store: Arc<dyn Store> = Arc::new(agent_webhooks::outbox::SqliteStore::open(":memory:").await.unwrap());
    enqueue_wakes_an_idle_dispatcher(store.clone(), store).await;
}

/// Two stores on one schema stand for two processes: only `NOTIFY` carries the wake.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processes_enqueue_wakes_an_idle_dispatcher_through_notify() {
    use agent_webhooks::outbox::PostgresStore;
    let Some(url) = crate::stores::pg::url() else { return };
    let schema = crate::stores::pg::fresh_schema();
    let open = || PostgresStore::builder(&url).schema(&schema).max_connections(4).build();
    let dispatching: Arc<dyn Store> = Arc::new(open().await.unwrap());
    let enqueuing: Arc<dyn Store> = Arc::new(open().await.unwrap());
    enqueue_wakes_an_idle_dispatcher(enqueuing, dispatching).await;
}
