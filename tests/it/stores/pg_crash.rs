//! A PostgreSQL crash loses no acknowledged job: enqueues run against a server of this test's
//! own (its own port and data directory; never the shared one) whose default is
//! `synchronous_commit = off`, the server is stopped with `pg_ctl -m immediate` (a crash: no
//! checkpoint, no flush), started again, and every job whose enqueue was answered is there.
//! The store's sessions commit synchronously whatever the server's default.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_webhooks::outbox::{JobId, NewJob, Outbox, PostgresStore, Store, TargetRef};
use agent_webhooks::{Scope, TenantId};

use super::pg;

/// A PostgreSQL server in a temporary directory, stopped and deleted when dropped.
struct OwnServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary as the server's owner (`aw_pg` when the tests run as root, as
/// `.ci/postgres.sh` sets it up).
fn as_owner(program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "aw_pg", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).output().unwrap()
}

impl OwnServer {
    fn start() -> Self {
        let bin = PathBuf::from(
            std::env::var("AW_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
        );
        assert!(
            bin.join("initdb").exists(),
            "PostgreSQL 15 binaries not found in {bin:?}"
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("aw-pg-crash-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .arg("aw_pg")
                .arg(&dir)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = dir.join("data");
        let out = as_owner(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = OwnServer { bin, dir, port };
        server.pg_ctl(&["start", "-w"]);
        server
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        // Durable disk, but commits acknowledged before their WAL is flushed by default.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=off",
            self.port,
            self.dir.display()
        );
        let mut all = vec!["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", &options]);
        let out = as_owner(&self.bin.join("pg_ctl"), &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_owner(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_stop_loses_no_acknowledged_job() {
    // Runs wherever the PostgreSQL tests run (always in CI).
    if pg::url().is_none() {
        return;
    }
    let server = OwnServer::start();
    let store = PostgresStore::builder(&server.url())
        .schema("crash")
        .build()
        .await
        .unwrap();
    let outbox = Outbox::new(Arc::new(store));
    let acme = TenantId::new("acme").unwrap();
    let acked: Arc<Mutex<Vec<JobId>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (outbox, acme, acked) = (outbox.clone(), acme.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            // Bounded: at most 5,000 jobs per writer; ends at the first refused enqueue.
            for n in 0..5000 {
                let job = NewJob::new(
                    acme.clone(),
                    "status-update",
                    TargetRef::new("assistant:a1").unwrap(),
                    format!(r#"{{"w":{w},"n":{n}}}"#).into_bytes(),
                );
                match outbox.enqueue(&Scope::tenant(acme.clone()), job).await {
                    Ok(inserted) => acked.lock().unwrap().push(inserted.job.id),
                    Err(_) => return,
                }
            }
        }));
    }
    // Crash once a good number of enqueues were answered (bounded wait).
    for _ in 0..600 {
        if acked.lock().unwrap().len() >= 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.pg_ctl(&["-m", "immediate", "stop"]);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "too few enqueues before the crash: {}",
        acked.len()
    );
    server.pg_ctl(&["start", "-w"]);
    let store = PostgresStore::builder(&server.url())
        .schema("crash")
        .build()
        .await
        .unwrap();
    let scope = Scope::tenant(acme);
    let mut lost = 0;
    for id in &acked {
        if store.job(&scope, id).await.unwrap().is_none() {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "{lost} of {} acknowledged jobs lost", acked.len());
    drop(server);
}
