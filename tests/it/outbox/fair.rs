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
    assert_eq!(opened[0].change, ("closed", "open"));
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
    assert_eq!(events[1].change, ("half_open", "closed"));
    assert_eq!((events[1].failures, events[1].open_until), (0, None));
    let (acme, a1) = (tenant("acme"), TargetRef::new("assistant:a1").unwrap());
    let state = rig
        .store
        .breaker(&Scope::AllTenants, &acme, &a1)
        .await
        .unwrap();
    assert_eq!(state, None);
    // Closed: the rest go, four at a time.
    assert_eq!(d.run_once().await.unwrap().succeeded, 4);
    assert_eq!(d.run_once().await.unwrap().succeeded, 3);
    for job in &jobs {
        assert_eq!(rig.job(&job.id).await.status, JobStatus::Succeeded);
    }
}

#[tokio::test]
async fn a_failed_probe_opens_a_half_open_breaker_again() {
    let rig = Rig::new();
    let failures = (0..3).map(|_| Reply::Status(503));
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then(failures));
    let d = rig
        .dispatcher(transport.clone())
        .breaker(2, secs(60))
        .target_cap(1)
        .build()
        .unwrap();
    for _ in 0..3 {
        rig.enqueue("acme", "status-update", "assistant:a1").await;
    }
    // Two failures, one at a time: the second opens the breaker.
    assert_eq!(d.run_once().await.unwrap().retried, 1);
    assert_eq!(d.run_once().await.unwrap().retried, 1);
    // The probe after the cool-down fails too: open again, for another cool-down from now.
    rig.clock.advance(secs(61));
    assert_eq!(d.run_once().await.unwrap().claimed, 1);
    assert_eq!(transport.count(), 3);
    let events = rig.observer.breakers.lock().unwrap().clone();
    let changes: Vec<_> = events.iter().map(|e| e.change).collect();
    assert_eq!(changes, [("closed", "open"), ("half_open", "open")]);
    assert_eq!(events[1].failures, 3);
    assert_eq!(events[1].open_until, Some(T0.saturating_add(secs(61 + 60))));
    rig.clock.advance(secs(30));
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
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

async fn enqueue_wakes_an_idle_dispatcher(
    enqueue_into: Arc<dyn Store>,
    claim_from: Arc<dyn Store>,
) {
    let transport = Arc::new(Recording::default());
    let targets =
        Arc::new(Targets::default().with("assistant:a1", target("https://hooks.example.com/a1")));
    let d = Dispatcher::builder(claim_from, transport.clone(), targets)
        .url_check(Arc::new(AllowAll))
        .build()
        .unwrap();
    let shutdown = Shutdown::new();
    let run = tokio::spawn(async move { d.run(&shutdown, never).await });
    // Let the dispatcher claim nothing and go idle first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let outbox = Outbox::new(enqueue_into);
    let job = NewJob::new(
        tenant("acme"),
        "status-update",
        TargetRef::new("assistant:a1").unwrap(),
        b"{}".to_vec(),
    );
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
    let store: Arc<dyn Store> = Arc::new(
        agent_webhooks::outbox::SqliteStore::open(":memory:")
            .await
            .unwrap(),
    );
    enqueue_wakes_an_idle_dispatcher(store.clone(), store).await;
}

/// Two stores on one schema stand for two processes: only `NOTIFY` carries the wake.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processes_enqueue_wakes_an_idle_dispatcher_through_notify() {
    use agent_webhooks::outbox::PostgresStore;
    let Some(url) = crate::stores::pg::url() else {
        return;
    };
    let schema = crate::stores::pg::fresh_schema();
    let open = || {
        PostgresStore::builder(&url)
            .schema(&schema)
            .max_connections(4)
            .build()
    };
    let dispatching: Arc<dyn Store> = Arc::new(open().await.unwrap());
    let enqueuing: Arc<dyn Store> = Arc::new(open().await.unwrap());
    enqueue_wakes_an_idle_dispatcher(enqueuing, dispatching).await;
}

