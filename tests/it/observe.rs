//! The observers of features `tracing` and `metrics` against a capturing subscriber (a
//! `tracing-subscriber` layer that keeps every span, field and event) and a capturing recorder
//! (`metrics-util`'s debugging recorder): a success, a retry, a guard refusal, a live timeout
//! and a tool call; names, attributes, values, and no secret anywhere in what they saw.
//!
//! Both are installed per test thread (`set_default`), and the tests run on tokio's
//! current-thread runtime, so parallel tests never see each other's spans or metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::live::{LiveRequest, Reason, Requester};
use agent_webhooks::observe::{
    Fanout, MetricsObserver, Observer, TracingObserver, names, span_names,
};
use agent_webhooks::outbox::{
    Dispatcher, JobStatus, ManualClock, MemoryStore, Store, Transport, TransportError,
    TransportErrorKind, UrlCheck,
};
use agent_webhooks::transport::ManualTimer;
use agent_webhooks::{AgentKind, Cascade, Envelope, Policy, ToolRunner, Vars, WebhookTool};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::outbox::support::{Reply, Rig, SECRET, Scripted, T0, signer, target};

/// Secrets the tests hand the boundary; none may appear in any span, event or metric.
const URL_PASSWORD: &str = "pa55w0rd-url";
const URL_TOKEN: &str = "tok-3f9a7c";
const TOOL_KEY: &str = "sk-live-tool-key-91";
const ECHOED: &str = "echoed-api-key-77";
const LEGACY_SECRET: &str = "legacy-vapi-secret-4d2";

/// The target URL: user info and a token in the query.
fn secret_url(path: &str) -> String {
    format!("https://bot:{URL_PASSWORD}@hooks.example.com:8443/{path}?token={URL_TOKEN}&v=2")
}
const REDACTED_URL: &str =
    "https://REDACTED:REDACTED@hooks.example.com:8443/a1?token=REDACTED&v=REDACTED";

// ---- the capturing subscriber -------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct SpanRec {
    name: String,
    fields: BTreeMap<String, String>,
    closed: bool,
}

#[derive(Debug, Clone)]
struct EventRec {
    name: String,
    /// The index of the span it happened in, if any.
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Captured {
    spans: Vec<SpanRec>,
    ids: HashMap<u64, usize>,
    events: Vec<EventRec>,
}

#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.to_string());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, _: Context<'_, S>) {
        let mut c = self.0.lock().unwrap();
        let mut rec = SpanRec {
            name: attrs.metadata().name().into(),
            ..SpanRec::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        c.spans.push(rec);
        let at = c.spans.len() - 1;
        c.ids.insert(id.into_u64(), at);
    }
    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, _: Context<'_, S>) {
        let mut c = self.0.lock().unwrap();
        let at = c.ids[&id.into_u64()];
        values.record(&mut Fields(&mut c.spans[at].fields));
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|s| s.id().into_u64());
        let mut c = self.0.lock().unwrap();
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = parent.map(|p| c.ids[&p]);
        c.events.push(EventRec {
            name: event.metadata().name().into(),
            parent,
            fields,
        });
    }
    fn on_close(&self, id: span::Id, _: Context<'_, S>) {
        let mut c = self.0.lock().unwrap();
        let at = c.ids[&id.into_u64()];
        c.spans[at].closed = true;
    }
}

impl Capture {
    fn spans(&self, name: &str) -> Vec<SpanRec> {
        let c = self.0.lock().unwrap();
        c.spans.iter().filter(|s| s.name == name).cloned().collect()
    }
    fn events(&self, name: &str) -> Vec<(Option<SpanRec>, EventRec)> {
        let c = self.0.lock().unwrap();
        c.events
            .iter()
            .filter(|e| e.name == name)
            .map(|e| (e.parent.map(|p| c.spans[p].clone()), e.clone()))
            .collect()
    }
    /// Everything seen, as text: every span and event name, field name and value.
    fn all_text(&self) -> String {
        let c = self.0.lock().unwrap();
        format!("{:?} {:?}", c.spans, c.events)
    }
}

