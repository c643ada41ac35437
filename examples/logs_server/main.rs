//! `logs_server`: the operator logs API of agent-webhooks over HTTP, for trying it out.
//!
//! ```text
//! cargo run --example logs_server -- --listen 127.0.0.1:8080 --principals principals.json --seed-demo
//! curl -H 'Authorization: Bearer acme-admin-key' 'http://127.0.0.1:8080/logs/webhooks?status=failed'
//! ```
//!
//! The principals file maps bearer API keys to principals:
//! `{"acme-admin-key": {"tenant": "acme", "role": "client_admin", "user": "ann"}}`
//! (roles `super_admin`, `client_admin`, `user`). A missing or unknown key gets 401.
//! With `--seed-demo` the in-memory store holds deliveries of tenants `acme` and `globex`,
//! some failed; they were "sent" to an in-process receiver, and replays go there too: the
//! server never opens a connection of its own. It listens on loopback addresses only.
//!
//! With `--features tracing,metrics` it logs every attempt's span to stdout and serves
//! `GET /metrics` (Prometheus text through `metrics-exporter-prometheus`, for a super admin's
//! key; the backlog gauges are sampled per scrape).

mod app;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use agent_webhooks::observe::{Fanout, Observer};

const HELP: &str = "\
logs_server: the agent-webhooks logs API over HTTP (demo; in-memory store)

USAGE:
    logs_server --listen 127.0.0.1:PORT --principals FILE [--seed-demo]

OPTIONS:
    --listen ADDR       loopback address and port to listen on (127.0.0.1:8080, [::1]:8080)
    --principals FILE   JSON: {\"API_KEY\": {\"tenant\": \"acme\", \"role\": \"super_admin|client_admin|user\", \"user\": \"ann\"}}
    --seed-demo         fill the store with deliveries of tenants acme and globex (some failed)

ROUTES (Authorization: Bearer API_KEY):
    GET  /logs/webhooks                  ?kind=jobs|attempts&status=&event_type=&call_id=&job_id=&since=&until=&cursor=&limit=
    GET  /logs/webhooks/:id              one job (with recent attempts) or attempt
    POST /logs/webhooks/:id/replay       replay an attempt to the current target (admins)
    POST /logs/webhooks/jobs/:id/retry   requeue a failed or skipped job (admins)
    GET  /metrics                        Prometheus text (super admins; built with --features metrics)
";

struct Options {
    listen: SocketAddr,
    principals: String,
    seed: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (mut listen, mut principals, mut seed) = (None, None, false);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--listen" => listen = it.next().cloned(),
            "--principals" => principals = it.next().cloned(),
            "--seed-demo" => seed = true,
            other => return Err(format!("unexpected argument `{other}`; see --help")),
        }
    }
    let listen: SocketAddr = listen
        .ok_or("--listen is required")?
        .parse()
        .map_err(|e| format!("--listen: {e}"))?;
    if !listen.ip().is_loopback() {
        return Err("--listen: this demo server listens on loopback addresses only".into());
    }
    Ok(Options {
        listen,
        principals: principals.ok_or("--principals is required")?,
        seed,
    })
}

async fn run(options: Options) -> Result<(), String> {
    let json = std::fs::read_to_string(&options.principals)
        .map_err(|e| format!("{}: {e}", options.principals))?;
    let keys = app::Keys::from_json(&json)?;
    let observers = observers()?;
    let (api, receiver, outbox, dispatcher) = app::demo_api_observed(observers.observer)?;
    if options.seed {
        app::seed_demo(&outbox, &dispatcher, &receiver).await?;
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("{}: {e}", options.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("logs_server listening on http://{local}/logs/webhooks");
    let app = app::App::new(keys, api);
    #[cfg(feature = "metrics")]
    let app = app.with_metrics(observers.prometheus, dispatcher.clone());
    #[cfg(not(feature = "metrics"))]
    let _ = &dispatcher;
    app::serve(listener, Arc::new(app), Arc::new(AtomicBool::new(false))).await;
    Ok(())
}

/// What the features turn on: spans on stdout, the Prometheus recorder.
struct Observers {
    observer: Arc<dyn Observer>,
    #[cfg(feature = "metrics")]
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
}

/// Installs the span logger (`tracing`) and the Prometheus recorder (`metrics`), then makes
/// the observers that feed them (after the recorder, which they describe their metrics to).
fn observers() -> Result<Observers, String> {
    #[allow(unused_mut)]
    let mut list: Vec<Arc<dyn Observer>> = Vec::new();
    #[cfg(feature = "tracing")]
    {
        // Each span is logged when it closes, with every field it recorded and its timing.
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stdout)
            .try_init()
            .map_err(|e| format!("tracing subscriber: {e}"))?;
        list.push(Arc::new(agent_webhooks::observe::TracingObserver::new()));
    }
    #[cfg(feature = "metrics")]
    let prometheus = {
        // Seconds from a fast answer to a day-long retry schedule.
        let buckets = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            1800.0, 3600.0, 21600.0, 86400.0,
        ];
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_recommended_naming(true)
            .set_buckets(&buckets)
            .and_then(|b| b.install_recorder())
            .map_err(|e| format!("metrics recorder: {e}"))?;
        list.push(Arc::new(agent_webhooks::observe::MetricsObserver::new()));
        handle
    };
    Ok(Observers {
        observer: Arc::new(Fanout::new(list)),
        #[cfg(feature = "metrics")]
        prometheus,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let result = parse(&args).and_then(|options| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(run(options))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logs_server: {e}");
            ExitCode::from(2)
        }
    }
}