/// Tenant A's endpoint hangs past its timeout; tenant B's answers at once. One dispatcher
/// with the default shares, on real loopback HTTP: B's jobs all arrive while A's are still
/// being tried, and A never holds more than its target's cap of sends.
#[cfg(feature = "reqwest")]
mod noisy_neighbour {
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use agent_webhooks::guard::Policy;
    use agent_webhooks::outbox::{
        Attempt, AttemptId, DEFAULT_TARGET_CAP, Dispatcher, Job, JobQuery, JobStatus, MemoryStore,
        NewJob, Observer, Outbox, Shutdown, Store, TargetRef, Trigger,
    };
    use agent_webhooks::transport::ReqwestTransport;
    use agent_webhooks::{Scope, TenantId};

    use crate::outbox::support::{Targets, scope, target, tenant};

    /// Sends in flight per tenant, and the most seen at once.
    #[derive(Debug, Default)]
    struct InFlight(Mutex<HashMap<TenantId, (usize, usize)>>);

    impl InFlight {
        fn most(&self, t: &TenantId) -> usize {
            self.0.lock().unwrap().get(t).map_or(0, |&(_, most)| most)
        }
    }

    impl Observer for InFlight {
        fn attempt_started(&self, job: &Job, _: &AttemptId, _: Trigger) {
            let mut map = self.0.lock().unwrap();
            let (now, most) = map.entry(job.tenant.clone()).or_default();
            *now += 1;
            *most = (*most).max(*now);
        }
        fn attempt_finished(&self, attempt: &Attempt) {
            let mut map = self.0.lock().unwrap();
            if let Some((now, _)) = map.get_mut(&attempt.tenant) {
                *now = now.saturating_sub(1);
            }
        }
    }

    /// `/tarpit` holds every request for a minute; `/ok` answers 200 and keeps the
    /// `webhook-id`. Stops with the test's runtime.
    async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let log = log.clone();
                            async move {
                                if request.uri().path() == "/tarpit" {
                                    tokio::time::sleep(Duration::from_secs(60)).await;
                                } else if let Some(id) = request.headers().get("webhook-id") {
                                    log.lock().unwrap().push(id.to_str().unwrap().to_owned());
                                }
                                let body = http_body_util::Full::new(hyper::body::Bytes::new());
                                Ok::<_, Infallible>(hyper::Response::new(body))
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
        (addr, seen)
    }

    async fn b_gets_through_while_a_tarpits(store: Arc<dyn Store>) {
        let (addr, seen) = receiver().await;
        let policy = Policy::builder()
            .development()
            .dangerous()
            .allow_loopback()
            .build()
            .unwrap();
        let targets = Targets::default()
            .with(
                "assistant:tarpit",
                target(&format!("http://{addr}/tarpit")).timeout(Duration::from_secs(1)),
            )
            .with("assistant:ok", target(&format!("http://{addr}/ok")));
        let observer = Arc::new(InFlight::default());
        let transport = Arc::new(ReqwestTransport::new(policy.clone()).unwrap());
        // Every default but the breaker, off so that the shares alone hold A back.
        let d = Dispatcher::builder(store.clone(), transport, Arc::new(targets))
            .url_check(Arc::new(policy))
            .observer(observer.clone())
            .poll_interval(Duration::from_millis(100))
            .no_breaker()
            .build()
            .unwrap();
        let outbox = Outbox::new(store.clone());
        let (a, b) = (tenant("a"), tenant("b"));
        let job = |t: &TenantId, to: &str| {
            NewJob::new(
                t.clone(),
                "status-update",
                TargetRef::new(to).unwrap(),
                b"{}".to_vec(),
            )
        };
        for _ in 0..100 {
            outbox
                .enqueue(&scope("a"), job(&a, "assistant:tarpit"))
                .await
                .unwrap();
        }
        let shutdown = Shutdown::new();
        let run = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move { d.run(&shutdown, tokio::time::sleep).await })
        };
        let mut sent = Vec::new();
        for _ in 0..50 {
            let j = outbox
                .enqueue(&scope("b"), job(&b, "assistant:ok"))
                .await
                .unwrap()
                .job;
            sent.push(j.id.as_str().to_owned());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Bounded wait for B's jobs (a minute at most).
        for _ in 0..6000 {
            if seen.lock().unwrap().len() >= sent.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let a_pending = store
            .jobs(
                &Scope::tenant(a.clone()),
                &JobQuery::new().status(JobStatus::Pending).limit(1000),
            )
            .await
            .unwrap()
            .items
            .len();
        shutdown.trigger();
        run.await.unwrap();
        let mut got = seen.lock().unwrap().clone();
        got.sort();
        sent.sort();
        assert_eq!(got, sent, "every one of B's jobs, once");
        assert!(
            a_pending > 0,
            "B did not wait for A's backlog: A still had jobs pending"
        );
        assert!(
            observer.most(&a) <= DEFAULT_TARGET_CAP,
            "A's tarpit held {} sends",
            observer.most(&a)
        );
        assert!(observer.most(&a) > 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_the_memory_store() {
        b_gets_through_while_a_tarpits(Arc::new(MemoryStore::new())).await;
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let dir = crate::TempDir::new("noisy");
        let store = agent_webhooks::outbox::SqliteStore::open(dir.join("outbox.sqlite3"))
            .await
            .unwrap();
        b_gets_through_while_a_tarpits(Arc::new(store)).await;
    }

    #[cfg(feature = "postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        let Some(store) = crate::stores::pg::store().await else {
            return;
        };
        b_gets_through_while_a_tarpits(store).await;
    }
}