// ---- the capturing recorder ---------------------------------------------------------------

struct Metrics(Vec<(CompositeKey, DebugValue)>);

impl Metrics {
    fn take(snapshotter: &Snapshotter) -> Self {
        Metrics(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(k, _, _, v)| (k, v))
                .collect(),
        )
    }

    /// The value of the metric `name` whose labels are exactly `labels`.
    fn get(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        self.0.iter().find_map(|(k, v)| {
            let mut have: Vec<(String, String)> = k
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            have.sort();
            (k.kind() == kind && k.key().name() == name && have == want).then_some(v)
        })
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.get(MetricKind::Counter, name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            other => panic!("counter {name} {labels:?}: {other:?}\n{:#?}", self.0),
        }
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.get(MetricKind::Histogram, name, labels) {
            Some(DebugValue::Histogram(v)) => v.iter().map(|x| x.into_inner()).collect(),
            other => panic!("histogram {name} {labels:?}: {other:?}\n{:#?}", self.0),
        }
    }

    fn gauge(&self, name: &str) -> f64 {
        match self.get(MetricKind::Gauge, name, &[]) {
            Some(DebugValue::Gauge(v)) => v.into_inner(),
            other => panic!("gauge {name}: {other:?}"),
        }
    }

    fn all_text(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// A capturing subscriber and recorder installed on this thread, and both observers.
struct Watch {
    capture: Capture,
    snapshotter: Snapshotter,
    observer: Arc<dyn Observer>,
    _tracing: tracing::subscriber::DefaultGuard,
    _recorder: metrics::LocalRecorderGuard<'static>,
}

impl Watch {
    fn new() -> Self {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let tracing = tracing::subscriber::set_default(subscriber);
        // Leaked (a few bytes per test) so the guard can live in the struct.
        let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
        let snapshotter = recorder.snapshotter();
        let local = metrics::set_default_local_recorder(recorder);
        let observer: Arc<dyn Observer> = Arc::new(Fanout::new([
            Arc::new(TracingObserver::new()) as Arc<dyn Observer>,
            Arc::new(MetricsObserver::new()),
        ]));
        Watch {
            capture,
            snapshotter,
            observer,
            _tracing: tracing,
            _recorder: local,
        }
    }

    fn metrics(&self) -> Metrics {
        Metrics::take(&self.snapshotter)
    }

    /// No secret in any span, event or metric seen so far.
    fn assert_no_secret(&self, metrics: &Metrics) {
        let seen = format!("{} {}", self.capture.all_text(), metrics.all_text());
        for secret in [
            URL_PASSWORD,
            URL_TOKEN,
            TOOL_KEY,
            ECHOED,
            LEGACY_SECRET,
            SECRET,
            "whsec_",
        ] {
            assert!(!seen.contains(secret), "`{secret}` leaked into: {seen}");
        }
    }
}

fn field<'a>(span: &'a SpanRec, name: &str) -> &'a str {
    span.fields
        .get(name)
        .unwrap_or_else(|| panic!("span {} has no `{name}`: {:?}", span.name, span.fields))
}

/// Lets every URL through: the production guard refuses user info and port 8443, and these
/// tests want both in the URL to see them redacted. The refusal test uses the real policy.
#[derive(Debug)]
struct AnyUrl;
impl UrlCheck for AnyUrl {
    fn check(&self, _: &agent_webhooks::url::Url) -> Result<(), agent_webhooks::Rejection> {
        Ok(())
    }
}

fn dispatcher(rig: &Rig, transport: Arc<dyn Transport>, observer: Arc<dyn Observer>) -> Dispatcher {
    rig.targets
        .set("assistant:a1", target(&secret_url("a1")).signer(signer()));
    rig.dispatcher(transport)
        .observer(observer)
        .url_check(Arc::new(AnyUrl))
        .build()
        .unwrap()
}

// ---- the cases ----------------------------------------------------------------------------

