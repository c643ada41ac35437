//! A dispatcher process over a durable store: what a runtime instance runs, small enough to
//! read. The crash tests (tests/it/stores/crash.rs) start it as a child process, kill it with
//! SIGKILL and start it again.
//!
//! ```text
//! outbox_worker --store sqlite:PATH | postgres:URL [--schema NAME]
//!               --target http://127.0.0.1:PORT/PATH
//!               [--concurrency N] [--timeout-ms MS] [--lease-ms MS] [--exit-when-done]
//! ```
//!
//! With `--exit-when-done` it stops (finishing what it claimed) once no job is pending or in
//! flight. It sends through the crate's guarded transport with a development policy that opens
//! loopback only (the tests' receivers); a production worker builds the same with
//! `Policy::default()` or `Policy::from_env()`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_webhooks::observe::{BreakerChange, Observer, redact_url};
use agent_webhooks::outbox::{
    Attempt, AttemptStatus, Dispatcher, Job, JobId, JobQuery, JobStatus, Lease, OutboxError,
    PostgresStore, Shutdown, SqliteStore, Store, Target, TargetResolver, Unresolved,
};
use agent_webhooks::transport::ReqwestTransport;
use agent_webhooks::{Policy, Scope};
use async_trait::async_trait;

const HELP: &str = "usage: outbox_worker --store sqlite:PATH|postgres:URL [--schema NAME] \
--target http://127.0.0.1:PORT/PATH [--concurrency N] [--timeout-ms MS] [--lease-ms MS] \
[--exit-when-done]";

struct Args {
    store: String,
    schema: Option<String>,
    target: String,
    concurrency: usize,
    timeout: Duration,
    lease: Duration,
    exit_when_done: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        store: String::new(),
        schema: None,
        target: String::new(),
        concurrency: 8,
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(10),
        exit_when_done: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let ms = |v: String| {
            v.parse()
                .map(Duration::from_millis)
                .map_err(|_| "milliseconds must be a whole number".to_owned())
        };
        match flag.as_str() {
            "--store" => args.store = value()?,
            "--schema" => args.schema = Some(value()?),
            "--target" => args.target = value()?,
            "--concurrency" => {
                args.concurrency = value()?
                    .parse()
                    .map_err(|_| "--concurrency must be a number")?;
            }
            "--timeout-ms" => args.timeout = ms(value()?)?,
            "--lease-ms" => args.lease = ms(value()?)?,
            "--exit-when-done" => args.exit_when_done = true,
            "--help" | "-h" => return Err(HELP.into()),
            other => return Err(format!("unknown flag `{other}`\n{HELP}")),
        }
    }
    if args.store.is_empty() || args.target.is_empty() {
        return Err(HELP.into());
    }
    Ok(args)
}

/// Says on stderr what went wrong: failed attempts, lost leases, store errors and breaker
/// changes, at most [`Report::LINES`] lines so that a worker nobody reads never blocks on a
/// full pipe.
#[derive(Debug, Default)]
struct Report(AtomicUsize);

impl Report {
    const LINES: usize = 40;

    fn say(&self, line: std::fmt::Arguments<'_>) {
        if self.0.fetch_add(1, Ordering::Relaxed) < Self::LINES {
            eprintln!("outbox_worker {}: {line}", std::process::id());
        }
    }
}

impl Observer for Report {
    fn attempt_finished(&self, attempt: &Attempt) {
        if attempt.status != AttemptStatus::Succeeded {
            self.say(format_args!(
                "job {} attempt {} {:?} ({:?}, {} ms): {}",
                attempt.job_id,
                attempt.number,
                attempt.status,
                attempt.status_code,
                attempt.latency_ms,
                attempt.error.as_deref().unwrap_or("")
            ));
        }
    }

    fn fenced_out(&self, lease: &Lease) {
        self.say(format_args!("lost the lease of job {}", lease.job_id));
    }

    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        self.say(format_args!("store error (job {job:?}): {error}"));
    }

    fn breaker_changed(&self, change: &BreakerChange<'_>) {
        // The URL through `redact_url`: a query token or user info never reaches the log.
        self.say(format_args!(
            "breaker of {} for tenant {}: {} -> {} after {} failures",
            redact_url(change.url),
            change.tenant,
            change.from.as_str(),
            change.to.as_str(),
            change.failures
        ));
    }
}

/// Every job goes to one URL.
#[derive(Debug)]
struct OneTarget(Target);

#[async_trait]
impl TargetResolver for OneTarget {
    async fn resolve(&self, _job: &Job) -> Result<Target, Unresolved> {
        Ok(self.0.clone())
    }
}

async fn open_store(args: &Args) -> Result<Arc<dyn Store>, String> {
    if let Some(path) = args.store.strip_prefix("sqlite:") {
        let store = SqliteStore::open(path).await.map_err(|e| e.to_string())?;
        return Ok(Arc::new(store));
    }
    if let Some(url) = args.store.strip_prefix("postgres:") {
        let mut builder = PostgresStore::builder(url).max_connections(args.concurrency + 2);
        if let Some(schema) = &args.schema {
            builder = builder.schema(schema);
        }
        return Ok(Arc::new(builder.build().await.map_err(|e| e.to_string())?));
    }
    Err(format!(
        "--store must start with sqlite: or postgres:\n{HELP}"
    ))
}

/// Whether any job is pending or in flight.
async fn work_left(store: &dyn Store) -> bool {
    for status in [JobStatus::Pending, JobStatus::InFlight] {
        let page = store
            .jobs(&Scope::AllTenants, &JobQuery::new().status(status).limit(1))
            .await;
        if page.map_or(true, |p| !p.items.is_empty()) {
            return true;
        }
    }
    false
}

async fn run(args: Args) -> Result<(), String> {
    let store = open_store(&args).await?;
    let url = args.target.parse().map_err(|e| format!("--target: {e}"))?;
    let target = Target::new(url, "assistant").timeout(args.timeout);
    // The guard refuses loopback in production; this worker only ever sends to it.
    let guard = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .map_err(|e| e.to_string())?;
    let transport = ReqwestTransport::builder(guard.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let dispatcher = Dispatcher::builder(
        store.clone(),
        Arc::new(transport),
        Arc::new(OneTarget(target)),
    )
    .url_check(Arc::new(guard))
    .observer(Arc::new(Report::default()))
    .concurrency(args.concurrency)
    // One tenant and one target: the target's share is the worker's whole concurrency. With
    // several tenants or targets, keep the default caps so that one cannot starve the others.
    .tenant_cap(args.concurrency)
    .target_cap(args.concurrency)
    .max_timeout(args.timeout)
    .lease(args.lease)
    .poll_interval(Duration::from_millis(50))
    .build()
    .map_err(|e| e.to_string())?;
    let shutdown = Shutdown::new();
    if args.exit_when_done {
        let (store, shutdown) = (store.clone(), shutdown.clone());
        tokio::spawn(async move {
            while work_left(&*store).await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            shutdown.trigger();
        });
    }
    let totals = dispatcher.run(&shutdown, tokio::time::sleep).await;
    eprintln!("outbox_worker {}: {totals:?}", std::process::id());
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("outbox_worker: {e}");
            ExitCode::FAILURE
        }
    }
}