/// Long requests: the heartbeat, the dispatcher's own deadline, the unknown outcome of an
/// expired lease, on a manual clock and timer.
mod long_requests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use agent_webhooks::outbox::{
        AttemptStatus, Clock, JobStatus, Store, Transport, TransportError,
    };
    use agent_webhooks::transport::{ManualTimer, Timer};
    use agent_webhooks::{Scope, http};
    use async_trait::async_trait;

    use crate::outbox::support::{Reply, Rig, Scripted, target};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Answers 200 after `takes` on the manual timer, or never (`None`): a transport that
    /// ignores its timeout. Counts the sends.
    #[derive(Debug)]
    struct Slow {
        timer: ManualTimer,
        takes: Option<Duration>,
        sends: Mutex<usize>,
    }

    #[async_trait]
    impl Transport for Slow {
        async fn send(
            &self,
            _: http::Request<Vec<u8>>,
            _timeout: Duration,
        ) -> Result<http::Response<Vec<u8>>, TransportError> {
            *self.sends.lock().unwrap() += 1;
            match self.takes {
                Some(d) => self.timer.sleep(d).await,
                None => std::future::pending::<()>().await,
            }
            Ok(http::Response::new(Vec::new()))
        }
    }

    /// Moves the timer in steps of `step` until `done` or `limit` steps, letting the
    /// dispatcher's task run between steps.
    async fn step_until(
        timer: &ManualTimer,
        step: Duration,
        limit: usize,
        done: impl Fn() -> bool,
    ) {
        for _ in 0..limit {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            if done() {
                return;
            }
            timer.advance(step);
        }
    }

    #[tokio::test]
    async fn a_slow_receiver_within_its_timeout_is_sent_the_job_once() {
        let rig = Rig::new();
        let timer = ManualTimer::new(rig.clock.clone());
        rig.targets.set(
            "assistant:a1",
            target("https://hooks.example.com/a1").timeout(secs(240)),
        );
        let slow = Arc::new(Slow {
            timer: timer.clone(),
            takes: Some(secs(200)),
            sends: Mutex::new(0),
        });
        let d = rig
            .dispatcher(slow.clone())
            .timer(Arc::new(timer.clone()))
            .build()
            .unwrap();
        let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
        let run = tokio::spawn(async move { d.run_once().await.unwrap() });
        // 200 s under a 60 s lease: the heartbeat keeps the job, the target's 240 s holds.
        step_until(&timer, secs(5), 60, || run.is_finished()).await;
        let tick = run.await.unwrap();
        assert_eq!(tick.succeeded, 1);
        assert_eq!(*slow.sends.lock().unwrap(), 1);
        let attempts = rig.attempts(&job.id).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].latency_ms, 200_000);
        assert_eq!(rig.job(&job.id).await.status, JobStatus::Succeeded);
    }

    #[tokio::test]
    async fn no_other_claim_takes_a_job_whose_send_is_still_in_flight() {
        let rig = Rig::new();
        let timer = ManualTimer::new(rig.clock.clone());
        rig.targets.set(
            "assistant:a1",
            target("https://hooks.example.com/a1").timeout(secs(240)),
        );
        let slow = Arc::new(Slow {
            timer: timer.clone(),
            takes: Some(secs(200)),
            sends: Mutex::new(0),
        });
        let d = rig
            .dispatcher(slow.clone())
            .timer(Arc::new(timer.clone()))
            .build()
            .unwrap();
        rig.enqueue("acme", "status-update", "assistant:a1").await;
        let run = tokio::spawn(async move { d.run_once().await.unwrap() });
        for _ in 0..38 {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            let now = rig.clock.now();
            let other = rig
                .store
                .claim(&Scope::AllTenants, now, secs(60), 10)
                .await
                .unwrap();
            assert!(
                other.is_empty(),
                "claimed again at {:?} while in flight",
                now
            );
            timer.advance(secs(5));
        }
        step_until(&timer, secs(5), 20, || run.is_finished()).await;
        assert_eq!(run.await.unwrap().succeeded, 1);
        assert_eq!(*slow.sends.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn the_dispatcher_cuts_off_a_transport_that_ignores_its_timeout() {
        let rig = Rig::new();
        let timer = ManualTimer::new(rig.clock.clone());
        rig.targets.set(
            "assistant:a1",
            target("https://hooks.example.com/a1").timeout(secs(40)),
        );
        let hung = Arc::new(Slow {
            timer: timer.clone(),
            takes: None,
            sends: Mutex::new(0),
        });
        let d = rig
            .dispatcher(hung.clone())
            .timer(Arc::new(timer.clone()))
            .build()
            .unwrap();
        let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
        let run = tokio::spawn(async move { d.run_once().await.unwrap() });
        step_until(&timer, secs(5), 40, || run.is_finished()).await;
        let tick = run.await.unwrap();
        assert_eq!(tick.retried, 1);
        assert_eq!(*hung.sends.lock().unwrap(), 1, "no re-send while it hung");
        let attempts = rig.attempts(&job.id).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].status, AttemptStatus::Failed);
        assert_eq!(
            attempts[0].latency_ms, 40_000,
            "the target's 40 s, not cut to 30 s"
        );
    }

    #[tokio::test]
    async fn a_reclaim_after_an_expired_lease_records_an_unknown_attempt() {
        let rig = Rig::new();
        let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
        let d = rig.dispatcher(transport.clone()).build().unwrap();
        let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
        // A dispatcher claims it and stops (crash): no outcome is ever recorded.
        let lost = rig
            .store
            .claim(&Scope::AllTenants, rig.clock.now(), secs(60), 1)
            .await
            .unwrap();
        assert_eq!(lost.len(), 1);
        rig.clock.advance(secs(61));
        assert_eq!(d.run_once().await.unwrap().succeeded, 1);
        let attempts = rig.attempts(&job.id).await;
        let shown: Vec<_> = attempts
            .iter()
            .map(|a| (a.number, a.status, a.error.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    1,
                    AttemptStatus::Unknown,
                    Some("unknown (lease expired)".to_owned())
                ),
                (2, AttemptStatus::Succeeded, None),
            ]
        );
        let done = rig.job(&job.id).await;
        assert_eq!(
            (done.attempts, done.step),
            (2, 2),
            "the lost send counts against the plan"
        );
    }

    #[tokio::test]
    async fn vapi_semantics_try_a_server_without_backoff_plan_once() {
        let rig = Rig::new();
        let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(500)));
        let d = rig
            .dispatcher(transport.clone())
            .vapi_retry_semantics()
            .build()
            .unwrap();
        let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
        let done = rig.drive(&d, &job.id, 5).await;
        assert_eq!((done.status, done.attempts), (JobStatus::Failed, 1));
    }
}