#[tokio::test]
async fn success_is_one_client_span_and_counted_with_its_delay() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(
        Scripted::new(&rig.clock, Reply::Body(200, ECHOED.into()))
            .latency(Duration::from_millis(250)),
    );
    let d = dispatcher(&rig, transport, watch.observer.clone());
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    rig.clock.advance(Duration::from_secs(2));
    assert_eq!(d.run_once().await.unwrap().succeeded, 1);

    let spans = watch.capture.spans(span_names::ATTEMPT);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.closed, "the span ends with the attempt");
    for (name, want) in [
        ("otel.name", "POST"),
        ("otel.kind", "client"),
        ("http.request.method", "POST"),
        ("server.address", "hooks.example.com"),
        ("server.port", "8443"),
        ("url.full", REDACTED_URL),
        ("http.response.status_code", "200"),
        ("tenant.id", "acme"),
        ("webhook.event_type", "status-update"),
        ("webhook.job_id", job.id.as_str()),
        ("webhook.attempt", "1"),
        ("webhook.cascade_level", "assistant"),
        ("webhook.trigger", "scheduled"),
    ] {
        assert_eq!(field(s, name), want, "{name}");
    }
    assert!(!s.fields.contains_key("error.type"));
    assert!(!s.fields.contains_key("otel.status_code"));
    assert!(watch.capture.events(span_names::RETRY_SCHEDULED).is_empty());

    let m = watch.metrics();
    let ok = [("outcome", "succeeded"), ("trigger", "scheduled")];
    assert_eq!(m.counter(names::ATTEMPTS, &ok), 1);
    assert_eq!(
        m.histogram(names::ATTEMPT_DURATION, &[("outcome", "succeeded")]),
        [0.25]
    );
    // Enqueued at T0, sent 2 s later, answered 250 ms after that.
    assert_eq!(m.histogram(names::DELIVERY_DELAY, &[]), [2.25]);
    watch.assert_no_secret(&m);
}

#[tokio::test]
async fn retry_is_an_http_error_span_with_a_retry_event_then_a_success() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)).then([
        Reply::Body(500, format!("stack trace: key={ECHOED}").into_bytes()),
        Reply::Fail(TransportErrorKind::Timeout),
    ]));
    let d = dispatcher(&rig, transport, watch.observer.clone());
    let job = rig
        .enqueue("acme", "end-of-call-report", "assistant:a1")
        .await;
    let done = rig.drive(&d, &job.id, 10).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 3));

    let spans = watch.capture.spans(span_names::ATTEMPT);
    assert_eq!(spans.len(), 3);
    let (first, second, third) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(field(first, "http.response.status_code"), "500");
    assert_eq!(
        field(first, "error.type"),
        "500",
        "an HTTP failure's error.type is its status"
    );
    assert_eq!(field(first, "otel.status_code"), "ERROR");
    assert_eq!(field(first, "webhook.attempt"), "1");
    assert_eq!(field(second, "error.type"), "timeout");
    assert!(!second.fields.contains_key("http.response.status_code"));
    assert_eq!(field(second, "webhook.attempt"), "2");
    assert_eq!(field(third, "http.response.status_code"), "200");
    assert_eq!(field(third, "webhook.attempt"), "3");

    let retries = watch.capture.events(span_names::RETRY_SCHEDULED);
    assert_eq!(retries.len(), 2);
    let (parent, event) = &retries[0];
    assert_eq!(parent.as_ref().unwrap().fields["webhook.attempt"], "1");
    assert_eq!(event.fields["webhook.retry_in_ms"], "5000");
    assert_eq!(retries[1].1.fields["webhook.retry_in_ms"], "300000");
    assert!(watch.capture.events(span_names::GAVE_UP).is_empty());

    let m = watch.metrics();
    let failed = |class| {
        [
            ("outcome", "failed"),
            ("error.type", class),
            ("trigger", "scheduled"),
        ]
    };
    assert_eq!(m.counter(names::ATTEMPTS, &failed("http_status")), 1);
    assert_eq!(m.counter(names::ATTEMPTS, &failed("timeout")), 1);
    assert_eq!(
        m.counter(
            names::ATTEMPTS,
            &[("outcome", "succeeded"), ("trigger", "scheduled")]
        ),
        1
    );
    assert_eq!(
        m.histogram(names::ATTEMPT_DURATION, &[("outcome", "failed")])
            .len(),
        2
    );
    // Enqueued at T0; the third attempt ran at T0 + 5 s + 300 s.
    assert_eq!(m.histogram(names::DELIVERY_DELAY, &[]), [305.0]);
    watch.assert_no_secret(&m);
}

