//! `webhookctl sign` and `webhookctl verify`: Standard Webhooks signatures.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_webhooks::{Signer, SigningSecret, Verifier};

use crate::args::Args;

fn body_from_stdin() -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
    Ok(body)
}

fn secrets(args: &Args) -> Result<Vec<SigningSecret>, String> {
    let all = args.values("secret");
    if all.is_empty() {
        return Err("--secret is required".into());
    }
    all.into_iter()
        .map(|s| s.parse().map_err(|e| format!("--secret: {e}")))
        .collect()
}

fn seconds(args: &Args, name: &str) -> Result<u64, String> {
    let text = args.required(name)?;
    text.parse()
        .map_err(|_| format!("--{name} `{text}` is not integer Unix seconds"))
}

/// `sign --secret S [--secret OLD]... --id ID --timestamp TS` (body on stdin, byte-exact)
pub fn sign(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["secret", "id", "timestamp"], &[])?;
    let mut keys = secrets(&args)?.into_iter();
    let mut signer = Signer::new(keys.next().expect("at least one secret"));
    for key in keys {
        signer = signer.with_secret(key);
    }
    let timestamp = seconds(&args, "timestamp")?;
    let signature = signer
        .sign(args.required("id")?, timestamp, &body_from_stdin()?)
        .map_err(|e| e.to_string())?;
    println!("{signature}");
    Ok(())
}

/// `verify --secret S [--secret OLD]... --id ID --timestamp TS --signature SIG [--now TS]`
pub fn verify(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["secret", "id", "timestamp", "signature", "now"], &[])?;
    let mut keys = secrets(&args)?.into_iter();
    let mut verifier = Verifier::new(keys.next().expect("at least one secret"));
    for key in keys {
        verifier = verifier.with_secret(key);
    }
    let timestamp = seconds(&args, "timestamp")?;
    let now = match args.value("now") {
        Some(_) => seconds(&args, "now")?,
        // The CLI is not the sans-IO core: it may read the clock.
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs(),
    };
    verifier
        .verify(
            args.required("id")?,
            timestamp,
            args.required("signature")?,
            &body_from_stdin()?,
            now,
        )
        .map_err(|e| e.to_string())
}
