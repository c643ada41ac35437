//! Crash tests: dispatchers as child processes (examples/outbox_worker.rs) delivering to a
//! loopback receiver, killed with SIGKILL at random moments and started again; and four
//! dispatchers sharing one PostgreSQL.
//!
//! Checked: every job delivered at least once; every delivery of a job carries the job's id
//! as `webhook-id`; nothing in flight once the workers are done; per job, the succeeded
//! attempt rows <= the deliveries the receiver saw <= the job's claims. Bounded: a fixed
//! number of jobs and kills, and a deadline after which the test kills everything and fails.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_webhooks::outbox::{
    AttemptQuery, AttemptStatus, Job, JobId, JobQuery, JobStatus, NewJob, Outbox, PostgresStore,
    Random, SeededRandom, SqliteStore, Store, TargetRef,
};
use agent_webhooks::{Scope, TenantId};

use super::pg;

/// What the receiver saw: per payload number, the `webhook-id` of every delivery.
#[derive(Default)]
struct Seen(Mutex<HashMap<u64, Vec<String>>>);

/// A loopback HTTP receiver: answers 200 after `delay`, records every request. Runs until
/// the test process ends (its thread blocks in `accept`).
fn receiver(delay: Duration) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let record = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let record = record.clone();
            std::thread::spawn(move || {
                let _ = serve(conn, &record, delay);
            });
        }
    });
    (addr, seen)
}

fn serve(conn: std::net::TcpStream, seen: &Seen, delay: Duration) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let (mut id, mut len) = (None, 0usize);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "webhook-id" => id = Some(value.trim().to_owned()),
                "content-length" => len = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    std::thread::sleep(delay);
    let n = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["n"].as_u64());
    if let (Some(id), Some(n)) = (id, n) {
        seen.0.lock().unwrap().entry(n).or_default().push(id);
    }
    let mut conn = conn;
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

fn worker_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join("outbox_worker");
    assert!(
        path.exists(),
        "{} is missing: `cargo test --all-features` builds it, or run \
         `cargo build --example outbox_worker --all-features`",
        path.display()
    );
    path
}

struct Workers {
    args: Vec<String>,
    children: Vec<Child>,
}

impl Workers {
    fn start(args: Vec<String>, count: usize) -> Self {
        let mut w = Workers {
            args,
            children: Vec::new(),
        };
        for _ in 0..count {
            let child = w.spawn();
            w.children.push(child);
        }
        w
    }

    fn spawn(&self) -> Child {
        Command::new(worker_path())
            .args(&self.args)
            .arg("--exit-when-done")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// SIGKILL one worker and start another in its place.
    fn kill_and_restart(&mut self, i: usize) {
        let child = &mut self.children[i];
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        self.children[i] = self.spawn();
    }

    /// Waits for every worker to exit by itself; past `deadline`, kills them and returns what
    /// they printed, for [`explain`] to add what the store still holds.
    fn wait_all(&mut self, deadline: Instant) -> Result<(), String> {
        for child in &mut self.children {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut said = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut said);
                    }
                    assert!(status.success(), "a worker failed: {status}: {said}");
                    break;
                }
                if Instant::now() > deadline {
                    let mut said = String::new();
                    for c in &mut self.children {
                        let _ = c.kill();
                        let _ = c.wait();
                        if let Some(mut e) = c.stderr.take() {
                            let _ = e.read_to_string(&mut said);
                        }
                    }
                    return Err(said);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Fails with what the workers said and the jobs they left: counts by status and the first
/// unfinished jobs with their attempts.
async fn explain(store: &dyn Store, said: String) -> ! {
    let (jobs, _) = everything(store).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for j in jobs.values() {
        *counts.entry(j.status.as_str().to_owned()).or_default() += 1;
    }
    let mut left: Vec<&Job> = jobs
        .values()
        .filter(|j| j.status != JobStatus::Succeeded)
        .collect();
    left.sort_by_key(|j| j.created_at);
    let mut detail = String::new();
    for j in left.iter().take(5) {
        let attempts = store
            .attempts(&Scope::AllTenants, &AttemptQuery::new().job(j.id.clone()))
            .await
            .map(|p| format!("{:?}", p.items))
            .unwrap_or_else(|e| e.to_string());
        detail.push_str(&format!("\n{j:?}\n  attempts: {attempts}"));
    }
    panic!(
        "the workers did not finish in time; jobs by status: {counts:?}; \
         first unfinished: {detail}\nworkers said:\n{said}"
    );
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Enqueues `n` jobs (payload `{"n": i}`, two tenants), `tasks` at a time; their ids by `i`.
async fn enqueue(store: Arc<dyn Store>, n: u64, tasks: u64) -> HashMap<u64, JobId> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let outbox = Outbox::new(store.clone());
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (t..n).step_by(tasks as usize) {
                let tenant = TenantId::new(if i % 2 == 0 { "acme" } else { "globex" }).unwrap();
                let job = NewJob::new(
                    tenant.clone(),
                    "status-update",
                    TargetRef::new("assistant:a1").unwrap(),
                    format!(r#"{{"n":{i}}}"#).into_bytes(),
                );
                let id = outbox
                    .enqueue(&Scope::tenant(tenant), job)
                    .await
                    .unwrap()
                    .job
                    .id;
                ids.push((i, id));
            }
            ids
        }));
    }
    let mut all = HashMap::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