#[tokio::test]
async fn guard_refusal_is_a_refused_span_and_a_job_given_up() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = rig
        .dispatcher(transport.clone())
        .observer(watch.observer.clone())
        .url_check(Arc::new(Policy::default()))
        .build()
        .unwrap();
    // The metadata address, with secrets in the URL: the production policy refuses it.
    rig.targets.set(
        "assistant:a1",
        target(&format!(
            "https://u:{URL_PASSWORD}@169.254.169.254/latest?token={URL_TOKEN}"
        )),
    );
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    assert_eq!(d.run_once().await.unwrap().skipped, 1);
    assert_eq!(transport.count(), 0);

    let spans = watch.capture.spans(span_names::ATTEMPT);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(field(s, "error.type"), "refused");
    assert_eq!(field(s, "otel.status_code"), "ERROR");
    assert_eq!(field(s, "server.address"), "169.254.169.254");
    assert_eq!(
        field(s, "url.full"),
        "https://REDACTED:REDACTED@169.254.169.254/latest?token=REDACTED"
    );
    assert!(!s.fields.contains_key("http.response.status_code"));
    let gave_up = watch.capture.events(span_names::GAVE_UP);
    assert_eq!(gave_up.len(), 1);
    assert_eq!(gave_up[0].1.fields["webhook.reason"], "refused");
    assert_eq!(
        gave_up[0].0.as_ref().unwrap().fields["webhook.job_id"],
        job.id.as_str()
    );

    let m = watch.metrics();
    assert_eq!(
        m.counter(
            names::ATTEMPTS,
            &[
                ("outcome", "refused"),
                ("error.type", "refused"),
                ("trigger", "scheduled")
            ]
        ),
        1
    );
    assert_eq!(m.counter(names::JOBS_GIVEN_UP, &[("reason", "refused")]), 1);
    assert!(
        m.get(
            MetricKind::Histogram,
            names::ATTEMPT_DURATION,
            &[("outcome", "refused")]
        )
        .is_none()
    );
    watch.assert_no_secret(&m);
}

#[tokio::test]
async fn exhausted_and_gone_are_given_up_with_their_reason_and_gone_disables_the_target() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(410)));
    let d = dispatcher(&rig, transport, watch.observer.clone());
    let job = rig.enqueue("acme", "status-update", "assistant:a1").await;
    assert_eq!(rig.drive(&d, &job.id, 3).await.status, JobStatus::Failed);
    let disabled = watch.capture.events(span_names::TARGET_DISABLED);
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].1.fields["webhook.reason"], "gone");
    assert_eq!(disabled[0].1.fields["url.full"], REDACTED_URL);
    let m = watch.metrics();
    assert_eq!(m.counter(names::JOBS_GIVEN_UP, &[("reason", "gone")]), 1);
    assert_eq!(m.counter(names::TARGETS_DISABLED, &[("reason", "gone")]), 1);
    watch.assert_no_secret(&m);
}

#[tokio::test]
async fn backlog_gauges_move_only_when_sampled() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(Scripted::new(&rig.clock, Reply::Status(200)));
    let d = dispatcher(&rig, transport, watch.observer.clone());
    for _ in 0..3 {
        rig.enqueue("acme", "status-update", "assistant:a1").await;
    }
    rig.clock.advance(Duration::from_secs(42));
    let backlog = d.sample_backlog().await.unwrap().unwrap();
    assert_eq!(
        (backlog.due, backlog.oldest_age()),
        (3, Duration::from_secs(42))
    );
    let m = watch.metrics();
    assert_eq!(m.gauge(names::BACKLOG), 3.0);
    assert_eq!(m.gauge(names::BACKLOG_OLDEST_AGE), 42.0);
    d.run_once().await.unwrap();
    d.sample_backlog().await.unwrap();
    let m = watch.metrics();
    assert_eq!(
        (m.gauge(names::BACKLOG), m.gauge(names::BACKLOG_OLDEST_AGE)),
        (0.0, 0.0)
    );
}

