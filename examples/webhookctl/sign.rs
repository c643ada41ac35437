//! `webhookctl sign` and `webhookctl verify`: Standard Webhooks signatures.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_webhooks::http::{HeaderMap, HeaderName, HeaderValue};
use agent_webhooks::sign::{Message, Scheme, SchemeKind};
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

/// `sign --secret S [--secret OLD]... --id ID --timestamp TS` (body on stdin, byte-exact);
/// with `--scheme`, the headers of that scheme as one JSON object.
pub fn sign(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["secret", "id", "timestamp", "scheme"], &[])?;
    if let Some(kind) = args.value("scheme") {
        return sign_scheme(&args, kind);
    }
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

/// `verify --secret S [--secret OLD]... --id ID --timestamp TS --signature SIG [--now TS]`;
/// with `--scheme`, SIG is that scheme's signature header.
pub fn verify(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &["secret", "id", "timestamp", "signature", "now", "scheme"],
        &[],
    )?;
    if let Some(kind) = args.value("scheme") {
        return verify_scheme(&args, kind);
    }
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

fn now_millis() -> Result<u64, String> {
    // The CLI is not the sans-IO core: it may read the clock.
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    Ok(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A time flag in the scheme's own unit (Retell: milliseconds; the others: seconds), as
/// milliseconds.
fn millis(args: &Args, name: &str, kind: SchemeKind) -> Result<Option<u64>, String> {
    let Some(text) = args.value(name) else {
        return Ok(None);
    };
    let unit = if kind.timestamp_in_millis() {
        "milliseconds"
    } else {
        "seconds"
    };
    let n: u64 = text
        .parse()
        .map_err(|_| format!("--{name} `{text}` is not integer Unix {unit}"))?;
    Ok(Some(if kind.timestamp_in_millis() {
        n
    } else {
        n.saturating_mul(1000)
    }))
}

fn scheme(args: &Args, kind: SchemeKind) -> Result<Scheme, String> {
    let all = args.values("secret");
    let (first, rest) = all.split_first().ok_or("--secret is required")?;
    if kind == SchemeKind::Standard {
        let mut signer = Signer::new(first.parse().map_err(|e| format!("--secret: {e}"))?);
        for key in rest {
            signer = signer.with_secret(key.parse().map_err(|e| format!("--secret: {e}"))?);
        }
        return Ok(Scheme::standard(signer));
    }
    if !rest.is_empty() {
        return Err(format!("--scheme {kind} takes one --secret"));
    }
    Scheme::from_secret(kind, first).map_err(|e| format!("--secret: {e}"))
}

fn sign_scheme(args: &Args, kind: &str) -> Result<(), String> {
    let kind: SchemeKind = kind.parse().map_err(|e| format!("--scheme: {e}"))?;
    let scheme = scheme(args, kind)?;
    let at = match millis(args, "timestamp", kind)? {
        Some(ms) => ms,
        None => now_millis()?,
    };
    let id = match (args.value("id"), kind) {
        (Some(id), _) => id,
        (None, SchemeKind::Standard) => return Err("--id is required for --scheme standard".into()),
        (None, _) => "msg",
    };
    let body = body_from_stdin()?;
    let headers = scheme
        .sign(&Message::new(id, at, "", &body))
        .map_err(|e| e.to_string())?;
    let mut object = serde_json::Map::new();
    for (name, value) in &headers {
        if kind == SchemeKind::Standard && name.as_str() != "webhook-signature" {
            // The id and timestamp were given; the signature is what to add.
            continue;
        }
        let text = value.to_str().map_err(|e| e.to_string())?;
        object.insert(name.as_str().to_owned(), text.into());
    }
    println!("{}", serde_json::Value::Object(object));
    Ok(())
}

fn verify_scheme(args: &Args, kind: &str) -> Result<(), String> {
    let kind: SchemeKind = kind.parse().map_err(|e| format!("--scheme: {e}"))?;
    let scheme = scheme(args, kind)?;
    let signature = args.required("signature")?;
    let stamp = args.value("timestamp");
    let mut headers = HeaderMap::new();
    let mut set = |name: &str, value: &str| -> Result<(), String> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("`{value}` cannot be a header value"))?;
        headers.insert(name, value);
        Ok(())
    };
    match kind {
        SchemeKind::Standard => {
            set("webhook-id", args.required("id")?)?;
            set("webhook-timestamp", args.required("timestamp")?)?;
            set("webhook-signature", signature)?;
        }
        SchemeKind::VapiHmac => {
            set("x-signature", signature)?;
            if let Some(ts) = stamp {
                set("x-timestamp", ts)?;
            }
        }
        SchemeKind::VapiSignature => set("x-vapi-signature", signature)?,
        SchemeKind::ElevenLabs => match stamp {
            Some(ts) if !signature.contains("t=") => {
                set("elevenlabs-signature", &format!("t={ts},{signature}"))?;
            }
            _ => set("elevenlabs-signature", signature)?,
        },
        SchemeKind::Retell => set("x-retell-signature", signature)?,
        SchemeKind::Bland => set("x-webhook-signature", signature)?,
        _ => return Err(format!("--scheme {kind} cannot be verified here")),
    }
    let now = match millis(args, "now", kind)? {
        Some(ms) => ms,
        None => now_millis()?,
    };
    let body = body_from_stdin()?;
    let id = args.value("id").unwrap_or("msg");
    scheme
        .verify(&headers, &Message::new(id, now, "", &body), now)
        .map_err(|e| e.to_string())
}