/// Every job and every succeeded attempt, paged through the store's listings.
async fn everything(store: &dyn Store) -> (HashMap<JobId, Job>, HashMap<JobId, usize>) {
    let s = Scope::AllTenants;
    let mut jobs = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .jobs(&s, &JobQuery::new().cursor(cursor).limit(1000))
            .await
            .unwrap();
        jobs.extend(page.items.into_iter().map(|j| (j.id.clone(), j)));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let mut succeeded: HashMap<JobId, usize> = HashMap::new();
    let mut cursor = None;
    loop {
        let q = AttemptQuery::new()
            .status(AttemptStatus::Succeeded)
            .cursor(cursor)
            .limit(1000);
        let page = store.attempts(&s, &q).await.unwrap();
        for a in page.items {
            *succeeded.entry(a.job_id).or_default() += 1;
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    (jobs, succeeded)
}

/// The checks every run ends with; returns the number of duplicate deliveries.
async fn check(store: &dyn Store, ids: &HashMap<u64, JobId>, seen: &Seen) -> usize {
    let (jobs, succeeded) = everything(store).await;
    assert_eq!(jobs.len(), ids.len());
    let stuck: Vec<&Job> = jobs
        .values()
        .filter(|j| j.status != JobStatus::Succeeded)
        .collect();
    assert!(
        stuck.is_empty(),
        "jobs not delivered or left claimed: {stuck:?}"
    );
    let seen = seen.0.lock().unwrap().clone();
    let mut duplicates = 0;
    for (n, id) in ids {
        let got = seen
            .get(n)
            .unwrap_or_else(|| panic!("job {n} ({id}) was never delivered"));
        assert!(
            got.iter().all(|w| w == id.as_str()),
            "job {n}: webhook-ids {got:?}, expected {id}"
        );
        duplicates += got.len() - 1;
        let claims = jobs[id].attempts as usize;
        let rows = succeeded.get(id).copied().unwrap_or(0);
        assert!(
            1 <= rows && rows <= got.len() && got.len() <= claims,
            "job {n}: {rows} succeeded attempt rows, {} deliveries, {claims} claims",
            got.len(),
        );
    }
    duplicates
}

/// Starts `workers` dispatchers, kills one at a random moment `kills` times, lets them finish.
async fn crash_run(store: Arc<dyn Store>, store_args: Vec<String>, jobs: u64, seed: u64) {
    let (addr, seen) = receiver(Duration::from_millis(8));
    let ids = enqueue(store.clone(), jobs, 4).await;
    let mut args = store_args;
    args.extend(
        [
            "--target",
            &format!("http://{addr}/hook"),
            "--concurrency",
            "4",
            "--timeout-ms",
            "1000",
            "--lease-ms",
            "6500",
        ]
        .map(String::from),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let random = SeededRandom::new(seed);
    let mut workers = Workers::start(args, 2);
    for _ in 0..4 {
        let pause = 200 + random.next_u64() % 500;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        workers.kill_and_restart((random.next_u64() % 2) as usize);
    }
    if let Err(said) = workers.wait_all(deadline) {
        explain(&*store, said).await;
    }
    let duplicates = check(&*store, &ids, &seen).await;
    eprintln!("crash run: {jobs} jobs, 4 kills, {duplicates} duplicate deliveries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dispatchers_killed_and_restarted_lose_nothing() {
    let dir = crate::TempDir::new("crash");
    let path = dir.join("outbox.sqlite3");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let args = vec!["--store".into(), format!("sqlite:{}", path.display())];
    crash_run(store, args, 600, 7).await;
}

async fn pg_store(url: &str, schema: &str) -> Arc<dyn Store> {
    Arc::new(
        PostgresStore::builder(url)
            .schema(schema)
            .max_connections(8)
            .build()
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dispatchers_killed_and_restarted_lose_nothing() {
    let Some(url) = pg::url() else { return };
    let schema = pg::fresh_schema();
    let store = pg_store(&url, &schema).await;
    let args = vec![
        "--store".into(),
        format!("postgres:{url}"),
        "--schema".into(),
        schema,
    ];
    crash_run(store, args, 1500, 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_postgres_dispatchers_deliver_20k_jobs_each_once() {
    let Some(url) = pg::url() else { return };
    let schema = pg::fresh_schema();
    let store = pg_store(&url, &schema).await;
    let (addr, seen) = receiver(Duration::ZERO);
    const JOBS: u64 = 20_000;
    let ids = enqueue(store.clone(), JOBS, 8).await;
    let args: Vec<String> = [
        "--store",
        &format!("postgres:{url}"),
        "--schema",
        &schema,
        "--target",
        &format!("http://{addr}/hook"),
        "--concurrency",
        "8",
        // A lease far longer than any send here: a second delivery could only come from two
        // dispatchers holding the job at once.
        "--lease-ms",
        "60000",
    ]
    .map(String::from)
    .to_vec();
    let started = Instant::now();
    let mut workers = Workers::start(args, 4);
    // A bound, not a speed check: 80k deliveries take ~30 s on an idle 2-core machine and
    // ~150 s when other builds share it; past this the test kills the workers and fails.
    if let Err(said) = workers.wait_all(Instant::now() + Duration::from_secs(480)) {
        explain(&*store, said).await;
    }
    let took = started.elapsed();
    let duplicates = check(&*store, &ids, &seen).await;
    assert_eq!(
        duplicates, 0,
        "a job was sent twice while its lease was valid"
    );
    let (jobs, _) = everything(&*store).await;
    let claims: u64 = jobs.values().map(|j| u64::from(j.attempts)).sum();
    assert_eq!(claims, JOBS, "every job claimed exactly once");
    eprintln!(
        "4 dispatchers: {JOBS} jobs in {took:.1?} ({:.0} jobs/s)",
        JOBS as f64 / took.as_secs_f64()
    );
}