/// Keeps what each request carried and never answers (ignoring its timeout too): only the
/// requester's budget ends the exchange.
#[derive(Debug, Default)]
struct Silent(Mutex<Vec<agent_webhooks::http::HeaderMap>>);

#[async_trait::async_trait]
impl Transport for Silent {
    async fn send(
        &self,
        request: agent_webhooks::http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<agent_webhooks::http::Response<Vec<u8>>, TransportError> {
        self.0.lock().unwrap().push(request.headers().clone());
        std::future::pending().await
    }
}

#[tokio::test]
async fn live_timeout_is_a_failed_live_span_and_counted_by_event_type() {
    // A real exchange through the live requester: the cascade resolves the phone number's
    // server (a token in its query, a bearer header, the legacy secret), the envelope is signed,
    // the guard checks the URL, the server never answers and the 7.5 s budget of an
    // `assistant-request` ends it; the exchange is recorded in the store.
    let watch = Watch::new();
    let clock = ManualClock::new(T0);
    let transport = Arc::new(Silent::default());
    let store = Arc::new(MemoryStore::new());
    let requester = Requester::builder(
        transport.clone(),
        Arc::new(ManualTimer::jumping(clock.clone())),
    )
    .clock(Arc::new(clock.clone()))
    .url_check(Arc::new(AnyUrl))
    .store(store.clone())
    .observer(watch.observer.clone())
    .build();
    let cascade = Cascade::from_value(serde_json::json!({"phoneNumber": {"server": {
        "url": format!("https://hooks.example.com:8443/a1?token={URL_TOKEN}&v=2"),
        "timeoutSeconds": 20,
        "headers": {"Authorization": format!("Bearer {TOOL_KEY}")},
        "secret": LEGACY_SECRET,
    }}}))
    .unwrap();
    let envelope = Envelope::parse(
        br#"{"message": {"type": "assistant-request", "call": {"id": "call_123"}}}"#,
    )
    .unwrap();
    let tenant = agent_webhooks::TenantId::new("acme").unwrap();
    let request = LiveRequest::new(tenant.clone(), envelope, cascade)
        .unwrap()
        .signer(signer());
    let outcome = requester.request(request).await;
    assert_eq!(outcome.reason(), Some(Reason::Timeout));
    assert_eq!(outcome.latency, Duration::from_millis(7_500));
    // The secrets did leave, in the request's headers.
    let sent = transport.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["authorization"],
        format!("Bearer {TOOL_KEY}").as_str()
    );
    assert_eq!(sent[0]["x-vapi-secret"], LEGACY_SECRET);
    assert!(sent[0].contains_key("webhook-signature"));
    let scope = agent_webhooks::Scope::tenant(tenant);
    assert!(
        store
            .job(&scope, &outcome.webhook_id)
            .await
            .unwrap()
            .is_some()
    );

