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

mod app;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
    let (api, receiver, outbox, dispatcher) = app::demo_api()?;
    if options.seed {
        app::seed_demo(&outbox, &dispatcher, &receiver).await?;
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("{}: {e}", options.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("logs_server listening on http://{local}/logs/webhooks");
    app::serve(
        listener,
        Arc::new(app::App::new(keys, api)),
        Arc::new(AtomicBool::new(false)),
    )
    .await;
    Ok(())
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
