//! `webhookctl cascade --config FILE --event TYPE`: which server takes an event.

use agent_webhooks::Cascade;

use crate::args::{Args, read};

pub fn run(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["config", "event"], &[])?;
    let cascade =
        Cascade::from_json(&read(args.required("config")?)?).map_err(|e| e.to_string())?;
    let resolved = cascade
        .resolve(args.required("event")?)
        .map_err(|e| e.to_string())?;
    let text = |s: &str| serde_json::Value::from(s).to_string();
    println!(
        "{{\"url\":{},\"level\":{}}}",
        text(resolved.server.url().as_str()),
        text(resolved.level.as_str())
    );
    Ok(())
}