    let spans = watch.capture.spans(span_names::LIVE);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.closed, "the span ends with the exchange");
    for (name, want) in [
        ("otel.name", "POST"),
        ("otel.kind", "client"),
        ("otel.status_code", "ERROR"),
        ("http.request.method", "POST"),
        ("server.address", "hooks.example.com"),
        ("server.port", "8443"),
        (
            "url.full",
            "https://hooks.example.com:8443/a1?token=REDACTED&v=REDACTED",
        ),
        ("error.type", "timeout"),
        ("tenant.id", "acme"),
        ("webhook.kind", "live"),
        ("webhook.event_type", "assistant-request"),
        ("webhook.cascade_level", "phoneNumber.server"),
        ("webhook.call_id", "call_123"),
    ] {
        assert_eq!(field(s, name), want, "{name}");
    }
    assert!(!s.fields.contains_key("http.response.status_code"));
    assert!(
        watch.capture.spans(span_names::ATTEMPT).is_empty(),
        "a live exchange is no outbox attempt"
    );

    let m = watch.metrics();
    let labels = [
        ("event_type", "assistant-request"),
        ("outcome", "failed"),
        ("error.type", "timeout"),
    ];
    assert_eq!(m.counter(names::LIVE_EXCHANGES, &labels), 1);
    assert_eq!(
        m.histogram(
            names::LIVE_DURATION,
            &[("event_type", "assistant-request"), ("outcome", "failed")]
        ),
        [7.5]
    );
    watch.assert_no_secret(&m);
}

/// The same timeout over a real socket: a loopback server that accepts and never answers, the
/// guarded reqwest transport and tokio's timer, bounded by the host's 300 ms deadline.
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn live_timeout_over_a_real_socket_is_a_timeout_span_and_counted() {
    use agent_webhooks::transport::{ReqwestTransport, TokioTimer};
    let watch = Watch::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let policy = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap();
    let transport = Arc::new(ReqwestTransport::new(policy.clone()).unwrap());
    let requester = Requester::builder(transport, Arc::new(TokioTimer))
        .url_check(Arc::new(policy))
        .observer(watch.observer.clone())
        .build();
    let cascade = Cascade::from_value(serde_json::json!({"assistant": {"server": {
        "url": format!("http://127.0.0.1:{port}/hook?token={URL_TOKEN}"),
        "headers": {"Authorization": format!("Bearer {TOOL_KEY}")},
    }}}))
    .unwrap();
    let envelope = Envelope::parse(
        br#"{"message": {"type": "transfer-destination-request", "call": {"id": "call_9"}}}"#,
    )
    .unwrap();
    let request = LiveRequest::new(
        agent_webhooks::TenantId::new("acme").unwrap(),
        envelope,
        cascade,
    )
    .unwrap()
    .signer(signer())
    .deadline(Duration::from_millis(300));
    let outcome = requester.request(request).await;
    server.abort();
    assert_eq!(outcome.reason(), Some(Reason::Timeout), "{outcome:?}");

    let spans = watch.capture.spans(span_names::LIVE);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.closed);
    let port = port.to_string();
    let url = format!("http://127.0.0.1:{port}/hook?token=REDACTED");
    for (name, want) in [
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("url.full", url.as_str()),
        ("error.type", "timeout"),
        ("webhook.event_type", "transfer-destination-request"),
        ("webhook.cascade_level", "assistant.server"),
        ("webhook.call_id", "call_9"),
    ] {
        assert_eq!(field(s, name), want, "{name}");
    }
    let m = watch.metrics();
    let labels = [
        ("event_type", "transfer-destination-request"),
        ("outcome", "failed"),
        ("error.type", "timeout"),
    ];
    assert_eq!(m.counter(names::LIVE_EXCHANGES, &labels), 1);
    let took = m.histogram(
        names::LIVE_DURATION,
        &[
            ("event_type", "transfer-destination-request"),
            ("outcome", "failed"),
        ],
    );
    assert!(took.len() == 1 && took[0] >= 0.3, "{took:?}");
    watch.assert_no_secret(&m);
}

