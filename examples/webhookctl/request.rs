//! `webhookctl request --cascade FILE --event FILE [--secret whsec_...] [--deadline-ms N] [--dev]`:
//! sends one request event as the runtime would, waits, and prints one JSON line.

use std::sync::Arc;
use std::time::Duration;

use agent_webhooks::live::{LiveRequest, Requester};
use agent_webhooks::outbox::Transport;
use agent_webhooks::transport::{Sleep, Timer};
use agent_webhooks::{Cascade, Envelope, Policy, Signer, TenantId};

use crate::args::{Args, read};

/// The tokio timer, from the example's own tokio (the crate's `TokioTimer` needs its `tokio`
/// feature).
#[derive(Debug)]
struct Tokio;

impl Timer for Tokio {
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Runs the command; `Ok(true)` when the server answered, `Ok(false)` when the exchange failed
/// (the JSON line is printed either way).
pub fn run(raw: &[String]) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let outcome = runtime.block_on(exchange(raw))?;
    println!("{}", outcome.to_json_line());
    Ok(outcome.is_answered())
}

/// The exchange: the tests drive this.
pub async fn exchange(raw: &[String]) -> Result<agent_webhooks::live::Outcome, String> {
    let args = Args::parse(
        raw,
        &["cascade", "event", "secret", "deadline-ms"],
        &["dev"],
    )?;
    let cascade =
        Cascade::from_json(&read(args.required("cascade")?)?).map_err(|e| e.to_string())?;
    let envelope = Envelope::parse(read(args.required("event")?)?.as_bytes())
        .map_err(|e| format!("--event: {e}"))?;
    // --dev opens loopback only, for trying a local server; production rules otherwise.
    let policy = if args.flag("dev") {
        Policy::builder()
            .development()
            .dangerous()
            .allow_loopback()
            .build()
            .map_err(|e| e.to_string())?
    } else {
        Policy::default()
    };
    let transport = transport(&policy)?;
    let requester = Requester::builder(transport, Arc::new(Tokio))
        .url_check(Arc::new(policy))
        .build();
    let tenant = TenantId::new("cli").map_err(|e| e.to_string())?;
    let mut request = LiveRequest::new(tenant, envelope, cascade).map_err(|e| e.to_string())?;
    if let Some(secret) = args.value("secret") {
        let secret = secret.parse().map_err(|e| format!("--secret: {e}"))?;
        request = request.signer(Arc::new(Signer::new(secret)));
    }
    if let Some(ms) = args.value("deadline-ms") {
        let ms: u64 = ms
            .parse()
            .map_err(|_| format!("--deadline-ms `{ms}`: use a whole number of milliseconds"))?;
        request = request.deadline(Duration::from_millis(ms));
    }
    // A voice-request's audio is counted, not kept.
    Ok(requester.voice(request, &mut |_pcm: &[u8]| {}).await)
}

#[cfg(feature = "reqwest")]
fn transport(policy: &Policy) -> Result<Arc<dyn Transport>, String> {
    let t = agent_webhooks::transport::ReqwestTransport::new(policy.clone())
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(t))
}

#[cfg(not(feature = "reqwest"))]
fn transport(_policy: &Policy) -> Result<Arc<dyn Transport>, String> {
    Ok(Arc::new(NoTransport))
}

/// Without the `reqwest` feature nothing can be sent; resolving and the guard still run.
#[cfg(not(feature = "reqwest"))]
#[derive(Debug)]
struct NoTransport;

#[cfg(not(feature = "reqwest"))]
#[async_trait::async_trait]
impl Transport for NoTransport {
    async fn send(
        &self,
        _: agent_webhooks::http::Request<Vec<u8>>,
        _: Duration,
    ) -> Result<agent_webhooks::http::Response<Vec<u8>>, agent_webhooks::outbox::TransportError>
    {
        Err(agent_webhooks::outbox::TransportError::new(
            agent_webhooks::outbox::TransportErrorKind::Connect,
            "webhookctl was built without the `reqwest` feature: build it with --features reqwest",
        ))
    }
}