#[tokio::test]
async fn tool_call_is_a_client_span_with_the_tools_method_and_counted() {
    let watch = Watch::new();
    let rig = Rig::new();
    let transport = Arc::new(
        Scripted::new(&rig.clock, Reply::Body(200, br#"{"name":"Ann"}"#.to_vec()))
            .latency(Duration::from_millis(120)),
    );
    let tool = WebhookTool::from_json(&format!(
        r#"{{"name": "lookup_customer", "config": {{
            "url": "https://hooks.example.com/customers/{{{{caller_phone}}}}?api_key={URL_TOKEN}",
            "method": "GET",
            "headers": {{"Authorization": "Bearer {{{{secrets.crm_key}}}}"}} }} }}"#
    ))
    .unwrap()
    .compile(AgentKind::PhoneVoice)
    .unwrap();
    let vars = Vars::new()
        .with(agent_webhooks::Builtin::CallerPhone, "+15551234567")
        .with_secret("crm_key", TOOL_KEY);
    let runner = ToolRunner::new(Policy::default(), transport.clone())
        .observer(watch.observer.clone())
        .clock(Arc::new(rig.clock.clone()));
    let outcome = runner.run(&tool, &vars).await;
    assert_eq!(outcome.result().result(), Some(r#"{"name":"Ann"}"#));
    assert_eq!(
        transport.received()[0].header("authorization"),
        format!("Bearer {TOOL_KEY}")
    );

    let spans = watch.capture.spans(span_names::TOOL_CALL);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert!(s.closed);
    for (name, want) in [
        ("otel.name", "GET"),
        ("http.request.method", "GET"),
        ("server.address", "hooks.example.com"),
        ("server.port", "443"),
        (
            "url.full",
            "https://hooks.example.com/customers/+15551234567?api_key=REDACTED",
        ),
        ("http.response.status_code", "200"),
        ("webhook.kind", "tool"),
        ("webhook.tool", "lookup_customer"),
    ] {
        assert_eq!(field(s, name), want, "{name}");
    }
    assert!(!s.fields.contains_key("error.type"));

    // A refused call (the metadata address) is a failed call with class `refused`.
    let blocked = WebhookTool::from_json(
        r#"{"name": "meta", "config": {"url": "http://169.254.169.254/latest", "method": "GET"}}"#,
    )
    .unwrap()
    .compile(AgentKind::PhoneVoice)
    .unwrap();
    runner.run(&blocked, &vars).await;

    let m = watch.metrics();
    assert_eq!(m.counter(names::TOOL_CALLS, &[("outcome", "answered")]), 1);
    assert_eq!(
        m.counter(
            names::TOOL_CALLS,
            &[("outcome", "failed"), ("error.type", "refused")]
        ),
        1
    );
    assert_eq!(
        m.histogram(names::TOOL_DURATION, &[("outcome", "answered")]),
        [0.12]
    );
    let spans = watch.capture.spans(span_names::TOOL_CALL);
    assert_eq!(field(&spans[1], "error.type"), "refused");
    watch.assert_no_secret(&m);
}

#[test]
fn metric_names_render_as_documented_in_prometheus() {
    // The README's table: the exporter's recommended naming turns these into the Prometheus
    // names operators query.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        agent_webhooks::observe::describe_metrics();
        metrics::counter!(names::ATTEMPTS, "outcome" => "failed", "error.type" => "timeout")
            .increment(1);
        metrics::histogram!(names::ATTEMPT_DURATION).record(0.1);
        metrics::histogram!(names::DELIVERY_DELAY).record(1.0);
        metrics::gauge!(names::BACKLOG).set(3.0);
        metrics::gauge!(names::BACKLOG_OLDEST_AGE).set(4.0);
        metrics::counter!(names::JOBS_GIVEN_UP).increment(1);
        metrics::counter!(names::LIVE_EXCHANGES).increment(1);
        metrics::histogram!(names::LIVE_DURATION).record(0.2);
        metrics::counter!(names::TOOL_CALLS).increment(1);
        metrics::histogram!(names::TOOL_DURATION).record(0.3);
    });
    let text = handle.render();
    for name in [
        "webhook_attempts_total{outcome=\"failed\",error_type=\"timeout\"} 1",
        "webhook_attempt_duration_seconds",
        "webhook_delivery_delay_seconds",
        "webhook_backlog 3",
        "webhook_backlog_oldest_age_seconds 4",
        "webhook_jobs_given_up_total 1",
        "webhook_live_exchanges_total 1",
        "webhook_live_duration_seconds",
        "webhook_tool_calls_total 1",
        "webhook_tool_duration_seconds",
    ] {
        assert!(text.contains(name), "`{name}` not in:\n{text}");
    }
}
